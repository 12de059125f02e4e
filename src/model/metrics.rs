//! Validation metrics of a repayment model.
//!
//! Convention: `p[i]` is the predicted probability that borrower-snapshot `i`
//! REPAID and `y[i]` is true when it repaid (the positive class). The module
//! computes the ranking metrics (AUC, Gini, KS), the probability metrics
//! (Brier score, log loss) and an equal-count calibration table, each
//! deterministically in O(n log n).
//!
//! It does not fit or score a model, choose cut-off thresholds, weight rows,
//! handle unlabelled rows (callers drop them first), compute confidence
//! intervals, or read and write files. Bad input is an error, never a panic:
//! no rows, lengths that differ, a prediction that is NaN or outside [0, 1],
//! and (for AUC and KS, which are undefined then) labels all of one class.

use serde::{Deserialize, Serialize};

/// Number of calibration bins [`evaluate`] reports: deciles, the usual
/// validation table of a scorecard.
pub const CALIBRATION_BINS: usize = 10;

/// Log loss clips each prediction to `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]`, so a
/// confident wrong prediction costs at most `-ln(1e-15)` ≈ 34.5 instead of
/// infinity (the clipping scikit-learn used for years).
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// Errors in the inputs of a metric.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// No rows.
    #[error("no rows: metrics need at least one prediction")]
    Empty,
    /// The predictions and the labels have different lengths.
    #[error("length mismatch: {p} predictions but {y} labels")]
    LengthMismatch {
        /// Number of predictions.
        p: usize,
        /// Number of labels.
        y: usize,
    },
    /// A prediction is NaN or outside [0, 1].
    #[error("p[{index}]: expected a probability in [0, 1], got {value}")]
    NotAProbability {
        /// Row of the bad prediction.
        index: usize,
        /// The bad prediction.
        value: f64,
    },
    /// All labels are equal, so AUC and KS are undefined.
    #[error("all labels are of one class: AUC and KS need both repaid and not-repaid rows")]
    OneClass,
    /// A calibration table of zero bins was asked for.
    #[error("calibration needs at least one bin, got 0")]
    ZeroBins,
}

/// One row of a calibration table: rows of similar predicted probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationBin {
    /// Bin number, 1..=n in ascending predicted probability.
    pub bin: u32,
    /// Rows in the bin.
    pub count: u64,
    /// Lowest prediction in the bin.
    pub min_predicted: f64,
    /// Highest prediction in the bin.
    pub max_predicted: f64,
    /// Mean prediction in the bin.
    pub mean_predicted: f64,
    /// Share of the bin's rows that repaid.
    pub observed_rate: f64,
}

/// All validation metrics of one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Rows.
    pub count: u64,
    /// Rows that repaid.
    pub repaid: u64,
    /// Share of rows that repaid.
    pub label_rate: f64,
    /// Area under the ROC curve (see [`auc`]).
    pub auc: f64,
    /// Gini coefficient, `2 * auc - 1`.
    pub gini: f64,
    /// Kolmogorov-Smirnov statistic (see [`ks`]).
    pub ks: f64,
    /// Brier score (see [`brier`]).
    pub brier: f64,
    /// Mean log loss (see [`log_loss`]).
    pub log_loss: f64,
    /// Calibration table of [`CALIBRATION_BINS`] equal-count bins.
    pub calibration: Vec<CalibrationBin>,
}

/// Computes every metric, with [`CALIBRATION_BINS`] calibration bins.
///
/// Fails with [`MetricsError::OneClass`] when all labels are equal, since AUC
/// and KS are undefined then; the other errors are those of [`auc`].
pub fn evaluate(p: &[f64], y: &[bool]) -> Result<Metrics, MetricsError> {
    check(p, y)?;
    let order = ascending(p);
    let (auc, ks) = ranking(p, y, &order)?;
    let repaid = y.iter().filter(|&&r| r).count() as u64;
    Ok(Metrics {
        count: p.len() as u64,
        repaid,
        label_rate: repaid as f64 / p.len() as f64,
        auc,
        gini: 2.0 * auc - 1.0,
        ks,
        brier: brier_unchecked(p, y),
        log_loss: log_loss_unchecked(p, y),
        calibration: calibration_sorted(p, y, &order, CALIBRATION_BINS),
    })
}

/// Area under the ROC curve: the probability that a random repaid row has a
/// higher prediction than a random not-repaid row, ties counting 1/2
/// (Mann-Whitney U with average ranks). Computed exactly in integers.
pub fn auc(p: &[f64], y: &[bool]) -> Result<f64, MetricsError> {
    check(p, y)?;
    ranking(p, y, &ascending(p)).map(|(auc, _)| auc)
}

/// Kolmogorov-Smirnov statistic: the largest `|CDF_repaid(t) - CDF_not_repaid(t)|`
/// over thresholds `t` at the distinct prediction values, where `CDF(t)` is
/// the share of the class with a prediction `<= t`. Tied predictions are never
/// split.
pub fn ks(p: &[f64], y: &[bool]) -> Result<f64, MetricsError> {
    check(p, y)?;
    ranking(p, y, &ascending(p)).map(|(_, ks)| ks)
}

/// Brier score: the mean of `(p - y)^2` with `y` as 1 (repaid) or 0.
/// Defined for labels of one class.
pub fn brier(p: &[f64], y: &[bool]) -> Result<f64, MetricsError> {
    check(p, y)?;
    Ok(brier_unchecked(p, y))
}

/// Mean log loss: the mean of `-(y ln p + (1 - y) ln(1 - p))`, with `p`
/// clipped to `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]` so it stays finite.
/// Defined for labels of one class.
pub fn log_loss(p: &[f64], y: &[bool]) -> Result<f64, MetricsError> {
    check(p, y)?;
    Ok(log_loss_unchecked(p, y))
}

/// Calibration table of `bins` equal-count bins by ascending prediction.
///
/// Rows are ordered by prediction, ties by row index, so the table is
/// deterministic; bin `b` (0-based) takes the rows at ordered positions
/// `floor(b * n / k)..floor((b + 1) * n / k)` with `k = min(bins, n)`, so bin
/// sizes differ by at most one and fewer rows than bins gives one bin per
/// row. Defined for labels of one class; `bins == 0` is
/// [`MetricsError::ZeroBins`].
pub fn calibration(
    p: &[f64],
    y: &[bool],
    bins: usize,
) -> Result<Vec<CalibrationBin>, MetricsError> {
    check(p, y)?;
    if bins == 0 {
        return Err(MetricsError::ZeroBins);
    }
    Ok(calibration_sorted(p, y, &ascending(p), bins))
}

/// Checks lengths, emptiness and that every prediction is in [0, 1].
fn check(p: &[f64], y: &[bool]) -> Result<(), MetricsError> {
    if p.len() != y.len() {
        return Err(MetricsError::LengthMismatch {
            p: p.len(),
            y: y.len(),
        });
    }
    if p.is_empty() {
        return Err(MetricsError::Empty);
    }
    match p
        .iter()
        .enumerate()
        .find(|(_, v)| !(0.0..=1.0).contains(*v))
    {
        Some((index, &value)) => Err(MetricsError::NotAProbability { index, value }),
        None => Ok(()),
    }
}

/// Row indices by ascending prediction, ties by index. `-0.0` sorts as `0.0`.
fn ascending(p: &[f64]) -> Vec<usize> {
    let key = |i: usize| p[i] + 0.0;
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_unstable_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
    order
}

/// AUC and KS from the rows in ascending order, one pass over tie groups.
fn ranking(p: &[f64], y: &[bool], order: &[usize]) -> Result<(f64, f64), MetricsError> {
    let n_pos = y.iter().filter(|&&r| r).count() as u128;
    let n_neg = y.len() as u128 - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(MetricsError::OneClass);
    }
    // half_wins counts each (repaid, not repaid) pair as 2 when the repaid row
    // scores higher and 1 when tied, so AUC = half_wins / (2 * pairs) exactly.
    let (mut pos_below, mut neg_below, mut half_wins, mut ks_num) = (0u128, 0u128, 0u128, 0u128);
    for group in order.chunk_by(|&a, &b| p[a] == p[b]) {
        let pos = group.iter().filter(|&&i| y[i]).count() as u128;
        let neg = group.len() as u128 - pos;
        half_wins += pos * (2 * neg_below + neg);
        pos_below += pos;
        neg_below += neg;
        // |pos_below / n_pos - neg_below / n_neg| scaled by n_pos * n_neg.
        ks_num = ks_num.max((pos_below * n_neg).abs_diff(neg_below * n_pos));
    }
    let pairs = n_pos * n_neg;
    Ok((
        half_wins as f64 / (2 * pairs) as f64,
        ks_num as f64 / pairs as f64,
    ))
}

fn brier_unchecked(p: &[f64], y: &[bool]) -> f64 {
    let sum: f64 = p
        .iter()
        .zip(y)
        .map(|(&p, &y)| (p - f64::from(u8::from(y))).powi(2))
        .sum();
    sum / p.len() as f64
}

fn log_loss_unchecked(p: &[f64], y: &[bool]) -> f64 {
    let sum: f64 = p
        .iter()
        .zip(y)
        .map(|(&p, &y)| {
            let p = p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
            if y {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    sum / p.len() as f64
}

/// Calibration table from the rows in ascending order; `bins >= 1`.
fn calibration_sorted(p: &[f64], y: &[bool], order: &[usize], bins: usize) -> Vec<CalibrationBin> {
    let n = order.len();
    let k = bins.min(n);
    let edge = |b: usize| (n as u128 * b as u128 / k as u128) as usize;
    (0..k)
        .filter_map(|b| {
            let rows = order.get(edge(b)..edge(b + 1))?;
            let (&first, &last) = (rows.first()?, rows.last()?);
            let repaid = rows.iter().filter(|&&i| y[i]).count();
            let sum: f64 = rows.iter().map(|&i| p[i]).sum();
            Some(CalibrationBin {
                bin: u32::try_from(b + 1).unwrap_or(u32::MAX),
                count: rows.len() as u64,
                min_predicted: p[first],
                max_predicted: p[last],
                mean_predicted: sum / rows.len() as f64,
                observed_rate: repaid as f64 / rows.len() as f64,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values below are either exact in binary or computed by hand to ~17
    /// digits; 1e-12 allows for the rounding of a few additions.
    const TOL: f64 = 1e-12;

    fn assert_close(got: f64, want: f64) {
        assert!((got - want).abs() <= TOL, "got {got}, want {want}");
    }

    #[test]
    fn hand_computed_example() {
        let p = [0.1, 0.4, 0.35, 0.8];
        let y = [false, false, true, true];
        // Pairs (repaid, not repaid): (0.35, 0.1) win, (0.35, 0.4) loss,
        // (0.8, 0.1) win, (0.8, 0.4) win -> AUC = 3/4.
        assert_close(auc(&p, &y).unwrap(), 0.75);
        // Ascending: 0.1 N, 0.35 P, 0.4 N, 0.8 P. |CDF_P - CDF_N| at each value:
        // 0.1: |0 - 1/2|, 0.35: |1/2 - 1/2|, 0.4: |1/2 - 1|, 0.8: |1 - 1| -> KS 1/2.
        assert_close(ks(&p, &y).unwrap(), 0.5);
        // (0.1-0)^2 + (0.4-0)^2 + (0.35-1)^2 + (0.8-1)^2 = 0.01+0.16+0.4225+0.04.
        assert_close(brier(&p, &y).unwrap(), (0.01 + 0.16 + 0.4225 + 0.04) / 4.0);
        // -(ln 0.9 + ln 0.6 + ln 0.35 + ln 0.8) / 4
        // = (0.1053605 + 0.5108256 + 1.0498221 + 0.2231436) / 4 = 0.4722880.
        assert_close(log_loss(&p, &y).unwrap(), 0.47228795380917615);

        let m = evaluate(&p, &y).unwrap();
        assert_eq!((m.count, m.repaid), (4, 2));
        assert_close(m.label_rate, 0.5);
        assert_close(m.auc, 0.75);
        assert_close(m.gini, 0.5);
        assert_close(m.ks, 0.5);
        assert_close(m.brier, 0.158125);
        assert_close(m.log_loss, 0.47228795380917615);
        assert_eq!(m.calibration.len(), 4, "fewer rows than bins: one per row");
    }

    #[test]
    fn ties_count_half() {
        let p = [0.5, 0.5, 0.2, 0.9];
        let y = [true, false, false, true];
        // Pairs: (0.5, 0.5) tie 1/2, (0.5, 0.2) 1, (0.9, 0.5) 1, (0.9, 0.2) 1
        // -> AUC = 3.5 / 4.
        assert_close(auc(&p, &y).unwrap(), 0.875);
        // 0.2: |0 - 1/2|, 0.5: |1/2 - 1|, 0.9: |1 - 1| -> KS 1/2.
        assert_close(ks(&p, &y).unwrap(), 0.5);
    }

    #[test]
    fn ks_never_splits_ties() {
        // One threshold, 0.5, where both CDFs are 1: KS 0, not 1.
        let (p, y) = ([0.5, 0.5], [true, false]);
        assert_close(ks(&p, &y).unwrap(), 0.0);
        assert_close(auc(&p, &y).unwrap(), 0.5);
        // -0.0 and 0.0 are the same score.
        let (p, y) = ([-0.0, 0.0, 0.0, -0.0], [true, false, true, false]);
        assert_close(ks(&p, &y).unwrap(), 0.0);
        assert_close(auc(&p, &y).unwrap(), 0.5);
    }

    #[test]
    fn perfect_and_reversed_ranking() {
        let p = [0.9, 0.1, 0.8, 0.2];
        let y = [true, false, true, false];
        let m = evaluate(&p, &y).unwrap();
        assert_close(m.auc, 1.0);
        assert_close(m.gini, 1.0);
        assert_close(m.ks, 1.0);
        let reversed: Vec<bool> = y.iter().map(|r| !r).collect();
        let m = evaluate(&p, &reversed).unwrap();
        assert_close(m.auc, 0.0);
        assert_close(m.gini, -1.0);
        assert_close(m.ks, 1.0);
    }

    #[test]
    fn log_loss_clips() {
        // p = 0 for a repaid row costs -ln(1e-15) = 34.538776394910684.
        assert_close(log_loss(&[0.0], &[true]).unwrap(), 34.538776394910684);
        assert_close(log_loss(&[1.0], &[true]).unwrap(), 0.0);
    }

    #[test]
    fn calibration_twenty_rows_ten_bins() {
        // Row i sits at ascending position a = 19 - i with p = (a + 0.5) / 20,
        // so rows come in descending order. Bin b (0-based) holds positions
        // 2b and 2b + 1: p = (2b + 0.5)/20 and (2b + 1.5)/20, mean (2b + 1)/20.
        // Labels: positions 0..8 not repaid (bins 0..=3 rate 0), odd positions
        // 8..18 repaid (bins 4..=8 rate 1/2), positions 18 and 19 repaid (bin 9
        // rate 1).
        let position = |i: usize| 19 - i;
        let p: Vec<f64> = (0..20).map(|i| (position(i) as f64 + 0.5) / 20.0).collect();
        let y: Vec<bool> = (0..20)
            .map(|i| match position(i) {
                0..=7 => false,
                8..=17 => position(i) % 2 == 1,
                _ => true,
            })
            .collect();
        let table = calibration(&p, &y, 10).unwrap();
        assert_eq!(table.len(), 10);
        for (b, bin) in table.iter().enumerate() {
            assert_eq!(bin.bin as usize, b + 1);
            assert_eq!(bin.count, 2);
            assert_close(bin.min_predicted, (2 * b) as f64 / 20.0 + 0.5 / 20.0);
            assert_close(bin.max_predicted, (2 * b + 1) as f64 / 20.0 + 0.5 / 20.0);
            assert_close(bin.mean_predicted, (2 * b + 1) as f64 / 20.0);
            let want = match b {
                0..=3 => 0.0,
                4..=8 => 0.5,
                _ => 1.0,
            };
            assert_close(bin.observed_rate, want);
        }
    }

    #[test]
    fn calibration_ties_by_index_and_sizes() {
        // All tied: n = 3, k = 2, edges floor(0*3/2)=0, floor(3/2)=1, 3, so
        // row 0 alone, then rows 1 and 2.
        let table = calibration(&[0.5; 3], &[true, false, false], 2).unwrap();
        assert_eq!(table.iter().map(|b| b.count).collect::<Vec<_>>(), [1, 2]);
        assert_close(table[0].observed_rate, 1.0);
        assert_close(table[1].observed_rate, 0.0);
        // 25 rows in 10 bins: sizes 2 or 3, summing to 25.
        let p: Vec<f64> = (0..25).map(|i| i as f64 / 25.0).collect();
        let table = calibration(&p, &[false; 25], 10).unwrap();
        assert!(table.iter().all(|b| b.count == 2 || b.count == 3));
        assert_eq!(table.iter().map(|b| b.count).sum::<u64>(), 25);
        // Fewer rows than bins: one bin per row; one class is fine here.
        let table = calibration(&[0.3, 0.1], &[true, true], 10).unwrap();
        assert_eq!(table.len(), 2);
        assert_close(table[0].min_predicted, 0.1);
    }

    /// Pseudo-random rows from a 64-bit LCG (Knuth's MMIX constants);
    /// predictions rounded to 2 decimals so there are many ties.
    fn lcg_rows(n: usize) -> (Vec<f64>, Vec<bool>) {
        let mut state: u64 = 42;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut p = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let score = (next() * 100.0).round() / 100.0;
            p.push(score);
            y.push(next() < 0.2 + 0.6 * score);
        }
        (p, y)
    }

    #[test]
    fn matches_brute_force_definitions() {
        let (p, y) = lcg_rows(200);
        // AUC over all (repaid, not repaid) pairs.
        let (mut wins, mut pairs) = (0.0, 0.0);
        for i in (0..p.len()).filter(|&i| y[i]) {
            for j in (0..p.len()).filter(|&j| !y[j]) {
                pairs += 1.0;
                if p[i] > p[j] {
                    wins += 1.0;
                } else if p[i] == p[j] {
                    wins += 0.5;
                }
            }
        }
        // KS over every distinct score as the threshold.
        let n_pos = y.iter().filter(|&&r| r).count() as f64;
        let n_neg = y.len() as f64 - n_pos;
        let mut brute_ks: f64 = 0.0;
        for &t in &p {
            let pos = (0..p.len()).filter(|&i| y[i] && p[i] <= t).count() as f64;
            let neg = (0..p.len()).filter(|&i| !y[i] && p[i] <= t).count() as f64;
            brute_ks = brute_ks.max((pos / n_pos - neg / n_neg).abs());
        }
        assert!(n_pos > 20.0 && n_neg > 20.0);
        assert_close(auc(&p, &y).unwrap(), wins / pairs);
        assert_close(ks(&p, &y).unwrap(), brute_ks);
    }

    #[test]
    fn rejects_empty() {
        assert!(matches!(evaluate(&[], &[]), Err(MetricsError::Empty)));
        assert!(matches!(brier(&[], &[]), Err(MetricsError::Empty)));
        assert!(matches!(
            calibration(&[], &[], 10),
            Err(MetricsError::Empty)
        ));
    }

    #[test]
    fn rejects_length_mismatch() {
        let err = auc(&[0.5, 0.5], &[true]).unwrap_err();
        assert!(matches!(err, MetricsError::LengthMismatch { p: 2, y: 1 }));
        assert!(log_loss(&[0.5], &[]).is_err());
    }

    #[test]
    fn rejects_not_a_probability() {
        for bad in [f64::NAN, -0.1, 1.5, f64::INFINITY, f64::NEG_INFINITY] {
            let err = evaluate(&[0.5, bad], &[true, false]).unwrap_err();
            assert!(matches!(
                err,
                MetricsError::NotAProbability { index: 1, .. }
            ));
            assert!(ks(&[bad], &[true]).is_err());
            assert!(brier(&[bad], &[true]).is_err());
            assert!(log_loss(&[bad], &[true]).is_err());
            assert!(calibration(&[bad], &[true], 3).is_err());
        }
        let msg = auc(&[f64::NAN], &[true]).unwrap_err().to_string();
        assert!(msg.contains("p[0]") && msg.contains("NaN"), "{msg}");
    }

    #[test]
    fn rejects_one_class() {
        let p = [0.2, 0.7];
        for label in [true, false] {
            let y = [label; 2];
            assert!(matches!(auc(&p, &y), Err(MetricsError::OneClass)));
            assert!(matches!(ks(&p, &y), Err(MetricsError::OneClass)));
            assert!(matches!(evaluate(&p, &y), Err(MetricsError::OneClass)));
            assert!(brier(&p, &y).unwrap().is_finite());
        }
    }

    #[test]
    fn rejects_zero_bins() {
        assert!(matches!(
            calibration(&[0.5], &[true], 0),
            Err(MetricsError::ZeroBins)
        ));
    }

    #[test]
    fn metrics_round_trip_and_are_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Metrics>();
        send_sync::<MetricsError>();
        let (p, y) = lcg_rows(50);
        let m = evaluate(&p, &y).unwrap();
        let back: Metrics = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        // serde_json parses floats best-effort, up to 1 ULP off, unless its
        // `float_roundtrip` feature is on (Cargo.toml does not turn it on):
        // compare floats to a relative 1e-15.
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-15 * a.abs().max(b.abs());
        assert_eq!((back.count, back.repaid), (m.count, m.repaid));
        for (a, b) in [
            (back.label_rate, m.label_rate),
            (back.auc, m.auc),
            (back.gini, m.gini),
            (back.ks, m.ks),
            (back.brier, m.brier),
            (back.log_loss, m.log_loss),
        ] {
            assert!(same(a, b), "{a} vs {b}");
        }
        assert_eq!(back.calibration.len(), m.calibration.len());
        for (a, b) in back.calibration.iter().zip(&m.calibration) {
            assert_eq!((a.bin, a.count), (b.bin, b.count));
            assert!(
                same(a.min_predicted, b.min_predicted) && same(a.max_predicted, b.max_predicted)
            );
            assert!(
                same(a.mean_predicted, b.mean_predicted) && same(a.observed_rate, b.observed_rate)
            );
        }
    }
}
