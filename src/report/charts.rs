//! Charts, drawn once for SVG and once for PNG from the same code. Text uses a font compiled
//! into the binary (DejaVu Sans), so no system font library is needed.

use super::Summary;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::units::SEC;
use plotters::coord::Shift;
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

/// Per-WAN throughput over time: downstream above, upstream below.
pub fn throughput(dir: &Path, summary: &Summary, metrics: &Metrics) -> Result<(), Error> {
    struct Draw<'a>(&'a Summary, &'a Metrics);
    impl Draw<'_> {
        fn on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
            let (summary, metrics) = (self.0, self.1);
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let title = format!("{}: throughput per WAN", summary.scenario);
            let root = root
                .titled(&title, ("sans-serif", 26))
                .map_err(|e| e.to_string())?;
            let panels = root.split_evenly((2, 1));
            let minutes = (summary.duration_s / 60.0).max(1.0 / 60.0);
            for (panel, down) in panels.iter().zip([true, false]) {
                let value =
                    |s: &crate::metrics::Sample| if down { s.down_bps } else { s.up_bps } / 1e6;
                let top = metrics.samples.iter().map(value).fold(1.0f64, f64::max) * 1.1;
                let caption = if down {
                    "download (ISP → router)"
                } else {
                    "upload (router → ISP)"
                };
                let mut chart = ChartBuilder::on(panel)
                    .caption(caption, ("sans-serif", 18))
                    .margin(12)
                    .x_label_area_size(36)
                    .y_label_area_size(60)
                    .build_cartesian_2d(0.0..minutes, 0.0..top)
                    .map_err(|e| e.to_string())?;
                chart
                    .configure_mesh()
                    .x_desc("minutes")
                    .y_desc("Mbit/s")
                    .label_style(("sans-serif", 14))
                    .draw()
                    .map_err(|e| e.to_string())?;
                for (i, w) in summary.wans.iter().enumerate() {
                    let color = Palette99::pick(i).to_rgba();
                    let points = metrics
                        .samples
                        .iter()
                        .filter(|s| s.wan == i)
                        .map(|s| (s.time as f64 / SEC as f64 / 60.0, value(s)));
                    chart
                        .draw_series(LineSeries::new(points, color.stroke_width(2)))
                        .map_err(|e| e.to_string())?
                        .label(format!("{} ({})", w.name, w.isp))
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 18, y)], color.stroke_width(3))
                        });
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 14))
                    .draw()
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
    }
    let d = Draw(summary, metrics);
    both_with(dir, "throughput", |a| d.on(a), |a| d.on(a))
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
            let title = format!("{}: share per WAN, configured vs measured", s.scenario);
            let mut chart = ChartBuilder::on(root)
                .caption(&title, ("sans-serif", 24))
                .margin(16)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..n as f64, 0.0..100.0)
                .map_err(|e| e.to_string())?;
            let names: Vec<String> = s.wans.iter().map(|w| w.name.clone()).collect();
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n * 2 + 1)
                .x_label_formatter(&|x| {
                    let i = x.floor() as usize;
                    if (x - i as f64 - 0.5).abs() < 0.01 {
                        names.get(i).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_desc("% of total")
                .label_style(("sans-serif", 15))
                .draw()
                .map_err(|e| e.to_string())?;
            let bars: [(&str, ShareOf); 4] = [
                ("configured", |w| w.configured_share),
                ("connections", |w| Some(w.connection_share)),
                ("address pairs", |w| Some(w.address_pair_share)),
                ("bytes", |w| Some(w.byte_share)),
            ];
            let width = 0.8 / bars.len() as f64;
            for (b, (label, get)) in bars.iter().enumerate() {
                let color = Palette99::pick(b + 4).to_rgba();
                let rects = s.wans.iter().enumerate().filter_map(|(i, w)| {
                    let v = get(w)? * 100.0;
                    let x0 = i as f64 + 0.1 + b as f64 * width;
                    Some(Rectangle::new(
                        [(x0, 0.0), (x0 + width * 0.92, v)],
                        color.filled(),
                    ))
                });
                chart
                    .draw_series(rects)
                    .map_err(|e| e.to_string())?
                    .label(*label)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 15))
                .draw()
                .map_err(|e| e.to_string())?;
            Ok(())
        }
    }
    let d = Draw(summary);
    both_with(dir, "shares", |a| d.on(a), |a| d.on(a))
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
