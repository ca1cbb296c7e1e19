//! `/tool netwatch`: the router tests each host every `interval` and, when the host's status
//! changes between up and down, runs the entry's `up-script` or `down-script`.
//!
//! Two of RouterOS 7's probe types are modelled, both with echo requests ([`super::pinger`]):
//! - `simple` (RouterOS 6's only kind, and v7's default): one echo per interval; a reply
//!   within `timeout` means up, none means down.
//! - `icmp`: `packet-count` echoes (10) `packet-interval` apart (50 ms), each awaited
//!   `timeout`; the host is down when the test crosses any threshold — `thr-loss-percent`
//!   (85 %), `thr-loss-count` (none), and over the round trips measured `thr-avg` (100 ms),
//!   `thr-max` (1 s), `thr-stdev` (250 ms), `thr-jitter` (1 s; **assumed**: the spread between
//!   the fastest and the slowest). Defaults are RouterOS's, used whether or not the entry
//!   names them.
//!
//! `tcp-conn`, `http-get` and `dns` entries are tested like `icmp` with one echo, and `check`
//! says so. **Assumed** where RouterOS does not say: the status starts `unknown` and the
//! first test settles it without running a script (a router that boots with a dead WAN has
//! not "gone down"). Probes are router-originated pings, so they follow the routing table: a
//! netwatch watches a particular WAN only if a route pins its host to that WAN.
//!
//! Sans-IO like [`super::gateway_check`]: `poll_timeout`, `handle_timeout` → probes and
//! changes, `on_reply`.

use super::pinger::{self, Echoes, Probe, Shape};
use crate::units::{MS, SEC, Time};
use std::net::Ipv4Addr;

#[derive(Clone, Debug, PartialEq)]
pub struct Watch {
    pub host: Ipv4Addr,
    pub interval: Time,
    pub timeout: Time,
    pub test: Test,
    pub up_script: String,
    pub down_script: String,
    /// The configuration line of the entry, to name it in errors and reports.
    pub line: u32,
}

impl Watch {
    pub const DEFAULT_INTERVAL: Time = 10 * SEC;
    pub const DEFAULT_TIMEOUT: Time = 3 * SEC;

    /// How its echoes go out.
    fn shape(&self) -> Shape {
        match &self.test {
            // A probe still unanswered when the next is due counts as missed.
            Test::Simple => Shape {
                count: 1,
                spacing: 0,
                timeout: self.timeout.min(self.interval),
            },
            Test::Icmp(t) => Shape {
                count: t.count,
                spacing: t.spacing,
                timeout: self.timeout,
            },
        }
    }
}

/// What a test of the host is, and what passes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    Simple,
    Icmp(Icmp),
}

/// `type=icmp`: its echoes and the thresholds it judges them by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Icmp {
    pub count: u16,
    pub spacing: Time,
    pub loss_percent: f64,
    pub loss_count: u32,
    pub avg: Time,
    pub max: Time,
    pub stdev: Time,
    pub jitter: Time,
}

impl Default for Icmp {
    fn default() -> Icmp {
        Icmp {
            count: 10,
            spacing: 50 * MS,
            loss_percent: 85.0,
            loss_count: u32::MAX,
            avg: 100 * MS,
            max: SEC,
            stdev: 250 * MS,
            jitter: SEC,
        }
    }
}

impl Icmp {
    /// Whether a test's result stays within every threshold.
    pub fn passes(&self, r: &pinger::Result) -> bool {
        let n = r.rtts.len() as f64;
        if r.rtts.is_empty() {
            return false;
        }
        let lost = r.lost();
        let loss_percent = 100.0 * f64::from(lost) / f64::from(r.sent);
        let mean = r.rtts.iter().sum::<Time>() as f64 / n;
        let var = r
            .rtts
            .iter()
            .map(|&t| (t as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let (min, max) = (r.rtts.iter().min(), r.rtts.iter().max());
        let jitter = max.zip(min).map_or(0, |(a, b)| a - b);
        loss_percent < self.loss_percent
            && u32::from(lost) < self.loss_count
            && mean <= self.avg as f64
            && max.is_some_and(|&m| m <= self.max)
            && var.sqrt() <= self.stdev as f64
            && jitter <= self.jitter
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Unknown,
    Up,
    Down,
}

impl Status {
    /// As `/tool netwatch print` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Up => "up",
            Status::Down => "down",
        }
    }
}

/// A watched host's status changed at `at`; `run_script` says whether its script is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub watch: usize,
    pub status: Status,
    pub at: Time,
    pub run_script: bool,
}

#[derive(Clone, Debug)]
struct State {
    status: Status,
    echoes: Echoes,
    next_test: Time,
}

#[derive(Clone, Debug, Default)]
pub struct Netwatch {
    pub watches: Vec<Watch>,
    states: Vec<State>,
}

/// The enabled `/tool netwatch` entries of a configuration. Entries whose host is not an IPv4
/// address (v7 also watches by DNS name) or whose values do not read are left out: the reader
/// already reported anything it could not read.
pub fn from_config(config: &crate::router::config::RouterConfig) -> Vec<Watch> {
    config
        .stored_enabled("tool netwatch")
        .filter_map(|item| {
            let time = |k: &str, default: Time| match item.get(k) {
                Some(v) => crate::units::parse_duration(v).ok().filter(|t| *t > 0),
                None => Some(default),
            };
            let test = match item.get("type").unwrap_or("simple") {
                "simple" => Test::Simple,
                "icmp" => {
                    let d = Icmp::default();
                    let number = |k: &str| item.get(k).map(|v| v.trim_end_matches('%').parse());
                    Test::Icmp(Icmp {
                        count: number("packet-count").unwrap_or(Ok(10.0)).ok()? as u16,
                        spacing: time("packet-interval", d.spacing)?,
                        loss_percent: number("thr-loss-percent").unwrap_or(Ok(85.0)).ok()?,
                        loss_count: number("thr-loss-count")
                            .map_or(Some(u32::MAX), |n| n.ok().map(|n: f64| n as u32))?,
                        avg: time("thr-avg", d.avg)?,
                        max: time("thr-max", d.max)?,
                        stdev: time("thr-stdev", d.stdev)?,
                        jitter: time("thr-jitter", d.jitter)?,
                    })
                }
                // tcp-conn, http-get, dns: one echo, as the reader notes.
                _ => Test::Icmp(Icmp {
                    count: 1,
                    ..Icmp::default()
                }),
            };
            Some(Watch {
                host: item.get("host")?.parse().ok()?,
                interval: time("interval", Watch::DEFAULT_INTERVAL)?,
                timeout: time("timeout", Watch::DEFAULT_TIMEOUT)?,
                test,
                up_script: item.get("up-script").unwrap_or_default().to_string(),
                down_script: item.get("down-script").unwrap_or_default().to_string(),
                line: item.line,
            })
        })
        .collect()
}

/// Echo identifiers of netwatch probes: this plus the entry's index.
const IDENT_BASE: u16 = 0xd600;

impl Netwatch {
    pub fn new(watches: Vec<Watch>) -> Netwatch {
        let states = watches
            .iter()
            .enumerate()
            .map(|(i, w)| State {
                status: Status::Unknown,
                echoes: Echoes::new(w.host, IDENT_BASE + i as u16, w.shape()),
                next_test: 0,
            })
            .collect();
        Netwatch { watches, states }
    }

    /// Moves each entry's first test to `phase(interval)`: a router's tests run at whatever
    /// phase it booted with.
    pub fn start_at(&mut self, mut phase: impl FnMut(Time) -> Time) {
        for (w, s) in self.watches.iter().zip(&mut self.states) {
            s.next_test = phase(w.interval);
        }
    }

    pub fn status(&self, watch: usize) -> Status {
        self.states[watch].status
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        self.states
            .iter()
            .flat_map(|s| [Some(s.next_test), s.echoes.poll_timeout()])
            .flatten()
            .min()
    }

    pub fn handle_timeout(
        &mut self,
        now: Time,
        probes: &mut Vec<Probe>,
        changes: &mut Vec<Change>,
    ) {
        for (i, (w, s)) in self.watches.iter().zip(&mut self.states).enumerate() {
            if let Some(r) = s.echoes.handle_timeout(now, probes) {
                changes.extend(s.judge(w, i, &r, now));
            }
            if s.next_test <= now {
                s.next_test = now + w.interval;
                if let Some(r) = s.echoes.start(now, probes) {
                    changes.extend(s.judge(w, i, &r, now));
                }
            }
        }
    }

    /// An echo reply reached the router; the change it causes, if any.
    pub fn on_reply(&mut self, now: Time, from: Ipv4Addr, ident: u16, seq: u16) -> Option<Change> {
        let i = ident.checked_sub(IDENT_BASE)? as usize;
        let w = self.watches.get(i).filter(|w| w.host == from)?;
        let s = &mut self.states[i];
        let r = s.echoes.on_reply(now, ident, seq)?;
        s.judge(w, i, &r, now)
    }
}

impl State {
    /// A test ended: the status it gives the host, and the change if it is one.
    fn judge(&mut self, w: &Watch, watch: usize, r: &pinger::Result, at: Time) -> Option<Change> {
        let up = match &w.test {
            Test::Simple => !r.rtts.is_empty(),
            Test::Icmp(t) => t.passes(r),
        };
        let status = if up { Status::Up } else { Status::Down };
        if self.status == status {
            return None;
        }
        let run_script = self.status != Status::Unknown;
        self.status = status;
        Some(Change {
            watch,
            status,
            at,
            run_script,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::MS;

    fn watch() -> Watch {
        Watch {
            host: Ipv4Addr::new(8, 8, 8, 8),
            interval: 10 * SEC,
            timeout: 2 * SEC,
            test: Test::Simple,
            up_script: "up".into(),
            down_script: "down".into(),
            line: 1,
        }
    }

    #[test]
    fn status_follows_the_replies_and_scripts_run_on_transitions_only() {
        let mut n = Netwatch::new(vec![watch()]);
        let (mut probes, mut changes) = (Vec::new(), Vec::new());
        let answer = |n: &mut Netwatch, now: Time, alive: bool, changes: &mut Vec<Change>| {
            let mut probes = Vec::new();
            n.handle_timeout(now, &mut probes, changes);
            for p in probes {
                if alive {
                    changes.extend(n.on_reply(now + 20 * MS, p.host, p.ident, p.seq));
                }
            }
        };
        answer(&mut n, 0, true, &mut changes);
        assert_eq!(changes[0].status, Status::Up);
        assert!(!changes[0].run_script, "unknown → up runs nothing");
        changes.clear();
        // Dies between probes: the probe at 10 s goes unanswered, down at 12 s.
        answer(&mut n, 10 * SEC, false, &mut changes);
        n.handle_timeout(12 * SEC, &mut probes, &mut changes);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].status, changes[0].at, changes[0].run_script),
            (Status::Down, 12 * SEC, true)
        );
        changes.clear();
        answer(&mut n, 20 * SEC, true, &mut changes);
        assert_eq!(
            (changes[0].status, changes[0].run_script),
            (Status::Up, true)
        );
        assert_eq!(n.poll_timeout(), Some(30 * SEC));
    }

    #[test]
    fn an_icmp_test_is_down_only_past_its_thresholds() {
        let icmp = Icmp {
            loss_percent: 85.0,
            ..Icmp::default()
        };
        let result = |answered: usize, rtt: Time| pinger::Result {
            sent: 10,
            rtts: vec![rtt; answered],
        };
        // 30 % loss passes an 85 % threshold; nine of ten lost does not.
        assert!(icmp.passes(&result(7, 20 * MS)));
        assert!(!icmp.passes(&result(1, 20 * MS)));
        // The default average threshold is 100 ms: a satellite path fails it.
        assert!(!icmp.passes(&result(10, 600 * MS)));
        let jittery = pinger::Result {
            sent: 4,
            rtts: vec![10 * MS, 20 * MS, 15 * MS, 1100 * MS],
        };
        assert!(!icmp.passes(&jittery), "past thr-max and thr-jitter");
        let mut n = Netwatch::new(vec![Watch {
            test: Test::Icmp(icmp),
            ..watch()
        }]);
        let mut probes = Vec::new();
        n.handle_timeout(0, &mut probes, &mut Vec::new());
        n.handle_timeout(450 * MS, &mut probes, &mut Vec::new());
        assert_eq!(probes.len(), 10, "ten echoes 50 ms apart");
    }
}
