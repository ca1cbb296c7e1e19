//! One direction of a TCP byte stream: the sender's congestion control and the receiver's
//! acknowledgements, sans-IO like the router — methods take `now` and push segments to send.
//!
//! The sender is NewReno (RFC 6582, 5681): slow start from an initial window of ten segments
//! (byte counting with L = 2), congestion avoidance, fast retransmit after three duplicate ACKs
//! with partial-ACK recovery, and a retransmission timer per RFC 6298 (200 ms floor, as Linux)
//! with exponential backoff and go-back-N on expiry. The receiver ACKs every second segment, at once when a segment is out of
//! order, fills a hole or carries PSH (which the sender sets when it stops to wait), so no
//! delayed-ACK timer is needed. Sequence numbers count payload bytes from 0.

use crate::units::{MS, SEC, Time};

/// Payload bytes per full segment (1500-byte MTU, 52 bytes of IP + TCP with timestamps).
pub const MSS: u32 = 1448;
const INITIAL_WINDOW: u32 = 10 * MSS;
/// Stand-in for the receive window: autotuned Linux buffers top out around here.
const MAX_WINDOW: u32 = 6 * 1024 * 1024;
const MIN_RTO: Time = 200 * MS;
const MAX_RTO: Time = 60 * SEC;
pub const INITIAL_RTO: Time = SEC;
/// Consecutive timeouts after which the connection is given up.
pub const MAX_RETRIES: u8 = 6;

/// A segment the sender wants on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub seq: u32,
    pub len: u32,
    /// The sender stops after this one: ask the receiver to ACK now.
    pub push: bool,
}

#[derive(Clone, Debug)]
pub struct Sender {
    /// Bytes the application has to send in all.
    pub total: u32,
    pub una: u32,
    pub nxt: u32,
    pub cwnd: u32,
    ssthresh: u32,
    dupacks: u32,
    /// NewReno's recovery point; `Some` while in fast recovery.
    recover: Option<u32>,
    srtt: Time,
    rttvar: Time,
    rto: Time,
    /// The segment being timed for an RTT sample (Karn: never a retransmitted one).
    timing: Option<(u32, Time)>,
    /// Highest sequence sent so far; below it, sending again is a retransmission.
    high: u32,
    pub retries: u8,
    /// When the retransmission timer fires, if armed.
    pub deadline: Option<Time>,
    pub retransmits: u32,
    /// The last RTT sample, until the engine reads it for the time series (0: none).
    unread_rtt: Time,
}

impl Sender {
    pub fn new(total: u32) -> Sender {
        Sender {
            total,
            una: 0,
            nxt: 0,
            cwnd: INITIAL_WINDOW,
            ssthresh: u32::MAX,
            dupacks: 0,
            recover: None,
            srtt: 0,
            rttvar: 0,
            rto: INITIAL_RTO,
            timing: None,
            high: 0,
            retries: 0,
            deadline: None,
            retransmits: 0,
            unread_rtt: 0,
        }
    }

    pub fn done(&self) -> bool {
        self.una >= self.total
    }

    fn flight(&self) -> u32 {
        self.nxt - self.una
    }

    /// Sends what the window allows.
    pub fn transmit(&mut self, now: Time, out: &mut impl FnMut(Segment)) {
        let window = self.cwnd.min(MAX_WINDOW);
        while self.nxt < self.total && self.flight() < window {
            let len = MSS.min(self.total - self.nxt);
            let seq = self.nxt;
            self.nxt += len;
            let push = self.nxt >= self.total || self.flight() >= window;
            if seq >= self.high {
                self.high = self.nxt;
                if self.timing.is_none() {
                    self.timing = Some((self.nxt, now));
                }
            } else {
                self.retransmits += 1;
            }
            out(Segment { seq, len, push });
        }
        if self.una < self.nxt && self.deadline.is_none() {
            self.deadline = Some(now + self.rto);
        }
    }

    /// Handles a cumulative ACK for `ack`.
    pub fn on_ack(&mut self, now: Time, ack: u32, out: &mut impl FnMut(Segment)) {
        if ack > self.una && ack <= self.high {
            self.new_data_acked(now, ack, out);
        } else if ack == self.una && self.una < self.nxt {
            self.duplicate_ack(now, out);
        }
        self.transmit(now, out);
    }

    fn new_data_acked(&mut self, now: Time, ack: u32, out: &mut impl FnMut(Segment)) {
        let acked = ack - self.una;
        self.una = ack;
        // go-back-N may have rewound nxt below what the receiver already has.
        self.nxt = self.nxt.max(ack);
        self.dupacks = 0;
        self.retries = 0;
        if let Some((seq, sent)) = self.timing
            && ack >= seq
        {
            self.sample_rtt(now - sent);
            self.timing = None;
        }
        match self.recover {
            Some(recover) if ack < recover => {
                // Partial ACK: the next hole is lost too; resend it and stay in recovery.
                self.retransmit_head(out);
                self.cwnd = self.cwnd.saturating_sub(acked) + MSS;
            }
            Some(_) => {
                self.recover = None;
                self.cwnd = self.ssthresh;
            }
            // Appropriate byte counting with L = 2 (RFC 3465), as Linux: delayed ACKs still double.
            None if self.cwnd < self.ssthresh => self.cwnd += acked.min(2 * MSS),
            None => self.cwnd += (MSS as u64 * MSS as u64 / self.cwnd as u64).max(1) as u32,
        }
        self.deadline = (self.una < self.nxt).then_some(now + self.rto);
    }

    fn duplicate_ack(&mut self, _now: Time, out: &mut impl FnMut(Segment)) {
        self.dupacks += 1;
        if self.recover.is_some() {
            self.cwnd += MSS;
        } else if self.dupacks == 3 {
            self.ssthresh = (self.flight() / 2).max(2 * MSS);
            self.recover = Some(self.nxt);
            self.retransmit_head(out);
            self.cwnd = self.ssthresh + 3 * MSS;
        }
    }

    fn retransmit_head(&mut self, out: &mut impl FnMut(Segment)) {
        let len = MSS.min(self.total - self.una);
        self.retransmits += 1;
        self.timing = None;
        out(Segment {
            seq: self.una,
            len,
            push: true,
        });
    }

    /// The RTT measured since the last call, if any.
    pub fn take_rtt_sample(&mut self) -> Option<Time> {
        Some(std::mem::take(&mut self.unread_rtt)).filter(|&t| t > 0)
    }

    fn sample_rtt(&mut self, rtt: Time) {
        self.unread_rtt = rtt.max(1);
        if self.srtt == 0 {
            self.srtt = rtt;
            self.rttvar = rtt / 2;
        } else {
            let err = self.srtt.abs_diff(rtt);
            self.rttvar = (3 * self.rttvar + err) / 4;
            self.srtt = (7 * self.srtt + rtt) / 8;
        }
        self.rto = (self.srtt + (4 * self.rttvar).max(MS)).clamp(MIN_RTO, MAX_RTO);
    }

    /// The retransmission timer fired: back off and resend from the first unacknowledged byte.
    /// Returns false once the connection should be given up.
    pub fn on_timeout(&mut self, now: Time, out: &mut impl FnMut(Segment)) -> bool {
        self.deadline = None;
        if self.una >= self.nxt {
            return true;
        }
        self.retries += 1;
        if self.retries > MAX_RETRIES {
            return false;
        }
        self.ssthresh = (self.flight() / 2).max(2 * MSS);
        self.cwnd = MSS;
        self.recover = None;
        self.dupacks = 0;
        self.timing = None;
        self.nxt = self.una;
        self.rto = (self.rto * 2).min(MAX_RTO);
        self.transmit(now, out);
        true
    }
}

/// What the receiving side should do after a segment arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckNow {
    Yes,
    Later,
}

#[derive(Clone, Debug, Default)]
pub struct Receiver {
    /// Next byte expected: everything below it has arrived.
    pub nxt: u32,
    /// Out-of-order byte ranges held, sorted and disjoint.
    ooo: Vec<(u32, u32)>,
    unacked: u32,
}

impl Receiver {
    pub fn on_segment(&mut self, seq: u32, len: u32, push: bool) -> AckNow {
        let end = seq + len;
        if end <= self.nxt {
            return AckNow::Yes; // a duplicate: tell the sender where we are
        }
        if seq > self.nxt {
            self.hold(seq, end);
            return AckNow::Yes;
        }
        self.nxt = end;
        let had_holes = !self.ooo.is_empty();
        while let Some(&(s, e)) = self.ooo.first() {
            if s > self.nxt {
                break;
            }
            self.nxt = self.nxt.max(e);
            self.ooo.remove(0);
        }
        self.unacked += 1;
        if push || had_holes || self.unacked >= 2 {
            self.unacked = 0;
            AckNow::Yes
        } else {
            AckNow::Later
        }
    }

    fn hold(&mut self, seq: u32, end: u32) {
        let at = self.ooo.partition_point(|&(s, _)| s < seq);
        self.ooo.insert(at, (seq, end));
        // Merge overlapping neighbours so the list stays sorted and disjoint.
        let mut last = 0;
        for i in 1..self.ooo.len() {
            if self.ooo[i].0 <= self.ooo[last].1 {
                self.ooo[last].1 = self.ooo[last].1.max(self.ooo[i].1);
            } else {
                last += 1;
                self.ooo[last] = self.ooo[i];
            }
        }
        self.ooo.truncate(last + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a sender and receiver over a lossless pipe with a fixed RTT and no bandwidth limit.
    fn transfer(total: u32, lose: &[u32]) -> (Time, Sender) {
        let rtt = 20 * MS;
        let mut s = Sender::new(total);
        let mut r = Receiver::default();
        let mut in_flight: Vec<(Time, Segment)> = Vec::new();
        let mut now = 0;
        let mut lost: Vec<u32> = lose.to_vec();
        s.transmit(now, &mut |seg| in_flight.push((now + rtt / 2, seg)));
        let mut acks: Vec<(Time, u32)> = Vec::new();
        for _ in 0..100_000 {
            if s.done() {
                break;
            }
            in_flight.sort_by_key(|x| x.0);
            acks.sort_by_key(|x| x.0);
            let next_seg = in_flight.first().map(|x| x.0).unwrap_or(Time::MAX);
            let next_ack = acks.first().map(|x| x.0).unwrap_or(Time::MAX);
            let next_rto = s.deadline.unwrap_or(Time::MAX);
            now = next_seg.min(next_ack).min(next_rto);
            let mut sent = Vec::new();
            if now == next_seg {
                let (_, seg) = in_flight.remove(0);
                if let Some(i) = lost.iter().position(|&l| l == seg.seq) {
                    lost.remove(i);
                    continue;
                }
                if r.on_segment(seg.seq, seg.len, seg.push) == AckNow::Yes {
                    acks.push((now + rtt / 2, r.nxt));
                }
            } else if now == next_ack {
                let (_, a) = acks.remove(0);
                s.on_ack(now, a, &mut |seg| sent.push(seg));
            } else {
                assert!(s.on_timeout(now, &mut |seg| sent.push(seg)));
            }
            in_flight.extend(sent.into_iter().map(|seg| (now + rtt / 2, seg)));
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
    fn a_lost_segment_is_fast_retransmitted_without_a_timeout() {
        let (t, s) = transfer(200 * MSS, &[20 * MSS]);
        assert!(s.done());
        assert_eq!(s.retransmits, 1);
        assert!(t < INITIAL_RTO, "fast retransmit, not RTO: {t}");
    }

    #[test]
    fn losing_the_tail_needs_the_timer() {
        let (t, s) = transfer(3 * MSS, &[2 * MSS]);
        assert!(s.done());
        assert_eq!(s.retransmits, 1);
        // No duplicate ACKs follow the last segment: only the timer (floored at 200 ms) helps.
        assert!(t >= MIN_RTO, "{t}");
    }

    #[test]
    fn receiver_reassembles_out_of_order_data() {
        let mut r = Receiver::default();
        assert_eq!(r.on_segment(1000, 1000, false), AckNow::Yes);
        assert_eq!(r.on_segment(3000, 1000, false), AckNow::Yes);
        assert_eq!(r.nxt, 0);
        r.on_segment(0, 1000, false);
        assert_eq!(r.nxt, 2000);
        r.on_segment(2000, 1000, false);
        assert_eq!(r.nxt, 4000);
    }
}
