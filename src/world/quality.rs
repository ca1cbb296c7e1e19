//! How a call sounded: per direction of a constant-rate stream, the packets that arrived, their
//! mean one-way delay and RFC 3550's interarrival jitter, turned into a MOS by the ITU-T G.107
//! E-model (its simplified form for G.711 with packet-loss concealment, random loss).
//!
//! A stream's packet k leaves at `start + (k − 1) · interval` on either end, so its one-way
//! delay needs no timestamp in the packet. The jitter buffer is assumed to add twice the jitter
//! to the delay (a common rule for adaptive buffers).

use crate::units::{MS, Time};

/// What the receiving end of one direction saw.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reception {
    pub received: u32,
    delay_sum: Time,
    /// RFC 3550's running estimate, in nanoseconds.
    jitter: f64,
    last_transit: Option<Time>,
}

impl Reception {
    /// Packet sent at `sent_at` arrived at `now`.
    pub fn arrived(&mut self, now: Time, sent_at: Time) {
        let transit = now.saturating_sub(sent_at);
        if let Some(last) = self.last_transit {
            let d = transit.abs_diff(last) as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
        self.received += 1;
        self.delay_sum += transit;
    }

    /// The MOS of this direction when `sent` packets were sent; `None` before any arrived.
    pub fn mos(&self, sent: u32) -> Option<f64> {
        if self.received == 0 || sent == 0 {
            return None;
        }
        let delay_ms = self.delay_sum as f64 / self.received as f64 / MS as f64;
        let jitter_ms = self.jitter / MS as f64;
        let loss = 1.0 - (self.received as f64 / sent as f64).min(1.0);
        Some(mos(delay_ms + 2.0 * jitter_ms, loss))
    }
}

/// G.107's R factor from the mouth-to-ear delay (ms) and the packet loss (0–1), and the MOS it
/// maps to.
pub fn mos(delay_ms: f64, loss: f64) -> f64 {
    const R0: f64 = 93.2;
    // G.711 with packet-loss concealment: Ie 0, Bpl 25.1; random loss (BurstR 1).
    const BPL: f64 = 25.1;
    let id = 0.024 * delay_ms + 0.11 * (delay_ms - 177.3).max(0.0);
    let ppl = loss * 100.0;
    let ie_eff = 95.0 * ppl / (ppl + BPL);
    let r = (R0 - id - ie_eff).clamp(0.0, 100.0);
    1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_e_model_gives_the_textbook_figures() {
        // A clean, short path is toll quality; 1 % loss costs little with PLC, 10 % much; a
        // long delay (satellite) drags it down.
        assert!((mos(20.0, 0.0) - 4.41).abs() < 0.02, "{}", mos(20.0, 0.0));
        assert!(mos(20.0, 0.01) > 4.1);
        assert!((3.3..3.5).contains(&mos(20.0, 0.10)), "{}", mos(20.0, 0.10));
        assert!(mos(400.0, 0.0) < 3.7);
    }

    #[test]
    fn jitter_follows_rfc_3550() {
        let mut r = Reception::default();
        for k in 0..200u64 {
            // Transit alternates 20 ms and 30 ms: |D| is 10 ms each time.
            let transit = if k % 2 == 0 { 20 } else { 30 } * MS;
            r.arrived(k * 20 * MS + transit, k * 20 * MS);
        }
        assert!((r.jitter / MS as f64 - 10.0).abs() < 0.1, "{}", r.jitter);
        assert!(r.mos(200).unwrap() > 4.2);
        assert_eq!(r.mos(400).map(|m| m < 3.0), Some(true), "half lost");
    }
}
