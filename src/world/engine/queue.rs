//! The event queue. Each event has one 128-bit key — time, then a sequence number, then the
//! slot of its payload in a slab — so keys are unique and their order is total: events at the
//! same nanosecond run in the order they were scheduled.
//!
//! The keys are held one of two ways, by how many are pending. Up to tens of thousands, a
//! binary heap of 16-byte keys sits in the cache and is the fastest. Past that, a radix heap:
//! simulated time only moves forward and no event is scheduled before the last one taken, so a
//! key is filed in the bucket of the highest bit in which it differs from that last key; a
//! push is an append, and a key moves to a lower bucket only as the clock nears it — flat cost
//! where the binary heap's log₂(n) scattered touches miss the cache (`cargo bench --bench
//! queue`, this queue against a binary heap alone: 1.5× faster at 100,000 pending, 2.4× at
//! 1,000,000; a radix heap at every size made the 200-user office ~20 % slower, hence both).
//! Both give the same order, so switching changes no result.
//!
//! An event small enough to be a number (a flow's timer: the flow's index) travels in its
//! key's low bits instead of a slot ([`EventQueue::push_packed`]): with a million quiet
//! connections, each waiting on a timer, that is 48 bytes and a cache miss less per timer.
//!
//! Events that a FIFO wire delivers come in time order on their own: they wait in a *lane*
//! (one per wire direction), a plain queue, and only the lanes' heads — in a small heap of their
//! own — compete with the heap.
//! In the office scenario 37 % of all events are scheduled 65–131 µs ahead, the LAN's
//! deliveries alone; they never touch the heap. Internet crossings are in order too, per
//! server, WAN and way (each takes the same time), but there are hundreds of thousands of
//! those lanes: [`ManyLanes`] keeps a heap of their first keys only (the 3,200-user campus
//! 19 % faster; at a million connections, where a lane rarely holds two packets, ~5 %
//! slower). Lanes' keys come from the same sequence, so the order of events is exactly as if
//! they were in the heap.

use crate::units::Time;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::VecDeque;

const SLOT_BITS: u32 = 24;
/// Set in a key whose low bits are the event itself ([`Packable`]), not a slot.
const PACKED: u128 = 1 << SLOT_BITS;
const SEQ_BITS: u32 = 64 - SLOT_BITS - 1;
/// Pending keys past which the radix heap takes over, and below which the binary heap comes
/// back (apart, so a queue near one size does not switch back and forth).
const TO_RADIX: usize = 1 << 16;
const TO_HEAP: usize = 1 << 14;

/// Values in reused places: a place freed is the next one given (so no allocation once the
/// queue has grown to its busiest).
struct Slab<T> {
    places: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    fn with_capacity(n: usize) -> Slab<T> {
        Slab {
            places: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
        }
    }

    fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.places[i as usize] = Some(value);
                i
            }
            None => {
                self.places.push(Some(value));
                (self.places.len() - 1) as u32
            }
        }
    }

    fn get(&self, i: u32) -> Option<&T> {
        self.places[i as usize].as_ref()
    }

    fn get_mut(&mut self, i: u32) -> &mut T {
        self.places[i as usize].as_mut().expect("a taken place")
    }

    fn take(&mut self, i: u32) -> T {
        self.free.push(i);
        self.places[i as usize].take().expect("a taken place")
    }
}

/// A key's low bits: the slot of its event, a packed event, or a lane's number.
fn low_bits(key: u128) -> u32 {
    key as u32 & ((1 << SLOT_BITS) - 1)
}

/// An event that can be made from a number below 2^24 (see [`EventQueue::push_packed`]).
pub trait Packable {
    fn unpack(value: u32) -> Self;
}

pub struct EventQueue<E> {
    keys: Keys,
    /// Events that arrive in time order, with their keys, per lane (held inline: a lane is
    /// read front to back, so its events need no slot in the slab).
    lanes: Vec<VecDeque<(u128, E)>>,
    /// The first key of each lane that holds events, with the lane's number in its low bits:
    /// the earliest lane is the first of a small heap.
    lane_heads: Keys,
    /// Lanes too many to look at each (one per internet server and WAN, each way).
    many: ManyLanes<E>,
    /// The key of the last event taken (keys never go below it).
    last: u128,
    slots: Slab<E>,
    seq: u64,
}

/// Keys, earliest first: a binary heap while they are few, a radix heap while they are many
/// (see the module's doc). Both give the same order, so switching changes no result.
struct Keys {
    form: Form,
    /// The last key taken: keys pushed are never below it.
    taken: u128,
}

enum Form {
    Heap(BinaryHeap<Reverse<u128>>),
    Radix(RadixHeap),
}

impl Keys {
    fn new() -> Keys {
        Keys {
            form: Form::Heap(BinaryHeap::with_capacity(1 << 14)),
            taken: 0,
        }
    }

    fn push(&mut self, key: u128) {
        match &mut self.form {
            Form::Heap(heap) => {
                heap.push(Reverse(key));
                if heap.len() > TO_RADIX {
                    let mut radix = RadixHeap::new(self.taken);
                    heap.drain().for_each(|Reverse(k)| radix.push(k));
                    self.form = Form::Radix(radix);
                }
            }
            Form::Radix(radix) => radix.push(key),
        }
    }

    fn peek(&mut self) -> Option<u128> {
        match &mut self.form {
            Form::Heap(heap) => heap.peek().map(|k| k.0),
            Form::Radix(radix) => radix.peek(),
        }
    }

    fn pop(&mut self) -> Option<u128> {
        let key = match &mut self.form {
            Form::Heap(heap) => heap.pop()?.0,
            Form::Radix(radix) => {
                let key = radix.pop()?;
                if radix.len < TO_HEAP {
                    let keys: Vec<_> = radix.drain().map(Reverse).collect();
                    self.form = Form::Heap(BinaryHeap::from(keys));
                }
                key
            }
        };
        self.taken = key;
        Some(key)
    }

    /// Takes the earliest key and puts `key` in (one sift of a binary heap, not two).
    fn replace_first(&mut self, key: u128) {
        match &mut self.form {
            Form::Heap(heap) => {
                let mut first = heap.peek_mut().expect("a key to replace");
                self.taken = first.0;
                first.0 = key;
            }
            Form::Radix(_) => {
                self.pop();
                self.push(key);
            }
        }
    }

    fn is_empty(&self) -> bool {
        match &self.form {
            Form::Heap(heap) => heap.is_empty(),
            Form::Radix(radix) => radix.len == 0,
        }
    }
}

/// The next event, seen before it is taken ([`EventQueue::upcoming`]).
pub enum Upcoming<'a, E> {
    Event(&'a E),
    /// A packed event's number.
    Packed(u32),
}

/// Where the next event waits.
#[derive(Clone, Copy)]
enum Next {
    Keys,
    Lane(usize),
    Many,
}

impl<E> EventQueue<E> {
    pub fn new() -> EventQueue<E> {
        EventQueue::with_lanes(0)
    }

    /// A queue with `lanes` lanes for in-order events ([`EventQueue::push_in_lane`]).
    pub fn with_lanes(lanes: usize) -> EventQueue<E> {
        EventQueue {
            lanes: (0..lanes)
                .map(|_| VecDeque::with_capacity(1 << 10))
                .collect(),
            lane_heads: Keys::new(),
            keys: Keys::new(),
            many: ManyLanes::default(),
            last: 0,
            slots: Slab::with_capacity(1 << 14),
            seq: 0,
        }
    }

    /// Schedules `event` at `time`, which is no earlier than the last event taken.
    ///
    /// # Panics
    /// With more than 2^24 events pending at once, which no scenario comes near.
    pub fn push(&mut self, time: Time, event: E) {
        let slot = self.store(event);
        let key = self.key(time, slot);
        self.keys.push(key);
    }

    /// Schedules `E::unpack(value)` at `time` with no slot: its key carries it.
    pub fn push_packed(&mut self, time: Time, value: u32)
    where
        E: Packable,
    {
        if value >= 1 << SLOT_BITS {
            return self.push(time, E::unpack(value));
        }
        let key = self.key(time, 0) | PACKED | value as u128;
        self.keys.push(key);
    }

    /// Schedules `event` at `time` in `lane`, whose events come no earlier than the ones
    /// before them in it.
    pub fn push_in_lane(&mut self, lane: usize, time: Time, event: E) {
        let key = self.key(time, 0);
        let queue = &mut self.lanes[lane];
        debug_assert!(
            queue.back().is_none_or(|(k, _)| *k < key),
            "a lane out of order"
        );
        if queue.is_empty() {
            self.lane_heads.push(key | lane as u128);
        }
        queue.push_back((key, event));
    }

    /// Schedules `event` at `time` in lane `lane` of the many ([`ManyLanes`]), whose events
    /// come no earlier than the ones before them in it.
    pub fn push_in_many(&mut self, lane: u32, time: Time, event: E) {
        if lane >= 1 << SLOT_BITS {
            return self.push(time, event);
        }
        let key = self.key(time, 0);
        self.many.push(lane, key, event);
    }

    /// Schedules `event` at `time` in lane `lane` of the many if that keeps the lane in
    /// order (nothing in it comes later), else in the heap.
    pub fn push_in_many_if_in_order(&mut self, lane: u32, time: Time, event: E) {
        match self.many.last_time(lane) {
            Some(last) if last > time => self.push(time, event),
            _ => self.push_in_many(lane, time, event),
        }
    }

    /// A slot of the slab for an event of the heap.
    fn store(&mut self, event: E) -> u32 {
        let slot = self.slots.insert(event);
        assert!(slot < 1 << SLOT_BITS, "too many pending events");
        slot
    }

    /// An event's key: its time, then the sequence, then its slot (0 in a lane).
    fn key(&mut self, time: Time, slot: u32) -> u128 {
        // 2^40 events before the sequence wraps: days of simulated time at millions per second.
        self.seq = (self.seq + 1) & ((1 << SEQ_BITS) - 1);
        let key = (time as u128) << 64 | (self.seq as u128) << (SLOT_BITS + 1) | slot as u128;
        debug_assert!(key > self.last, "an event scheduled in the past");
        key
    }

    /// The earliest key and where it waits.
    fn next(&mut self) -> Option<(u128, Next)> {
        let mut best = self.keys.peek().map(|k| (k, Next::Keys));
        if let Some(k) = self.lane_heads.peek()
            && best.is_none_or(|(b, _)| k < b)
        {
            best = Some((k, Next::Lane(low_bits(k) as usize)));
        }
        if let Some(k) = self.many.peek()
            && best.is_none_or(|(b, _)| k < b)
        {
            best = Some((k, Next::Many));
        }
        best
    }

    /// The earliest event, if it is due by `until`.
    #[inline]
    pub fn pop_due(&mut self, until: Time) -> Option<(Time, E)>
    where
        E: Packable,
    {
        let (key, at) = self.next()?;
        if (key >> 64) as Time > until {
            return None;
        }
        match at {
            Next::Keys => {
                let key = self.keys.pop().expect("peeked");
                Some(self.take(key))
            }
            Next::Lane(i) => {
                let lane = &mut self.lanes[i];
                let (key, event) = lane.pop_front().expect("peeked");
                match lane.front() {
                    Some((next, _)) => self.lane_heads.replace_first(next | i as u128),
                    None => drop(self.lane_heads.pop()),
                }
                self.last = key;
                Some(((key >> 64) as Time, event))
            }
            Next::Many => {
                let (key, event) = self.many.pop();
                self.last = key;
                Some(((key >> 64) as Time, event))
            }
        }
    }

    /// The earliest event, left in place: a look at what it will touch, to fetch it early.
    pub fn upcoming(&mut self) -> Option<Upcoming<'_, E>> {
        let (key, at) = self.next()?;
        let low = low_bits(key);
        match at {
            Next::Lane(i) => self.lanes[i].front().map(|(_, e)| Upcoming::Event(e)),
            Next::Many => self.many.front().map(Upcoming::Event),
            Next::Keys if key & PACKED != 0 => Some(Upcoming::Packed(low)),
            Next::Keys => self.slots.get(low).map(Upcoming::Event),
        }
    }

    /// The time of the earliest event.
    pub fn peek_time(&mut self) -> Option<Time> {
        self.next().map(|(key, _)| (key >> 64) as Time)
    }

    pub fn pop(&mut self) -> Option<(Time, E)>
    where
        E: Packable,
    {
        self.pop_due(Time::MAX)
    }

    /// The event of a key taken out.
    fn take(&mut self, key: u128) -> (Time, E)
    where
        E: Packable,
    {
        self.last = key;
        let time = (key >> 64) as Time;
        if key & PACKED != 0 {
            return (time, E::unpack(low_bits(key)));
        }
        let event = self.slots.take(low_bits(key));
        (time, event)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
            && self.lanes.iter().all(VecDeque::is_empty)
            && self.many.heads.is_empty()
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue::new()
    }
}

/// Lanes by the hundred thousand: a heap of the non-empty lanes' first keys (the lane in the
/// key's low bits, where a lane's keys have no slot) finds the earliest, so a lane's later
/// events wait in it, not in a heap — a push is an append and a pop one sift of a heap as big
/// as the lanes in use, not as the events pending. Lanes are lists through one slab of
/// nodes, so an idle lane costs 8 bytes and a busy one allocates nothing of its own.
struct ManyLanes<E> {
    /// Per lane, its first and last node (`NONE` when empty).
    ends: Vec<(u32, u32)>,
    nodes: Slab<LaneNode<E>>,
    heads: Keys,
}

struct LaneNode<E> {
    key: u128,
    /// The key of the node after it, `u128::MAX` while there is none (so taking this one needs
    /// no look at that one).
    next_key: u128,
    event: E,
    next: u32,
}

const NONE: u32 = u32::MAX;

impl<E> Default for ManyLanes<E> {
    fn default() -> Self {
        ManyLanes {
            ends: Vec::new(),
            nodes: Slab::with_capacity(0),
            heads: Keys::new(),
        }
    }
}

impl<E> ManyLanes<E> {
    /// When the last event waiting in `lane` is due.
    fn last_time(&self, lane: u32) -> Option<Time> {
        match *self.ends.get(lane as usize)? {
            (NONE, _) => None,
            (_, last) => self.nodes.get(last).map(|n| (n.key >> 64) as Time),
        }
    }

    fn push(&mut self, lane: u32, key: u128, event: E) {
        let l = lane as usize;
        if l >= self.ends.len() {
            self.ends.resize(l + 1, (NONE, NONE));
        }
        let n = self.nodes.insert(LaneNode {
            key,
            next_key: u128::MAX,
            event,
            next: NONE,
        });
        match self.ends[l] {
            (NONE, _) => {
                self.ends[l] = (n, n);
                self.heads.push(key | lane as u128);
            }
            (first, last) => {
                let last = self.nodes.get_mut(last);
                debug_assert!(last.key < key, "a lane out of order");
                last.next = n;
                last.next_key = key;
                self.ends[l] = (first, n);
            }
        }
    }

    /// The earliest key, with its lane in the low bits.
    fn peek(&mut self) -> Option<u128> {
        self.heads.peek()
    }

    fn front(&mut self) -> Option<&E> {
        let lane = low_bits(self.heads.peek()?);
        let first = self.ends[lane as usize].0;
        self.nodes.get(first).map(|node| &node.event)
    }

    /// Takes the earliest event; there must be one.
    fn pop(&mut self) -> (u128, E) {
        let head = self.heads.peek().expect("a lane holds events");
        let lane = low_bits(head) as usize;
        let LaneNode {
            key,
            next_key,
            event,
            next,
        } = self.nodes.take(self.ends[lane].0);
        if next == NONE {
            self.ends[lane] = (NONE, NONE);
            self.heads.pop();
        } else {
            self.ends[lane].0 = next;
            self.heads.replace_first(next_key | lane as u128);
        }
        (key, event)
    }
}

/// Keys no smaller than `last`, in buckets: bucket `b` (1..=128) holds the keys whose highest
/// bit differing from `last` is bit `b - 1`; bucket 0 the key equal to `last`, once settled.
/// A look ahead settles `last` on the earliest key; keys scheduled after it but earlier still
/// wait in a small binary heap of their own until taken.
struct RadixHeap {
    buckets: Vec<Vec<u128>>,
    /// Bit `b - 1` set when bucket `b` holds keys: the next full one is a `trailing_zeros` away.
    full: u128,
    /// The smallest key of the buckets, once a look ahead has settled it; else the last key
    /// taken.
    last: u128,
    /// Keys below `last`, scheduled after a look ahead settled it.
    early: BinaryHeap<Reverse<u128>>,
    len: usize,
}

impl RadixHeap {
    fn new(last: u128) -> RadixHeap {
        RadixHeap {
            buckets: (0..129).map(|_| Vec::new()).collect(),
            full: 0,
            last,
            early: BinaryHeap::new(),
            len: 0,
        }
    }

    fn push(&mut self, key: u128) {
        if key < self.last {
            self.early.push(Reverse(key));
        } else {
            self.file(key);
        }
        self.len += 1;
    }

    fn file(&mut self, key: u128) {
        let b = (128 - (key ^ self.last).leading_zeros()) as usize;
        self.buckets[b].push(key);
        if b > 0 {
            self.full |= 1 << (b - 1);
        }
    }

    fn peek(&mut self) -> Option<u128> {
        let settled = self.settle().map(|()| self.last);
        match (self.early.peek(), settled) {
            (Some(&Reverse(early)), Some(key)) => Some(early.min(key)),
            (early, settled) => early.map(|r| r.0).or(settled),
        }
    }

    fn pop(&mut self) -> Option<u128> {
        let key = self.peek()?;
        if self.early.peek() == Some(&Reverse(key)) {
            self.early.pop();
        } else {
            self.buckets[0].pop();
        }
        self.len -= 1;
        Some(key)
    }

    /// Makes the earliest key `last`, alone in bucket 0.
    fn settle(&mut self) -> Option<()> {
        if !self.buckets[0].is_empty() {
            return Some(());
        }
        if self.full == 0 {
            return None;
        }
        let b = self.full.trailing_zeros() as usize + 1;
        self.full &= !(1 << (b - 1));
        let mut keys = std::mem::take(&mut self.buckets[b]);
        self.last = *keys.iter().min().expect("a full bucket");
        // Each key lands in a lower bucket: they all share `last`'s bits above bit b - 1.
        for &key in &keys {
            self.file(key);
        }
        // The emptied bucket keeps its memory for its next keys.
        keys.clear();
        self.buckets[b] = keys;
        Some(())
    }

    fn drain(&mut self) -> impl Iterator<Item = u128> + '_ {
        self.len = 0;
        self.full = 0;
        let early = self.early.drain().map(|r| r.0);
        self.buckets
            .iter_mut()
            .flat_map(|b| b.drain(..))
            .chain(early)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    impl Packable for usize {
        fn unpack(value: u32) -> usize {
            value as usize
        }
    }

    impl Packable for u64 {
        fn unpack(value: u32) -> u64 {
            value as u64
        }
    }

    impl Packable for &str {
        fn unpack(_: u32) -> Self {
            "packed"
        }
    }

    /// Pops one event and checks it is the model's earliest; the clock moves to it.
    fn pop_as_the_model(
        q: &mut EventQueue<usize>,
        model: &mut Vec<(u64, usize)>,
        now: &mut u64,
    ) -> Result<(), TestCaseError> {
        model.sort();
        let expected = (!model.is_empty()).then(|| model.remove(0));
        let got = q.pop();
        prop_assert_eq!(got, expected);
        if let Some((t, _)) = got {
            *now = t;
        }
        Ok(())
    }

    proptest! {
        /// Events in many lanes (each lane in time order), a few fixed lanes and the heap,
        /// interleaved with pops: the order of a sort by (time, scheduling).
        #[test]
        fn many_lanes_keep_the_total_order(
            ops in prop::collection::vec((0u64..1 << 20, 0u8..3, 0u32..50, any::<bool>()), 1..400)
        ) {
            const FIXED: u32 = 4;
            let mut q: EventQueue<usize> = EventQueue::with_lanes(FIXED as usize);
            let mut model: Vec<(u64, usize)> = Vec::new();
            let mut lane_last = std::collections::HashMap::new();
            let mut now = 0;
            for (n, (delay, kind, lane, pop)) in ops.into_iter().enumerate() {
                if pop {
                    pop_as_the_model(&mut q, &mut model, &mut now)?;
                    continue;
                }
                // A lane takes only times no earlier than its last.
                let mut in_order = |lane: u32| {
                    let t = (now + delay).max(*lane_last.get(&lane).unwrap_or(&0));
                    lane_last.insert(lane, t);
                    t
                };
                let t = match kind {
                    0 => now + delay,
                    1 => in_order(u32::MAX - lane % FIXED),
                    _ => in_order(lane),
                };
                match kind {
                    0 => q.push(t, n),
                    1 => q.push_in_lane((lane % FIXED) as usize, t, n),
                    _ => q.push_in_many(lane * 997, t, n),
                }
                model.push((t, n));
            }
            model.sort();
            let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
            prop_assert_eq!(rest, model);
            prop_assert!(q.is_empty());
        }
    }

    #[test]
    fn many_lanes_keep_the_order_when_their_heads_outgrow_the_binary_heap() {
        // More lanes in use than the heads' binary heap holds: the radix heap takes over.
        let mut q: EventQueue<usize> = EventQueue::new();
        let mut model = Vec::new();
        let lanes = TO_RADIX as u64 + 5_000;
        for round in 0..3u64 {
            for lane in 0..lanes {
                let t = 1 + round * 1_000_000 + (lane * 7919) % 999_983;
                let n = model.len();
                q.push_in_many(lane as u32, t, n);
                model.push((t, n));
            }
        }
        assert!(matches!(q.many.heads.form, Form::Radix(_)));
        model.sort();
        let got: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(got, model);
    }

    #[test]
    fn packed_events_keep_their_place_in_the_order() {
        let mut q: EventQueue<usize> = EventQueue::with_lanes(1);
        q.push(5, 1_000);
        q.push_packed(5, 7);
        q.push_in_lane(0, 5, 2_000);
        q.push_packed(3, 1 << 24); // too big to pack: it takes a slot
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, [(3, 1 << 24), (5, 1_000), (5, 7), (5, 2_000)]);
    }

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

    #[test]
    fn the_order_holds_across_the_switch_to_the_radix_heap_and_back() {
        let mut q = EventQueue::new();
        let mut model = Vec::new();
        // Past TO_RADIX pending, then drained below TO_HEAP, with pushes between pops.
        for i in 0..(TO_RADIX as u64 + 1000) {
            let t = (i * 7919) % 100_000 + 1;
            q.push(t, i);
            model.push((t, i));
        }
        assert!(matches!(q.keys.form, Form::Radix(_)));
        model.sort();
        let mut got = Vec::new();
        while let Some((t, e)) = q.pop() {
            got.push((t, e));
        }
        assert!(matches!(q.keys.form, Form::Heap(_)));
        assert_eq!(got, model);
    }

    #[test]
    fn an_event_earlier_than_a_look_ahead_still_comes_first() {
        let mut q = EventQueue::new();
        for i in 0..(TO_RADIX as u64 + 10) {
            q.push(1_000 + i, i);
        }
        assert_eq!(q.peek_time(), Some(1_000));
        q.push(500, 99_999_999);
        assert_eq!(q.pop(), Some((500, 99_999_999)));
        assert_eq!(q.pop(), Some((1_000, 0)));
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
                    pop_as_the_model(&mut q, &mut model, &mut now)?;
                } else {
                    let delay = delay >> (scale * 10);
                    q.push(now + delay, n);
                    model.push((now + delay, n));
                }
            }
        }

        /// The radix heap alone, with looks ahead between pushes: the order of a sort.
        #[test]
        fn the_radix_heap_matches_a_sort(
            ops in prop::collection::vec((0u64..1 << 30, 0u8..4, 0u8..3), 1..400)
        ) {
            let mut r = RadixHeap::new(0);
            let mut model: Vec<u128> = Vec::new();
            let mut now = 0u128;
            for (n, (delay, scale, op)) in ops.into_iter().enumerate() {
                model.sort();
                match op {
                    0 => {
                        let got = r.pop();
                        let expected = (!model.is_empty()).then(|| model.remove(0));
                        prop_assert_eq!(got, expected);
                        if let Some(k) = got {
                            now = k;
                        }
                    }
                    1 => prop_assert_eq!(r.peek(), model.first().copied()),
                    _ => {
                        let key = ((now >> 64) + u128::from(delay >> (scale * 10))) << 64
                            | (n as u128 + 1) << 24;
                        let key = key.max(now + 1);
                        r.push(key);
                        model.push(key);
                    }
                }
            }
        }
    }
}
