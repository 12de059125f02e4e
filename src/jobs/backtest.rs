//! `dunning backtest` and `dunning compare`: score past snapshots of a
//! ledger and compare the scores with what the ledger shows happened by the
//! end of the horizon; write `DIR/backtest.json` or `DIR/compare.json`, each
//! with its offline HTML page (`backtest.html`, `compare.html`).
//!
//! For each as-of date T: the point-in-time features and labels at T (the
//! code and population rules of `dunning features` and `train`; label =
//! nothing overdue at the end of T + H), the model's scores, the strategy's
//! treatments when one is given (decided as the nightly run decides, with
//! its capacity limits over the snapshot), and each borrower's DPD at T and
//! at T + H for the roll rates ([`crate::report::rollrate`]).
//!
//! An as-of date whose horizon ends after the ledger's last day (its latest
//! payment) is an error naming the date (exit 64), not a skipped snapshot:
//! its outcome is not known yet, and a report that silently left out a
//! snapshot asked for would pool different snapshots than the user thinks.
//!
//! The report is built in memory and written atomically; rejected input
//! rows go to `backtest.rejects.parquet` (or `compare.rejects.parquet`)
//! beside it. The same inputs, models, strategy and dates give the same bytes.

use std::path::{Path, PathBuf};

use crate::contract::{InputPaths, Ledger};
use crate::dates::{self, Day};
use crate::error::{Error, Result};
use crate::jobs::run::{check_bands, decide_rows, read_strategy};
use crate::jobs::score::{load_ledger_for, LoadedModel};
use crate::labels::{self, Labeled};
use crate::ledger::{self, FeatureSet, SnapshotOptions};
use crate::output;
use crate::report::backtest::{
    Analysis, BacktestReport, BacktestRow, InputRows, Setup, SnapshotReport, SnapshotRows,
    StrategyInfo,
};
use crate::report::compare::{CompareReport, CompareSnapshot, Comparison};
use crate::report::drift::DriftReport;
use crate::report::evaluation::{woe_features, ModelInfo, Outcome};
use crate::report::rollrate::bucket_index;
use crate::scoring::{self, ScoredRow};
use crate::strategy::arms::capacity_demotions;
use crate::strategy::{Strategy, Treatment};

/// The backtest's report file in the output directory.
pub const BACKTEST: &str = "backtest.json";
/// The comparison's report file in the output directory.
pub const COMPARE: &str = "compare.json";
/// The backtest's offline HTML page, beside `backtest.json`.
pub const BACKTEST_HTML: &str = "backtest.html";
/// The comparison's offline HTML page, beside `compare.json`.
pub const COMPARE_HTML: &str = "compare.html";

/// The snapshots to evaluate and the ledger they come from.
#[derive(Debug, Clone)]
pub struct SnapshotInputs {
    /// Input files.
    pub inputs: InputPaths,
    /// As-of dates T (sorted and deduplicated on use).
    pub as_of: Vec<Day>,
    /// Label horizon H in days (default: the model's training horizon).
    pub horizon_days: Option<i32>,
    /// Covered-within tolerance.
    pub tolerance: f64,
    /// Fail instead of rejecting bad rows.
    pub strict: bool,
}

/// Options of one `backtest` run.
#[derive(Debug, Clone)]
pub struct BacktestOptions {
    /// The model directory (or its model.json).
    pub model: PathBuf,
    /// Assign treatments with this strategy file.
    pub strategy: Option<PathBuf>,
    /// The snapshots.
    pub snapshots: SnapshotInputs,
    /// Output directory: `backtest.json` goes there.
    pub out: PathBuf,
}

/// Options of one `compare` run.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Model A (directory or model.json).
    pub a: PathBuf,
    /// Model B.
    pub b: PathBuf,
    /// The snapshots.
    pub snapshots: SnapshotInputs,
    /// Output directory: `compare.json` goes there.
    pub out: PathBuf,
}

/// The ledger read once, with the features at every T and at every T + H.
struct Prepared {
    ledger: Ledger,
    /// Features at the as-of dates T.
    features: FeatureSet,
    /// Features at T + H, snapshot for snapshot (for DPD at the horizon).
    later: FeatureSet,
    /// The population and labels at each T.
    labeled: Labeled,
    setup: Setup,
}

/// One snapshot's population: feature rows (into [`Prepared::features`]),
/// labels, and DPD buckets at T and T + H.
struct Population {
    snapshot: usize,
    rows: Vec<usize>,
    repaid: Vec<bool>,
    bucket: Vec<usize>,
    bucket_at_horizon: Vec<usize>,
}

/// The label horizon: the flag's, else the models' training horizon (they
/// must agree), else the default.
fn horizon(models: &[&LoadedModel], flag: Option<i32>) -> Result<i32> {
    if let Some(h) = flag {
        return Ok(h);
    }
    let trained: Vec<i32> = models
        .iter()
        .map(|m| {
            m.model
                .training
                .horizon_days
                .unwrap_or(ledger::DEFAULT_HORIZON_DAYS)
        })
        .collect();
    if trained.windows(2).any(|w| w[0] != w[1]) {
        return Err(Error::Usage(format!(
            "the models were trained for different horizons ({} days); give --horizon-days",
            trained
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        )));
    }
    Ok(trained[0])
}

/// Reads the ledger with what `models` need, checks that every horizon ends
/// within it, and builds features and labels at T and T + H.
fn prepare(models: &[&LoadedModel], opts: &SnapshotInputs, report_file: &Path) -> Result<Prepared> {
    let horizon_days = horizon(models, opts.horizon_days)?;
    let snapshot_options = SnapshotOptions {
        as_of: opts.as_of.clone(),
        horizon_days,
        tolerance: opts.tolerance,
    };
    // Bad dates, horizon or tolerance fail before any input is read.
    let as_of = snapshot_options.check()?;
    let ledger = load_ledger_for(
        models,
        &opts.inputs,
        crate::contract::LoadOptions {
            strict: opts.strict,
            ..Default::default()
        },
    )?;
    let Some(data_end) = ledger.last_payment else {
        return Err(Error::Usage(format!(
            "{}: no payments, so the ledger shows no outcome to backtest against",
            opts.inputs.payments.display()
        )));
    };
    if let Some(&t) = as_of.iter().find(|&&t| t + horizon_days > data_end) {
        return Err(Error::Usage(format!(
            "--as-of {}: its {horizon_days}-day horizon ends {}, after the ledger's last day {} \
             (its latest payment), so the outcome is not known yet; the latest as-of date this \
             ledger can backtest is {}",
            dates::format(t),
            dates::format(t + horizon_days),
            dates::format(data_end),
            dates::format(data_end - horizon_days)
        )));
    }
    let features = ledger::build(&ledger, &snapshot_options, ledger::Keep::Population)?;
    let later = ledger::build(
        &ledger,
        &SnapshotOptions {
            as_of: as_of.iter().map(|&t| t + horizon_days).collect(),
            ..snapshot_options
        },
        // Each population row's borrower at T + H, in or out of that date's population.
        ledger::Keep::All,
    )?;
    let labeled = labels::attach(&features, None, Some(data_end));
    // Written with the report, at the end (see `publish`).
    let rejects_file =
        (!ledger.rejects.is_empty()).then(|| crate::jobs::sibling(report_file, "rejects.parquet"));
    let setup = Setup {
        horizon_days,
        tolerance: opts.tolerance,
        data_end: dates::format(data_end),
        inputs: ledger.reports.iter().map(InputRows::from).collect(),
        rejected: ledger.rejects.len() as u64,
        rejects_file: rejects_file.map(|p| p.display().to_string()),
    };
    Ok(Prepared {
        ledger,
        features,
        later,
        labeled,
        setup,
    })
}

impl Prepared {
    /// Each snapshot's population with labels and DPD buckets.
    fn populations(&self) -> Result<Vec<Population>> {
        let fs = &self.features;
        let n = self.ledger.borrower_count();
        let dpd = fs.position("dpd").expect("dpd is a ledger feature");
        let later_dpd = self.later.position("dpd").expect("dpd is a ledger feature");
        let mut out: Vec<Population> = (0..fs.as_of.len())
            .map(|snapshot| Population {
                snapshot,
                rows: Vec::new(),
                repaid: Vec::new(),
                bucket: Vec::new(),
                bucket_at_horizon: Vec::new(),
            })
            .collect();
        for (&k, &label) in self.labeled.rows.iter().zip(&self.labeled.repaid) {
            let r = fs.rows[k];
            let s = r.snapshot as usize;
            // Every borrower has a row in every snapshot, snapshot by snapshot.
            let h = s * n + r.borrower as usize;
            let at_h = self.later.rows.get(h);
            let (Some(label), Some(at_h)) = (label, at_h) else {
                return Err(Error::Internal(format!(
                    "snapshot {}: a population row without a label or a row at the horizon",
                    dates::format(fs.as_of[s])
                )));
            };
            if at_h.borrower != r.borrower || at_h.snapshot != r.snapshot {
                return Err(Error::Internal(
                    "the horizon's feature rows are not in snapshot x borrower order".into(),
                ));
            }
            let p = &mut out[s];
            p.rows.push(k);
            p.repaid.push(label);
            p.bucket.push(bucket_index(fs.row_values(k)[dpd]));
            p.bucket_at_horizon
                .push(bucket_index(self.later.row_values(h)[later_dpd]));
        }
        Ok(out)
    }

    fn as_of(&self, p: &Population) -> Day {
        self.features.as_of[p.snapshot]
    }

    fn horizon_end(&self, p: &Population) -> String {
        dates::format(self.later.as_of[p.snapshot])
    }

    /// Borrowers and those outside the population, of one snapshot.
    fn counts(&self, p: &Population) -> (u64, u64) {
        let c = &self.labeled.counts[p.snapshot];
        (c.borrowers, c.outside_population)
    }
}

/// Writes the rejects file (or removes a stale one), then the report and
/// its HTML page (`page_file`, rendered before anything is written).
fn publish<T: serde::Serialize>(
    prep: &Prepared,
    report_file: &Path,
    report: &T,
    page_file: &Path,
    page: &str,
) -> Result<()> {
    crate::jobs::write_rejects(report_file, &prep.ledger.rejects)?;
    output::write_json(report_file, report)?;
    output::write_text(page_file, page)?;
    Ok(())
}

fn score(m: &LoadedModel, fs: &FeatureSet, rows: &[usize]) -> Result<Vec<ScoredRow>> {
    scoring::score(&m.model, fs, rows).map_err(|e| m.mismatch(e))
}

fn outcomes(scored: &[ScoredRow], repaid: &[bool]) -> Vec<Outcome> {
    scored
        .iter()
        .zip(repaid)
        .map(|(r, &repaid)| Outcome {
            p_repay: r.p_repay,
            score: r.score,
            band: r.band,
            repaid,
        })
        .collect()
}

/// PSI of the score and each feature of a population (row-major raw values
/// of the model's features, `width` a row) against model.json's training
/// distributions, judged by the report thresholds.
fn drift(model: &LoadedModel, values: &[f64], width: usize, scores: &[f64]) -> Result<DriftReport> {
    crate::report::drift::population(
        &model.model,
        values,
        width,
        scores,
        crate::report::drift::report_thresholds(),
    )
    .map_err(|e| Error::Internal(format!("backtest drift: {e}")))
}

fn metrics_error(e: crate::model::metrics::MetricsError) -> Error {
    Error::Internal(format!("backtest metrics: {e}"))
}

/// The strategy's treatment for each scored row of one snapshot, as the
/// nightly run assigns it: the decision, then the capacity fallbacks over
/// the snapshot (priority overdue amount x (1 - p_repay)).
fn treatments(
    strategy: &Strategy,
    prep: &Prepared,
    model: &LoadedModel,
    scored: &[ScoredRow],
    as_of: Day,
) -> Vec<Treatment> {
    let fs = &prep.features;
    let decisions = decide_rows(strategy, &prep.ledger, fs, &model.model, scored, as_of).decisions;
    let mut treatments: Vec<Treatment> = decisions.iter().map(|d| d.treatment).collect();
    let overdue = fs
        .position("overdue_amount")
        .expect("overdue_amount is a ledger feature");
    let priority: Vec<f64> = scored
        .iter()
        .map(|r| fs.row_values(r.row)[overdue] * (1.0 - r.p_repay))
        .collect();
    capacity_demotions(strategy, &mut treatments, &priority);
    treatments
}

/// One snapshot's rows as the backtest holds them, with the raw values of
/// the model's features (what a drift comparison needs).
fn snapshot_rows(
    prep: &Prepared,
    model: &LoadedModel,
    p: &Population,
    scored: &[ScoredRow],
    treatments: Option<&[Treatment]>,
) -> Result<SnapshotRows> {
    let fs = &prep.features;
    let cols = scoring::feature_columns(&model.model, fs).map_err(|e| model.mismatch(e))?;
    let mut feature_values = Vec::with_capacity(p.rows.len() * cols.len());
    for &k in &p.rows {
        let v = fs.row_values(k);
        feature_values.extend(cols.iter().map(|&j| v[j]));
    }
    let (borrowers, outside_population) = prep.counts(p);
    let rows = outcomes(scored, &p.repaid)
        .into_iter()
        .enumerate()
        .map(|(i, outcome)| BacktestRow {
            outcome,
            bucket: p.bucket[i],
            bucket_at_horizon: p.bucket_at_horizon[i],
            treatment: treatments.map(|t| t[i]),
        })
        .collect();
    Ok(SnapshotRows {
        as_of: prep.as_of(p),
        rows,
        feature_names: model
            .model
            .features
            .iter()
            .map(|f| f.name.clone())
            .collect(),
        feature_values,
        borrowers,
        outside_population,
    })
}

/// Runs the backtest and writes `backtest.json`; returns the report.
pub fn backtest(opts: &BacktestOptions) -> Result<BacktestReport> {
    let model = LoadedModel::read(&opts.model)?;
    let strategy = match &opts.strategy {
        Some(path) => {
            let (s, sha256) = read_strategy(path)?;
            check_bands(&s, path, model.model.bands.iter().map(|b| b.band.as_str()))?;
            Some((s, path, sha256))
        }
        None => None,
    };
    let report_file = opts.out.join(BACKTEST);
    let prep = prepare(&[&model], &opts.snapshots, &report_file)?;
    let mut snapshots = Vec::new();
    let mut pooled: Vec<BacktestRow> = Vec::new();
    let (mut borrowers, mut outside) = (0u64, 0u64);
    let (mut pooled_values, mut pooled_scores) = (Vec::new(), Vec::new());
    for p in prep.populations()? {
        let scored = score(&model, &prep.features, &p.rows)?;
        let as_of = prep.as_of(&p);
        let treatments = strategy
            .as_ref()
            .map(|(s, _, _)| treatments(s, &prep, &model, &scored, as_of));
        let rows = snapshot_rows(&prep, &model, &p, &scored, treatments.as_deref())?;
        let scores: Vec<f64> = rows
            .rows
            .iter()
            .map(|r| f64::from(r.outcome.score))
            .collect();
        let width = rows.feature_names.len();
        let drift = drift(&model, &rows.feature_values, width, &scores)?;
        pooled_values.extend_from_slice(&rows.feature_values);
        pooled_scores.extend(scores);
        let analysis = Analysis::of(
            &rows.rows,
            rows.borrowers,
            rows.outside_population,
            &model.model,
            strategy.is_some(),
        )
        .map_err(metrics_error)?;
        borrowers += rows.borrowers;
        outside += rows.outside_population;
        pooled.extend_from_slice(&rows.rows);
        snapshots.push(SnapshotReport {
            as_of: dates::format(as_of),
            horizon_end: prep.horizon_end(&p),
            analysis,
            drift,
        });
    }
    let overall = Analysis::of(
        &pooled,
        borrowers,
        outside,
        &model.model,
        strategy.is_some(),
    )
    .map_err(metrics_error)?;
    let report = BacktestReport {
        kind: "backtest".into(),
        dunning_version: env!("CARGO_PKG_VERSION").into(),
        model: ModelInfo::of(&model.model, &opts.model, &model.sha256),
        strategy: strategy.map(|(s, path, sha256)| StrategyInfo {
            path: path.display().to_string(),
            version: s.version,
            sha256,
        }),
        setup: prep.setup.clone(),
        woe_bins: woe_features(&model.model),
        snapshots,
        overall,
        drift: drift(
            &model,
            &pooled_values,
            model.model.features.len(),
            &pooled_scores,
        )?,
    };
    let page = crate::report::page::backtest_page(&report).render();
    publish(
        &prep,
        &report_file,
        &report,
        &opts.out.join(BACKTEST_HTML),
        &page,
    )?;
    Ok(report)
}

/// Scores the snapshots with both models and writes `compare.json`;
/// returns the report.
pub fn compare(opts: &CompareOptions) -> Result<CompareReport> {
    let a = LoadedModel::read(&opts.a)?;
    let b = LoadedModel::read(&opts.b)?;
    let report_file = opts.out.join(COMPARE);
    let prep = prepare(&[&a, &b], &opts.snapshots, &report_file)?;
    let mut snapshots = Vec::new();
    let (mut all_a, mut all_b) = (Vec::new(), Vec::new());
    for p in prep.populations()? {
        let oa = outcomes(&score(&a, &prep.features, &p.rows)?, &p.repaid);
        let ob = outcomes(&score(&b, &prep.features, &p.rows)?, &p.repaid);
        let comparison = Comparison::of(&oa, &ob, &a.model, &b.model).map_err(metrics_error)?;
        all_a.extend(oa);
        all_b.extend(ob);
        snapshots.push(CompareSnapshot {
            as_of: dates::format(prep.as_of(&p)),
            horizon_end: prep.horizon_end(&p),
            comparison,
        });
    }
    let overall = Comparison::of(&all_a, &all_b, &a.model, &b.model).map_err(metrics_error)?;
    let report = CompareReport {
        kind: "compare".into(),
        dunning_version: env!("CARGO_PKG_VERSION").into(),
        a: ModelInfo::of(&a.model, &opts.a, &a.sha256),
        b: ModelInfo::of(&b.model, &opts.b, &b.sha256),
        setup: prep.setup.clone(),
        snapshots,
        overall,
    };
    let page = crate::report::page::compare_page(&report).render();
    publish(
        &prep,
        &report_file,
        &report,
        &opts.out.join(COMPARE_HTML),
        &page,
    )?;
    Ok(report)
}
