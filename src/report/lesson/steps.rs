//! The router drawn as its packet path — LAN in, prerouting (mangle, then dst-nat), the
//! routing decision with its tables, forward, postrouting (mangle, then src-nat), out — each
//! stage listing the configuration's rules by line, and a walk through it as steps that light
//! the rule being tried. Every id carries the variant's prefix (`v0-rule-mangle-14`), so the
//! variants of one page each have their own diagram.

use super::super::html::esc;
use crate::RouterConfig;
use crate::router::firewall::Table;
use crate::trace::Walk;
use std::fmt::Write as _;

/// The stages of the packet path, each with the rules a packet meets there: `(title, [(table,
/// chain)])`.
const STAGES: [(&str, &[(&str, &str)]); 4] = [
    ("prerouting", &[("mangle", "prerouting"), ("nat", "dstnat")]),
    ("forward", &[("mangle", "forward"), ("filter", "forward")]),
    (
        "postrouting",
        &[("mangle", "postrouting"), ("nat", "srcnat")],
    ),
    (
        "to and from the router itself",
        &[("mangle", "output"), ("filter", "input")],
    ),
];

/// The diagram of `cfg`'s router.
pub(super) fn diagram(out: &mut String, id: &str, cfg: &RouterConfig) {
    out.push_str("<div class=\"path\">\n<div class=\"port\">LAN in</div>\n");
    for (i, (title, parts)) in STAGES.iter().enumerate() {
        if i == 1 {
            routing_box(out, id, cfg);
        }
        if i == 3 {
            out.push_str("<div class=\"port\">WAN out</div>\n</div>\n<div class=\"path\">\n");
        }
        let _ = write!(out, "<div class=\"stage\"><h3>{}</h3>", esc(title));
        for (table, chain) in *parts {
            let t = match *table {
                "mangle" => &cfg.mangle,
                "nat" => &cfg.nat,
                _ => &cfg.filter,
            };
            rules_box(out, id, cfg, t, chain);
        }
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n");
}

/// The step view of `walks`: a box for the current step, the buttons, and every step written
/// out (for readers without JavaScript, and for the script to step through).
pub(super) fn steps(out: &mut String, id: &str, walks: &[Walk]) {
    let _ = write!(
        out,
        "<div class=\"controls\"><button class=\"back\">←</button> <button class=\"next\">→</button> \
         <span class=\"count\"></span></div>\n<p id=\"{id}-current\" class=\"current\"></p>\n\
         <ol class=\"steps\">\n"
    );
    for w in walks {
        let head = format!(
            "{} {} — arrives on {}",
            w.direction, w.arrived, w.in_interface
        );
        for s in &w.steps {
            let table = s.stage.split(' ').next().unwrap_or("");
            let target = s
                .line
                .map_or(String::new(), |l| format!("{id}-rule-{table}-{l}"));
            let class = match s.matched {
                Some(true) => "yes",
                Some(false) => "no",
                None => "",
            };
            let _ = writeln!(
                out,
                "<li class=\"{class}\" data-target=\"{target}\">{}</li>",
                esc(&format!("{head}: {} {}", s.stage, s.detail))
            );
        }
        let _ = writeln!(
            out,
            "<li class=\"end\" data-target=\"\">{}</li>",
            esc(&format!("{head}: {}", w.verdict))
        );
    }
    out.push_str("</ol>\n");
}

/// A chain's rules, each with its line, as the diagram lists them.
fn rules_box(out: &mut String, id: &str, cfg: &RouterConfig, t: &Table, chain: &str) {
    let rules: Vec<String> = (t.rules.iter())
        .filter(|r| !r.disabled && t.chain_names[r.chain as usize] == chain)
        .map(|r| {
            let params = crate::routeros::export::rule_params(cfg, t, r);
            let text: Vec<String> = (params[1..].iter())
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            // A rule a what-if added has no line of the user's.
            let line = if r.line == 0 {
                "+".into()
            } else {
                r.line.to_string()
            };
            format!(
                "<li id=\"{id}-rule-{}-{}\"><b>{line}</b> {}</li>",
                t.name,
                r.line,
                esc(&text.join(" "))
            )
        })
        .collect();
    let _ = write!(
        out,
        "<div class=\"chain\"><h4>{} {chain}</h4><ol>{}</ol></div>",
        t.name,
        if rules.is_empty() {
            "<li class=\"none\">no rules</li>".to_string()
        } else {
            rules.concat()
        }
    );
}

/// The routing decision: the tables and their routes, by line.
fn routing_box(out: &mut String, id: &str, cfg: &RouterConfig) {
    out.push_str("<div class=\"stage\"><h3>routing decision</h3><div class=\"chain\"><ol>");
    for r in &cfg.routes {
        let params = crate::routeros::export::route_params(cfg, r);
        let text: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(
            out,
            "<li id=\"{id}-rule-routing-{}\"><b>{}</b> {}</li>",
            r.line,
            r.line,
            esc(&text.join(" "))
        );
    }
    out.push_str("</ol></div></div>\n");
}
