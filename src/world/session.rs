//! Application sessions of several connections, as the world runs them: which step a session
//! is at, how many of the step's connections are still open, and what the service has seen.
//!
//! A session opens its steps one after another (a web page's objects at once, a banking
//! session's requests one by one), each after the previous step ended and a pause. An
//! IP-sensitive service remembers the public address the session's first connection came
//! from and refuses a connection from any other — what a bank does when PCC sends one login's
//! connections out of two WANs. A session fails when any of its connections breaks, and stops
//! there: the user sees an error page.

use crate::units::Time;
use crate::world::flow::{Cause, Outcome};
use crate::world::workload::Shape;
use std::net::Ipv4Addr;

/// No session: a connection that is a session on its own.
pub const NONE: u32 = u32::MAX;

#[derive(Clone, Debug)]
pub struct Session {
    pub host: u32,
    pub app: u16,
    pub shape: Shape,
    pub started: Time,
    pub steps_done: u32,
    /// Connections of the current step still open, and when the step began.
    pub open: u32,
    pub step_started: Time,
    /// The step had a connection that did not complete.
    step_failed: bool,
    /// The public address the service saw the session's first connection come from.
    pub public: Option<Ipv4Addr>,
    /// The server of the first step (an IP-sensitive session's service).
    pub public_server: u32,
    /// Why the session failed: the cause of its first broken connection.
    pub broken: Option<Cause>,
    /// A video session's player.
    pub player: Option<Player>,
}

/// A video player's buffer: how far ahead the downloaded segments reach, and how long playback
/// waited for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Player {
    segment: Time,
    target: Time,
    /// When playback runs out of downloaded video (`None`: not started).
    pub buffered_until: Option<Time>,
    /// From the session's start to the first segment.
    pub startup: Time,
    /// Time playback stood still, waiting for a segment.
    pub stalled: Time,
    pub segments: u32,
}

impl Player {
    pub fn new(segment: Time, target: Time) -> Player {
        Player {
            segment,
            target,
            buffered_until: None,
            startup: 0,
            stalled: 0,
            segments: 0,
        }
    }

    /// A segment arrived at `now` (the session began at `started`); returns when to fetch
    /// the next one: as soon as less than the target is buffered ahead.
    pub fn segment_arrived(&mut self, now: Time, started: Time) -> Time {
        self.segments += 1;
        let until = match self.buffered_until {
            None => {
                self.startup = now - started;
                now + self.segment
            }
            Some(until) if until < now => {
                self.stalled += now - until;
                now + self.segment
            }
            Some(until) => until + self.segment,
        };
        self.buffered_until = Some(until);
        until.saturating_sub(self.target).max(now)
    }

    /// Video played (or to be played) from what was fetched.
    pub fn played(&self) -> Time {
        self.segments as Time * self.segment
    }
}

/// What a session does after one of its connections ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Other connections of the step are still open.
    Wait,
    /// The step is over: start the next after a pause. Carries the step's time if every
    /// connection of it completed.
    Step(Option<Time>),
    /// The session is over.
    End(Option<Time>),
}

impl Session {
    pub fn new(host: u32, app: u16, shape: Shape, now: Time) -> Session {
        Session {
            host,
            app,
            shape,
            started: now,
            steps_done: 0,
            open: 0,
            step_started: now,
            step_failed: false,
            public: None,
            public_server: 0,
            broken: None,
            player: shape
                .playback
                .map(|(segment, target)| Player::new(segment, target)),
        }
    }

    /// A step begins now with the shape's burst of connections.
    pub fn begin_step(&mut self, now: Time) {
        self.open = self.shape.burst;
        self.step_started = now;
        self.step_failed = false;
    }

    /// Whether the service accepts a new connection of this session that arrives from
    /// `public`; the first one it sees sets the address.
    pub fn admits(&mut self, public: Ipv4Addr) -> bool {
        if !self.shape.affinity {
            return true;
        }
        *self.public.get_or_insert(public) == public
    }

    /// One of the step's connections ended.
    pub fn connection_ended(&mut self, outcome: Outcome, now: Time) -> Next {
        if let Outcome::Broken(cause) = outcome {
            self.broken.get_or_insert(cause);
            self.step_failed = true;
        }
        self.open = self.open.saturating_sub(1);
        if self.open > 0 {
            return Next::Wait;
        }
        self.steps_done += 1;
        let took = (!self.step_failed).then(|| now - self.step_started);
        if self.broken.is_some() || self.steps_done >= self.shape.steps {
            Next::End(took)
        } else {
            Next::Step(took)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banking() -> Session {
        let shape = Shape {
            steps: 3,
            burst: 1,
            servers: 1,
            gap: 0,
            affinity: true,
            playback: None,
        };
        Session::new(0, 0, shape, 0)
    }

    #[test]
    fn a_player_stalls_when_a_segment_comes_after_the_buffer_ran_dry() {
        let s = crate::units::SEC;
        let mut p = Player::new(4 * s, 10 * s);
        // First segment at 1 s: playback to 5 s; fetch again at once (4 s < 10 s target).
        assert_eq!(p.segment_arrived(s, 0), s);
        assert_eq!(p.startup, s);
        assert_eq!(p.segment_arrived(2 * s, 0), 2 * s);
        assert_eq!(p.segment_arrived(3 * s, 0), 3 * s);
        // Buffered to 17 s: next fetch when 10 s are left, at 7 s.
        assert_eq!(p.segment_arrived(4 * s, 0), 7 * s);
        assert_eq!(p.stalled, 0);
        // The next segment comes at 20 s, 3 s after playback ran out at 17 s.
        p.segment_arrived(20 * s, 0);
        assert_eq!(p.stalled, 3 * s);
        assert_eq!(p.played(), 20 * s);
    }

    #[test]
    fn the_service_admits_only_the_first_public_address() {
        let mut s = banking();
        let (a, b) = (
            Ipv4Addr::new(203, 0, 113, 2),
            Ipv4Addr::new(198, 51, 100, 2),
        );
        assert!(s.admits(a) && s.admits(a));
        assert!(!s.admits(b));
    }

    #[test]
    fn a_session_runs_its_steps_and_stops_at_the_first_break() {
        let mut s = banking();
        s.begin_step(0);
        assert_eq!(
            s.connection_ended(Outcome::Completed, 5),
            Next::Step(Some(5))
        );
        s.begin_step(10);
        let broken = Outcome::Broken(Cause::IpAffinity);
        assert_eq!(s.connection_ended(broken, 12), Next::End(None));
        assert_eq!(s.broken, Some(Cause::IpAffinity));
    }
}
