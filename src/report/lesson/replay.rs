//! The bad day replayed (`lesson --timeline`): the run's timeline under a scrubber — each
//! WAN's state (link, gateway, in service), its open connections and throughput, the routes
//! in the diagram dimmed while the router does not use them, and below, what happened when, from
//! the failure on the timeline through check-gateway's missed probes one by one, the route
//! going inactive, connections breaking with their causes, to the repair and the failback.
//!
//! Everything is from the run's metrics; the script only moves a cursor through them. The
//! events are also written out as a list for readers without JavaScript.

use super::super::html::esc;
use super::COLOURS;
use crate::lesson::Variant;
use crate::report::clock;
use crate::units::{SEC, Time};
use crate::world::flow::Cause;
use std::fmt::Write as _;

const WIDTH: f64 = 900.0;
const PLOT: f64 = 150.0;
const LEFT: f64 = 50.0;

pub(super) fn replay(out: &mut String, id: &str, v: &Variant, wans: &[String]) {
    let m = &v.run.metrics;
    let mut times: Vec<Time> = m.samples.iter().map(|s| s.time).collect();
    times.dedup();
    if times.is_empty() {
        return;
    }
    let end = v.run.duration.max(1);
    let at = |t: Time| times.partition_point(|&x| x < t).min(times.len() - 1);
    // Per WAN, per sample time: the columns the script reads.
    let mut series: Vec<serde_json::Value> = Vec::new();
    for w in 0..wans.len() {
        let mine: Vec<_> = m.samples.iter().filter(|s| s.wan == w).collect();
        let fault: Vec<String> = mine.iter().map(|s| fault(v, w, s.time)).collect();
        // Probes of this WAN's gateway missed in a row by then (the last one told of).
        let gateway = v.loaded.scenario.wans.get(w).map(|w| w.gateway);
        let probes: Vec<_> = (m.probes.iter())
            .filter(|p| Some(p.gateway) == gateway)
            .collect();
        let missed: Vec<String> = (mine.iter())
            .map(|s| {
                let last = probes[..probes.partition_point(|p| p.at <= s.time)].last();
                match last {
                    // Past `count` the state says it: unreachable.
                    Some(p) if p.misses > 0 && p.misses < p.count => {
                        format!("{} of {} probes missed", p.misses, p.count)
                    }
                    _ => String::new(),
                }
            })
            .collect();
        let col = |f: &dyn Fn(&crate::world::metrics::Sample) -> serde_json::Value| {
            mine.iter().map(|s| f(s)).collect::<Vec<_>>()
        };
        series.push(serde_json::json!({
            "service": col(&|s| s.in_service.into()),
            "gateway": col(&|s| s.gateway_reachable.into()),
            "link": col(&|s| s.link_up.into()),
            "active": col(&|s| s.active_connections.into()),
            "down": col(&|s| ((s.down_bps / 1e5).round() / 10.0).into()),
            "broken": col(&|s| s.broken.iter().sum::<u32>().into()),
            "fault": fault,
            "missed": missed,
        }));
    }
    let unused: Vec<Vec<u32>> = (m.router_states.iter())
        .map(|r| {
            (r.routes_active.iter().zip(&m.route_lines))
                .filter(|(on, _)| !**on)
                .map(|(_, &line)| line)
                .collect()
        })
        .collect();
    let data = serde_json::json!({
        "t": times.iter().map(|&t| t as f64 / SEC as f64).collect::<Vec<_>>(),
        "names": wans,
        "wans": series,
        "unused": unused,
    });
    let _ = writeln!(
        out,
        "<div class=\"replay\" data-id=\"{id}\"><h3>The run replayed</h3>\n\
         <p class=\"sub\">Drag the slider (or press Home, End, PageUp, PageDown) to move through the \
         run; the routes in the diagram above dim while the router does not use them (another \
         route wins, or check-gateway found their gateway unreachable).</p>\n\
         <div class=\"scrub\"><input type=\"range\" min=\"0\" max=\"{}\" value=\"0\" \
         aria-label=\"time\"> <span class=\"clock\"></span></div>\n<div class=\"cards\"></div>",
        times.len() - 1
    );
    chart(out, id, v, wans, &times, end);
    let _ = writeln!(
        out,
        "<script type=\"application/json\" class=\"replay-data\">{}</script>",
        data.to_string().replace("</", "<\\/")
    );
    out.push_str("<ol class=\"events\">\n");
    for (t, text) in events(v, wans, &times) {
        let _ = writeln!(
            out,
            "<li data-at=\"{}\" data-sample=\"{}\"><b>{}</b> {}</li>",
            t as f64 / SEC as f64,
            at(t),
            clock(t),
            esc(&text)
        );
    }
    out.push_str("</ol></div>\n");
}

/// Open connections per WAN over the run, a strip per WAN for its time in and out of service,
/// the breaks as ticks, and the cursor the scrubber moves.
fn chart(out: &mut String, id: &str, v: &Variant, wans: &[String], times: &[Time], end: Time) {
    let m = &v.run.metrics;
    let strips = 16.0 * wans.len() as f64;
    // Below the strips, a band for the breaks.
    let band = PLOT + 28.0 + strips;
    let height = band + 24.0;
    let x = |t: Time| LEFT + (WIDTH - LEFT - 10.0) * t as f64 / end as f64;
    let peak = m
        .samples
        .iter()
        .map(|s| s.active_connections)
        .max()
        .unwrap_or(0)
        .max(1);
    let y = |n: u32| 10.0 + PLOT * (1.0 - f64::from(n) / f64::from(peak));
    let _ = write!(
        out,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\">\
         <text x=\"4\" y=\"14\" font-size=\"10\">{peak}</text><text x=\"4\" y=\"{}\" font-size=\"10\">0</text>\
         <text x=\"4\" y=\"{}\" font-size=\"10\">open</text>",
        PLOT + 10.0,
        PLOT / 2.0
    );
    for (w, _) in wans.iter().enumerate() {
        let points: Vec<String> = (m.samples.iter())
            .filter(|s| s.wan == w)
            .map(|s| format!("{:.1},{:.1}", x(s.time), y(s.active_connections)))
            .collect();
        let colour = COLOURS[w % COLOURS.len()];
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
    }
    // Breaks: a red bar per sample with any, as tall as their count (all WANs; capped).
    let _ = write!(
        out,
        "<text x=\"4\" y=\"{}\" font-size=\"10\">broke</text>",
        band + 18.0
    );
    let mut broke = vec![0u32; times.len()];
    for s in &m.samples {
        broke[times.partition_point(|&t| t < s.time)] += s.broken.iter().sum::<u32>();
    }
    for (&t, &n) in times.iter().zip(&broke).filter(|(_, n)| **n > 0) {
        let h = (f64::from(n) * 2.0).min(20.0);
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"3\" height=\"{h:.1}\" fill=\"#c00\"><title>{n} broke</title></rect>",
            x(t) - 1.5,
            band + 20.0 - h
        );
    }
    for (w, name) in wans.iter().enumerate() {
        let top = PLOT + 24.0 + 16.0 * w as f64;
        let _ = write!(
            out,
            "<text x=\"4\" y=\"{}\" font-size=\"10\">{}</text><rect x=\"{LEFT}\" y=\"{top}\" width=\"{}\" height=\"12\" fill=\"{}\"/>",
            top + 10.0,
            esc(name),
            WIDTH - LEFT - 10.0,
            COLOURS[w % COLOURS.len()]
        );
        // Out of service: from each change to out until the next change to in.
        let changes = m.service.get(w).map_or(&[][..], |c| &c[..]);
        let mut from = None;
        for &(t, up) in changes.iter().chain([&(end, true)]) {
            match (up, from) {
                (false, None) => from = Some(t),
                (true, Some(f)) => {
                    let _ = write!(
                        out,
                        "<rect x=\"{:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"12\" fill=\"#ddd\"/>",
                        x(f),
                        (x(t) - x(f)).max(1.0)
                    );
                    from = None;
                }
                _ => {}
            }
        }
    }
    let last = times.last().copied().unwrap_or(end);
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"{}\" font-size=\"10\">0:00</text><text x=\"{}\" y=\"{}\" font-size=\"10\" \
         text-anchor=\"end\">{}</text><line id=\"{id}-cursor\" class=\"cursor\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"4\" \
         y2=\"{height}\" stroke=\"#000\" stroke-width=\"1.5\" data-left=\"{LEFT}\" data-right=\"{}\" \
         data-end=\"{}\"/></svg>",
        PLOT + 20.0,
        WIDTH - 10.0,
        PLOT + 20.0,
        clock(last),
        WIDTH - 10.0,
        end as f64 / SEC as f64
    );
}

/// What happened, in order: the timeline's failures and repairs, check-gateway's probes that
/// went unanswered and the answers that ended them, routes the router stops and starts using,
/// WANs taken out of service and put back, and connections breaking, by cause.
fn events(v: &Variant, wans: &[String], times: &[Time]) -> Vec<(Time, String)> {
    let m = &v.run.metrics;
    let end = v.run.duration;
    let mut events: Vec<(Time, u8, String)> = Vec::new();
    let wan = |i: usize| wans.get(i).map_or("?", |s| s.as_str());
    for c in v.loaded.changes.iter().filter(|c| c.at <= end) {
        let isp = v
            .loaded
            .scenario
            .wans
            .get(c.wan)
            .map_or("?", |w| w.isp.as_str());
        let what = if c.down { "fails" } else { "is repaired" };
        events.push((
            c.at,
            0,
            format!(
                "{isp} ({}): the {} {what} (the scenario's timeline)",
                wan(c.wan),
                c.kind.name()
            ),
        ));
    }
    let gateway_of = |g: std::net::Ipv4Addr| {
        (v.loaded.scenario.wans.iter().enumerate())
            .find(|(_, w)| w.gateway == g)
            .map_or(String::new(), |(i, _)| format!(" ({})", wan(i)))
    };
    for p in &m.probes {
        let text = if p.answered {
            format!(
                "check-gateway: {}{} answers again: reachable, and the routes through it are active again{}",
                p.gateway,
                gateway_of(p.gateway),
                lines_through(v, p.gateway)
            )
        } else if p.misses == p.count {
            format!(
                "check-gateway: ping to {}{} missed ({} of {}): the gateway is unreachable, and every route through it goes inactive{}",
                p.gateway,
                gateway_of(p.gateway),
                p.misses,
                p.count,
                lines_through(v, p.gateway)
            )
        } else if p.misses < p.count {
            format!(
                "check-gateway: ping to {}{} missed ({} of {})",
                p.gateway,
                gateway_of(p.gateway),
                p.misses,
                p.count
            )
        } else {
            continue; // still unreachable: nothing new to tell
        };
        events.push((p.at, 1, text));
    }
    // Routes the router starts or stops using, seen at the samples: stamped with the last
    // probe verdict or service change before the sample that explains them, if there is one.
    let mut exact: Vec<Time> = (m.probes.iter())
        .filter(|p| p.answered || p.misses == p.count)
        .map(|p| p.at)
        .chain(m.service.iter().flatten().map(|&(t, _)| t))
        .collect();
    exact.sort_unstable();
    let mut before: Option<&Vec<bool>> = None;
    for (i, state) in m.router_states.iter().enumerate() {
        let t = times.get(i).copied().unwrap_or(end);
        let since = i
            .checked_sub(1)
            .and_then(|p| times.get(p))
            .copied()
            .unwrap_or(0);
        if let Some(prev) = before {
            let at = exact[..exact.partition_point(|&e| e <= t)]
                .last()
                .copied()
                .filter(|&e| e > since)
                .unwrap_or(t);
            for (k, (&was, &is)) in prev.iter().zip(&state.routes_active).enumerate() {
                if was != is {
                    let line = m.route_lines.get(k).copied().unwrap_or(0);
                    let how = if is { "now in use" } else { "no longer in use" };
                    events.push((at, 2, format!("route at line {line} is {how}")));
                }
            }
        }
        before = Some(&state.routes_active);
    }
    for (w, changes) in m.service.iter().enumerate() {
        for (k, &(t, up)) in changes.iter().enumerate() {
            if k == 0 && up && t == 0 {
                continue; // in service from the start
            }
            let text = if up {
                format!(
                    "{}: back in service — new connections of its share go to it again (failback)",
                    wan(w)
                )
            } else {
                format!(
                    "{}: out of service — no route through it is in use; its new connections go to the other WANs",
                    wan(w)
                )
            };
            events.push((t, 3, text));
        }
    }
    for s in &m.samples {
        for (k, &n) in s.broken.iter().enumerate().filter(|(_, n)| **n > 0) {
            let cause = Cause::ALL[k];
            events.push((
                s.time,
                4,
                format!(
                    "{n} connection{} on {} broke: {} — {}",
                    if n == 1 { "" } else { "s" },
                    wan(s.wan),
                    cause.name(),
                    cause.explain().0
                ),
            ));
        }
    }
    events.sort_by_key(|(t, order, _)| (*t, *order));
    events.into_iter().map(|(t, _, text)| (t, text)).collect()
}

/// ` (lines 37, 39)`: the configured routes through `gateway` that check it.
fn lines_through(v: &Variant, gateway: std::net::Ipv4Addr) -> String {
    let lines: Vec<String> = (v.loaded.config.routes.iter())
        .filter(|r| r.check_gateway.is_some() && r.line > 0)
        .filter(|r| {
            r.gateways
                .contains(&crate::router::routing::Gateway::Address(gateway))
        })
        .map(|r| r.line.to_string())
        .collect();
    match lines.len() {
        0 => String::new(),
        1 => format!(" (line {})", lines[0]),
        _ => format!(" (lines {})", lines.join(", ")),
    }
}

/// What the timeline has broken on WAN `w` at `t` (`""` if nothing): the truth the router
/// only learns through its checks.
fn fault(v: &Variant, w: usize, t: Time) -> String {
    let mut down: Vec<(&str, Time)> = Vec::new();
    for c in v.loaded.changes.iter().filter(|c| c.wan == w && c.at <= t) {
        down.retain(|(kind, _)| *kind != c.kind.name());
        if c.down {
            down.push((c.kind.name(), c.at));
        }
    }
    let parts: Vec<String> = (down.iter())
        .map(|(kind, at)| format!("{kind} failed at {}", clock(*at)))
        .collect();
    parts.join(", ")
}
