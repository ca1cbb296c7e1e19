//! Links are plain values: one direction of a cable or ISP access line. A [`Wire`] serialises
//! packets at its bit rate through a drop-tail FIFO and delays them by its latency; impairments
//! wrap it, as smoltcp's `phy` middleware wraps a device ([`Lossy`] drops at random; a pcap tap
//! can wrap either the same way).
//!
//! A FIFO at a fixed rate needs no per-packet "transmission done" event: when a packet is
//! offered, the time its last bit leaves is already known (`busy_until` + its serialisation
//! time), so `send` returns the arrival time at the far end and the engine schedules exactly one
//! event per packet per hop. Queue occupancy in packets is the count of departures still ahead,
//! kept in a ring that never grows beyond the buffer size.

use crate::scenario::Queue;
use crate::units::{SEC, Time};
use rand::Rng;
use rand_pcg::Pcg64Mcg;
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkDrop {
    /// The buffer was full (drop-tail).
    QueueFull,
    /// Lost on the line.
    Loss,
    /// The link is down.
    Down,
}

/// One direction of a link.
pub trait Channel {
    /// Offers a packet of `len` bytes at `now`: when it arrives at the far end, or why not.
    fn send(&mut self, now: Time, len: u32) -> Result<Time, LinkDrop>;
    fn set_up(&mut self, up: bool);
    fn stats(&self) -> LinkStats;
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub packets: u64,
    pub bytes: u64,
    pub queue_drops: u64,
    pub losses: u64,
}

#[derive(Clone, Debug)]
pub struct Wire {
    pub rate_bps: u64,
    pub latency: Time,
    queue: Queue,
    up: bool,
    busy_until: Time,
    /// Departure times of packets still queued or being sent (for a packet-count buffer).
    departures: VecDeque<Time>,
    stats: LinkStats,
}

impl Wire {
    pub fn new(rate_bps: u64, latency: Time, queue: Queue) -> Wire {
        let capacity = match queue {
            Queue::Packets(n) => n as usize,
            Queue::Bytes(_) => 0,
        };
        Wire {
            rate_bps,
            latency,
            queue,
            up: true,
            busy_until: 0,
            departures: VecDeque::with_capacity(capacity),
            stats: LinkStats::default(),
        }
    }

    fn serialisation(&self, len: u32) -> Time {
        (len as u64 * 8 * SEC).div_ceil(self.rate_bps)
    }

    fn has_room(&mut self, now: Time, len: u32) -> bool {
        match self.queue {
            Queue::Packets(limit) => {
                while self.departures.front().is_some_and(|&d| d <= now) {
                    self.departures.pop_front();
                }
                self.departures.len() < limit as usize
            }
            Queue::Bytes(limit) => {
                let backlog = self.busy_until.saturating_sub(now) as u128 * self.rate_bps as u128
                    / (8 * SEC as u128);
                backlog + len as u128 <= limit.0 as u128
            }
        }
    }
}

impl Channel for Wire {
    fn send(&mut self, now: Time, len: u32) -> Result<Time, LinkDrop> {
        if !self.up {
            return Err(LinkDrop::Down);
        }
        if !self.has_room(now, len) {
            self.stats.queue_drops += 1;
            return Err(LinkDrop::QueueFull);
        }
        let departure = self.busy_until.max(now) + self.serialisation(len);
        self.busy_until = departure;
        if matches!(self.queue, Queue::Packets(_)) {
            self.departures.push_back(departure);
        }
        self.stats.packets += 1;
        self.stats.bytes += len as u64;
        Ok(departure + self.latency)
    }

    fn set_up(&mut self, up: bool) {
        self.up = up;
    }

    fn stats(&self) -> LinkStats {
        self.stats
    }
}

/// Loses each packet with a fixed probability after it has used the line's capacity.
#[derive(Clone, Debug)]
pub struct Lossy<C> {
    pub inner: C,
    probability: f64,
    rng: Pcg64Mcg,
    losses: u64,
}

impl<C: Channel> Lossy<C> {
    pub fn new(inner: C, probability: f64, rng: Pcg64Mcg) -> Lossy<C> {
        Lossy {
            inner,
            probability,
            rng,
            losses: 0,
        }
    }
}

impl<C: Channel> Channel for Lossy<C> {
    fn send(&mut self, now: Time, len: u32) -> Result<Time, LinkDrop> {
        let arrival = self.inner.send(now, len)?;
        if self.probability > 0.0 && self.rng.random::<f64>() < self.probability {
            self.losses += 1;
            return Err(LinkDrop::Loss);
        }
        Ok(arrival)
    }

    fn set_up(&mut self, up: bool) {
        self.inner.set_up(up);
    }

    fn stats(&self) -> LinkStats {
        LinkStats {
            losses: self.losses,
            ..self.inner.stats()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{MS, US};

    #[test]
    fn packets_queue_behind_each_other_at_the_line_rate() {
        // 12 Mbit/s: a 1500-byte packet takes 1 ms to send.
        let mut w = Wire::new(12_000_000, 5 * MS, Queue::Packets(2));
        assert_eq!(w.send(0, 1500), Ok(6 * MS));
        assert_eq!(w.send(0, 1500), Ok(7 * MS));
        assert_eq!(w.send(0, 1500), Err(LinkDrop::QueueFull));
        // Once the first has left, there is room again.
        assert_eq!(w.send(MS, 1500), Ok(8 * MS));
    }

    #[test]
    fn byte_buffers_count_the_backlog() {
        let mut w = Wire::new(12_000_000, 0, Queue::Bytes(crate::units::Size(3000)));
        assert!(w.send(0, 1500).is_ok());
        assert!(w.send(0, 1500).is_ok());
        assert_eq!(w.send(0, 1500), Err(LinkDrop::QueueFull));
        assert!(w.send(500 * US, 1500).is_err());
        assert!(w.send(MS, 1500).is_ok());
    }

    #[test]
    fn loss_rate_is_what_was_asked() {
        use rand::SeedableRng;
        let wire = Wire::new(1_000_000_000, 0, Queue::Packets(1_000_000));
        let mut l = Lossy::new(wire, 0.1, Pcg64Mcg::seed_from_u64(1));
        let lost = (0..100_000)
            .filter(|i| l.send(*i * SEC, 100).is_err())
            .count();
        assert!((9_000..11_000).contains(&lost), "{lost}");
    }
}
