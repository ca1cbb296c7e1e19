//! The router's CPUs over the run, when the scenario names a model: how busy each was second by
//! second, when one was full and what it dropped, and how busy it would have been had FastTrack
//! taken every established TCP and UDP connection — the sentence an owner asks for ("core 1 at
//! 100 % from 0:12 — FastTrack would bring it to 31 %").

use super::clock;
use crate::router::Router;
use crate::router::cpu::Second;
use crate::units::SEC;
use serde::Serialize;

/// A second at least this busy counts as full.
const FULL: f64 = 0.98;

/// Field names are a contract: keep them.
#[derive(Clone, Debug, Serialize)]
pub struct CpuSummary {
    pub model: String,
    pub cpus: u32,
    /// Where the model's figures come from.
    pub source: String,
    /// Per CPU, numbered from 1.
    pub per_cpu: Vec<CoreSummary>,
    /// Packets dropped for a full backlog, all CPUs.
    pub dropped: u64,
    /// The busiest CPU's account in a sentence.
    pub verdict: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CoreSummary {
    pub cpu: u32,
    pub packets: u64,
    pub dropped: u64,
    /// Busy over the run, 0–1.
    pub mean_utilization: f64,
    /// The busiest second's.
    pub peak_utilization: f64,
    pub peak_at_s: u64,
    /// The first and last seconds of its longest run of full seconds, if it had one.
    pub full_from_s: Option<u64>,
    pub full_to_s: Option<u64>,
    /// Its busiest second's, had FastTrack taken every established TCP and UDP connection
    /// (packets it dropped counted as they would have cost).
    pub peak_utilization_fasttracked: f64,
}

impl CpuSummary {
    pub fn new(router: &Router, seconds: u64) -> Option<CpuSummary> {
        let cpu = router.cpu.as_ref()?;
        let per_cpu: Vec<CoreSummary> = (cpu.seconds().enumerate())
            .map(|(i, s)| core(i, s, seconds.max(1) as usize))
            .collect();
        let busiest = (per_cpu.iter())
            .max_by(|a, b| {
                let full = |c: &CoreSummary| c.full_to_s.zip(c.full_from_s).map(|(t, f)| t - f + 1);
                (full(a), a.peak_utilization)
                    .partial_cmp(&(full(b), b.peak_utilization))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .expect("a model has CPUs");
        Some(CpuSummary {
            model: cpu.model.name.clone(),
            cpus: cpu.model.cpus,
            source: cpu.model.source.clone(),
            dropped: per_cpu.iter().map(|c| c.dropped).sum(),
            verdict: verdict(busiest),
            per_cpu,
        })
    }
}

/// CPU `i`'s account over a run of `secs` seconds, from what it did each second.
fn core(i: usize, seconds: &[Second], secs: usize) -> CoreSummary {
    let at = |k: usize| seconds.get(k).copied().unwrap_or_default();
    let util: Vec<f64> = (0..secs)
        .map(|k| (at(k).busy_ps as f64 / 1e12).min(1.0))
        .collect();
    let peak_at = (0..secs)
        .max_by(|&a, &b| util[a].total_cmp(&util[b]).then(b.cmp(&a)))
        .unwrap_or(0);
    // The longest run of full seconds.
    let (mut best, mut run) = (None::<(usize, usize)>, None::<usize>);
    for (k, u) in util.iter().enumerate() {
        if *u >= FULL {
            let from = *run.get_or_insert(k);
            if best.is_none_or(|(f, t)| t - f < k - from) {
                best = Some((from, k));
            }
        } else {
            run = None;
        }
    }
    // What FastTrack would leave of its busiest second: the handled packets' fast-tracked cost,
    // grown by the packets it dropped then.
    let peak = at(peak_at);
    let offered = (peak.packets + peak.dropped) as f64;
    let fasttracked = peak.fasttracked_ps as f64 / 1e12 * offered / (peak.packets as f64).max(1.0);
    CoreSummary {
        cpu: i as u32 + 1,
        packets: seconds.iter().map(|s| s.packets as u64).sum(),
        dropped: seconds.iter().map(|s| s.dropped as u64).sum(),
        mean_utilization: util.iter().sum::<f64>() / secs as f64,
        peak_utilization: util[peak_at],
        peak_at_s: peak_at as u64,
        full_from_s: best.map(|(f, _)| f as u64),
        full_to_s: best.map(|(_, t)| t as u64),
        peak_utilization_fasttracked: fasttracked,
    }
}

fn verdict(c: &CoreSummary) -> String {
    let fasttrack = match c.peak_utilization_fasttracked {
        f if f >= FULL => "FastTrack would not relieve it".to_string(),
        f => format!("FastTrack would bring it to {:.0} %", f * 100.0),
    };
    match (c.full_from_s, c.full_to_s) {
        (Some(from), Some(to)) => format!(
            "core {} at 100 % from {} to {}{} — {fasttrack}",
            c.cpu,
            clock(from * SEC),
            clock((to + 1) * SEC),
            match c.dropped {
                0 => String::new(),
                n => format!(", {n} packets dropped"),
            },
        ),
        _ => format!(
            "busiest core {} peaked at {:.0} % (at {}) — room to spare",
            c.cpu,
            c.peak_utilization * 100.0,
            clock(c.peak_at_s * SEC)
        ),
    }
}
