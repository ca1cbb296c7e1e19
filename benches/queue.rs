//! The event queue against a binary heap of the same keys, at 1,000, 100,000 and 1,000,000
//! pending events: the "hold" model of a simulation — take the earliest event, schedule one a
//! random time later (from a microsecond to seconds, as packets and timers are).

use divan::{Bencher, black_box};
use pccsim::world::engine::queue::{EventQueue, Packable};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

fn main() {
    divan::main();
}

const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

/// Delays spread over six decades of nanoseconds (xorshift, fixed seed).
struct Delays(u64);

impl Delays {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let decade = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 1_000_000_000];
        1 + self.0 % decade[(self.0 >> 32) as usize % decade.len()]
    }
}

/// An event as the queue holds it: a number, as a flow's timer is.
#[derive(Clone, Copy)]
struct Ev(u32);

impl Packable for Ev {
    fn unpack(value: u32) -> Ev {
        Ev(value)
    }
}

#[divan::bench(args = SIZES, sample_size = 10_000, sample_count = 30)]
fn event_queue(b: Bencher, n: usize) {
    let mut q = EventQueue::new();
    let mut d = Delays(7);
    for i in 0..n {
        q.push(d.next(), Ev(i as u32));
    }
    b.bench_local(|| {
        let (now, e) = q.pop().unwrap();
        q.push(now + d.next(), black_box(e));
    });
}

/// The same with every event packed in its key (no slot), as flows' timers are.
#[divan::bench(args = SIZES, sample_size = 10_000, sample_count = 30)]
fn event_queue_packed(b: Bencher, n: usize) {
    let mut q = EventQueue::new();
    let mut d = Delays(7);
    for i in 0..n {
        q.push_packed(d.next(), i as u32);
    }
    b.bench_local(|| {
        let (now, Ev(e)) = q.pop().unwrap();
        q.push_packed(now + d.next(), black_box(e));
    });
}

#[divan::bench(args = SIZES, sample_size = 10_000, sample_count = 30)]
fn binary_heap(b: Bencher, n: usize) {
    // The same 128-bit keys as the queue: time, sequence, slot.
    let mut q = BinaryHeap::new();
    let mut d = Delays(7);
    let mut seq = 0u128;
    for i in 0..n {
        seq += 1;
        q.push(Reverse((d.next() as u128) << 64 | seq << 24 | i as u128));
    }
    b.bench_local(|| {
        let Reverse(key) = q.pop().unwrap();
        seq += 1;
        let now = (key >> 64) as u64;
        q.push(Reverse(
            ((now + d.next()) as u128) << 64 | seq << 24 | (key & 0xff_ffff),
        ));
    });
}
