//! The event queue: a binary min-heap of single 128-bit keys — time, then a sequence number,
//! then the slot of the payload in a slab — so one comparison orders two events and an entry is
//! 16 bytes: a queue of thousands of pending events stays in the L1 cache. The sequence number
//! makes the order total: events at the same nanosecond run in the order they were scheduled.

use crate::units::Time;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const SLOT_BITS: u32 = 24;
const SEQ_BITS: u32 = 64 - SLOT_BITS;

pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<u128>>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    seq: u64,
}

impl<E> EventQueue<E> {
    pub fn new() -> EventQueue<E> {
        EventQueue {
            heap: BinaryHeap::with_capacity(1 << 14),
            slots: Vec::with_capacity(1 << 14),
            free: Vec::with_capacity(1 << 14),
            seq: 0,
        }
    }

    /// Schedules `event` at `time`.
    ///
    /// # Panics
    /// With more than 2^24 events pending at once, which no scenario comes near.
    pub fn push(&mut self, time: Time, event: E) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(event);
                s
            }
            None => {
                assert!(self.slots.len() < 1 << SLOT_BITS, "too many pending events");
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        // 2^40 events before the sequence wraps: days of simulated time at millions per second.
        self.seq = (self.seq + 1) & ((1 << SEQ_BITS) - 1);
        let key = (time as u128) << 64 | (self.seq as u128) << SLOT_BITS | slot as u128;
        self.heap.push(Reverse(key));
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<Time> {
        self.heap.peek().map(|k| (k.0 >> 64) as Time)
    }

    pub fn pop(&mut self) -> Option<(Time, E)> {
        let Reverse(key) = self.heap.pop()?;
        let slot = (key as u32) & ((1 << SLOT_BITS) - 1);
        self.free.push(slot);
        let event = self.slots[slot as usize]
            .take()
            .expect("queued slot holds an event");
        Some(((key >> 64) as Time, event))
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn earliest_first_and_ties_in_scheduling_order() {
        let mut q = EventQueue::new();
        q.push(5, "late");
        q.push(1, "first");
        q.push(3, "tie-a");
        q.push(3, "tie-b");
        q.push(1 << 40, "far");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            [
                (1, "first"),
                (3, "tie-a"),
                (3, "tie-b"),
                (5, "late"),
                (1 << 40, "far")
            ]
        );
        assert!(q.is_empty());
    }

    proptest! {
        /// Interleaved pushes (never into the past) and pops come out
        /// exactly as a sort by (time, order of scheduling) gives them.
        #[test]
        fn matches_a_stable_sort(
            ops in prop::collection::vec((0u64..1 << 30, 0u8..4, any::<bool>()), 1..400)
        ) {
            let mut q = EventQueue::new();
            let mut model: Vec<(u64, usize)> = Vec::new();
            let mut now = 0;
            for (n, (delay, scale, pop)) in ops.into_iter().enumerate() {
                if pop {
                    model.sort();
                    let expected = (!model.is_empty()).then(|| model.remove(0));
                    let got = q.pop();
                    prop_assert_eq!(got, expected);
                    if let Some((t, _)) = got {
                        now = t;
                    }
                } else {
                    let delay = delay >> (scale * 10);
                    q.push(now + delay, n);
                    model.push((now + delay, n));
                }
            }
        }
    }
}
