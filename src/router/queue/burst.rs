//! Burst: a queue may go past its `max-limit`, up to `burst-limit`, while what it sent over
//! the last `burst-time` averages under `burst-threshold` (help.mikrotik.com "Queues", Burst).
//! RouterOS takes that average every sixteenth of `burst-time`, over the sixteen sixteenths
//! before, and switches the queue's ceiling between the two limits then — so a queue idle for
//! a while starts at `burst-limit`, and one sending flat out at it stops bursting after
//! `burst-time × burst-threshold / burst-limit`. A PCQ sub-stream bursts the same way, from
//! `pcq-rate` to `pcq-burst-rate`.

use crate::units::{SEC, Time};

/// How far a queue bursts: `burst-limit`, `burst-threshold` (bit/s) and `burst-time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BurstSpec {
    pub limit: u64,
    pub threshold: u64,
    pub time: Time,
}

impl BurstSpec {
    /// A burst that can happen: all three set (RouterOS's 0 is "no burst").
    pub fn new(limit: u64, threshold: u64, time: Time) -> Option<BurstSpec> {
        (limit > 0 && threshold > 0 && time >= SLOTS as Time).then_some(BurstSpec {
            limit,
            threshold,
            time,
        })
    }
}

const SLOTS: usize = 16;

/// One queue's burst state: bytes sent in each of the last sixteen sixteenths of
/// `burst-time`, and in the one under way.
#[derive(Clone, Debug)]
pub struct Burst {
    spec: BurstSpec,
    done: [u64; SLOTS],
    oldest: usize,
    current: u64,
    /// When the sixteenth under way ends.
    ends: Time,
    bursting: bool,
}

impl Burst {
    /// A queue that has sent nothing yet: its average is 0, so it may burst.
    pub fn new(spec: BurstSpec, now: Time) -> Burst {
        Burst {
            spec,
            done: [0; SLOTS],
            oldest: 0,
            current: 0,
            ends: now + spec.time / SLOTS as Time,
            bursting: true,
        }
    }

    /// The ceiling now: `burst-limit` while bursting, else `base` (`max-limit`, `pcq-rate`).
    pub fn ceiling(&self, base: u64) -> u64 {
        if self.bursting {
            self.spec.limit.max(base)
        } else {
            base
        }
    }

    /// Closes the sixteenths that ended by `now`, deciding at each whether the queue bursts.
    /// Returns whether that changed.
    pub fn advance(&mut self, now: Time) -> bool {
        let was = self.bursting;
        let step = self.spec.time / SLOTS as Time;
        // After sixteen sixteenths with nothing sent, any more are alike: skip to the last.
        let mut left = SLOTS + 1;
        while now >= self.ends {
            if left == 0 {
                self.ends = now - (now - self.ends) % step;
                left = SLOTS + 1;
            }
            left -= 1;
            self.done[self.oldest] = self.current;
            self.oldest = (self.oldest + 1) % SLOTS;
            self.current = 0;
            self.ends += step;
            let bits = u128::from(self.done.iter().sum::<u64>()) * 8;
            let average = bits * u128::from(SEC) / u128::from(self.spec.time);
            self.bursting = average < u128::from(self.spec.threshold);
        }
        was != self.bursting
    }

    /// Counts `len` bytes sent now (after [`Burst::advance`] to now).
    pub fn sent(&mut self, len: u32) {
        self.current += u64::from(len);
    }

    /// When the queue may next start or stop bursting.
    pub fn next_decision(&self) -> Time {
        self.ends
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MikroTik's own example: max-limit 256k, burst-limit 512k, threshold 192k, time 8 s. A
    /// download at the ceiling bursts for 8 × 192/512 = 3 s, then runs at 256k; as the
    /// burst's seconds leave the window the average falls, (512·(3−x) + 256·(5+x))/8, but
    /// only to 256k — never under 192k while the download lasts, so it never bursts again.
    #[test]
    fn a_download_at_the_ceiling_bursts_for_time_times_threshold_over_limit() {
        let spec = BurstSpec::new(512_000, 192_000, 8 * SEC).unwrap();
        let mut b = Burst::new(spec, 0);
        let mut switches = Vec::new();
        let ms = SEC / 1000;
        for t in (0..20_000).map(|i| i * ms) {
            if b.advance(t) {
                switches.push((t / ms, b.ceiling(256_000)));
            }
            // One millisecond at the ceiling.
            b.sent((b.ceiling(256_000) / 8 / 1000) as u32);
        }
        assert_eq!(switches, vec![(3_000, 256_000)]);
    }

    #[test]
    fn a_long_idle_spell_costs_no_more_than_a_window() {
        let spec = BurstSpec::new(2_000_000, 1_000_000, 16 * SEC).unwrap();
        let mut b = Burst::new(spec, 0);
        b.sent(10_000_000);
        assert!(b.advance(SEC), "10 MB in a second is past the threshold");
        assert!(
            b.advance(SEC * 1_000_000),
            "a million seconds later it bursts again"
        );
        assert_eq!(b.ceiling(1), 2_000_000);
        assert!(b.next_decision() > SEC * 1_000_000);
    }
}
