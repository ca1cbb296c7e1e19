//! ECMP: which of a route's next hops a packet takes.
//!
//! RouterOS 6 runs Linux 3.3, which picks a next hop when an address pair misses the routing
//! cache — by `fib_select_multipath`'s weighted round-robin, seeded by the clock's jiffies —
//! and keeps the pair there until the cache is flushed. The cache is flushed when routes
//! change and periodically (users report about every ten minutes); after a flush a pair may
//! land on another gateway, and its masqueraded connections leave with the old address.
//! RouterOS 7 has no cache: each packet's next hop is a hash of its addresses (`l3`, the
//! default) or addresses, ports and protocol (`l4`, `/ip settings
//! ipv4-multipath-hash-policy=l4`), mapped onto the next hops by hash-threshold as Linux does,
//! so a connection stays put until the set of next hops changes.

use crate::packet::FiveTuple;
use crate::router::routing::Hop;
use crate::units::{SEC, Time};
use rustc_hash::FxHashMap;

/// How often RouterOS 6 flushes its routing cache.
pub const CACHE_FLUSH_INTERVAL: Time = 600 * SEC;

/// v6's jiffies: Linux at `HZ=100`.
const JIFFY: Time = 10_000_000;

/// `/ip settings ipv4-multipath-hash-policy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HashPolicy {
    #[default]
    L3,
    L4,
}

impl HashPolicy {
    pub fn parse(text: &str) -> Option<HashPolicy> {
        match text {
            "l3" => Some(HashPolicy::L3),
            "l4" => Some(HashPolicy::L4),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            HashPolicy::L3 => "l3",
            HashPolicy::L4 => "l4",
        }
    }
}

/// The choosing state of one router.
#[derive(Clone, Debug)]
pub enum Ecmp {
    /// RouterOS 6: the routing cache and each route's round-robin state.
    Cache(RouteCache),
    /// RouterOS 7: a hash per packet.
    Hash(HashPolicy),
}

#[derive(Clone, Debug, Default)]
pub struct RouteCache {
    /// (source, destination, route) → the next hop chosen.
    entries: FxHashMap<(u32, u32, u32), Hop>,
    /// Per route: what is left of each next hop's turn, and of the round (`nh_power`,
    /// `fib_power`).
    power: FxHashMap<u32, (Vec<u32>, u32)>,
    next_flush: Time,
}

impl Ecmp {
    /// The next hop for a packet whose route offers `hops`.
    pub fn choose(&mut self, now: Time, tuple: &FiveTuple, hops: &[Hop]) -> Hop {
        match self {
            Ecmp::Cache(cache) => cache.choose(now, tuple, hops),
            Ecmp::Hash(policy) => hops[hash_threshold(flow_hash(*policy, tuple), hops.len())],
        }
    }

    /// The next periodic flush, if there is a cache.
    pub fn poll_timeout(&self) -> Option<Time> {
        match self {
            Ecmp::Cache(c) => Some(c.next_flush),
            Ecmp::Hash(_) => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Time) {
        if let Ecmp::Cache(c) = self
            && now >= c.next_flush
        {
            c.entries.clear();
            c.next_flush = now + CACHE_FLUSH_INTERVAL;
        }
    }

    /// Routes changed: Linux empties the routing cache and starts each round again.
    pub fn routes_changed(&mut self) {
        if let Ecmp::Cache(c) = self {
            c.entries.clear();
            c.power.clear();
        }
    }
}

impl RouteCache {
    pub fn new() -> RouteCache {
        RouteCache {
            next_flush: CACHE_FLUSH_INTERVAL,
            ..Default::default()
        }
    }

    fn choose(&mut self, now: Time, tuple: &FiveTuple, hops: &[Hop]) -> Hop {
        let key = (u32::from(tuple.src), u32::from(tuple.dst), hops[0].route);
        if let Some(hop) = self.entries.get(&key) {
            return *hop;
        }
        let (power, round) = self
            .power
            .entry(key.2)
            .or_insert_with(|| (vec![0; hops.len()], 0));
        let hop = hops[select_multipath(power, round, now / JIFFY)];
        self.entries.insert(key, hop);
        hop
    }
}

/// Linux 3.3's `fib_select_multipath` with every next hop of weight 1: a round gives each
/// next hop one turn, in an order the clock's jiffies shuffle.
fn select_multipath(power: &mut [u32], round: &mut u32, jiffies: u64) -> usize {
    if *round == 0 {
        power.iter_mut().for_each(|p| *p = 1);
        *round = power.len() as u32;
    }
    let mut w = (jiffies % *round as u64) as i64;
    for (i, p) in power.iter_mut().enumerate() {
        if *p == 0 {
            continue;
        }
        w -= *p as i64;
        if w <= 0 {
            *p -= 1;
            *round -= 1;
            return i;
        }
    }
    unreachable!("a round has a turn left while `round` > 0")
}

/// The multipath hash of a packet: its addresses, and with `l4` its ports and protocol.
pub fn flow_hash(policy: HashPolicy, t: &FiveTuple) -> u32 {
    let addrs = u64::from(u32::from(t.src)) | u64::from(u32::from(t.dst)) << 32;
    let rest = match policy {
        HashPolicy::L3 => 0,
        HashPolicy::L4 => {
            u64::from(t.src_port) | u64::from(t.dst_port) << 16 | (t.protocol as u64) << 32
        }
    };
    let h = crate::router::pcc::mix64(crate::router::pcc::mix64(addrs) ^ rest);
    (h >> 33) as u32
}

/// Linux's hash-threshold: the 31-bit hash space cut into equal slices, one per next hop, so
/// a change in the number of next hops moves as few flows as it can.
fn hash_threshold(hash: u32, n: usize) -> usize {
    let slice = (1u64 << 31) / n as u64;
    ((hash as u64 / slice) as usize).min(n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_gives_each_next_hop_one_turn() {
        let mut power = vec![0; 3];
        let mut round = 0;
        for start in [0u64, 7, 12345] {
            let mut got: Vec<usize> = (0..3)
                .map(|k| select_multipath(&mut power, &mut round, start + k))
                .collect();
            got.sort();
            assert_eq!(got, [0, 1, 2]);
        }
    }

    #[test]
    fn hash_threshold_spreads_evenly() {
        let mut counts = [0u32; 3];
        for i in 0..30_000u32 {
            let t = FiveTuple {
                src: std::net::Ipv4Addr::from(0x0a00_0000 + i),
                dst: std::net::Ipv4Addr::from(0x5db8_0000 + i * 7),
                src_port: 40000,
                dst_port: 443,
                protocol: crate::packet::Protocol::Tcp,
            };
            counts[hash_threshold(flow_hash(HashPolicy::L3, &t), 3)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }
}
