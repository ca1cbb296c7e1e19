//! What a queue does with the packets waiting in it — its `/queue type`: `pfifo` and `bfifo`
//! (one line, the newest dropped when full), `red` ([`super::red`]: drops early, by chance,
//! as the average length grows), and the fair queues ([`super::fair`]: `pcq`, `sfq`,
//! `codel`, `fq-codel`, `cake` — a sub-queue per user or flow, served in turn). The HTB around
//! a queue decides when it may send; the discipline decides which of its packets goes.

use super::Entry;
use super::fair::{FlowKey, FlowParams, Flows};
use super::red::{Red, RedParams};
use crate::packet::FiveTuple;
use crate::units::{SEC, Time};
use std::collections::VecDeque;

/// How much a queue holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Packets(u32),
    Bytes(u64),
}

impl Limit {
    /// Whether a queue of `packets` and `bytes` has room for one more of `len` bytes.
    pub fn admits(self, packets: u32, bytes: u64, len: u32) -> bool {
        match self {
            Limit::Packets(n) => packets < n,
            Limit::Bytes(b) => bytes + u64::from(len) <= b,
        }
    }
}

/// A `/queue type`'s behaviour, as a fresh (empty) queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `pfifo` or `bfifo`.
    Fifo(Limit),
    Red(RedParams),
    /// `pcq`, `sfq`, `codel`, `fq-codel`, `cake`.
    Flows(FlowParams),
}

impl Kind {
    pub fn is_pcq(&self) -> bool {
        matches!(
            self,
            Kind::Flows(FlowParams {
                key: FlowKey::Pcq(_),
                ..
            })
        )
    }
}

/// A queue of one HTB leaf.
#[derive(Clone, Debug)]
pub enum Discipline<T> {
    Fifo(Fifo<T>),
    Red(Red<T>),
    Flows(Box<Flows<T>>),
}

impl<T> Discipline<T> {
    pub fn new(kind: Kind) -> Discipline<T> {
        match kind {
            Kind::Fifo(limit) => Discipline::Fifo(Fifo {
                limit,
                queue: VecDeque::new(),
                bytes: 0,
            }),
            Kind::Red(params) => Discipline::Red(Red::new(params)),
            Kind::Flows(params) => Discipline::Flows(Box::new(Flows::new(params))),
        }
    }

    /// Takes `entry` in, or hands it back when the queue will not.
    pub fn enqueue(&mut self, entry: Entry<T>, tuple: &FiveTuple) -> Result<(), Entry<T>> {
        match self {
            Discipline::Fifo(f) => f.enqueue(entry),
            Discipline::Red(r) => r.enqueue(entry.at, entry),
            Discipline::Flows(f) => f.enqueue(entry, tuple),
        }
    }

    /// The size of the packet that would go next at `now`, if one may.
    pub fn head(&mut self, now: Time) -> Option<u32> {
        match self {
            Discipline::Fifo(f) => f.queue.front().map(|e| e.len),
            Discipline::Red(r) => r.front_len(),
            Discipline::Flows(f) => f.head(now),
        }
    }

    /// The size of a packet waiting (for fair queues, of the flow whose turn it is), without
    /// moving turns.
    pub fn peek_len(&self) -> Option<u32> {
        match self {
            Discipline::Fifo(f) => f.queue.front().map(|e| e.len),
            Discipline::Red(r) => r.front_len(),
            Discipline::Flows(f) => f.peek_len(),
        }
    }

    /// Takes the packet [`Discipline::head`] named (or one after it, when the queue drops
    /// at its head).
    pub fn dequeue(&mut self, now: Time) -> Option<Entry<T>> {
        match self {
            Discipline::Fifo(f) => {
                let e = f.queue.pop_front()?;
                f.bytes -= u64::from(e.len);
                Some(e)
            }
            Discipline::Red(r) => r.dequeue(now),
            Discipline::Flows(f) => f.dequeue(now),
        }
    }

    /// When a packet held back by the discipline itself (a PCQ sub-stream at its rate, CAKE's
    /// shaper) may go; `None` when nothing waits.
    pub fn next_ready(&self, now: Time) -> Option<Time> {
        match self {
            Discipline::Fifo(f) => (!f.queue.is_empty()).then_some(now),
            Discipline::Red(r) => (!r.is_empty()).then_some(now),
            Discipline::Flows(f) => f.next_ready(now),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Discipline::Fifo(f) => f.queue.is_empty(),
            Discipline::Red(r) => r.is_empty(),
            Discipline::Flows(f) => f.is_empty(),
        }
    }

    /// Packets it took in and dropped since (CoDel's, a full fair queue's longest flow's).
    pub fn dropped_inside(&self) -> u64 {
        match self {
            Discipline::Flows(f) => f.dropped,
            _ => 0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Fifo<T> {
    limit: Limit,
    queue: VecDeque<Entry<T>>,
    bytes: u64,
}

impl<T> Fifo<T> {
    fn enqueue(&mut self, entry: Entry<T>) -> Result<(), Entry<T>> {
        if !self
            .limit
            .admits(self.queue.len() as u32, self.bytes, entry.len)
        {
            return Err(entry);
        }
        self.bytes += u64::from(entry.len);
        self.queue.push_back(entry);
        Ok(())
    }
}

/// A packet of `len` bytes in bit·ns: what it takes from a bucket filled at bit/s per ns.
pub fn cost(len: u32) -> i128 {
    i128::from(len) * 8 * i128::from(SEC)
}

/// How long until `missing` bit·ns accrue at `rate` bit/s (rounded up; 0 if none are missing).
pub fn wait(missing: i128, rate: u64) -> Time {
    if missing <= 0 {
        return 0;
    }
    let rate = i128::from(rate.max(1));
    ((missing + rate - 1) / rate).min(i128::from(Time::MAX / 2)) as Time
}
