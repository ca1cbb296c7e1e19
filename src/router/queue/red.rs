//! RED, random early detection (RouterOS's `kind=red`, as Linux's `red`): a FIFO that keeps
//! an average of its length and, once that average passes `red-min-threshold`, drops
//! arriving packets with a probability growing linearly towards `red-max-threshold`; past
//! it, it drops them all, and past `red-limit` packets in the queue itself, too. TCP senders
//! back off before the queue is full, so the standing queue stays short.
//!
//! As Linux computes it: the average moves by a weight 2⁻ʷ per arrival, the smallest `w`
//! for which `red-burst` packets arriving back to back on an empty queue do not lift the
//! average to `red-min-threshold`; an empty queue's average decays as if packets of
//! `red-avg-packet` bytes had kept arriving at the rate it last sent at; and drops are spread
//! evenly (the chance grows with the packets since the last drop). The chance at
//! `red-max-threshold` is 2 % (**assumed**: Linux's default; RouterOS does not set it). The
//! random draws are the queue's own sequence, the same in every run.

use super::Entry;
use super::discipline::Limit;
use crate::units::Time;

/// `red-limit`, `red-min-threshold`, `red-max-threshold` (packets), `red-burst` (packets),
/// `red-avg-packet` (bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedParams {
    pub limit: u32,
    pub min: u32,
    pub max: u32,
    pub burst: u32,
    pub avg_packet: u32,
}

/// The drop chance at `max`, in 2⁻³² units: 2 %.
const MAX_P: u64 = (1u64 << 32) / 50;

/// Average queue lengths are kept in 2⁻¹⁶ packets.
const FRAC: u32 = 16;

impl RedParams {
    /// The weight's exponent: the smallest `w` with
    /// `burst + 1 − min ≤ (1 − (1 − 2⁻ʷ)^burst) / 2⁻ʷ`.
    fn wlog(&self) -> u32 {
        let a = f64::from(self.burst) + 1.0 - f64::from(self.min);
        let mut w = 0.5f64;
        for wlog in 1..24 {
            if a <= (1.0 - (1.0 - w).powi(self.burst as i32)) / w {
                return wlog;
            }
            w /= 2.0;
        }
        23
    }
}

#[derive(Clone, Debug)]
pub struct Red<T> {
    params: RedParams,
    wlog: u32,
    queue: std::collections::VecDeque<Entry<T>>,
    bytes: u64,
    /// Average length, in 2⁻¹⁶ packets.
    avg: u64,
    /// Packets since the last early drop (`None`: the average is under `min`).
    count: Option<u64>,
    rng: u64,
    /// When the queue last emptied, and how long its last packet took to send per byte
    /// (in 2⁻¹⁶ ns): what the average decays by while it is idle.
    idle_since: Option<Time>,
    last_sent: Time,
    ns_per_byte: u64,
}

impl<T> Red<T> {
    pub fn new(params: RedParams) -> Red<T> {
        Red {
            params,
            wlog: params.wlog(),
            queue: Default::default(),
            bytes: 0,
            avg: 0,
            count: None,
            rng: 0x9e37_79b9_7f4a_7c15,
            idle_since: Some(0),
            last_sent: 0,
            ns_per_byte: 0,
        }
    }

    /// A uniform draw in 0..2³², from the queue's own xorshift sequence.
    fn draw(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng >> 32
    }

    fn update_average(&mut self, now: Time) {
        let q = (self.queue.len() as u64) << FRAC;
        if let Some(since) = self.idle_since.take() {
            // As many small packets as could have gone by while idle, each a step to 0.
            let per_packet = (self
                .ns_per_byte
                .saturating_mul(u64::from(self.params.avg_packet)))
                >> FRAC;
            let m = now.saturating_sub(since) / per_packet.max(1);
            for _ in 0..m.min(64) {
                self.avg -= self.avg >> self.wlog;
            }
            if m >= 64 {
                self.avg = 0;
            }
        }
        self.avg = self.avg + (q >> self.wlog) - (self.avg >> self.wlog);
    }

    pub fn enqueue(&mut self, now: Time, entry: Entry<T>) -> Result<(), Entry<T>> {
        self.update_average(now);
        let (min, max) = (
            u64::from(self.params.min) << FRAC,
            u64::from(self.params.max) << FRAC,
        );
        let early = if self.avg < min {
            self.count = None;
            false
        } else if self.avg >= max {
            self.count = Some(0);
            true
        } else {
            let count = self.count.map_or(0, |c| c + 1);
            // p_b grows from 0 at min to MAX_P at max; p_a = p_b / (1 − count·p_b).
            let pb = MAX_P * (self.avg - min) / (max - min);
            let spread = (1u64 << 32).saturating_sub(count * pb).max(1);
            let pa = (pb << 32) / spread;
            let drop = self.draw() < pa;
            self.count = Some(if drop { 0 } else { count });
            drop
        };
        if early || !Limit::Packets(self.params.limit).admits(self.queue.len() as u32, 0, 0) {
            return Err(entry);
        }
        self.bytes += u64::from(entry.len);
        self.queue.push_back(entry);
        Ok(())
    }

    pub fn front_len(&self) -> Option<u32> {
        self.queue.front().map(|e| e.len)
    }

    pub fn dequeue(&mut self, now: Time) -> Option<Entry<T>> {
        let e = self.queue.pop_front()?;
        self.bytes -= u64::from(e.len);
        if now > self.last_sent && self.idle_since.is_none() {
            let per_byte =
                (now - self.last_sent).saturating_mul(1 << FRAC) / u64::from(e.len.max(1));
            self.ns_per_byte = per_byte;
        }
        self.last_sent = now;
        if self.queue.is_empty() {
            self.idle_since = Some(now);
        }
        Some(e)
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RouterOS's defaults.
    const DEFAULTS: RedParams = RedParams {
        limit: 60,
        min: 10,
        max: 50,
        burst: 20,
        avg_packet: 1000,
    };

    /// RouterOS's defaults (min 10, burst 20) give Linux's weight 2⁻⁴: (1 − (15/16)²⁰)·16 =
    /// 11.6 ≥ 20 + 1 − 10, while 2⁻³ gives 7.4.
    #[test]
    fn the_weight_is_the_one_tc_would_pick() {
        assert_eq!(DEFAULTS.wlog(), 4);
    }

    /// Fed faster than it drains, RED drops early: the queue never reaches red-limit, and
    /// the average settles between the thresholds.
    #[test]
    fn an_overfed_queue_drops_before_it_is_full() {
        let mut red: Red<u32> = Red::new(DEFAULTS);
        let mut longest = 0;
        let (mut next_in, mut next_out) = (0u64, 0u64);
        let mut early = 0;
        while next_out < 10_000_000_000 {
            if next_in <= next_out {
                let e = Entry {
                    item: 0,
                    len: 1000,
                    at: next_in,
                };
                if red.enqueue(next_in, e).is_err() {
                    early += 1;
                }
                longest = longest.max(red.queue.len());
                next_in += 900_000;
            } else {
                red.dequeue(next_out);
                next_out += 1_000_000;
            }
        }
        assert!(early > 0);
        assert!(longest < 60, "{longest}");
        let avg = red.avg >> FRAC;
        assert!((10..50).contains(&avg), "{avg}");
    }
}
