//! Fair queueing: one sub-queue per flow (or per user), served in turn a quantum of bytes at
//! a time (deficit round robin) — the family RouterOS's `pcq`, `sfq`, `fq-codel` and `cake`
//! belong to. They differ in what makes a flow, what goes when the queue is full, and what
//! else they do; [`FlowParams`] says which:
//!
//! - `pcq`: a sub-stream per classifier value (per user with `dst-address` on downloads),
//!   each capped by `pcq-rate` (and its burst); a full sub-stream or queue drops the arrival.
//! - `sfq`: the connection's hash into 1024 buckets, salted anew every `sfq-perturb` seconds
//!   so two connections do not share a bucket for long; `sfq-allot` bytes a turn; when the
//!   queue is full, the longest bucket loses its newest packet (Linux's `sfq`).
//! - `fq-codel` (RFC 8290): the hash into `fq-codel-flows` buckets, each under CoDel
//!   ([`super::codel`]); a flow that has just started is served before the long-running ones;
//!   when full, the fattest flow loses its oldest packet.
//! - `cake`: as `fq-codel`, with flows told apart and made fair per host
//!   (`cake-flowmode`, `triple-isolate` by default: a host with many connections gets no
//!   more than one with few, on either side), and its own shaper at `cake-bandwidth`.

use super::Entry;
use super::burst::{Burst, BurstSpec};
use super::codel::{Codel, CodelParams};
use super::discipline::{Limit, cost, wait};
use crate::packet::FiveTuple;
use crate::router::ecmp::{HashPolicy, flow_hash};
use crate::router::pcc::mix64;
use crate::units::{MS, SEC, Time};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

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
    /// Nothing told apart: one sub-stream.
    pub const NONE: PcqClassifier = PcqClassifier {
        src_address: false,
        dst_address: false,
        src_port: false,
        dst_port: false,
        src_mask: 32,
        dst_mask: 32,
    };

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

/// `cake-flowmode`: what a flow is, and whose fair share it counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CakeFlows {
    /// One queue for everything.
    Blind,
    SrcHost,
    DstHost,
    Hosts,
    /// Per connection, no host fairness.
    Flows,
    /// Per connection, fair per source host.
    DualSrcHost,
    DualDstHost,
    /// Per connection, fair per host on both sides.
    TripleIsolate,
}

impl CakeFlows {
    pub fn parse(v: &str) -> Result<CakeFlows, String> {
        Ok(match v {
            "flowblind" => CakeFlows::Blind,
            "srchost" => CakeFlows::SrcHost,
            "dsthost" => CakeFlows::DstHost,
            "hosts" => CakeFlows::Hosts,
            "flows" => CakeFlows::Flows,
            "dual-srchost" => CakeFlows::DualSrcHost,
            "dual-dsthost" => CakeFlows::DualDstHost,
            "triple-isolate" => CakeFlows::TripleIsolate,
            _ => {
                return Err(format!(
                    "`{v}` is not a cake flow mode (flowblind, srchost, dsthost, hosts, flows, dual-srchost, dual-dsthost, triple-isolate)"
                ));
            }
        })
    }
}

/// How packets are sorted into flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowKey {
    Pcq(PcqClassifier),
    /// The connection's hash into `buckets`, salted anew every `perturb` (0: never).
    Hashed {
        buckets: u32,
        perturb: Time,
    },
    Cake(CakeFlows),
}

/// What goes when the queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// The packet arriving (`pcq`).
    DropArriving,
    /// The newest packet of the longest flow (`sfq`).
    DropFattestNewest,
    /// The oldest packet of the flow holding the most bytes (`fq-codel`, `cake`).
    DropFattestOldest,
}

/// A fair queue's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowParams {
    pub key: FlowKey,
    /// Each flow's rate in bit/s (`pcq-rate`); 0: no limit of its own.
    pub rate: u64,
    pub burst: Option<BurstSpec>,
    /// One flow's queue, and all of them together.
    pub limit: Limit,
    pub total_limit: Limit,
    pub when_full: WhenFull,
    /// Bytes a flow may send per turn.
    pub quantum: u32,
    pub codel: Option<CodelParams>,
    /// Serve flows that have just started before the others (`fq-codel`, `cake`).
    pub new_flows_first: bool,
    /// The whole queue's own rate in bit/s (`cake-bandwidth`); 0: none.
    pub shaper: u64,
}

impl FlowParams {
    /// A PCQ: per classifier value, tail drop, no AQM.
    pub fn pcq(classifier: PcqClassifier, rate: u64, limit: Limit, total_limit: Limit) -> Self {
        FlowParams {
            key: FlowKey::Pcq(classifier),
            rate,
            burst: None,
            limit,
            total_limit,
            when_full: WhenFull::DropArriving,
            quantum: 1514,
            codel: None,
            new_flows_first: false,
            shaper: 0,
        }
    }
}

#[derive(Clone, Debug)]
struct Flow<T> {
    queue: VecDeque<Entry<T>>,
    bytes: u64,
    deficit: i64,
    /// `pcq-rate`'s token bucket, in bit·ns, and when it was last filled.
    tokens: i128,
    filled: Time,
    burst: Option<Burst>,
    codel: Codel,
    /// Its hosts, for per-host fairness; and whether it is in a list (new or old).
    hosts: (u32, u32),
    listed: bool,
}

impl<T> Flow<T> {
    /// Its rate now: `pcq-rate`, or `pcq-burst-rate` while it bursts.
    fn rate(&self, base: u64) -> u64 {
        self.burst.as_ref().map_or(base, |b| b.ceiling(base))
    }
}

/// A fair queue.
#[derive(Clone, Debug)]
pub struct Flows<T> {
    params: FlowParams,
    flows: Vec<Flow<T>>,
    index: FxHashMap<u64, usize>,
    /// Flows with packets (or, for new-flows-first, just emptied), in turn order: those
    /// that have just started, then the others.
    new: VecDeque<usize>,
    old: VecDeque<usize>,
    /// Flows listed per host (source and destination), for per-host fairness.
    host_flows: FxHashMap<u64, u32>,
    packets: u32,
    bytes: u64,
    /// `cake-bandwidth`'s bucket, in bit·ns.
    shaper_tokens: i128,
    shaper_filled: Time,
    pub dropped: u64,
}

/// A flow's bucket holds a tenth of a second at its rate, at least one full packet.
fn flow_bucket(rate: u64) -> i128 {
    (i128::from(rate) * i128::from(SEC) / 10).max(cost(1514))
}

/// CAKE's shaper sends at its rate with at most a millisecond's burst.
fn shaper_bucket(rate: u64) -> i128 {
    (i128::from(rate) * i128::from(MS)).max(cost(1514))
}

fn addr(a: std::net::Ipv4Addr) -> u64 {
    u64::from(u32::from(a))
}

/// A connection's hash (the one multipath routing spreads by), the same on every machine.
fn connection(t: &FiveTuple) -> u64 {
    u64::from(flow_hash(HashPolicy::L4, t))
}

/// CAKE's queues (it hashes into 1024 sets of 8; here as many buckets).
const CAKE_QUEUES: u64 = 8192;

impl<T> Flows<T> {
    pub fn new(params: FlowParams) -> Flows<T> {
        Flows {
            params,
            flows: Vec::new(),
            index: FxHashMap::default(),
            new: VecDeque::new(),
            old: VecDeque::new(),
            host_flows: FxHashMap::default(),
            packets: 0,
            bytes: 0,
            shaper_tokens: shaper_bucket(params.shaper),
            shaper_filled: 0,
            dropped: 0,
        }
    }

    /// The flow a packet belongs to, and the hosts whose share it counts against.
    fn key(&self, t: &FiveTuple, now: Time) -> (u64, (u32, u32)) {
        let (src, dst) = (u32::from(t.src), u32::from(t.dst));
        match self.params.key {
            FlowKey::Pcq(c) => (c.key(t), (0, 0)),
            FlowKey::Hashed { buckets, perturb } => {
                let salt = now.checked_div(perturb).unwrap_or(0);
                let bucket = mix64(connection(t) ^ salt) % u64::from(buckets.max(1));
                (bucket, (0, 0))
            }
            FlowKey::Cake(mode) => {
                let flow = connection(t) % CAKE_QUEUES;
                match mode {
                    CakeFlows::Blind => (0, (0, 0)),
                    CakeFlows::SrcHost => (addr(t.src), (0, 0)),
                    CakeFlows::DstHost => (addr(t.dst), (0, 0)),
                    CakeFlows::Hosts => (mix64((addr(t.src) << 32) | addr(t.dst)), (0, 0)),
                    CakeFlows::Flows => (flow, (0, 0)),
                    CakeFlows::DualSrcHost => (flow, (src, 0)),
                    CakeFlows::DualDstHost => (flow, (0, dst)),
                    CakeFlows::TripleIsolate => (flow, (src, dst)),
                }
            }
        }
    }

    /// Takes `entry` in, or hands it back when there is no room for it.
    pub fn enqueue(&mut self, entry: Entry<T>, tuple: &FiveTuple) -> Result<(), Entry<T>> {
        let p = self.params;
        let arriving_drop = p.when_full == WhenFull::DropArriving;
        if arriving_drop && !p.total_limit.admits(self.packets, self.bytes, entry.len) {
            return Err(entry);
        }
        let (key, hosts) = self.key(tuple, entry.at);
        let i = *self.index.entry(key).or_insert_with(|| {
            self.flows.push(Flow {
                queue: VecDeque::new(),
                bytes: 0,
                deficit: 0,
                tokens: flow_bucket(p.rate),
                filled: entry.at,
                burst: p.burst.map(|b| Burst::new(b, entry.at)),
                codel: Codel::default(),
                hosts,
                listed: false,
            });
            self.flows.len() - 1
        });
        let flow = &mut self.flows[i];
        if arriving_drop
            && !p
                .limit
                .admits(flow.queue.len() as u32, flow.bytes, entry.len)
        {
            return Err(entry);
        }
        if !flow.listed {
            flow.listed = true;
            flow.hosts = hosts;
            self.count_hosts(hosts, true);
            // A new flow's first turn is its quantum, shared with its host's other flows.
            let first = match p.new_flows_first {
                true => self.quantum(hosts),
                false => 0,
            };
            // CAKE keeps a flow that emptied in its lists for a while ("decaying"), so one
            // that comes back soon still owes what it overspent: a host cannot win turns
            // by spreading its bytes over many flows that each empty after a packet.
            let owed = match p.key {
                FlowKey::Cake(_) => self.flows[i].deficit.min(0),
                _ => 0,
            };
            self.flows[i].deficit = first + owed;
            match p.new_flows_first {
                true => self.new.push_back(i),
                false => self.old.push_back(i),
            }
        }
        let flow = &mut self.flows[i];
        flow.bytes += u64::from(entry.len);
        self.packets += 1;
        self.bytes += u64::from(entry.len);
        flow.queue.push_back(entry);
        if !arriving_drop {
            while self.packets > 0 && !p.total_limit.admits(self.packets - 1, self.bytes, 0) {
                self.drop_from_fattest();
            }
        }
        Ok(())
    }

    fn count_hosts(&mut self, (src, dst): (u32, u32), up: bool) {
        for (side, host) in [(1u64 << 32, src), (2u64 << 32, dst)] {
            if host == 0 {
                continue;
            }
            let n = self.host_flows.entry(side | u64::from(host)).or_default();
            if up {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Flows its hosts have listed: a flow's quantum is divided by the larger.
    fn host_load(&self, (src, dst): (u32, u32)) -> u32 {
        let get = |side: u64, h: u32| match h {
            0 => 1,
            h => self
                .host_flows
                .get(&(side | u64::from(h)))
                .copied()
                .unwrap_or(1),
        };
        get(1 << 32, src).max(get(2 << 32, dst)).max(1)
    }

    /// A flow's quantum: the queue's, divided among its hosts' flows.
    fn quantum(&self, hosts: (u32, u32)) -> i64 {
        (i64::from(self.params.quantum) / i64::from(self.host_load(hosts))).max(64)
    }

    fn drop_from_fattest(&mut self) {
        let by_bytes = self.params.when_full == WhenFull::DropFattestOldest;
        let fattest = (self.new.iter().chain(&self.old))
            .copied()
            .max_by_key(|&i| {
                let f = &self.flows[i];
                (
                    if by_bytes {
                        f.bytes
                    } else {
                        f.queue.len() as u64
                    },
                    i,
                )
            });
        let Some(i) = fattest else { return };
        let f = &mut self.flows[i];
        let e = if by_bytes {
            f.queue.pop_front()
        } else {
            f.queue.pop_back()
        };
        if let Some(e) = e {
            f.bytes -= u64::from(e.len);
            self.packets -= 1;
            self.bytes -= u64::from(e.len);
            self.dropped += 1;
        }
    }

    fn fill(&mut self, i: usize, now: Time) {
        let base = self.params.rate;
        let flow = &mut self.flows[i];
        let rate = flow.rate(base);
        if base > 0 && now > flow.filled {
            let added = i128::from(rate) * i128::from(now - flow.filled);
            flow.tokens = (flow.tokens + added).min(flow_bucket(rate));
        }
        flow.filled = flow.filled.max(now);
        if let Some(b) = flow.burst.as_mut()
            && b.advance(now)
        {
            flow.tokens = flow.tokens.min(flow_bucket(flow.rate(base)));
        }
    }

    fn fill_shaper(&mut self, now: Time) {
        let rate = self.params.shaper;
        if rate > 0 && now > self.shaper_filled {
            let added = i128::from(rate) * i128::from(now - self.shaper_filled);
            self.shaper_tokens = (self.shaper_tokens + added).min(shaper_bucket(rate));
        }
        self.shaper_filled = self.shaper_filled.max(now);
    }

    fn may_send(&self, i: usize) -> bool {
        let flow = &self.flows[i];
        let len = flow.queue.front().map_or(0, |e| e.len);
        self.params.rate == 0 || flow.tokens >= cost(len)
    }

    /// The list whose turn it is, and the flow at its front.
    fn front(&self) -> Option<(bool, usize)> {
        match self.new.front() {
            Some(&i) => Some((true, i)),
            None => self.old.front().map(|&i| (false, i)),
        }
    }

    /// Ends the turn of the flow at the front of `new` (or `old`): to the back of `old`, or
    /// out of the lists if it has nothing left (a new flow that emptied goes to `old` once,
    /// so it cannot stay new by sending in small bursts — RFC 8290).
    fn next_turn(&mut self, from_new: bool) {
        self.pass_turn(from_new, true);
    }

    /// The same, with a fresh quantum or (a flow held at its own rate) without.
    fn pass_turn(&mut self, from_new: bool, refill: bool) {
        let i = if from_new {
            self.new.pop_front()
        } else {
            self.old.pop_front()
        };
        let Some(i) = i else { return };
        let quantum = self.quantum(self.flows[i].hosts);
        let flow = &mut self.flows[i];
        if !flow.queue.is_empty() || (from_new && self.params.new_flows_first) {
            if refill {
                flow.deficit += quantum;
            }
            self.old.push_back(i);
        } else {
            flow.listed = false;
            let hosts = flow.hosts;
            self.count_hosts(hosts, false);
        }
    }

    /// The size of the packet that would go next at `now`, moving turns on to the flow that
    /// may send; `None` if none may.
    pub fn head(&mut self, now: Time) -> Option<u32> {
        self.fill_shaper(now);
        let listed = self.new.len() + self.old.len();
        for _ in 0..2 * listed + 2 {
            let (from_new, i) = self.front()?;
            self.fill(i, now);
            let flow = &self.flows[i];
            let Some(len) = flow.queue.front().map(|e| e.len) else {
                self.next_turn(from_new);
                continue;
            };
            if !self.may_send(i) {
                self.pass_turn(from_new, false);
                continue;
            }
            if flow.deficit <= 0 {
                self.next_turn(from_new);
                continue;
            }
            if self.params.shaper > 0 && self.shaper_tokens < cost(len) {
                return None;
            }
            return Some(len);
        }
        None
    }

    /// The size of the packet at the front of the flow whose turn it is, without moving turns.
    pub fn peek_len(&self) -> Option<u32> {
        (self.new.iter().chain(&self.old)).find_map(|&i| self.flows[i].queue.front().map(|e| e.len))
    }

    /// Takes the packet [`Flows::head`] named (or, when CoDel drops it, the next one that
    /// goes).
    pub fn dequeue(&mut self, now: Time) -> Option<Entry<T>> {
        loop {
            self.head(now)?;
            let (from_new, i) = self.front()?;
            let p = self.params;
            let flow = &mut self.flows[i];
            let mut backlog = self.bytes;
            let (e, dropped) = match p.codel {
                Some(c) => flow.codel.dequeue(&c, now, &mut flow.queue, &mut backlog),
                None => {
                    let e = flow.queue.pop_front();
                    backlog -= e.as_ref().map_or(0, |e| u64::from(e.len));
                    (e, 0)
                }
            };
            let taken = self.bytes - backlog;
            flow.bytes -= taken;
            self.bytes -= taken;
            self.packets -= dropped + u32::from(e.is_some());
            self.dropped += u64::from(dropped);
            let Some(e) = e else {
                // CoDel dropped all it held: the next flow's turn.
                self.next_turn(from_new);
                continue;
            };
            flow.deficit -= i64::from(e.len);
            if p.rate > 0 {
                flow.tokens -= cost(e.len);
            }
            if let Some(b) = flow.burst.as_mut() {
                b.sent(e.len);
            }
            if p.shaper > 0 {
                self.shaper_tokens -= cost(e.len);
            }
            if flow.queue.is_empty() || flow.deficit <= 0 {
                self.next_turn(from_new);
            }
            return Some(e);
        }
    }

    /// When a packet held back by the queue itself (a flow at its `pcq-rate`, the shaper)
    /// may go; `None` when nothing waits.
    pub fn next_ready(&self, now: Time) -> Option<Time> {
        if self.packets == 0 {
            return None;
        }
        let shaper = match self.params.shaper {
            0 => now,
            rate => {
                let tokens = self.shaper_tokens
                    + i128::from(rate) * i128::from(now.saturating_sub(self.shaper_filled));
                now + wait(cost(self.peek_len().unwrap_or(1514)) - tokens, rate)
            }
        };
        let rate = self.params.rate;
        if rate == 0 {
            return Some(shaper);
        }
        (self.new.iter().chain(&self.old))
            .filter(|&&i| !self.flows[i].queue.is_empty())
            .map(|&i| {
                let flow = &self.flows[i];
                let len = flow.queue.front().map_or(0, |e| e.len);
                let rate = flow.rate(rate);
                let tokens =
                    flow.tokens + i128::from(rate) * i128::from(now.saturating_sub(flow.filled));
                let ready = now + wait(cost(len) - tokens, rate);
                // A burst starting may let it go sooner.
                let ready = (flow.burst.as_ref())
                    .map_or(ready, |b| ready.min(b.next_decision().max(now + 1)));
                ready.max(shaper)
            })
            .min()
    }

    pub fn is_empty(&self) -> bool {
        self.packets == 0
    }
}
