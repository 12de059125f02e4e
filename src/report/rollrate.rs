//! Roll rates: how borrowers move between DPD buckets from a snapshot date T
//! to T + H, the transition matrix collections teams watch, with the cure
//! rate (back to current) and the roll-forward rate (into a worse bucket)
//! of each bucket.
//!
//! The buckets are the scored table's ([`crate::scoring::DPD_BUCKETS`]:
//! current, 1-29, 30-59, 60-89, 90+), so the matrix does not depend on a
//! strategy file. This module counts; reading DPD at T and T + H from the
//! ledger is the backtest's job ([`crate::jobs::backtest`]).

use serde::{Deserialize, Serialize};

use crate::scoring::{dpd_bucket, DPD_BUCKETS};

/// The position of a number of days past due's bucket in [`DPD_BUCKETS`].
pub fn bucket_index(dpd: f64) -> usize {
    let name = dpd_bucket(dpd);
    DPD_BUCKETS.iter().position(|b| *b == name).unwrap_or(0)
}

/// What became of the borrowers of one bucket at T by T + H.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketOutcome {
    /// The bucket at T.
    pub bucket: String,
    /// Borrowers in it at T.
    pub count: u64,
    /// Of those, current (nothing overdue) at T + H.
    pub current_at_horizon: u64,
    /// Of those, in a later (worse) bucket at T + H.
    pub rolled_forward: u64,
    /// `current_at_horizon / count` for a delinquent bucket; null for the
    /// current bucket (nothing to cure) and for an empty bucket.
    pub cure_rate: Option<f64>,
    /// `rolled_forward / count`; null for the last bucket (there is no worse
    /// one) and for an empty bucket.
    pub roll_forward_rate: Option<f64>,
}

/// The transition matrix between DPD buckets from T to T + H.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollRates {
    /// The buckets, in order: the rows (at T) and the columns (at T + H).
    pub buckets: Vec<String>,
    /// `counts[i][j]`: borrowers in bucket i at T and in bucket j at T + H.
    pub counts: Vec<Vec<u64>>,
    /// `shares[i][j] = counts[i][j] / row total` (all 0 in a row without
    /// borrowers; see `by_bucket[i].count`).
    pub shares: Vec<Vec<f64>>,
    /// Per bucket at T: its count, cure rate and roll-forward rate.
    pub by_bucket: Vec<BucketOutcome>,
}

impl RollRates {
    /// The matrix of `(bucket at T, bucket at T + H)` pairs, indices into
    /// [`DPD_BUCKETS`] (see [`bucket_index`]).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let k = DPD_BUCKETS.len();
        let mut counts = vec![vec![0u64; k]; k];
        for (from, to) in pairs {
            counts[from.min(k - 1)][to.min(k - 1)] += 1;
        }
        let rate = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        let shares = counts
            .iter()
            .map(|row| {
                let total: u64 = row.iter().sum();
                row.iter().map(|&c| rate(c, total).unwrap_or(0.0)).collect()
            })
            .collect();
        let by_bucket = counts
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let count: u64 = row.iter().sum();
                let current_at_horizon = row[0];
                let rolled_forward: u64 = row[i + 1..].iter().sum();
                BucketOutcome {
                    bucket: DPD_BUCKETS[i].to_string(),
                    count,
                    current_at_horizon,
                    rolled_forward,
                    cure_rate: if i == 0 {
                        None
                    } else {
                        rate(current_at_horizon, count)
                    },
                    roll_forward_rate: if i + 1 == k {
                        None
                    } else {
                        rate(rolled_forward, count)
                    },
                }
            })
            .collect();
        Self {
            buckets: DPD_BUCKETS.iter().map(|b| b.to_string()).collect(),
            counts,
            shares,
            by_bucket,
        }
    }

    /// Borrowers in the matrix.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_transitions() {
        // (dpd at T, dpd at T + H) of nine borrowers:
        //   b1  0 ->   0  current -> current
        //   b2  0 ->  15  current -> 1-29
        //   b3 10 ->   0  1-29 -> current   (cured)
        //   b4 20 ->  50  1-29 -> 30-59     (rolled forward)
        //   b5 25 ->   5  1-29 -> 1-29      (paid the oldest installment)
        //   b6 45 ->   0  30-59 -> current  (cured)
        //   b7 40 ->  70  30-59 -> 60-89    (rolled forward)
        //   b8 95 -> 125  90+ -> 90+
        //   b9 120 ->  0  90+ -> current    (cured)
        // Rows (at T) x columns (at T + H):
        //   current [1 1 0 0 0] = 2; 1-29 [1 1 1 0 0] = 3; 30-59 [1 0 0 1 0] = 2;
        //   60-89 [0 0 0 0 0] = 0;   90+ [1 0 0 0 1] = 2.
        // Cure rates: 1-29 1/3, 30-59 1/2, 60-89 none (empty), 90+ 1/2.
        // Roll-forward: current 1/2, 1-29 1/3, 30-59 1/2, 60-89 none, 90+ none.
        let dpd = [
            (0.0, 0.0),
            (0.0, 15.0),
            (10.0, 0.0),
            (20.0, 50.0),
            (25.0, 5.0),
            (45.0, 0.0),
            (40.0, 70.0),
            (95.0, 125.0),
            (120.0, 0.0),
        ];
        let r = RollRates::from_pairs(dpd.iter().map(|&(a, b)| (bucket_index(a), bucket_index(b))));
        assert_eq!(r.buckets, ["current", "1-29", "30-59", "60-89", "90+"]);
        assert_eq!(
            r.counts,
            vec![
                vec![1, 1, 0, 0, 0],
                vec![1, 1, 1, 0, 0],
                vec![1, 0, 0, 1, 0],
                vec![0, 0, 0, 0, 0],
                vec![1, 0, 0, 0, 1],
            ]
        );
        assert_eq!(r.total(), 9);
        let third = 1.0 / 3.0;
        assert_eq!(r.shares[1], vec![third, third, third, 0.0, 0.0]);
        assert_eq!(r.shares[3], vec![0.0; 5]);
        assert_eq!(r.shares[4], vec![0.5, 0.0, 0.0, 0.0, 0.5]);
        let cure: Vec<Option<f64>> = r.by_bucket.iter().map(|b| b.cure_rate).collect();
        assert_eq!(cure, [None, Some(third), Some(0.5), None, Some(0.5)]);
        let fwd: Vec<Option<f64>> = r.by_bucket.iter().map(|b| b.roll_forward_rate).collect();
        assert_eq!(fwd, [Some(0.5), Some(third), Some(0.5), None, None]);
        let counts: Vec<u64> = r.by_bucket.iter().map(|b| b.count).collect();
        assert_eq!(counts, [2, 3, 2, 0, 2]);
        assert_eq!(r.by_bucket[2].current_at_horizon, 1);
        assert_eq!(r.by_bucket[2].rolled_forward, 1);
    }

    #[test]
    fn bucket_edges() {
        // current below 1 day; 1-29; 30-59; 60-89; 90 and above.
        let b: Vec<usize> = [0.0, 1.0, 29.0, 30.0, 59.0, 60.0, 89.0, 90.0, 400.0]
            .iter()
            .map(|&d| bucket_index(d))
            .collect();
        assert_eq!(b, [0, 1, 1, 2, 2, 3, 3, 4, 4]);
    }
}
