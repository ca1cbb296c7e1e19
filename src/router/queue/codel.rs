//! CoDel, "controlled delay" (RFC 8289), as Linux runs it inside `codel`, `fq-codel` and
//! `cake` (RouterOS 7's kinds of the same names). It watches how long each packet waited —
//! its sojourn time — at the head of the queue: once sojourns have stayed above `target`
//! (5 ms) for a whole `interval` (100 ms), it drops the head packet, and keeps dropping at
//! `interval / √count` apart until a sojourn falls under `target` again. A queue of TCP
//! downloads settles with a few milliseconds of standing queue instead of a full buffer.

use super::Entry;
use crate::units::{MS, Time};
use std::collections::VecDeque;

/// `target` and `interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodelParams {
    pub target: Time,
    pub interval: Time,
}

impl Default for CodelParams {
    fn default() -> CodelParams {
        CodelParams {
            target: 5 * MS,
            interval: 100 * MS,
        }
    }
}

/// A queue no larger than one full packet never drops: it is not a standing queue.
const MTU: u64 = 1514;

/// One queue's CoDel state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Codel {
    /// When sojourns above target will have lasted an interval (0: they are under it).
    first_above: Time,
    /// When the next drop is due while dropping.
    drop_next: Time,
    count: u32,
    last_count: u32,
    dropping: bool,
}

impl Codel {
    /// Whether the packet that came at `at` and leaves now, with `backlog` bytes left
    /// behind it, has waited too long for too long.
    fn ok_to_drop(&mut self, p: &CodelParams, now: Time, at: Option<Time>, backlog: u64) -> bool {
        let Some(at) = at else {
            self.first_above = 0;
            return false;
        };
        if now.saturating_sub(at) < p.target || backlog <= MTU {
            self.first_above = 0;
            return false;
        }
        if self.first_above == 0 {
            self.first_above = now + p.interval;
            return false;
        }
        now >= self.first_above
    }

    /// `t + interval / √count`: drops come closer together the longer the queue stands.
    fn control_law(p: &CodelParams, t: Time, count: u32) -> Time {
        t + (p.interval as f64 / f64::from(count.max(1)).sqrt()) as Time
    }

    /// Takes the head of `queue` at `now`, dropping those CoDel drops first; `backlog` is the
    /// bytes the queue (for `fq-codel`, all its flows) holds and goes down with each packet
    /// taken. Returns the packet that leaves and how many were dropped.
    pub fn dequeue<T>(
        &mut self,
        p: &CodelParams,
        now: Time,
        queue: &mut VecDeque<Entry<T>>,
        backlog: &mut u64,
    ) -> (Option<Entry<T>>, u32) {
        let pop = |queue: &mut VecDeque<Entry<T>>, backlog: &mut u64| {
            let e = queue.pop_front()?;
            *backlog -= u64::from(e.len);
            Some(e)
        };
        let mut e = pop(queue, backlog);
        let mut dropped = 0;
        let Some(head) = e.as_ref() else {
            self.dropping = false;
            self.first_above = 0;
            return (None, 0);
        };
        let mut drop = self.ok_to_drop(p, now, Some(head.at), *backlog);
        if self.dropping {
            if !drop {
                self.dropping = false;
            }
            while self.dropping && now >= self.drop_next {
                dropped += 1;
                self.count += 1;
                e = pop(queue, backlog);
                drop = self.ok_to_drop(p, now, e.as_ref().map(|e| e.at), *backlog);
                if drop {
                    self.drop_next = Codel::control_law(p, self.drop_next, self.count);
                } else {
                    self.dropping = false;
                }
            }
        } else if drop {
            dropped += 1;
            e = pop(queue, backlog);
            self.ok_to_drop(p, now, e.as_ref().map(|e| e.at), *backlog);
            self.dropping = true;
            // Dropping again soon after the last spell: start where that one left off.
            let delta = self.count.saturating_sub(self.last_count);
            let recent = now.saturating_sub(self.drop_next) < 16 * p.interval;
            self.count = if delta > 1 && recent { delta } else { 1 };
            self.last_count = self.count;
            self.drop_next = Codel::control_law(p, now, self.count);
        }
        (e, dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue fed 5 % faster than it drains: a drop-tail queue would fill; CoDel's first
    /// drop comes one interval after sojourns pass 5 ms, the next ones closer together
    /// (100/√2, 100/√3, … ms) until it drops the 5 % too many, and the sojourn then stays
    /// within a few times the target.
    #[test]
    fn a_standing_queue_is_drained_to_near_the_target() {
        let p = CodelParams::default();
        let mut c = Codel::default();
        let mut q: VecDeque<Entry<u32>> = VecDeque::new();
        let mut backlog = 0u64;
        // 1000-byte packets in every 1.14 ms, one out every 1.2 ms, for 20 s.
        let (every_in, every_out) = (1_140_000, 1_200_000);
        let (mut next_in, mut next_out) = (0, 0);
        let mut drops = Vec::new();
        let mut late_sojourns = Vec::new();
        while next_out < 20_000 * MS {
            if next_in <= next_out {
                q.push_back(Entry {
                    item: 0,
                    len: 1000,
                    at: next_in,
                });
                backlog += 1000;
                next_in += every_in;
            } else {
                let (e, d) = c.dequeue(&p, next_out, &mut q, &mut backlog);
                if d > 0 {
                    drops.push(next_out);
                }
                if let Some(e) = e
                    && next_out > 10_000 * MS
                {
                    late_sojourns.push(next_out - e.at);
                }
                next_out += every_out;
            }
        }
        // Sojourns pass 5 ms once 5 ms of packets wait: after 5 / 0.05 = 100 ms of
        // filling; the first drop an interval later.
        let first = drops[0];
        assert!((200 * MS..220 * MS).contains(&first), "{first}");
        let gap2 = drops[2] - drops[1];
        assert!(gap2 < drops[1] - drops[0], "drops come closer: {drops:?}");
        let mean = late_sojourns.iter().sum::<u64>() / late_sojourns.len() as u64;
        assert!(mean < 20 * MS, "standing sojourn {mean} ns");
    }
}
