//! `check-gateway=ping`: the router pings each checked gateway every interval and declares it
//! unreachable after `count` probes in a row go unanswered within the timeout; every route
//! through it then becomes inactive. One good reply makes it reachable again (**assumed**: the
//! RouterOS documentation does not say how many).
//!
//! RouterOS 7's `/routing settings` names the three knobs — `check-gateway-ping-interval` (10 s),
//! `-timeout` (1 s) and `-count` (2) — and v6 behaves with the same defaults. A probe counts as
//! missed when its timeout passes, so a gateway that dies is declared unreachable when the
//! second probe after its death times out: up to `2 × interval + timeout` after it died, and at
//! least `interval + timeout` less the probe's trip to the gateway (a probe on its way when the
//! gateway dies is lost too) — 11–21 s by default.
//!
//! Like the rest of the router this is sans-IO: [`GatewayChecks::poll_timeout`] says when it
//! next needs the clock, [`GatewayChecks::handle_timeout`] returns the probes to send, and
//! [`GatewayChecks::on_reply`] takes the answers; it reports each change of state.

use super::pinger::{self, Echoes, Probe, Shape};
use crate::units::{MS, SEC, Time};
use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub interval: Time,
    pub timeout: Time,
    pub count: u8,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            interval: 10 * SEC,
            timeout: SEC,
            count: 2,
        }
    }
}

impl Settings {
    /// `/routing settings set check-gateway-ping-…=` values, with RouterOS's ranges.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let duration = |v: &str, min: Time, max: Time| {
            let t = crate::units::parse_duration(v)?;
            if (min..=max).contains(&t) {
                Ok(t)
            } else {
                Err(format!("`{v}` is outside {}..{}", fmt(min), fmt(max)))
            }
        };
        match key {
            "check-gateway-ping-interval" => self.interval = duration(value, 100 * MS, 600 * SEC)?,
            "check-gateway-ping-timeout" => self.timeout = duration(value, MS, SEC)?,
            "check-gateway-ping-count" => {
                self.count = value
                    .parse()
                    .ok()
                    .filter(|c| (1..=100).contains(c))
                    .ok_or_else(|| format!("`{value}` is not a count from 1 to 100"))?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn fmt(t: Time) -> String {
    crate::units::format_duration(t)
}

/// A gateway changed state at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub gateway: Ipv4Addr,
    pub reachable: bool,
    pub at: Time,
}

/// A probe that went unanswered, or the answer that ended a run of them: how check-gateway
/// came to its verdict, one probe at a time (answers in a run of answers are not worth telling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probed {
    pub gateway: Ipv4Addr,
    pub at: Time,
    pub answered: bool,
    /// Probes missed in a row, this one included (0 once answered), of the `count` that make
    /// the gateway unreachable.
    pub misses: u8,
    pub count: u8,
}

#[derive(Clone, Debug)]
struct Checked {
    echoes: Echoes,
    reachable: bool,
    misses: u8,
}

#[derive(Clone, Debug)]
pub struct GatewayChecks {
    settings: Settings,
    gateways: Vec<Checked>,
    next_round: Time,
    probed: Vec<Probed>,
}

/// Echo identifiers of check-gateway probes: this plus the gateway's index.
const IDENT_BASE: u16 = 0xc600;

impl GatewayChecks {
    /// Checks for these gateways; the first round goes out at time 0 (see
    /// [`GatewayChecks::start_at`]).
    pub fn new(settings: Settings, gateways: impl IntoIterator<Item = Ipv4Addr>) -> GatewayChecks {
        let mut checks = GatewayChecks {
            settings,
            gateways: Vec::new(),
            next_round: 0,
            probed: Vec::new(),
        };
        for gateway in gateways {
            checks.watch(gateway);
        }
        checks
    }

    /// Moves the first round to `at`: a router's rounds run at whatever phase it booted with.
    pub fn start_at(&mut self, at: Time) {
        self.next_round = at;
    }

    /// Checks `gateway` too from the next round on (a route a DHCP client added), if it is not
    /// checked already.
    pub fn watch(&mut self, gateway: Ipv4Addr) {
        if !self.gateways.iter().any(|c| c.echoes.host == gateway) {
            let ident = IDENT_BASE + self.gateways.len() as u16;
            let shape = Shape {
                count: 1,
                spacing: 0,
                timeout: self.settings.timeout,
            };
            self.gateways.push(Checked {
                echoes: Echoes::new(gateway, ident, shape),
                reachable: true,
                misses: 0,
            });
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// When [`GatewayChecks::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.gateways.is_empty() {
            return None;
        }
        let deadlines = self.gateways.iter().filter_map(|c| c.echoes.poll_timeout());
        deadlines.chain([self.next_round]).min()
    }

    /// Counts missed probes and, at the start of a round, sends new ones. Changes of state go
    /// to `changes`, probes to `probes`.
    pub fn handle_timeout(
        &mut self,
        now: Time,
        probes: &mut Vec<Probe>,
        changes: &mut Vec<Change>,
    ) {
        let count = self.settings.count;
        let round = now >= self.next_round;
        for c in &mut self.gateways {
            if let Some(r) = c.echoes.handle_timeout(now, probes) {
                changes.extend(c.judge(&r, count, now, &mut self.probed));
            }
            if round && let Some(r) = c.echoes.start(now, probes) {
                changes.extend(c.judge(&r, count, now, &mut self.probed));
            }
        }
        if round {
            self.next_round = now + self.settings.interval;
        }
    }

    /// An echo reply from `from` with `ident` and `seq` reached the router. Returns the change
    /// of state it causes, if any.
    pub fn on_reply(&mut self, now: Time, from: Ipv4Addr, ident: u16, seq: u16) -> Option<Change> {
        let i = ident.checked_sub(IDENT_BASE)? as usize;
        let c = self.gateways.get_mut(i).filter(|c| c.echoes.host == from)?;
        // A late reply finds its probe already counted as missed.
        let r = c.echoes.on_reply(now, ident, seq)?;
        c.judge(&r, self.settings.count, now, &mut self.probed)
    }

    /// The probes judged since the last call that are worth telling (see [`Probed`]).
    pub fn take_probed(&mut self) -> std::vec::Drain<'_, Probed> {
        self.probed.drain(..)
    }

    /// The gateways checked, with their state.
    pub fn gateways(&self) -> impl Iterator<Item = (Ipv4Addr, bool)> + '_ {
        self.gateways.iter().map(|c| (c.echoes.host, c.reachable))
    }

    pub fn is_reachable(&self, gateway: Ipv4Addr) -> bool {
        self.gateways
            .iter()
            .find(|c| c.echoes.host == gateway)
            .is_none_or(|c| c.reachable)
    }
}

impl Checked {
    /// A probe's fate: `count` missed in a row make the gateway unreachable, one answered
    /// makes it reachable again.
    fn judge(
        &mut self,
        r: &pinger::Result,
        count: u8,
        at: Time,
        probed: &mut Vec<Probed>,
    ) -> Option<Change> {
        let answered = !r.rtts.is_empty();
        if !answered || self.misses > 0 {
            probed.push(Probed {
                gateway: self.echoes.host,
                at,
                answered,
                misses: if answered {
                    0
                } else {
                    self.misses.saturating_add(1)
                },
                count,
            });
        }
        if !answered {
            self.misses = self.misses.saturating_add(1);
            if !self.reachable || self.misses < count {
                return None;
            }
            self.reachable = false;
        } else {
            self.misses = 0;
            if self.reachable {
                return None;
            }
            self.reachable = true;
        }
        Some(Change {
            gateway: self.echoes.host,
            reachable: self.reachable,
            at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GW: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);

    /// Runs the checks to `end`, answering every probe after 5 ms while `alive(t)`.
    fn drive(alive: impl Fn(Time) -> bool, end: Time) -> Vec<Change> {
        drive_told(alive, end).0
    }

    /// The changes, and the probes worth telling of.
    fn drive_told(alive: impl Fn(Time) -> bool, end: Time) -> (Vec<Change>, Vec<Probed>) {
        let mut checks = GatewayChecks::new(Settings::default(), [GW]);
        let (mut probes, mut changes, mut replies) = (Vec::new(), Vec::new(), Vec::new());
        let mut told = Vec::new();
        loop {
            told.extend(checks.take_probed());
            let next_reply = replies.first().map(|r: &(Time, Probe)| r.0);
            let now = match (checks.poll_timeout(), next_reply) {
                (Some(t), Some(r)) => t.min(r),
                (t, r) => t.or(r).unwrap(),
            };
            if now > end {
                return (changes, told);
            }
            if next_reply == Some(now) {
                let (_, p) = replies.remove(0);
                changes.extend(checks.on_reply(now, p.host, p.ident, p.seq));
                continue;
            }
            checks.handle_timeout(now, &mut probes, &mut changes);
            for p in probes.drain(..) {
                if alive(now) {
                    replies.push((now + 5 * MS, p));
                }
            }
        }
    }

    /// What a lesson's replay shows: each missed probe with its count, then the answer that
    /// ends the run of misses; answers in a run of answers are not told.
    #[test]
    fn missed_probes_are_told_one_by_one_and_the_answer_that_ends_them() {
        let (changes, told) = drive_told(|t| !(20 * SEC..45 * SEC).contains(&t), 120 * SEC);
        let seen: Vec<(Time, bool, u8)> =
            told.iter().map(|p| (p.at, p.answered, p.misses)).collect();
        // Probes at 20 s, 30 s and 40 s go unanswered (each given up a second later); the one
        // at 50 s is answered 5 ms later.
        assert_eq!(
            seen,
            [
                (21 * SEC, false, 1),
                (31 * SEC, false, 2),
                (41 * SEC, false, 3),
                (50 * SEC + 5 * MS, true, 0)
            ]
        );
        assert!(told.iter().all(|p| p.gateway == GW && p.count == 2));
        // The second miss is the verdict.
        assert_eq!(changes[0].at, 31 * SEC);
    }

    #[test]
    fn a_dead_gateway_is_declared_unreachable_by_the_second_missed_probe() {
        for died in [1, 5 * SEC, 9_999 * MS, 10 * SEC + 1, 33 * SEC] {
            let changes = drive(|t| t < died, 120 * SEC);
            let detected = changes[0].at - died;
            assert!(!changes[0].reachable);
            assert!(
                (11 * SEC..=21 * SEC).contains(&detected),
                "died {died}: {detected}"
            );
        }
    }

    #[test]
    fn the_first_good_reply_makes_it_reachable_again() {
        let back = 60 * SEC + 300 * MS;
        let changes = drive(|t| !(20 * SEC..back).contains(&t), 120 * SEC);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(changes[1].reachable);
        // The first round after it is back, plus the reply's 5 ms.
        assert_eq!(changes[1].at, 70 * SEC + 5 * MS);
    }

    #[test]
    fn one_lost_probe_is_not_enough() {
        let changes = drive(|t| !(9 * SEC..11 * SEC).contains(&t), 120 * SEC);
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn settings_take_routeros_ranges() {
        let mut s = Settings::default();
        assert_eq!(s.set("check-gateway-ping-interval", "5s"), Ok(true));
        assert_eq!(s.interval, 5 * SEC);
        assert!(s.set("check-gateway-ping-timeout", "2s").is_err());
        assert!(s.set("check-gateway-ping-count", "0").is_err());
        assert_eq!(s.set("policy-rules", "x"), Ok(false));
    }
}
