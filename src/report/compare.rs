//! What `pccsim compare` shows: a verdict in words, the ranking with units and intervals, each
//! variant's paired differences from the baseline, the best variant per key metric — on the
//! terminal, in `report.html` — and `comparison.json`, `comparison.csv` and the charts.
//!
//! Every figure is phrased from [`Comparison`] alone, so a merge of shards says exactly what
//! one unsharded run says. A claim ("clearly", "better") is made only where the paired
//! difference is clear ([`crate::compare::stats`]); elsewhere the text says how many seeds
//! would tell.

use crate::compare::stats::{Difference, Estimate, MIN_SEEDS};
use crate::compare::{Comparison, VariantResult, higher_is_better};
use crate::error::Error;
use std::fmt::Write as _;
use std::path::Path;

/// The files `compare` writes.
pub const COMPARE_FILES: [&str; 7] = [
    "report.html",
    "comparison.json",
    "comparison.csv",
    "comparison.png",
    "comparison.svg",
    "differences.png",
    "differences.svg",
];

/// How a metric reads: its name for people and its unit.
#[derive(Clone, Debug)]
pub struct Described {
    pub name: String,
    pub unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unit {
    /// A share, 0–1, shown in percent; differences in percentage points.
    Percent,
    Millis,
    /// Connections per run.
    Count,
    /// A mean opinion score, 1–5.
    Mos,
    Mbps,
    /// A ratio shown as it is (0–1).
    Index,
}

/// The metric `metric` (a `comparison.json` key) in words.
pub fn describe(metric: &str) -> Described {
    let unit = if metric.ends_with(".mos") {
        Unit::Mos
    } else if metric.ends_with("_ms") {
        Unit::Millis
    } else if metric.ends_with("_mbps") {
        Unit::Mbps
    } else if metric.starts_with("broken.") || metric == "broken" || metric == "stalled" {
        Unit::Count
    } else if metric == "jain_index" {
        Unit::Index
    } else {
        Unit::Percent
    };
    let fixed = [
        ("capacity_share_deviation", "bytes off the lines' split"),
        ("share_deviation", "connections off target"),
        ("byte_share_deviation", "bytes off target"),
        ("classified_byte_share_deviation", "PCC's bytes off target"),
        ("peak_utilisation", "peak utilisation"),
        ("broken_share", "connections broken"),
        ("failed_share", "connections broken or stalled"),
        ("stalled", "connections stalled at the end"),
        ("broken", "connections broken"),
        ("jain_index", "fairness among hosts (Jain)"),
        ("top_decile_byte_share", "bytes the busiest tenth took"),
        ("cpu_busiest_utilization", "busiest CPU's load"),
        ("cpu_dropped_share", "packets the CPUs dropped"),
    ];
    let name = if let Some((_, n)) = fixed.iter().find(|(k, _)| *k == metric) {
        n.to_string()
    } else if let Some((class, app)) =
        (metric.strip_prefix("class.")).and_then(|m| m.split_once(".app."))
    {
        format!("{class}: {}", describe(&format!("app.{app}")).name)
    } else if let Some(cause) = metric.strip_prefix("broken.") {
        format!("broken by {cause}")
    } else if let Some(app) = metric.strip_prefix("app.") {
        let suffixes = [
            (".session_success", "sessions ok"),
            (".completion_ms", "completion"),
            (".goodput_mbps", "goodput"),
            (".page_load_ms", "page load"),
            (".rebuffer_ratio", "rebuffering"),
            (".startup_ms", "start-up"),
            (".mos", "MOS"),
        ];
        suffixes
            .iter()
            .find_map(|(s, n)| Some(format!("{} {n}", app.strip_suffix(s)?)))
            .unwrap_or_else(|| app.to_string())
    } else {
        let per_wan = [
            ("connection_share.", "connections on"),
            ("byte_share.", "bytes on"),
            ("classified_byte_share.", "PCC's bytes on"),
            ("peak_utilisation_down.", "peak down on"),
            ("peak_utilisation_up.", "peak up on"),
        ];
        per_wan
            .iter()
            .find_map(|(p, n)| Some(format!("{n} {}", metric.strip_prefix(p)?)))
            .unwrap_or_else(|| metric.to_string())
    };
    Described { name, unit }
}

/// A value in its unit: `12.5%`, `231 ms`.
fn value(x: f64, unit: Unit) -> String {
    match unit {
        Unit::Percent => format!("{:.1}%", x * 100.0),
        Unit::Millis => format!("{x:.0} ms"),
        Unit::Count => format!("{x:.1}"),
        Unit::Mos => format!("{x:.2}"),
        Unit::Index => format!("{x:.3}"),
        Unit::Mbps => format!("{x:.2} Mbit/s"),
    }
}

/// An interval's ends in the unit, without it: `[3.1, 7.4]`.
fn bounds(lo: f64, hi: f64, unit: Unit, signed: bool) -> String {
    let (scale, places) = match unit {
        Unit::Percent => (100.0, 1),
        Unit::Millis => (1.0, 0),
        Unit::Count => (1.0, 1),
        Unit::Mos | Unit::Mbps => (1.0, 2),
        Unit::Index => (1.0, 3),
    };
    let f = |x: f64| {
        if signed {
            format!("{:+.*}", places, x * scale)
        } else {
            format!("{:.*}", places, x * scale)
        }
    };
    format!("[{}, {}]", f(lo), f(hi))
}

/// `mean [low, high]` in the metric's unit; the mean alone from one seed.
pub fn cell(e: Option<&Estimate>, unit: Unit) -> String {
    let Some(e) = e else {
        return "missing".into();
    };
    match (e.ci95_low, e.ci95_high) {
        (Some(lo), Some(hi)) => format!("{} {}", value(e.mean, unit), bounds(lo, hi, unit, false)),
        _ => value(e.mean, unit),
    }
}

/// A difference in the unit (percentage points for shares): `+5.9 pts [+2.1, +9.8]`.
pub fn difference(d: &Difference, unit: Unit) -> String {
    let mean = match unit {
        Unit::Percent => format!("{:+.1} pts", d.mean * 100.0),
        Unit::Millis => format!("{:+.0} ms", d.mean),
        Unit::Count => format!("{:+.1}", d.mean),
        Unit::Mos | Unit::Mbps => format!("{:+.2}", d.mean),
        Unit::Index => format!("{:+.3}", d.mean),
    };
    match (d.ci95_low, d.ci95_high) {
        (Some(lo), Some(hi)) => format!("{mean} {}", bounds(lo, hi, unit, true)),
        _ => mean,
    }
}

/// How a clear difference reads for `metric`: better or worse.
pub fn better(metric: &str, d: &Difference) -> bool {
    (d.mean > 0.0) == higher_is_better(metric)
}

/// The metrics the ranking table shows: the split and the breaks, then the applications'
/// figures on which some variant clearly differs from the baseline.
pub fn columns(c: &Comparison) -> Vec<String> {
    let mut cols: Vec<String> = [
        "failed_share",
        "capacity_share_deviation",
        "share_deviation",
        "byte_share_deviation",
        "classified_byte_share_deviation",
        "peak_utilisation",
    ]
    .iter()
    .map(|k| k.to_string())
    .filter(|k| c.variants.iter().any(|v| v.metrics.contains_key(k)))
    .collect();
    let names: std::collections::BTreeSet<&String> =
        c.variants.iter().flat_map(|v| v.metrics.keys()).collect();
    let app_figures = [
        ".session_success",
        ".page_load_ms",
        ".rebuffer_ratio",
        ".mos",
    ];
    cols.extend(
        names
            .into_iter()
            .filter(|n| n.starts_with("app.") && app_figures.iter().any(|s| n.ends_with(s)))
            .filter(|n| {
                (c.variants.iter()).any(|v| v.versus_baseline.get(*n).is_some_and(|d| d.clear))
            })
            .cloned(),
    );
    cols
}

/// The ranking as rows of cells: rank, variant (the baseline marked), then [`columns`].
pub fn ranking(c: &Comparison) -> (Vec<String>, Vec<Vec<String>>) {
    let cols = columns(c);
    let mut header = vec!["#".to_string(), "variant".to_string()];
    header.extend(cols.iter().map(|k| describe(k).name));
    let rows = (c.variants.iter().enumerate())
        .map(|(i, v)| {
            let mut label = v.label.clone();
            if v.label == c.baseline {
                label.push_str(" (baseline)");
            }
            let mut r = vec![(i + 1).to_string(), label];
            r.extend(
                cols.iter()
                    .map(|k| cell(v.metrics.get(k), describe(k).unit)),
            );
            r
        })
        .collect();
    (header, rows)
}

/// The verdict: per variant, in ranking order, one sentence saying how it did and how it
/// differs from the baseline, claiming only what the seeds tell.
pub fn verdict(c: &Comparison) -> Vec<String> {
    c.variants.iter().map(|v| sentence(c, v)).collect()
}

fn sentence(c: &Comparison, v: &VariantResult) -> String {
    let mean = |k: &str| v.metrics.get(k).map(|e| e.mean);
    let mut parts = Vec::new();
    match mean("broken_share") {
        Some(b) if b > 0.0 => {
            let mut causes = causes(v);
            let most = if causes.is_empty() {
                String::new()
            } else {
                format!(", mostly by {}", causes.remove(0).0)
            };
            parts.push(format!(
                "{} of connections broken{most}",
                value(b, Unit::Percent)
            ));
        }
        Some(_) => parts.push("no broken connections".into()),
        None => {}
    }
    if let Some(n) = mean("stalled").filter(|n| *n > 0.0) {
        parts.push(format!("{n:.1} stalled by a fault at the end"));
    }
    if let Some(d) = mean("capacity_share_deviation") {
        parts.push(if d <= 0.02 {
            "load within 2% of the lines' split".into()
        } else {
            format!("{} of bytes off the lines' split", value(d, Unit::Percent))
        });
    }
    let mut text = format!("{}: {}", v.label, parts.join(", "));
    if v.label == c.baseline {
        text.push_str(" (the baseline)");
        return text + ".";
    }
    let seeds = v.seeds.len();
    if seeds < MIN_SEEDS {
        let _ = write!(
            text,
            "; {seeds} seed{} cannot tell it from {} (run --seeds {MIN_SEEDS} or more)",
            if seeds == 1 { "" } else { "s" },
            c.baseline
        );
        return text + ".";
    }
    let clear: Vec<(&String, &Difference)> = (v.versus_baseline.iter())
        .filter(|(k, d)| d.clear && is_key(k))
        .collect();
    let named = |good: bool| {
        let list: Vec<String> = (clear.iter())
            .filter(|(k, d)| better(k, d) == good)
            .map(|(k, _)| describe(k).name)
            .collect();
        list.join(", ")
    };
    let (up, down) = (named(true), named(false));
    match (up.is_empty(), down.is_empty()) {
        (true, true) => {
            let _ = write!(
                text,
                "; no clear difference from {} with {seeds} seeds",
                c.baseline
            );
        }
        (false, true) => {
            let _ = write!(text, "; clearly better than {} in {up}", c.baseline);
        }
        (true, false) => {
            let _ = write!(text, "; clearly worse than {} in {down}", c.baseline);
        }
        (false, false) => {
            let _ = write!(
                text,
                "; against {}: better in {up}, worse in {down}",
                c.baseline
            );
        }
    }
    text + "."
}

/// The metrics a verdict speaks of: the load's split, breaks and the applications' quality
/// (not each WAN's share, which moves with the split, nor per-cause counts).
fn is_key(metric: &str) -> bool {
    matches!(
        metric,
        "capacity_share_deviation"
            | "share_deviation"
            | "byte_share_deviation"
            | "classified_byte_share_deviation"
            | "broken_share"
            | "failed_share"
            | "cpu_busiest_utilization"
            | "cpu_dropped_share"
    ) || (metric.starts_with("app.") && !metric.ends_with("goodput_mbps"))
}

/// Per variant but the baseline, its differences from the baseline in the key metrics: the
/// clear ones, then those the seeds cannot tell apart with about how many seeds would.
pub fn differences(c: &Comparison) -> Vec<(String, Vec<String>)> {
    (c.variants.iter())
        .filter(|v| v.label != c.baseline)
        .map(|v| {
            let mut lines = Vec::new();
            let keyed: Vec<(&String, &Difference)> = v
                .versus_baseline
                .iter()
                .filter(|(k, _)| is_key(k))
                .collect();
            for good in [true, false] {
                let list: Vec<String> = (keyed.iter())
                    .filter(|(k, d)| d.clear && better(k, d) == good)
                    .map(|(k, d)| {
                        let m = describe(k);
                        format!("{} {}", m.name, difference(d, m.unit))
                    })
                    .collect();
                if !list.is_empty() {
                    let word = if good { "better" } else { "worse" };
                    lines.push(format!("{word}: {}", list.join("; ")));
                }
            }
            let unclear: Vec<String> = (keyed.iter())
                .filter(|(_, d)| !d.clear && d.mean != 0.0)
                .map(|(k, d)| {
                    let need = d.seeds_needed.map_or(String::new(), |n| match n {
                        n if n > 10_000 => " (more than 10000 seeds)".into(),
                        n => format!(" (about {n} seeds)"),
                    });
                    format!("{}{need}", describe(k).name)
                })
                .collect();
            if !unclear.is_empty() {
                let seeds = v.seeds.len();
                lines.push(format!(
                    "not told apart with {seeds} seed{}: {}",
                    if seeds == 1 { "" } else { "s" },
                    unclear.join(", ")
                ));
            }
            if lines.is_empty() {
                lines.push("the same as the baseline on every seed".into());
            }
            (v.label.clone(), lines)
        })
        .collect()
}

/// The best variant per key metric, in words.
pub fn bests(c: &Comparison) -> Vec<String> {
    c.best
        .iter()
        .map(|b| {
            let m = describe(&b.metric);
            let e = (c.variants.iter())
                .find(|v| v.label == b.variant)
                .and_then(|v| v.metrics.get(&b.metric));
            let verdict = match (&b.runner_up, &b.difference) {
                (None, _) => String::new(),
                (Some(r), Some(d)) if d.clear => format!(", clearly ahead of {r}"),
                (Some(r), Some(d)) if d.seeds < MIN_SEEDS => {
                    format!(", too few seeds ({}) to tell from {r}", d.seeds)
                }
                (Some(r), Some(d)) if d.mean == 0.0 => {
                    return format!(
                        "{}: {} and {r} alike ({})",
                        m.name,
                        b.variant,
                        cell(e, m.unit)
                    );
                }
                (Some(r), _) => format!(", not told apart from {r} at 95%"),
            };
            format!(
                "best {}: {} ({}){verdict}",
                m.name,
                b.variant,
                cell(e, m.unit)
            )
        })
        .collect()
}

/// The terminal's view: the verdict, the ranking, the differences from the baseline, the
/// causes of breaks, the best per metric, the rewrites.
pub fn table(c: &Comparison) -> String {
    let mut out = String::new();
    let seeds = c.seeds.len();
    let _ = writeln!(
        out,
        "{} — {} variants × {seeds} seed{}, {:.0} s simulated each, on the same traffic",
        c.scenario,
        c.variants.len(),
        if seeds == 1 { "" } else { "s" },
        c.duration_s
    );
    if seeds < MIN_SEEDS {
        let _ = writeln!(
            out,
            "{seeds} seed{}: no claims are made below {MIN_SEEDS} (add --seeds {MIN_SEEDS} or more)",
            if seeds == 1 { " has no interval" } else { "s" }
        );
    }
    let _ = writeln!(out, "\nverdict:");
    for s in verdict(c) {
        let _ = writeln!(out, "  {s}");
    }
    let _ = writeln!(out, "\nranked by {} (mean [95% interval])", c.ranked_by);
    let (header, rows) = ranking(c);
    out.push_str(&aligned(&header, &rows));
    let diffs = differences(c);
    if !diffs.is_empty() {
        let _ = writeln!(
            out,
            "\nagainst {} (the difference per seed, mean [95% interval]):",
            c.baseline
        );
        for (label, lines) in diffs {
            let _ = writeln!(out, "  {label}");
            for l in lines {
                let _ = writeln!(out, "    {l}");
            }
        }
    }
    out.push('\n');
    for v in &c.variants {
        let list: Vec<String> = (causes(v).iter())
            .map(|(c, m)| format!("{c} {m:.1} per run"))
            .collect();
        if !list.is_empty() {
            let _ = writeln!(out, "broken in {}: {}", v.label, list.join(", "));
        }
    }
    for line in bests(c) {
        let _ = writeln!(out, "{line}");
    }
    for (metric, lacking) in &c.missing {
        if is_key(metric) {
            let _ = writeln!(
                out,
                "{} missing for {} (not ranked)",
                describe(metric).name,
                lacking.join(", ")
            );
        }
    }
    for v in c.variants.iter().filter(|v| !v.rewrites.is_empty()) {
        let _ = writeln!(out, "{} rewrote: {}", v.label, v.rewrites.join("; "));
    }
    out
}

/// Rows under a header, columns aligned: the variant's name left, numbers right.
fn aligned(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            (rows.iter().map(|r| r[i].chars().count()))
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let parts: Vec<String> = (cells.iter().enumerate())
            .map(|(i, t)| match i {
                1 => format!("{t:<w$}", w = widths[i]),
                _ => format!("{t:>w$}", w = widths[i]),
            })
            .collect();
        parts.join("  ") + "\n"
    };
    let mut out = line(header);
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// `(cause, mean per run)` for every cause that broke connections, most first.
pub fn causes(v: &VariantResult) -> Vec<(&str, f64)> {
    let mut list: Vec<(&str, f64)> = (v.metrics.iter())
        .filter_map(|(k, e)| Some((k.strip_prefix("broken.")?, e.mean)))
        .filter(|(_, m)| *m > 0.0)
        .collect();
    list.sort_by(|a, b| b.1.total_cmp(&a.1));
    list
}

/// `comparison.csv`: one row per variant and metric, with the difference from the baseline.
pub fn csv(c: &Comparison) -> String {
    let mut out = String::from(
        "variant,classifier,metric,mean,ci95_low,ci95_high,seeds,\
         diff_mean,diff_ci95_low,diff_ci95_high,diff_clear\n",
    );
    let num = |x: Option<f64>| x.map_or(String::new(), |x| x.to_string());
    for v in &c.variants {
        for (k, e) in &v.metrics {
            let d = v.versus_baseline.get(k);
            let _ = writeln!(
                out,
                "{},{},{k},{},{},{},{},{},{},{},{}",
                quote(&v.label),
                quote(&v.classifier),
                e.mean,
                num(e.ci95_low),
                num(e.ci95_high),
                e.seeds,
                num(d.map(|d| d.mean)),
                num(d.and_then(|d| d.ci95_low)),
                num(d.and_then(|d| d.ci95_high)),
                d.map_or(String::new(), |d| d.clear.to_string()),
            );
        }
    }
    out
}

fn quote(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes the comparison's files and its `report.html` into `dir`.
pub fn write_files(dir: &Path, c: &Comparison, sources: &super::Sources) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(c).expect("comparison serialises") + "\n";
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| Error::io(dir.join(name), e))
    };
    write("comparison.json", &json)?;
    write("comparison.csv", &csv(c))?;
    super::charts::comparison(dir, c)?;
    super::charts::differences(dir, c)?;
    let page = super::html::compare_page(c, dir, sources)?;
    write(super::html::REPORT_FILE, &page)
}
