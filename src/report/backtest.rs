//! The backtest: how a model (and optionally a strategy) did on past
//! snapshots, judged by what the ledger shows happened over the horizon.
//!
//! Per snapshot date T and over all snapshots pooled: the
//! [`Evaluation`] of the scores against the labels (repaid within H days, as
//! in training), the repay rate by treatment when a strategy is given
//! (were the escalated borrowers really the least likely to repay?), and the
//! roll rates between DPD buckets from T to T + H with the cure rate of each
//! bucket. [`BacktestReport`] is `backtest.json`, documented in
//! docs/output-contract.md.
//!
//! This module turns prepared rows into the report and the summary table.
//! Reading the ledger, building features and labels, scoring and assigning
//! treatments is [`crate::jobs::backtest`]'s work; so is writing the file.
//! Population drift (PSI of the score and each feature against the training
//! distributions, [`super::drift`]) is computed by the job from
//! [`SnapshotRows::feature_values`] and carried in the report.

use serde::{Deserialize, Serialize};

use super::drift::DriftReport;
use super::evaluation::{rate_rows, Evaluation, ModelInfo, Outcome, RateRow, WoeFeature};
use super::rollrate::RollRates;
use crate::model::metrics::MetricsError;
use crate::model::Model;
use crate::strategy::Treatment;

/// One borrower of a snapshot's population, scored, with what happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BacktestRow {
    /// The score and the outcome.
    pub outcome: Outcome,
    /// DPD bucket at T (index into [`crate::scoring::DPD_BUCKETS`]).
    pub bucket: usize,
    /// DPD bucket at T + H.
    pub bucket_at_horizon: usize,
    /// The strategy's treatment at T, when a strategy was given.
    pub treatment: Option<Treatment>,
}

/// A snapshot's rows as the backtest holds them in memory: the scored
/// population and the raw values of the model's features for those rows.
#[derive(Debug, Clone)]
pub struct SnapshotRows {
    /// The as-of date.
    pub as_of: crate::dates::Day,
    /// The population, in borrower order.
    pub rows: Vec<BacktestRow>,
    /// The model's feature names, in model order.
    pub feature_names: Vec<String>,
    /// Row-major raw values of the model's features for `rows`:
    /// `feature_values[i * feature_names.len() + j]` is feature j of row i.
    pub feature_values: Vec<f64>,
    /// Borrowers with a schedule at T (in and outside the population).
    pub borrowers: u64,
    /// Borrowers outside the population (neither overdue nor due within the horizon).
    pub outside_population: u64,
}

/// The analysis of one snapshot, or of all snapshots pooled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// Borrowers with a schedule (in and outside the population).
    pub borrowers: u64,
    /// Borrowers in the population: scored and labelled.
    pub in_population: u64,
    /// Borrowers outside the population: not scored.
    pub outside_population: u64,
    /// Scores against outcomes: metrics, curves, band mix and repay rate by band.
    pub evaluation: Evaluation,
    /// Repay rate and mix by treatment (soft, standard, escalated) under
    /// the strategy; null without `--strategy`.
    pub by_treatment: Option<Vec<RateRow>>,
    /// DPD bucket at T x bucket at T + H, with cure and roll-forward rates.
    pub roll_rates: RollRates,
}

impl Analysis {
    /// The analysis of `rows` (one snapshot's, or several pooled).
    pub fn of(
        rows: &[BacktestRow],
        borrowers: u64,
        outside_population: u64,
        model: &Model,
        with_treatments: bool,
    ) -> Result<Self, MetricsError> {
        let outcomes: Vec<Outcome> = rows.iter().map(|r| r.outcome).collect();
        let treatments: Vec<String> = Treatment::ALL
            .iter()
            .map(|t| t.as_str().to_string())
            .collect();
        Ok(Self {
            borrowers,
            in_population: rows.len() as u64,
            outside_population,
            evaluation: Evaluation::of(&outcomes, model)?,
            by_treatment: with_treatments.then(|| {
                rate_rows(
                    &treatments,
                    rows.iter()
                        .filter_map(|r| r.treatment.map(|t| (t.index(), r.outcome.repaid))),
                )
            }),
            roll_rates: RollRates::from_pairs(rows.iter().map(|r| (r.bucket, r.bucket_at_horizon))),
        })
    }
}

/// One snapshot of the backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotReport {
    /// The as-of date T.
    pub as_of: String,
    /// T + H: the day the outcome is read.
    pub horizon_end: String,
    /// The analysis of the snapshot.
    pub analysis: Analysis,
    /// PSI of the score and each model feature of the snapshot's population
    /// against the training distributions in model.json.
    pub drift: DriftReport,
}

/// Row accounting of one input table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputRows {
    /// Contract table.
    pub table: String,
    /// The file as given.
    pub file: String,
    /// Rows in the file: `rows_read = rows_used + rows_rejected + rows_unmatched`.
    pub rows_read: u64,
    /// Rows that entered the computation.
    pub rows_used: u64,
    /// Rows rejected (in the rejects file beside the report).
    pub rows_rejected: u64,
    /// Valid rows that matched nothing.
    pub rows_unmatched: u64,
}

impl From<&crate::contract::TableReport> for InputRows {
    fn from(t: &crate::contract::TableReport) -> Self {
        Self {
            table: t.table.clone(),
            file: t.file.clone(),
            rows_read: t.rows_read,
            rows_used: t.rows_used,
            rows_rejected: t.rows_rejected,
            rows_unmatched: t.rows_unmatched,
        }
    }
}

/// The strategy a backtest assigned treatments with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyInfo {
    /// The file as given.
    pub path: String,
    /// Its version.
    pub version: String,
    /// sha256 of the file.
    pub sha256: String,
}

/// What the snapshots were built from: shared by backtest.json and compare.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Label horizon H in days: repaid means nothing overdue at the end of T + H.
    pub horizon_days: i32,
    /// An installment counts as covered when at most this amount is unpaid.
    pub tolerance: f64,
    /// The ledger's last day (its latest payment): every T + H is on or before it.
    pub data_end: String,
    /// Row accounting per input table.
    pub inputs: Vec<InputRows>,
    /// Input rows rejected, over all tables.
    pub rejected: u64,
    /// The rejects file, when rows were rejected.
    pub rejects_file: Option<String>,
}

/// backtest.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestReport {
    /// `backtest`.
    pub kind: String,
    /// The dunning version that wrote it.
    pub dunning_version: String,
    /// The model backtested.
    pub model: ModelInfo,
    /// The strategy, when treatments were assigned.
    pub strategy: Option<StrategyInfo>,
    /// Horizon, tolerance, data end and inputs.
    pub setup: Setup,
    /// The model's WoE bins per feature (empty for a standardized model).
    pub woe_bins: Vec<WoeFeature>,
    /// One per as-of date, ascending.
    pub snapshots: Vec<SnapshotReport>,
    /// All snapshots pooled (a borrower counts once per snapshot).
    pub overall: Analysis,
    /// PSI of the score and each model feature of all snapshots' populations
    /// pooled against the training distributions.
    pub drift: DriftReport,
}

/// `x` with `digits` decimals, or `-` when missing.
pub(crate) fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

impl BacktestReport {
    /// A table for people: per snapshot and overall, the population, repay
    /// rate, AUC, Gini, KS and Brier; then the overall repay rate by band,
    /// by treatment, and the cure rate by bucket.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "backtest of {} ({}), horizon {} days{}",
            self.model.name,
            self.model.version,
            self.setup.horizon_days,
            self.strategy
                .as_ref()
                .map(|s| format!(", strategy {}", s.version))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "\n{:<12}{:>9}{:>9}{:>8}{:>8}{:>8}{:>8}",
            "as of", "scored", "repaid", "AUC", "Gini", "KS", "Brier"
        );
        let row = |out: &mut String, label: &str, a: &Analysis| {
            let e = &a.evaluation;
            let m = e.metrics.as_ref();
            let _ = writeln!(
                out,
                "{label:<12}{:>9}{:>9}{:>8}{:>8}{:>8}{:>8}",
                e.count,
                fmt_opt((e.count > 0).then(|| e.repaid as f64 / e.count as f64), 3),
                fmt_opt(m.map(|m| m.auc), 3),
                fmt_opt(m.map(|m| m.gini), 3),
                fmt_opt(m.map(|m| m.ks), 3),
                fmt_opt(m.map(|m| m.brier), 3),
            );
        };
        for s in &self.snapshots {
            row(&mut out, &s.as_of, &s.analysis);
        }
        row(&mut out, "overall", &self.overall);
        let groups = |out: &mut String, title: &str, rows: &[RateRow]| {
            let _ = writeln!(
                out,
                "\n{title:<12}{:>9}{:>9}{:>12}",
                "count", "share", "repay rate"
            );
            for r in rows {
                let _ = writeln!(
                    out,
                    "{:<12}{:>9}{:>9.3}{:>12}",
                    r.name,
                    r.count,
                    r.share,
                    fmt_opt(r.repay_rate, 3)
                );
            }
        };
        groups(&mut out, "band", &self.overall.evaluation.by_band);
        if let Some(t) = &self.overall.by_treatment {
            groups(&mut out, "treatment", t);
        }
        let _ = writeln!(
            out,
            "\n{:<12}{:>9}{:>12}{:>12}",
            "dpd at T", "count", "cure rate", "roll fwd"
        );
        for b in &self.overall.roll_rates.by_bucket {
            let _ = writeln!(
                out,
                "{:<12}{:>9}{:>12}{:>12}",
                b.bucket,
                b.count,
                fmt_opt(b.cure_rate, 3),
                fmt_opt(b.roll_forward_rate, 3)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/default/model.json");
        Model::load(std::path::Path::new(path)).unwrap()
    }

    fn row(p: f64, repaid: bool, bucket: usize, later: usize, t: Treatment) -> BacktestRow {
        let m = model();
        let z = (p / (1.0 - p)).ln();
        let score = m.scaling.score(z);
        BacktestRow {
            outcome: Outcome {
                p_repay: p,
                score,
                band: m.band_index(score),
                repaid,
            },
            bucket,
            bucket_at_horizon: later,
            treatment: Some(t),
        }
    }

    #[test]
    fn analysis_by_treatment_and_roll_rates() {
        use Treatment::*;
        // Four borrowers: soft repaid (current -> current), standard repaid
        // (1-29 -> current), escalated not (30-59 -> 60-89), escalated repaid
        // (90+ -> current). Soft 1/1, standard 1/1, escalated 1/2.
        let rows = [
            row(0.95, true, 0, 0, Soft),
            row(0.7, true, 1, 0, Standard),
            row(0.2, false, 2, 3, Escalated),
            row(0.3, true, 4, 0, Escalated),
        ];
        let a = Analysis::of(&rows, 10, 6, &model(), true).unwrap();
        assert_eq!(
            (a.borrowers, a.in_population, a.outside_population),
            (10, 4, 6)
        );
        let t = a.by_treatment.as_ref().unwrap();
        let names: Vec<&str> = t.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["soft", "standard", "escalated"]);
        let rates: Vec<Option<f64>> = t.iter().map(|r| r.repay_rate).collect();
        assert_eq!(rates, [Some(1.0), Some(1.0), Some(0.5)]);
        assert_eq!(a.roll_rates.total(), 4);
        assert_eq!(a.roll_rates.counts[2][3], 1);
        // Every cured borrower repaid and the one who rolled did not: the
        // label and "current at T + H" agree.
        assert_eq!(a.evaluation.repaid, 3);
        let m = a.evaluation.metrics.as_ref().unwrap();
        assert_eq!(m.auc, 1.0, "the lowest p is the one who did not repay");
        // Without a strategy there is no treatment table.
        let a = Analysis::of(&rows, 10, 6, &model(), false).unwrap();
        assert!(a.by_treatment.is_none());
    }
}
