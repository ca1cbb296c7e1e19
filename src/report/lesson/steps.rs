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

/// The diagram of `cfg`'s router; rules a what-if rewrote or added (against `base`, the
/// configuration as given) are marked.
pub(super) fn diagram(out: &mut String, id: &str, cfg: &RouterConfig, base: Option<&RouterConfig>) {
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
            let before = base.map(|b| rule_texts(b, table_of(b, table), chain));
            rules_box(out, id, cfg, table_of(cfg, table), chain, before.as_deref());
        }
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n");
}

/// The buttons and the box that shows the current step, above the diagram so that a
/// projector shows both.
pub(super) fn current(out: &mut String, id: &str) {
    let _ = writeln!(
        out,
        "<div class=\"controls\"><button class=\"back\">←</button> <button class=\"next\">→</button> \
         <span class=\"count\"></span></div>\n<p id=\"{id}-current\" class=\"current\"></p>"
    );
}

/// The steps of `walks`, written out (for readers without JavaScript, and for the script to
/// step through).
pub(super) fn steps(out: &mut String, walks: &[Walk], id: &str) {
    if walks.is_empty() {
        out.push_str(
            "<p>None of the run's first connections left by a WAN, so there is none to walk \
             (try a longer --duration or more --connections).</p>\n",
        );
    }
    out.push_str("<ol class=\"steps\">\n");
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

fn table_of<'a>(cfg: &'a RouterConfig, name: &str) -> &'a Table {
    match name {
        "mangle" => &cfg.mangle,
        "nat" => &cfg.nat,
        _ => &cfg.filter,
    }
}

/// The enabled rules of `chain`, as `line params…`.
fn rule_texts(cfg: &RouterConfig, t: &Table, chain: &str) -> Vec<String> {
    (t.rules.iter())
        .filter(|r| !r.disabled && t.chain_names[r.chain as usize] == chain)
        .map(|r| {
            let params = crate::routeros::export::rule_params(cfg, t, r);
            let text: Vec<String> = (params[1..].iter())
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{} {}", r.line, text.join(" "))
        })
        .collect()
}

/// A chain's rules, each with its line, as the diagram lists them; where `before` is given,
/// those not in it are marked as changed.
fn rules_box(
    out: &mut String,
    id: &str,
    cfg: &RouterConfig,
    t: &Table,
    chain: &str,
    before: Option<&[String]>,
) {
    let rules: Vec<String> = (rule_texts(cfg, t, chain).iter())
        .map(|text| {
            let (line, params) = text.split_once(' ').unwrap_or((text, ""));
            let class = match before {
                Some(b) if !b.contains(text) => " class=\"changed\"",
                _ => "",
            };
            // A rule a what-if added has no line of the user's.
            let shown = if line == "0" { "+" } else { line };
            format!(
                "<li id=\"{id}-rule-{}-{line}\"{class}><b>{shown}</b> {}</li>",
                t.name,
                esc(params)
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
