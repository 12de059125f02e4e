//! `dunning simulate`: what a strategy change does to a night's decisions,
//! before it goes live.
//!
//! The borrowers come from a nightly run's scored.parquet (`--scored`),
//! re-decided under each strategy from the file's columns (see
//! [`crate::report::simulate::scored`] for what that can and cannot
//! evaluate), or from a snapshot of the ledger (`--model`, the input
//! tables, `--as-of`), built, scored and decided exactly as `dunning run`
//! does ([`crate::jobs::run::decide_night`]), without writing any nightly output. The
//! baseline is `--baseline`, or, for a scored file, the decisions the night
//! recorded. Writes `OUT/decisions.parquet` then `OUT/simulate.json`, each
//! atomically.

use std::path::{Path, PathBuf};

use crate::contract::InputPaths;
use crate::dates::{self, Day};
use crate::error::{Error, Result};
use crate::jobs::run::{check_bands, decide_night, read_strategy};
use crate::jobs::score::load_and_score;
use crate::output;
use crate::report::simulate::report::{decisions_table, Agreement, SimulateReport, Source};
use crate::report::simulate::{compare, scored, Borrower, Outcome, Plan, StrategyInfo};
use crate::strategy::Strategy;

/// simulate.json, in `--out`.
pub const SIMULATE_JSON: &str = "simulate.json";
/// decisions.parquet, in `--out`.
pub const DECISIONS: &str = "decisions.parquet";

/// Where the borrowers come from.
#[derive(Debug, Clone)]
pub enum SimulateSource {
    /// A nightly run's scored.parquet (or the night's directory).
    Scored(PathBuf),
    /// A snapshot of the ledger, scored and decided as `dunning run` does.
    Snapshot {
        /// Model directory or model.json.
        model: PathBuf,
        /// Input tables.
        inputs: InputPaths,
        /// The as-of date.
        as_of: Day,
        /// Covered-within tolerance.
        tolerance: f64,
        /// Make any rejected row fatal.
        strict: bool,
    },
}

/// Options of `dunning simulate`.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// The new strategy file.
    pub strategy: PathBuf,
    /// The baseline strategy file (None: the scored file's recorded
    /// decisions; required for a snapshot).
    pub baseline: Option<PathBuf>,
    /// The borrowers.
    pub source: SimulateSource,
    /// Output directory.
    pub out: PathBuf,
}

/// A strategy file, read and checked.
struct Loaded {
    path: PathBuf,
    strategy: Strategy,
    sha256: String,
}

fn load(path: &Path) -> Result<Loaded> {
    let (strategy, sha256) = read_strategy(path)?;
    Ok(Loaded {
        path: path.to_path_buf(),
        strategy,
        sha256,
    })
}

/// Everything [`compare`] and the writers need, from either source.
struct Decided {
    as_of: Day,
    source: Source,
    ids: arrow::array::ArrayRef,
    borrowers: Vec<Borrower>,
    /// The model's band names.
    model_bands: Vec<String>,
    /// Each borrower's model band (index into `model_bands`).
    band_of: Vec<usize>,
    baseline: Plan,
    new: Plan,
    limitations: Vec<String>,
    agreement: Option<Agreement>,
}

/// Runs the what-if and writes its outputs; returns the report.
pub fn simulate(opts: &SimulateOptions) -> Result<SimulateReport> {
    let new = load(&opts.strategy)?;
    let baseline = opts.baseline.as_deref().map(load).transpose()?;
    let d = match &opts.source {
        SimulateSource::Scored(path) => from_scored(path, &new, baseline.as_ref())?,
        SimulateSource::Snapshot {
            model,
            inputs,
            as_of,
            tolerance,
            strict,
        } => {
            let Some(baseline) = baseline.as_ref() else {
                return Err(Error::Usage(
                    "a snapshot has no recorded decisions to compare with: give --baseline OLD.toml \
                     (or simulate on a night's scored.parquet with --scored, whose recorded \
                     decisions are the default baseline)"
                        .into(),
                ));
            };
            from_snapshot(model, inputs, *as_of, *tolerance, *strict, &new, baseline)?
        }
    };
    let cell: Vec<(usize, usize)> = d
        .borrowers
        .iter()
        .zip(&d.band_of)
        .map(|(b, &band)| {
            (
                new.strategy.bucket(b.dpd),
                new.strategy.band_index(b.p_repay, &d.model_bands[band]),
            )
        })
        .collect();
    let c = compare(&d.borrowers, &cell, &new.strategy, &d.baseline, &d.new);
    let as_of = dates::format(d.as_of);
    let table = decisions_table(
        d.ids.clone(),
        &d.borrowers,
        &cell,
        &new.strategy,
        &d.baseline,
        &d.new,
        &as_of,
    );
    let report = SimulateReport::new(as_of, d.source, d.limitations, d.agreement, c);
    crate::jobs::interrupt::boundary("simulate")?;
    output::write_parquet(&opts.out.join(DECISIONS), table.schema(), &[table])?;
    output::write_json(&opts.out.join(SIMULATE_JSON), &report)?;
    Ok(report)
}

fn from_scored(path: &Path, new: &Loaded, baseline: Option<&Loaded>) -> Result<Decided> {
    let file = scored::read(path)?;
    let bands = || file.band_names.iter().map(String::as_str);
    check_bands(&new.strategy, &new.path, bands())?;
    if let Some(b) = baseline {
        check_bands(&b.strategy, &b.path, bands())?;
    }
    let mut limitations = Vec::new();
    let recorded = Plan {
        info: StrategyInfo {
            source: "recorded".into(),
            path: None,
            version: file.strategy_version.clone(),
            sha256: file.strategy_sha256.clone(),
        },
        capacity: None,
        outcomes: file.rows.iter().map(|r| r.recorded.clone()).collect(),
    };
    // The night's contact limits are known when its strategy file is the baseline.
    let night_contact = baseline
        .filter(|b| file.strategy_sha256.as_deref() == Some(b.sha256.as_str()))
        .map(|b| &b.strategy.contact_rules);
    let redecide = |l: &Loaded, label: &str, limitations: &mut Vec<String>| {
        let o = scored::redecide(
            &file,
            &l.strategy,
            &l.sha256,
            night_contact,
            label,
            limitations,
        );
        Plan::from_strategy(&l.strategy, &l.path, &l.sha256, o)
    };
    let (baseline, agreement) = match baseline {
        Some(b) => {
            let plan = redecide(b, "baseline", &mut limitations);
            let agreement = Agreement::of(&plan, &recorded);
            (plan, Some(agreement))
        }
        None => {
            limitations.push(format!(
                "baseline: the decisions recorded in {} (strategy {}); the scored file does not record that strategy's capacity limits, so its capacity and over-by are unknown (give --baseline FILE to see them)",
                file.path.display(),
                file.strategy_version
            ));
            (recorded, None)
        }
    };
    let new_plan = redecide(new, "new", &mut limitations);
    let source = Source {
        mode: "scored".into(),
        scored: Some(file.path.display().to_string()),
        scored_sha256: Some(file.sha256.clone()),
        run_id: Some(file.run_id.clone()),
        recorded_strategy: Some(file.strategy_version.clone()),
        recorded_strategy_sha256: file.strategy_sha256.clone(),
        model: file.model_version.clone(),
        model_path: None,
        model_sha256: None,
        inputs: Vec::new(),
        rejected_input_rows: None,
    };
    Ok(Decided {
        as_of: file.as_of,
        source,
        borrowers: file.rows.iter().map(|r| r.borrower).collect(),
        band_of: file.rows.iter().map(|r| r.model_band).collect(),
        model_bands: file.band_names.clone(),
        ids: file.ids.clone(),
        baseline,
        new: new_plan,
        limitations,
        agreement,
    })
}

fn from_snapshot(
    model: &Path,
    inputs: &InputPaths,
    as_of: Day,
    tolerance: f64,
    strict: bool,
    new: &Loaded,
    baseline: &Loaded,
) -> Result<Decided> {
    let mut clock = crate::jobs::Stopwatch::default();
    let s = load_and_score(
        model,
        inputs,
        as_of,
        tolerance,
        crate::contract::LoadOptions {
            strict,
            ..Default::default()
        },
        &mut clock,
    )?;
    let model_bands: Vec<String> = s.model.bands.iter().map(|b| b.band.clone()).collect();
    for l in [new, baseline] {
        check_bands(&l.strategy, &l.path, model_bands.iter().map(String::as_str))?;
    }
    let fs = &s.features;
    let width = fs.names.len();
    let col = |name: &str| fs.position(name).expect("a ledger feature");
    let (dpd, overdue) = (col("dpd"), col("overdue_amount"));
    let borrowers: Vec<Borrower> = s
        .rows
        .iter()
        .map(|r| Borrower {
            p_repay: r.p_repay,
            overdue_amount: fs.values[r.row * width + overdue],
            dpd: fs.values[r.row * width + dpd] as i64,
        })
        .collect();
    let plan = |l: &Loaded| {
        let night = decide_night(&l.strategy, &s, as_of);
        let o: Vec<Outcome> = night
            .decisions
            .into_iter()
            .zip(night.before_capacity)
            .zip(night.arms)
            .map(|((d, before), arm)| Outcome::new(d, before, arm))
            .collect();
        Plan::from_strategy(&l.strategy, &l.path, &l.sha256, o)
    };
    let ids: Vec<u32> = s.rows.iter().map(|r| fs.rows[r.row].borrower).collect();
    let listed = [
        ("schedule", Some(&inputs.schedule)),
        ("payments", Some(&inputs.payments)),
        ("borrowers", inputs.borrowers.as_ref()),
        ("contacts", inputs.contacts.as_ref()),
    ];
    let source = Source {
        mode: "snapshot".into(),
        scored: None,
        scored_sha256: None,
        run_id: None,
        recorded_strategy: None,
        recorded_strategy_sha256: None,
        model: s.model.version.clone(),
        model_path: Some(model.display().to_string()),
        model_sha256: Some(s.model_sha256.clone()),
        inputs: listed
            .iter()
            .filter_map(|(t, p)| p.map(|p| format!("{t}={}", p.display())))
            .collect(),
        rejected_input_rows: Some(s.ledger.rejects.len() as u64),
    };
    Ok(Decided {
        as_of,
        source,
        ids: s.ledger.borrowers.take(&ids),
        band_of: s.rows.iter().map(|r| r.band).collect(),
        model_bands,
        borrowers,
        baseline: plan(baseline),
        new: plan(new),
        limitations: Vec::new(),
        agreement: None,
    })
}
