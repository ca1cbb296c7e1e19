//! What a run measured: per WAN, connections and bytes each way, broken connections by cause,
//! and a time series of throughput, active and broken connections, queue drops and RTT; per
//! connection, how it ended. The engine only adds to counters here; [`crate::report`] turns
//! them into tables, files and charts.

use crate::packet::FiveTuple;
use crate::scenario::FailureKind;
use crate::units::Time;
use crate::world::flow::{Cause, Outcome};
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
    /// Bytes of ended connections whose WAN a classifier (PCC, `nth`) chose, both ways.
    pub classified_bytes: u64,
    /// Connections currently open on this WAN.
    pub active: u32,
    /// Packets the link's buffers dropped, and packets it lost, both directions.
    pub queue_drops: u64,
    pub losses: u64,
    /// Connections that had left by this WAN and broke, by cause (`Cause as usize`).
    pub broken_by_cause: [u64; Cause::ALL.len()],
    /// Bytes this WAN carried, both ways, while another WAN was out of service.
    pub bytes_during_outage: u64,
    /// Connections an outage of another WAN left here: see [`Stranded`].
    pub stranded: Stranded,
    /// The current sampling interval: bytes, breaks, RTT samples.
    interval_down: u64,
    interval_up: u64,
    interval_broken: [u32; Cause::ALL.len()],
    interval_rtt_sum: Time,
    interval_rtt_samples: u32,
    /// Link drop and loss totals at the start of the interval.
    drops_before: u64,
    losses_before: u64,
}

/// Connections started on this WAN while another was out of service that stayed here after the
/// router used the other again, although a new connection of theirs would now go there (on a
/// metered backup, that is money): how many, the bytes they carried here after the failback,
/// and the longest any stayed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stranded {
    pub connections: u64,
    pub bytes: u64,
    pub longest: Time,
}

/// One row of the time series: one WAN over one interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub time: Time,
    pub wan: usize,
    pub down_bps: f64,
    pub up_bps: f64,
    pub active_connections: u32,
    /// Connections on this WAN that broke in the interval, by cause (`Cause as usize`).
    pub broken: [u32; Cause::ALL.len()],
    pub queue_drops: u64,
    pub losses: u64,
    /// Mean of the TCP RTT samples taken in the interval (none if there were none).
    pub mean_rtt: Option<Time>,
    /// At the end of the interval: the link has carrier; check-gateway finds every gateway it
    /// checks through this WAN (the ISP's, a recursive route's target beyond it); the router
    /// forwards by the WAN (a default route through it is in use).
    pub link_up: bool,
    pub gateway_reachable: bool,
    pub in_service: bool,
}

/// A WAN as the engine sees it at a sample: its link's totals so far and its state.
#[derive(Clone, Copy, Debug)]
pub struct WanState {
    pub queue_drops: u64,
    pub losses: u64,
    pub link_up: bool,
    pub gateway_reachable: bool,
}

/// One connection's life, as `run --connections` lists it.
#[derive(Clone, Debug)]
pub struct ConnectionRecord {
    pub started: Time,
    /// `None` while it is still open at the end of the run.
    pub ended: Option<Time>,
    /// As the host sent it, before NAT.
    pub tuple: FiveTuple,
    pub app: u16,
    pub wan: Option<u8>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub outcome: Option<Outcome>,
}

/// Where finished connections go, one at a time, so a long run never holds them all.
pub trait ConnectionLog: Send {
    fn record(&mut self, connection: &ConnectionRecord);
    /// Flushes; the first write error of the run, if there was one.
    fn finish(self: Box<Self>) -> std::io::Result<()>;
}

/// One failure of a WAN from the timeline, and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub wan: usize,
    pub kind: FailureKind,
    pub failed_at: Time,
    /// When the router took the WAN out of service (its last active default route went
    /// inactive: link down, check-gateway, a netwatch script, a lost lease); `None` if it never
    /// did while the failure lasted.
    pub detected_at: Option<Time>,
    /// When the timeline repaired it.
    pub recovered_at: Option<Time>,
    /// When the router put the WAN back into service for good (before the repair if a check
    /// recovered by chance; `None` while it is out).
    pub failback_at: Option<Time>,
    /// Times the router put the WAN back while it was still failed and took it out again.
    pub flaps: u32,
    /// Connections of this WAN that broke between the failure and the failback.
    pub broken_at_failover: u64,
    /// Connections that broke because they moved back at the failback.
    pub broken_at_failback: u64,
    /// Connections started while the WAN was failed, and how many of them broke.
    pub new_connections: u64,
    pub new_connection_failures: u64,
    /// Per app, when the last of those that broke started: from then on its new connections
    /// worked again.
    pub last_failed_start: BTreeMap<u16, Time>,
}

impl Failure {
    /// Still failed, or not yet used again, at `t`.
    fn covers(&self, t: Time) -> bool {
        t >= self.failed_at && self.failback_at.is_none_or(|f| t < f)
    }

    fn outage_covers(&self, t: Time) -> bool {
        t >= self.failed_at && self.recovered_at.is_none_or(|r| t < r)
    }

    /// Other WANs carry this one's traffic just now: from the failure until the router uses
    /// the WAN again, or until the repair if the router never noticed.
    fn is_out(&self) -> bool {
        self.failback_at.is_none() && (self.recovered_at.is_none() || self.detected_at.is_some())
    }
}

#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub wans: Vec<WanMetrics>,
    pub samples: Vec<Sample>,
    pub connections_total: u64,
    pub completed: u64,
    pub broken_by_cause: BTreeMap<Cause, u64>,
    /// Connections still open at the end that a fault holds back (they would break, given
    /// time), by the fault.
    pub stalled: BTreeMap<Cause, u64>,
    /// Connections the LAN started that never left by a WAN.
    pub never_left: u64,
    /// Packets of a connection that left by another WAN than its first.
    pub packets_off_wan: u64,
    /// Packets that left a WAN without that WAN's address as source.
    pub packets_wrong_source: u64,
    /// Packets the router forwarded or delivered, all interfaces.
    pub router_packets: u64,
    pub events: u64,
    /// Failures from the timeline, in the order they happened.
    pub failures: Vec<Failure>,
    /// Per WAN, when the router put it into service (`true`) or took it out, from the start:
    /// exact times, so a flap shorter than a sample still shows.
    pub service: Vec<Vec<(Time, bool)>>,
    /// Bit `w`: WAN `w` is out of service by a failure just now (see [`Failure::is_out`]).
    out_of_service: u64,
    /// Per netwatch entry, its host and line and each change of its status.
    pub netwatch: Vec<NetwatchLog>,
    /// check-gateway's missed probes, and the answers that ended a run of them, in order.
    pub probes: Vec<crate::router::gateway_check::Probed>,
    /// Errors of scripts the router ran (netwatch's), as they would appear in its log.
    pub script_errors: Vec<String>,
    /// The configuration line of each configured route, and at each sample which of them were
    /// active (in use) and each netwatch host's status (`None`: unknown yet).
    pub route_lines: Vec<u32>,
    pub router_states: Vec<RouterState>,
    /// Per application of the scenario, in its order; and when the LAN has host classes, again
    /// per class: `apps[class * apps + app]`, class 0 the hosts in none (and port forwards'
    /// servers). [`Metrics::apps`] adds them up per application.
    pub accounts: Vec<AppMetrics>,
    /// The LAN's host classes by name (class 1 first), and each host's (by its index).
    pub classes: Vec<String>,
    pub host_class: Vec<u8>,
    /// Per LAN host, what it got and sent.
    pub hosts: Hosts,
}

/// Per LAN host (by its place in the LAN's range), the payload bytes delivered to it and sent
/// by it, and those delivered by the WAN its connection left by: per-user fairness.
#[derive(Clone, Debug, Default)]
pub struct Hosts {
    pub first: u32,
    pub wans: usize,
    pub down: Vec<u64>,
    pub up: Vec<u64>,
    /// `down_by_wan[host * wans + wan]`.
    pub down_by_wan: Vec<u64>,
}

impl Hosts {
    pub fn new(first: std::net::Ipv4Addr, count: u32, wans: usize) -> Hosts {
        let n = count as usize;
        Hosts {
            first: first.into(),
            wans,
            down: vec![0; n],
            up: vec![0; n],
            down_by_wan: vec![0; n * wans],
        }
    }

    fn index(&self, host: std::net::Ipv4Addr) -> Option<usize> {
        let i = u32::from(host).wrapping_sub(self.first) as usize;
        (i < self.down.len()).then_some(i)
    }

    #[inline]
    pub fn received(&mut self, host: std::net::Ipv4Addr, wan: Option<u8>, bytes: u32) {
        if let Some(i) = self.index(host) {
            self.down[i] += u64::from(bytes);
            if let Some(w) = wan.map(usize::from).filter(|&w| w < self.wans) {
                self.down_by_wan[i * self.wans + w] += u64::from(bytes);
            }
        }
    }

    #[inline]
    pub fn sent(&mut self, host: std::net::Ipv4Addr, bytes: u32) {
        if let Some(i) = self.index(host) {
            self.up[i] += u64::from(bytes);
        }
    }

    pub fn address(&self, i: usize) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::from(self.first.wrapping_add(i as u32))
    }
}

/// Jain's fairness index of `x`: 1 when all are equal, 1/n when one has everything; `None`
/// for no values.
pub fn jain(x: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (mut n, mut sum, mut squares) = (0.0, 0.0, 0.0);
    for v in x {
        n += 1.0;
        sum += v;
        squares += v * v;
    }
    (n > 0.0 && squares > 0.0).then(|| sum * sum / (n * squares))
}

/// How one application fared: its connections, and its sessions where a session is more than
/// one connection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppMetrics {
    pub name: String,
    pub connections: u64,
    pub completed: u64,
    pub broken: u64,
    /// Completed transfers' total time (first packet to last byte), and bytes delivered.
    pub transfer_time: Time,
    pub transfer_bytes: u64,
    /// Sessions of several connections that ended, and how many of them failed (a connection
    /// broke), by the first cause.
    pub sessions: u64,
    pub sessions_failed: BTreeMap<Cause, u64>,
    /// Steps (web pages) whose connections all completed, and their total time.
    pub steps: u64,
    pub step_time: Time,
    /// Videos: how many ended, their startup delays, the video they played and the time
    /// playback stood still.
    pub videos: u64,
    pub startup_time: Time,
    pub played: Time,
    pub stalled: Time,
    /// Calls: the sum of their MOS (worse direction) and how many.
    pub mos_sum: f64,
    pub calls: u64,
    /// Persistent streams (tunnels, registrations): how many, how many were ever dead, their
    /// dead time in all and the longest dead stretch of any.
    pub persistent: u64,
    pub flows_dead: u64,
    pub dead_time: Time,
    pub longest_dead: Time,
    /// Per WAN (by index), the connections of this app that ended having left by it: which
    /// WAN each app's traffic used.
    pub per_wan: Vec<WanUse>,
}

/// One application's connections on one WAN.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WanUse {
    pub connections: u64,
    pub broken: u64,
    pub bytes: u64,
}

impl AppMetrics {
    /// Adds `other`'s account (the same application's, for other hosts) to this one.
    pub fn add(&mut self, other: &AppMetrics) {
        self.connections += other.connections;
        self.completed += other.completed;
        self.broken += other.broken;
        self.transfer_time += other.transfer_time;
        self.transfer_bytes += other.transfer_bytes;
        self.sessions += other.sessions;
        for (cause, n) in &other.sessions_failed {
            *self.sessions_failed.entry(*cause).or_default() += n;
        }
        self.steps += other.steps;
        self.step_time += other.step_time;
        self.videos += other.videos;
        self.startup_time += other.startup_time;
        self.played += other.played;
        self.stalled += other.stalled;
        self.mos_sum += other.mos_sum;
        self.calls += other.calls;
        self.persistent += other.persistent;
        self.flows_dead += other.flows_dead;
        self.dead_time += other.dead_time;
        self.longest_dead = self.longest_dead.max(other.longest_dead);
        if self.per_wan.len() < other.per_wan.len() {
            self.per_wan.resize(other.per_wan.len(), WanUse::default());
        }
        for (mine, theirs) in self.per_wan.iter_mut().zip(&other.per_wan) {
            mine.connections += theirs.connections;
            mine.broken += theirs.broken;
            mine.bytes += theirs.bytes;
        }
    }

    /// Books a persistent stream's dead time, `(in all, longest stretch)`.
    pub fn dead(&mut self, (dead, longest): (Time, Time)) {
        self.persistent += 1;
        self.flows_dead += u64::from(dead > 0);
        self.dead_time += dead;
        self.longest_dead = self.longest_dead.max(longest);
    }
}

impl AppMetrics {
    pub fn sessions_failed(&self) -> u64 {
        self.sessions_failed.values().sum()
    }
}

/// The router's view at one sample: routes in use, netwatch statuses.
#[derive(Clone, Debug, PartialEq)]
pub struct RouterState {
    pub routes_active: Vec<bool>,
    pub netwatch_up: Vec<Option<bool>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NetwatchLog {
    pub host: std::net::Ipv4Addr,
    pub line: u32,
    /// (when, now up, a script ran)
    pub changes: Vec<(Time, bool, bool)>,
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
    /// Accounts for `apps`, once for all hosts and, when `classes` are named, per class too;
    /// `host_class` gives each LAN host's class (0: none).
    pub fn new(
        wans: Vec<WanMetrics>,
        apps: impl IntoIterator<Item = String>,
        classes: Vec<String>,
        host_class: Vec<u8>,
    ) -> Metrics {
        let apps: Vec<AppMetrics> = (apps.into_iter())
            .map(|name| AppMetrics {
                name,
                ..AppMetrics::default()
            })
            .collect();
        Metrics {
            wans,
            accounts: (0..=classes.len()).flat_map(|_| apps.clone()).collect(),
            classes,
            host_class,
            ..Metrics::default()
        }
    }

    /// How many applications the scenario has.
    pub fn app_count(&self) -> usize {
        self.accounts.len() / (self.classes.len() + 1)
    }

    /// The account `app`'s connection or session of LAN host `host` (`None`: not a LAN
    /// host's) is booked in: its class's.
    #[inline]
    pub fn account(&mut self, app: u16, host: Option<u32>) -> &mut AppMetrics {
        let class = host.and_then(|h| self.host_class.get(h as usize).copied());
        let i = usize::from(class.unwrap_or(0)) * self.app_count() + usize::from(app);
        &mut self.accounts[i]
    }

    /// Per application, its hosts' accounts added up.
    pub fn apps(&self) -> Vec<AppMetrics> {
        let n = self.app_count();
        let mut apps = self.accounts[..n].to_vec();
        for class in self.accounts.chunks(n.max(1)).skip(1) {
            for (all, one) in apps.iter_mut().zip(class) {
                all.add(one);
            }
        }
        apps
    }

    /// Per host class (by name): its applications' accounts.
    pub fn apps_by_class(&self) -> impl Iterator<Item = (&str, &[AppMetrics])> {
        let n = self.app_count().max(1);
        (self.classes.iter().map(String::as_str)).zip(self.accounts.chunks(n).skip(1))
    }

    pub fn broken(&self) -> u64 {
        self.broken_by_cause.values().sum()
    }

    /// How a connection of `app` started at `started` ended, at `now`.
    pub fn record_outcome(
        &mut self,
        outcome: Outcome,
        (app, wan): (u16, Option<u8>),
        started: Time,
        now: Time,
    ) {
        match outcome {
            Outcome::Completed => self.completed += 1,
            Outcome::Broken(cause) => {
                *self.broken_by_cause.entry(cause).or_default() += 1;
                if !self.failures.is_empty() {
                    self.broken_during_failures(cause, (app, wan), started, now);
                }
                if let Some(w) = wan {
                    let w = &mut self.wans[w as usize];
                    w.broken_by_cause[cause as usize] += 1;
                    w.interval_broken[cause as usize] += 1;
                }
            }
        }
    }

    /// A WAN failed at `at`. If the router had already taken it out of service for another
    /// failure, there is nothing left to detect: this one is known at once.
    pub fn failed(&mut self, wan: usize, kind: FailureKind, at: Time) {
        if self.open_failure(wan, kind).is_some() {
            return; // already down: a second "down" changes nothing
        }
        let out = (self.failures.iter())
            .any(|f| f.wan == wan && f.detected_at.is_some() && f.failback_at.is_none());
        self.failures.push(Failure {
            wan,
            kind,
            failed_at: at,
            detected_at: out.then_some(at),
            recovered_at: None,
            failback_at: None,
            flaps: 0,
            broken_at_failover: 0,
            broken_at_failback: 0,
            new_connections: 0,
            new_connection_failures: 0,
            last_failed_start: BTreeMap::new(),
        });
        self.outages_changed();
    }

    /// The timeline repaired a failure.
    pub fn recovered(&mut self, wan: usize, kind: FailureKind, at: Time) {
        if let Some(f) = self.open_failure(wan, kind) {
            f.recovered_at = Some(at);
        }
        self.outages_changed();
    }

    fn open_failure(&mut self, wan: usize, kind: FailureKind) -> Option<&mut Failure> {
        self.failures
            .iter_mut()
            .rev()
            .find(|f| f.wan == wan && f.kind == kind && f.recovered_at.is_none())
    }

    /// The router took `wan` out of service (`usable` false: no default route through it is
    /// active any more) or put it back. Taking it out during a failure is that failure's
    /// detection; putting it back after that is the failback, whether or not the timeline has
    /// repaired it yet — and a failback the router takes back while the failure lasts did not
    /// hold.
    pub fn wan_judged(&mut self, wan: usize, usable: bool, at: Time) -> Vec<usize> {
        if let Some(changes) = self.service.get_mut(wan) {
            changes.push((at, usable));
        }
        let mut failed_back = Vec::new();
        for (i, f) in self
            .failures
            .iter_mut()
            .enumerate()
            .filter(|(_, f)| f.wan == wan)
        {
            let open = f.recovered_at.is_none();
            if !usable && open {
                f.detected_at.get_or_insert(at);
                if f.failback_at.take().is_some() {
                    f.flaps += 1;
                }
            }
            if usable && f.detected_at.is_some() && f.failback_at.is_none() {
                f.failback_at = Some(at);
                failed_back.push(i);
            }
        }
        self.outages_changed();
        failed_back
    }

    fn outages_changed(&mut self) {
        self.out_of_service = (self.failures.iter())
            .filter(|f| f.is_out() && f.wan < 64)
            .fold(0, |bits, f| bits | 1 << f.wan);
    }

    /// A connection an outage left on `wan` ([`Stranded`]) ended or the run did, `stayed` after
    /// the failback, having carried `bytes` here since.
    pub fn stranded(&mut self, wan: u8, stayed: Time, bytes: u64) {
        let s = &mut self.wans[wan as usize].stranded;
        s.connections += 1;
        s.bytes += bytes;
        s.longest = s.longest.max(stayed);
    }

    /// A connection started at `at`, while failures may be on.
    pub fn started(&mut self, at: Time) {
        for f in self.failures.iter_mut().filter(|f| f.outage_covers(at)) {
            f.new_connections += 1;
        }
    }

    /// Books a broken connection against the one failure that cost it, if any: a connection
    /// that broke moving back goes to the latest failback; one that broke on its own WAN by a
    /// cause failures produce goes to that WAN's latest failure (its breaks come late: a
    /// flushed or blackholed connection gives up only when its retries run out); any other break
    /// on a WAN counts while that WAN is failed. Connections started during an outage count
    /// for every outage they started in.
    fn broken_during_failures(
        &mut self,
        cause: Cause,
        (app, wan): (u16, Option<u8>),
        started: Time,
        now: Time,
    ) {
        let caused_by_failure = matches!(
            cause,
            Cause::WanDownFlush
                | Cause::NatAddressChanged
                | Cause::Blackholed
                | Cause::AddressChanged
        );
        if cause == Cause::Failback {
            if let Some(f) = self
                .failures
                .iter_mut()
                .rfind(|f| f.failback_at.is_some_and(|t| t <= now))
            {
                f.broken_at_failback += 1;
            }
        } else if let Some(f) = self
            .failures
            .iter_mut()
            .rfind(|f| wan == Some(f.wan as u8) && f.failed_at <= now)
            && (caused_by_failure || f.covers(now))
        {
            f.broken_at_failover += 1;
        }
        for f in self
            .failures
            .iter_mut()
            .filter(|f| f.outage_covers(started))
        {
            f.new_connection_failures += 1;
            // Broken moving back is the failback's doing, not a service still down.
            if cause != Cause::Failback {
                let last = f.last_failed_start.entry(app).or_default();
                *last = (*last).max(started);
            }
        }
    }

    /// A TCP round-trip time measured by a connection on `wan`.
    pub fn rtt(&mut self, wan: u8, rtt: Time) {
        let w = &mut self.wans[wan as usize];
        w.interval_rtt_sum += rtt;
        w.interval_rtt_samples += 1;
    }

    /// Whether the router forwards by `wan` just now (the last of its [`Metrics::service`]).
    pub fn in_service(&self, wan: usize) -> bool {
        serving(&self.service[wan])
    }

    /// When the router last put `wan` into service (0 if it was in service from the start
    /// and never out, or never in).
    pub fn back_in_service_at(&self, wan: usize) -> Time {
        let back = self.service[wan].iter().rev().find(|&&(_, up)| up);
        back.map_or(0, |&(at, _)| at)
    }

    /// Whether another WAN than `wan` is out of service just now.
    fn other_out(&self, wan: usize) -> bool {
        self.out_of_service & !(1 << (wan & 63)) != 0
    }

    pub fn sent_up(&mut self, wan: usize, bytes: u32) {
        let outage = self.other_out(wan);
        let w = &mut self.wans[wan];
        w.bytes_during_outage += if outage { bytes as u64 } else { 0 };
        w.bytes_up += bytes as u64;
        w.packets_up += 1;
        w.interval_up += bytes as u64;
    }

    pub fn received_down(&mut self, wan: usize, bytes: u32) {
        let outage = self.other_out(wan);
        let w = &mut self.wans[wan];
        w.bytes_during_outage += if outage { bytes as u64 } else { 0 };
        w.bytes_down += bytes as u64;
        w.packets_down += 1;
        w.interval_down += bytes as u64;
    }

    /// Closes the sampling interval of length `interval` ending at `now`; `states` gives each
    /// WAN's link totals so far and its state.
    pub fn sample(&mut self, now: Time, interval: Time, states: impl Iterator<Item = WanState>) {
        let secs = interval as f64 / 1e9;
        let service = &self.service;
        for ((i, w), state) in self.wans.iter_mut().enumerate().zip(states) {
            let (drops, losses) = (state.queue_drops, state.losses);
            self.samples.push(Sample {
                time: now,
                wan: i,
                down_bps: w.interval_down as f64 * 8.0 / secs,
                up_bps: w.interval_up as f64 * 8.0 / secs,
                active_connections: w.active,
                broken: w.interval_broken,
                queue_drops: drops - w.drops_before,
                losses: losses - w.losses_before,
                mean_rtt: (w.interval_rtt_samples > 0)
                    .then(|| w.interval_rtt_sum / w.interval_rtt_samples as Time),
                link_up: state.link_up,
                gateway_reachable: state.gateway_reachable,
                in_service: service.get(i).is_some_and(|s| serving(s)),
            });
            w.interval_down = 0;
            w.interval_up = 0;
            w.interval_broken = Default::default();
            w.interval_rtt_sum = 0;
            w.interval_rtt_samples = 0;
            (w.drops_before, w.losses_before) = (drops, losses);
        }
    }
}

/// The state a WAN's service changes leave it in.
fn serving(changes: &[(Time, bool)]) -> bool {
    changes.last().is_some_and(|&(_, up)| up)
}
