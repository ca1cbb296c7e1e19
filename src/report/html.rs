//! `report.html`: one self-contained page per run or comparison — tables, the charts inline as
//! SVG, the findings of `pccsim check`, and the scenario and configuration it came from — that
//! opens offline in any browser, to project in a class or attach to a change request. No
//! scripts, no external files: a style sheet and markup.

use super::Summary;
use crate::compare::Comparison;
use crate::error::Error;
use std::fmt::Write as _;
use std::path::Path;

pub const REPORT_FILE: &str = "report.html";

const STYLE: &str = "
body { font-family: system-ui, 'DejaVu Sans', sans-serif; margin: 2em auto; max-width: 1150px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.8em; }
.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
.bad { color: #b00020; font-weight: bold; }
.banner { background: #fde7e9; border: 2px solid #b00020; padding: 0.6em 1em; }
.finding { margin: 0.2em 0; }
.verdict li { margin: 0.3em 0; font-size: 1.05em; }
.lines .ln { color: #999; text-decoration: none; }
.lines span:target { background: #fff3b0; display: inline-block; width: 100%; }
.ci { display: block; color: #666; font-size: 0.85em; white-space: nowrap; }
.rank td:nth-child(2), .rank th:nth-child(2) { text-align: left; white-space: nowrap; }
.error { color: #b00020; } .warning { color: #8a5a00; } .info { color: #555; }
figure { margin: 1em 0; } svg { max-width: 100%; height: auto; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.8em; overflow-x: auto;
      font-size: 0.85em; }
";

/// Escapes text for HTML.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A table from a header and rows of cells (already escaped where needed).
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The SVG chart `name` from `dir`, inline.
fn chart(out: &mut String, dir: &Path, name: &str, caption: &str) -> Result<(), Error> {
    let path = dir.join(format!("{name}.svg"));
    let svg = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let _ = writeln!(
        out,
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        esc(caption)
    );
    Ok(())
}

fn page(title: &str, body: &str) -> String {
    page_with(title, body, "")
}

/// A page with the reports' style and `extra` style rules.
pub(super) fn page_with(title: &str, body: &str, extra: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}{extra}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        esc(title)
    )
}

/// How evenly the hosts were served, and what each queue did.
fn users(out: &mut String, s: &super::Summary) {
    let u = &s.users;
    out.push_str("<h2>Users and queues</h2>\n");
    let mbit = |v: f64| format!("{:.2} Mbit/s", v / 1e6);
    let jain = |j: Option<f64>| j.map_or("-".into(), |j| format!("{j:.3}"));
    let by_wan: Vec<String> = (u.jain_index_by_wan.iter())
        .map(|(w, j)| format!("{} {j:.3}", esc(w)))
        .collect();
    let _ = writeln!(
        out,
        "<p>{} hosts received data. Jain's fairness index of their download goodput: <b>{}</b> \
         (1 is all equal){}. Goodput per host: median {}, 90th percentile {}, most {}; the \
         busiest tenth of the hosts took {} of the bytes. Every host: <code>hosts.csv</code>.</p>",
        u.active,
        jain(u.jain_index),
        if by_wan.is_empty() {
            String::new()
        } else {
            format!("; per WAN {}", by_wan.join(", "))
        },
        mbit(u.goodput_down_bps.median),
        mbit(u.goodput_down_bps.p90),
        mbit(u.goodput_down_bps.max),
        pct(u.top_decile_byte_share)
    );
    if s.queues.is_empty() {
        out.push_str("<p>The configuration has no queues (<code>/queue simple</code>, <code>/queue tree</code>).</p>\n");
        return;
    }
    let rows: Vec<Vec<String>> = (s.queues.iter())
        .map(|q| {
            vec![
                format!("{} <span class=\"ci\">line {}</span>", esc(&q.name), q.line),
                esc(&q.direction),
                q.packets.to_string(),
                format!("{:.1} MB", q.bytes as f64 / 1e6),
                format!("{} ({})", q.dropped, pct(q.drop_share)),
                format!("{:.1} ms", q.mean_delay_ms),
            ]
        })
        .collect();
    table(
        out,
        &["queue", "way", "packets", "bytes", "dropped", "mean wait"],
        &rows,
    );
}

/// The router's CPUs, when the scenario names its model.
fn cpu(out: &mut String, s: &super::Summary) {
    let Some(c) = &s.cpu else {
        return;
    };
    out.push_str("<h2>The router's CPU</h2>\n");
    let _ = writeln!(
        out,
        "<p>{} with {} CPUs, costed from MikroTik's published test results ({}). <b>{}</b>. \
         Packets go to a CPU by their flow's hash, so one heavy connection fills one CPU while \
         others idle.</p>",
        esc(&c.model),
        c.cpus,
        esc(&c.source),
        esc(&c.verdict)
    );
    let span = |c: &super::cpu::CoreSummary| match (c.full_from_s, c.full_to_s) {
        (Some(f), Some(t)) => format!("{f}–{} s", t + 1),
        _ => "-".into(),
    };
    let rows: Vec<Vec<String>> = (c.per_cpu.iter())
        .map(|k| {
            vec![
                k.cpu.to_string(),
                k.packets.to_string(),
                k.dropped.to_string(),
                pct(k.mean_utilization),
                format!("{} at {} s", pct(k.peak_utilization), k.peak_at_s),
                span(k),
                pct(k.peak_utilization_fasttracked),
            ]
        })
        .collect();
    table(
        out,
        &[
            "core",
            "packets",
            "dropped",
            "mean",
            "busiest second",
            "full",
            "busiest with FastTrack",
        ],
        &rows,
    );
}

/// Where the world and the router's configuration came from, in full: the configuration as
/// written, each line numbered and anchored (`#L12`) for the findings to link to, and as pccsim
/// read it.
fn show_sources(out: &mut String, sources: &super::Sources) {
    out.push_str("<h2>Scenario and configuration</h2>\n");
    let _ = writeln!(
        out,
        "<details open><summary>Scenario</summary><pre>{}</pre></details>",
        esc(&sources.scenario)
    );
    if !sources.config_text.is_empty() {
        let _ = write!(
            out,
            "<details open><summary>Router configuration: {}</summary><pre class=\"lines\">",
            esc(&sources.config_file)
        );
        for (i, line) in sources.config_text.lines().enumerate() {
            let n = i + 1;
            let _ = writeln!(
                out,
                "<span id=\"L{n}\"><a class=\"ln\" href=\"#L{n}\">{n:>4}</a> {}</span>",
                esc(line)
            );
        }
        out.push_str("</pre></details>\n");
    }
    let _ = writeln!(
        out,
        "<details><summary>Router configuration as pccsim reads it (/export form)</summary>\
         <pre>{}</pre></details>",
        esc(&sources.config)
    );
}

/// `check`'s findings, each linked to its line of the configuration and showing it.
fn findings(out: &mut String, findings: &[crate::check::Finding], sources: &super::Sources) {
    out.push_str("<h2>What pccsim check finds</h2>\n");
    if findings.is_empty() {
        out.push_str("<p>No classic PCC mistakes found in the configuration.</p>\n");
    }
    let lines: Vec<&str> = sources.config_text.lines().collect();
    for f in findings {
        let line = lines
            .get((f.line as usize).wrapping_sub(1))
            .map_or(String::new(), |l| {
                format!("<br><code>{}</code>", esc(l.trim()))
            });
        let _ = writeln!(
            out,
            "<p class=\"finding {}\">{}[{}] <a href=\"#L{}\">{}:{}</a>: {}{line}</p>",
            f.severity.label(),
            f.severity.label(),
            esc(f.id),
            f.line,
            esc(&sources.config_file),
            f.line,
            esc(&f.message)
        );
    }
}

/// Why connections broke or stalled: each cause seen, how many, what it means and what
/// usually prevents it.
fn why_broken(out: &mut String, s: &Summary) {
    let c = &s.connections;
    let mut names: Vec<&String> = c
        .broken_by_cause
        .keys()
        .chain(c.stalled_by_cause.keys())
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return;
    }
    out.push_str("<h2>Why connections broke</h2>\n");
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|name| {
            let (what, fix) =
                crate::world::flow::Cause::from_name(name).map_or(("", ""), |c| c.explain());
            vec![
                format!("<code>{}</code>", esc(name)),
                c.broken_by_cause
                    .get(*name)
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                c.stalled_by_cause
                    .get(*name)
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                esc(what),
                esc(fix),
            ]
        })
        .collect();
    table(
        out,
        &[
            "cause",
            "broken",
            "stalled at the end",
            "what happened",
            "what usually prevents it",
        ],
        &rows,
    );
}

/// The page of one run; its charts are read from `dir`.
pub fn run_page(
    s: &Summary,
    dir: &Path,
    sources: &super::Sources,
    max_broken: f64,
) -> Result<String, Error> {
    let mut out = String::new();
    let _ = writeln!(out, "<h1>{} — pccsim run</h1>", esc(&s.scenario));
    let _ = writeln!(
        out,
        "<p class=\"sub\">seed {}, {:.0} s simulated, RouterOS {} configuration</p>",
        s.seed, s.duration_s, s.dialect
    );
    if s.too_many_broken(max_broken) {
        let _ = writeln!(
            out,
            "<p class=\"banner\">BROKEN: {} of the connections broke or stalled (more than {}).</p>",
            pct(s.connections.failed_share),
            pct(max_broken)
        );
    }
    out.push_str("<h2>What happened</h2>\n<ul class=\"verdict\">\n");
    for line in super::story(s) {
        let _ = writeln!(out, "<li>{}</li>", esc(&line));
    }
    out.push_str("</ul>\n");
    out.push_str("<h2>Load per WAN</h2>\n");
    let header: Vec<&str> = super::WAN_COLUMNS.iter().map(|(h, _)| *h).collect();
    let rows: Vec<Vec<String>> = (s.wans.iter())
        .map(|w| {
            (super::WAN_COLUMNS.iter())
                .map(|(h, cell)| match *h {
                    "broken" if w.broken > 0 => {
                        format!("<span class=\"bad\">{}</span>", esc(&cell(w)))
                    }
                    _ => esc(&cell(w)),
                })
                .collect()
        })
        .collect();
    table(&mut out, &header, &rows);
    let c = &s.connections;
    let causes: Vec<String> = c
        .broken_by_cause
        .iter()
        .map(|(k, v)| format!("{} {v}", esc(k)))
        .collect();
    let _ = writeln!(
        out,
        "<p>{} connections started, {} completed, {} broken{}, {} still open at the end.</p>",
        c.total,
        c.completed,
        c.broken,
        if causes.is_empty() {
            String::new()
        } else {
            format!(" ({})", causes.join(", "))
        },
        c.active_at_end
    );
    out.push_str("<h2>Applications</h2>\n");
    let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0} ms"));
    let row = |a: &super::AppSummary| {
        vec![
            esc(&a.name),
            a.connections.to_string(),
            a.broken.to_string(),
            ms(a.mean_completion_ms),
            a.mean_goodput_mbps
                .map_or("-".into(), |v| format!("{v:.2}")),
            a.sessions.to_string(),
            a.session_success.map_or("-".into(), pct),
            ms(a.mean_page_load_ms),
            a.rebuffer_ratio.map_or("-".into(), pct),
            a.mean_mos.map_or("-".into(), |m| format!("{m:.2}")),
        ]
    };
    let rows: Vec<Vec<String>> = s.apps.iter().map(row).collect();
    let header = [
        "app",
        "connections",
        "broken",
        "mean completion",
        "goodput Mbit/s",
        "sessions",
        "sessions ok",
        "page load",
        "rebuffering",
        "MOS (calls)",
    ];
    table(&mut out, &header, &rows);
    if !s.apps_by_class.is_empty() {
        out.push_str("<h3>By host class</h3>\n");
        let mut by_class = vec!["class"];
        by_class.extend(header);
        let rows: Vec<Vec<String>> = (s.apps_by_class.iter())
            .flat_map(|c| {
                let hosts = match c.hosts {
                    1 => "1 host".to_string(),
                    n => format!("{n} hosts"),
                };
                let class = format!("{} ({hosts})", esc(&c.class));
                c.apps.iter().map(move |a| {
                    let mut r = vec![class.clone()];
                    r.extend(row(a));
                    r
                })
            })
            .collect();
        table(&mut out, &by_class, &rows);
    }
    // Which WAN each application's traffic used.
    if s.wans.len() > 1 {
        let mut header = vec!["app"];
        header.extend(s.wans.iter().map(|w| w.name.as_str()));
        let rows: Vec<Vec<String>> = (s.apps.iter())
            .filter(|a| a.per_wan.iter().any(|u| u.connections > 0))
            .map(|a| {
                let mut r = vec![esc(&a.name)];
                r.extend(a.per_wan.iter().map(|u| {
                    let broken = match u.broken {
                        0 => String::new(),
                        n => format!(", <span class=\"bad\">{n} broken</span>"),
                    };
                    format!(
                        "{} of bytes<span class=\"ci\">{} connections{broken}</span>",
                        pct(u.byte_share),
                        u.connections
                    )
                }));
                r
            })
            .collect();
        out.push_str("<h3>Which WAN each application used</h3>\n");
        table(&mut out, &header, &rows);
        chart(
            &mut out,
            dir,
            "apps",
            "Each application's bytes by the WAN they left by (connections that ended).",
        )?;
    }
    users(&mut out, s);
    cpu(&mut out, s);
    if !s.failover.is_empty() {
        out.push_str("<h2>Failover</h2>\n");
        let t = |v: Option<f64>| v.map_or("never".into(), |v| format!("{v:.1} s"));
        let rows: Vec<Vec<String>> = s
            .failover
            .iter()
            .map(|f| {
                vec![
                    esc(&f.wan),
                    esc(&f.kind),
                    format!("{:.1} s", f.failed_at_s),
                    t(f.detected_at_s),
                    t(f.recovered_at_s),
                    // Never taken out of service: never left, so not "used again".
                    f.detected_at_s.map_or("-".into(), |_| t(f.failback_at_s)),
                    f.flaps.to_string(),
                    f.broken_at_failover.to_string(),
                    f.broken_at_failback.to_string(),
                ]
            })
            .collect();
        let header = [
            "WAN",
            "failure",
            "failed",
            "detected",
            "repaired",
            "used again",
            "premature returns",
            "broken at failover",
            "broken at failback",
        ];
        table(&mut out, &header, &rows);
        // What the other WANs carried meanwhile, and what stayed on them.
        let rows: Vec<Vec<String>> = (s.wans.iter())
            .filter(|w| w.bytes_during_outage > 0)
            .map(|w| {
                let st = &w.stranded_after_failback;
                vec![
                    esc(&w.name),
                    super::human_bytes(w.bytes_during_outage),
                    st.connections.to_string(),
                    super::human_bytes(st.bytes),
                    format!("{:.0} s", st.longest_s),
                ]
            })
            .collect();
        if !rows.is_empty() {
            let header = [
                "WAN",
                "carried while another was out",
                "stayed after the failback",
                "their bytes since",
                "longest stay",
            ];
            table(&mut out, &header, &rows);
        }
    }
    why_broken(&mut out, s);
    if !s.script_errors.is_empty() {
        out.push_str("<h2>The router's scripts</h2>\n<ul>\n");
        for e in &s.script_errors {
            let _ = writeln!(out, "<li class=\"error\">{}</li>", esc(e));
        }
        out.push_str("</ul>\n");
    }
    findings(&mut out, &s.findings, sources);
    out.push_str("<h2>Charts</h2>\n");
    chart(
        &mut out,
        dir,
        "shares",
        "Share per WAN: configured, connections, address pairs, bytes; broken connections in red.",
    )?;
    chart(
        &mut out,
        dir,
        "throughput",
        "Throughput per WAN over the run, as a share of each link's capacity.",
    )?;
    chart(
        &mut out,
        dir,
        "health",
        "Broken connections, queue drops, losses and round-trip time over the run.",
    )?;
    if !s.failover.is_empty() {
        chart(
            &mut out,
            dir,
            "failover",
            "Failures, their detection and the routes in use.",
        )?;
    }
    show_sources(&mut out, sources);
    Ok(page(&format!("{} — pccsim run", s.scenario), &out))
}

/// The page of a comparison; its chart is read from `dir`.
/// `mean [low, high]` as the mean over its interval, smaller.
fn estimate_cell(text: &str) -> String {
    match text.split_once(" [") {
        Some((mean, ci)) => format!("{}<span class=\"ci\">[{}</span>", esc(mean), esc(ci)),
        None => esc(text),
    }
}

pub fn compare_page(c: &Comparison, dir: &Path, src: &super::Sources) -> Result<String, Error> {
    use super::compare::{bests, cell, describe, differences, ranking, verdict};
    let mut out = String::new();
    let _ = writeln!(out, "<h1>{} — pccsim compare</h1>", esc(&c.scenario));
    let seeds = c.seeds.len();
    let _ = writeln!(
        out,
        "<p class=\"sub\">{} variants on the same traffic and seeds ({seeds} seed{}, {:.0} s \
         simulated each). Each is compared with <b>{}</b> seed by seed; figures are means with \
         their 95% intervals.</p>",
        c.variants.len(),
        if seeds == 1 { "" } else { "s" },
        c.duration_s,
        esc(&c.baseline)
    );
    if seeds < crate::compare::stats::MIN_SEEDS {
        let _ = writeln!(
            out,
            "<p class=\"banner\">{seeds} seed{} too few to tell variants apart: nothing here is a \
             claim. Run with <code>--seeds {}</code> or more.</p>",
            if seeds == 1 { " is" } else { "s are" },
            crate::compare::stats::MIN_SEEDS
        );
    }
    out.push_str("<h2>Verdict</h2>\n<ul class=\"verdict\">\n");
    for s in verdict(c) {
        let _ = writeln!(out, "<li>{}</li>", esc(&s));
    }
    out.push_str("</ul>\n<h2>Ranking</h2>\n");
    let _ = writeln!(out, "<p class=\"sub\">Ranked by {}.</p>", esc(&c.ranked_by));
    let (header, rows) = ranking(c);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.iter().map(|x| estimate_cell(x)).collect())
        .collect();
    out.push_str("<div class=\"rank\">");
    table(&mut out, &header, &rows);
    out.push_str("</div>\n");
    if c.variants.len() > 1 {
        out.push_str("<h2>Differences from the baseline</h2>\n");
        chart(
            &mut out,
            dir,
            "differences",
            "Each variant minus the baseline, seed by seed: the mean difference and its 95% \
             interval. Green: clearly better; red: clearly worse; grey: the seeds cannot tell.",
        )?;
        for (label, lines) in differences(c) {
            let _ = write!(out, "<p><b>{}</b></p><ul>", esc(&label));
            for l in lines {
                let _ = write!(out, "<li>{}</li>", esc(&l));
            }
            out.push_str("</ul>\n");
        }
    }
    out.push_str("<h2>Load and breaks</h2>\n");
    chart(
        &mut out,
        dir,
        "comparison",
        "Share of bytes per WAN with 95% intervals; the dashed level is each WAN's share of the \
         lines' capacity. Below: the share of connections that broke.",
    )?;
    out.push_str("<h2>Best per metric</h2>\n<ul>\n");
    for b in bests(c) {
        let _ = writeln!(out, "<li>{}</li>", esc(&b));
    }
    for (metric, lacking) in &c.missing {
        let _ = writeln!(
            out,
            "<li>{} is missing for {}: not ranked.</li>",
            esc(&describe(metric).name),
            esc(&lacking.join(", "))
        );
    }
    out.push_str("</ul>\n<h2>What each variant changed</h2>\n<ul>\n");
    for v in &c.variants {
        let what = if v.rewrites.is_empty() {
            "nothing: the configuration as given".to_string()
        } else {
            v.rewrites.join("; ")
        };
        let _ = writeln!(out, "<li><b>{}</b>: {}</li>", esc(&v.label), esc(&what));
    }
    out.push_str("</ul>\n<h2>Every metric</h2>\n");
    let names: std::collections::BTreeSet<&String> =
        c.variants.iter().flat_map(|v| v.metrics.keys()).collect();
    let mut header = vec!["metric", "key"];
    header.extend(c.variants.iter().map(|v| v.label.as_str()));
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|n| {
            let m = describe(n);
            let mut r = vec![esc(&m.name), format!("<code>{}</code>", esc(n))];
            r.extend((c.variants.iter()).map(|v| estimate_cell(&cell(v.metrics.get(*n), m.unit))));
            r
        })
        .collect();
    table(&mut out, &header, &rows);
    show_sources(&mut out, src);
    Ok(page(&format!("{} — pccsim compare", c.scenario), &out))
}
