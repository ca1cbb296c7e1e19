//! `pccsim compare` and `pccsim sweep`: one scenario, several variants of its router
//! configuration, the same traffic and seeds for each, and every metric as a mean with a 95 %
//! interval over the seeds — and, since the seeds are shared, as a difference from a baseline
//! seed by seed ([`stats`] says why that is the honest comparison).
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

pub use variant::{Spread, Weights, mark_replies, set_fasttrack, set_spread};

use crate::error::Error;
use crate::provenance::{Provenance, sha256};
use crate::report::Summary;
use crate::scenario::Loaded;
use crate::units::{SEC, Time};
use crate::world::builder::WorldBuilder;
use crate::world::flow::Cause;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stats::{Difference, Estimate};
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
    /// PCQ per host on (added where the configuration has none) or every queue off.
    #[serde(default)]
    pub pcq: Vec<bool>,
    /// Whole alternative configurations (`.rsc`), instead of the scenario's own.
    #[serde(default)]
    pub configs: Vec<PathBuf>,
    /// The variant the others are compared with, by label; unset, the configuration as given
    /// (added as the variant `as configured` when no other variant is the same).
    #[serde(default)]
    pub baseline: Option<String>,
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
        let text = crate::input::read(path, crate::input::Wanted::Text)?;
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
    /// The variant the others are compared with (index into `variants`).
    pub baseline: usize,
    targets: Targets,
    pub provenance: Provenance,
}

/// What a variant's split of the load is measured against.
#[derive(Clone, Debug)]
struct Targets {
    /// Per WAN (scenario order), the share of connections the scenario's own configuration
    /// asks for: the target for variants whose rules say none (ECMP).
    configured: Vec<Option<f64>>,
    /// Per WAN, its share of the downstream capacity of the WANs the configuration spreads
    /// connections over (`None` for a standby backup): the lines' split.
    split: Vec<Option<f64>>,
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

    /// The name of this shard's file.
    pub fn file_name(&self) -> String {
        format!("shard-{}-of-{}.json", self.index, self.count)
    }

    fn holds(&self, job: usize) -> bool {
        job % self.count as usize == (self.index - 1) as usize
    }
}

/// `--shard`: `I/N`, or `auto` (`auto/N`) for the shard the cluster's task says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardSpec {
    Fixed(Shard),
    Auto(Option<u32>),
}

impl ShardSpec {
    pub fn parse(text: &str) -> Result<ShardSpec, String> {
        match text.trim() {
            "auto" => Ok(ShardSpec::Auto(None)),
            t => match t.strip_prefix("auto/") {
                Some(n) => match n.trim().parse::<u32>() {
                    Ok(n) if n >= 1 => Ok(ShardSpec::Auto(Some(n))),
                    _ => Err(format!("`{text}` is not auto/N with N ≥ 1")),
                },
                None => Shard::parse(t).map(ShardSpec::Fixed),
            },
        }
    }

    /// The shard this process runs. `auto` reads a Slurm job array's task (its id counted
    /// from `SLURM_ARRAY_TASK_MIN` by `SLURM_ARRAY_TASK_STEP`, of `SLURM_ARRAY_TASK_COUNT`) or
    /// a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` (from 0; Kubernetes does not tell a
    /// pod the Job's completions, so the count comes from `auto/N` or `PCCSIM_SHARD_COUNT`).
    pub fn resolve(self, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let given = match self {
            ShardSpec::Fixed(s) => return Ok(s),
            ShardSpec::Auto(n) => n,
        };
        let number = |name: &str| -> Result<Option<i64>, String> {
            env(name)
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("{name}={v} is not a number"))
                })
                .transpose()
        };
        let agree = |found: u32, from: &str| match given {
            Some(n) if n != found => Err(format!(
                "--shard auto/{n}, but {from} says the array has {found} tasks"
            )),
            _ => Ok(found),
        };
        let (index, count) = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(1);
            let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
            let count = number("SLURM_ARRAY_TASK_COUNT")?
                .ok_or("a Slurm job array without SLURM_ARRAY_TASK_COUNT")?;
            let count = agree(u32::try_from(count).unwrap_or(0), "SLURM_ARRAY_TASK_COUNT")?;
            ((id - min) / step + 1, count)
        } else if let Some(i) = number("JOB_COMPLETION_INDEX")? {
            let count = match (given, number("PCCSIM_SHARD_COUNT")?) {
                (Some(n), _) => n,
                (None, Some(n)) => u32::try_from(n).unwrap_or(0),
                (None, None) => {
                    return Err("a Kubernetes Indexed Job does not tell its pods how many there are: give --shard auto/N (N: the Job's completions) or set PCCSIM_SHARD_COUNT".into());
                }
            };
            (i + 1, count)
        } else {
            return Err("--shard auto: no Slurm job array (SLURM_ARRAY_TASK_ID) or Kubernetes Indexed Job (JOB_COMPLETION_INDEX) runs this; give --shard I/N".into());
        };
        match u32::try_from(index) {
            Ok(index) if index >= 1 && index <= count => Ok(Shard { index, count }),
            _ => Err(format!(
                "--shard auto: this is task {index} of {count}, which is not a shard"
            )),
        }
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
    /// The variant the others are compared with (index into `variants`).
    #[serde(default)]
    pub baseline: usize,
    /// Per WAN, its share of the balanced WANs' downstream capacity (null: a standby).
    #[serde(default)]
    pub capacity_split: Vec<Option<f64>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantMeta {
    pub label: String,
    pub classifier: String,
    pub rewrites: Vec<String>,
}

/// A shard's file: the plan and its jobs' results, each with its digest, so that a merge can
/// tell a shard of another plan, an edited number or a lost job from the real thing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardFile {
    pub meta: Meta,
    pub shard: Shard,
    pub results: Vec<JobResult>,
    /// SHA-256 of `meta` and of `results` as JSON.
    pub plan_digest: String,
    pub results_digest: String,
    pub provenance: Provenance,
}

impl ShardFile {
    pub fn new(plan: &Plan, shard: Shard, results: Vec<JobResult>) -> ShardFile {
        let meta = plan.meta();
        ShardFile {
            plan_digest: digest(&meta),
            results_digest: digest(&results),
            meta,
            shard,
            results,
            provenance: plan.provenance.clone(),
        }
    }

    /// Whether this file is `shard` of `plan`, complete, as pccsim wrote it: a shard that
    /// need not run again.
    pub fn completes(&self, plan: &Plan, shard: Shard) -> bool {
        self.shard == shard
            && self.plan_digest == digest(&plan.meta())
            && check_shard("", self).is_ok()
    }
}

/// SHA-256 of a value's JSON.
fn digest<T: Serialize>(value: &T) -> String {
    sha256(serde_json::to_string(value).expect("serialises").as_bytes())
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
        let pcq = axis(grid.pcq.clone());
        let mut variants = Vec::new();
        for (name, loaded) in &bases {
            for w in &weights {
                for s in &spreads {
                    for f in &fasttrack {
                        for q in &pcq {
                            let switches = Switches {
                                fasttrack: *f,
                                pcq: *q,
                            };
                            variants.push(make_variant(name.as_deref(), loaded, w, *s, switches)?);
                        }
                    }
                }
            }
        }
        let baseline = match &grid.baseline {
            Some(label) => variants
                .iter()
                .position(|v| v.label == *label)
                .ok_or_else(|| {
                    let labels: Vec<&str> = variants.iter().map(|v| v.label.as_str()).collect();
                    Error::Invalid(format!(
                        "baseline `{label}` is none of the variants ({})",
                        labels.join(", ")
                    ))
                })?,
            None => match variants.iter().position(|v| same_rules(&v.loaded, base)) {
                Some(i) => {
                    // Its rewrites set what was set already: say it changed nothing.
                    variants[i].rewrites.clear();
                    i
                }
                None => {
                    let none = Switches::default();
                    variants.insert(0, make_variant(None, base, &None, None, none)?);
                    0
                }
            },
        };
        let router = crate::Router::new(base.config.clone());
        let configured: Vec<Option<f64>> = base
            .wan_ifaces
            .iter()
            .map(|&i| crate::report::configured_share(&router, base.config.iface_name(i)))
            .collect();
        let marked = configured.iter().any(|t| t.is_some_and(|t| t > 0.0));
        let balanced = |t: &Option<f64>| !marked || t.is_some_and(|t| t > 0.0);
        let wans = &base.scenario.wans;
        let capacity: u64 = (wans.iter().zip(&configured))
            .filter(|(_, t)| balanced(t))
            .map(|(w, _)| w.down.0)
            .sum();
        let split = (wans.iter().zip(&configured))
            .map(|(w, t)| (balanced(t) && capacity > 0).then(|| w.down.0 as f64 / capacity as f64))
            .collect();
        Ok(Plan {
            sources: crate::report::Sources::of(base),
            variants,
            provenance: Provenance::of(base, seeds.clone(), rayon::current_num_threads()),
            seeds,
            duration,
            baseline,
            targets: Targets { configured, split },
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
            baseline: self.baseline,
            capacity_split: self.targets.split.clone(),
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
                    metrics: measure(&summary, &self.targets),
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

/// Whether two worlds' routers run the same rules and routes: a variant that rewrote nothing.
fn same_rules(a: &Loaded, b: &Loaded) -> bool {
    let (a, b) = (&a.config, &b.config);
    let same = |x: &[crate::router::firewall::Rule], y: &[crate::router::firewall::Rule]| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.same_as(q))
    };
    same(&a.mangle.rules, &b.mangle.rules)
        && same(&a.filter.rules, &b.filter.rules)
        && same(&a.nat.rules, &b.nat.rules)
        && a.routes == b.routes
        && a.stored == b.stored
}

/// What a variant turns on or off besides its spread and weights (`None`: as configured).
#[derive(Clone, Copy, Debug, Default)]
struct Switches {
    fasttrack: Option<bool>,
    pcq: Option<bool>,
}

fn make_variant(
    config_name: Option<&str>,
    base: &Loaded,
    weights: &Option<Weights>,
    spread: Option<Spread>,
    switches: Switches,
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
    let on_off = |on: bool| if on { "on" } else { "off" };
    if let Some(on) = switches.fasttrack {
        rewrites.push(variant::set_fasttrack(cfg, on));
        label.push(format!("fasttrack {}", on_off(on)));
    }
    if let Some(on) = switches.pcq {
        // The totals a little under the WANs' sum, so the router's queue is the one that fills.
        let sum = |f: fn(&crate::scenario::Wan) -> u64| {
            base.scenario.wans.iter().map(f).sum::<u64>() / 100 * 95
        };
        let (down, up) = (sum(|w| w.down.0), sum(|w| w.up.0));
        rewrites.push(variant::set_pcq(cfg, on, base.lan_iface, down, up));
        label.push(format!("pcq {}", on_off(on)));
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
fn measure(s: &Summary, targets: &Targets) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    let (mut dev, mut byte_dev, mut peak) = (0.0f64, 0.0f64, 0.0f64);
    let mut classified_dev: Option<f64> = None;
    let own_target = s.wans.iter().any(|w| w.configured_share.is_some());
    let mut capacity_dev = 0.0f64;
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
            targets.configured.get(i).copied().flatten()
        };
        if let Some(split) = targets.split.get(i).copied().flatten() {
            capacity_dev = capacity_dev.max((w.byte_share - split).abs());
        }
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
    m.insert("capacity_share_deviation".into(), capacity_dev);
    m.insert("share_deviation".into(), dev);
    m.insert("byte_share_deviation".into(), byte_dev);
    if let Some(d) = classified_dev {
        m.insert("classified_byte_share_deviation".into(), d);
    }
    m.insert("peak_utilisation".into(), peak);
    if let Some(j) = s.users.jain_index {
        m.insert("jain_index".into(), j);
    }
    m.insert(
        "top_decile_byte_share".into(),
        s.users.top_decile_byte_share,
    );
    if let Some(c) = &s.cpu {
        let busiest = c
            .per_cpu
            .iter()
            .map(|k| k.mean_utilization)
            .fold(0.0, f64::max);
        let packets: u64 = c.per_cpu.iter().map(|k| k.packets).sum();
        m.insert("cpu_busiest_utilization".into(), busiest);
        m.insert(
            "cpu_dropped_share".into(),
            c.dropped as f64 / (packets + c.dropped).max(1) as f64,
        );
    }
    m.insert("broken".into(), s.connections.broken as f64);
    m.insert("broken_share".into(), s.connections.broken_share);
    m.insert("stalled".into(), s.connections.stalled as f64);
    m.insert("failed_share".into(), s.connections.failed_share);
    for c in Cause::ALL {
        let n = s.connections.broken_by_cause.get(c.name()).copied();
        m.insert(format!("broken.{}", c.name()), n.unwrap_or(0) as f64);
    }
    app_metrics(&mut m, "", &s.apps);
    for c in &s.apps_by_class {
        app_metrics(&mut m, &format!("class.{}.", c.class), &c.apps);
    }
    m
}

/// `{prefix}app.<name>.<key>` for each application's quality figures it has.
fn app_metrics(m: &mut BTreeMap<String, f64>, prefix: &str, apps: &[crate::report::AppSummary]) {
    for a in apps {
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
                m.insert(format!("{prefix}app.{name}.{key}"), v);
            }
        }
    }
}

/// `comparison.json`. Field names are a contract other tools rely on: add, never rename.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub scenario: String,
    pub duration_s: f64,
    pub seeds: Vec<u64>,
    /// The WANs by their ISP names (`<WAN>` in metric names), in the scenario's order.
    pub wans: Vec<String>,
    /// Per WAN, its share of the downstream capacity of the WANs the configuration balances
    /// over (null for a standby): what `capacity_share_deviation` measures bytes against.
    pub capacity_split: Vec<Option<f64>>,
    /// The variant every other is compared with, seed by seed.
    pub baseline: String,
    /// How `variants` is ordered, in words.
    pub ranked_by: String,
    /// Best first, as `ranked_by` says.
    pub variants: Vec<VariantResult>,
    /// Per key metric every variant has, the variant that did best.
    pub best: Vec<Best>,
    /// Metrics some variants lack (an application whose sessions never ended under them),
    /// with those variants: a metric a variant lacks is never ranked.
    pub missing: BTreeMap<String, Vec<String>>,
    /// What made it: one entry per run (per shard, when merged). Empty until the caller,
    /// which knows, says ([`Comparison::made_by`]).
    pub provenance: Vec<Provenance>,
}

impl Comparison {
    pub fn made_by(mut self, provenance: Vec<Provenance>) -> Comparison {
        self.provenance = provenance;
        self
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VariantResult {
    pub label: String,
    pub classifier: String,
    pub seeds: Vec<u64>,
    /// What the variant changed in the configuration, by line.
    pub rewrites: Vec<String>,
    pub metrics: BTreeMap<String, Estimate>,
    /// This variant's metrics minus the baseline's, seed by seed (empty for the baseline).
    pub versus_baseline: BTreeMap<String, Difference>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Best {
    pub metric: String,
    pub variant: String,
    pub mean: f64,
    /// Whether the seeds tell it from the runner-up: their paired difference is clear.
    pub clear: bool,
    pub runner_up: Option<String>,
    /// The best's metric minus the runner-up's, seed by seed.
    pub difference: Option<Difference>,
}

/// How the variants are ranked (`Comparison::ranked_by`).
pub const RANKED_BY: &str = "fewest connections broken or stalled (variants the seeds cannot \
    tell apart on these count as equal), then bytes closest to the lines' capacity split";

/// Whether more of a metric is better.
pub fn higher_is_better(metric: &str) -> bool {
    metric == "jain_index"
        || metric.ends_with("session_success")
        || metric.ends_with("goodput_mbps")
        || metric.ends_with(".mos")
}

/// The metrics `best` speaks of, in this order, where present.
fn key_metrics(names: &[String]) -> Vec<String> {
    let fixed = [
        "capacity_share_deviation",
        "share_deviation",
        "byte_share_deviation",
        "classified_byte_share_deviation",
        "broken_share",
        "failed_share",
        "jain_index",
        "cpu_busiest_utilization",
    ];
    let mut keys: Vec<String> = (fixed.iter())
        .filter(|k| names.iter().any(|n| n == *k))
        .map(|s| s.to_string())
        .collect();
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

/// One variant's values: per metric, `(seed, value)` for each seed that had it.
type Values = BTreeMap<String, Vec<(u64, f64)>>;

/// Every variant's metrics over its seeds, its differences from the baseline, the ranking,
/// and the best variant per key metric.
pub fn aggregate(meta: &Meta, results: &[JobResult]) -> Comparison {
    let mut values: Vec<Values> = vec![Values::new(); meta.variants.len()];
    for r in results {
        for (k, v) in &r.metrics {
            values[r.variant]
                .entry(k.clone())
                .or_default()
                .push((r.seed, *v));
        }
    }
    let baseline = meta.baseline.min(meta.variants.len().saturating_sub(1));
    let estimate = |v: &[(u64, f64)]| Estimate::of(&v.iter().map(|x| x.1).collect::<Vec<_>>());
    let result = |i: usize| {
        let m = &meta.variants[i];
        let mine = &values[i];
        let versus_baseline = if i == baseline {
            BTreeMap::new()
        } else {
            (mine.iter())
                .filter_map(|(k, v)| {
                    let d = Difference::paired(v, values[baseline].get(k)?)?;
                    Some((k.clone(), d))
                })
                .collect()
        };
        VariantResult {
            label: m.label.clone(),
            classifier: m.classifier.clone(),
            seeds: (results.iter())
                .filter(|r| r.variant == i)
                .map(|r| r.seed)
                .collect(),
            rewrites: m.rewrites.clone(),
            metrics: (mine.iter())
                .filter_map(|(k, v)| Some((k.clone(), estimate(v)?)))
                .collect(),
            versus_baseline,
        }
    };
    let names: Vec<String> = (values.iter())
        .flat_map(|v| v.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let missing: BTreeMap<String, Vec<String>> = (names.iter())
        .filter_map(|k| {
            let lacking: Vec<String> = (0..values.len())
                .filter(|&i| !values[i].contains_key(k))
                .map(|i| meta.variants[i].label.clone())
                .collect();
            (!lacking.is_empty()).then(|| (k.clone(), lacking))
        })
        .collect();
    let best = key_metrics(&names)
        .into_iter()
        .filter(|k| !missing.contains_key(k))
        .filter_map(|k| best_of(meta, &values, &k))
        .collect();
    Comparison {
        scenario: meta.scenario.clone(),
        duration_s: meta.duration_s,
        seeds: meta.seeds.clone(),
        wans: meta.wans.clone(),
        capacity_split: meta.capacity_split.clone(),
        baseline: meta
            .variants
            .get(baseline)
            .map_or(String::new(), |v| v.label.clone()),
        ranked_by: RANKED_BY.into(),
        variants: ranking(&values).into_iter().map(result).collect(),
        best,
        missing,
        provenance: Vec::new(),
    }
}

fn mean_of(values: &Values, metric: &str) -> f64 {
    values.get(metric).map_or(f64::INFINITY, |v| {
        v.iter().map(|x| x.1).sum::<f64>() / v.len() as f64
    })
}

/// The variants in [`RANKED_BY`]'s order, as indices. Breaks first, but only where the seeds
/// tell them apart: a variant starts a new tier when its breaks are clearly more than the
/// tier's first's; within a tier the split decides.
fn ranking(values: &[Values]) -> Vec<usize> {
    let (breaks, split) = ("failed_share", "capacity_share_deviation");
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        (mean_of(&values[a], breaks).total_cmp(&mean_of(&values[b], breaks)))
            .then(mean_of(&values[a], split).total_cmp(&mean_of(&values[b], split)))
    });
    let clearly_more = |v: usize, than: usize| {
        let (Some(a), Some(b)) = (values[v].get(breaks), values[than].get(breaks)) else {
            return true;
        };
        Difference::paired(a, b).is_some_and(|d| d.clear && d.mean > 0.0)
    };
    let mut ranked = Vec::with_capacity(order.len());
    let mut tier: Vec<usize> = Vec::new();
    for v in order {
        if tier.first().is_some_and(|&head| clearly_more(v, head)) {
            tier.sort_by(|&a, &b| {
                mean_of(&values[a], split).total_cmp(&mean_of(&values[b], split))
            });
            ranked.append(&mut tier);
        }
        tier.push(v);
    }
    tier.sort_by(|&a, &b| mean_of(&values[a], split).total_cmp(&mean_of(&values[b], split)));
    ranked.append(&mut tier);
    ranked
}

/// The variant with the best mean of `metric` (which every variant has), and whether the
/// seeds tell it from the runner-up.
fn best_of(meta: &Meta, values: &[Values], metric: &str) -> Option<Best> {
    let sign = if higher_is_better(metric) { -1.0 } else { 1.0 };
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        (sign * mean_of(&values[a], metric)).total_cmp(&(sign * mean_of(&values[b], metric)))
    });
    let top = *order.first()?;
    let runner = order.get(1).copied();
    let difference =
        runner.and_then(|r| Difference::paired(&values[top][metric], &values[r][metric]));
    Some(Best {
        metric: metric.to_string(),
        variant: meta.variants[top].label.clone(),
        mean: mean_of(&values[top], metric),
        clear: runner.is_none() || difference.is_some_and(|d| d.clear),
        runner_up: runner.map(|r| meta.variants[r].label.clone()),
        difference,
    })
}

/// What was merged: the plan, every job's result in job order, and each shard's provenance.
pub struct Merged {
    pub meta: Meta,
    pub results: Vec<JobResult>,
    pub provenance: Vec<Provenance>,
}

/// Combines shard files, each given with the name errors call it by, into one plan's results:
/// refused, saying what and where, unless they are all N shards of one plan, each as pccsim
/// wrote it (its digests hold) and each with exactly its own jobs.
pub fn merge(shards: Vec<(String, ShardFile)>) -> Result<Merged, String> {
    let Some((first_name, first)) = shards.first() else {
        return Err("no shard files given".into());
    };
    let (plan_digest, count) = (first.plan_digest.clone(), first.shard.count);
    let mut seen: Vec<Option<&str>> = vec![None; count as usize];
    for (name, s) in &shards {
        let (i, n) = (s.shard.index, s.shard.count);
        check_shard(name, s)?;
        if s.plan_digest != plan_digest {
            return Err(format!(
                "{name}: shard {i}/{n} is of another comparison than {first_name} (scenario, seeds, duration or variants differ)"
            ));
        }
        if n != count {
            return Err(format!(
                "{name}: shard {i}/{n} does not belong with the shards of {count} ({first_name})"
            ));
        }
        let slot = &mut seen[(i - 1) as usize];
        if let Some(other) = slot {
            return Err(format!("shard {i}/{count} given twice: {other} and {name}"));
        }
        *slot = Some(name);
    }
    if let Some(missing) = seen.iter().position(Option::is_none) {
        return Err(format!("shard {}/{count} is missing", missing + 1));
    }
    let meta = first.meta.clone();
    let provenance = shards.iter().map(|(_, s)| s.provenance.clone()).collect();
    let mut results: Vec<JobResult> = shards.into_iter().flat_map(|(_, s)| s.results).collect();
    results.sort_by_key(|r| r.job);
    Ok(Merged {
        meta,
        results,
        provenance,
    })
}

/// Whether one shard file is whole and its own: its digests match what it holds, and its
/// results are exactly its jobs, each once, each of the variant and seed its number says.
fn check_shard(name: &str, s: &ShardFile) -> Result<(), String> {
    let (i, n) = (s.shard.index, s.shard.count);
    let here = if name.is_empty() {
        format!("shard {i}/{n}")
    } else {
        format!("{name}: shard {i}/{n}")
    };
    if i == 0 || i > n {
        return Err(format!("{here} is not a shard of {n}"));
    }
    if digest(&s.meta) != s.plan_digest {
        return Err(format!(
            "{here}: its plan does not match its digest — the file was changed after pccsim wrote it"
        ));
    }
    if digest(&s.results) != s.results_digest {
        return Err(format!(
            "{here}: its results do not match their digest — a number was changed or a job removed after pccsim wrote it"
        ));
    }
    let seeds = &s.meta.seeds;
    let jobs = s.meta.variants.len() * seeds.len();
    let mut had = vec![false; jobs];
    for r in &s.results {
        let mine = r.job < jobs && r.job % n as usize == (i - 1) as usize;
        if !mine {
            return Err(format!(
                "{here} holds job {}, which is not one of its jobs",
                r.job
            ));
        }
        if std::mem::replace(&mut had[r.job], true) {
            return Err(format!("{here} holds job {} twice", r.job));
        }
        if r.variant != r.job / seeds.len() || r.seed != seeds[r.job % seeds.len()] {
            return Err(format!(
                "{here}: job {} says variant {} and seed {}, but its number means variant {} and seed {}",
                r.job,
                r.variant,
                r.seed,
                r.job / seeds.len(),
                seeds[r.job % seeds.len()]
            ));
        }
    }
    let shard = Shard { index: i, count: n };
    if let Some(job) = (0..jobs).find(|&j| shard.holds(j) && !had[j]) {
        let variant = &s.meta.variants[job / seeds.len()].label;
        return Err(format!(
            "{here} lacks job {job} (variant `{variant}`, seed {})",
            seeds[job % seeds.len()]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(labels: &[&str], seeds: u64) -> Meta {
        Meta {
            scenario: "synthetic".into(),
            sources: crate::report::Sources::default(),
            duration_s: 60.0,
            seeds: (1..=seeds).collect(),
            wans: vec!["isp1".into(), "isp2".into()],
            variants: (labels.iter())
                .map(|l| VariantMeta {
                    label: l.to_string(),
                    classifier: l.to_string(),
                    rewrites: vec![],
                })
                .collect(),
            baseline: 0,
            capacity_split: vec![Some(0.5), Some(0.5)],
        }
    }

    /// A synthetic metric's value for a variant and a seed, where it has one.
    type Metric = dyn Fn(usize, u64) -> Option<f64>;

    /// Results whose metric `name` is `value(variant, seed)` for every variant and seed that
    /// `value` gives one.
    fn results(variants: usize, seeds: u64, metrics: &[(&str, &Metric)]) -> Vec<JobResult> {
        let mut out = Vec::new();
        for variant in 0..variants {
            for seed in 1..=seeds {
                let metrics = (metrics.iter())
                    .filter_map(|(k, f)| Some((k.to_string(), f(variant, seed)?)))
                    .collect();
                let job = variant * seeds as usize + seed as usize - 1;
                out.push(JobResult {
                    job,
                    variant,
                    seed,
                    metrics,
                });
            }
        }
        out
    }

    #[test]
    fn one_seed_never_yields_clearly() {
        let m = meta(&["a", "b"], 1);
        let share = |v: usize, _: u64| Some([0.05, 0.30][v]);
        let r = results(
            2,
            1,
            &[
                ("share_deviation", &share),
                ("failed_share", &|_, _| Some(0.0)),
            ],
        );
        let c = aggregate(&m, &r);
        assert!(c.best.iter().all(|b| !b.clear), "{:?}", c.best);
        let b = &c.variants.iter().find(|v| v.label == "b").unwrap();
        let d = b.versus_baseline["share_deviation"];
        assert!(!d.clear && d.ci95_low.is_none());
        assert_eq!(b.metrics["share_deviation"].ci95_low, None);
        let text = crate::report::compare::table(&c);
        assert!(!text.contains("clearly"), "{text}");
        assert!(text.contains("1 seed cannot tell it from a"), "{text}");
    }

    /// The seeds vary a lot (traffic), the variants' difference little but always the same way:
    /// as independent samples their intervals overlap; paired, the difference is clear.
    #[test]
    fn pairing_by_seed_tells_what_independent_intervals_cannot() {
        let m = meta(&["a", "b"], 10);
        let time = |v: usize, s: u64| Some(100.0 * (s % 5) as f64 + 200.0 + 3.0 * v as f64);
        let c = aggregate(&m, &results(2, 10, &[("app.web.page_load_ms", &time)]));
        let (a, b) = (
            &c.variants[0].metrics["app.web.page_load_ms"],
            &c.variants[1],
        );
        let bm = &b.metrics["app.web.page_load_ms"];
        assert!(
            a.ci95_high.unwrap() > bm.ci95_low.unwrap(),
            "the intervals overlap"
        );
        let d = b.versus_baseline["app.web.page_load_ms"];
        assert!(d.clear && (d.mean - 3.0).abs() < 1e-9, "{d:?}");
        let best = c
            .best
            .iter()
            .find(|x| x.metric == "app.web.page_load_ms")
            .unwrap();
        assert_eq!((best.variant.as_str(), best.clear), ("a", true));
    }

    /// Survivorship: only the variants that broke banking sessions had sessions end; the metric
    /// is missing for the others and no variant is named best in it.
    #[test]
    fn a_metric_some_variants_lack_is_missing_and_never_ranked() {
        let m = meta(&["a", "b", "nth"], 5);
        let success = |v: usize, _: u64| (v == 2).then_some(0.0);
        let c = aggregate(
            &m,
            &results(3, 5, &[("app.banking.session_success", &success)]),
        );
        assert!(
            c.best
                .iter()
                .all(|b| b.metric != "app.banking.session_success")
        );
        assert_eq!(c.missing["app.banking.session_success"], ["a", "b"]);
        let text = crate::report::compare::table(&c);
        assert!(
            text.contains("banking sessions ok missing for a, b (not ranked)"),
            "{text}"
        );
    }

    /// Breaks the seeds cannot tell apart count as equal and the split decides; breaks clearly
    /// more rank a variant below, however good its split.
    #[test]
    fn the_ranking_takes_breaks_only_where_the_seeds_tell_them_apart() {
        let m = meta(&["baseline", "even", "breaks"], 8);
        let broken = |v: usize, s: u64| {
            Some(match v {
                0 => 0.010 + 0.004 * (s % 3) as f64,
                1 => 0.011 + 0.004 * ((s + 1) % 3) as f64,
                _ => 0.200 + 0.001 * s as f64,
            })
        };
        let split = |v: usize, s: u64| Some([0.12, 0.01, 0.0][v] + 0.001 * s as f64);
        let c = aggregate(
            &m,
            &results(
                3,
                8,
                &[
                    ("failed_share", &broken),
                    ("capacity_share_deviation", &split),
                ],
            ),
        );
        let order: Vec<&str> = c.variants.iter().map(|v| v.label.as_str()).collect();
        assert_eq!(order, ["even", "baseline", "breaks"]);
        assert!(
            c.ranked_by
                .starts_with("fewest connections broken or stalled")
        );
    }

    #[test]
    fn shard_auto_reads_slurm_arrays_and_kubernetes_indexed_jobs() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let auto = ShardSpec::parse("auto").unwrap();
        // `sbatch --array=0-30:10`: ids 0, 10, 20, 30; id 20 is the third of four.
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "20"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(auto.resolve(slurm), Ok(Shard { index: 3, count: 4 }));
        let e = ShardSpec::parse("auto/5")
            .unwrap()
            .resolve(slurm)
            .unwrap_err();
        assert!(e.contains("auto/5, but SLURM_ARRAY_TASK_COUNT says"), "{e}");
        // Kubernetes numbers pods from 0 and does not say how many there are.
        let k8s = env(&[("JOB_COMPLETION_INDEX", "0")]);
        let e = auto.resolve(k8s).unwrap_err();
        assert!(e.contains("give --shard auto/N"), "{e}");
        let eight = ShardSpec::parse("auto/8").unwrap();
        assert_eq!(eight.resolve(k8s), Ok(Shard { index: 1, count: 8 }));
        let late = env(&[("JOB_COMPLETION_INDEX", "8")]);
        assert!(eight.resolve(late).unwrap_err().contains("task 9 of 8"));
        assert!(
            auto.resolve(env(&[]))
                .unwrap_err()
                .contains("no Slurm job array")
        );
        assert_eq!(
            ShardSpec::parse("2/3").unwrap().resolve(env(&[])),
            Ok(Shard { index: 2, count: 3 })
        );
    }
}
