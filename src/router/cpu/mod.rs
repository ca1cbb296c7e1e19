//! The router's CPUs: what each packet costs and which CPU pays. As in Linux with RPS, a
//! packet is handled by the CPU its flow hash picks (one connection's packets one way all land
//! on one CPU, so one heavy download can fill a CPU while the others idle); each CPU works
//! through its packets in order, and one whose backlog is full drops what arrives
//! (`netdev_max_backlog`, 1000 packets). A packet leaves once its CPU is done with it.
//!
//! Sans-IO like the rest of the router: [`Cpu::admit`] and [`Cpu::charge`] at a packet's
//! arrival, [`Cpu::release`] when [`Cpu::poll_timeout`] says.

mod model;

pub use self::model::{Costs, Figure, Model, Profile, find, models, shape};

use crate::packet::{FiveTuple, Protocol};
use crate::router::queue::Held;
use crate::units::{SEC, Time};
use std::collections::VecDeque;

/// Packets a CPU's backlog holds before it drops (Linux's `netdev_max_backlog` default).
const BACKLOG: usize = 1000;

/// What the router did for one packet: what its cost is counted from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Work {
    /// Firewall rules it was tried against, in all chains.
    pub rules: u32,
    /// Queue stages it went through.
    pub queues: u32,
    /// It started a connection.
    pub new: bool,
    /// It took the fast path.
    pub fast: bool,
}

/// What one CPU did in one second.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Second {
    /// Picoseconds busy.
    pub busy_ps: u64,
    /// Picoseconds it would have been busy had every packet of an established TCP or UDP
    /// connection taken the fast path (what FastTrack would save).
    pub fasttracked_ps: u64,
    /// Packets handled, and packets its full backlog dropped.
    pub packets: u32,
    pub dropped: u32,
}

/// One CPU: when it is next free, the packets it is still working through, and what it did
/// second by second.
#[derive(Clone, Debug, Default)]
struct Core {
    /// In picoseconds, so that sub-nanosecond costs add up.
    free_ps: u64,
    waiting: VecDeque<(Time, Held)>,
    seconds: Vec<Second>,
}

impl Core {
    /// Its account of second `second` of the run.
    fn second(&mut self, second: usize) -> &mut Second {
        if self.seconds.len() <= second {
            self.seconds.resize(second + 1, Second::default());
        }
        &mut self.seconds[second]
    }
}

/// A model's CPUs at work.
#[derive(Clone, Debug)]
pub struct Cpu {
    pub model: &'static Model,
    pub costs: Costs,
    cores: Vec<Core>,
    next: Option<Time>,
}

impl Cpu {
    pub fn new(model: &'static Model) -> Cpu {
        Cpu {
            model,
            costs: model.costs(),
            cores: vec![Core::default(); model.cpus as usize],
            next: None,
        }
    }

    /// The CPU that handles a packet of `tuple` (its flow hash), or `None` if that CPU's backlog
    /// is full and drops it.
    pub fn admit(&mut self, now: Time, tuple: &FiveTuple) -> Option<usize> {
        let cpu = (flow_hash(tuple) % self.cores.len() as u64) as usize;
        let core = &mut self.cores[cpu];
        if core.waiting.len() >= BACKLOG {
            core.second((now / SEC) as usize).dropped += 1;
            return None;
        }
        Some(cpu)
    }

    /// Charges `cpu` for a packet of `len` bytes that took `work`; returns when it is done.
    pub fn charge(&mut self, now: Time, cpu: usize, work: Work, len: u32, tracked: bool) -> Time {
        let c = &self.costs;
        let bytes = len as u64 * c.byte;
        let cost = if work.fast {
            c.fast + bytes
        } else {
            let setup = if work.new { c.setup } else { 0 };
            c.slow + work.rules as u64 * c.rule + work.queues as u64 * c.queue + setup + bytes
        };
        let fasttracked = if tracked && !work.new {
            c.fast + bytes
        } else {
            cost
        };
        let core = &mut self.cores[cpu];
        let start = core.free_ps.max(now * 1000);
        core.free_ps = start + cost;
        let done = core.free_ps.div_ceil(1000);
        let second = core.second((start / 1000 / SEC) as usize);
        second.busy_ps += cost;
        second.fasttracked_ps += fasttracked;
        second.packets += 1;
        done
    }

    /// Keeps `held` on `cpu` until `done`.
    pub fn hold(&mut self, cpu: usize, done: Time, held: Held) {
        self.cores[cpu].waiting.push_back((done, held));
        self.next = Some(self.next.map_or(done, |t| t.min(done)));
    }

    /// When [`Cpu::release`] must next run.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.next
    }

    /// Hands `out` every packet done by `now`, earliest first.
    pub fn release(&mut self, now: Time, mut out: impl FnMut(Held)) {
        loop {
            let first = (self.cores.iter().enumerate())
                .filter_map(|(i, c)| c.waiting.front().map(|&(t, _)| (t, i)))
                .min();
            match first {
                Some((t, i)) if t <= now => out(self.cores[i].waiting.pop_front().unwrap().1),
                _ => break,
            }
        }
        self.next = (self.cores.iter())
            .filter_map(|c| c.waiting.front().map(|&(t, _)| t))
            .min();
    }

    /// Per CPU, what it did second by second (up to the last second it worked or dropped in).
    pub fn seconds(&self) -> impl Iterator<Item = &[Second]> {
        self.cores.iter().map(|c| c.seconds.as_slice())
    }
}

/// Whether FastTrack could take a connection of `protocol` (it takes TCP and UDP only).
pub fn fasttrackable(protocol: Protocol) -> bool {
    matches!(protocol, Protocol::Tcp | Protocol::Udp)
}

/// The flow hash RPS spreads by: any well-mixed hash of the addresses and ports does.
fn flow_hash(t: &FiveTuple) -> u64 {
    let a = (u32::from(t.src) as u64) << 32 | u32::from(t.dst) as u64;
    let b = (t.src_port as u64) << 32 | (t.dst_port as u64) << 16 | t.protocol as u64;
    let mut h = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b;
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 32)
}
