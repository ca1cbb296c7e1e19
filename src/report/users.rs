//! Per user: how evenly the LAN's hosts were served — Jain's fairness index of their download
//! goodput, overall and per WAN, its spread, and the share the busiest tenth took — and what
//! each queue did (packets, drops, the time packets waited). `hosts.csv` lists every host.

use crate::router::Router;
use crate::units::{SEC, Time};
use crate::world::metrics::{Metrics, jain};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Field names are a contract: keep them.
#[derive(Clone, Debug, Serialize)]
pub struct UsersSummary {
    /// Hosts that received anything.
    pub active: u64,
    /// Jain's index of the active hosts' download goodput: 1 all equal, 1/n one took all.
    pub jain_index: Option<f64>,
    /// The same among the hosts each WAN served, by WAN name.
    pub jain_index_by_wan: BTreeMap<String, f64>,
    /// The active hosts' download goodput (payload), bit/s over the run.
    pub goodput_down_bps: Spread,
    /// The share of all downloaded bytes the busiest tenth of the active hosts took.
    pub top_decile_byte_share: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

/// One queue's account. Field names are a contract: keep them.
#[derive(Clone, Debug, Serialize)]
pub struct QueueSummary {
    pub name: String,
    pub line: u32,
    /// `upload` or `download` for a simple queue, `tree` for a tree queue.
    pub direction: String,
    pub packets: u64,
    pub bytes: u64,
    pub dropped: u64,
    /// Dropped over offered (sent and dropped).
    pub drop_share: f64,
    /// The time its packets waited, on average.
    pub mean_delay_ms: f64,
}

impl UsersSummary {
    pub fn new(metrics: &Metrics, duration: Time) -> UsersSummary {
        let h = &metrics.hosts;
        let secs = (duration as f64 / SEC as f64).max(1e-9);
        let mut rates: Vec<f64> = (h.down.iter())
            .filter(|b| **b > 0)
            .map(|b| *b as f64 * 8.0 / secs)
            .collect();
        rates.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((rates.len() as f64 - 1.0) * q).round() as usize;
            rates.get(i).copied().unwrap_or(0.0)
        };
        let total: f64 = rates.iter().sum();
        let top = rates.len().div_ceil(10);
        let top_sum: f64 = rates.iter().rev().take(top).sum();
        let jain_index_by_wan = (metrics.wans.iter().enumerate())
            .filter_map(|(w, wan)| {
                let per_host = (0..h.down.len())
                    .map(|i| h.down_by_wan[i * h.wans + w])
                    .filter(|b| *b > 0)
                    .map(|b| b as f64);
                Some((wan.name.clone(), jain(per_host)?))
            })
            .collect();
        UsersSummary {
            active: rates.len() as u64,
            jain_index: jain(rates.iter().copied()),
            jain_index_by_wan,
            goodput_down_bps: Spread {
                min: at(0.0),
                median: at(0.5),
                p90: at(0.9),
                max: at(1.0),
            },
            top_decile_byte_share: if total > 0.0 { top_sum / total } else { 0.0 },
        }
    }
}

/// Each queue the router ran, with what it did.
pub fn queues(router: &Router) -> Vec<QueueSummary> {
    (router.queues.stats().into_iter())
        .map(|(name, line, direction, s)| QueueSummary {
            name,
            line,
            direction: direction.to_string(),
            packets: s.packets,
            bytes: s.bytes,
            dropped: s.dropped,
            drop_share: s.dropped as f64 / (s.packets + s.dropped).max(1) as f64,
            mean_delay_ms: s.delay as f64 / s.packets.max(1) as f64 / 1e6,
        })
        .collect()
}

pub const HOSTS_FILE: &str = "hosts.csv";

/// `hosts.csv`: per LAN host, its payload bytes down and up, its download goodput, and its
/// bytes down by WAN.
pub fn hosts_csv(metrics: &Metrics, duration: Time) -> String {
    let h = &metrics.hosts;
    let secs = (duration as f64 / SEC as f64).max(1e-9);
    let mut out = String::from("host,bytes_down,bytes_up,goodput_down_bps");
    for w in &metrics.wans {
        let _ = write!(out, ",bytes_down_{}", w.name);
    }
    out.push('\n');
    for i in 0..h.down.len() {
        let _ = write!(
            out,
            "{},{},{},{:.0}",
            h.address(i),
            h.down[i],
            h.up[i],
            h.down[i] as f64 * 8.0 / secs
        );
        for w in 0..h.wans {
            let _ = write!(out, ",{}", h.down_by_wan[i * h.wans + w]);
        }
        out.push('\n');
    }
    out
}
