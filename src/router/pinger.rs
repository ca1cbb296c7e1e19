//! Echo tests, the one way the router's probers (check-gateway, netwatch) ask whether a host
//! answers: a test sends `count` echo requests `spacing` apart, waits `timeout` for each reply,
//! and ends when every request is answered or given up, with the round-trip times it measured.
//!
//! Sans-IO like its users: [`Echoes::poll_timeout`] says when it next needs the clock,
//! [`Echoes::handle_timeout`] sends what is due and gives up on late replies,
//! [`Echoes::on_reply`] takes an answer; the last two return the test's result when it ends.

use crate::units::Time;
use std::net::Ipv4Addr;

/// An echo request to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub host: Ipv4Addr,
    pub ident: u16,
    pub seq: u16,
}

/// How a test's echoes are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub count: u16,
    pub spacing: Time,
    pub timeout: Time,
}

/// What a test measured: requests sent, and the round trips of those answered.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Result {
    pub sent: u16,
    pub rtts: Vec<Time>,
}

impl Result {
    pub fn lost(&self) -> u16 {
        self.sent - self.rtts.len() as u16
    }
}

/// The echo tests of one host under one identifier, one at a time.
#[derive(Clone, Debug)]
pub struct Echoes {
    pub host: Ipv4Addr,
    ident: u16,
    shape: Shape,
    seq: u16,
    /// The running test: requests sent so far, when the next is due, those awaiting a reply
    /// (sequence, sent at), the round trips measured.
    running: bool,
    sent: u16,
    next_send: Time,
    waiting: Vec<(u16, Time)>,
    rtts: Vec<Time>,
}

impl Echoes {
    pub fn new(host: Ipv4Addr, ident: u16, shape: Shape) -> Echoes {
        Echoes {
            host,
            ident,
            shape,
            seq: 0,
            running: false,
            sent: 0,
            next_send: 0,
            waiting: Vec::new(),
            rtts: Vec::new(),
        }
    }

    /// Starts a test at `now`; a test still running ends first, its unanswered requests lost.
    pub fn start(&mut self, now: Time, probes: &mut Vec<Probe>) -> Option<Result> {
        let ended = self.running.then(|| self.finish());
        self.running = true;
        self.next_send = now;
        self.send_due(now, probes);
        ended
    }

    /// When [`Echoes::handle_timeout`] must next be called, while a test runs.
    pub fn poll_timeout(&self) -> Option<Time> {
        if !self.running {
            return None;
        }
        let next = (self.sent < self.shape.count).then_some(self.next_send);
        let given_up = self.waiting.iter().map(|w| w.1 + self.shape.timeout).min();
        next.into_iter().chain(given_up).min()
    }

    /// Sends the requests due and gives up on replies overdue; the result if the test ended.
    pub fn handle_timeout(&mut self, now: Time, probes: &mut Vec<Probe>) -> Option<Result> {
        if !self.running {
            return None;
        }
        let timeout = self.shape.timeout;
        self.waiting.retain(|&(_, sent_at)| sent_at + timeout > now);
        self.send_due(now, probes);
        self.done().then(|| self.finish())
    }

    /// A reply with `ident` and `seq` reached the router; the result if it ended the test.
    pub fn on_reply(&mut self, now: Time, ident: u16, seq: u16) -> Option<Result> {
        if ident != self.ident {
            return None;
        }
        let at = self.waiting.iter().position(|w| w.0 == seq)?;
        let (_, sent_at) = self.waiting.swap_remove(at);
        self.rtts.push(now - sent_at);
        self.done().then(|| self.finish())
    }

    fn send_due(&mut self, now: Time, probes: &mut Vec<Probe>) {
        while self.sent < self.shape.count && self.next_send <= now {
            self.seq = self.seq.wrapping_add(1);
            self.sent += 1;
            self.waiting.push((self.seq, now));
            self.next_send += self.shape.spacing;
            probes.push(Probe {
                host: self.host,
                ident: self.ident,
                seq: self.seq,
            });
        }
    }

    fn done(&self) -> bool {
        self.sent == self.shape.count && self.waiting.is_empty()
    }

    fn finish(&mut self) -> Result {
        self.running = false;
        self.waiting.clear();
        let result = Result {
            sent: self.sent,
            rtts: std::mem::take(&mut self.rtts),
        };
        self.sent = 0;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{MS, SEC};

    const HOST: Ipv4Addr = Ipv4Addr::new(8, 8, 8, 8);

    #[test]
    fn a_test_sends_its_count_spaced_and_ends_when_all_are_answered_or_given_up() {
        let shape = Shape {
            count: 3,
            spacing: 50 * MS,
            timeout: SEC,
        };
        let mut e = Echoes::new(HOST, 7, shape);
        let mut probes = Vec::new();
        assert_eq!(e.start(0, &mut probes), None);
        assert_eq!(probes.len(), 1);
        assert_eq!(e.poll_timeout(), Some(50 * MS));
        e.handle_timeout(100 * MS, &mut probes);
        assert_eq!(probes.len(), 3, "the second and third are due by 100 ms");
        assert_eq!(e.on_reply(20 * MS, 7, probes[0].seq), None);
        assert_eq!(
            e.on_reply(120 * MS, 8, probes[1].seq),
            None,
            "another ident"
        );
        assert_eq!(e.on_reply(130 * MS, 7, probes[2].seq), None);
        // The second is never answered: given up a second after it left, the test ends.
        assert_eq!(e.poll_timeout(), Some(SEC + 100 * MS));
        let r = e.handle_timeout(SEC + 100 * MS, &mut probes).unwrap();
        assert_eq!((r.sent, r.lost(), r.rtts), (3, 1, vec![20 * MS, 30 * MS]));
        assert_eq!(e.poll_timeout(), None);
    }
}
