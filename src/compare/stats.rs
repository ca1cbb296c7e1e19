//! What seeds can and cannot tell: a metric's mean over seeds with its 95 % interval, and the
//! difference between two variants that ran on the same seeds.
//!
//! Every variant of a comparison runs the same traffic on the same seeds (common random
//! numbers), so two variants are compared by their difference seed by seed: the traffic's own
//! variation, most of what differs between seeds, cancels. Intervals are bootstrap percentile
//! intervals of the mean, expanded for small samples as Hesterberg describes ("What teachers
//! should know about the bootstrap", 2015) so that they cover at close to the stated rate from
//! five seeds up. Being made of resampled means they never leave the metric's range — a share
//! stays within 0–100 %, a time above zero — where Student's t would not. Resampling is seeded:
//! the same numbers give the same interval. Past [`BOOTSTRAP_UP_TO`] seeds the mean is normal
//! enough for Student's t, clipped to the values' range.
//!
//! A difference is called only from [`MIN_SEEDS`] seeds on (as hyperfine will not compare too
//! few runs); below that, or when the interval spans zero, the answer says how many seeds a
//! difference of the size seen would need.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

/// Fewest seeds from which a difference is called clear.
pub const MIN_SEEDS: usize = 5;

/// Most seeds for which intervals are bootstrapped; more use Student's t.
pub const BOOTSTRAP_UP_TO: usize = 100;

/// Resamples per bootstrap interval.
const RESAMPLES: usize = 4000;

/// A metric over seeds. Field names are a contract of `comparison.json`: keep them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    /// The 95 % interval of the mean; null from one seed, which has none.
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
    /// How many seeds had the metric.
    pub seeds: usize,
}

impl Estimate {
    /// The mean of `values` and its 95 % interval.
    pub fn of(values: &[f64]) -> Option<Estimate> {
        let mean = mean(values)?;
        let ci = interval(values, mean);
        Some(Estimate {
            mean,
            ci95_low: ci.map(|c| c.0),
            ci95_high: ci.map(|c| c.1),
            seeds: values.len(),
        })
    }
}

/// One variant's metric minus another's, seed by seed. Field names are a contract of
/// `comparison.json`: keep them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// The mean of the per-seed differences, and its 95 % interval (null from one seed).
    pub mean: f64,
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
    /// The seeds both variants have the metric for.
    pub seeds: usize,
    /// The interval stays clear of zero, from at least [`MIN_SEEDS`] seeds.
    pub clear: bool,
    /// When not clear: about how many seeds would tell a difference of this size from none
    /// (80 % power at 95 %); null when no difference was seen at all.
    pub seeds_needed: Option<u64>,
}

impl Difference {
    /// The difference `a − b` over the seeds both have, given as `(seed, value)` pairs.
    pub fn paired(a: &[(u64, f64)], b: &[(u64, f64)]) -> Option<Difference> {
        let b: std::collections::HashMap<u64, f64> = b.iter().copied().collect();
        let diffs: Vec<f64> = (a.iter())
            .filter_map(|(seed, x)| Some(x - b.get(seed)?))
            .collect();
        Difference::of(&diffs)
    }

    /// The difference whose per-seed values are `diffs`.
    pub fn of(diffs: &[f64]) -> Option<Difference> {
        let mean = mean(diffs)?;
        let n = diffs.len();
        let ci = interval(diffs, mean);
        let excludes_zero = ci.is_some_and(|(lo, hi)| lo > 0.0 || hi < 0.0);
        let clear = n >= MIN_SEEDS && excludes_zero;
        let seeds_needed = if clear || mean == 0.0 {
            None
        } else {
            // The usual sample size for a paired test: ((z₀.₉₇₅ + z₀.₈) · sd / |mean|)² —
            // and more than these seeds, which did not tell, and than a claim needs anyway.
            let sd = sd(diffs, mean).unwrap_or(0.0);
            let needed = ((1.959_964 + 0.841_621) * sd / mean.abs()).powi(2).ceil();
            Some((needed.min(1e9) as u64).max(MIN_SEEDS.max(n + 1) as u64))
        };
        Some(Difference {
            mean,
            ci95_low: ci.map(|c| c.0),
            ci95_high: ci.map(|c| c.1),
            seeds: n,
            clear,
            seeds_needed,
        })
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The sample standard deviation, from two values up.
fn sd(values: &[f64], mean: f64) -> Option<f64> {
    let n = values.len();
    (n >= 2).then(|| {
        let ss: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
        (ss / (n - 1) as f64).sqrt()
    })
}

/// The 95 % interval of the mean of `values`, from two values up (see the module's comment).
fn interval(values: &[f64], mean: f64) -> Option<(f64, f64)> {
    let n = values.len();
    let sd = sd(values, mean)?;
    let (lowest, highest) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if sd == 0.0 {
        return Some((mean, mean));
    }
    let t = t975(n - 1);
    if n > BOOTSTRAP_UP_TO {
        let half = t * sd / (n as f64).sqrt();
        return Some(((mean - half).max(lowest), (mean + half).min(highest)));
    }
    // Hesterberg's expanded percentile interval: the tails a t interval would give a sample
    // of n, widened by √(n / (n − 1)), read off the bootstrap distribution of the mean.
    let tail = normal_cdf(-(n as f64 / (n - 1) as f64).sqrt() * t);
    let mut rng = Pcg64Mcg::seed_from_u64(0xb007_5742 ^ n as u64);
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| (0..n).map(|_| values[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let k = ((tail * RESAMPLES as f64) as usize).min(RESAMPLES / 2);
    Some((means[k], means[RESAMPLES - 1 - k]))
}

/// Two-sided 97.5th percentiles of Student's t for 1–30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// Student's t's 97.5th percentile; past the table, Cornish-Fisher's first two terms.
fn t975(df: usize) -> f64 {
    T975.get(df.wrapping_sub(1)).copied().unwrap_or_else(|| {
        let (z, df) = (1.959_964f64, df as f64);
        z + (z.powi(3) + z) / (4.0 * df)
            + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * df * df)
    })
}

/// The standard normal distribution function, through `erfc` (Numerical Recipes' Chebyshev
/// fit, relative error below 1.2e-7 everywhere).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - erfc / 2.0
    } else {
        erfc / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn normal_cdf_and_t_match_their_tables() {
        assert!((normal_cdf(-1.959_964) - 0.025).abs() < 1e-6);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-6);
        assert!((normal_cdf(1.0) - 0.841_344_7).abs() < 1e-6);
        assert_eq!(t975(9), 2.262);
        // t(40) = 2.021, t(120) = 1.980.
        assert!((t975(40) - 2.021).abs() < 2e-3, "{}", t975(40));
        assert!((t975(120) - 1.980).abs() < 1e-3, "{}", t975(120));
    }

    #[test]
    fn one_seed_has_no_interval_and_claims_nothing() {
        let e = Estimate::of(&[0.25]).unwrap();
        assert_eq!((e.mean, e.ci95_low, e.seeds), (0.25, None, 1));
        let d = Difference::of(&[-0.5]).unwrap();
        assert!(!d.clear);
        assert_eq!(d.seeds_needed, Some(MIN_SEEDS as u64));
        assert!(Estimate::of(&[]).is_none());
    }

    #[test]
    fn a_share_keeps_its_interval_inside_zero_to_one() {
        // One seed of ten broke a quarter of its connections: a t interval reaches below 0.
        let mut v = vec![0.0; 9];
        v.push(0.25);
        let e = Estimate::of(&v).unwrap();
        assert!(
            e.ci95_low.unwrap() >= 0.0 && e.ci95_high.unwrap() <= 0.25,
            "{e:?}"
        );
        let same = Estimate::of(&[0.5; 6]).unwrap();
        assert_eq!((same.ci95_low, same.ci95_high), (Some(0.5), Some(0.5)));
    }

    #[test]
    fn a_consistent_difference_is_clear_from_five_seeds_only() {
        let four = Difference::of(&[1.0, 1.1, 0.9, 1.0]).unwrap();
        assert!(!four.clear);
        assert_eq!(four.seeds_needed, Some(5));
        let five = Difference::of(&[1.0, 1.1, 0.9, 1.0, 1.05]).unwrap();
        assert!(five.clear, "{five:?}");
        let none = Difference::of(&[0.0; 8]).unwrap();
        assert!(!none.clear);
        assert_eq!(none.seeds_needed, None);
    }

    #[test]
    fn seeds_needed_grows_as_the_difference_shrinks_against_its_noise() {
        let noisy = Difference::of(&[0.3, -0.2, 0.4, -0.1, 0.1, -0.3]).unwrap();
        assert!(!noisy.clear);
        // mean 1/30, sd ≈ 0.28: ((1.96 + 0.84) · 0.28 / 0.033)² ≈ 560.
        let needed = noisy.seeds_needed.unwrap();
        assert!((450..700).contains(&needed), "{needed}");
    }

    /// The known answer: a metric whose per-seed difference is normal with mean 0.3 and sd 1;
    /// over 200 comparisons of 10 seeds each, the interval covers 0.3 about 95 % of the time
    /// (binomial sd 1.5 %: 95 ± 4.5 % is three of them).
    #[test]
    fn the_interval_covers_a_known_difference_at_the_stated_rate() {
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        let noise = Normal::new(0.3, 1.0).unwrap();
        let covered = (0..200)
            .filter(|_| {
                let d: Vec<f64> = (0..10).map(|_| noise.sample(&mut rng)).collect();
                let d = Difference::of(&d).unwrap();
                d.ci95_low.unwrap() <= 0.3 && 0.3 <= d.ci95_high.unwrap()
            })
            .count();
        assert!((181..=199).contains(&covered), "{covered} of 200");
    }

    /// A skewed metric (completion times, exponential): covered as well, and the interval of
    /// a positive metric never goes below zero.
    #[test]
    fn a_skewed_metric_is_covered_and_stays_positive() {
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        let exp = rand_distr::Exp::new(1.0 / 200.0).unwrap();
        let mut covered = 0;
        for _ in 0..200 {
            let v: Vec<f64> = (0..10).map(|_| exp.sample(&mut rng)).collect();
            let e = Estimate::of(&v).unwrap();
            assert!(e.ci95_low.unwrap() > 0.0);
            covered += usize::from(e.ci95_low.unwrap() <= 200.0 && 200.0 <= e.ci95_high.unwrap());
        }
        // The mean of ten exponentials is skewed: bootstrap intervals cover a little less.
        assert!((176..=199).contains(&covered), "{covered} of 200");
    }
}
