//! Model comparison: two models scored on the same snapshots, their
//! evaluations side by side and the swap-set matrix (how many borrowers sit
//! in each band under model A and each band under model B, and how many of
//! them repaid). [`CompareReport`] is `compare.json`, documented in
//! docs/output-contract.md.
//!
//! The models may have different bands (names and number): the matrix is A's
//! bands x B's bands. This module builds the report from prepared rows;
//! [`crate::jobs::backtest`] reads, scores and writes.

use serde::{Deserialize, Serialize};

use super::backtest::{fmt_opt, Setup};
use super::evaluation::{Evaluation, ModelInfo, Outcome};
use crate::model::metrics::MetricsError;
use crate::model::Model;

/// Borrowers by band under model A (rows) and model B (columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapMatrix {
    /// Model A's bands, best first.
    pub rows: Vec<String>,
    /// Model B's bands, best first.
    pub cols: Vec<String>,
    /// `counts[i][j]`: borrowers in A's band i and B's band j.
    pub counts: Vec<Vec<u64>>,
    /// `repaid[i][j]`: of those, how many repaid.
    pub repaid: Vec<Vec<u64>>,
    /// `repaid / counts` per cell; null for an empty cell.
    pub repay_rate: Vec<Vec<Option<f64>>>,
    /// Borrowers in the band of the same name under both models, when both
    /// have the same band names in the same order (null otherwise): the
    /// rest moved.
    pub same_band: Option<u64>,
}

impl SwapMatrix {
    /// The matrix of paired outcomes: `a[i]` and `b[i]` are the same
    /// borrower-snapshot scored by A and by B.
    pub fn of(a: &[Outcome], b: &[Outcome], a_bands: &[String], b_bands: &[String]) -> Self {
        let (ka, kb) = (a_bands.len(), b_bands.len());
        let mut counts = vec![vec![0u64; kb]; ka];
        let mut repaid = vec![vec![0u64; kb]; ka];
        for (x, y) in a.iter().zip(b) {
            let (i, j) = (x.band.min(ka - 1), y.band.min(kb - 1));
            counts[i][j] += 1;
            repaid[i][j] += u64::from(x.repaid);
        }
        let repay_rate = counts
            .iter()
            .zip(&repaid)
            .map(|(c, r)| {
                c.iter()
                    .zip(r)
                    .map(|(&c, &r)| (c > 0).then(|| r as f64 / c as f64))
                    .collect()
            })
            .collect();
        let same_band = (a_bands == b_bands).then(|| (0..ka).map(|i| counts[i][i]).sum());
        Self {
            rows: a_bands.to_vec(),
            cols: b_bands.to_vec(),
            counts,
            repaid,
            repay_rate,
            same_band,
        }
    }
}

/// Two models on the same rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// Borrower-snapshots scored by both.
    pub count: u64,
    /// Of those, how many repaid.
    pub repaid: u64,
    /// Model A's evaluation.
    pub a: Evaluation,
    /// Model B's evaluation.
    pub b: Evaluation,
    /// A's bands x B's bands.
    pub swap: SwapMatrix,
}

impl Comparison {
    /// Compares the paired outcomes `a` (scored by `model_a`) and `b`.
    pub fn of(
        a: &[Outcome],
        b: &[Outcome],
        model_a: &Model,
        model_b: &Model,
    ) -> Result<Self, MetricsError> {
        let bands = |m: &Model| -> Vec<String> { m.bands.iter().map(|b| b.band.clone()).collect() };
        let ea = Evaluation::of(a, model_a)?;
        Ok(Self {
            count: ea.count,
            repaid: ea.repaid,
            b: Evaluation::of(b, model_b)?,
            swap: SwapMatrix::of(a, b, &bands(model_a), &bands(model_b)),
            a: ea,
        })
    }
}

/// One snapshot of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareSnapshot {
    /// The as-of date T.
    pub as_of: String,
    /// T + H.
    pub horizon_end: String,
    /// The two models on this snapshot.
    pub comparison: Comparison,
}

/// compare.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareReport {
    /// `compare`.
    pub kind: String,
    /// The dunning version that wrote it.
    pub dunning_version: String,
    /// Model A (the first `--model`).
    pub a: ModelInfo,
    /// Model B (the second `--model`).
    pub b: ModelInfo,
    /// Horizon, tolerance, data end and inputs.
    pub setup: Setup,
    /// One per as-of date, ascending.
    pub snapshots: Vec<CompareSnapshot>,
    /// All snapshots pooled.
    pub overall: Comparison,
}

impl CompareReport {
    /// A table for people: per snapshot and overall, AUC, KS and Brier of
    /// A and B; then the overall swap-set matrix.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "compare A = {} ({}) with B = {} ({}), horizon {} days\n",
            self.a.name, self.a.version, self.b.name, self.b.version, self.setup.horizon_days
        );
        let _ = writeln!(
            out,
            "{:<12}{:>8}{:>8}{:>8}{:>8}{:>8}{:>9}{:>9}",
            "as of", "scored", "AUC A", "AUC B", "KS A", "KS B", "Brier A", "Brier B"
        );
        let row = |out: &mut String, label: &str, c: &Comparison| {
            let (a, b) = (c.a.metrics.as_ref(), c.b.metrics.as_ref());
            let _ = writeln!(
                out,
                "{label:<12}{:>8}{:>8}{:>8}{:>8}{:>8}{:>9}{:>9}",
                c.count,
                fmt_opt(a.map(|m| m.auc), 3),
                fmt_opt(b.map(|m| m.auc), 3),
                fmt_opt(a.map(|m| m.ks), 3),
                fmt_opt(b.map(|m| m.ks), 3),
                fmt_opt(a.map(|m| m.brier), 4),
                fmt_opt(b.map(|m| m.brier), 4),
            );
        };
        for s in &self.snapshots {
            row(&mut out, &s.as_of, &s.comparison);
        }
        row(&mut out, "overall", &self.overall);
        let swap = &self.overall.swap;
        let _ = write!(out, "\nswap set (A rows x B columns)\n{:<8}", "A \\ B");
        for c in &swap.cols {
            let _ = write!(out, "{c:>8}");
        }
        let _ = writeln!(out);
        for (name, counts) in swap.rows.iter().zip(&swap.counts) {
            let _ = write!(out, "{name:<8}");
            for c in counts {
                let _ = write!(out, "{c:>8}");
            }
            let _ = writeln!(out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(band: usize, repaid: bool) -> Outcome {
        Outcome {
            p_repay: 0.5,
            score: 500,
            band,
            repaid,
        }
    }

    #[test]
    fn swap_matrix_with_different_bands() {
        // A has bands A, B, C; B has bands hi, lo. Five borrowers (A band,
        // B band, repaid): (A, hi, yes), (A, hi, yes), (B, lo, no),
        // (C, lo, no), (C, hi, yes). Cells: A/hi 2 (2 repaid), B/lo 1 (0),
        // C/hi 1 (1), C/lo 1 (0); the rest empty.
        let a = [o(0, true), o(0, true), o(1, false), o(2, false), o(2, true)];
        let b = [o(0, true), o(0, true), o(1, false), o(1, false), o(0, true)];
        let names = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
        let m = SwapMatrix::of(&a, &b, &names(&["A", "B", "C"]), &names(&["hi", "lo"]));
        assert_eq!(m.counts, vec![vec![2, 0], vec![0, 1], vec![1, 1]]);
        assert_eq!(m.repaid, vec![vec![2, 0], vec![0, 0], vec![1, 0]]);
        assert_eq!(
            m.repay_rate,
            vec![
                vec![Some(1.0), None],
                vec![None, Some(0.0)],
                vec![Some(1.0), Some(0.0)]
            ]
        );
        assert_eq!(m.same_band, None, "different bands: no diagonal");
        // The same bands: the diagonal is who stayed.
        let bands = names(&["A", "B", "C"]);
        let b = [o(0, true), o(1, true), o(1, false), o(2, false), o(0, true)];
        let m = SwapMatrix::of(&a, &b, &bands, &bands);
        // Stayed: borrower 0 (A/A), 2 (B/B), 3 (C/C) -> 3; moved: 1 and 4.
        assert_eq!(m.same_band, Some(3));
        assert_eq!(m.counts.iter().flatten().sum::<u64>(), 5);
    }
}
