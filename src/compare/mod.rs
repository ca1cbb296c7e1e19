//! `pccsim compare` and `pccsim sweep`: one scenario, several variants of its router
//! configuration, the same traffic and seeds for each, and every metric as a mean with a 95 %
//! interval over the seeds.
//!
//! A [`Grid`] names the variants (classifiers × weights × FastTrack × alternative
//! configurations); a [`Plan`] holds them, rewritten ([`variant`]), with the seeds. Its jobs —
//! one run per variant and seed — are independent, so they run in parallel (rayon), and in a
//! fixed order, so the result does not depend on how many threads ran them. A job's result is
//! a flat map of metric names to numbers; [`aggregate`] turns the jobs of every variant into a
//! [`Comparison`]. Jobs can also be split into shards on several machines and merged: the
//! shard files carry the plan's description and the raw per-job numbers, so a merge computes
//! exactly what one unsharded run does.

pub mod stats;
mod variant;

pub use variant::{Spread, Weights};

use crate::error::Error;
use crate::report::Summary;
use crate::scenario::Loaded;
use crate::units::{SEC, Time};
use crate::world::builder::WorldBuilder;
use crate::world::flow::Cause;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stats::Estimate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The variants to compare: every combination of the values given. An empty axis leaves the
/// configuration as it is on that count.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    #[serde(default)]
    pub classifiers: Vec<String>,
    #[serde(default)]
    pub weights: Vec<String>,
    #[serde(default)]
    pub fasttrack: Vec<bool>,
    /// Whole alternative configurations (`.rsc`), instead of the scenario's own.
    #[serde(default)]
    pub configs: Vec<PathBuf>,
}

/// A sweep file: a scenario, the seeds, and the grid of variants.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The scenario file, relative to the sweep file.
    pub scenario: PathBuf,
    /// How many seeds, from the scenario's own upwards.
    #[serde(default = "default_seeds")]
    pub seeds: u32,
    /// Simulate this long instead of the scenario's duration (0, the default: the scenario's).
    #[serde(default)]
    pub duration: crate::units::Duration,
    /// The grid; its `configs` are relative to the sweep file.
    pub variants: Grid,
}

fn default_seeds() -> u32 {
    5
}

/// Most seeds a comparison runs per variant.
pub const MAX_SEEDS: u32 = 10_000;

impl Sweep {
    /// Reads a sweep file; paths in it become relative to the working directory.
    pub fn load(path: &Path) -> Result<Sweep, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut sweep: Sweep = crate::scenario::from_ron(&path.display().to_string(), &text)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        sweep.scenario = dir.join(&sweep.scenario);
        for c in &mut sweep.variants.configs {
            *c = dir.join(&*c);
        }
        if sweep.seeds == 0 || sweep.seeds > MAX_SEEDS {
            let msg = format!("{}: seeds must be 1 to {MAX_SEEDS}", path.display());
            return Err(Error::Invalid(msg));
        }
        Ok(sweep)
    }
}

/// One variant: its label, what it rewrote, and the world it runs in.
pub struct Variant {
    pub label: String,
    /// The classifier it uses (`as configured` when the grid left it alone).
    pub classifier: String,
    pub rewrites: Vec<String>,
    pub loaded: Loaded,
}

pub struct Plan {
    pub sources: crate::report::Sources,
    pub variants: Vec<Variant>,
    pub seeds: Vec<u64>,
    pub duration: Time,
    /// Per WAN (scenario order), the share of connections the scenario's own configuration asks
    /// for: the target for variants whose rules say none (ECMP).
    target: Vec<Option<f64>>,
}

/// A shard: the jobs whose index is `index − 1` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// `I/N`, 1 ≤ I ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not a shard I/N with 1 ≤ I ≤ N (e.g. 3/8)");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    fn holds(&self, job: usize) -> bool {
        job % self.count as usize == (self.index - 1) as usize
    }
}

/// What one run of one variant measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub job: usize,
    pub variant: usize,
    pub seed: u64,
    pub metrics: BTreeMap<String, f64>,
}

/// The plan as files record it: enough to aggregate results without the scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub scenario: String,
    /// The scenario and the configuration the variants were made from, for the report.
    pub sources: crate::report::Sources,
    pub duration_s: f64,
    pub seeds: Vec<u64>,
    /// The WANs by their ISP names, in the scenario's order.
    pub wans: Vec<String>,
    pub variants: Vec<VariantMeta>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantMeta {
    pub label: String,
    pub classifier: String,
    pub rewrites: Vec<String>,
}

/// A shard's file: the plan and its jobs' results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardFile {
    pub meta: Meta,
    pub shard: Shard,
    pub results: Vec<JobResult>,
}

impl Plan {
    /// The variants `grid` names of the scenario in `base` (read from `scenario_path`).
    pub fn new(
        base: &Loaded,
        scenario_path: &Path,
        grid: &Grid,
        seeds: Vec<u64>,
        duration: Time,
    ) -> Result<Plan, Error> {
        let spreads = parse_all(&grid.classifiers, Spread::parse)?;
        let weights = parse_all(&grid.weights, Weights::parse)?;
        let mut bases: Vec<(Option<String>, Loaded)> = vec![(None, base.clone())];
        if !grid.configs.is_empty() {
            bases = grid
                .configs
                .iter()
                .map(|path| {
                    let world = WorldBuilder::from_file(scenario_path)?.config_file(path)?;
                    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                    Ok((Some(stem.into_owned()), world.build()?))
                })
                .collect::<Result<_, Error>>()?;
        }
        let weights = axis(weights);
        let spreads = axis(spreads);
        let fasttrack = axis(grid.fasttrack.clone());
        let mut variants = Vec::new();
        for (name, loaded) in &bases {
            for w in &weights {
                for s in &spreads {
                    for f in &fasttrack {
                        variants.push(make_variant(name.as_deref(), loaded, w, *s, *f)?);
                    }
                }
            }
        }
        let router = crate::Router::new(base.config.clone());
        let target = base
            .wan_ifaces
            .iter()
            .map(|&i| crate::report::configured_share(&router, base.config.iface_name(i)))
            .collect();
        Ok(Plan {
            sources: crate::report::Sources::of(base),
            variants,
            seeds,
            duration,
            target,
        })
    }

    pub fn jobs(&self) -> usize {
        self.variants.len() * self.seeds.len()
    }

    /// How many jobs `shard` runs.
    pub fn jobs_in(&self, shard: Shard) -> usize {
        (0..self.jobs()).filter(|&j| shard.holds(j)).count()
    }

    pub fn meta(&self) -> Meta {
        let base = &self.variants[0].loaded.scenario;
        Meta {
            scenario: base.name.clone(),
            sources: self.sources.clone(),
            wans: base.wans.iter().map(|w| w.isp.clone()).collect(),
            duration_s: self.duration as f64 / SEC as f64,
            seeds: self.seeds.clone(),
            variants: self
                .variants
                .iter()
                .map(|v| VariantMeta {
                    label: v.label.clone(),
                    classifier: v.classifier.clone(),
                    rewrites: v.rewrites.clone(),
                })
                .collect(),
        }
    }

    /// Runs the jobs of `shard` in parallel; `progress` hears of simulated seconds as they
    /// pass, from any thread. Results come in job order whatever the threads did.
    pub fn run(&self, shard: Shard, progress: &(dyn Fn(u64) + Sync)) -> Vec<JobResult> {
        let jobs: Vec<usize> = (0..self.jobs()).filter(|&j| shard.holds(j)).collect();
        jobs.par_iter()
            .map(|&job| {
                let (variant, seed_index) = (job / self.seeds.len(), job % self.seeds.len());
                let (v, seed) = (&self.variants[variant], self.seeds[seed_index]);
                let mut told = 0;
                let run = crate::simulate(&v.loaded, seed, self.duration, |now, _| {
                    let secs = now / SEC;
                    progress(secs - told);
                    told = secs;
                });
                progress(self.duration / SEC - told);
                let summary = Summary::new(&v.loaded, &run);
                JobResult {
                    job,
                    variant,
                    seed,
                    metrics: measure(&summary, &self.target),
                }
            })
            .collect()
    }
}

fn parse_all<T>(texts: &[String], parse: fn(&str) -> Result<T, String>) -> Result<Vec<T>, Error> {
    texts
        .iter()
        .map(|t| parse(t).map_err(Error::Invalid))
        .collect()
}

/// An axis's values, or one "leave it" when it has none.
fn axis<T: Clone>(values: Vec<T>) -> Vec<Option<T>> {
    if values.is_empty() {
        vec![None]
    } else {
        values.into_iter().map(Some).collect()
    }
}

fn make_variant(
    config_name: Option<&str>,
    base: &Loaded,
    weights: &Option<Weights>,
    spread: Option<Spread>,
    fasttrack: Option<bool>,
) -> Result<Variant, Error> {
    let mut loaded = base.clone();
    let cfg = &mut loaded.config;
    let mut rewrites = Vec::new();
    let mut label: Vec<String> = config_name.map(str::to_string).into_iter().collect();
    let invalid = |e: String| Error::Invalid(format!("{}: {e}", base.config_file));
    if let Some(w) = weights {
        rewrites.push(variant::set_weights(cfg, w).map_err(invalid)?);
        label.push(w.text());
    }
    if let Some(s) = spread {
        rewrites.push(variant::set_spread(cfg, s).map_err(invalid)?);
        label.push(s.name().to_string());
    }
    if let Some(on) = fasttrack {
        rewrites.push(variant::set_fasttrack(cfg, on));
        label.push(format!("fasttrack {}", if on { "on" } else { "off" }));
    }
    if label.is_empty() {
        label.push("as configured".into());
    }
    Ok(Variant {
        label: label.join(" "),
        classifier: spread.map_or("as configured".into(), |s| s.name().into()),
        rewrites,
        loaded,
    })
}

/// The numbers a comparison keeps of one run. Per WAN, `<WAN>` is the scenario's ISP name.
fn measure(s: &Summary, base_target: &[Option<f64>]) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    let (mut dev, mut byte_dev, mut peak) = (0.0f64, 0.0f64, 0.0f64);
    let mut classified_dev: Option<f64> = None;
    let own_target = s.wans.iter().any(|w| w.configured_share.is_some());
    for (i, w) in s.wans.iter().enumerate() {
        let isp = &w.isp;
        m.insert(format!("connection_share.{isp}"), w.connection_share);
        m.insert(format!("byte_share.{isp}"), w.byte_share);
        m.insert(
            format!("peak_utilisation_down.{isp}"),
            w.peak_utilisation_down,
        );
        m.insert(format!("peak_utilisation_up.{isp}"), w.peak_utilisation_up);
        let target = if own_target {
            w.configured_share
        } else {
            base_target.get(i).copied().flatten()
        };
        if let Some(t) = target {
            dev = dev.max((w.connection_share - t).abs());
            byte_dev = byte_dev.max((w.byte_share - t).abs());
        }
        if let (Some(t), Some(c)) = (w.configured_share, w.classified_byte_share) {
            m.insert(format!("classified_byte_share.{isp}"), c);
            classified_dev = Some(classified_dev.unwrap_or(0.0).max((c - t).abs()));
        }
        peak = peak.max(w.peak_utilisation_down.max(w.peak_utilisation_up));
    }
    m.insert("share_deviation".into(), dev);
    m.insert("byte_share_deviation".into(), byte_dev);
    if let Some(d) = classified_dev {
        m.insert("classified_byte_share_deviation".into(), d);
    }
    m.insert("peak_utilisation".into(), peak);
    m.insert("broken".into(), s.connections.broken as f64);
    m.insert("broken_share".into(), s.connections.broken_share);
    for c in Cause::ALL {
        let n = s.connections.broken_by_cause.get(c.name()).copied();
        m.insert(format!("broken.{}", c.name()), n.unwrap_or(0) as f64);
    }
    for a in &s.apps {
        let name = &a.name;
        let app = [
            ("completion_ms", a.mean_completion_ms),
            ("goodput_mbps", a.mean_goodput_mbps),
            ("session_success", a.session_success),
            ("page_load_ms", a.mean_page_load_ms),
            ("mos", a.mean_mos),
            ("rebuffer_ratio", a.rebuffer_ratio),
            ("startup_ms", a.mean_startup_ms),
        ];
        for (key, value) in app {
            if let Some(v) = value {
                m.insert(format!("app.{name}.{key}"), v);
            }
        }
    }
    m
}

/// `comparison.json`. Field names are a contract other tools rely on: add, never rename.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub scenario: String,
    pub duration_s: f64,
    pub seeds: Vec<u64>,
    /// The WANs by their ISP names (`<WAN>` in metric names), in the scenario's order.
    pub wans: Vec<String>,
    /// Best first (fewest broken connections, then the split closest to the target).
    pub variants: Vec<VariantResult>,
    /// Per key metric, the variant that did best.
    pub best: Vec<Best>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VariantResult {
    pub label: String,
    pub classifier: String,
    pub seeds: Vec<u64>,
    /// What the variant changed in the configuration, by line.
    pub rewrites: Vec<String>,
    pub metrics: BTreeMap<String, Estimate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Best {
    pub metric: String,
    pub variant: String,
    pub mean: f64,
    /// Whether its interval stays clear of the runner-up's: the seeds can tell them apart.
    pub clear: bool,
    pub runner_up: Option<String>,
}

/// Whether more of a metric is better.
fn higher_is_better(metric: &str) -> bool {
    metric.ends_with("session_success")
        || metric.ends_with("goodput_mbps")
        || metric.ends_with(".mos")
}

/// The metrics `best` speaks of, in this order, where present.
fn key_metrics(names: &[String]) -> Vec<String> {
    let fixed = [
        "share_deviation",
        "byte_share_deviation",
        "classified_byte_share_deviation",
    ];
    let mut keys: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    keys.push("broken_share".into());
    keys.extend(
        names
            .iter()
            .filter(|n| n.starts_with("app."))
            .filter(|n| {
                n.ends_with("session_success")
                    || n.ends_with(".mos")
                    || n.ends_with("rebuffer_ratio")
                    || n.ends_with("page_load_ms")
                    || n.ends_with("completion_ms")
            })
            .cloned(),
    );
    keys
}

/// Every variant's metrics over its seeds, ranked, with the best variant per key metric.
pub fn aggregate(meta: &Meta, results: &[JobResult]) -> Comparison {
    let mut variants: Vec<VariantResult> = meta
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mine: Vec<&JobResult> = results.iter().filter(|r| r.variant == i).collect();
            let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for r in &mine {
                for (k, v) in &r.metrics {
                    values.entry(k.clone()).or_default().push(*v);
                }
            }
            VariantResult {
                label: v.label.clone(),
                classifier: v.classifier.clone(),
                seeds: mine.iter().map(|r| r.seed).collect(),
                rewrites: v.rewrites.clone(),
                metrics: values
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), Estimate::of(v)?)))
                    .collect(),
            }
        })
        .collect();
    let mean = |v: &VariantResult, k: &str| v.metrics.get(k).map_or(f64::INFINITY, |e| e.mean);
    variants.sort_by(|a, b| {
        let key = |v: &VariantResult| (mean(v, "broken_share"), mean(v, "share_deviation"));
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let names: Vec<String> = variants
        .iter()
        .flat_map(|v| v.metrics.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let best = key_metrics(&names)
        .into_iter()
        .filter_map(|k| best_of(&variants, &k))
        .collect();
    Comparison {
        scenario: meta.scenario.clone(),
        duration_s: meta.duration_s,
        seeds: meta.seeds.clone(),
        wans: meta.wans.clone(),
        variants,
        best,
    }
}

fn best_of(variants: &[VariantResult], metric: &str) -> Option<Best> {
    let mut with: Vec<(&VariantResult, Estimate)> = variants
        .iter()
        .filter_map(|v| Some((v, *v.metrics.get(metric)?)))
        .collect();
    if with.is_empty() {
        return None;
    }
    let sign = if higher_is_better(metric) { -1.0 } else { 1.0 };
    with.sort_by(|a, b| {
        (sign * a.1.mean)
            .partial_cmp(&(sign * b.1.mean))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let (top, e) = with[0];
    let runner = with.get(1);
    Some(Best {
        metric: metric.to_string(),
        variant: top.label.clone(),
        mean: e.mean,
        clear: runner.is_none_or(|(_, r)| !e.overlaps(r) && e.mean != r.mean),
        runner_up: runner.map(|(v, _)| v.label.clone()),
    })
}

/// Combines shard files into one plan's results, checking they are the shards of one plan
/// and that none is missing or repeated.
pub fn merge(shards: Vec<ShardFile>) -> Result<(Meta, Vec<JobResult>), String> {
    let Some(first) = shards.first() else {
        return Err("no shard files given".into());
    };
    let (meta, count) = (first.meta.clone(), first.shard.count);
    let mut seen = vec![false; count as usize];
    for s in &shards {
        if s.meta != meta {
            return Err(format!(
                "shard {}/{} is of another comparison (scenario, seeds or variants differ)",
                s.shard.index, s.shard.count
            ));
        }
        if s.shard.count != count || s.shard.index == 0 || s.shard.index > count {
            return Err(format!(
                "shard {}/{} does not belong with shards of {count}",
                s.shard.index, s.shard.count
            ));
        }
        let slot = &mut seen[(s.shard.index - 1) as usize];
        if *slot {
            return Err(format!("shard {}/{count} given twice", s.shard.index));
        }
        *slot = true;
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(format!("shard {}/{count} is missing", missing + 1));
    }
    let mut results: Vec<JobResult> = shards.into_iter().flat_map(|s| s.results).collect();
    results.sort_by_key(|r| r.job);
    Ok((meta, results))
}
