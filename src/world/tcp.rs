//! One direction of a TCP byte stream as a Linux host runs it: the sender's loss recovery and
//! congestion control, the receiver's acknowledgements. Sans-IO like the router — methods take
//! `now` and hand the segments to send to a callback.
//!
//! The sender keeps a scoreboard of the segments in flight (one 24-byte record each: when it
//! left, its place in the order of transmissions, whether it was SACKed, deemed lost or sent
//! again, and its neighbours in the list of suspects), as Linux's retransmission queue does. Losses are found by RACK (RFC 8985): a segment is lost once one sent after it was
//! delivered and a round trip (plus a reordering window) has passed; a tail loss is probed by
//! TLP; recovery sends what the scoreboard says is missing, paced by Proportional Rate
//! Reduction (RFC 6937), and a retransmission timeout (RFC 6298, Linux's 200 ms floor) marks
//! everything unSACKed lost. Congestion control is CUBIC (RFC 9438, with HyStart's delay test
//! ending slow start) or NewReno, growing only while the window is what limits the sender.
//! A server's segments are paced as `fq` paces them: each leaves `len / rate` after the last,
//! at twice the window (or what is in flight, if more) per round trip in slow start and 1.2
//! times after, a late flow getting back up to half a gap, so a window is not dumped into the
//! ISP's queue at once (the departure time rides on the segment; no timer).
//!
//! The receiver ACKs as Linux does: every second full segment, quick ACKs for the first
//! sixteen, at once on data out of order or filling a hole, a short pushed segment when the
//! application reads it, and otherwise after a 40 ms delayed-ACK timer. Each ACK carries the
//! free receive buffer as its window and one SACK block, the most recently changed one (Linux
//! sends up to three; the first is this one, the others repeat what earlier ACKs said) — or,
//! after a duplicate, a D-SACK block naming it, which tells a tail loss probe's sender that
//! nothing was lost.
//! Sequence numbers count payload bytes from 0; segments are whole MSS apart, so the
//! scoreboard finds a segment by division.

pub use crate::scenario::Congestion;
use crate::units::{MS, SEC, Time};
use std::collections::VecDeque;

/// Payload bytes per full segment (1500-byte MTU, 52 bytes of IP + TCP with timestamps).
pub const MSS: u32 = 1448;
const INITIAL_WINDOW: u32 = 10 * MSS;
/// The receive buffer: what Linux's autotuning grows to (`tcp_rmem`'s maximum, 6 MiB).
pub const RECEIVE_BUFFER: u32 = 6 * 1024 * 1024;
const MIN_RTO: Time = 200 * MS;
const MAX_RTO: Time = 60 * SEC;
pub const INITIAL_RTO: Time = SEC;
/// Consecutive timeouts after which the connection is given up.
pub const MAX_RETRIES: u8 = 6;
/// Linux's delayed-ACK timer (`TCP_DELACK_MIN`).
const DELAYED_ACK: Time = 40 * MS;
/// ACKs sent at once at the start of a connection (`TCP_MAX_QUICKACKS`).
const QUICK_ACKS: u8 = 16;

/// A segment the sender wants on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub seq: u32,
    pub len: u32,
    /// The sender has nothing more to send for now.
    pub push: bool,
    /// When it leaves (later than now when paced).
    pub at: Time,
}

/// What an acknowledgement tells the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    /// Everything below it arrived.
    pub ack: u32,
    /// Bytes the receiver can take beyond `ack`.
    pub window: u32,
    /// Data held above a hole, `[start, end)`.
    pub sack: Option<(u32, u32)>,
}

/// Segments the scoreboard first makes room for.
const SCOREBOARD_START: u32 = 64;

// A segment's state on the scoreboard.
const SACKED: u8 = 1;
const LOST: u8 = 2;
const RETRANS: u8 = 4;

#[derive(Clone, Copy, Debug)]
struct Sent {
    /// When it (or its latest retransmission) left.
    at: Time,
    /// Its place in the order of transmissions (segments sent at one instant still have one).
    order: u32,
    /// Neighbours (segment numbers) in the list of suspects, in order of transmission.
    prev: u32,
    next: u32,
    state: u8,
}

/// No segment: the end of the list of suspects.
const NONE: u32 = u32::MAX;

impl Sent {
    /// In flight and neither SACKed nor known lost: RACK may yet find it lost.
    fn suspect(&self) -> bool {
        self.state & SACKED == 0 && self.state & (LOST | RETRANS) != LOST
    }
}

/// Where the sender stands with losses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recovery {
    Open,
    /// Repairing losses found by SACK (Linux's `Recovery`), until `point` is acknowledged.
    Fast {
        point: u32,
        /// Proportional Rate Reduction's counts, in bytes.
        delivered: u32,
        out: u32,
        flight_at_start: u32,
    },
    /// After a retransmission timeout, until `point` is acknowledged.
    Loss {
        point: u32,
    },
}

/// RACK's memory of the most recently sent segment known delivered.
#[derive(Clone, Copy, Debug, Default)]
struct Rack {
    order: u32,
    rtt: Time,
    /// A segment arrived after one sent later: losses must wait a reordering window.
    reordering_seen: bool,
}

#[derive(Clone, Debug)]
pub struct Sender {
    /// Bytes the application has to send in all.
    pub total: u32,
    pub una: u32,
    /// The next new byte to send.
    pub nxt: u32,
    pub cwnd: u32,
    ssthresh: u32,
    /// The receiver's window, from its last ACK.
    window: u32,
    /// Every segment from `una` to `nxt`, in sequence order.
    sent: VecDeque<Sent>,
    /// Bytes on the scoreboard SACKed, deemed lost, and sent again (RFC 6675's pipe is
    /// `nxt - una - sacked - lost + retrans`).
    sacked: u32,
    lost: u32,
    retrans: u32,
    /// The highest SACKed byte.
    fack: u32,
    /// The SACK block of the last ACK that had one.
    last_block: (u32, u32),
    /// No lost segment waiting to be resent lies below this.
    resend_from: u32,
    recovery: Recovery,
    cc: Controller,
    srtt: Time,
    rttvar: Time,
    rto: Time,
    min_rtt: Time,
    rack: Rack,
    rto_at: Option<Time>,
    /// When a tail loss probe is due; the end of the one sent (and whether it was a
    /// retransmission) until it is answered.
    probe_at: Option<Time>,
    probe_end: Option<(u32, bool)>,
    /// When RACK's reordering window for a suspect segment closes.
    reorder_at: Option<Time>,
    /// Transmissions so far (the next one's `order`).
    sent_count: u32,
    /// The segments RACK looks at (suspects), oldest transmission first, linked through
    /// the scoreboard (Linux's `tsorted_sent_queue`): finding the lost ones reads only them.
    oldest: u32,
    newest: u32,
    /// `fq` pacing: when the next segment may leave (`None`: not paced).
    pacing: Option<Time>,
    /// The last transmission stopped because the window was full: only then may it grow.
    cwnd_limited: bool,
    pub retries: u8,
    pub retransmits: u32,
    /// Retransmission timeouts and tail loss probes so far.
    pub timeouts: u32,
    pub probes: u32,
    /// The last RTT sample, until the engine reads it for the time series (0: none).
    unread_rtt: Time,
}

impl Sender {
    pub fn new(total: u32, congestion: Congestion, paced: bool) -> Sender {
        Sender {
            total,
            una: 0,
            nxt: 0,
            cwnd: INITIAL_WINDOW,
            ssthresh: u32::MAX,
            window: RECEIVE_BUFFER,
            sent: VecDeque::new(),
            sacked: 0,
            lost: 0,
            retrans: 0,
            fack: 0,
            last_block: (0, 0),
            resend_from: 0,
            recovery: Recovery::Open,
            cc: Controller::new(congestion),
            srtt: 0,
            rttvar: 0,
            rto: INITIAL_RTO,
            min_rtt: Time::MAX,
            rack: Rack::default(),
            rto_at: None,
            probe_at: None,
            probe_end: None,
            reorder_at: None,
            sent_count: 0,
            oldest: NONE,
            newest: NONE,
            pacing: paced.then_some(0),
            cwnd_limited: false,
            retries: 0,
            retransmits: 0,
            timeouts: 0,
            probes: 0,
            unread_rtt: 0,
        }
    }

    pub fn done(&self) -> bool {
        self.una >= self.total
    }

    /// Sends segments as they come, without pacing.
    pub fn unpace(&mut self) {
        self.pacing = None;
    }

    /// When one of the sender's timers (retransmission, tail loss probe, reordering window)
    /// is due.
    pub fn deadline(&self) -> Option<Time> {
        let earliest = [self.rto_at, self.probe_at, self.reorder_at]
            .iter()
            .map(|d| d.unwrap_or(Time::MAX))
            .min();
        earliest.filter(|&t| t < Time::MAX)
    }

    /// Bytes in the network as RFC 6675 counts them.
    pub fn in_flight(&self) -> u32 {
        self.nxt - self.una - self.sacked - self.lost + self.retrans
    }

    pub fn in_recovery(&self) -> bool {
        self.recovery != Recovery::Open
    }

    fn index(&self, seq: u32) -> usize {
        (seq / MSS - self.una / MSS) as usize
    }

    fn seg_len(&self, seq: u32) -> u32 {
        MSS.min(self.total - seq)
    }

    /// Sends what the window allows: lost segments first, then new data.
    pub fn transmit(&mut self, now: Time, out: &mut impl FnMut(Segment)) {
        loop {
            let flight = self.in_flight();
            if let Some(seq) = self.next_lost() {
                let len = self.seg_len(seq);
                if flight + len > self.cwnd {
                    break;
                }
                self.resend(now, seq, out);
                continue;
            }
            if self.nxt >= self.total {
                self.cwnd_limited = false;
                break;
            }
            let len = self.seg_len(self.nxt);
            if flight + len > self.cwnd {
                self.cwnd_limited = true;
                break;
            }
            if self.nxt + len > self.una + self.window {
                self.cwnd_limited = false;
                break;
            }
            self.send_new(now, out);
        }
        if self.cwnd < self.ssthresh && 2 * self.in_flight() >= self.cwnd {
            // Slow start grows while half the window is in use (Linux's is_cwnd_limited).
            self.cwnd_limited = true;
        }
        if self.una < self.nxt && self.rto_at.is_none() {
            self.rto_at = Some(now + self.rto);
        }
    }

    fn send_new(&mut self, now: Time, out: &mut impl FnMut(Segment)) {
        let (seq, len) = (self.nxt, self.seg_len(self.nxt));
        self.nxt += len;
        let at = self.departure(now, len);
        if self.sent.capacity() == 0 {
            // Room for the whole transfer if it is small (most are), so it is allocated once.
            let segments = self.total.div_ceil(MSS).min(SCOREBOARD_START) as usize;
            self.sent.reserve_exact(segments);
        }
        let order = self.next_order();
        self.sent.push_back(Sent {
            at,
            order,
            prev: NONE,
            next: NONE,
            state: 0,
        });
        self.link_newest(seq);
        self.note_sent(len);
        let push = self.nxt >= self.total || self.in_flight() + MSS > self.cwnd;
        out(Segment { seq, len, push, at });
    }

    fn resend(&mut self, now: Time, seq: u32, out: &mut impl FnMut(Segment)) {
        let len = self.seg_len(seq);
        let at = self.departure(now, len);
        let i = self.index(seq);
        if self.sent[i].suspect() {
            self.unlink(seq); // a tail loss probe's resend of one not known lost
        }
        let order = self.next_order();
        let s = &mut self.sent[i];
        s.at = at;
        s.order = order;
        if s.state & RETRANS == 0 {
            s.state |= RETRANS;
            self.retrans += len;
        }
        self.link_newest(seq);
        self.resend_from = seq + len;
        self.retransmits += 1;
        self.note_sent(len);
        out(Segment {
            seq,
            len,
            push: true,
            at,
        });
    }

    fn link_newest(&mut self, seq: u32) {
        let n = seq / MSS;
        let i = self.index(seq);
        self.sent[i].prev = self.newest;
        self.sent[i].next = NONE;
        match self.newest {
            NONE => self.oldest = n,
            last => {
                let j = self.index(last * MSS);
                self.sent[j].next = n;
            }
        }
        self.newest = n;
    }

    fn unlink(&mut self, seq: u32) {
        let i = self.index(seq);
        let Sent { prev, next, .. } = self.sent[i];
        match prev {
            NONE => self.oldest = next,
            p => {
                let j = self.index(p * MSS);
                self.sent[j].next = next;
            }
        }
        match next {
            NONE => self.newest = prev,
            n => {
                let j = self.index(n * MSS);
                self.sent[j].prev = prev;
            }
        }
    }

    fn next_order(&mut self) -> u32 {
        self.sent_count += 1;
        self.sent_count
    }

    fn note_sent(&mut self, len: u32) {
        if let Recovery::Fast { out, .. } = &mut self.recovery {
            *out += len;
        }
    }

    /// The first segment deemed lost and not yet sent again.
    fn next_lost(&mut self) -> Option<u32> {
        if self.lost == 0 {
            return None;
        }
        let mut seq = self.resend_from.max(self.una);
        while seq < self.nxt {
            let s = self.sent[self.index(seq)];
            if s.state & (LOST | RETRANS) == LOST {
                return Some(seq);
            }
            seq += MSS;
        }
        self.resend_from = self.nxt;
        None
    }

    /// When a segment of `len` bytes leaves: now, or when `fq`'s pacing lets it.
    fn departure(&mut self, now: Time, len: u32) -> Time {
        let Some(next) = self.pacing else {
            return now;
        };
        let at = next.max(now);
        if self.srtt > 0 {
            // Linux's pacing rate: 200 % of cwnd per RTT in slow start, 120 % after.
            let percent: u64 = if self.cwnd < self.ssthresh / 2 {
                200
            } else {
                120
            };
            // Each segment's wire bytes at max(cwnd, in flight) × percent / 100 per srtt.
            let window = self.cwnd.max(self.nxt - self.una) as u64;
            let wire = (len + crate::packet::TCP_HEADER) as u64;
            let mut gap = wire * 100 * self.srtt / (window * percent);
            // `fq` gives a flow that is late back up to half a gap.
            gap -= (gap / 2).min(now.saturating_sub(next));
            self.pacing = Some(at + gap);
        }
        at
    }

    /// Handles an acknowledgement.
    pub fn on_ack(&mut self, now: Time, ack: Ack, out: &mut impl FnMut(Segment)) {
        if ack.ack > self.nxt {
            return; // acknowledges what was never sent
        }
        self.window = ack.window;
        let advanced = ack.ack > self.una;
        // A block below the ACK reports a duplicate (D-SACK, RFC 2883), not data held.
        let dsack = ack.sack.is_some_and(|(_, end)| end <= ack.ack);
        let mut delivered = self.acknowledge(now, ack.ack);
        let mut sacked = 0;
        if let Some((start, end)) = ack.sack.filter(|_| !dsack) {
            sacked = self.mark_sacked(now, start, end);
            delivered += sacked;
        }
        if advanced {
            self.retries = 0;
            self.rto_at = (self.una < self.nxt).then_some(now + self.rto);
        }
        self.answer_probe(ack.ack, dsack, advanced || sacked > 0);
        self.detect_losses(now);
        self.update_window(now, delivered);
        self.transmit(now, out);
        self.arm_probe(now);
    }

    /// Drops what `ack` acknowledges from the scoreboard; returns the bytes newly delivered.
    fn acknowledge(&mut self, now: Time, ack: u32) -> u32 {
        let mut delivered = 0;
        let mut newest = None;
        while self.una < ack {
            let len = self.seg_len(self.una);
            if self.sent[0].suspect() {
                self.unlink(self.una);
            }
            let s = self
                .sent
                .pop_front()
                .expect("a record per segment in flight");
            let end = self.una + len;
            self.una = end;
            if s.state & SACKED != 0 {
                self.sacked -= len;
                continue;
            }
            self.forget(s.state, len);
            delivered += len;
            self.rack_delivered(now, s, end);
            newest = newest.max(Some(s.at));
        }
        self.fack = self.fack.max(self.una);
        self.resend_from = self.resend_from.max(self.una);
        if let Some(at) = newest {
            // Timestamps echo the segment that moved `ack`, a retransmission too.
            self.sample_rtt(now.saturating_sub(at));
        }
        delivered
    }

    fn forget(&mut self, state: u8, len: u32) {
        if state & LOST != 0 {
            self.lost -= len;
        }
        if state & RETRANS != 0 {
            self.retrans -= len;
        }
    }

    /// Marks the segments inside a SACK block; returns the bytes newly delivered.
    fn mark_sacked(&mut self, now: Time, start: u32, end: u32) -> u32 {
        // A block that grows a run the last one reported is new only past its old end.
        let (last_start, last_end) = std::mem::replace(&mut self.last_block, (start, end));
        let from = if start == last_start && end >= last_end {
            last_end
        } else {
            start
        };
        let (start, end) = (from.max(self.una), end.min(self.nxt));
        let mut seq = start.next_multiple_of(MSS);
        let mut delivered = 0;
        while seq < end {
            let len = self.seg_len(seq);
            if seq + len > end {
                break;
            }
            let i = self.index(seq);
            let s = self.sent[i];
            if s.state & SACKED == 0 {
                if s.suspect() {
                    self.unlink(seq);
                }
                self.sent[i].state = SACKED;
                self.forget(s.state, len);
                self.sacked += len;
                delivered += len;
                self.rack_delivered(now, s, seq + len);
            }
            seq += len;
        }
        self.fack = self.fack.max(end);
        delivered
    }

    /// RACK's step 2: remember the most recently sent segment delivered.
    fn rack_delivered(&mut self, now: Time, s: Sent, end: u32) {
        let rtt = now.saturating_sub(s.at);
        if s.state & RETRANS != 0 && rtt < self.min_rtt {
            return; // may be the original's ACK: no sample
        }
        if s.state & RETRANS == 0 && end < self.fack {
            self.rack.reordering_seen = true;
        }
        self.rack.rtt = rtt;
        self.rack.order = self.rack.order.max(s.order);
    }

    /// RACK's step 5: segments sent before the last one delivered, and a round trip old, are
    /// lost; the oldest suspect still within its reordering window sets the timer.
    fn detect_losses(&mut self, now: Time) {
        self.reorder_at = None;
        let window = self.reordering_window();
        while self.oldest != NONE {
            let seq = self.oldest * MSS;
            let s = self.sent[self.index(seq)];
            if s.order > self.rack.order {
                break; // this one and all after it left after the last one delivered
            }
            let due = s.at + self.rack.rtt + window;
            if due > now {
                self.reorder_at = Some(due);
                break;
            }
            // A lost retransmission is lost again: it may be sent once more.
            let len = self.seg_len(seq);
            self.unlink(seq);
            self.forget(s.state, len);
            let i = self.index(seq);
            self.sent[i].state = LOST;
            self.lost += len;
            self.resend_from = self.resend_from.min(seq);
        }
    }

    fn reordering_window(&self) -> Time {
        // Without reordering seen, a loss is a loss once three segments above it are SACKed
        // or recovery is under way (RFC 8985, 6.2 step 4).
        let certain = !self.rack.reordering_seen && (self.in_recovery() || self.sacked >= 3 * MSS);
        if certain || self.min_rtt == Time::MAX {
            0
        } else {
            self.min_rtt / 4
        }
    }

    /// Enters or leaves recovery and sets the window for what this ACK delivered.
    fn update_window(&mut self, now: Time, delivered: u32) {
        match self.recovery {
            Recovery::Fast { point, .. } | Recovery::Loss { point } if self.una >= point => {
                if matches!(self.recovery, Recovery::Fast { .. }) {
                    self.cwnd = self.ssthresh;
                }
                self.recovery = Recovery::Open;
            }
            _ => {}
        }
        if self.recovery == Recovery::Open && self.lost > 0 {
            self.enter_recovery();
        }
        match self.recovery {
            Recovery::Fast { .. } => self.proportional_rate_reduction(delivered),
            _ if self.cwnd_limited && delivered > 0 => self.grow(now, delivered),
            _ => {}
        }
    }

    fn enter_recovery(&mut self) {
        self.ssthresh = self.cc.on_congestion(self.cwnd);
        self.recovery = Recovery::Fast {
            point: self.nxt,
            delivered: 0,
            out: 0,
            flight_at_start: (self.nxt - self.una).max(1),
        };
        self.probe_end = None;
    }

    /// RFC 6937 with slow-start reduction bound: send in proportion to what is delivered
    /// while the pipe is above ssthresh, then grow back to it no faster than slow start.
    fn proportional_rate_reduction(&mut self, newly: u32) {
        let pipe = self.in_flight();
        let Recovery::Fast {
            delivered,
            out,
            flight_at_start,
            ..
        } = &mut self.recovery
        else {
            return;
        };
        *delivered += newly;
        let ssthresh = self.ssthresh as u64;
        let mut send = if pipe > self.ssthresh {
            let due = (*delivered as u64 * ssthresh).div_ceil(*flight_at_start as u64);
            due.saturating_sub(*out as u64) as u32
        } else {
            let limit = delivered.saturating_sub(*out).max(newly) + MSS;
            (self.ssthresh - pipe).min(limit)
        };
        if *out == 0 {
            send = send.max(MSS); // the fast retransmit goes out at once
        }
        self.cwnd = pipe + send;
    }

    fn grow(&mut self, now: Time, acked: u32) {
        if self.cwnd < self.ssthresh {
            self.cwnd = (self.cwnd + acked).min(self.ssthresh);
            return;
        }
        let rtt = if self.min_rtt == Time::MAX {
            0
        } else {
            self.min_rtt
        };
        self.cwnd = self.cc.grow(now, self.cwnd, acked, rtt);
    }

    /// The answer to a tail loss probe, as Linux's `tcp_process_tlp_ack` reads it: a D-SACK or
    /// a pure duplicate ACK means the original arrived too (no loss); an ACK beyond the probe
    /// means the probe repaired a loss, and the window is reduced as for one.
    fn answer_probe(&mut self, ack: u32, dsack: bool, news: bool) {
        let Some((end, resent)) = self.probe_end else {
            return;
        };
        if ack < end {
            return;
        }
        if !resent || dsack || (ack == end && !news) {
            self.probe_end = None;
        } else if ack > end {
            self.probe_end = None;
            if self.recovery == Recovery::Open {
                self.ssthresh = self.cc.on_congestion(self.cwnd);
                self.cwnd = self.ssthresh;
            }
        }
    }

    /// Schedules a tail loss probe two round trips out while data is outstanding and nothing
    /// else is repairing it.
    fn arm_probe(&mut self, now: Time) {
        self.probe_at = None;
        if self.una >= self.nxt {
            self.rto_at = None;
            return;
        }
        if self.recovery != Recovery::Open || self.probe_end.is_some() || self.srtt == 0 {
            return;
        }
        let mut pto = 2 * self.srtt;
        if self.nxt - self.una <= MSS {
            pto += MIN_RTO; // one segment out: its ACK may be a delayed one
        }
        let at = now + pto.max(10 * MS);
        // Linux probes instead of timing out when the probe would come later (one timer).
        self.probe_at = match self.rto_at {
            Some(rto) if rto <= now => None,
            Some(rto) => Some(at.min(rto)),
            None => Some(at),
        };
    }

    /// The RTT measured since the last call, if any.
    pub fn take_rtt_sample(&mut self) -> Option<Time> {
        Some(std::mem::take(&mut self.unread_rtt)).filter(|&t| t > 0)
    }

    fn sample_rtt(&mut self, rtt: Time) {
        let rtt = rtt.max(1);
        self.unread_rtt = rtt;
        self.min_rtt = self.min_rtt.min(rtt);
        if self.srtt == 0 {
            self.srtt = rtt;
            self.rttvar = rtt / 2;
        } else {
            let err = self.srtt.abs_diff(rtt);
            self.rttvar = (3 * self.rttvar + err) / 4;
            self.srtt = (7 * self.srtt + rtt) / 8;
        }
        self.rto = (self.srtt + (4 * self.rttvar).max(MS)).clamp(MIN_RTO, MAX_RTO);
        if self.cwnd < self.ssthresh
            && self
                .cc
                .slow_start_should_end(self.una, self.nxt, rtt, self.min_rtt, self.cwnd)
        {
            self.ssthresh = self.cwnd;
        }
    }

    /// Runs the timer that is due. Returns false once the connection should be given up.
    pub fn on_timer(&mut self, now: Time, out: &mut impl FnMut(Segment)) -> bool {
        let due = |t: Option<Time>| t.is_some_and(|t| t <= now);
        if due(self.probe_at) {
            self.probe(now, out);
        } else if due(self.rto_at) {
            if !self.on_timeout(now, out) {
                return false;
            }
        } else if due(self.reorder_at) {
            self.detect_losses(now);
            self.update_window(now, 0);
            self.transmit(now, out);
        } else {
            return true;
        }
        self.arm_probe(now);
        true
    }

    /// A tail loss probe: one new segment if there is one the receiver can take, else the
    /// last one again, so that its ACK (or SACK) shows what is missing.
    fn probe(&mut self, now: Time, out: &mut impl FnMut(Segment)) {
        self.probe_at = None;
        self.probes += 1;
        let mut resent = false;
        if self.nxt < self.total && self.nxt + self.seg_len(self.nxt) <= self.una + self.window {
            self.send_new(now, out);
        } else {
            let last = (self.nxt - 1) / MSS * MSS;
            if self.sent[self.index(last)].state & SACKED == 0 {
                self.resend(now, last, out);
                resent = true;
            }
        }
        self.probe_end = Some((self.nxt, resent));
        self.rto_at = Some(now + self.rto);
    }

    /// The retransmission timer fired: everything not SACKed is deemed lost and resent from
    /// a window of one segment, the timer backed off.
    fn on_timeout(&mut self, now: Time, out: &mut impl FnMut(Segment)) -> bool {
        self.rto_at = None;
        if self.una >= self.nxt {
            return true;
        }
        self.retries += 1;
        self.timeouts += 1;
        if self.retries > MAX_RETRIES {
            return false;
        }
        if !matches!(self.recovery, Recovery::Loss { .. }) {
            self.ssthresh = self.cc.on_congestion(self.cwnd);
        }
        self.cwnd = MSS;
        self.recovery = Recovery::Loss { point: self.nxt };
        self.probe_end = None;
        self.reorder_at = None;
        for s in self.sent.iter_mut().filter(|s| s.state & SACKED == 0) {
            s.state = LOST;
        }
        self.lost = self.nxt - self.una - self.sacked;
        self.retrans = 0;
        (self.oldest, self.newest) = (NONE, NONE); // no suspects: all are lost
        self.resend_from = self.una;
        self.rto = (self.rto * 2).min(MAX_RTO);
        self.transmit(now, out);
        true
    }
}

/// The congestion control algorithm's own state.
#[derive(Clone, Debug)]
enum Controller {
    NewReno {
        /// Bytes acknowledged towards the next segment of growth.
        acked: u32,
    },
    Cubic(Cubic),
}

/// RFC 9438's state, in bytes and nanoseconds; integer arithmetic so every machine agrees.
#[derive(Clone, Debug, Default)]
struct Cubic {
    /// The window before the last reduction.
    w_max: u32,
    /// When the current congestion-avoidance epoch began (`None`: not yet).
    epoch: Option<Time>,
    /// Time from the epoch's start to the plateau at `w_max`, in microseconds.
    k_us: u64,
    /// The window the cubic curve is centred on.
    origin: u32,
    /// The window a Reno flow would have (`W_est`), and its growth's remainder.
    w_est: u32,
    est_credit: u64,
    /// The remainder of the window's growth towards the curve, in bytes × bytes acked.
    credit: u64,
    /// HyStart: the round being measured ends when `una` passes `round_end`.
    round_end: u32,
    round_min: Time,
    round_samples: u8,
}

/// CUBIC's constants: C = 0.4 segments/s³, β = 0.7.
const CUBIC_C_TENTHS: u128 = 4;
const BETA_TENTHS: u32 = 7;
/// HyStart looks at windows of at least 16 segments and rounds of at least 8 samples.
const HYSTART_LOW_WINDOW: u32 = 16 * MSS;
const HYSTART_SAMPLES: u8 = 8;

impl Controller {
    fn new(congestion: Congestion) -> Controller {
        match congestion {
            Congestion::NewReno => Controller::NewReno { acked: 0 },
            Congestion::Cubic => Controller::Cubic(Cubic::default()),
        }
    }

    /// A loss: the new ssthresh.
    fn on_congestion(&mut self, cwnd: u32) -> u32 {
        match self {
            Controller::NewReno { acked } => {
                *acked = 0;
                (cwnd / 2).max(2 * MSS)
            }
            Controller::Cubic(c) => {
                // Fast convergence: a flow losing before its last plateau yields to others.
                c.w_max = if cwnd < c.w_max {
                    (cwnd as u64 * (10 + BETA_TENTHS as u64) / 20) as u32
                } else {
                    cwnd
                };
                c.epoch = None;
                (cwnd as u64 * BETA_TENTHS as u64 / 10).max(2 * MSS as u64) as u32
            }
        }
    }

    /// Congestion avoidance: the window after `acked` more bytes arrived.
    fn grow(&mut self, now: Time, cwnd: u32, acked: u32, min_rtt: Time) -> u32 {
        match self {
            Controller::NewReno { acked: credit } => {
                *credit += acked;
                if *credit >= cwnd {
                    *credit -= cwnd;
                    cwnd + MSS
                } else {
                    cwnd
                }
            }
            Controller::Cubic(c) => c.grow(now, cwnd, acked, min_rtt),
        }
    }

    fn slow_start_should_end(
        &mut self,
        una: u32,
        nxt: u32,
        rtt: Time,
        min_rtt: Time,
        cwnd: u32,
    ) -> bool {
        match self {
            Controller::NewReno { .. } => false,
            Controller::Cubic(c) => c.hystart(una, nxt, rtt, min_rtt, cwnd),
        }
    }
}

impl Cubic {
    fn grow(&mut self, now: Time, cwnd: u32, acked: u32, min_rtt: Time) -> u32 {
        let epoch = *self.epoch.get_or_insert_with(|| {
            if cwnd < self.w_max {
                let gap = (self.w_max - cwnd) as u128; // bytes
                // K = cbrt((w_max - cwnd) / (C × MSS)) seconds, here in microseconds.
                let k3 = gap * 10 * 1_000_000_000_000_000_000 / (CUBIC_C_TENTHS * MSS as u128);
                self.k_us = cube_root(k3) as u64;
                self.origin = self.w_max;
            } else {
                self.k_us = 0;
                self.origin = cwnd;
            }
            self.w_est = cwnd;
            self.est_credit = 0;
            self.credit = 0;
            now
        });
        // The curve one RTT ahead, as RFC 9438 and Linux aim.
        let t_us = ((now - epoch + min_rtt) / 1_000) as i128;
        let d = (t_us - self.k_us as i128).clamp(-10_000_000_000, 10_000_000_000);
        let offset =
            CUBIC_C_TENTHS as i128 * MSS as i128 * d * d * d / (10 * 1_000_000_000_000_000_000i128);
        let target = (self.origin as i128 + offset).clamp(cwnd as i128, cwnd as i128 * 3 / 2);
        // Reno-friendly region: never slower than Reno with β = 0.7 would grow,
        // α = 3(1 − β)/(1 + β) = 9/17 segments per window.
        self.est_credit += acked as u64 * 9;
        let step = 17 * cwnd as u64;
        while self.est_credit >= step {
            self.est_credit -= step;
            self.w_est += MSS;
        }
        if target < self.w_est as i128 {
            // The Reno-friendly region: the window is W_est (RFC 9438, 4.3).
            return cwnd.max(self.w_est);
        }
        if target <= cwnd as i128 {
            return cwnd;
        }
        self.credit += (target as u64 - cwnd as u64) * acked as u64;
        let grow = self.credit / cwnd as u64;
        self.credit %= cwnd as u64;
        cwnd + grow as u32
    }

    /// HyStart's delay test: slow start ends when a round's smallest RTT exceeds the path's
    /// by an eighth (4–16 ms), before the queue overflows.
    fn hystart(&mut self, una: u32, nxt: u32, rtt: Time, min_rtt: Time, cwnd: u32) -> bool {
        if una >= self.round_end {
            self.round_end = nxt;
            self.round_min = Time::MAX;
            self.round_samples = 0;
        }
        if cwnd < HYSTART_LOW_WINDOW {
            return false;
        }
        if self.round_samples < HYSTART_SAMPLES {
            self.round_samples += 1;
            self.round_min = self.round_min.min(rtt);
            if self.round_samples < HYSTART_SAMPLES {
                return false;
            }
        }
        let threshold = (min_rtt / 8).clamp(4 * MS, 16 * MS);
        self.round_min >= min_rtt + threshold
    }
}

/// ⌊∛n⌋, exactly: a float's estimate, corrected by integer arithmetic.
fn cube_root(n: u128) -> u128 {
    let mut x = (n as f64).cbrt() as u128;
    while x > 0 && x * x * x > n {
        x -= 1;
    }
    while (x + 1) * (x + 1) * (x + 1) <= n {
        x += 1;
    }
    x
}

/// What the receiving side should do after a segment arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckNow {
    Yes,
    /// The delayed-ACK timer will (`Receiver::ack_due`).
    Later,
}

#[derive(Clone, Debug)]
pub struct Receiver {
    /// Next byte expected: everything below it has arrived.
    pub nxt: u32,
    /// Out-of-order byte ranges held, sorted and disjoint (no two touch).
    ooo: Vec<(u32, u32)>,
    /// The bytes in them.
    held: u32,
    /// The start of the block the latest out-of-order segment joined.
    latest: u32,
    /// Bytes arrived since the last ACK.
    unacked: u32,
    quick: u8,
    /// When the delayed-ACK timer fires, if armed.
    pub ack_due: Option<Time>,
    /// A duplicate that arrived, for the next ACK's D-SACK block.
    duplicate: Option<(u32, u32)>,
}

impl Default for Receiver {
    fn default() -> Receiver {
        Receiver {
            nxt: 0,
            ooo: Vec::new(),
            held: 0,
            latest: 0,
            unacked: 0,
            quick: QUICK_ACKS,
            ack_due: None,
            duplicate: None,
        }
    }
}

impl Receiver {
    pub fn on_segment(&mut self, now: Time, seq: u32, len: u32, push: bool) -> AckNow {
        let end = seq + len;
        if end <= self.nxt {
            // A duplicate: say where we are, and (D-SACK) that this arrived twice.
            self.duplicate = Some((seq, end));
            return AckNow::Yes;
        }
        if seq > self.nxt {
            self.hold(seq, end);
            return AckNow::Yes;
        }
        self.nxt = end;
        let had_holes = !self.ooo.is_empty();
        // The blocks this segment reaches now follow in order: no longer held.
        let filled = self.ooo.partition_point(|&(s, _)| s <= self.nxt);
        for &(s, e) in &self.ooo[..filled] {
            self.nxt = self.nxt.max(e);
            self.held -= e - s;
        }
        self.ooo.drain(..filled);
        self.unacked += len;
        if had_holes || self.unacked > MSS || (push && len < MSS) {
            return AckNow::Yes;
        }
        if self.quick > 0 {
            self.quick -= 1;
            return AckNow::Yes;
        }
        self.ack_due.get_or_insert(now + DELAYED_ACK);
        AckNow::Later
    }

    /// The acknowledgement to send now (alone or on data); the delayed ACK is then not due.
    pub fn ack(&mut self) -> Ack {
        self.unacked = 0;
        self.ack_due = None;
        // A duplicate's D-SACK block, else the block the latest out-of-order segment joined.
        let latest = || {
            let i = self.ooo.binary_search_by_key(&self.latest, |&(s, _)| s);
            i.ok().map(|i| &self.ooo[i])
        };
        let sack = (self.duplicate.take()).or_else(|| latest().or(self.ooo.first()).copied());
        Ack {
            ack: self.nxt,
            window: RECEIVE_BUFFER - self.held.min(RECEIVE_BUFFER),
            sack,
        }
    }

    fn hold(&mut self, seq: u32, end: u32) {
        // The blocks the segment overlaps or touches, `first..past`, become one with it.
        let first = self.ooo.partition_point(|&(_, e)| e < seq);
        let past = first + self.ooo[first..].partition_point(|&(s, _)| s <= end);
        let mut block = (seq, end);
        for &(s, e) in &self.ooo[first..past] {
            block = (block.0.min(s), block.1.max(e));
            self.held -= e - s;
        }
        self.held += block.1 - block.0;
        self.ooo.splice(first..past, [block]);
        self.latest = block.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a sender and receiver over a pipe with a fixed RTT and no bandwidth limit, losing
    /// the first transmission of the segments at `lose`. Returns when the transfer completed
    /// and the sender.
    fn transfer(total: u32, lose: &[u32]) -> (Time, Sender) {
        let rtt = 20 * MS;
        let mut s = Sender::new(total, Congestion::Cubic, false);
        let mut r = Receiver::default();
        let mut segments: Vec<(Time, Segment)> = Vec::new();
        let mut acks: Vec<(Time, Ack)> = Vec::new();
        let mut lost: Vec<u32> = lose.to_vec();
        let mut now = 0;
        s.transmit(now, &mut |seg| segments.push((seg.at + rtt / 2, seg)));
        for _ in 0..100_000 {
            if s.done() {
                break;
            }
            segments.sort_by_key(|x| x.0);
            acks.sort_by_key(|x| x.0);
            let next_seg = segments.first().map_or(Time::MAX, |x| x.0);
            let next_ack = acks.first().map_or(Time::MAX, |x| x.0);
            let timers = [s.deadline(), r.ack_due].into_iter().flatten().min();
            now = next_seg.min(next_ack).min(timers.unwrap_or(Time::MAX));
            let mut sent = Vec::new();
            if now == next_seg {
                let (_, seg) = segments.remove(0);
                if let Some(i) = lost.iter().position(|&l| l == seg.seq) {
                    lost.remove(i);
                    continue;
                }
                if r.on_segment(now, seg.seq, seg.len, seg.push) == AckNow::Yes {
                    acks.push((now + rtt / 2, r.ack()));
                }
            } else if now == next_ack {
                let (_, a) = acks.remove(0);
                s.on_ack(now, a, &mut |seg| sent.push(seg));
            } else {
                if r.ack_due.is_some_and(|d| d <= now) {
                    acks.push((now + rtt / 2, r.ack()));
                }
                if s.deadline().is_some_and(|d| d <= now) {
                    assert!(s.on_timer(now, &mut |seg| sent.push(seg)));
                }
            }
            segments.extend(sent.into_iter().map(|seg| (seg.at + rtt / 2, seg)));
        }
        (now, s)
    }

    #[test]
    fn slow_start_doubles_the_window_each_round_trip() {
        // 10 + 20 + 40 segments take three round trips.
        let (t, s) = transfer(70 * MSS, &[]);
        assert!(s.done());
        assert!(t <= 3 * 20 * MS + 5 * MS, "took {t}");
        assert_eq!(s.retransmits, 0);
    }

    #[test]
    fn a_lost_segment_is_found_by_sack_and_resent_once_without_a_timeout() {
        let (t, s) = transfer(200 * MSS, &[20 * MSS]);
        assert!(s.done());
        assert_eq!((s.retransmits, s.timeouts, s.probes), (1, 0, 0));
        // Ten round trips: slow start to the loss, then congestion avoidance from 0.7 of it.
        assert!(t <= 10 * 20 * MS, "{t}");
    }

    #[test]
    fn several_holes_in_one_window_are_repaired_in_one_recovery() {
        let holes: Vec<u32> = (0..8).map(|k| (30 + 3 * k) * MSS).collect();
        let (t, s) = transfer(300 * MSS, &holes);
        assert!(s.done());
        assert_eq!((s.retransmits, s.timeouts), (8, 0));
        assert!(t <= 14 * 20 * MS, "{t}");
    }

    #[test]
    fn a_lost_tail_is_probed_before_the_retransmission_timer() {
        let (t, s) = transfer(30 * MSS, &[29 * MSS]);
        assert!(s.done());
        // No segment follows the last to be SACKed: a probe resends it when the timer
        // would have fired, without collapsing the window to one segment.
        assert_eq!((s.probes, s.timeouts, s.retransmits), (1, 0, 1));
        assert!(s.cwnd >= INITIAL_WINDOW, "{}", s.cwnd);
        // Its last ACK was a delayed one: 40 ms + the 200 ms floor + a round trip + 40 ms.
        assert!(t <= 3 * 20 * MS + MIN_RTO + 2 * DELAYED_ACK, "{t}");
    }

    #[test]
    fn a_lost_retransmission_is_found_again_without_a_timeout() {
        let (_, s) = transfer(300 * MSS, &[40 * MSS, 40 * MSS]);
        assert!(s.done());
        assert_eq!((s.retransmits, s.timeouts), (2, 0));
    }

    #[test]
    fn the_sender_never_exceeds_the_receivers_window() {
        let mut s = Sender::new(1 << 30, Congestion::Cubic, false);
        s.cwnd = 1 << 24;
        let mut sent = 0;
        s.on_ack(
            0,
            Ack {
                ack: 0,
                window: 10 * MSS,
                sack: None,
            },
            &mut |seg| sent += seg.len,
        );
        assert_eq!(sent, 10 * MSS);
    }

    #[test]
    fn the_receiver_acks_every_second_segment_and_delays_a_lone_one() {
        let mut r = Receiver::default();
        for k in 0..QUICK_ACKS as u32 {
            assert_eq!(
                r.on_segment(0, k * MSS, MSS, false),
                AckNow::Yes,
                "quick ACK {k}"
            );
            r.ack();
        }
        let at = |k: u32| QUICK_ACKS as u32 * MSS + k * MSS;
        assert_eq!(r.on_segment(MS, at(0), MSS, false), AckNow::Later);
        assert_eq!(r.ack_due, Some(MS + DELAYED_ACK));
        assert_eq!(r.on_segment(2 * MS, at(1), MSS, false), AckNow::Yes);
        r.ack();
        assert_eq!(r.ack_due, None);
        // Out of order: at once, with the block held.
        assert_eq!(r.on_segment(3 * MS, at(3), MSS, false), AckNow::Yes);
        let ack = r.ack();
        assert_eq!((ack.ack, ack.sack), (at(2), Some((at(3), at(4)))));
        assert_eq!(ack.window, RECEIVE_BUFFER - MSS);
        // Filling the hole: at once, and nothing held any more.
        assert_eq!(r.on_segment(4 * MS, at(2), MSS, false), AckNow::Yes);
        assert_eq!(r.ack().sack, None);
        // A short pushed segment is read by the application and ACKed.
        assert_eq!(r.on_segment(5 * MS, at(4), 100, true), AckNow::Yes);
    }

    proptest::proptest! {
        /// Segments arriving in any order, duplicates included: what the receiver holds, the
        /// window it offers and the block it reports are those of the segments it has, counted
        /// one by one.
        #[test]
        fn the_receiver_keeps_what_arrived_out_of_order(
            order in proptest::collection::vec(0u32..40, 1..120)
        ) {
            let mut r = Receiver::default();
            let mut have = [false; 41];
            // The segment that most recently arrived above a hole.
            let mut latest = None;
            for (i, &k) in order.iter().enumerate() {
                let (seq, end) = (k * MSS, (k + 1) * MSS);
                let duplicate = end <= r.nxt;
                if seq > r.nxt {
                    latest = Some(seq);
                }
                r.on_segment(i as Time, seq, MSS, false);
                have[k as usize] = true;
                let nxt = have.iter().position(|h| !h).unwrap() as u32 * MSS;
                proptest::prop_assert_eq!(r.nxt, nxt);
                // The runs of segments held above the first hole, as blocks of bytes.
                let mut blocks: Vec<(u32, u32)> = Vec::new();
                for j in (0..have.len() as u32).filter(|&j| have[j as usize] && j * MSS > nxt) {
                    match blocks.last_mut() {
                        Some(b) if b.1 == j * MSS => b.1 += MSS,
                        _ => blocks.push((j * MSS, (j + 1) * MSS)),
                    }
                }
                proptest::prop_assert_eq!(&r.ooo, &blocks);
                let held: u32 = blocks.iter().map(|(s, e)| e - s).sum();
                let ack = r.ack();
                proptest::prop_assert_eq!(ack.window, RECEIVE_BUFFER - held);
                // A duplicate's D-SACK block, else the block the latest out-of-order segment
                // is in, else the first.
                let holding = |at: u32| blocks.iter().copied().find(|b| b.0 <= at && at < b.1);
                let expected = match duplicate {
                    true => Some((seq, end)),
                    false => latest.and_then(holding).or(blocks.first().copied()),
                };
                proptest::prop_assert_eq!(ack.sack, expected);
            }
        }
    }

    #[test]
    fn cubic_regrows_to_its_last_maximum_after_k_seconds() {
        let mut c = Cubic::default();
        let w_max = 1000 * MSS;
        c.w_max = w_max;
        let cwnd = w_max * 7 / 10;
        c.grow(0, cwnd, MSS, 0);
        // K = ∛(W_max (1 − β) / C) = ∛(1000 × 0.3 / 0.4) s ≈ 9.09 s.
        assert!((c.k_us as i64 - 9_085_603).abs() < 10, "{}", c.k_us);
    }

    #[test]
    fn cube_roots_are_exact() {
        for n in [
            0u128,
            1,
            7,
            8,
            26,
            27,
            1 << 40,
            (1 << 60) - 1,
            10u128.pow(30),
        ] {
            let x = cube_root(n);
            assert!(x * x * x <= n && (x + 1) * (x + 1) * (x + 1) > n, "{n}");
        }
    }
}
