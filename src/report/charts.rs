//! Charts, drawn once for SVG and once for PNG from the same code. Text uses a font compiled
//! into the binary (DejaVu Sans), so no system font library is needed.

use super::Summary;
use crate::compare::stats::Estimate;
use crate::error::Error;
use crate::units::SEC;
use crate::world::flow::Cause;
use crate::world::metrics::{Metrics, Sample};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

const FONT: &[u8] = include_bytes!("DejaVuSans.ttf");
const SIZE: (u32, u32) = (1100, 720);

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped with the source; failure is impossible.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("could not draw chart: {e}"))
}

/// One line of a time-series panel: its legend, colour and (minutes, value) points.
struct Line {
    label: String,
    color: RGBAColor,
    points: Vec<(f64, f64)>,
    /// A level rather than a measurement (a link's capacity): drawn dashed, without a legend.
    dashed: bool,
}

/// Okabe and Ito's palette, which readers with any common colour-vision deficiency can tell
/// apart; a WAN keeps its colour in every chart.
const OKABE_ITO: [(u8, u8, u8); 7] = [
    (0, 114, 178),
    (230, 159, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (213, 94, 0),
    (240, 228, 66),
];

fn wan_color(i: usize) -> RGBAColor {
    let (r, g, b) = OKABE_ITO[i % OKABE_ITO.len()];
    RGBColor(r, g, b).to_rgba()
}

/// Minutes since the start of a sample's interval end.
fn minutes(s: &Sample) -> f64 {
    s.time as f64 / SEC as f64 / 60.0
}

/// One line per WAN of a value read off each sample.
fn per_wan(
    summary: &Summary,
    metrics: &Metrics,
    value: impl Fn(&Sample) -> Option<f64>,
) -> Vec<Line> {
    summary
        .wans
        .iter()
        .enumerate()
        .map(|(i, w)| Line {
            label: format!("{} ({})", w.name, w.isp),
            color: wan_color(i),
            points: metrics
                .samples
                .iter()
                .filter(|s| s.wan == i)
                .filter_map(|s| Some((minutes(s), value(s)?)))
                .collect(),
            dashed: false,
        })
        .collect()
}

/// A panel of lines over the run's minutes, its legend beside it. A `%` panel's axis runs to
/// 100; a count's labels are whole numbers.
fn line_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    caption: &str,
    unit: &str,
    duration_min: f64,
    lines: &[Line],
) -> Result<(), String> {
    let peak = (lines.iter())
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let counts = matches!(unit, "connections" | "packets");
    let top = match unit {
        "%" => (peak * 1.05).max(100.0),
        _ if counts => (peak * 1.1).max(4.0).ceil(),
        _ => (peak * 1.1).max(1.0),
    };
    let (plot, legend) = panel.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&plot)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..duration_min, 0.0..top)
        .map_err(|e| e.to_string())?;
    let whole = |y: &f64| {
        if (y - y.round()).abs() < 1e-9 {
            format!("{y:.0}")
        } else {
            String::new()
        }
    };
    let plain = |y: &f64| {
        if top >= 10.0 {
            format!("{y:.0}")
        } else {
            format!("{y:.1}")
        }
    };
    chart
        .configure_mesh()
        .x_desc(if duration_min >= 5.0 {
            "minutes"
        } else {
            "m:ss"
        })
        .x_label_formatter(&|m| clock(*m, duration_min))
        .y_desc(unit)
        .y_label_formatter(if counts { &whole } else { &plain })
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    for l in lines {
        let color = l.color;
        if l.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    l.points.iter().copied(),
                    8,
                    6,
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
            continue;
        }
        chart
            .draw_series(LineSeries::new(
                l.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        entries.push((l.label.clone(), color, true));
    }
    side_legend(&legend, &entries)
}

/// Titled panels stacked top to bottom, each a set of lines.
fn panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    duration_s: f64,
    content: &[(String, &str, Vec<Line>)],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root
        .titled(title, ("sans-serif", 26))
        .map_err(|e| e.to_string())?;
    let duration_min = (duration_s / 60.0).max(1.0 / 60.0);
    let areas = root.split_evenly((content.len(), 1));
    for (area, (caption, unit, lines)) in areas.iter().zip(content) {
        line_panel(area, caption, unit, duration_min, lines)?;
    }
    Ok(())
}

/// Per-WAN throughput over time as a share of each link's capacity, downstream above,
/// upstream below: every link's capacity is the same 100 % line, however unlike the links.
pub fn throughput(dir: &Path, summary: &Summary, metrics: &Metrics) -> Result<(), Error> {
    let of = |bps: fn(&Sample) -> f64, cap: fn(&super::WanSummary) -> u64| {
        let mut lines = per_wan(summary, metrics, |_| None);
        for (i, (l, w)) in lines.iter_mut().zip(&summary.wans).enumerate() {
            let c = cap(w).max(1) as f64;
            l.label = format!("{}, {:.0} Mbit/s", l.label, c / 1e6);
            l.points = (metrics.samples.iter())
                .filter(|s| s.wan == i)
                .map(|s| (minutes(s), bps(s) / c * 100.0))
                .collect();
        }
        lines
    };
    let content = [
        (
            "download (ISP → router), % of each link's capacity".to_string(),
            "%",
            of(|s| s.down_bps, |w| w.capacity_down_bps),
        ),
        (
            "upload (router → ISP), % of each link's capacity".to_string(),
            "%",
            of(|s| s.up_bps, |w| w.capacity_up_bps),
        ),
    ];
    let title = format!("{}: throughput per WAN", summary.scenario);
    let draw_svg =
        |a: &DrawingArea<SVGBackend, Shift>| panels(a, &title, summary.duration_s, &content);
    let draw_png =
        |a: &DrawingArea<BitMapBackend, Shift>| panels(a, &title, summary.duration_s, &content);
    both_with(dir, "throughput", draw_svg, draw_png)
}

/// What went wrong over time: broken connections by cause, queue drops and TCP's RTT per WAN.
pub fn health(dir: &Path, summary: &Summary, metrics: &Metrics) -> Result<(), Error> {
    let interval_s = metrics
        .samples
        .iter()
        .find(|s| s.wan == 0)
        .map_or(1.0, |s| s.time as f64 / SEC as f64);
    let causes: Vec<Line> = Cause::ALL
        .iter()
        .enumerate()
        .filter(|(c, _)| metrics.samples.iter().any(|s| s.broken[*c] > 0))
        .map(|(c, cause)| {
            let mut points: Vec<(f64, f64)> = Vec::new();
            for s in &metrics.samples {
                match points.last_mut() {
                    Some(p) if p.0 == minutes(s) => p.1 += f64::from(s.broken[c]),
                    _ => points.push((minutes(s), f64::from(s.broken[c]))),
                }
            }
            Line {
                label: cause.name().to_string(),
                color: Palette99::pick(c + 10).to_rgba(),
                points,
                dashed: false,
            }
        })
        .collect();
    let broken = if causes.is_empty() {
        "broken connections: none".to_string()
    } else {
        format!("broken connections per {interval_s:.0} s, by cause (all WANs)")
    };
    let content = [
        (broken, "connections", causes),
        (
            format!("packets dropped by full queues per {interval_s:.0} s"),
            "packets",
            per_wan(summary, metrics, |s| Some(s.queue_drops as f64)),
        ),
        (
            "mean round-trip time measured by TCP".to_string(),
            "ms",
            per_wan(summary, metrics, |s| Some(s.mean_rtt? as f64 / 1e6)),
        ),
    ];
    let title = format!(
        "{}: broken connections, queue drops and RTT",
        summary.scenario
    );
    let draw_svg =
        |a: &DrawingArea<SVGBackend, Shift>| panels(a, &title, summary.duration_s, &content);
    let draw_png =
        |a: &DrawingArea<BitMapBackend, Shift>| panels(a, &title, summary.duration_s, &content);
    both_with(dir, "health", draw_svg, draw_png)
}

/// Room for the left-hand labels of the failover chart's panels, the same for each so their
/// time axes line up.
const LABEL_AREA: u32 = 120;

/// The failover story: per-WAN download with each failure shaded (its detection and failback
/// marked), whether the router forwards by each WAN and each netwatch host's status as lanes,
/// and broken connections per interval as bars on the same time axis.
pub fn failover(dir: &Path, summary: &Summary, metrics: &Metrics) -> Result<(), Error> {
    struct Draw<'a>(&'a Summary, &'a Metrics);
    impl Draw<'_> {
        fn on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
            let (s, m) = (self.0, self.1);
            let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
            root.fill(&WHITE).map_err(e)?;
            let title = format!(
                "{}: failures, the router's reaction and the sessions that paid",
                s.scenario
            );
            let root = root.titled(&title, ("sans-serif", 24)).map_err(e)?;
            let height = root.dim_in_pixel().1 as i32;
            let (top, rest) = root.split_vertically(height * 11 / 20);
            let (lanes, breaks) = rest.split_vertically(height * 5 / 20);
            let span = (s.duration_s / 60.0).max(1.0 / 60.0);
            let mins = |t: f64| t / 60.0;

            // Throughput, with failure windows shaded.
            let lines = per_wan(s, m, |x| Some(x.down_bps / 1e6));
            let peak = lines
                .iter()
                .flat_map(|l| l.points.iter().map(|p| p.1))
                .fold(1.0f64, f64::max)
                * 1.15;
            let mut chart = ChartBuilder::on(&top)
                .caption("download per WAN; shaded: a failure, from the timeline's failure to its repair", ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(LABEL_AREA)
                .build_cartesian_2d(0.0..span, 0.0..peak)
                .map_err(|x| x.to_string())?;
            chart
                .configure_mesh()
                .x_desc(if span >= 5.0 { "minutes" } else { "m:ss" })
                .x_label_formatter(&|m| clock(*m, span))
                .y_desc("Mbit/s")
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|x| x.to_string())?;
            let mut placed = Vec::new();
            for f in &s.failover {
                let wan = s.wans.iter().position(|w| w.name == f.wan).unwrap_or(0);
                let end = f.recovered_at_s.unwrap_or(s.duration_s);
                let color = wan_color(wan);
                chart
                    .draw_series([Rectangle::new(
                        [(mins(f.failed_at_s), 0.0), (mins(end), peak)],
                        color.mix(0.12).filled(),
                    )])
                    .map_err(|x| x.to_string())?;
                let marks = [
                    (f.detected_at_s, "detected"),
                    (f.failback_at_s, "used again"),
                ];
                for (t, label) in marks {
                    if let Some(t) = t {
                        let x = mins(t);
                        // A label goes on the highest row where no label sits close by.
                        let row = (0..)
                            .find(|&r| {
                                !placed.iter().any(|&(px, pr): &(f64, usize)| {
                                    pr == r && (px - x).abs() < span * 0.14
                                })
                            })
                            .unwrap_or(0);
                        placed.push((x, row));
                        chart
                            .draw_series([PathElement::new(
                                [(x, 0.0), (x, peak)],
                                color.stroke_width(2),
                            )])
                            .map_err(|x| x.to_string())?;
                        chart
                            .draw_series([Text::new(
                                format!("{} {label}", f.wan),
                                // Just right of the line, so the line does not cover it.
                                (x + span * 0.004, peak * (0.97 - 0.07 * row as f64)),
                                ("sans-serif", 13),
                            )])
                            .map_err(|x| x.to_string())?;
                    }
                }
            }
            for l in &lines {
                let color = l.color;
                chart
                    .draw_series(LineSeries::new(
                        l.points.iter().copied(),
                        color.stroke_width(2),
                    ))
                    .map_err(|x| x.to_string())?
                    .label(l.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 18, y)], color.stroke_width(3))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|x| x.to_string())?;

            // Lanes: per WAN, whether the router forwards by it; then each netwatch host's
            // status. Drawn from the exact times of each change, so a flap shorter than a
            // sample shows (at least a hair wide).
            let mut names: Vec<String> = s.wans.iter().map(|w| w.name.clone()).collect();
            names.extend(m.netwatch.iter().map(|w| format!("netwatch {}", w.host)));
            let n = names.len();
            let mut lane = ChartBuilder::on(&lanes)
                .caption(
                    "state — WAN: the router forwards by it (green) or took it out (red); netwatch host: up, down, unknown (grey)",
                    ("sans-serif", 16),
                )
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(LABEL_AREA)
                .build_cartesian_2d(0.0..span, 0.0..n as f64)
                .map_err(|x| x.to_string())?;
            lane.configure_mesh()
                .disable_mesh()
                .y_labels(n * 2 + 1)
                .y_label_formatter(&|y| {
                    let i = y.floor() as usize;
                    if (y - i as f64 - 0.5).abs() < 0.01 {
                        names.get(i).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .x_desc(if span >= 5.0 { "minutes" } else { "m:ss" })
                .x_label_formatter(&|m| clock(*m, span))
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|x| x.to_string())?;
            let hair = span * 0.002;
            let mut spans = Vec::new();
            let mut lane_spans = |row: usize, changes: Vec<(f64, Option<bool>)>| {
                for (k, &(from, state)) in changes.iter().enumerate() {
                    let to = changes.get(k + 1).map_or(span, |c| c.0).max(from + hair);
                    let color = match state {
                        Some(true) => GREEN.mix(0.6),
                        Some(false) => RED.mix(0.8),
                        None => BLACK.mix(0.25),
                    };
                    let row = row as f64;
                    spans.push(Rectangle::new(
                        [(from, row + 0.2), (to, row + 0.8)],
                        color.filled(),
                    ));
                }
            };
            let secs = |t: crate::units::Time| mins(t as f64 / SEC as f64);
            for (w, changes) in m.service.iter().enumerate() {
                lane_spans(
                    w,
                    changes.iter().map(|&(t, up)| (secs(t), Some(up))).collect(),
                );
            }
            for (k, log) in m.netwatch.iter().enumerate() {
                let mut changes = vec![(0.0, None)];
                changes.extend(log.changes.iter().map(|&(t, up, _)| (secs(t), Some(up))));
                lane_spans(s.wans.len() + k, changes);
            }
            lane.draw_series(spans).map_err(|x| x.to_string())?;
            let interval = m
                .samples
                .iter()
                .find(|x| x.wan == 0)
                .map_or(1.0, |x| x.time as f64 / SEC as f64)
                / 60.0;

            // Breaks per interval, all causes.
            let mut per_interval: Vec<(f64, u32)> = Vec::new();
            for x in &m.samples {
                let n: u32 = x.broken.iter().sum();
                match per_interval.last_mut() {
                    Some(p) if p.0 == minutes(x) => p.1 += n,
                    _ => per_interval.push((minutes(x), n)),
                }
            }
            let most = per_interval.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64 * 1.15;
            let mut b = ChartBuilder::on(&breaks)
                .caption(
                    "connections broken per interval (all causes)",
                    ("sans-serif", 16),
                )
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(LABEL_AREA)
                .build_cartesian_2d(0.0..span, 0.0..most)
                .map_err(|x| x.to_string())?;
            // Whole connections: integer ticks only.
            let ticks = (most as usize).clamp(1, 5) + 1;
            b.configure_mesh()
                .x_desc(if span >= 5.0 { "minutes" } else { "m:ss" })
                .x_label_formatter(&|m| clock(*m, span))
                .y_desc("broken")
                .y_labels(ticks)
                .y_label_formatter(&|y| {
                    if (y - y.round()).abs() < 1e-9 {
                        format!("{y:.0}")
                    } else {
                        String::new()
                    }
                })
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|x| x.to_string())?;
            let rects = per_interval.iter().filter(|p| p.1 > 0).map(|&(t, n)| {
                Rectangle::new(
                    [((t - interval).max(0.0), 0.0), (t, f64::from(n))],
                    RED.filled(),
                )
            });
            b.draw_series(rects).map_err(|x| x.to_string())?;
            Ok(())
        }
    }
    let d = Draw(summary, metrics);
    both_with(dir, "failover", |a| d.on(a), |a| d.on(a))
}

/// Reads one kind of share off a WAN's summary.
type ShareOf = fn(&super::WanSummary) -> Option<f64>;

/// Per WAN: the configured share, the share of connections, of address pairs and of bytes.
pub fn shares(dir: &Path, summary: &Summary) -> Result<(), Error> {
    struct Draw<'a>(&'a Summary);
    impl Draw<'_> {
        fn on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
            let s = self.0;
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let n = s.wans.len();
            let broken = super::share(s.connections.broken, s.connections.total);
            let title = if broken > 0.0 {
                format!(
                    "{}: share per WAN, configured vs measured — {:.1}% of connections broke",
                    s.scenario,
                    broken * 100.0
                )
            } else {
                format!("{}: share per WAN, configured vs measured", s.scenario)
            };
            let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
            let mut chart = ChartBuilder::on(&plot)
                .caption(&title, ("sans-serif", 22))
                .margin(16)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..n as f64, 0.0..100.0)
                .map_err(|e| e.to_string())?;
            let names: Vec<String> = s.wans.iter().map(|w| w.name.clone()).collect();
            category_axis(&mut chart, &names, "% of total", 15)?;
            let bars: [(&str, ShareOf); 5] = [
                ("configured", |w| w.configured_share),
                ("connections", |w| Some(w.connection_share)),
                ("address pairs", |w| Some(w.address_pair_share)),
                ("bytes", |w| Some(w.byte_share)),
                ("broken (of its connections)", |w| {
                    Some(super::share(w.broken, w.connections))
                }),
            ];
            let width = 0.8 / bars.len() as f64;
            let mut entries = Vec::new();
            for (b, (label, get)) in bars.iter().enumerate() {
                let color = if b == bars.len() - 1 {
                    RED.to_rgba()
                } else {
                    Palette99::pick(b + 4).to_rgba()
                };
                let rects = s.wans.iter().enumerate().filter_map(|(i, w)| {
                    let v = get(w)? * 100.0;
                    let x0 = i as f64 + 0.1 + b as f64 * width;
                    Some(Rectangle::new(
                        [(x0, 0.0), (x0 + width * 0.92, v)],
                        color.filled(),
                    ))
                });
                chart.draw_series(rects).map_err(|e| e.to_string())?;
                entries.push((label.to_string(), color, false));
            }
            side_legend(&legend, &entries)
        }
    }
    let d = Draw(summary);
    both_with(dir, "shares", |a| d.on(a), |a| d.on(a))
}

/// Width of the legend column beside a plot, so a legend never covers data and no axis needs
/// headroom for it.
const LEGEND_WIDTH: u32 = 190;

/// A legend in its own column: a swatch (a square, or a line for a line series) and a label
/// per entry, top down.
fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBAColor, bool)],
) -> Result<(), String> {
    for (i, (label, color, line)) in entries.iter().enumerate() {
        let y = 50 + i as i32 * 22;
        if *line {
            area.draw(&PathElement::new([(4, y), (20, y)], color.stroke_width(3)))
        } else {
            area.draw(&Rectangle::new([(4, y - 7), (18, y + 7)], color.filled()))
        }
        .map_err(|e| e.to_string())?;
        area.draw(&Text::new(label.clone(), (26, y - 8), ("sans-serif", 14)))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A time axis in minutes as people read it: whole minutes, or m:ss for a short run.
fn clock(minutes: f64, span: f64) -> String {
    if span >= 5.0 {
        format!("{minutes:.0}")
    } else {
        let secs = (minutes * 60.0).round() as u64;
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// The mesh of a bar chart whose x axis is categories, one per unit, named under its middle.
fn category_axis<DB: DrawingBackend>(
    chart: &mut ChartContext<DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    names: &[String],
    unit: &str,
    font: u32,
) -> Result<(), String> {
    let top = chart.y_range().end;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 0.01 {
                names.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(unit)
        .y_label_formatter(&|y| {
            if top >= 10.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.1}")
            }
        })
        .label_style(("sans-serif", font))
        .draw()
        .map_err(|e| e.to_string())
}

/// Draws the same chart into `NAME.svg` and `NAME.png`.
fn both_with(
    dir: &Path,
    name: &str,
    svg: impl Fn(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
    png: impl Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<(), String>,
) -> Result<(), Error> {
    register_font();
    let path = dir.join(format!("{name}.svg"));
    let area = SVGBackend::new(&path, SIZE).into_drawing_area();
    svg(&area).map_err(chart_error)?;
    area.present().map_err(chart_error)?;
    drop(area);
    let path = dir.join(format!("{name}.png"));
    let area = BitMapBackend::new(&path, SIZE).into_drawing_area();
    png(&area).map_err(chart_error)?;
    area.present().map_err(chart_error)?;
    Ok(())
}

/// `comparison`: per variant, each WAN's share of the bytes with its 95 % interval against the
/// lines' capacity split (a dashed level per WAN); below, the share of connections that broke.
pub fn comparison(dir: &Path, c: &crate::compare::Comparison) -> Result<(), Error> {
    struct Draw<'a>(&'a crate::compare::Comparison);
    impl Draw<'_> {
        fn on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
            let c = self.0;
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let wans = &c.wans;
            let (top, bottom) = root.split_vertically(SIZE.1 * 3 / 5);
            let groups: Vec<Vec<Option<Estimate>>> = (c.variants.iter())
                .map(|v| {
                    (wans.iter())
                        .map(|w| v.metrics.get(&format!("byte_share.{w}")).copied())
                        .collect()
                })
                .collect();
            // A WAN keeps the colour it has in the run's charts: its place in the scenario.
            let colors: Vec<RGBAColor> = (0..wans.len()).map(wan_color).collect();
            let levels: Vec<Option<f64>> = c.capacity_split.clone();
            grouped_bars(
                &top,
                &format!(
                    "{}: share of bytes per WAN (95% interval); dashed: the lines' split",
                    c.scenario
                ),
                &c.variants,
                &groups,
                wans,
                &colors,
                Some(&levels),
            )?;
            let broken: Vec<Vec<Option<Estimate>>> = (c.variants.iter())
                .map(|v| vec![v.metrics.get("broken_share").copied()])
                .collect();
            grouped_bars(
                &bottom,
                "connections broken",
                &c.variants,
                &broken,
                &["broken".to_string()],
                &[RED.to_rgba()],
                None,
            )
        }
    }
    let d = Draw(c);
    both_with(dir, "comparison", |a| d.on(a), |a| d.on(a))
}

/// Bars grouped by variant, one per series, each with its 95 % whisker, in percent; `levels`
/// draws a dashed line per series (a target). A share's axis ends at 100 %; the legend sits
/// outside the plot, so it covers no bar.
fn grouped_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    variants: &[crate::compare::VariantResult],
    groups: &[Vec<Option<Estimate>>],
    series: &[String],
    colors: &[RGBAColor],
    levels: Option<&[Option<f64>]>,
) -> Result<(), String> {
    let n = variants.len().max(1);
    let highest = (groups.iter().flatten().flatten())
        .map(|e| e.ci95_high.unwrap_or(e.mean))
        .chain(levels.into_iter().flatten().flatten().copied())
        .fold(0.0f64, f64::max);
    let top = (highest * 100.0 * 1.1).clamp(1.0, 100.0);
    let (plot, legend) = area.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&plot)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..n as f64, 0.0..top)
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = variants.iter().map(|v| v.label.clone()).collect();
    category_axis(&mut chart, &names, "%", 13)?;
    let width = 0.8 / series.len().max(1) as f64;
    for (s, _) in series.iter().enumerate() {
        let color = colors[s % colors.len()];
        let bars: Vec<(f64, Estimate)> = (groups.iter().enumerate())
            .filter_map(|(g, row)| {
                let e = row.get(s).copied().flatten()?;
                Some((g as f64 + 0.1 + s as f64 * width, e))
            })
            .collect();
        chart
            .draw_series(bars.iter().map(|(x0, e)| {
                Rectangle::new(
                    [(*x0, 0.0), (x0 + width * 0.9, e.mean * 100.0)],
                    color.filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(bars.iter().filter_map(|(x0, e)| {
                let x = x0 + width * 0.45;
                let (lo, hi) = (e.ci95_low?, e.ci95_high?);
                Some(PathElement::new(
                    [(x, lo * 100.0), (x, hi * 100.0)],
                    BLACK.stroke_width(2),
                ))
            }))
            .map_err(|e| e.to_string())?;
        if let Some(level) = levels.and_then(|l| l.get(s).copied().flatten()) {
            let y = level * 100.0;
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, y), (n as f64, y)],
                    8,
                    5,
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
        }
    }
    let entries: Vec<(String, RGBAColor, bool)> = (series.iter().enumerate())
        .map(|(s, label)| (label.clone(), colors[s % colors.len()], false))
        .collect();
    side_legend(&legend, &entries)
}

/// `differences`: a forest plot, one panel per key metric, each variant's difference from the
/// baseline seed by seed — the mean, its 95 % interval, zero marked — green where clearly
/// better, red where clearly worse, grey where the seeds cannot tell.
pub fn differences(dir: &Path, c: &crate::compare::Comparison) -> Result<(), Error> {
    use super::compare::{Unit, better, describe};
    let others: Vec<&crate::compare::VariantResult> = c
        .variants
        .iter()
        .filter(|v| v.label != c.baseline)
        .collect();
    let metrics: Vec<String> = super::compare::columns(c)
        .into_iter()
        .filter(|k| k != "peak_utilisation")
        .filter(|k| others.iter().any(|v| v.versus_baseline.contains_key(k)))
        .take(8)
        .collect();
    struct Draw<'a> {
        c: &'a crate::compare::Comparison,
        others: Vec<&'a crate::compare::VariantResult>,
        metrics: Vec<String>,
    }
    impl Draw<'_> {
        fn on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let title = format!(
                "{}: each variant minus {} on the same seeds (95% interval)",
                self.c.scenario, self.c.baseline
            );
            let root = root
                .titled(&title, ("sans-serif", 20))
                .map_err(|e| e.to_string())?;
            if self.others.is_empty() || self.metrics.is_empty() {
                root.draw(&Text::new(
                    "one variant only: nothing to compare with the baseline",
                    (40, 60),
                    ("sans-serif", 16),
                ))
                .map_err(|e| e.to_string())?;
                return Ok(());
            }
            let cols = if self.metrics.len() > 1 { 2 } else { 1 };
            let rows = self.metrics.len().div_ceil(cols);
            let panels = root.split_evenly((rows, cols));
            let names: Vec<String> = self.others.iter().map(|v| v.label.clone()).collect();
            for (metric, panel) in self.metrics.iter().zip(panels.iter()) {
                let m = describe(metric);
                let scale = if m.unit == Unit::Percent { 100.0 } else { 1.0 };
                let unit = match m.unit {
                    Unit::Percent => "points",
                    Unit::Millis => "ms",
                    Unit::Count => "connections",
                    Unit::Mos => "MOS",
                    Unit::Mbps => "Mbit/s",
                    Unit::Index => "index",
                };
                let diffs: Vec<Option<&crate::compare::stats::Difference>> = (self.others.iter())
                    .map(|v| v.versus_baseline.get(metric))
                    .collect();
                let (lo, hi) = (diffs.iter().flatten()).fold((0.0f64, 0.0f64), |(lo, hi), d| {
                    let (l, h) = (d.ci95_low.unwrap_or(d.mean), d.ci95_high.unwrap_or(d.mean));
                    (lo.min(l * scale), hi.max(h * scale))
                });
                let pad = ((hi - lo) * 0.12).max(1e-6);
                let n = names.len();
                let mut chart = ChartBuilder::on(panel)
                    .caption(format!("{} ({unit})", m.name), ("sans-serif", 15))
                    .margin(10)
                    .x_label_area_size(26)
                    .y_label_area_size(150)
                    .build_cartesian_2d((lo - pad)..(hi + pad), -0.5..(n as f64 - 0.5))
                    .map_err(|e| e.to_string())?;
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .y_labels(n * 2 + 1)
                    .y_label_formatter(&|y| {
                        let i = y.round();
                        if (y - i).abs() < 0.01 && i >= 0.0 {
                            names.get(n - 1 - i as usize).cloned().unwrap_or_default()
                        } else {
                            String::new()
                        }
                    })
                    .x_labels(5)
                    .x_label_formatter(&|x| {
                        let span = hi - lo;
                        if span >= 20.0 {
                            format!("{x:.0}")
                        } else {
                            format!("{x:.1}")
                        }
                    })
                    .label_style(("sans-serif", 12))
                    .draw()
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        [(0.0, -0.5), (0.0, n as f64 - 0.5)],
                        BLACK.stroke_width(1),
                    )))
                    .map_err(|e| e.to_string())?;
                for (i, d) in diffs.iter().enumerate() {
                    let Some(d) = d else { continue };
                    let y = (n - 1 - i) as f64;
                    let color = if !d.clear {
                        RGBColor(130, 130, 130)
                    } else if better(metric, d) {
                        RGBColor(0, 140, 80)
                    } else {
                        RGBColor(200, 30, 30)
                    };
                    if let (Some(l), Some(h)) = (d.ci95_low, d.ci95_high) {
                        chart
                            .draw_series(std::iter::once(PathElement::new(
                                [(l * scale, y), (h * scale, y)],
                                color.stroke_width(3),
                            )))
                            .map_err(|e| e.to_string())?;
                    }
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (d.mean * scale, y),
                            5,
                            color.filled(),
                        )))
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        }
    }
    let d = Draw { c, others, metrics };
    both_with(dir, "differences", |a| d.on(a), |a| d.on(a))
}

/// `apps`: per application, its bytes by the WAN they left by, as one bar of 100 %: whether
/// an app is pinned, spread, or stuck on one line.
pub fn apps(dir: &Path, summary: &Summary) -> Result<(), Error> {
    struct Draw<'a>(&'a Summary);
    impl Draw<'_> {
        fn on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
            let s = self.0;
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let apps: Vec<&super::AppSummary> = (s.apps.iter())
                .filter(|a| a.per_wan.iter().any(|u| u.connections > 0))
                .collect();
            let names: Vec<String> = apps.iter().map(|a| a.name.clone()).collect();
            let n = names.len().max(1);
            let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
            let mut chart = ChartBuilder::on(&plot)
                .caption(
                    format!("{}: each application's bytes by WAN", s.scenario),
                    ("sans-serif", 20),
                )
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..n as f64, 0.0..100.0)
                .map_err(|e| e.to_string())?;
            category_axis(&mut chart, &names, "% of the app's bytes", 13)?;
            for (i, a) in apps.iter().enumerate() {
                let mut base = 0.0;
                for (w, u) in a.per_wan.iter().enumerate() {
                    let top = base + u.byte_share * 100.0;
                    let x = i as f64;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x + 0.15, base), (x + 0.85, top)],
                            wan_color(w).filled(),
                        )))
                        .map_err(|e| e.to_string())?;
                    base = top;
                }
            }
            let entries: Vec<(String, RGBAColor, bool)> = (s.wans.iter().enumerate())
                .map(|(w, wan)| (format!("{} ({})", wan.name, wan.isp), wan_color(w), false))
                .collect();
            side_legend(&legend, &entries)
        }
    }
    let d = Draw(summary);
    both_with(dir, "apps", |a| d.on(a), |a| d.on(a))
}
