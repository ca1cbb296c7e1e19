//! Links are plain values. A [`Channel`] is one direction of a cable or ISP access line: a
//! [`Wire`] serialises packets at its bit rate through a drop-tail FIFO and delays them by its
//! latency; impairments wrap it, as smoltcp's `phy` middleware wraps a device ([`Lossy`] drops at
//! random). A [`Link`] is both directions of a cable on one of the router's ports, with an
//! optional [`Capture`] that records what the router's interface sends and receives as a pcap
//! file — nothing is done per packet when there is none.
//!
//! A FIFO at a fixed rate needs no per-packet "transmission done" event: when a packet is
//! offered, the time its last bit leaves is already known (`busy_until` + its serialisation
//! time), so `send` returns the arrival time at the far end and the engine schedules exactly one
//! event per packet per hop. Queue occupancy in packets is the count of departures still ahead,
//! kept in a ring that never grows beyond the buffer size.

use crate::packet::{FiveTuple, Packet, Protocol, TcpFlags};
use crate::scenario::Queue;
use crate::units::{MS, SEC, Time};
use crate::world::pcap::{PcapWriter, SNAPLEN};
use rand::Rng;
use rand_pcg::Pcg64Mcg;
use std::collections::VecDeque;
use std::io::{self, Write};

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
    /// Offers a packet at `now`: when it arrives at the far end, or why not.
    fn send(&mut self, now: Time, pkt: &Packet) -> Result<Time, LinkDrop>;
    fn set_up(&mut self, up: bool);
    fn is_up(&self) -> bool;
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
    last_arrival: Time,
    /// Departure times of packets still queued or being sent (for a packet-count buffer).
    departures: VecDeque<Time>,
    stats: LinkStats,
}

impl Wire {
    pub fn new(rate_bps: u64, latency: Time, queue: Queue) -> Wire {
        // Room for a typical queue's packets up front; a deep one grows only as it fills.
        let capacity = match queue {
            Queue::Packets(n) => (n as usize).min(1024),
            Queue::Bytes(_) => 0,
        };
        Wire {
            rate_bps,
            latency,
            queue,
            up: true,
            busy_until: 0,
            last_arrival: 0,
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
    fn send(&mut self, now: Time, pkt: &Packet) -> Result<Time, LinkDrop> {
        let len = pkt.len;
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
        // A FIFO delivers in order even when its latency drops (an impairment ending).
        let arrival = (departure + self.latency).max(self.last_arrival);
        self.last_arrival = arrival;
        Ok(arrival)
    }

    fn set_up(&mut self, up: bool) {
        self.up = up;
    }

    fn is_up(&self) -> bool {
        self.up
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
    fn send(&mut self, now: Time, pkt: &Packet) -> Result<Time, LinkDrop> {
        let arrival = self.inner.send(now, pkt)?;
        if self.probability > 0.0 && self.rng.random::<f64>() < self.probability {
            self.losses += 1;
            return Err(LinkDrop::Loss);
        }
        Ok(arrival)
    }

    fn set_up(&mut self, up: bool) {
        self.inner.set_up(up);
    }

    fn is_up(&self) -> bool {
        self.inner.is_up()
    }

    fn stats(&self) -> LinkStats {
        LinkStats {
            losses: self.losses,
            ..self.inner.stats()
        }
    }
}

/// A channel whose loss and latency can change during a run (an impairment on the timeline).
pub trait Impairable {
    fn impair(&mut self, loss: f64, latency: Time);
}

impl Impairable for Lossy<Wire> {
    fn impair(&mut self, loss: f64, latency: Time) {
        self.probability = loss;
        self.inner.latency = latency;
    }
}

impl<C: Channel + Impairable> Link<C> {
    /// Sets loss and one-way latency, both directions.
    pub fn impair(&mut self, loss: f64, latency: Time) {
        self.from_router.impair(loss, latency);
        self.to_router.impair(loss, latency);
    }
}

/// Which way a packet crosses a link on one of the router's ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    FromRouter,
    ToRouter,
}

/// Both directions of the cable on one router port, and what is captured on it.
pub struct Link<C> {
    pub from_router: C,
    pub to_router: C,
    capture: Option<Box<Capture>>,
}

impl<C: Channel> Link<C> {
    pub fn new(from_router: C, to_router: C) -> Link<C> {
        Link {
            from_router,
            to_router,
            capture: None,
        }
    }

    /// Carrier on or off, both directions.
    pub fn set_up(&mut self, up: bool) {
        self.from_router.set_up(up);
        self.to_router.set_up(up);
    }

    pub fn is_up(&self) -> bool {
        self.from_router.is_up()
    }

    pub fn capture(&mut self, capture: Capture) {
        self.capture = Some(Box::new(capture));
    }

    pub fn send(&mut self, way: Way, now: Time, pkt: &Packet) -> Result<Time, LinkDrop> {
        let result = match way {
            Way::FromRouter => self.from_router.send(now, pkt),
            Way::ToRouter => self.to_router.send(now, pkt),
        };
        if let Some(c) = &mut self.capture {
            c.observe(way, now, pkt, result);
        }
        result
    }

    /// Ends the capture at `end`: writes what had arrived by then; the first write error, if
    /// any happened during the run.
    pub fn finish_capture(&mut self, end: Time) -> io::Result<()> {
        match self.capture.take() {
            Some(c) => c.finish(end),
            None => Ok(()),
        }
    }
}

/// Which MAC address the device across the cable has.
#[derive(Clone, Copy, Debug)]
pub enum PeerMac {
    /// One device, such as the ISP's gateway.
    Fixed([u8; 6]),
    /// A LAN of hosts: each host's is made from its IPv4 address.
    FromAddress,
}

/// A pcap capture on a router interface, as `tcpdump -i` there would see it: packets the router
/// sends when it sends them (lost on the line or not), packets it receives when they arrive.
///
/// Packets towards the router are offered at the far end, before their arrival time is due. On a
/// FIFO wire arrivals come in the order packets were offered, so they wait in a queue until the
/// clock passes them, which keeps the file in time order without sorting.
pub struct Capture {
    pcap: PcapWriter<Box<dyn Write + Send>>,
    router_mac: [u8; 6],
    peer: PeerMac,
    arriving: VecDeque<(Time, Packet)>,
    frame: Vec<u8>,
    /// Per direction of a TCP connection, the latest timestamp it sent.
    stamps: rustc_hash::FxHashMap<FiveTuple, u32>,
    error: Option<io::Error>,
}

const ETHERNET_HEADER: usize = 14;

impl Capture {
    pub fn new(
        out: Box<dyn Write + Send>,
        router_mac: [u8; 6],
        peer: PeerMac,
    ) -> io::Result<Capture> {
        Ok(Capture {
            pcap: PcapWriter::new(out)?,
            router_mac,
            peer,
            arriving: VecDeque::new(),
            frame: vec![0; ETHERNET_HEADER + SNAPLEN as usize],
            stamps: Default::default(),
            error: None,
        })
    }

    fn observe(&mut self, way: Way, now: Time, pkt: &Packet, result: Result<Time, LinkDrop>) {
        self.write_arrived(now);
        match (way, result) {
            (Way::FromRouter, Ok(_) | Err(LinkDrop::Loss)) => self.write(now, way, pkt),
            (Way::ToRouter, Ok(arrival)) => self.arriving.push_back((arrival, *pkt)),
            _ => {}
        }
    }

    fn write_arrived(&mut self, now: Time) {
        while let Some(&(at, pkt)) = self.arriving.front().filter(|(at, _)| *at <= now) {
            self.arriving.pop_front();
            self.write(at, Way::ToRouter, &pkt);
        }
    }

    fn write(&mut self, at: Time, way: Way, pkt: &Packet) {
        if self.error.is_some() {
            return;
        }
        let peer = match self.peer {
            PeerMac::Fixed(mac) => mac,
            PeerMac::FromAddress if way == Way::FromRouter => host_mac(pkt.tuple.dst),
            PeerMac::FromAddress => host_mac(pkt.tuple.src),
        };
        let (dst, src) = match way {
            Way::FromRouter => (peer, self.router_mac),
            Way::ToRouter => (self.router_mac, peer),
        };
        self.frame[0..6].copy_from_slice(&dst);
        self.frame[6..12].copy_from_slice(&src);
        self.frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        // Each end stamps with the simulated clock in ms and echoes the latest stamp the other
        // end sent, as this tap saw it (the ends sit close to it).
        let ts = (at / MS) as u32;
        let t = pkt.tuple;
        let echo = self.stamps.get(&t.reversed()).copied().unwrap_or(0);
        if t.protocol == Protocol::Tcp {
            if pkt.flags.has(TcpFlags::RST) {
                self.stamps.remove(&t);
                self.stamps.remove(&t.reversed());
            } else {
                self.stamps.insert(t, ts);
            }
        }
        let len = pkt.emit(&mut self.frame[ETHERNET_HEADER..], ts, echo);
        if let Err(e) = self.pcap.frame(at, &self.frame[..ETHERNET_HEADER + len]) {
            self.error = Some(e);
        }
    }

    fn finish(mut self, end: Time) -> io::Result<()> {
        self.write_arrived(end);
        match self.error.take() {
            Some(e) => Err(e),
            None => self.pcap.flush(),
        }
    }
}

/// A locally administered MAC address made from a host's IPv4 address.
pub fn host_mac(ip: std::net::Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::US;

    fn sized(len: u32) -> Packet {
        let t = crate::packet::FiveTuple {
            src: std::net::Ipv4Addr::new(10, 0, 0, 1),
            dst: std::net::Ipv4Addr::new(192, 0, 2, 1),
            src_port: 1,
            dst_port: 2,
            protocol: crate::packet::Protocol::Udp,
        };
        Packet {
            len,
            ..Packet::new(t, 0)
        }
    }

    #[test]
    fn packets_queue_behind_each_other_at_the_line_rate() {
        // 12 Mbit/s: a 1500-byte packet takes 1 ms to send.
        let mut w = Wire::new(12_000_000, 5 * MS, Queue::Packets(2));
        assert_eq!(w.send(0, &sized(1500)), Ok(6 * MS));
        assert_eq!(w.send(0, &sized(1500)), Ok(7 * MS));
        assert_eq!(w.send(0, &sized(1500)), Err(LinkDrop::QueueFull));
        // Once the first has left, there is room again.
        assert_eq!(w.send(MS, &sized(1500)), Ok(8 * MS));
    }

    #[test]
    fn byte_buffers_count_the_backlog() {
        let mut w = Wire::new(12_000_000, 0, Queue::Bytes(crate::units::Size(3000)));
        assert!(w.send(0, &sized(1500)).is_ok());
        assert!(w.send(0, &sized(1500)).is_ok());
        assert_eq!(w.send(0, &sized(1500)), Err(LinkDrop::QueueFull));
        assert!(w.send(500 * US, &sized(1500)).is_err());
        assert!(w.send(MS, &sized(1500)).is_ok());
    }

    #[test]
    fn loss_rate_is_what_was_asked() {
        use rand::SeedableRng;
        let wire = Wire::new(1_000_000_000, 0, Queue::Packets(1_000_000));
        let mut l = Lossy::new(wire, 0.1, Pcg64Mcg::seed_from_u64(1));
        let lost = (0..100_000)
            .filter(|i| l.send(*i * SEC, &sized(100)).is_err())
            .count();
        assert!((9_000..11_000).contains(&lost), "{lost}");
    }
}
