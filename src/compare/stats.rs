//! Means with 95 % confidence intervals over seeds (Student's t, since seeds are few).

use serde::{Deserialize, Serialize};

/// A metric over seeds. Field names are a contract of `comparison.json`: keep them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
}

/// Two-sided 97.5th percentiles of Student's t for 1–30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

impl Estimate {
    /// The mean of `values` and its 95 % interval; one value is its own interval.
    pub fn of(values: &[f64]) -> Option<Estimate> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Some(Estimate {
                mean,
                ci95_low: mean,
                ci95_high: mean,
            });
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let t = T975.get(n - 2).copied().unwrap_or(1.96);
        let half = t * (var / n as f64).sqrt();
        Some(Estimate {
            mean,
            ci95_low: mean - half,
            ci95_high: mean + half,
        })
    }

    /// Whether the two intervals overlap: the seeds cannot tell the two apart.
    pub fn overlaps(&self, other: &Estimate) -> bool {
        self.ci95_low <= other.ci95_high && other.ci95_low <= self.ci95_high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_is_students_t() {
        let e = Estimate::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(e.mean, 2.0);
        // sd 1, n 3: half-width 4.303 / sqrt(3).
        assert!((e.ci95_high - 2.0 - 4.303 / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(Estimate::of(&[5.0]).unwrap().ci95_low, 5.0);
        assert!(Estimate::of(&[]).is_none());
    }
}
