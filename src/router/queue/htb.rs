//! HTB, the hierarchical token bucket every RouterOS queue is built on (help.mikrotik.com
//! "HTB"). Each queue (class) has `limit-at`, the rate it is guaranteed, and `max-limit`, the
//! rate it may reach by borrowing what its parent leaves unused; a packet a queue sends is
//! charged to every queue above it. Only leaf queues hold packets; `priority` (1 first, 8
//! last) orders leaves, inner queues' priority is ignored.
//!
//! As Linux's HTB, which RouterOS's derives from, decides: a class whose `max-limit` bucket is
//! short of the packet cannot send; one within its `limit-at` sends on its own tokens
//! (green); one past it (yellow) borrows from the nearest ancestor that is within its own
//! `limit-at`, with every class between within its `max-limit`. Green leaves go first, then
//! leaves borrowing from their parent, then from further up; at each step the lower
//! `priority` number first, and among equals, the one that has borrowed the fewest bytes since
//! it last became busy, so equals share the spare equally in bytes (**assumed**: Linux shares by quanta proportional to
//! `limit-at`, RouterOS does not say). Buckets hold `bucket-size` (0.1 by default) seconds of
//! their rate, at least one full-size packet. A queue at the top (parent `global` or an
//! interface) lends its whole `max-limit`.
//!
//! Tokens are integers in units of 10⁻⁹ bit (a rate in bit/s times nanoseconds), so runs are
//! the same on any machine.

use super::Entry;
use super::burst::{Burst, BurstSpec};
use super::discipline::{Discipline, Kind, cost, wait};
use crate::packet::FiveTuple;
use crate::units::{SEC, Time};

/// No limit: a rate that never runs out.
const UNLIMITED: u64 = u64::MAX;

/// One queue of the tree, as configured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassSpec {
    pub parent: Option<usize>,
    /// bit/s; 0: nothing guaranteed.
    pub limit_at: u64,
    /// bit/s; 0: no limit of its own.
    pub max_limit: u64,
    pub priority: u8,
    /// Seconds of rate a bucket holds.
    pub bucket_size: f64,
    pub kind: Kind,
    /// `burst-limit`, `burst-threshold`, `burst-time`: a ceiling above `max-limit` for a while.
    pub burst: Option<BurstSpec>,
}

/// What a queue has done, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassStats {
    pub packets: u64,
    pub bytes: u64,
    pub dropped: u64,
    /// Time its packets waited in all.
    pub delay: Time,
}

#[derive(Clone, Debug)]
struct Class<T> {
    spec: ClassSpec,
    level: u8,
    /// Effective rates: `limit-at` (a top queue: its ceiling), and the ceiling, which a queue
    /// without `max-limit` takes from its parent.
    rate: u64,
    ceil: u64,
    /// The ceiling when not bursting.
    base_ceil: u64,
    burst: Option<Burst>,
    rate_bucket: i128,
    ceil_bucket: i128,
    tokens: i128,
    ctokens: i128,
    filled: Time,
    /// Bytes borrowed while busy: the fairness counter among equals.
    served: u64,
    leaf: Option<Discipline<T>>,
    stats: ClassStats,
}

/// A tree of queues.
#[derive(Clone, Debug)]
pub struct Htb<T> {
    classes: Vec<Class<T>>,
}

/// A bucket of `secs` seconds at `rate`, at least one full-size packet.
fn bucket(rate: u64, secs: f64) -> i128 {
    let bits = i128::from(rate.min(UNLIMITED / 2)) as f64 * secs;
    (bits as i128 * i128::from(SEC)).max(cost(1514))
}

/// A packet's cost may borrow this many levels up at most (RouterOS nests queues 8 deep).
const MAX_DEPTH: usize = 8;

impl<T> Htb<T> {
    /// A tree of `specs`, each parent before its children.
    pub fn new(specs: &[ClassSpec]) -> Htb<T> {
        let mut classes: Vec<Class<T>> = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let parent = spec.parent.filter(|&p| p < i).map(|p| &classes[p]);
            let base_ceil = match (spec.max_limit, parent) {
                (0, Some(p)) => p.ceil,
                (0, None) => UNLIMITED,
                (m, _) => m,
            };
            let burst = spec.burst.map(|b| Burst::new(b, 0));
            let ceil = burst.as_ref().map_or(base_ceil, |b| b.ceiling(base_ceil));
            // A top queue lends all it may send.
            let rate = match parent {
                None => ceil,
                Some(_) => spec.limit_at.min(base_ceil),
            };
            let bucket = |r: u64| bucket(r, spec.bucket_size);
            classes.push(Class {
                spec: *spec,
                level: 0,
                rate,
                ceil,
                base_ceil,
                burst,
                rate_bucket: bucket(rate),
                ceil_bucket: bucket(ceil),
                tokens: bucket(rate),
                ctokens: bucket(ceil),
                filled: 0,
                served: 0,
                leaf: Some(Discipline::new(spec.kind)),
                stats: ClassStats::default(),
            });
        }
        // Queues with children hold no packets.
        for i in 0..classes.len() {
            if let Some(p) = classes[i].spec.parent.filter(|&p| p < i) {
                classes[p].leaf = None;
            }
        }
        for i in 0..classes.len() {
            let mut level = 0;
            let mut at = classes[i].spec.parent;
            while let Some(p) = at.filter(|_| level < MAX_DEPTH as u8) {
                level += 1;
                at = classes[p].spec.parent;
            }
            classes[i].level = level;
        }
        Htb { classes }
    }

    pub fn stats(&self, class: usize) -> ClassStats {
        let c = &self.classes[class];
        let inside = c.leaf.as_ref().map_or(0, |l| l.dropped_inside());
        ClassStats {
            dropped: c.stats.dropped + inside,
            ..c.stats
        }
    }

    /// Whether `class` holds packets (it has no children).
    pub fn is_leaf(&self, class: usize) -> bool {
        self.classes[class].leaf.is_some()
    }

    /// Puts `entry` into leaf `class`; hands it back, counted as dropped, when the leaf's queue
    /// is full (or `class` is not a leaf).
    pub fn enqueue(
        &mut self,
        class: usize,
        entry: Entry<T>,
        tuple: &FiveTuple,
    ) -> Result<(), Entry<T>> {
        let busiest_equal = self.busy_min_served(class);
        let c = &mut self.classes[class];
        let Some(leaf) = c.leaf.as_mut() else {
            c.stats.dropped += 1;
            return Err(entry);
        };
        let was_idle = leaf.is_empty();
        match leaf.enqueue(entry, tuple) {
            Ok(()) => {
                if was_idle {
                    // A queue that wakes up joins the others where they are, not at zero.
                    c.served = c.served.max(busiest_equal);
                }
                Ok(())
            }
            Err(e) => {
                c.stats.dropped += 1;
                Err(e)
            }
        }
    }

    /// The fewest bytes any busy leaf has sent: where a waking leaf starts.
    fn busy_min_served(&self, except: usize) -> u64 {
        (self.classes.iter().enumerate())
            .filter(|(i, c)| *i != except && c.leaf.as_ref().is_some_and(|l| !l.is_empty()))
            .map(|(_, c)| c.served)
            .min()
            .unwrap_or(0)
    }

    fn fill(&mut self, now: Time) {
        for i in 0..self.classes.len() {
            // A parent's ceiling may have moved (a burst): children without a max-limit of
            // their own move with it.
            let parent_ceil = (self.classes[i].spec.parent)
                .filter(|&p| p < i && self.classes[i].spec.max_limit == 0)
                .map(|p| self.classes[p].ceil);
            let c = &mut self.classes[i];
            if now > c.filled {
                let dt = i128::from(now - c.filled);
                if c.rate != UNLIMITED {
                    c.tokens = (c.tokens + i128::from(c.rate) * dt).min(c.rate_bucket);
                }
                if c.ceil != UNLIMITED {
                    c.ctokens = (c.ctokens + i128::from(c.ceil) * dt).min(c.ceil_bucket);
                }
                c.filled = now;
            }
            if let Some(ceil) = parent_ceil {
                c.base_ceil = ceil;
            }
            if let Some(b) = c.burst.as_mut() {
                b.advance(now);
            }
            let ceil = c
                .burst
                .as_ref()
                .map_or(c.base_ceil, |b| b.ceiling(c.base_ceil));
            if ceil != c.ceil {
                c.ceil = ceil;
                c.ceil_bucket = bucket(ceil, c.spec.bucket_size);
                c.ctokens = c.ctokens.min(c.ceil_bucket);
                if c.spec.parent.is_none() {
                    // A top queue lends all it may send.
                    c.rate = ceil;
                    c.rate_bucket = c.ceil_bucket;
                    c.tokens = c.tokens.min(c.rate_bucket);
                }
            }
        }
    }

    fn within_rate(&self, k: usize, need: i128) -> bool {
        let c = &self.classes[k];
        c.rate == UNLIMITED || (c.rate > 0 && c.tokens >= need)
    }

    fn within_ceil(&self, k: usize, need: i128) -> bool {
        let c = &self.classes[k];
        c.ceil == UNLIMITED || c.ctokens >= need
    }

    /// How far up leaf `k` must go for a lender of `need` now: 0 on its own tokens, 1 from its
    /// parent, …; `None` if none lends.
    fn lender(&self, k: usize, need: i128) -> Option<(u8, usize)> {
        let mut at = k;
        for depth in 0..=MAX_DEPTH as u8 {
            if !self.within_ceil(at, need) {
                return None;
            }
            if self.within_rate(at, need) {
                return Some((depth, at));
            }
            at = self.classes[at].spec.parent?;
        }
        None
    }

    /// Sends the packet HTB lets go first at `now`, if any may go.
    pub fn dequeue(&mut self, now: Time) -> Option<Entry<T>> {
        self.fill(now);
        let mut best: Option<((u8, u8, u64, usize), usize)> = None;
        for k in 0..self.classes.len() {
            let Some(len) = self.classes[k].leaf.as_mut().and_then(|l| l.head(now)) else {
                continue;
            };
            let Some((depth, lender)) = self.lender(k, cost(len)) else {
                continue;
            };
            let c = &self.classes[k];
            let key = (depth, c.spec.priority, c.served, k);
            if best.is_none_or(|(b, _)| key < b) {
                best = Some((key, lender));
            }
        }
        let ((depth, _, _, k), lender) = best?;
        let entry = self.classes[k].leaf.as_mut()?.dequeue(now)?;
        let need = cost(entry.len);
        // Tokens are charged from the lender up; every ceiling on the way.
        let lender_level = self.classes[lender].level;
        let mut at = Some(k);
        while let Some(i) = at {
            let c = &mut self.classes[i];
            if c.level <= lender_level && c.rate != UNLIMITED {
                c.tokens = (c.tokens - need).max(-c.rate_bucket);
            }
            if c.ceil != UNLIMITED {
                c.ctokens = (c.ctokens - need).max(-c.ceil_bucket);
            }
            if let Some(b) = c.burst.as_mut() {
                b.sent(entry.len);
            }
            at = c.spec.parent;
        }
        let c = &mut self.classes[k];
        if depth > 0 {
            c.served += u64::from(entry.len);
        }
        c.stats.packets += 1;
        c.stats.bytes += u64::from(entry.len);
        c.stats.delay += now.saturating_sub(entry.at);
        Some(entry)
    }

    /// When the next packet may go, if any waits: now if one may, else when the first bucket
    /// it needs has filled.
    pub fn next_ready(&mut self, now: Time) -> Option<Time> {
        self.fill(now);
        let mut next: Option<Time> = None;
        for k in 0..self.classes.len() {
            let Some(leaf) = self.classes[k].leaf.as_mut() else {
                continue;
            };
            let Some(own) = leaf.next_ready(now) else {
                continue;
            };
            let len = leaf.peek_len().unwrap_or(1514);
            let t = own.max(now + self.wait_for_lender(k, cost(len)));
            // A burst starting lifts a ceiling the wait above was computed against.
            let t = t.min(self.next_burst_decision(k).unwrap_or(Time::MAX));
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        next
    }

    /// The next moment a queue on leaf `k`'s way up may start bursting.
    fn next_burst_decision(&self, k: usize) -> Option<Time> {
        let mut at = Some(k);
        let mut next = None;
        for _ in 0..=MAX_DEPTH {
            let Some(i) = at else { break };
            let c = &self.classes[i];
            if let Some(b) = c.burst.as_ref() {
                let t = b.next_decision();
                next = Some(next.map_or(t, |n: Time| n.min(t)));
            }
            at = c.spec.parent;
        }
        next
    }

    /// How long until leaf `k` finds a lender for `need`: the best over each class on its way
    /// up of "its own tokens suffice, and every ceiling from the leaf to it".
    fn wait_for_lender(&self, k: usize, need: i128) -> Time {
        let mut ceilings: Time = 0;
        let mut best = Time::MAX;
        let mut at = Some(k);
        for _ in 0..=MAX_DEPTH {
            let Some(i) = at else { break };
            let c = &self.classes[i];
            if c.ceil != UNLIMITED {
                ceilings = ceilings.max(wait(need - c.ctokens, c.ceil));
            }
            let own = match c.rate {
                UNLIMITED => 0,
                0 => Time::MAX,
                r => wait(need - c.tokens, r),
            };
            best = best.min(ceilings.max(own));
            at = c.spec.parent;
        }
        best.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Protocol;
    use crate::router::queue::discipline::Limit;
    use crate::router::queue::fair::{FlowParams, PcqClassifier};
    use crate::units::MS;
    use std::net::Ipv4Addr;

    const M: u64 = 1_000_000;

    fn spec(parent: Option<usize>, limit_at: u64, max_limit: u64, priority: u8) -> ClassSpec {
        ClassSpec {
            parent,
            limit_at,
            max_limit,
            priority,
            bucket_size: 0.1,
            kind: Kind::Fifo(Limit::Packets(1000)),
            burst: None,
        }
    }

    /// A download to user `user`.
    fn tuple(user: u8) -> FiveTuple {
        FiveTuple {
            src: Ipv4Addr::new(198, 51, 100, 7),
            dst: Ipv4Addr::new(192, 168, 1, user),
            src_port: 443,
            dst_port: 40_000,
            protocol: Protocol::Tcp,
        }
    }

    /// Keeps each of `leaves` backlogged with 1500-byte packets for `secs` seconds and
    /// returns the bit/s each got after the first second (which drains the full buckets).
    fn saturate(htb: &mut Htb<usize>, leaves: &[usize], secs: u64) -> Vec<f64> {
        let sources: Vec<(usize, FiveTuple)> = leaves.iter().map(|&l| (l, tuple(1))).collect();
        saturate_sources(htb, &sources, secs)
    }

    /// The same with `sources`, each a leaf and the packets' addresses, kept at 20 waiting
    /// (or as many as the queue takes).
    fn saturate_sources(
        htb: &mut Htb<usize>,
        sources: &[(usize, FiveTuple)],
        secs: u64,
    ) -> Vec<f64> {
        let mut waiting = vec![0u32; sources.len()];
        let mut bytes = vec![0u64; sources.len()];
        let top_up = |htb: &mut Htb<usize>, waiting: &mut [u32], now: Time| {
            for (i, (leaf, t)) in sources.iter().enumerate() {
                while waiting[i] < 20 {
                    let e = Entry {
                        item: i,
                        len: 1500,
                        at: now,
                    };
                    if htb.enqueue(*leaf, e, t).is_err() {
                        break; // full: a sender keeps trying
                    }
                    waiting[i] += 1;
                }
            }
        };
        let (warm, end) = (SEC, secs * SEC);
        let mut at_warm: Option<Vec<u64>> = None;
        let mut now = 0;
        while now < end {
            top_up(htb, &mut waiting, now);
            while let Some(e) = htb.dequeue(now) {
                waiting[e.item] -= 1;
                bytes[e.item] += u64::from(e.len);
                top_up(htb, &mut waiting, now);
            }
            if now >= warm && at_warm.is_none() {
                at_warm = Some(bytes.clone());
            }
            now = htb.next_ready(now).expect("backlogged").max(now + 1);
        }
        let secs = (end - warm) as f64 / SEC as f64;
        (bytes.iter().zip(at_warm.unwrap()))
            .map(|(b, w)| (b - w) as f64 * 8.0 / secs)
            .collect()
    }

    fn near(got: f64, want: u64) -> bool {
        (got / want as f64 - 1.0).abs() < 0.02
    }

    #[test]
    fn a_single_queue_holds_its_max_limit() {
        let mut htb = Htb::new(&[spec(None, 0, 10 * M, 8)]);
        let got = saturate(&mut htb, &[0], 20);
        assert!(near(got[0], 10 * M), "{got:?}");
    }

    /// Parent 10M; A limit-at 2M priority 1, B limit-at 3M priority 8, both may reach 10M.
    /// Both get their limit-at first; the 5M spare goes to A, which is first in priority:
    /// A 7M, B 3M.
    #[test]
    fn children_get_their_limit_at_and_the_spare_goes_by_priority() {
        let mut htb = Htb::new(&[
            spec(None, 0, 10 * M, 8),
            spec(Some(0), 2 * M, 10 * M, 1),
            spec(Some(0), 3 * M, 10 * M, 8),
        ]);
        let got = saturate(&mut htb, &[1, 2], 20);
        assert!(near(got[0], 7 * M) && near(got[1], 3 * M), "{got:?}");
    }

    /// The same with equal priorities: the spare is shared in equal bytes, A 2 + 2.5 = 4.5M,
    /// B 3 + 2.5 = 5.5M; and a child's max-limit caps what it borrows: with B at most 4M,
    /// A takes the rest, 6M.
    #[test]
    fn equals_share_the_spare_and_max_limit_caps_borrowing() {
        let mut htb = Htb::new(&[
            spec(None, 0, 10 * M, 8),
            spec(Some(0), 2 * M, 10 * M, 5),
            spec(Some(0), 3 * M, 10 * M, 5),
        ]);
        let got = saturate(&mut htb, &[1, 2], 20);
        assert!(
            near(got[0], 4_500_000) && near(got[1], 5_500_000),
            "{got:?}"
        );
        let mut htb = Htb::new(&[
            spec(None, 0, 10 * M, 8),
            spec(Some(0), 2 * M, 10 * M, 5),
            spec(Some(0), 3 * M, 4 * M, 1),
        ]);
        let got = saturate(&mut htb, &[1, 2], 20);
        assert!(near(got[0], 6 * M) && near(got[1], 4 * M), "{got:?}");
    }

    /// A busy child alone borrows the whole parent; its limit-at is no cap.
    #[test]
    fn an_idle_siblings_share_is_borrowed() {
        let mut htb = Htb::new(&[
            spec(None, 0, 10 * M, 8),
            spec(Some(0), 2 * M, 0, 8),
            spec(Some(0), 3 * M, 0, 8),
        ]);
        let got = saturate(&mut htb, &[1], 20);
        assert!(near(got[0], 10 * M), "{got:?}");
    }

    /// A download kept at the queue's ceiling, in bit/s per second of the run.
    fn per_second(htb: &mut Htb<usize>, secs: u64) -> Vec<f64> {
        let mut bytes = vec![0u64; secs as usize];
        let mut now = 0;
        while now < secs * SEC {
            while htb
                .enqueue(
                    0,
                    Entry {
                        item: 0,
                        len: 1500,
                        at: now,
                    },
                    &tuple(1),
                )
                .is_ok()
            {}
            while let Some(e) = htb.dequeue(now) {
                bytes[(now / SEC) as usize] += u64::from(e.len);
            }
            now = htb.next_ready(now).expect("backlogged").max(now + 1);
        }
        bytes.iter().map(|b| *b as f64 * 8.0).collect()
    }

    /// max-limit 1M, burst-limit 2M, burst-threshold 1.5M, burst-time 8 s. At 2M the
    /// 8-second average reaches 1.5M after 8 × 1.5 / 2 = 6 s; then at 1M it stays at or above
    /// 1.5M until the window's oldest seconds, at 2M, leave it: (2·(8−x) + x)/8 < 1.5 past
    /// x = 4, so it bursts again from 10 s.
    #[test]
    fn a_queue_bursts_to_burst_limit_until_its_average_reaches_the_threshold() {
        let mut one = spec(None, 0, M, 8);
        one.burst = BurstSpec::new(2 * M, 1_500_000, 8 * SEC);
        let mut htb = Htb::new(&[one]);
        let got = per_second(&mut htb, 12);
        for (second, want) in [(1, 2 * M), (4, 2 * M), (7, M), (9, M), (11, 2 * M)] {
            assert!(near(got[second], want), "second {second}: {got:?}");
        }
    }

    fn pcq(rate: u64) -> Kind {
        let per_user = PcqClassifier {
            dst_address: true,
            ..PcqClassifier::NONE
        };
        Kind::Flows(FlowParams::pcq(
            per_user,
            rate,
            Limit::Packets(50),
            Limit::Packets(2000),
        ))
    }

    /// One queue of 10M with PCQ by destination: four users, one of them with four times the
    /// connections (sources), each get 10M / 4 within 5 %.
    #[test]
    fn pcq_gives_each_user_an_equal_share() {
        let mut one = spec(None, 0, 10 * M, 8);
        one.kind = pcq(0);
        let mut htb = Htb::new(&[one]);
        let mut sources: Vec<(usize, FiveTuple)> = (1..=4).map(|u| (0, tuple(u))).collect();
        for port in 1..=3 {
            let mut heavy = tuple(1);
            heavy.src_port = port;
            sources.push((0, heavy));
        }
        let got = saturate_sources(&mut htb, &sources, 20);
        let user1: f64 = got[0] + got[4..].iter().sum::<f64>();
        for (user, rate) in [user1, got[1], got[2], got[3]].iter().enumerate() {
            let share = rate / 2_500_000.0;
            assert!((share - 1.0).abs() < 0.05, "user {}: {rate}", user + 1);
        }
    }

    /// With pcq-rate=1M each of four users gets 1M, though the queue allows 10M.
    #[test]
    fn pcq_rate_holds_each_user() {
        let mut one = spec(None, 0, 10 * M, 8);
        one.kind = pcq(M);
        let mut htb = Htb::new(&[one]);
        let sources: Vec<(usize, FiveTuple)> = (1..=4).map(|u| (0, tuple(u))).collect();
        let got = saturate_sources(&mut htb, &sources, 20);
        assert!(got.iter().all(|&r| near(r, M)), "{got:?}");
    }

    /// pcq-rate 1M with pcq-burst-rate 4M, threshold 2M, time 8 s, in a 100M queue: a user
    /// gets 4M for 8 × 2 / 4 = 4 s, then 1M.
    #[test]
    fn pcq_burst_lifts_a_user_to_the_burst_rate_for_a_while() {
        let mut one = spec(None, 0, 100 * M, 8);
        let Kind::Flows(mut p) = pcq(M) else {
            unreachable!()
        };
        p.burst = BurstSpec::new(4 * M, 2 * M, 8 * SEC);
        p.limit = Limit::Packets(1000);
        one.kind = Kind::Flows(p);
        let mut htb = Htb::new(&[one]);
        let got = per_second(&mut htb, 7);
        for (second, want) in [(1, 4 * M), (3, 4 * M), (5, M), (6, M)] {
            assert!(near(got[second], want), "second {second}: {got:?}");
        }
    }

    fn of_kind(kind: &str, extra: &[(&str, &str)]) -> Kind {
        let mut props = vec![("name", "q"), ("kind", kind)];
        props.extend_from_slice(extra);
        let item = crate::router::config::StoredItem {
            line: 1,
            props: (props.iter())
                .map(|(k, v)| (k.to_string().into(), v.to_string()))
                .collect(),
        };
        let t = crate::router::queue::config::QueueType::from_item(
            &item,
            crate::router::config::Dialect::V7,
        );
        t.unwrap().kind
    }

    /// Host 1 downloads over four connections, host 2 over one, each from a server of its
    /// own, through a 20M queue. Per flow (`cake-flowmode=flows`, or `sfq`) host 1 gets four
    /// fifths, 16M; with CAKE's default `triple-isolate` each host gets half, 10M. (The
    /// senders here never back off, so CAKE's CoDel is set out of the way — `cake-rtt=10s`,
    /// a 500 ms target — lest its drops, which these senders do not notice, decide.)
    #[test]
    fn cake_isolates_hosts_and_sfq_flows() {
        let from = |server: u8, user: u8| {
            let mut t = tuple(user);
            t.src = Ipv4Addr::new(198, 51, 100, server);
            (0, t)
        };
        let sources = [from(1, 1), from(2, 1), from(3, 1), from(4, 1), from(5, 2)];
        let per_host = |kind: Kind| {
            let mut one = spec(None, 0, 20 * M, 8);
            one.kind = kind;
            let got = saturate_sources(&mut Htb::new(&[one]), &sources, 20);
            (got[..4].iter().sum::<f64>(), got[4])
        };
        let (h1, h2) = per_host(of_kind("cake", &[("cake-rtt", "10s")]));
        assert!(
            near(h1, 10 * M) && near(h2, 10 * M),
            "triple-isolate: {h1} {h2}"
        );
        let (h1, h2) = per_host(of_kind(
            "cake",
            &[("cake-rtt", "10s"), ("cake-flowmode", "flows")],
        ));
        assert!(near(h1, 16 * M) && near(h2, 4 * M), "flows: {h1} {h2}");
        let (h1, h2) = per_host(of_kind("sfq", &[]));
        assert!(near(h1, 16 * M) && near(h2, 4 * M), "sfq: {h1} {h2}");
    }

    /// `cake-bandwidth=5M` shapes on its own, inside a queue that allows 100M.
    #[test]
    fn cakes_shaper_holds_the_queue_to_its_bandwidth() {
        let mut one = spec(None, 0, 100 * M, 8);
        one.kind = of_kind("cake", &[("cake-bandwidth", "5M")]);
        let got = saturate(&mut Htb::new(&[one]), &[0], 20);
        assert!(near(got[0], 5 * M), "{got:?}");
    }

    /// Four bulk flows keep a 10M queue 200 packets deep; a fifth sends one small packet
    /// every 20 ms. Behind a FIFO each small packet waits for the 200 ahead of it, 200 ×
    /// 1.2 ms = 240 ms; fq-codel serves a flow that has just started first, so it waits for
    /// at most the one packet on the wire, 1.2 ms.
    #[test]
    fn fq_codel_lets_a_sparse_flow_past_the_bulk() {
        let sparse_wait = |kind: Kind| {
            let mut one = spec(None, 0, 10 * M, 8);
            one.kind = kind;
            let mut htb: Htb<usize> = Htb::new(&[one]);
            let (mut waits, mut waiting) = (Vec::new(), [0u32; 4]);
            let (mut now, mut next_sparse) = (0, 0);
            while now < 10 * SEC {
                for (i, w) in waiting.iter_mut().enumerate() {
                    let mut t = tuple(1);
                    t.src_port = i as u16;
                    while *w < 50
                        && htb
                            .enqueue(
                                0,
                                Entry {
                                    item: i,
                                    len: 1500,
                                    at: now,
                                },
                                &t,
                            )
                            .is_ok()
                    {
                        *w += 1;
                    }
                }
                if now >= next_sparse {
                    let sparse = Entry {
                        item: 9,
                        len: 100,
                        at: now,
                    };
                    htb.enqueue(0, sparse, &tuple(2)).expect("room");
                    next_sparse += 20 * MS;
                }
                while let Some(e) = htb.dequeue(now) {
                    match e.item {
                        9 => waits.push(now - e.at),
                        i => waiting[i] -= 1,
                    }
                }
                now = htb
                    .next_ready(now)
                    .unwrap_or(now + 1)
                    .max(now + 1)
                    .min(next_sparse);
            }
            waits.iter().sum::<u64>() / waits.len() as u64
        };
        let fifo = sparse_wait(of_kind("pfifo", &[("pfifo-limit", "1000")]));
        let fq = sparse_wait(of_kind("fq-codel", &[]));
        assert!(fifo > 200 * MS, "pfifo: {fifo} ns");
        assert!(fq < 2 * MS, "fq-codel: {fq} ns");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any queue type with any parameters, under traffic from many flows in bursts:
        /// nothing panics, and every packet offered is sent, dropped or still waiting.
        #[test]
        fn every_queue_type_accounts_for_every_packet(
            kind in proptest::sample::select(
                &["pfifo", "bfifo", "pcq", "sfq", "red", "codel", "fq-codel", "cake"][..],
            ),
            numbers in proptest::collection::vec(0u32..3000, 6),
            rate in proptest::sample::select(&["0", "1", "64k", "3M", "100M"][..]),
            mode in proptest::sample::select(
                &["flowblind", "srchost", "dsthost", "hosts", "flows", "dual-srchost",
                  "dual-dsthost", "triple-isolate"][..],
            ),
            arrivals in proptest::collection::vec((0u8..40, 1u32..1500, 0u64..200_000), 1..600),
        ) {
            let n: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
            let ms = |i: usize| format!("{}ms", numbers[i] / 10);
            let params: Vec<(&str, String)> = match kind {
                "pfifo" => vec![("pfifo-limit", n[0].clone())],
                "bfifo" => vec![("bfifo-limit", n[0].clone())],
                "pcq" => vec![("pcq-limit", n[0].clone()), ("pcq-total-limit", n[1].clone()),
                    ("pcq-rate", rate.to_string()), ("pcq-burst-rate", "5M".into()),
                    ("pcq-burst-threshold", rate.to_string()), ("pcq-burst-time", ms(2)),
                    ("pcq-classifier", "dst-address,src-port".into())],
                "sfq" => vec![("sfq-allot", n[0].clone()), ("sfq-perturb", ms(1))],
                "red" => vec![("red-limit", n[0].clone()), ("red-min-threshold", n[1].clone()),
                    ("red-max-threshold", n[2].clone()), ("red-burst", n[3].clone()),
                    ("red-avg-packet", n[4].clone())],
                "codel" => vec![("codel-limit", n[0].clone()), ("codel-target", ms(1)),
                    ("codel-interval", ms(2))],
                "fq-codel" => vec![("fq-codel-limit", n[0].clone()), ("fq-codel-flows", n[1].clone()),
                    ("fq-codel-quantum", n[2].clone()), ("fq-codel-target", ms(3)),
                    ("fq-codel-interval", ms(4))],
                _ => vec![("cake-bandwidth", rate.to_string()), ("cake-rtt", ms(0)),
                    ("cake-flowmode", mode.to_string())],
            };
            let props: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            // 2M: arrivals at up to 60M keep the queue full.
            let mut one = spec(None, 0, 2 * M, 8);
            one.kind = of_kind(kind, &props);
            let mut htb: Htb<u32> = Htb::new(&[one]);
            let (mut now, mut offered, mut refused, mut sent) = (0u64, 0u64, 0u64, 0u64);
            for (flow, len, gap) in arrivals {
                now += gap;
                let mut t = tuple(flow % 7);
                t.src_port = u16::from(flow);
                offered += 1;
                if htb.enqueue(0, Entry { item: 0, len, at: now }, &t).is_err() {
                    refused += 1;
                }
                while let Some(e) = htb.dequeue(now) {
                    proptest::prop_assert!(e.at <= now);
                    sent += 1;
                }
            }
            // Drain what is left.
            for _ in 0..100_000 {
                let Some(next) = htb.next_ready(now) else { break };
                now = next.max(now + 1);
                while htb.dequeue(now).is_some() {
                    sent += 1;
                }
            }
            let dropped_inside = htb.stats(0).dropped - refused;
            proptest::prop_assert!(htb.classes[0].leaf.as_ref().unwrap().is_empty());
            proptest::prop_assert_eq!(offered, sent + refused + dropped_inside);
        }
    }
}
