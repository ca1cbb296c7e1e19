//! `/tool netwatch`: the router pings each host every `interval` and, when the host's status
//! changes between up and down, runs the entry's `up-script` or `down-script`.
//!
//! Modelled as RouterOS 6's `simple` netwatch, which v7's `type=simple` keeps: one echo per
//! interval; a reply within `timeout` means up, none means down. **Assumed** where RouterOS does
//! not say: the status starts `unknown` and the first probe settles it without running a
//! script (a router that boots with a dead WAN has not "gone down"); v7's `type=icmp` with its
//! loss and RTT thresholds is treated as `simple`. Probes are router-originated pings, so they
//! follow the routing table: a netwatch watches a particular WAN only if a route pins its host
//! to that WAN.
//!
//! Sans-IO like [`super::gateway_check`]: `poll_timeout`, `handle_timeout` → probes and
//! changes, `on_reply`.

use crate::units::{SEC, Time};
use std::net::Ipv4Addr;

#[derive(Clone, Debug, PartialEq)]
pub struct Watch {
    pub host: Ipv4Addr,
    pub interval: Time,
    pub timeout: Time,
    pub up_script: String,
    pub down_script: String,
    /// The configuration line of the entry, to name it in errors and reports.
    pub line: u32,
}

impl Watch {
    pub const DEFAULT_INTERVAL: Time = 10 * SEC;
    pub const DEFAULT_TIMEOUT: Time = 3 * SEC;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Unknown,
    Up,
    Down,
}

/// A watched host's status changed at `at`; `run_script` says whether its script is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub watch: usize,
    pub status: Status,
    pub at: Time,
    pub run_script: bool,
}

/// A probe to send: an echo request to `host`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub host: Ipv4Addr,
    pub ident: u16,
    pub seq: u16,
}

#[derive(Clone, Debug)]
struct State {
    status: Status,
    seq: u16,
    next_probe: Time,
    waiting: Option<(u16, Time)>,
}

#[derive(Clone, Debug, Default)]
pub struct Netwatch {
    pub watches: Vec<Watch>,
    states: Vec<State>,
}

/// The enabled `/tool netwatch` entries of a configuration. Entries whose host is not an IPv4
/// address (v7 also watches by DNS name) or whose times do not read are left out: the reader
/// already reported anything it could not read.
pub fn from_config(config: &crate::router::config::RouterConfig) -> Vec<Watch> {
    config
        .stored_enabled("tool netwatch")
        .filter_map(|item| {
            let time = |k: &str, default: Time| match item.get(k) {
                Some(v) => crate::units::parse_duration(v).ok().filter(|t| *t > 0),
                None => Some(default),
            };
            Some(Watch {
                host: item.get("host")?.parse().ok()?,
                interval: time("interval", Watch::DEFAULT_INTERVAL)?,
                timeout: time("timeout", Watch::DEFAULT_TIMEOUT)?,
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
            .map(|_| State {
                status: Status::Unknown,
                seq: 0,
                next_probe: 0,
                waiting: None,
            })
            .collect();
        Netwatch { watches, states }
    }

    pub fn status(&self, watch: usize) -> Status {
        self.states[watch].status
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        self.states
            .iter()
            .flat_map(|s| [Some(s.next_probe), s.waiting.map(|w| w.1)])
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
            if let Some((_, deadline)) = s.waiting
                && deadline <= now
            {
                s.waiting = None;
                changes.extend(set(s, i, Status::Down, now));
            }
            if s.next_probe <= now {
                s.seq = s.seq.wrapping_add(1);
                // A probe still unanswered when the next is due counts as missed.
                if s.waiting.is_some() {
                    changes.extend(set(s, i, Status::Down, now));
                }
                s.waiting = Some((s.seq, now + w.timeout.min(w.interval)));
                s.next_probe = now + w.interval;
                probes.push(Probe {
                    host: w.host,
                    ident: IDENT_BASE + i as u16,
                    seq: s.seq,
                });
            }
        }
    }

    /// An echo reply reached the router; the change it causes, if any.
    pub fn on_reply(&mut self, now: Time, from: Ipv4Addr, ident: u16, seq: u16) -> Option<Change> {
        let i = ident.checked_sub(IDENT_BASE)? as usize;
        self.watches.get(i).filter(|w| w.host == from)?;
        let s = &mut self.states[i];
        if s.waiting.is_none_or(|(q, _)| q != seq) {
            return None;
        }
        s.waiting = None;
        set(s, i, Status::Up, now)
    }
}

fn set(s: &mut State, watch: usize, status: Status, at: Time) -> Option<Change> {
    if s.status == status {
        return None;
    }
    let run_script = s.status != Status::Unknown;
    s.status = status;
    Some(Change {
        watch,
        status,
        at,
        run_script,
    })
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
}
