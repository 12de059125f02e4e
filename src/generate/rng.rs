//! The generator's random numbers: one ChaCha8 stream per borrower.
//!
//! Each borrower's stream is seeded from `(seed, borrower_id)` alone, so a
//! borrower's data does not depend on how many borrowers are generated, on
//! chunking, or on the number of threads. The sampling helpers are written
//! here on top of the raw 64-bit output (rather than taken from `rand` /
//! `rand_distr`) so the committed sample data does not change when those
//! crates change their sampling algorithms; only the ChaCha8 stream itself,
//! which is fixed by its specification, matters. This module knows nothing
//! about loans or borrowers.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(crate) use crate::hash::splitmix64;

/// A borrower's random stream with the few distributions the generator uses.
pub(crate) struct Draw {
    rng: ChaCha8Rng,
}

impl Draw {
    /// The stream of borrower `borrower_id` under `seed`.
    pub(crate) fn for_borrower(seed: u64, borrower_id: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(splitmix64(seed ^ splitmix64(borrower_id))),
        }
    }

    /// Uniform on [0, 1) with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform on [lo, hi).
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in `lo..=hi` (`lo` when `hi < lo`). Multiply-shift
    /// (Lemire) without rejection: the bias is below 2^-32 for the small
    /// ranges used here.
    pub(crate) fn int(&mut self, lo: i32, hi: i32) -> i32 {
        if hi <= lo {
            return lo;
        }
        let span = (i64::from(hi) - i64::from(lo) + 1) as u64;
        lo + ((u64::from(self.rng.next_u32()) * span) >> 32) as i32
    }

    /// Standard normal by Box-Muller (one value per call).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1], so ln is finite
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// An index drawn with probability proportional to `weights` (which must
    /// be non-negative with a positive sum; they are constants in `model`).
    pub(crate) fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut u = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if u < *w {
                return i;
            }
            u -= w;
        }
        weights.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = {
            let mut d = Draw::for_borrower(7, 1);
            (0..4).map(|_| d.rng.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut d = Draw::for_borrower(7, 1);
            (0..4).map(|_| d.rng.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut d = Draw::for_borrower(7, 2);
            (0..4).map(|_| d.rng.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn helpers_have_the_right_moments_and_ranges() {
        let mut d = Draw::for_borrower(1, 1);
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let x = d.normal();
            s += x;
            s2 += x * x;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        // Standard errors are 1/sqrt(n) = 0.0022 and about 0.003: 5 sigma bounds.
        assert!(mean.abs() < 0.012, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
        let mut seen = [0u32; 11];
        for _ in 0..n {
            let k = d.int(-5, 5);
            assert!((-5..=5).contains(&k));
            seen[(k + 5) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 15_000));
        assert_eq!(d.int(3, 3), 3);
        assert_eq!(d.int(3, 1), 3);
        let picks = (0..n).filter(|_| d.pick(&[1.0, 3.0]) == 1).count();
        assert!((picks as f64 / n as f64 - 0.75).abs() < 0.01);
    }
}
