//! `lesson.html`: a page to step a class through PCC packet by packet. The router drawn as its
//! packet path — LAN in, prerouting (mangle, then dst-nat), the routing decision with its
//! tables, forward, postrouting (mangle, then src-nat), out — each stage listing the user's
//! rules by line; one connection's walk through it, step by step (the arrow keys light the rule
//! being tried and say why it matches or not, a classifier's arithmetic included), then its
//! reply and its next packet; and the first connections of a run as dots falling into the PCC
//! buckets, coloured by the WAN each left by.
//!
//! The walk is [`crate::trace`]'s, so the page shows what the simulation does. The page is one
//! file with no external resource; its script only moves between steps already written into
//! it, and every step's text is also printed below for a reader without JavaScript.

use super::html::esc;
use crate::error::Error;
use crate::router::Router;
use crate::router::firewall::{Match, Table};
use crate::router::pcc::Classifier;
use crate::scenario::Loaded;
use crate::trace::Walk;
use crate::units::Time;
use crate::world::metrics::{ConnectionLog, ConnectionRecord};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

pub const LESSON_FILE: &str = "lesson.html";

/// The first connections of a run, in the order they started: the dots of the bucket grid.
struct FirstConnections {
    keep: usize,
    seen: Arc<Mutex<Vec<ConnectionRecord>>>,
}

impl ConnectionLog for FirstConnections {
    fn record(&mut self, c: &ConnectionRecord) {
        if let Ok(mut seen) = self.seen.lock() {
            // Records come as connections end: keep the `keep` that started first.
            let at = seen.partition_point(|s| s.started <= c.started);
            if at < self.keep {
                seen.insert(at, c.clone());
                seen.truncate(self.keep);
            }
        }
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `loaded` for `duration`, walks its first LAN connection through a fresh router, and
/// writes `lesson.html` into `dir`.
pub fn write_lesson(
    dir: &std::path::Path,
    loaded: &Loaded,
    duration: Time,
    connections: usize,
    progress: &mut dyn FnMut(Time),
) -> Result<(), Error> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut sim = crate::world::engine::Simulation::new(loaded, loaded.scenario.seed);
    sim.log_connections(Box::new(FirstConnections {
        keep: connections,
        seen: Arc::clone(&seen),
    }));
    let run = sim.run(loaded.scenario.seed, duration, |now, _| progress(now));
    let first: Vec<ConnectionRecord> = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let wans: Vec<String> = run.metrics.wans.iter().map(|w| w.name.clone()).collect();
    let lan = Some(loaded.lan_iface);
    // A TCP connection where there is one: its walk shows a handshake's packets.
    let outbound = |c: &&ConnectionRecord| c.wan.is_some() && !c.tuple.dst.is_private();
    let walked = (first.iter().filter(outbound))
        .find(|c| c.tuple.protocol == crate::packet::Protocol::Tcp)
        .or_else(|| first.iter().find(outbound))
        .map(|c| c.tuple);
    let walks = match walked {
        Some(t) => crate::trace::trace(&mut Router::new(loaded.config.clone()), 0, lan, t),
        None => Vec::new(),
    };
    let page = page(loaded, &walks, &first, &wans);
    let path = dir.join(LESSON_FILE);
    std::fs::write(&path, page).map_err(|e| Error::io(&path, e))
}

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

fn page(loaded: &Loaded, walks: &[Walk], first: &[ConnectionRecord], wans: &[String]) -> String {
    let name = &loaded.scenario.name;
    let mut out = stepper(name, &loaded.config, &loaded.config_file, walks);
    buckets(&mut out, loaded, first, wans);
    out.push_str(SCRIPT);
    super::html::page_with(&format!("{name} — pccsim lesson"), &out, STYLE)
}

/// `pccsim trace --format html`: the lesson's diagram and step view for one connection.
pub fn trace_page(config: &crate::RouterConfig, config_file: &str, walks: &[Walk]) -> String {
    let mut out = stepper("trace", config, config_file, walks);
    out.push_str(SCRIPT);
    super::html::page_with("pccsim trace", &out, STYLE)
}

/// The diagram of the router and the step view of `walks` through it.
fn stepper(name: &str, cfg: &crate::RouterConfig, config_file: &str, walks: &[Walk]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<h1>{} — PCC, packet by packet</h1>", esc(name));
    let _ = writeln!(
        out,
        "<p class=\"sub\">The router as its configuration ({}) builds it. Step with ← and → \
         (or the buttons); every step is also written out below.</p>",
        esc(config_file)
    );
    // The diagram.
    out.push_str("<div class=\"path\">\n<div class=\"port\">LAN in</div>\n");
    for (i, (title, parts)) in STAGES.iter().enumerate() {
        if i == 1 {
            routing_box(&mut out, cfg);
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
            rules_box(&mut out, cfg, t, chain);
        }
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n");
    // The step view, and its text for readers without JavaScript.
    let steps: Vec<(String, String, Option<u32>, Option<bool>)> = (walks.iter())
        .flat_map(|w| {
            let head = format!(
                "{} {} — arrives on {}",
                w.direction, w.arrived, w.in_interface
            );
            let table = |stage: &str| stage.split(' ').next().unwrap_or("").to_string();
            let end = (format!("{head}: {}", w.verdict), String::new(), None, None);
            (w.steps.iter())
                .map(|s| {
                    let text = format!("{head}: {} {}", s.stage, s.detail);
                    (text, table(&s.stage), s.line, s.matched)
                })
                .chain(std::iter::once(end))
                .collect::<Vec<_>>()
        })
        .collect();
    out.push_str(
        "<h2>One connection, step by step</h2>\n<div class=\"controls\">\
         <button id=\"back\">←</button> <button id=\"next\">→</button> \
         <span id=\"count\"></span></div>\n<p id=\"current\" class=\"current\"></p>\n",
    );
    out.push_str("<ol class=\"steps\" id=\"steps\">\n");
    for (text, table, line, matched) in &steps {
        let target = line.map_or(String::new(), |l| format!("rule-{table}-{l}"));
        let class = match matched {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        let _ = writeln!(
            out,
            "<li class=\"{class}\" data-target=\"{target}\">{}</li>",
            esc(text)
        );
    }
    out.push_str("</ol>\n");
    out
}

/// A chain's rules, each with its line, as the diagram lists them.
fn rules_box(out: &mut String, cfg: &crate::RouterConfig, t: &Table, chain: &str) {
    let rules: Vec<String> = (t.rules.iter())
        .filter(|r| !r.disabled && t.chain_names[r.chain as usize] == chain)
        .map(|r| {
            let params = crate::routeros::export::rule_params(cfg, t, r);
            let text: Vec<String> = params[1..]
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!(
                "<li id=\"rule-{}-{}\"><b>{}</b> {}</li>",
                t.name,
                r.line,
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
fn routing_box(out: &mut String, cfg: &crate::RouterConfig) {
    out.push_str("<div class=\"stage\"><h3>routing decision</h3><div class=\"chain\"><ol>");
    for r in &cfg.routes {
        let params = crate::routeros::export::route_params(cfg, r);
        let text: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(
            out,
            "<li id=\"rule-routing-{}\"><b>{}</b> {}</li>",
            r.line,
            r.line,
            esc(&text.join(" "))
        );
    }
    out.push_str("</ol></div></div>\n");
}

/// The bucket grid: the first connections as dots in their PCC bucket, coloured by the WAN
/// each left by, beside the shares the rules ask for and the shares these connections took.
fn buckets(out: &mut String, loaded: &Loaded, first: &[ConnectionRecord], wans: &[String]) {
    let cfg = &loaded.config;
    let pcc: Vec<(Classifier, &str)> = (cfg.mangle.rules.iter())
        .filter(|r| !r.disabled)
        .filter_map(|r| {
            let c = r.matchers.iter().find_map(|m| match &m.kind {
                Match::Pcc(c) => Some(*c),
                _ => None,
            })?;
            let mark = match r.action {
                crate::router::firewall::Action::MarkConnection(m) => {
                    cfg.connection_marks.name(m.0)
                }
                _ => "",
            };
            Some((c, mark))
        })
        .collect();
    let Some(&(classifier, _)) = pcc.first() else {
        out.push_str("<h2>Buckets</h2><p>The configuration has no PCC rules.</p>\n");
        return;
    };
    let d = classifier.denominator.clamp(1, 64) as usize;
    let mut columns: Vec<Vec<Option<u8>>> = vec![Vec::new(); d];
    for c in first.iter().filter(|c| c.wan.is_some()) {
        let b = classifier.bucket(&c.tuple) as usize;
        if b < d {
            columns[b].push(c.wan);
        }
    }
    let _ = writeln!(
        out,
        "<h2>The first {} connections in their buckets</h2>\n<p class=\"sub\">{} hashes each \
         connection into one of {d} buckets; a rule per remainder marks it for a WAN. Each dot \
         is a connection, coloured by the WAN it left by.</p>",
        first.len(),
        classifier.fields.name()
    );
    let (w, h, r) = (60.0 * d as f64 + 40.0, 420.0, 5.0);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">"
    );
    for (b, col) in columns.iter().enumerate() {
        let x0 = 20.0 + 60.0 * b as f64;
        let mark = (pcc.iter())
            .find(|(c, _)| c.remainder as usize == b)
            .map_or("", |(_, m)| m);
        let _ = write!(
            out,
            "<rect x=\"{x0}\" y=\"20\" width=\"56\" height=\"{}\" fill=\"#f4f4f4\" stroke=\"#ccc\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{b}</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
            h - 70.0,
            x0 + 28.0,
            h - 34.0,
            x0 + 28.0,
            h - 20.0,
            esc(mark)
        );
        for (i, wan) in col.iter().enumerate().take(150) {
            let (cx, cy) = (
                x0 + 8.0 + (i % 5) as f64 * 10.0,
                h - 58.0 - (i / 5) as f64 * 11.0,
            );
            let colour = wan.map_or("#999", |w| COLOURS[w as usize % COLOURS.len()]);
            let _ = write!(
                out,
                "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"{r}\" fill=\"{colour}\"/>"
            );
        }
    }
    out.push_str("</svg>\n");
    let total = first.iter().filter(|c| c.wan.is_some()).count().max(1);
    let router = Router::new(cfg.clone());
    let mut rows = String::new();
    for (i, name) in wans.iter().enumerate() {
        let took = first.iter().filter(|c| c.wan == Some(i as u8)).count();
        let asked = super::configured_share(&router, name).map_or("-".into(), super::pct);
        let _ = write!(
            rows,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{}</td><td>{asked}</td><td>{}</td></tr>",
            COLOURS[i % COLOURS.len()],
            esc(name),
            super::pct(took as f64 / total as f64)
        );
    }
    let _ = writeln!(
        out,
        "<table><tr><th>WAN</th><th>the rules ask</th><th>these connections took</th></tr>{rows}</table>"
    );
}

/// The WANs' colours, as in the run's charts (Okabe and Ito).
const COLOURS: [&str; 7] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
];

const STYLE: &str = "
.path { display: flex; gap: 0.6em; align-items: stretch; margin: 0.8em 0; flex-wrap: wrap; }
.port { background: #333; color: white; padding: 0.5em; border-radius: 4px; align-self: center; }
.stage { border: 2px solid #888; border-radius: 6px; padding: 0.3em 0.5em; flex: 1; min-width: 16em; }
.stage h3 { margin: 0.1em 0 0.3em; font-size: 1em; }
.chain h4 { margin: 0.2em 0; font-size: 0.85em; color: #555; }
.chain ol { list-style: none; padding: 0; margin: 0; font-size: 0.75em; font-family: monospace; }
.chain li { padding: 0.15em 0.3em; border-radius: 3px; }
.chain li.none { color: #999; }
.chain li.lit-yes { background: #c8f0c8; outline: 2px solid #2a2; }
.chain li.lit-no { background: #f6d6d6; outline: 2px solid #c33; }
.controls button { font-size: 1.2em; }
.current { font-size: 1.1em; background: #fff8d8; border: 1px solid #e0c860; padding: 0.6em;
           min-height: 3em; font-family: monospace; }
.steps li.yes { color: #174; } .steps li.no { color: #666; }
.steps { font-family: monospace; font-size: 0.85em; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; }
";

/// Steps through the list: the current step's text, and its rule lit in the diagram. A
/// `#keys=ArrowRight,ArrowRight` fragment presses those keys on load (for tests and for links
/// to a step).
const SCRIPT: &str = r#"<script>
(function () {
  var steps = document.querySelectorAll('#steps li');
  var at = 0;
  function show() {
    document.querySelectorAll('.lit-yes, .lit-no').forEach(function (e) {
      e.classList.remove('lit-yes'); e.classList.remove('lit-no');
    });
    var s = steps[at];
    document.getElementById('current').textContent = s ? s.textContent : '';
    document.getElementById('count').textContent = 'step ' + (at + 1) + ' of ' + steps.length;
    var target = s && s.dataset.target ? document.getElementById(s.dataset.target) : null;
    if (target) {
      target.classList.add(s.classList.contains('yes') ? 'lit-yes' : 'lit-no');
    }
  }
  function key(name) {
    if (name === 'ArrowRight' && at < steps.length - 1) { at += 1; }
    if (name === 'ArrowLeft' && at > 0) { at -= 1; }
    show();
  }
  document.addEventListener('keydown', function (e) { key(e.key); });
  document.getElementById('next').addEventListener('click', function () { key('ArrowRight'); });
  document.getElementById('back').addEventListener('click', function () { key('ArrowLeft'); });
  var m = /keys=([^&]*)/.exec(location.hash);
  if (m) {
    m[1].split(',').forEach(function (k) {
      document.dispatchEvent(new KeyboardEvent('keydown', { key: k }));
    });
  }
  show();
})();
</script>
"#;
