//! The curves a validation report plots: the ROC curve, the KS curve
//! (cumulative shares of repaid and not-repaid rows over the score) and the
//! score histograms of repaid and not-repaid rows on fixed edges.
//!
//! Convention as in [`crate::model::metrics`]: the prediction is the
//! probability of REPAYING and repaid is the positive class, so a good model
//! puts repaid rows at high scores. Every curve is computed in one sorted
//! pass, ties by value are never split, and long curves are thinned
//! deterministically to at most [`MAX_CURVE_POINTS`] points, so the same
//! rows always give the same points.
//!
//! This module computes numbers only; it does not draw (the HTML report
//! does) and computes no summary metric the metrics module already has (AUC,
//! KS and the rest come from [`crate::model::metrics`]).

use serde::{Deserialize, Serialize};

use crate::model::Scaling;

/// The most points a curve keeps: plenty for a plot a few hundred pixels
/// wide, and a report of many snapshots stays small.
pub const MAX_CURVE_POINTS: usize = 200;

/// The ROC curve of predictions `p` (probability of repaying) against labels
/// `y` (true = repaid): (false positive rate, true positive rate) points,
/// ascending, from (0, 0) to (1, 1). A point is added after each group of
/// tied predictions, taken from the highest prediction down: TPR is the share
/// of repaid rows with a prediction at or above the group's, FPR the share of
/// not-repaid rows. The trapezoid area under the full curve is the AUC (ties
/// counting one half). Empty when the labels are all of one class or there
/// are no rows (the curve is undefined). Curves of more than
/// [`MAX_CURVE_POINTS`] points are thinned (see [`thin`]).
pub fn roc(p: &[f64], y: &[bool]) -> Vec<(f64, f64)> {
    let positives = y.iter().filter(|&&r| r).count();
    let negatives = y.len() - positives;
    if positives == 0 || negatives == 0 || p.len() != y.len() {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..p.len()).collect();
    // Highest first; -0.0 is 0.0; ties by index (they are grouped anyway).
    order.sort_unstable_by(|&a, &b| (p[b] + 0.0).total_cmp(&(p[a] + 0.0)).then(a.cmp(&b)));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    for group in order.chunk_by(|&a, &b| p[a] + 0.0 == p[b] + 0.0) {
        let repaid = group.iter().filter(|&&i| y[i]).count();
        tp += repaid;
        fp += group.len() - repaid;
        points.push((fp as f64 / negatives as f64, tp as f64 / positives as f64));
    }
    let keep = thin(points.len(), MAX_CURVE_POINTS, None);
    keep.into_iter().map(|i| points[i]).collect()
}

/// The KS curve: at each distinct score, ascending, the share of repaid and
/// of not-repaid rows scoring at or below it. The largest gap between the
/// two is the KS statistic on the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KsCurve {
    /// Distinct scores, ascending (thinned to at most [`MAX_CURVE_POINTS`],
    /// always keeping the score of the largest gap).
    pub score: Vec<f64>,
    /// Share of repaid rows scoring at or below each score.
    pub cum_repaid: Vec<f64>,
    /// Share of not-repaid rows scoring at or below each score.
    pub cum_not_repaid: Vec<f64>,
    /// The largest gap `|cum_not_repaid - cum_repaid|` over all distinct
    /// scores (before thinning). On the integer score; the metrics' KS is on
    /// the probability, which has fewer ties, so it can be slightly larger.
    pub ks: f64,
    /// The lowest score where the gap is largest (null when the curve is empty).
    pub ks_score: Option<f64>,
}

/// The KS curve of `score` against `y` (true = repaid); empty with `ks` 0
/// when the labels are all of one class or there are no rows.
pub fn ks_curve(score: &[f64], y: &[bool]) -> KsCurve {
    let positives = y.iter().filter(|&&r| r).count();
    let negatives = y.len() - positives;
    let mut out = KsCurve {
        score: Vec::new(),
        cum_repaid: Vec::new(),
        cum_not_repaid: Vec::new(),
        ks: 0.0,
        ks_score: None,
    };
    if positives == 0 || negatives == 0 || score.len() != y.len() {
        return out;
    }
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_unstable_by(|&a, &b| (score[a] + 0.0).total_cmp(&(score[b] + 0.0)));
    let (mut r, mut n) = (0usize, 0usize);
    // The largest gap, compared exactly as r / P - n / N scaled by P * N.
    let (mut best, mut best_at) = (0u128, 0usize);
    let mut points: Vec<(f64, f64, f64)> = Vec::new();
    for group in order.chunk_by(|&a, &b| score[a] + 0.0 == score[b] + 0.0) {
        let repaid = group.iter().filter(|&&i| y[i]).count();
        r += repaid;
        n += group.len() - repaid;
        let gap = (r as u128 * negatives as u128).abs_diff(n as u128 * positives as u128);
        if gap > best || points.is_empty() {
            (best, best_at) = (gap, points.len());
        }
        points.push((
            score[group[0]] + 0.0,
            r as f64 / positives as f64,
            n as f64 / negatives as f64,
        ));
    }
    out.ks = best as f64 / (positives as u128 * negatives as u128) as f64;
    out.ks_score = Some(points[best_at].0);
    for i in thin(points.len(), MAX_CURVE_POINTS, Some(best_at)) {
        out.score.push(points[i].0);
        out.cum_repaid.push(points[i].1);
        out.cum_not_repaid.push(points[i].2);
    }
    out
}

/// Counts of repaid and not-repaid rows per score bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreHistogram {
    /// Bin edges, ascending: bin i holds `edges[i] <= score < edges[i + 1]`;
    /// scores below the first edge count in the first bin and scores at or
    /// above the last edge in the last bin.
    pub edges: Vec<f64>,
    /// Repaid rows per bin (`edges.len() - 1` bins).
    pub repaid: Vec<u64>,
    /// Not-repaid rows per bin.
    pub not_repaid: Vec<u64>,
}

/// The histogram of `score` by label on `edges` (at least two, ascending).
pub fn score_histogram(score: &[f64], y: &[bool], edges: &[f64]) -> ScoreHistogram {
    let bins = edges.len().saturating_sub(1).max(1);
    let mut out = ScoreHistogram {
        edges: edges.to_vec(),
        repaid: vec![0; bins],
        not_repaid: vec![0; bins],
    };
    // The number of inner edges at or below a score is its bin.
    let inner = edges.get(1..edges.len().saturating_sub(1)).unwrap_or(&[]);
    for (&s, &r) in score.iter().zip(y) {
        let bin = inner.partition_point(|&e| e <= s);
        if r {
            out.repaid[bin] += 1;
        } else {
            out.not_repaid[bin] += 1;
        }
    }
    out
}

/// Log-odds of repaying that the histogram edges span: -6 to 6, that is a
/// probability of repaying from 0.25% to 99.75%, where nearly every borrower
/// of a collections book scores; the few beyond fall in the end bins.
const EDGE_LOG_ODDS: f64 = 6.0;

/// Fixed histogram edges for a model's score scaling, so histograms of one
/// model are comparable across snapshots: one bin per half "points to
/// double the odds" (10 points with the default scaling), spanning the
/// scores of log-odds -6 to 6, rounded outwards to whole bins.
pub fn score_edges(scaling: &Scaling) -> Vec<f64> {
    let step = (scaling.pdo.abs() / 2.0).round().max(1.0);
    let a = scaling.offset - scaling.factor * EDGE_LOG_ODDS;
    let b = scaling.offset + scaling.factor * EDGE_LOG_ODDS;
    let (lo, hi) = (a.min(b), a.max(b));
    let first = (lo / step).floor() as i64;
    let last = ((hi / step).ceil() as i64).max(first + 1);
    // Bounded: a model's scaling is checked finite; cap the bin count anyway.
    let last = last.min(first + 1000);
    (first..=last).map(|k| k as f64 * step).collect()
}

/// The indices of at most `max` (at least 2) of `len` curve points to keep:
/// all of them when there are few enough, otherwise evenly spaced indices
/// including the first and the last, plus `keep` (a point that must stay,
/// such as the KS maximum). Ascending and distinct.
pub fn thin(len: usize, max: usize, keep: Option<usize>) -> Vec<usize> {
    let max = max.max(2);
    if len <= max {
        return (0..len).collect();
    }
    let slots = if keep.is_some() { max - 1 } else { max };
    let mut idx: Vec<usize> = (0..slots)
        .map(|i| (i as u128 * (len as u128 - 1) / (slots as u128 - 1)) as usize)
        .collect();
    if let Some(k) = keep.filter(|&k| k < len) {
        idx.push(k);
    }
    idx.sort_unstable();
    idx.dedup();
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The five rows of the tests below, hand-computed:
    ///
    /// | row | p    | score | repaid |
    /// |-----|------|-------|--------|
    /// | 0   | 0.9  | 640   | yes    |
    /// | 1   | 0.8  | 610   | no     |
    /// | 2   | 0.6  | 560   | yes    |
    /// | 3   | 0.6  | 560   | no     |
    /// | 4   | 0.3  | 500   | yes    |
    ///
    /// 3 repaid (P), 2 not repaid (N).
    fn five() -> ([f64; 5], [f64; 5], [bool; 5]) {
        (
            [0.9, 0.8, 0.6, 0.6, 0.3],
            [640.0, 610.0, 560.0, 560.0, 500.0],
            [true, false, true, false, true],
        )
    }

    fn close(a: f64, b: f64) -> bool {
        // Shares of counts below 5: a few ulps at most.
        (a - b).abs() < 1e-12
    }

    #[test]
    fn roc_of_five_rows() {
        let (p, _, y) = five();
        // From the top: 0.9 repaid -> (0, 1/3); 0.8 not -> (1/2, 1/3);
        // the tied 0.6 pair (one of each) -> (1, 2/3); 0.3 repaid -> (1, 1).
        let want = [
            (0.0, 0.0),
            (0.0, 1.0 / 3.0),
            (0.5, 1.0 / 3.0),
            (1.0, 2.0 / 3.0),
            (1.0, 1.0),
        ];
        let got = roc(&p, &y);
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(close(g.0, w.0) && close(g.1, w.1), "{got:?}");
        }
        // Trapezoids: 0.5 * (1/3) + 0.5 * (1/3 + 2/3) / 2 = 1/6 + 1/4 = 5/12,
        // the AUC by pairs: 0.9 beats both (2), 0.6 ties 0.6 (1/2), 0.3
        // beats none: 2.5 / 6.
        let area: f64 = got
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum();
        assert!(close(area, 5.0 / 12.0), "{area}");
        let auc = crate::model::metrics::auc(&p, &y).unwrap();
        assert!(close(area, auc), "{area} vs {auc}");
    }

    #[test]
    fn ks_curve_of_five_rows() {
        let (_, s, y) = five();
        // Ascending: 500 repaid -> (1/3, 0); 560 one of each -> (2/3, 1/2);
        // 610 not -> (2/3, 1); 640 repaid -> (1, 1). Gaps 1/3, 1/6, 1/3, 0:
        // KS 1/3, first reached at 500.
        let c = ks_curve(&s, &y);
        assert_eq!(c.score, vec![500.0, 560.0, 610.0, 640.0]);
        let want_r = [1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 1.0];
        let want_n = [0.0, 0.5, 1.0, 1.0];
        for i in 0..4 {
            assert!(close(c.cum_repaid[i], want_r[i]), "{c:?}");
            assert!(close(c.cum_not_repaid[i], want_n[i]), "{c:?}");
        }
        assert!(close(c.ks, 1.0 / 3.0));
        assert_eq!(c.ks_score, Some(500.0));
        // The probability ranks these rows the same way: the same KS.
        let (p, _, _) = five();
        let ks = crate::model::metrics::ks(&p, &y).unwrap();
        assert!(close(c.ks, ks));
    }

    #[test]
    fn histogram_of_five_rows() {
        let (_, s, y) = five();
        // Edges 500, 550, 600, 650: 500 -> bin 0; 560, 560 -> bin 1; 610, 640 -> bin 2.
        let h = score_histogram(&s, &y, &[500.0, 550.0, 600.0, 650.0]);
        assert_eq!(h.repaid, vec![1, 1, 1]);
        assert_eq!(h.not_repaid, vec![0, 1, 1]);
        // Outside the edges: into the end bins.
        let h = score_histogram(&[100.0, 650.0, 9999.0], &[true; 3], &[500.0, 550.0, 600.0]);
        assert_eq!(h.repaid, vec![1, 2]);
    }

    #[test]
    fn one_class_gives_empty_curves() {
        assert!(roc(&[0.2, 0.4], &[true, true]).is_empty());
        let c = ks_curve(&[1.0, 2.0], &[false, false]);
        assert!(c.score.is_empty() && c.ks == 0.0 && c.ks_score.is_none());
        assert!(roc(&[], &[]).is_empty());
    }

    #[test]
    fn default_scaling_edges() {
        // Default: 600 points at 50:1, pdo 20: factor 28.85, offset 487.12.
        // Log-odds -6 -> 314.0, +6 -> 660.2; bins of 10 from 310 to 670.
        let e = score_edges(&Scaling::default());
        assert_eq!(e.first(), Some(&310.0));
        assert_eq!(e.last(), Some(&670.0));
        assert_eq!(e.len(), 37);
        assert!(e.windows(2).all(|w| w[1] - w[0] == 10.0));
    }

    #[test]
    fn thinning_keeps_ends_and_the_marked_point() {
        assert_eq!(thin(5, 200, None), vec![0, 1, 2, 3, 4]);
        let t = thin(1000, 200, None);
        assert_eq!(t.len(), 200);
        assert_eq!((t[0], t[199]), (0, 999));
        let t = thin(1000, 200, Some(501));
        assert!(t.len() <= 200 && t.contains(&501) && t.contains(&999));
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        // A long curve: thinned, still from (0, 0) to (1, 1), deterministic.
        let p: Vec<f64> = (0..5000).map(|i| (i as f64 * 0.618).fract()).collect();
        let y: Vec<bool> = (0..5000).map(|i| (i * 7919) % 3 != 0).collect();
        let c = roc(&p, &y);
        assert_eq!(c.len(), MAX_CURVE_POINTS);
        assert_eq!((c[0], c[c.len() - 1]), ((0.0, 0.0), (1.0, 1.0)));
        assert_eq!(c, roc(&p, &y));
    }
}
