//! What a run measured: per WAN, connections and bytes each way, and a time series of
//! throughput and active connections; per connection, how it ended. The engine only adds to
//! counters here; [`crate::report`] turns them into tables, files and charts.

use crate::flow::{Cause, Outcome};
use crate::units::Time;
use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct WanMetrics {
    /// Interface name after renaming.
    pub name: String,
    pub isp: String,
    pub down_bps: u64,
    pub up_bps: u64,
    /// Connections whose first packet left by this WAN.
    pub connections: u64,
    pub bytes_down: u64,
    pub bytes_up: u64,
    pub packets_down: u64,
    pub packets_up: u64,
    /// Distinct (host, server) address pairs among those connections.
    pub address_pairs: FxHashSet<u64>,
    /// Connections currently open on this WAN.
    pub active: u32,
    /// Packets the link's buffers dropped, and packets it lost, both directions.
    pub queue_drops: u64,
    pub losses: u64,
    /// Bytes in the current sampling interval.
    interval_down: u64,
    interval_up: u64,
}

/// One row of the time series: one WAN over one interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub time: Time,
    pub wan: usize,
    pub down_bps: f64,
    pub up_bps: f64,
    pub active_connections: u32,
}

#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub wans: Vec<WanMetrics>,
    pub samples: Vec<Sample>,
    pub connections_total: u64,
    pub completed: u64,
    pub broken_by_cause: BTreeMap<Cause, u64>,
    /// Connections the LAN started that never left by a WAN.
    pub never_left: u64,
    /// Packets of a connection that left by another WAN than its first.
    pub packets_off_wan: u64,
    /// Packets that left a WAN without that WAN's address as source.
    pub packets_wrong_source: u64,
    /// Packets the router forwarded or delivered, all interfaces.
    pub router_packets: u64,
    pub events: u64,
}

impl WanMetrics {
    pub fn new(name: String, isp: String, down_bps: u64, up_bps: u64) -> WanMetrics {
        WanMetrics {
            name,
            isp,
            down_bps,
            up_bps,
            ..WanMetrics::default()
        }
    }
}

impl Metrics {
    pub fn new(wans: Vec<WanMetrics>) -> Metrics {
        Metrics {
            wans,
            ..Metrics::default()
        }
    }

    pub fn broken(&self) -> u64 {
        self.broken_by_cause.values().sum()
    }

    pub fn record_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Completed => self.completed += 1,
            Outcome::Broken(cause) => *self.broken_by_cause.entry(cause).or_default() += 1,
        }
    }

    pub fn sent_up(&mut self, wan: usize, bytes: u32) {
        let w = &mut self.wans[wan];
        w.bytes_up += bytes as u64;
        w.packets_up += 1;
        w.interval_up += bytes as u64;
    }

    pub fn received_down(&mut self, wan: usize, bytes: u32) {
        let w = &mut self.wans[wan];
        w.bytes_down += bytes as u64;
        w.packets_down += 1;
        w.interval_down += bytes as u64;
    }

    /// Closes the sampling interval of length `interval` ending at `now`.
    pub fn sample(&mut self, now: Time, interval: Time) {
        let secs = interval as f64 / 1e9;
        for (i, w) in self.wans.iter_mut().enumerate() {
            self.samples.push(Sample {
                time: now,
                wan: i,
                down_bps: w.interval_down as f64 * 8.0 / secs,
                up_bps: w.interval_up as f64 * 8.0 / secs,
                active_connections: w.active,
            });
            w.interval_down = 0;
            w.interval_up = 0;
        }
    }
}
