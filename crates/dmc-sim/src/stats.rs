//! Confidence intervals for the experiment: a two-level (cluster) paired
//! bootstrap.
//!
//! The data are payments nested in seeds: every arm pays the same payments
//! of the same seed, and payments of one seed share one network, so they
//! are not independent. One replicate draws seeds with replacement and,
//! within each drawn seed, payments with replacement; the same draw is used
//! for every arm, so a difference or ratio between arms keeps its pairing.
//! The interval is the 2.5 and 97.5 percentiles of the replicates (Davison
//! & Hinkley 1997, §3.8 for the two-stage scheme). With few seeds the seed
//! level dominates the width, which is the honest answer.

use crate::rng::Rng;

/// A point estimate and its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// The statistic on the full data (not the replicates' average).
    pub mean: f64,
    /// 2.5th and 97.5th percentiles of the bootstrap replicates.
    pub ci95: (f64, f64),
}

impl Stat {
    /// Whether the interval contains `x`.
    pub fn ci_contains(&self, x: f64) -> bool {
        self.ci95.0 <= x && x <= self.ci95.1
    }
}

/// Values of one arm: `values[seed][payment]`. All arms passed together
/// must have the same shape.
pub type ArmValues = Vec<Vec<f64>>;

/// `stat` of the arms' pooled means, with a paired two-level bootstrap
/// interval over `reps` replicates. `None` when there are no values or the
/// statistic is not finite on the data.
pub fn paired_bootstrap(arms: &[&ArmValues], reps: usize, seed: u64, stat: impl Fn(&[f64]) -> f64) -> Option<Stat> {
    let first = arms.first()?;
    let sizes: Vec<usize> = first.iter().map(Vec::len).collect();
    if sizes.iter().sum::<usize>() == 0 || arms.iter().any(|a| a.iter().map(Vec::len).ne(sizes.iter().copied())) {
        return None;
    }
    let means = |draw: &[(usize, Vec<usize>)]| -> Vec<f64> {
        arms.iter()
            .map(|arm| {
                let (mut sum, mut n) = (0.0, 0usize);
                for (s, idx) in draw {
                    for &i in idx {
                        sum += arm[*s][i];
                        n += 1;
                    }
                }
                if n == 0 {
                    f64::NAN
                } else {
                    sum / n as f64
                }
            })
            .collect()
    };
    let full: Vec<(usize, Vec<usize>)> = sizes.iter().enumerate().map(|(s, n)| (s, (0..*n).collect())).collect();
    let point = stat(&means(&full));
    if !point.is_finite() {
        return None;
    }
    let mut rng = Rng::new(seed);
    let mut reps_out = Vec::with_capacity(reps);
    for _ in 0..reps {
        let draw: Vec<(usize, Vec<usize>)> = (0..sizes.len())
            .map(|_| {
                let s = rng.below(sizes.len() as u64) as usize;
                let n = sizes[s];
                (s, (0..n).map(|_| rng.below(n as u64) as usize).collect())
            })
            .collect();
        let v = stat(&means(&draw));
        if v.is_finite() {
            reps_out.push(v);
        }
    }
    if reps_out.is_empty() {
        return Some(Stat {
            mean: point,
            ci95: (point, point),
        });
    }
    reps_out.sort_by(f64::total_cmp);
    let q = |p: f64| reps_out[((reps_out.len() - 1) as f64 * p).round() as usize];
    Some(Stat {
        mean: point,
        ci95: (q(0.025), q(0.975)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_interval_of_one_arm() {
        let a: ArmValues = vec![vec![1.0, 2.0, 3.0], vec![2.0, 3.0, 4.0]];
        let s = paired_bootstrap(&[&a], 500, 1, |m| m[0]).unwrap();
        assert!((s.mean - 2.5).abs() < 1e-12);
        assert!(s.ci95.0 <= s.mean && s.mean <= s.ci95.1);
        assert!(s.ci95.0 >= 1.0 && s.ci95.1 <= 4.0);
    }

    #[test]
    fn pairing_removes_shared_noise() {
        // b = a + 1 exactly: the paired difference has no spread at all.
        let mut rng = Rng::new(4);
        let a: ArmValues = (0..5).map(|_| (0..50).map(|_| rng.f64() * 10.0).collect()).collect();
        let b: ArmValues = a.iter().map(|s| s.iter().map(|x| x + 1.0).collect()).collect();
        let d = paired_bootstrap(&[&b, &a], 300, 2, |m| m[0] - m[1]).unwrap();
        assert!((d.mean - 1.0).abs() < 1e-9);
        assert!((d.ci95.0 - 1.0).abs() < 1e-9 && (d.ci95.1 - 1.0).abs() < 1e-9);
        assert!(!d.ci_contains(0.0));
        // Unpaired spread of one arm is wide by comparison.
        let s = paired_bootstrap(&[&a], 300, 2, |m| m[0]).unwrap();
        assert!(s.ci95.1 - s.ci95.0 > 0.5);
    }

    #[test]
    fn degenerate_inputs() {
        let empty: ArmValues = vec![vec![], vec![]];
        assert!(paired_bootstrap(&[&empty], 10, 1, |m| m[0]).is_none());
        let a: ArmValues = vec![vec![1.0]];
        let b: ArmValues = vec![vec![1.0, 2.0]];
        assert!(paired_bootstrap(&[&a, &b], 10, 1, |m| m[0]).is_none(), "shapes differ");
        // A ratio with a zero denominator is not finite: no statistic.
        assert!(paired_bootstrap(&[&a, &a], 10, 1, |m| 1.0 / (m[0] - m[1])).is_none());
    }
}
