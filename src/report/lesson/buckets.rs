//! The bucket grid: the first connections of each classifier's run as dots falling into the
//! buckets their hash picks (for `nth`, the turn they arrived on), coloured by the WAN each
//! left by, with the shares the rules ask for and those the connections took — and a row per
//! desk, which shows at a glance that `src-address` keeps each desk on one WAN while the
//! classifiers with ports spread a desk's connections over all of them.

use super::super::html::esc;
use super::COLOURS;
use crate::lesson::{Variant, WhatIf};
use crate::router::Router;
use crate::router::firewall::{Action, ConnMark, Match};
use crate::router::pcc::Classifier;
use crate::world::metrics::ConnectionRecord;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The most dots a bucket shows, and desks and connections per desk the rows show.
const DOTS: usize = 150;
const DESKS: usize = 12;
const PER_DESK: usize = 48;

pub(super) fn grid(out: &mut String, variants: &[Variant], wans: &[String]) {
    let panels: Vec<&Variant> = (variants.iter())
        .filter(|v| matches!(v.what, WhatIf::AsConfigured | WhatIf::Spread(_)))
        .collect();
    if panels.iter().all(|v| group(&v.loaded.config).is_empty()) {
        out.push_str(
            "<h2 id=\"buckets\">Buckets</h2>\n<p>The configuration has no PCC or nth rules that \
             mark new connections, so there are no buckets: every new connection takes the \
             route its table's best default route gives.</p>\n",
        );
        return;
    }
    let n = panels.first().map_or(0, |v| v.first.len());
    let _ = writeln!(
        out,
        "<h2 id=\"buckets\">The first {n} connections in their buckets</h2>\n<p class=\"sub\">The \
         classifier hashes the fields it is given into one of D buckets; one rule per remainder \
         marks the connection for a WAN. Each dot is a connection, coloured by the WAN it left \
         by; the same traffic under each classifier. Below each grid, a row per desk: its \
         connections in the order it opened them.</p>\n<div class=\"panels\">"
    );
    for v in panels {
        panel(out, v, wans);
    }
    out.push_str("</div>\n");
}

/// The PCC group's rules, as (classifier, connection mark name); `nth` rules with their
/// `every`. Disabled rules and other actions are not part of it.
fn group(cfg: &crate::RouterConfig) -> Vec<(Option<Classifier>, ConnMark)> {
    (cfg.mangle.rules.iter())
        .filter(|r| !r.disabled)
        .filter_map(|r| {
            let by = r.matchers.iter().find_map(|m| match &m.kind {
                Match::Pcc(c) => Some(Some(*c)),
                Match::Nth(_) => Some(None),
                _ => None,
            })?;
            match r.action {
                Action::MarkConnection(m) => Some((by, m)),
                _ => None,
            }
        })
        .collect()
}

fn panel(out: &mut String, v: &Variant, wans: &[String]) {
    let cfg = &v.loaded.config;
    let group = group(cfg);
    let title = match v.what {
        WhatIf::AsConfigured => format!(
            "as configured ({})",
            group
                .iter()
                .find_map(|(c, _)| c.map(|c| c.fields.name()))
                .unwrap_or("nth")
        ),
        w => w.label(),
    };
    let classifier = group.iter().find_map(|(c, _)| *c);
    let d = match classifier {
        Some(c) => c.denominator,
        None => group.len() as u32,
    }
    .clamp(1, 64) as usize;
    // Connections the LAN opened to the internet: the ones a classifier places.
    let placed: Vec<&ConnectionRecord> = (v.first.iter())
        .filter(|c| c.wan.is_some() && !c.tuple.dst.is_private() && c.tuple.src.is_private())
        .collect();
    let mut columns: Vec<Vec<Option<u8>>> = vec![Vec::new(); d];
    for (turn, c) in placed.iter().enumerate() {
        // nth takes connections in turn as they arrive.
        let b = classifier.map_or(turn % d, |k| k.bucket(&c.tuple) as usize);
        if let Some(col) = columns.get_mut(b) {
            col.push(c.wan);
        }
    }
    let _ = write!(out, "<div class=\"panel\"><h3>{}</h3>", esc(&title));
    let width = 22 * 5 + 10;
    let (w, h) = (width * d + 20, 300);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">"
    );
    for (b, col) in columns.iter().enumerate() {
        let x0 = 10 + width * b;
        let mark = group
            .get(b)
            .map_or("", |(_, m)| cfg.connection_marks.name(m.0));
        let _ = write!(
            out,
            "<rect x=\"{x0}\" y=\"10\" width=\"{}\" height=\"{}\" fill=\"#f4f4f4\" stroke=\"#ccc\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{b}</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            width - 4,
            h - 50,
            x0 + width / 2,
            h - 26,
            x0 + width / 2,
            h - 12,
            esc(mark)
        );
        for (i, wan) in col.iter().enumerate().take(DOTS) {
            let cx = x0 + 9 + (i % 10) * 10;
            let cy = h - 48 - 6 - (i / 10) * 10;
            let _ = write!(
                out,
                "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"4.5\" fill=\"{}\"/>",
                colour(*wan)
            );
        }
        if col.len() > DOTS {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"24\" font-size=\"10\" text-anchor=\"middle\">+{}</text>",
                x0 + width / 2,
                col.len() - DOTS
            );
        }
    }
    out.push_str("</svg>\n");
    shares(out, v, &placed, wans);
    desks(out, &placed);
    out.push_str("</div>\n");
}

/// What the rules ask of each WAN, and what these connections took, by count and by bytes.
fn shares(out: &mut String, v: &Variant, placed: &[&ConnectionRecord], wans: &[String]) {
    let router = Router::new(v.loaded.config.clone());
    let total = placed.len().max(1) as f64;
    let bytes = |c: &&ConnectionRecord| c.bytes_up + c.bytes_down;
    let all_bytes = placed.iter().map(bytes).sum::<u64>().max(1) as f64;
    // nth's rules take connections in turn: each rule one of every D.
    let group = group(&v.loaded.config);
    let in_turn = |name: &str| {
        let mine = group.iter().filter(|(_, m)| {
            (router.wan_of_mark(*m)).is_some_and(|i| v.loaded.config.iface_name(i) == name)
        });
        (!group.is_empty() && group.iter().all(|(by, _)| by.is_none()))
            .then(|| mine.count() as f64 / group.len() as f64)
    };
    let mut rows = String::new();
    for (i, name) in wans.iter().enumerate() {
        let mine = || placed.iter().filter(|c| c.wan == Some(i as u8));
        let asked = (super::super::configured_share(&router, name).or_else(|| in_turn(name)))
            .map_or("-".into(), pct);
        let _ = write!(
            rows,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{}</td><td>{asked}</td>\
             <td>{}</td><td>{}</td></tr>",
            colour(Some(i as u8)),
            esc(name),
            pct(mine().count() as f64 / total),
            pct(mine().map(bytes).sum::<u64>() as f64 / all_bytes)
        );
    }
    let _ = writeln!(
        out,
        "<table><tr><th>WAN</th><th>the rules ask</th><th>connections took</th><th>bytes took</th></tr>{rows}</table>"
    );
}

/// A row per desk (source address): its connections, in order, coloured by WAN.
fn desks(out: &mut String, placed: &[&ConnectionRecord]) {
    let mut by_desk: BTreeMap<std::net::Ipv4Addr, Vec<Option<u8>>> = BTreeMap::new();
    for c in placed {
        by_desk.entry(c.tuple.src).or_default().push(c.wan);
    }
    let rows = by_desk.len().min(DESKS);
    let (w, h) = (110 + PER_DESK * 7, rows * 12 + 4);
    let _ = write!(
        out,
        "<svg class=\"desks\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">"
    );
    for (row, (desk, wans)) in by_desk.iter().take(DESKS).enumerate() {
        let y = 2 + row * 12;
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\" font-size=\"10\">{desk}</text>",
            y + 9
        );
        for (i, wan) in wans.iter().take(PER_DESK).enumerate() {
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{y}\" width=\"6\" height=\"10\" fill=\"{}\"/>",
                110 + i * 7,
                colour(*wan)
            );
        }
    }
    out.push_str("</svg>\n");
    if by_desk.len() > DESKS {
        let _ = writeln!(
            out,
            "<p class=\"sub\">and {} more desks</p>",
            by_desk.len() - DESKS
        );
    }
}

fn colour(wan: Option<u8>) -> &'static str {
    wan.map_or("#999", |w| COLOURS[w as usize % COLOURS.len()])
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}
