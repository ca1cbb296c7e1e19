//! What a queue does with the packets waiting in it — its `/queue type`: `pfifo` and `bfifo`
//! (one line, the newest dropped when full), and `pcq` (one sub-queue per classifier value —
//! per user, with `pcq-classifier=dst-address` on downloads — served in turn byte for byte,
//! each optionally held to `pcq-rate`). The HTB around a queue decides when it may send; the
//! discipline decides which of its packets goes.

use super::Entry;
use super::burst::{Burst, BurstSpec};
use crate::packet::FiveTuple;
use crate::units::{SEC, Time};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// How much a queue holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Packets(u32),
    Bytes(u64),
}

impl Limit {
    fn admits(self, packets: u32, bytes: u64, len: u32) -> bool {
        match self {
            Limit::Packets(n) => packets < n,
            Limit::Bytes(b) => bytes + u64::from(len) <= b,
        }
    }
}

/// Which fields make a PCQ sub-stream, with the masks applied to the addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcqClassifier {
    pub src_address: bool,
    pub dst_address: bool,
    pub src_port: bool,
    pub dst_port: bool,
    pub src_mask: u8,
    pub dst_mask: u8,
}

impl PcqClassifier {
    fn key(&self, t: &FiveTuple) -> u64 {
        let masked = |a: std::net::Ipv4Addr, bits: u8| {
            let m = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits.min(32))
            };
            u64::from(u32::from(a) & m)
        };
        let mut key = 0u64;
        if self.src_address {
            key ^= masked(t.src, self.src_mask) << 32;
        }
        if self.dst_address {
            key ^= masked(t.dst, self.dst_mask);
        }
        if self.src_port {
            key ^= u64::from(t.src_port).rotate_left(16);
        }
        if self.dst_port {
            key ^= u64::from(t.dst_port).rotate_left(48);
        }
        key
    }
}

/// The `pcq` kind's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcqParams {
    pub classifier: PcqClassifier,
    /// Each sub-stream's rate in bit/s; 0: no limit of its own.
    pub rate: u64,
    /// One sub-stream's queue, and all of them together.
    pub limit: Limit,
    pub total_limit: Limit,
    /// `pcq-burst-rate`, `pcq-burst-threshold`, `pcq-burst-time`: each sub-stream's burst.
    pub burst: Option<BurstSpec>,
}

/// A `/queue type`'s behaviour, as a fresh (empty) queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `pfifo` or `bfifo`.
    Fifo(Limit),
    Pcq(PcqParams),
}

/// A queue of one HTB leaf.
#[derive(Clone, Debug)]
pub enum Discipline<T> {
    Fifo(Fifo<T>),
    Pcq(Pcq<T>),
}

impl<T> Discipline<T> {
    pub fn new(kind: Kind) -> Discipline<T> {
        match kind {
            Kind::Fifo(limit) => Discipline::Fifo(Fifo {
                limit,
                queue: VecDeque::new(),
                bytes: 0,
            }),
            Kind::Pcq(params) => Discipline::Pcq(Pcq {
                params,
                subs: Vec::new(),
                index: FxHashMap::default(),
                active: VecDeque::new(),
                packets: 0,
                bytes: 0,
            }),
        }
    }

    /// Takes `entry` in, or hands it back when the queue is full.
    pub fn enqueue(&mut self, entry: Entry<T>, tuple: &FiveTuple) -> Result<(), Entry<T>> {
        match self {
            Discipline::Fifo(f) => f.enqueue(entry),
            Discipline::Pcq(p) => p.enqueue(entry, tuple),
        }
    }

    /// The size of the packet that would go next at `now`, if one may.
    pub fn head(&mut self, now: Time) -> Option<u32> {
        match self {
            Discipline::Fifo(f) => f.queue.front().map(|e| e.len),
            Discipline::Pcq(p) => p.head(now),
        }
    }

    /// The size of the packet at the front of the queue (for PCQ, of the sub-stream whose turn
    /// it is), without moving turns.
    pub fn peek_len(&self) -> Option<u32> {
        match self {
            Discipline::Fifo(f) => f.queue.front().map(|e| e.len),
            Discipline::Pcq(p) => {
                let i = *p.active.front()?;
                p.subs[i].queue.front().map(|e| e.len)
            }
        }
    }

    /// Takes the packet [`Discipline::head`] named.
    pub fn dequeue(&mut self, now: Time) -> Option<Entry<T>> {
        match self {
            Discipline::Fifo(f) => {
                let e = f.queue.pop_front()?;
                f.bytes -= u64::from(e.len);
                Some(e)
            }
            Discipline::Pcq(p) => p.dequeue(now),
        }
    }

    /// When a packet held back by the discipline itself (a PCQ sub-stream at its rate) may go;
    /// `None` when nothing waits.
    pub fn next_ready(&self, now: Time) -> Option<Time> {
        match self {
            Discipline::Fifo(f) => (!f.queue.is_empty()).then_some(now),
            Discipline::Pcq(p) => p.next_ready(now),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Discipline::Fifo(f) => f.queue.is_empty(),
            Discipline::Pcq(p) => p.packets == 0,
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

/// Bytes a sub-stream may send in one turn (deficit round robin): one full-size packet, so the
/// turns are fair in bytes, not packets.
const QUANTUM: i64 = 1514;

#[derive(Clone, Debug)]
struct Sub<T> {
    queue: VecDeque<Entry<T>>,
    bytes: u64,
    deficit: i64,
    /// `pcq-rate`'s token bucket, in bit·ns, and when it was last filled.
    tokens: i128,
    filled: Time,
    burst: Option<Burst>,
}

impl<T> Sub<T> {
    /// Its rate now: `pcq-rate`, or `pcq-burst-rate` while it bursts.
    fn rate(&self, base: u64) -> u64 {
        self.burst.as_ref().map_or(base, |b| b.ceiling(base))
    }
}

/// Per-connection queue: a FIFO per sub-stream, served in turn.
#[derive(Clone, Debug)]
pub struct Pcq<T> {
    params: PcqParams,
    subs: Vec<Sub<T>>,
    index: FxHashMap<u64, usize>,
    /// Sub-streams with packets, in turn order.
    active: VecDeque<usize>,
    packets: u32,
    bytes: u64,
}

/// A sub-stream's bucket holds a tenth of a second at its rate, at least one full packet.
fn sub_bucket(rate: u64) -> i128 {
    (i128::from(rate) * i128::from(SEC) / 10).max(i128::from(QUANTUM) * 8 * i128::from(SEC))
}

impl<T> Pcq<T> {
    fn enqueue(&mut self, entry: Entry<T>, tuple: &FiveTuple) -> Result<(), Entry<T>> {
        let p = self.params;
        if !p.total_limit.admits(self.packets, self.bytes, entry.len) {
            return Err(entry);
        }
        let key = p.classifier.key(tuple);
        let i = *self.index.entry(key).or_insert_with(|| {
            self.subs.push(Sub {
                queue: VecDeque::new(),
                bytes: 0,
                deficit: 0,
                tokens: sub_bucket(p.rate),
                filled: entry.at,
                burst: p.burst.map(|b| Burst::new(b, entry.at)),
            });
            self.subs.len() - 1
        });
        let sub = &mut self.subs[i];
        if !p.limit.admits(sub.queue.len() as u32, sub.bytes, entry.len) {
            return Err(entry);
        }
        if sub.queue.is_empty() {
            sub.deficit = 0;
            self.active.push_back(i);
        }
        sub.bytes += u64::from(entry.len);
        self.packets += 1;
        self.bytes += u64::from(entry.len);
        sub.queue.push_back(entry);
        Ok(())
    }

    fn fill(&mut self, i: usize, now: Time) {
        let base = self.params.rate;
        let sub = &mut self.subs[i];
        let rate = sub.rate(base);
        if base > 0 && now > sub.filled {
            let added = i128::from(rate) * i128::from(now - sub.filled);
            sub.tokens = (sub.tokens + added).min(sub_bucket(rate));
        }
        sub.filled = sub.filled.max(now);
        if let Some(b) = sub.burst.as_mut()
            && b.advance(now)
        {
            sub.tokens = sub.tokens.min(sub_bucket(sub.rate(base)));
        }
    }

    fn may_send(&self, i: usize) -> bool {
        let sub = &self.subs[i];
        let len = sub.queue.front().map_or(0, |e| e.len);
        self.params.rate == 0 || sub.tokens >= cost(len)
    }

    /// Moves the turn to the next sub-stream that may send now, topping up deficits as turns
    /// pass; the sub-stream whose turn it is stays at the front.
    fn head(&mut self, now: Time) -> Option<u32> {
        for _ in 0..2 * self.active.len() {
            let i = *self.active.front()?;
            self.fill(i, now);
            let len = self.subs[i].queue.front().map_or(0, |e| e.len);
            if self.may_send(i) && self.subs[i].deficit >= i64::from(len) {
                return Some(len);
            }
            if self.may_send(i) {
                self.subs[i].deficit += QUANTUM;
                if self.subs[i].deficit >= i64::from(len) {
                    return Some(len);
                }
            }
            self.active.rotate_left(1);
        }
        None
    }

    fn dequeue(&mut self, now: Time) -> Option<Entry<T>> {
        self.head(now)?;
        let i = *self.active.front()?;
        let rate = self.params.rate;
        let sub = &mut self.subs[i];
        let e = sub.queue.pop_front()?;
        sub.deficit -= i64::from(e.len);
        sub.bytes -= u64::from(e.len);
        if rate > 0 {
            sub.tokens -= cost(e.len);
        }
        if let Some(b) = sub.burst.as_mut() {
            b.sent(e.len);
        }
        self.packets -= 1;
        self.bytes -= u64::from(e.len);
        if sub.queue.is_empty() {
            self.active.pop_front();
        } else if sub.deficit < i64::from(sub.queue.front().map_or(0, |e| e.len)) {
            // Its turn is over: the next one's.
            self.active.rotate_left(1);
        }
        Some(e)
    }

    fn next_ready(&self, now: Time) -> Option<Time> {
        let rate = self.params.rate;
        (self.active.iter())
            .map(|&i| {
                let sub = &self.subs[i];
                let len = sub.queue.front().map_or(0, |e| e.len);
                if rate == 0 {
                    return now;
                }
                let rate = sub.rate(rate);
                let tokens =
                    sub.tokens + i128::from(rate) * i128::from(now.saturating_sub(sub.filled));
                let ready = now + wait(cost(len) - tokens, rate);
                // A burst starting may let it go sooner.
                (sub.burst.as_ref()).map_or(ready, |b| ready.min(b.next_decision().max(now + 1)))
            })
            .min()
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
