//! What `pccsim compare` shows: a ranked table on the terminal with a line per key metric
//! naming the best variant, and `comparison.json`, `comparison.csv` and the comparison chart.

use crate::compare::stats::Estimate;
use crate::compare::{Comparison, VariantResult};
use crate::error::Error;
use std::fmt::Write as _;
use std::path::Path;

/// The files `compare` writes.
pub const COMPARE_FILES: [&str; 5] = [
    "report.html",
    "comparison.json",
    "comparison.csv",
    "comparison.png",
    "comparison.svg",
];

/// `mean ±half` in the metric's own unit.
fn cell(e: Option<&Estimate>, unit: Unit) -> String {
    let Some(e) = e else {
        return "-".into();
    };
    let half = (e.ci95_high - e.ci95_low) / 2.0;
    match unit {
        Unit::Percent => format!("{:.1}% ±{:.1}", e.mean * 100.0, half * 100.0),
        Unit::Millis => format!("{:.0} ms ±{:.0}", e.mean, half),
        Unit::Count => format!("{:.1} ±{:.1}", e.mean, half),
        Unit::Mos => format!("{:.2} ±{:.2}", e.mean, half),
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Percent,
    Millis,
    Count,
    /// A mean opinion score, 1–5.
    Mos,
}

fn unit_of(metric: &str) -> Unit {
    if metric.ends_with(".mos") {
        Unit::Mos
    } else if metric.ends_with("_ms") {
        Unit::Millis
    } else if metric.starts_with("broken.") || metric == "broken" {
        Unit::Count
    } else {
        Unit::Percent
    }
}

/// The columns of the table: the split and the breaks, then the applications' figures on
/// which the seeds tell some variants apart (the rest are in `report.html` and the files).
fn columns(c: &Comparison) -> Vec<(String, String)> {
    let mut cols: Vec<(String, String)> = [
        ("share_deviation", "share off target"),
        ("byte_share_deviation", "bytes off target"),
        ("classified_byte_share_deviation", "PCC's bytes off target"),
        ("peak_utilisation", "peak util"),
        ("broken_share", "broken"),
    ]
    .iter()
    .map(|(k, h)| (k.to_string(), h.to_string()))
    .collect();
    let names: std::collections::BTreeSet<&String> =
        c.variants.iter().flat_map(|v| v.metrics.keys()).collect();
    let heads = [
        (".session_success", "sessions ok"),
        (".page_load_ms", "page load"),
        (".rebuffer_ratio", "rebuffering"),
        (".mos", "MOS"),
    ];
    for n in names.into_iter().filter(|n| differs(c, n)) {
        let Some(app) = n.strip_prefix("app.") else {
            continue;
        };
        if let Some((a, head)) = heads
            .iter()
            .find_map(|(suffix, head)| Some((app.strip_suffix(suffix)?, head)))
        {
            cols.push((n.clone(), format!("{a} {head}")));
        }
    }
    cols
}

/// Whether two variants' intervals for `metric` stay apart.
fn differs(c: &Comparison, metric: &str) -> bool {
    let estimates: Vec<&Estimate> = c
        .variants
        .iter()
        .filter_map(|v| v.metrics.get(metric))
        .collect();
    estimates
        .iter()
        .any(|a| estimates.iter().any(|b| !a.overlaps(b)))
}

/// The terminal's view: the ranking, the causes of breaks, the best per metric, the rewrites.
pub fn table(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {} variants × {} seeds, {:.0} s simulated each (mean ±95% interval)",
        c.scenario,
        c.variants.len(),
        c.seeds.len(),
        c.duration_s
    );
    let cols = columns(c);
    let mut header = vec!["#".to_string(), "variant".to_string()];
    header.extend(cols.iter().map(|(_, h)| h.clone()));
    let rows: Vec<Vec<String>> = c
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut r = vec![(i + 1).to_string(), v.label.clone()];
            r.extend(cols.iter().map(|(k, _)| cell(v.metrics.get(k), unit_of(k))));
            r
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, t)| match i {
                1 => format!("{t:<w$}", w = widths[i]),
                _ => format!("{t:>w$}", w = widths[i]),
            })
            .collect();
        parts.join("  ")
    };
    let _ = writeln!(out, "{}", line(&header));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r));
    }
    for v in &c.variants {
        let causes = causes(v);
        if !causes.is_empty() {
            let _ = writeln!(out, "broken in {}: {}", v.label, causes.join(", "));
        }
    }
    for b in &c.best {
        let e = c
            .variants
            .iter()
            .find(|v| v.label == b.variant)
            .and_then(|v| v.metrics.get(&b.metric));
        let verdict = match (&b.runner_up, b.clear) {
            (None, _) => String::new(),
            (Some(r), true) => format!(", clearly ahead of {r}"),
            (Some(r), false) => format!(", not separable from {r} at 95%"),
        };
        let _ = writeln!(
            out,
            "best {}: {} ({}){verdict}",
            b.metric,
            b.variant,
            cell(e, unit_of(&b.metric))
        );
    }
    for v in c.variants.iter().filter(|v| !v.rewrites.is_empty()) {
        let _ = writeln!(out, "{} rewrote: {}", v.label, v.rewrites.join("; "));
    }
    out
}

/// `cause mean` for every cause that broke connections, most first.
fn causes(v: &VariantResult) -> Vec<String> {
    let mut list: Vec<(&str, f64)> = v
        .metrics
        .iter()
        .filter_map(|(k, e)| Some((k.strip_prefix("broken.")?, e.mean)))
        .filter(|(_, m)| *m > 0.0)
        .collect();
    list.sort_by(|a, b| b.1.total_cmp(&a.1));
    list.iter()
        .map(|(c, m)| format!("{c} {m:.1} per run"))
        .collect()
}

/// `comparison.csv`: one row per variant and metric.
pub fn csv(c: &Comparison) -> String {
    let mut out = String::from("variant,classifier,metric,mean,ci95_low,ci95_high\n");
    for v in &c.variants {
        for (k, e) in &v.metrics {
            let _ = writeln!(
                out,
                "{},{},{k},{},{},{}",
                quote(&v.label),
                quote(&v.classifier),
                e.mean,
                e.ci95_low,
                e.ci95_high
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
    let page = super::html::compare_page(c, dir, &sources.scenario, &sources.config)?;
    write(super::html::REPORT_FILE, &page)
}
