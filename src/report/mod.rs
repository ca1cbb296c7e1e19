//! Turns a run's metrics into what people read: a table per WAN on the terminal,
//! `summary.json`, `timeseries.csv`, `connections.csv` and charts (PNG and SVG).
//!
//! Files go into a [`ResultsFolder`]'s staging folder and appear together when the run is
//! complete; see [`folder`] for how a user's own files are kept safe.

pub mod bottleneck;
mod charts;
pub mod compare;
pub mod cpu;
mod folder;
mod html;
pub mod lesson;
pub mod users;

pub use folder::{Kind as ResultsKind, ResultsFolder, clean_up_on_signal};

use crate::error::Error;
use crate::scenario::Loaded;
use crate::units::{SEC, Time};
use crate::world::engine::Run;
use crate::world::flow::{Cause, Outcome};
use crate::world::metrics::{ConnectionLog, ConnectionRecord, Metrics};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// `summary.json`. Field names are a contract other tools rely on: add, never rename.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub duration_s: f64,
    pub dialect: String,
    /// LAN hosts, and how much their rates differ (`lan.activity_spread`: each host's rate is
    /// the apps' times a log-normal factor; the factors average exactly 1).
    pub hosts: u32,
    pub activity_spread: f64,
    pub wans: Vec<WanSummary>,
    pub connections: Connections,
    /// Per connection mark, the share of new LAN connections the PCC rules give it.
    pub configured_shares: BTreeMap<String, f64>,
    pub checks: Checks,
    pub router: RouterSummary,
    pub not_simulated: Vec<crate::router::config::NotSimulated>,
    /// What `pccsim check` finds in the configuration.
    pub findings: Vec<crate::check::Finding>,
    /// One entry per failure on the scenario's timeline.
    pub failover: Vec<FailoverSummary>,
    /// Per `/tool netwatch` entry, each change of its host's status.
    pub netwatch: Vec<NetwatchSummary>,
    /// Errors of the scripts the router ran during the run.
    pub script_errors: Vec<String>,
    /// Per application of the scenario: how its users fared.
    pub apps: Vec<AppSummary>,
    /// The same per host class of the LAN (`lan.classes`), for the applications its hosts
    /// ran; empty when the LAN has no classes.
    pub apps_by_class: Vec<ClassApps>,
    /// How evenly the LAN's hosts were served.
    pub users: users::UsersSummary,
    /// Each `/queue simple` (each way) and `/queue tree` queue, with what it did.
    pub queues: Vec<users::QueueSummary>,
    /// The router's CPUs, when the scenario names its model (`null` otherwise).
    pub cpu: Option<cpu::CpuSummary>,
    /// What made this result: pccsim's version and commit, the inputs' hashes, the seed.
    pub provenance: crate::provenance::Provenance,
}

/// One application's quality. Field names are a contract: keep them.
#[derive(Clone, Debug, Serialize)]
pub struct AppSummary {
    pub name: String,
    pub connections: u64,
    pub completed: u64,
    pub broken: u64,
    /// Completed connections: mean time from the first packet to the last byte, and mean
    /// goodput (both directions) over that time.
    pub mean_completion_ms: Option<f64>,
    pub mean_goodput_mbps: Option<f64>,
    /// Sessions of several connections (web pages, banking): how many ended, the share that
    /// ended without a broken connection, and the failures by the first cause.
    pub sessions: u64,
    pub session_success: Option<f64>,
    pub sessions_failed_by_cause: BTreeMap<String, u64>,
    /// Web pages: mean time for all of a page's objects.
    pub mean_page_load_ms: Option<f64>,
    /// Videos: mean startup delay, and the share of watching time spent waiting for segments
    /// (stalled / (played + stalled)).
    pub mean_startup_ms: Option<f64>,
    pub rebuffer_ratio: Option<f64>,
    /// Calls: mean MOS of the worse direction, ITU-T G.107 E-model.
    pub mean_mos: Option<f64>,
    /// Persistent streams (tunnels, registrations; null for other apps): how many were ever
    /// dead, their dead time in all, and the longest dead stretch of any.
    pub flows_dead: Option<u64>,
    pub time_dead_s: Option<f64>,
    pub longest_dead_s: Option<f64>,
    /// Per WAN (the scenario's order), its connections that ended having left by it: which
    /// WAN the app's traffic used.
    pub per_wan: Vec<AppWan>,
}

/// One application's ended connections on one WAN. Field names are a contract: keep them.
#[derive(Clone, Debug, Serialize)]
pub struct AppWan {
    pub wan: String,
    pub connections: u64,
    pub broken: u64,
    pub bytes: u64,
    /// Its share of the app's bytes.
    pub byte_share: f64,
}

/// One host class's applications. Field names are a contract: keep them.
#[derive(Clone, Debug, Serialize)]
pub struct ClassApps {
    pub class: String,
    pub hosts: u32,
    pub apps: Vec<AppSummary>,
}

impl AppSummary {
    /// `kind`: the app's, `None` for an inbound service. A stream's (a call's) completion time
    /// is only its length, so streams report their MOS instead.
    fn new(
        a: &crate::world::metrics::AppMetrics,
        kind: Option<&crate::scenario::AppKind>,
        wans: &[String],
    ) -> AppSummary {
        use crate::scenario::AppKind;
        let ms = |t: Time, n: u64| (n > 0).then(|| t as f64 / n as f64 / 1e6);
        let secs = a.transfer_time as f64 / SEC as f64;
        let pages = matches!(kind, Some(AppKind::Web { .. }));
        let streams = matches!(kind, Some(AppKind::UdpStream { .. } | AppKind::Call { .. }));
        let calls = matches!(kind, Some(AppKind::Call { .. }));
        AppSummary {
            name: a.name.clone(),
            connections: a.connections,
            completed: a.completed,
            broken: a.broken,
            mean_completion_ms: ms(a.transfer_time, a.completed).filter(|_| !streams),
            mean_goodput_mbps: (secs > 0.0 && !streams)
                .then(|| a.transfer_bytes as f64 * 8.0 / secs / 1e6),
            sessions: a.sessions,
            session_success: (a.sessions > 0).then(|| 1.0 - share(a.sessions_failed(), a.sessions)),
            sessions_failed_by_cause: by_cause(a.sessions_failed.iter().map(|(c, n)| (*c, *n))),
            mean_page_load_ms: ms(a.step_time, a.steps).filter(|_| pages),
            mean_mos: (a.calls > 0 && calls).then(|| a.mos_sum / a.calls as f64),
            flows_dead: (a.persistent > 0).then_some(a.flows_dead),
            time_dead_s: (a.persistent > 0).then(|| a.dead_time as f64 / SEC as f64),
            longest_dead_s: (a.persistent > 0).then(|| a.longest_dead as f64 / SEC as f64),
            mean_startup_ms: ms(a.startup_time, a.videos),
            rebuffer_ratio: (a.videos > 0)
                .then(|| a.stalled as f64 / (a.played + a.stalled).max(1) as f64),
            per_wan: {
                let bytes: u64 = a.per_wan.iter().map(|u| u.bytes).sum();
                (wans.iter().enumerate())
                    .map(|(i, wan)| {
                        let u = a.per_wan.get(i).copied().unwrap_or_default();
                        AppWan {
                            wan: wan.clone(),
                            connections: u.connections,
                            broken: u.broken,
                            bytes: u.bytes,
                            byte_share: share(u.bytes, bytes),
                        }
                    })
                    .collect()
            },
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct NetwatchSummary {
    pub host: String,
    pub line: u32,
    pub changes: Vec<NetwatchChange>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NetwatchChange {
    pub at_s: f64,
    pub status: &'static str,
    /// Whether its up- or down-script ran (not for the first status after the start).
    pub script_ran: bool,
}

/// A failure and the router's reaction. Field names are a contract: keep them.
#[derive(Clone, Debug, Serialize)]
pub struct FailoverSummary {
    pub wan: String,
    pub kind: String,
    pub failed_at_s: f64,
    pub detected_at_s: Option<f64>,
    pub recovered_at_s: Option<f64>,
    pub failback_at_s: Option<f64>,
    /// Times the router put the WAN back while it was still failed and took it out again.
    pub flaps: u32,
    pub broken_at_failover: u64,
    pub broken_at_failback: u64,
    pub new_connections: u64,
    pub new_connection_failures: u64,
    /// Per app with new connections that broke during the outage: seconds from the failure to
    /// the start of the last of them — its new connections have worked since.
    pub service_restored_after_s: BTreeMap<String, f64>,
}

impl FailoverSummary {
    fn new(f: &crate::world::metrics::Failure, metrics: &Metrics) -> FailoverSummary {
        let secs = |t: Time| t as f64 / SEC as f64;
        FailoverSummary {
            wan: metrics.wans[f.wan].name.clone(),
            kind: f.kind.name().to_string(),
            failed_at_s: secs(f.failed_at),
            detected_at_s: f.detected_at.map(secs),
            recovered_at_s: f.recovered_at.map(secs),
            failback_at_s: f.failback_at.map(secs),
            flaps: f.flaps,
            broken_at_failover: f.broken_at_failover,
            broken_at_failback: f.broken_at_failback,
            new_connections: f.new_connections,
            new_connection_failures: f.new_connection_failures,
            service_restored_after_s: (f.last_failed_start.iter())
                .map(|(&app, &t)| {
                    let name = metrics.accounts[app as usize].name.clone();
                    (name, secs(t.saturating_sub(f.failed_at)))
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct WanSummary {
    pub name: String,
    pub isp: String,
    pub connections: u64,
    pub connection_share: f64,
    /// The share the configuration asks for, where PCC rules lead to this WAN.
    pub configured_share: Option<f64>,
    pub address_pairs: u64,
    pub address_pair_share: f64,
    pub bytes_down: u64,
    pub bytes_up: u64,
    pub byte_share: f64,
    /// This WAN's share of the bytes of ended connections a classifier (PCC, `nth`) placed —
    /// the split the configured shares speak of, without traffic other rules pin; `None`
    /// when no classifier placed any.
    pub classified_byte_share: Option<f64>,
    pub capacity_down_bps: u64,
    pub capacity_up_bps: u64,
    /// Round trip from the LAN through this WAN to a server of median distance, without
    /// queueing.
    pub base_rtt_ms: f64,
    pub mean_utilisation_down: f64,
    pub mean_utilisation_up: f64,
    pub peak_utilisation_down: f64,
    pub peak_utilisation_up: f64,
    /// Packets dropped by the link's full buffers, and lost on the line, both directions.
    pub queue_drops: u64,
    pub losses: u64,
    /// Connections that had left by this WAN and broke, in all and by cause.
    pub broken: u64,
    pub broken_by_cause: BTreeMap<String, u64>,
    /// Bytes this WAN carried, both ways, while another WAN was out of service (from its
    /// failure until the router used it again).
    pub bytes_during_outage: u64,
    /// Connections started here during another WAN's outage that stayed here after the
    /// failback although a new connection of theirs would go back.
    pub stranded_after_failback: StrandedSummary,
}

/// Field names are a contract: keep them.
#[derive(Clone, Debug, Serialize)]
pub struct StrandedSummary {
    pub connections: u64,
    /// Bytes they carried on this WAN after the failback, both ways.
    pub bytes: u64,
    /// The longest any stayed after the failback.
    pub longest_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Connections {
    pub total: u64,
    pub completed: u64,
    pub broken: u64,
    /// Broken connections over those that ended (completed or broken).
    pub broken_share: f64,
    pub broken_by_cause: BTreeMap<String, u64>,
    pub active_at_end: u64,
    /// Of those still open at the end, the ones a fault holds back (their SYN, request or
    /// data retried since a packet of theirs met it): they would break given time, so a short
    /// run counts them, by the fault.
    pub stalled: u64,
    pub stalled_by_cause: BTreeMap<String, u64>,
    /// Broken and stalled over those that ended or stalled: what `--max-broken` judges.
    pub failed_share: f64,
    /// Started by a host but never forwarded out of any WAN.
    pub never_left: u64,
}

/// Invariants PCC promises, counted rather than assumed.
#[derive(Clone, Debug, Serialize)]
pub struct Checks {
    /// Packets of a connection that left by a different WAN than its first packet.
    pub packets_off_wan: u64,
    /// Packets that left a WAN without that WAN's address as their source.
    pub packets_wrong_source: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct RouterSummary {
    pub packets: u64,
    pub conntrack_entries_at_end: u64,
    pub events: u64,
}

/// Causes with a count, by name.
fn by_cause(counts: impl Iterator<Item = (Cause, u64)>) -> BTreeMap<String, u64> {
    counts
        .filter(|(_, n)| *n > 0)
        .map(|(c, n)| (c.name().to_string(), n))
        .collect()
}

/// The share of new LAN connections the PCC rules send out of the interface `iface_name`;
/// `None` without PCC rules.
pub fn configured_share(router: &crate::Router, iface_name: &str) -> Option<f64> {
    let shares = crate::router::pcc::configured_shares(&router.config.mangle);
    let total: f64 = shares
        .iter()
        .filter(|(mark, _)| {
            router
                .wan_of_mark(*mark)
                .is_some_and(|i| router.config.iface_name(i) == iface_name)
        })
        .fold(0.0, |acc, (_, s)| acc + s);
    (!shares.is_empty()).then_some(total)
}

fn share(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

impl Summary {
    /// What `run` measured in the world `loaded` describes.
    pub fn new(loaded: &Loaded, run: &Run) -> Summary {
        let (seed, duration, metrics, router) = (run.seed, run.duration, &run.metrics, &run.router);
        let active = run.active_connections;
        let stalled: u64 = metrics.stalled.values().sum();
        let shares = crate::router::pcc::configured_shares(&router.config.mangle);
        let configured_for = |iface_name: &str| configured_share(router, iface_name);
        let conns: u64 = metrics.wans.iter().map(|w| w.connections).sum();
        let pairs: u64 = metrics
            .wans
            .iter()
            .map(|w| w.address_pairs.len() as u64)
            .sum();
        let bytes: u64 = metrics.wans.iter().map(|w| w.bytes_down + w.bytes_up).sum();
        let classified: u64 = metrics.wans.iter().map(|w| w.classified_bytes).sum();
        let secs = duration as f64 / SEC as f64;
        // Servers sit log-uniformly far from the core: the median one is at the geometric mean.
        let (near, far) = loaded.scenario.internet.server_latency;
        let server = (near.0 as f64 * far.0.max(near.0) as f64).sqrt();
        let wans = metrics
            .wans
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let samples = metrics.samples.iter().filter(|s| s.wan == i);
                let (peak_down, peak_up) = samples.fold((0.0f64, 0.0f64), |(d, u), s| {
                    (d.max(s.down_bps), u.max(s.up_bps))
                });
                WanSummary {
                    name: w.name.clone(),
                    isp: w.isp.clone(),
                    connections: w.connections,
                    connection_share: share(w.connections, conns),
                    configured_share: configured_for(&w.name),
                    address_pairs: w.address_pairs.len() as u64,
                    address_pair_share: share(w.address_pairs.len() as u64, pairs),
                    bytes_down: w.bytes_down,
                    bytes_up: w.bytes_up,
                    byte_share: share(w.bytes_down + w.bytes_up, bytes),
                    classified_byte_share: (classified > 0)
                        .then(|| share(w.classified_bytes, classified)),
                    capacity_down_bps: w.down_bps,
                    capacity_up_bps: w.up_bps,
                    base_rtt_ms: run.base_latency[i]
                        .map_or(f64::NAN, |t| 2.0 * (t as f64 + server) / 1e6),
                    mean_utilisation_down: w.bytes_down as f64 * 8.0 / secs / w.down_bps as f64,
                    mean_utilisation_up: w.bytes_up as f64 * 8.0 / secs / w.up_bps as f64,
                    peak_utilisation_down: peak_down / w.down_bps as f64,
                    peak_utilisation_up: peak_up / w.up_bps as f64,
                    queue_drops: w.queue_drops,
                    losses: w.losses,
                    broken: w.broken_by_cause.iter().sum(),
                    broken_by_cause: by_cause(
                        Cause::ALL
                            .iter()
                            .map(|&c| (c, w.broken_by_cause[c as usize])),
                    ),
                    bytes_during_outage: w.bytes_during_outage,
                    stranded_after_failback: StrandedSummary {
                        connections: w.stranded.connections,
                        bytes: w.stranded.bytes,
                        longest_s: w.stranded.longest as f64 / SEC as f64,
                    },
                }
            })
            .collect();
        Summary {
            scenario: loaded.scenario.name.clone(),
            seed,
            duration_s: secs,
            dialect: router.config.dialect.name().to_string(),
            hosts: loaded.scenario.lan.hosts,
            activity_spread: loaded.scenario.lan.activity_spread,
            wans,
            connections: Connections {
                total: metrics.connections_total,
                completed: metrics.completed,
                broken: metrics.broken(),
                broken_share: share(metrics.broken(), metrics.completed + metrics.broken()),
                broken_by_cause: by_cause(metrics.broken_by_cause.iter().map(|(c, n)| (*c, *n))),
                active_at_end: active,
                stalled,
                stalled_by_cause: by_cause(metrics.stalled.iter().map(|(c, n)| (*c, *n))),
                failed_share: share(
                    metrics.broken() + stalled,
                    metrics.completed + metrics.broken() + stalled,
                ),
                never_left: metrics.never_left,
            },
            configured_shares: shares
                .iter()
                .map(|(m, s)| (router.config.connection_marks.name(m.0).to_string(), *s))
                .collect(),
            checks: Checks {
                packets_off_wan: metrics.packets_off_wan,
                packets_wrong_source: metrics.packets_wrong_source,
            },
            router: RouterSummary {
                packets: metrics.router_packets,
                conntrack_entries_at_end: router.conntrack.len() as u64,
                events: metrics.events,
            },
            not_simulated: router.config.not_simulated.clone(),
            findings: crate::check::check(&router.config).findings,
            netwatch: metrics
                .netwatch
                .iter()
                .map(|n| NetwatchSummary {
                    host: n.host.to_string(),
                    line: n.line,
                    changes: n
                        .changes
                        .iter()
                        .map(|&(at, up, script_ran)| NetwatchChange {
                            at_s: at as f64 / SEC as f64,
                            status: if up { "up" } else { "down" },
                            script_ran,
                        })
                        .collect(),
                })
                .collect(),
            script_errors: metrics.script_errors.clone(),
            apps: app_summaries(&metrics.apps(), &loaded.scenario.apps, metrics),
            apps_by_class: (metrics.apps_by_class().enumerate())
                .map(|(c, (class, accounts))| ClassApps {
                    class: class.to_string(),
                    hosts: (metrics.host_class.iter())
                        .filter(|&&h| usize::from(h) == c + 1)
                        .count() as u32,
                    apps: app_summaries(accounts, &loaded.scenario.apps, metrics)
                        .into_iter()
                        .filter(|a| a.connections > 0)
                        .collect(),
                })
                .collect(),
            users: users::UsersSummary::new(metrics, duration),
            queues: users::queues(router),
            cpu: cpu::CpuSummary::new(router, duration.div_ceil(SEC)),
            failover: metrics
                .failures
                .iter()
                .map(|f| FailoverSummary::new(f, metrics))
                .collect(),
            provenance: crate::provenance::Provenance::of(loaded, vec![seed], 1),
        }
    }

    /// More than `threshold` of the connections that ended broke.
    /// More than `threshold` of the connections broke or stalled.
    pub fn too_many_broken(&self, threshold: f64) -> bool {
        self.connections.failed_share > threshold
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("summary serialises") + "\n"
    }
}

/// Each application's summary from its accounts (in the scenario's order).
fn app_summaries(
    accounts: &[crate::world::metrics::AppMetrics],
    apps: &[crate::scenario::App],
    metrics: &Metrics,
) -> Vec<AppSummary> {
    let names: Vec<String> = metrics.wans.iter().map(|w| w.name.clone()).collect();
    (accounts.iter().enumerate())
        .map(|(i, a)| {
            let kind = apps.get(i).map(|app| &app.kind);
            AppSummary::new(a, kind, &names)
        })
        .collect()
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A column of the WAN table: its heading, and a WAN's cell.
pub type WanColumn = (&'static str, fn(&WanSummary) -> String);

/// The WAN table's columns, for the terminal and `report.html` alike.
pub const WAN_COLUMNS: [WanColumn; 12] = [
    ("WAN", |w| w.name.clone()),
    ("ISP", |w| w.isp.clone()),
    ("conns", |w| w.connections.to_string()),
    ("share", |w| pct(w.connection_share)),
    ("configured", |w| w.configured_share.map_or("-".into(), pct)),
    ("down", |w| human_bytes(w.bytes_down)),
    ("up", |w| human_bytes(w.bytes_up)),
    ("byte share", |w| pct(w.byte_share)),
    ("util down", |w| pct(w.mean_utilisation_down)),
    ("peak down", |w| pct(w.peak_utilisation_down)),
    ("util up", |w| pct(w.mean_utilisation_up)),
    ("broken", |w| {
        format!("{} ({})", w.broken, pct(share(w.broken, w.connections)))
    }),
];

/// The terminal table: one row per WAN, then the connections' fate; a banner when more than
/// `max_broken` of the connections that ended broke.
pub fn table(s: &Summary, max_broken: f64) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{} — seed {}, {:.0} s simulated, config {}; {} hosts",
        s.scenario, s.seed, s.duration_s, s.dialect, s.hosts
    );
    let _ = match s.activity_spread {
        0.0 => writeln!(out, " at the apps' rates"),
        spread => writeln!(out, " at the apps' rates on average (spread σ = {spread})"),
    };
    let header: Vec<&str> = WAN_COLUMNS.iter().map(|(h, _)| *h).collect();
    let rows: Vec<Vec<String>> = (s.wans.iter())
        .map(|w| WAN_COLUMNS.iter().map(|(_, cell)| cell(w)).collect())
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| -> String {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, t)| {
                if c < 2 {
                    format!("{t:<w$}", w = widths[c])
                } else {
                    format!("{t:>w$}", w = widths[c])
                }
            })
            .collect();
        parts.join("  ")
    };
    let _ = writeln!(out, "{}", line(header.clone()));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
    let c = &s.connections;
    let _ = write!(
        out,
        "connections: {} started, {} completed, {} broken",
        c.total, c.completed, c.broken
    );
    let list = |m: &BTreeMap<String, u64>| {
        let causes: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
        causes.join(", ")
    };
    if !c.broken_by_cause.is_empty() {
        let _ = write!(out, " ({})", list(&c.broken_by_cause));
    }
    let _ = write!(out, ", {} still open", c.active_at_end);
    if c.stalled > 0 {
        let _ = write!(
            out,
            ", {} of them stalled by a fault ({})",
            c.stalled,
            list(&c.stalled_by_cause)
        );
    }
    let _ = writeln!(out);
    for a in s.apps.iter().filter(|a| a.session_success.is_some()) {
        let failed: Vec<String> = a
            .sessions_failed_by_cause
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = write!(
            out,
            "sessions: {} {} ended, {} succeeded",
            a.name,
            a.sessions,
            pct(a.session_success.unwrap_or(0.0))
        );
        if !failed.is_empty() {
            let _ = write!(out, " (failed: {})", failed.join(", "));
        }
        let _ = writeln!(out);
    }
    for a in &s.apps {
        if let (Some(n), Some(dead), Some(longest)) =
            (a.flows_dead, a.time_dead_s, a.longest_dead_s)
            && n > 0
        {
            let _ = writeln!(
                out,
                "tunnels: {} — {n} of {} were dead for a while, {dead:.0} s in all, the longest {longest:.0} s",
                a.name, a.connections
            );
        }
    }
    if let Some(c) = &s.cpu {
        let _ = writeln!(out, "cpu: {} ({} CPUs): {}", c.model, c.cpus, c.verdict);
    }
    if s.checks.packets_off_wan > 0 || s.checks.packets_wrong_source > 0 {
        let _ = writeln!(
            out,
            "warning: {} packets left by another WAN than their connection's first, {} with another WAN's address",
            s.checks.packets_off_wan, s.checks.packets_wrong_source
        );
    }
    for n in &s.not_simulated {
        let lines: Vec<String> = n.lines.iter().map(u32::to_string).collect();
        let _ = writeln!(out, "not simulated: {} (line {})", n.menu, lines.join(", "));
    }
    for f in &s.failover {
        let at = |t: Option<f64>| t.map_or("never".to_string(), |t| format!("{t:.1} s"));
        // A WAN never taken out of service is not "used again": it was never left.
        let again = |t: Option<f64>| match f.detected_at_s {
            None => "-".to_string(),
            Some(_) => at(t),
        };
        let _ = writeln!(
            out,
            "failover: {} {} failed at {:.1} s, detected {}, repaired {}, used again {}{}; broke {} at failover, {} at failback; {} of {} new connections during the outage failed",
            f.wan,
            f.kind,
            f.failed_at_s,
            at(f.detected_at_s),
            at(f.recovered_at_s),
            again(f.failback_at_s),
            match f.flaps {
                0 => String::new(),
                n => format!(" (after {n} premature returns)"),
            },
            f.broken_at_failover,
            f.broken_at_failback,
            f.new_connection_failures,
            f.new_connections
        );
    }
    for w in s.wans.iter().filter(|w| w.bytes_during_outage > 0) {
        let st = &w.stranded_after_failback;
        let _ = write!(
            out,
            "outages: {} carried {} while another WAN was out",
            w.name,
            human_bytes(w.bytes_during_outage)
        );
        let _ = match st.connections {
            0 => writeln!(out),
            n => writeln!(
                out,
                "; {n} connections stayed on it after the failback ({} more, the longest {:.0} s)",
                human_bytes(st.bytes),
                st.longest_s
            ),
        };
    }
    if s.too_many_broken(max_broken) {
        let mut failed = c.broken_by_cause.clone();
        for (cause, n) in &c.stalled_by_cause {
            *failed.entry(cause.clone()).or_default() += n;
        }
        let worst = failed.iter().max_by_key(|(_, n)| **n);
        let rule = "!".repeat(78);
        let _ = writeln!(out, "{rule}");
        let _ = writeln!(
            out,
            "!! BROKEN: {} of the connections broke or stalled (more than {}).",
            pct(c.failed_share),
            pct(max_broken)
        );
        if let Some((cause, n)) = worst {
            let _ = writeln!(
                out,
                "!! Most often: {cause} ({n}). The shares above describe a network that does not work."
            );
        }
        let _ = writeln!(out, "{rule}");
    }
    out
}

/// `timeseries.csv`: one row per WAN per sampling interval.
pub fn timeseries_csv(metrics: &Metrics) -> String {
    let mut out = String::from("time_s,wan,down_bps,up_bps,active_connections,broken");
    for c in Cause::ALL {
        let _ = write!(out, ",broken.{}", c.name());
    }
    out.push_str(",queue_drops,losses,mean_rtt_ms,link_up,gateway_reachable,in_service");
    for line in &metrics.route_lines {
        let _ = write!(out, ",route.line{line}");
    }
    for n in &metrics.netwatch {
        let _ = write!(out, ",netwatch.{}", n.host);
    }
    out.push('\n');
    let wans = metrics.wans.len().max(1);
    for (row, s) in metrics.samples.iter().enumerate() {
        let _ = write!(
            out,
            "{},{},{:.0},{:.0},{},{}",
            s.time as f64 / SEC as f64,
            metrics.wans[s.wan].name,
            s.down_bps,
            s.up_bps,
            s.active_connections,
            s.broken.iter().sum::<u32>()
        );
        for n in s.broken {
            let _ = write!(out, ",{n}");
        }
        let rtt = s
            .mean_rtt
            .map_or(String::new(), |t| format!("{:.3}", t as f64 / 1e6));
        let _ = write!(
            out,
            ",{},{},{rtt},{},{},{}",
            s.queue_drops,
            s.losses,
            u8::from(s.link_up),
            u8::from(s.gateway_reachable),
            u8::from(s.in_service)
        );
        // Router-wide states, the same on each WAN's row of the interval.
        if let Some(state) = metrics.router_states.get(row / wans) {
            for active in &state.routes_active {
                let _ = write!(out, ",{}", u8::from(*active));
            }
            for up in &state.netwatch_up {
                let _ = write!(
                    out,
                    ",{}",
                    up.map_or(String::new(), |u| u8::from(u).to_string())
                );
            }
        }
        out.push('\n');
    }
    out
}

/// The files a run writes besides optional ones: what a results folder must have room for.
pub const FILES: [&str; 12] = [
    "report.html",
    users::HOSTS_FILE,
    "apps.png",
    "apps.svg",
    "summary.json",
    "timeseries.csv",
    "throughput.png",
    "throughput.svg",
    "shares.png",
    "shares.svg",
    "health.png",
    "health.svg",
];

/// The failover chart, written when the scenario has a timeline.
pub const FAILOVER_FILES: [&str; 2] = ["failover.png", "failover.svg"];

/// `connections.csv`, written as connections end.
pub const CONNECTIONS_FILE: &str = "connections.csv";

/// What a report shows of where its results came from: the scenario file as written and the
/// router's configuration as pccsim read it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Sources {
    pub scenario: String,
    /// The configuration as pccsim read it (its `/export`), and as written, with its file.
    pub config: String,
    #[serde(default)]
    pub config_text: String,
    pub config_file: String,
}

impl Sources {
    pub fn of(loaded: &Loaded) -> Sources {
        let cfg = &loaded.config;
        Sources {
            scenario: loaded.scenario_text.to_string(),
            config: crate::routeros::export::export(cfg, cfg.dialect, false),
            config_text: loaded.config_text.to_string(),
            config_file: loaded.config_file.clone(),
        }
    }
}

/// Writes the summary, time series, charts and `report.html` into `dir`; the page's banner
/// shows when more than `max_broken` of the connections broke.
pub fn write_files(
    dir: &Path,
    summary: &Summary,
    metrics: &Metrics,
    sources: &Sources,
    max_broken: f64,
) -> Result<(), Error> {
    let write = |file: &str, text: &str| {
        let p = dir.join(file);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
    };
    write("summary.json", &summary.to_json())?;
    write("timeseries.csv", &timeseries_csv(metrics))?;
    let duration = (summary.duration_s * SEC as f64) as crate::units::Time;
    write(users::HOSTS_FILE, &users::hosts_csv(metrics, duration))?;
    charts::throughput(dir, summary, metrics)?;
    charts::shares(dir, summary)?;
    charts::health(dir, summary, metrics)?;
    if !summary.failover.is_empty() {
        charts::failover(dir, summary, metrics)?;
    }
    charts::apps(dir, summary)?;
    let page = html::run_page(summary, dir, sources, max_broken)?;
    write(html::REPORT_FILE, &page)
}

/// `connections.csv`: one row per connection, streamed to `out` as each ends.
pub struct ConnectionsCsv<W: std::io::Write + Send> {
    out: W,
    wans: Vec<String>,
    apps: Vec<String>,
    line: String,
    /// The first write error; later rows are not attempted.
    error: Option<std::io::Error>,
}

impl<W: std::io::Write + Send> ConnectionsCsv<W> {
    pub fn new(mut out: W, wans: Vec<String>, apps: Vec<String>) -> ConnectionsCsv<W> {
        let header = "start_s,end_s,app,protocol,src,src_port,dst,dst_port,wan,bytes_up,bytes_down,outcome,cause\n";
        let error = out.write_all(header.as_bytes()).err();
        ConnectionsCsv {
            out,
            wans,
            apps,
            line: String::with_capacity(160),
            error,
        }
    }
}

impl<W: std::io::Write + Send> ConnectionLog for ConnectionsCsv<W> {
    fn record(&mut self, c: &ConnectionRecord) {
        if self.error.is_some() {
            return;
        }
        let secs = |t: Time| t as f64 / SEC as f64;
        let (outcome, cause) = match c.outcome {
            None => ("open", ""),
            Some(Outcome::Completed) => ("completed", ""),
            Some(Outcome::Broken(cause)) => ("broken", cause.name()),
        };
        let t = &c.tuple;
        self.line.clear();
        let _ = writeln!(
            self.line,
            "{:.6},{},{},{},{},{},{},{},{},{},{},{outcome},{cause}",
            secs(c.started),
            c.ended.map_or(String::new(), |e| format!("{:.6}", secs(e))),
            self.apps.get(c.app as usize).map_or("", String::as_str),
            t.protocol.name(),
            t.src,
            t.src_port,
            t.dst,
            t.dst_port,
            c.wan
                .and_then(|w| self.wans.get(w as usize))
                .map_or("", String::as_str),
            c.bytes_up,
            c.bytes_down,
        );
        self.error = self.out.write_all(self.line.as_bytes()).err();
    }

    fn finish(mut self: Box<Self>) -> std::io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

/// What `run` records besides the summary, time series and charts.
pub struct RunOptions<'a> {
    pub seed: u64,
    pub duration: Time,
    /// Capture points and their pcap files' names.
    pub taps: &'a [(crate::world::engine::TapPoint, String)],
    /// Also write `connections.csv`.
    pub connections: bool,
    /// The share of broken connections above which the report raises its banner.
    pub max_broken: f64,
}

/// Runs `loaded` into `folder`'s staging folder — connections and captures streamed to their
/// files as the run goes, `progress` told of simulated time — then writes the summary, time
/// series, charts and `report.html`. Returns the summary and the router as the run left it.
pub fn record_run(
    folder: &ResultsFolder,
    loaded: &Loaded,
    options: &RunOptions,
    progress: &mut dyn FnMut(Time),
) -> Result<(Summary, crate::Router), Error> {
    use crate::world::engine::{Simulation, Stream};
    let mut sim = Simulation::new(loaded, options.seed);
    let dir = folder.staging();
    let create = |name: &str| {
        std::fs::File::create(dir.join(name))
            .map(std::io::BufWriter::new)
            .map_err(|e| Error::io(folder.path().join(name), e))
    };
    if options.connections {
        let wans = sim.metrics.wans.iter().map(|w| w.name.clone()).collect();
        let apps = loaded.scenario.app_names();
        let csv = ConnectionsCsv::new(create(CONNECTIONS_FILE)?, wans, apps);
        sim.log_connections(Box::new(csv));
    }
    for (point, name) in options.taps {
        sim.capture(*point, Box::new(create(name)?))
            .map_err(|e| Error::io(folder.path().join(name), e))?;
    }
    let run = sim.run(options.seed, options.duration, |now, _| progress(now));
    let summary = Summary::new(loaded, &run);
    if let Some((stream, e)) = run.stream_errors.into_iter().next() {
        let name = match stream {
            Stream::Connections => CONNECTIONS_FILE.to_string(),
            Stream::Capture(point) => (options.taps.iter())
                .find(|(p, _)| *p == point)
                .map_or_else(String::new, |(_, n)| n.clone()),
        };
        return Err(Error::io(folder.path().join(name), e));
    }
    let sources = Sources::of(loaded);
    write_files(dir, &summary, &run.metrics, &sources, options.max_broken)?;
    Ok((summary, run.router))
}

/// What happened in the run, in sentences, for the top of a report: the split against its
/// target, the breaks with their commonest cause — tied to `check`'s findings or to the
/// timeline's failures, whichever explains them — and each failure's detection and failback.
pub fn story(s: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    let list = |f: &dyn Fn(&WanSummary) -> Option<String>| -> Vec<String> {
        s.wans.iter().filter_map(f).collect()
    };
    let split = list(&|w| Some(format!("{} {}", w.name, pct(w.byte_share))));
    let target = list(&|w| w.configured_share.map(|t| format!("{} {}", w.name, pct(t))));
    let mut load = format!("The bytes went {}", split.join(", "));
    if !target.is_empty() {
        let _ = write!(
            load,
            "; the rules ask for {} of new connections",
            target.join(", ")
        );
    }
    out.push(load + ".");
    let c = &s.connections;
    let mut failed = c.broken_by_cause.clone();
    for (cause, n) in &c.stalled_by_cause {
        *failed.entry(cause.clone()).or_default() += n;
    }
    let Some((worst, n)) = failed.iter().max_by_key(|(_, n)| **n) else {
        out.push("No connection broke.".into());
        out.extend(s.failover.iter().map(failure_story));
        return out;
    };
    let stalled = match c.stalled {
        0 => String::new(),
        n => format!(", and {n} were stalled by a fault at the end"),
    };
    let what = Cause::from_name(worst).map_or("", |c| c.explain().0);
    out.push(format!(
        "{} connections broke ({} of those that ended){stalled}; most often {worst} ({n}): {what}.",
        c.broken,
        pct(c.broken_share)
    ));
    let mistakes = (s.findings.iter())
        .filter(|f| f.severity != crate::check::Severity::Info)
        .count();
    out.push(if mistakes > 0 {
        format!(
            "pccsim check finds {mistakes} mistake{} in the configuration (below), each with its line and its fix.",
            if mistakes == 1 { "" } else { "s" }
        )
    } else if !s.failover.is_empty() {
        "pccsim check finds no classic mistake in the configuration: these breaks come from the failures on the timeline.".into()
    } else if worst == Cause::Timeout.name() {
        "pccsim check finds no classic mistake in the configuration, and nothing fails on the timeline: congestion and loss broke these.".into()
    } else {
        "pccsim check finds no classic mistake in the configuration, and nothing fails on the timeline: see why each cause happens (below).".into()
    });
    out.extend(s.failover.iter().map(failure_story));
    if !s.script_errors.is_empty() {
        out.push(format!(
            "The router's scripts failed {} times (below).",
            s.script_errors.len()
        ));
    }
    out
}

/// One failure, its detection and failback, in a sentence.
fn failure_story(f: &FailoverSummary) -> String {
    let mut text = format!("{}'s {} failed at {:.0} s", f.wan, f.kind, f.failed_at_s);
    match f.detected_at_s {
        Some(d) => {
            let _ = write!(
                text,
                "; the router stopped using it {:.1} s later",
                d - f.failed_at_s
            );
        }
        None if f.broken_at_failover > 0 => {
            let hint = match f.kind.as_str() {
                "gateway" => " (check-gateway=ping on its routes would see the dead gateway)",
                "upstream" => {
                    " (the gateway still answers: netwatch or recursive routes through a host beyond it would see it)"
                }
                _ => "",
            };
            let _ = write!(
                text,
                "; the router never stopped using it, so {} connections sent to it broke{hint}",
                f.broken_at_failover
            );
        }
        None => text.push_str("; the router did not need to move anything off it"),
    }
    match (f.recovered_at_s, f.failback_at_s) {
        (Some(r), Some(b)) if f.detected_at_s.is_some() => {
            let _ = write!(
                text,
                ", and used it again {:.1} s after the repair at {r:.0} s",
                b - r
            );
        }
        (Some(r), None) if f.detected_at_s.is_some() => {
            let _ = write!(text, "; repaired at {r:.0} s, it was not used again");
        }
        (Some(r), _) => {
            let _ = write!(text, "; repaired at {r:.0} s");
        }
        (None, _) => text.push_str("; it was not repaired before the end"),
    }
    if f.broken_at_failback > 0 {
        let _ = write!(text, "; {} broke at the failback", f.broken_at_failback);
    }
    text + "."
}

/// `m:ss`, or `h:mm:ss` past an hour; tenths of a second where there are any.
pub(crate) fn clock(t: Time) -> String {
    let tenths = t / (SEC / 10);
    let (s, tenth) = (tenths / 10, tenths % 10);
    let hms = if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    };
    if tenth == 0 {
        hms
    } else {
        format!("{hms}.{tenth}")
    }
}
