//! The dumbbell TCP is judged on: N flows from servers to clients through one drop-tail
//! bottleneck of a given rate, buffer and random loss, their ACKs back over an uncongested
//! path. It runs the world's own TCP ([`crate::world::tcp`]), link ([`Wire`], [`Lossy`]) and
//! event queue in an event loop of its own, small enough to read at once, so that what TCP does
//! on a saturated link can be measured alone and set beside ns-3's (`pccsim bottleneck`).
//!
//! A flow either sends one endless transfer or, closed loop, downloads files of a given size
//! one after another, each on a new connection one round trip (the handshake) after the last
//! ended. Figures are taken over the run after its warm-up.

use crate::packet::{FiveTuple, Packet, Protocol, TCP_HEADER, TcpFlags};
use crate::scenario::Queue;
use crate::units::{MS, SEC, Size, Time};
use crate::world::engine::queue::{EventQueue, Packable};
use crate::world::link::{Channel, LinkDrop, Lossy, Wire};
use crate::world::tcp::{Ack, AckNow, Congestion, MSS, Receiver, Segment, Sender};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

/// One experiment.
#[derive(Clone, Debug)]
pub struct Bottleneck {
    pub flows: u32,
    pub rate_bps: u64,
    /// The path's round trip without queueing.
    pub rtt: Time,
    /// Drop-tail buffer, in bytes.
    pub buffer: u32,
    /// Probability that the bottleneck loses a packet.
    pub loss: f64,
    pub congestion: Congestion,
    /// Closed loop: each flow downloads files of this many bytes back to back.
    pub file: Option<u32>,
    pub duration: Time,
    pub warmup: Time,
    pub seed: u64,
}

impl Bottleneck {
    /// Bytes the path holds at its rate over one round trip.
    pub fn bdp(rate_bps: u64, rtt: Time) -> u32 {
        (rate_bps as u128 * rtt as u128 / (8 * SEC as u128)) as u32
    }
}

/// What an experiment measured, over the run after its warm-up.
#[derive(Clone, Debug, Serialize)]
pub struct Measured {
    /// Each flow's goodput: payload delivered in order, bits per second.
    pub goodput_bps: Vec<f64>,
    /// All flows' goodput over the bottleneck's rate.
    pub goodput_share: f64,
    /// The bottleneck's busy share: bytes on the wire (headers and retransmissions too) over
    /// what its rate could carry.
    pub utilisation: f64,
    /// Jain's fairness index of the flows' goodputs (1: all equal).
    pub jain: f64,
    pub queue_drops: u64,
    pub random_losses: u64,
    /// Data segments sent into the bottleneck (dropped ones too) per ACK the receivers sent.
    pub segments_per_ack: f64,
    /// The longest a flow stayed in recovery after the last of its packets was dropped.
    pub longest_recovery_tail_ms: f64,
    /// Files downloaded to the end (closed loop).
    pub files: u32,
}

/// What happens to a flow.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// A transfer begins (its handshake done).
    Start,
    /// A paced segment leaves its server for the bottleneck.
    Depart(Segment),
    /// A data segment reaches its client.
    Data(Segment),
    /// An ACK reaches its server.
    Acked(Ack),
    /// The flow's timers may be due.
    Timer,
}

/// A flow's step; a timer travels in its queue key (the flow's number).
type Event = (u32, Step);

impl Packable for Event {
    fn unpack(flow: u32) -> Event {
        (flow, Step::Timer)
    }
}

struct Flow {
    sender: Sender,
    receiver: Receiver,
    timer_at: Time,
    /// In-order bytes delivered before this transfer (closed loop), for goodput.
    delivered: u64,
    recovery_tail_from: Option<Time>,
    last_drop: Time,
}

impl Flow {
    fn new(total: u32, congestion: Congestion) -> Flow {
        Flow {
            sender: Sender::new(total, congestion, true),
            receiver: Receiver::default(),
            timer_at: Time::MAX,
            delivered: 0,
            recovery_tail_from: None,
            last_drop: 0,
        }
    }

    fn deadline(&self) -> Option<Time> {
        [self.sender.deadline(), self.receiver.ack_due]
            .into_iter()
            .flatten()
            .min()
    }

    fn goodput_bytes(&self) -> u64 {
        self.delivered + self.receiver.nxt as u64
    }
}

struct World<'a> {
    x: &'a Bottleneck,
    now: Time,
    events: EventQueue<Event>,
    /// What a flow's step sent, reused from step to step.
    sent: Vec<Segment>,
    link: Lossy<Wire>,
    flows: Vec<Flow>,
    /// Goodput and wire bytes at the end of the warm-up.
    goodput_at_warmup: Vec<u64>,
    wire_bytes: u64,
    wire_bytes_at_warmup: u64,
    segments: u64,
    acks: u64,
    longest_tail: Time,
    files: u32,
}

/// Runs one experiment.
pub fn run(x: &Bottleneck) -> Measured {
    let mut rng = Pcg64Mcg::seed_from_u64(x.seed);
    let total = x.file.unwrap_or(u32::MAX - 2 * MSS);
    let wire = Wire::new(x.rate_bps, x.rtt / 2, Queue::Bytes(Size(x.buffer as u64)));
    let mut w = World {
        x,
        now: 0,
        events: EventQueue::new(),
        sent: Vec::new(),
        link: Lossy::new(wire, x.loss, Pcg64Mcg::seed_from_u64(x.seed ^ 0x9e37_79b9)),
        flows: (0..x.flows)
            .map(|_| Flow::new(total, x.congestion))
            .collect(),
        goodput_at_warmup: Vec::new(),
        wire_bytes: 0,
        wire_bytes_at_warmup: 0,
        segments: 0,
        acks: 0,
        longest_tail: 0,
        files: 0,
    };
    for f in 0..x.flows {
        // Starts spread over the first 100 ms, so no two flows are in lockstep.
        let at = rng.random_range(0..100 * MS);
        w.schedule(at, f, Step::Start);
    }
    while let Some((at, (f, step))) = w.events.pop_due(x.duration) {
        if w.goodput_at_warmup.is_empty() && at >= x.warmup {
            w.goodput_at_warmup = w.flows.iter().map(Flow::goodput_bytes).collect();
            w.wire_bytes_at_warmup = w.wire_bytes;
        }
        w.now = at;
        w.handle(f, step);
    }
    w.measure()
}

impl World<'_> {
    fn schedule(&mut self, at: Time, f: u32, step: Step) {
        self.events.push(at, (f, step));
    }

    fn handle(&mut self, f: u32, step: Step) {
        let now = self.now;
        match step {
            Step::Depart(s) => return self.offer(f, s),
            Step::Timer if self.flows[f as usize].timer_at != now => return, // superseded
            _ => {}
        }
        let mut sent = std::mem::take(&mut self.sent);
        let mut send = |s: Segment| sent.push(s);
        let flow = &mut self.flows[f as usize];
        let mut ack = None;
        match step {
            Step::Start => flow.sender.transmit(now, &mut send),
            Step::Depart(_) => unreachable!("offered above"),
            Step::Data(s) => {
                if flow.receiver.on_segment(now, s.seq, s.len, s.push) == AckNow::Yes {
                    ack = Some(flow.receiver.ack());
                }
            }
            Step::Acked(a) => flow.sender.on_ack(now, a, &mut send),
            Step::Timer => {
                flow.timer_at = Time::MAX;
                if flow.receiver.ack_due.is_some_and(|d| d <= now) {
                    ack = Some(flow.receiver.ack());
                }
                if flow.sender.deadline().is_some_and(|d| d <= now) {
                    flow.sender.on_timer(now, &mut send);
                }
            }
        }
        if let Some(a) = ack {
            self.acks += 1;
            self.schedule(now + self.x.rtt / 2, f, Step::Acked(a));
        }
        for s in sent.drain(..) {
            match s.at > now {
                true => self.schedule(s.at, f, Step::Depart(s)),
                false => self.offer(f, s),
            }
        }
        self.sent = sent;
        self.settle(f);
    }

    /// A segment enters the bottleneck.
    fn offer(&mut self, f: u32, s: Segment) {
        let pkt = Packet::tcp(TUPLE, f, TcpFlags::ACK, s.seq, 0, s.len);
        self.segments += 1;
        let wire_len = (TCP_HEADER + s.len) as u64;
        match self.link.send(self.now, &pkt) {
            Ok(at) => {
                self.wire_bytes += wire_len;
                self.schedule(at, f, Step::Data(s));
            }
            Err(LinkDrop::Loss) => {
                self.wire_bytes += wire_len; // lost after using the line
                self.flows[f as usize].last_drop = self.now;
            }
            Err(_) => self.flows[f as usize].last_drop = self.now,
        }
    }

    /// After a flow's step: its timer, its recovery's tail, the next file.
    fn settle(&mut self, f: u32) {
        let now = self.now;
        let flow = &mut self.flows[f as usize];
        match (flow.sender.in_recovery(), flow.recovery_tail_from) {
            (true, None) => flow.recovery_tail_from = Some(now),
            (false, Some(since)) => {
                let tail = now - since.max(flow.last_drop);
                self.longest_tail = self.longest_tail.max(tail);
                flow.recovery_tail_from = None;
            }
            _ => {}
        }
        if flow.sender.done() && flow.receiver.nxt >= flow.sender.total {
            // Closed loop: the next file, on a new connection after its handshake.
            self.files += 1;
            let delivered = flow.goodput_bytes();
            *flow = Flow::new(flow.sender.total, self.x.congestion);
            flow.delivered = delivered;
            return self.schedule(now + self.x.rtt, f, Step::Start);
        }
        if let Some(d) = flow.deadline()
            && d < flow.timer_at
        {
            flow.timer_at = d;
            self.events.push_packed(d, f);
        }
    }

    fn measure(&self) -> Measured {
        let span = self.x.duration.saturating_sub(self.x.warmup).max(1) as f64 / SEC as f64;
        let start = |i: usize| self.goodput_at_warmup.get(i).copied().unwrap_or(0);
        let goodput_bps: Vec<f64> = (self.flows.iter().enumerate())
            .map(|(i, f)| (f.goodput_bytes() - start(i)) as f64 * 8.0 / span)
            .collect();
        let sum: f64 = goodput_bps.iter().sum();
        let squares: f64 = goodput_bps.iter().map(|g| g * g).sum();
        let stats = self.link.stats();
        let capacity = self.x.rate_bps as f64 * span;
        let wire = (self.wire_bytes - self.wire_bytes_at_warmup) as f64 * 8.0;
        Measured {
            goodput_share: sum / self.x.rate_bps as f64,
            utilisation: (wire / capacity).min(1.0),
            jain: if squares > 0.0 {
                sum * sum / (goodput_bps.len() as f64 * squares)
            } else {
                0.0
            },
            goodput_bps,
            queue_drops: stats.queue_drops,
            random_losses: stats.losses,
            segments_per_ack: self.segments as f64 / self.acks.max(1) as f64,
            longest_recovery_tail_ms: self.longest_tail as f64 / MS as f64,
            files: self.files,
        }
    }
}

/// The bottleneck looks only at a packet's length.
const TUPLE: FiveTuple = FiveTuple {
    src: std::net::Ipv4Addr::new(198, 51, 100, 1),
    dst: std::net::Ipv4Addr::new(192, 0, 2, 1),
    src_port: 443,
    dst_port: 40_000,
    protocol: Protocol::Tcp,
};
