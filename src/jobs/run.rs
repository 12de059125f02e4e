//! `dunning run`: the nightly job. Validate, build features, score, apply the
//! strategy, and write `scored.parquet`, `rejects.parquet` (when rows were
//! rejected) and `manifest.json` into `OUT/AS_OF/`.
//!
//! The three files are written into a staging directory and published
//! together (see [`output::dir`]): a reader of `OUT/AS_OF/` sees the previous
//! night's complete set or this run's, never a mixture, and a failed run
//! leaves the previous set as it was. An OS lock on `OUT/.AS_OF.lock` makes a
//! second concurrent run of the same night refuse.
//!
//! The run id is a hash of the inputs, model, strategy and as-of date, not of
//! the clock, so re-running a night gives byte-identical `scored.parquet`;
//! timings go only to the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::contract::InputPaths;
use crate::dates::{self, Day};
use crate::error::{Error, Result};
use crate::jobs::score::load_and_score;
use crate::jobs::Stopwatch;
use crate::output::{self, tables};
use crate::scoring;
use crate::strategy::arms::{apply_capacity, arm};
use crate::strategy::contact;
use crate::strategy::{decide, BorrowerState, Strategy, StrategyError};

/// Options of one nightly run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Model directory or model.json.
    pub model: PathBuf,
    /// Strategy file.
    pub strategy: PathBuf,
    /// Input files.
    pub inputs: InputPaths,
    /// The as-of date.
    pub as_of: Day,
    /// Output root: the run writes into `out/AS_OF/`.
    pub out: PathBuf,
    /// Covered-within tolerance.
    pub tolerance: f64,
    /// Make any rejected row fatal.
    pub strict: bool,
}

/// A nightly.toml: every key of `dunning run`, each also a flag (a flag
/// given on the command line wins). Relative paths are relative to the
/// config file's directory.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Model directory or model.json.
    pub model: Option<PathBuf>,
    /// Strategy file.
    pub strategy: Option<PathBuf>,
    /// schedule.parquet.
    pub schedule: Option<PathBuf>,
    /// payments.parquet.
    pub payments: Option<PathBuf>,
    /// borrowers.parquet.
    pub borrowers: Option<PathBuf>,
    /// contacts.parquet.
    pub contacts: Option<PathBuf>,
    /// As-of date, YYYY-MM-DD.
    pub as_of: Option<String>,
    /// Output root.
    pub out: Option<PathBuf>,
    /// Covered-within tolerance.
    pub tolerance: Option<f64>,
    /// Make any rejected row fatal.
    pub strict: Option<bool>,
}

impl RunConfig {
    /// Reads a config file; relative paths become relative to its directory.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |message: String| Error::Config(format!("{}: {message}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let mut c: RunConfig = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut c.model,
            &mut c.strategy,
            &mut c.schedule,
            &mut c.payments,
            &mut c.borrowers,
            &mut c.contacts,
            &mut c.out,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(c)
    }

    /// Flags (`self`, from the command line) over `file`, then checked into options.
    pub fn merge(self, file: RunConfig) -> Result<RunOptions> {
        let need = |v: Option<PathBuf>, key: &str| {
            v.ok_or_else(|| {
                Error::Usage(format!(
                    "`{key}` is needed: give --{key} or set it in the config file"
                ))
            })
        };
        let as_of_text = self.as_of.or(file.as_of);
        let as_of = match as_of_text {
            Some(t) => dates::parse(&t)
                .ok_or_else(|| Error::Usage(format!("as_of: expected YYYY-MM-DD, got {t:?}")))?,
            None => {
                return Err(Error::Usage(
                    "`as-of` is needed: give --as-of or set as_of in the config file".into(),
                ))
            }
        };
        Ok(RunOptions {
            model: need(self.model.or(file.model), "model")?,
            strategy: need(self.strategy.or(file.strategy), "strategy")?,
            inputs: InputPaths {
                schedule: need(self.schedule.or(file.schedule), "schedule")?,
                payments: need(self.payments.or(file.payments), "payments")?,
                borrowers: self.borrowers.or(file.borrowers),
                contacts: self.contacts.or(file.contacts),
                labels: None,
            },
            as_of,
            out: need(self.out.or(file.out), "out")?,
            tolerance: self
                .tolerance
                .or(file.tolerance)
                .unwrap_or(crate::ledger::DEFAULT_TOLERANCE),
            strict: self.strict.or(file.strict).unwrap_or(false),
        })
    }
}

/// One input file in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct InputEntry {
    /// Contract table.
    pub table: String,
    /// Path as given.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Rows in the file: `rows = used + rejected + unmatched`.
    pub rows: u64,
    /// Rows that entered the computation.
    pub used: u64,
    /// Rows rejected (in rejects.parquet, with the reason).
    pub rejected: u64,
    /// Valid rows that matched nothing (borrowers rows without a schedule).
    pub unmatched: u64,
    /// sha256 of the file.
    pub sha256: String,
}

/// manifest.json: what the run read, decided and wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Run id (a hash of inputs, model, strategy and as-of date).
    pub run_id: String,
    /// The as-of date.
    pub as_of: String,
    /// dunning version.
    pub dunning_version: String,
    /// Wall time per stage in seconds.
    pub stage_seconds: BTreeMap<String, f64>,
    /// Input files.
    pub inputs: Vec<InputEntry>,
    /// Model name and version.
    pub model: String,
    /// sha256 of model.json.
    pub model_sha256: String,
    /// Strategy version.
    pub strategy: String,
    /// sha256 of the strategy file.
    pub strategy_sha256: String,
    /// Borrowers scored.
    pub scored: u64,
    /// Borrowers outside the population (neither overdue nor due soon).
    pub outside_population: u64,
    /// Rows rejected, over all tables.
    pub rejected: u64,
    /// Counts by DPD bucket.
    pub by_dpd_bucket: BTreeMap<String, u64>,
    /// Counts by the risk band the strategy used: the model's band, or the
    /// strategy's own band when it cuts p_repay itself (`band_cutoffs`).
    pub by_band: BTreeMap<String, u64>,
    /// Counts by treatment.
    pub by_treatment: BTreeMap<String, u64>,
    /// Counts by strategy bucket and treatment ("bucket/treatment").
    pub by_bucket_and_treatment: BTreeMap<String, u64>,
    /// The strategy's DPD buckets, in order (the rows of [`Manifest::summary`]).
    pub buckets: Vec<String>,
    /// The model's validation AUC and KS.
    pub model_validation: BTreeMap<String, f64>,
    /// Files written.
    pub outputs: Vec<String>,
    /// "ok" (a failed run writes no manifest).
    pub status: String,
}

impl Manifest {
    /// A summary for people: the run, the model's validation metrics,
    /// borrowers by DPD bucket x treatment, and where the outputs are.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        const TREATMENTS: [&str; 3] = ["soft", "standard", "escalated"];
        let metric = |k: &str| self.model_validation.get(k).copied().unwrap_or(f64::NAN);
        let mut out = String::new();
        let _ = writeln!(out, "dunning run {} as of {}", self.run_id, self.as_of);
        let _ = writeln!(
            out,
            "model {} (validation AUC {:.3}, KS {:.3}); strategy {}",
            self.model,
            metric("auc"),
            metric("ks"),
            self.strategy
        );
        let _ = writeln!(
            out,
            "{} borrowers scored, {} outside the population, {} input rows rejected\n",
            self.scored, self.outside_population, self.rejected
        );
        let _ = writeln!(
            out,
            "{:<12}{:>11}{:>11}{:>11}{:>11}",
            "dpd bucket", "soft", "standard", "escalated", "total"
        );
        let mut totals = [0u64; 4];
        for bucket in &self.buckets {
            let counts = TREATMENTS.map(|t| {
                self.by_bucket_and_treatment
                    .get(&format!("{bucket}/{t}"))
                    .copied()
                    .unwrap_or(0)
            });
            let row = [counts[0], counts[1], counts[2], counts.iter().sum()];
            for (t, v) in totals.iter_mut().zip(row) {
                *t += v;
            }
            let _ = writeln!(
                out,
                "{bucket:<12}{:>11}{:>11}{:>11}{:>11}",
                row[0], row[1], row[2], row[3]
            );
        }
        let _ = writeln!(
            out,
            "{:<12}{:>11}{:>11}{:>11}{:>11}\n",
            "total", totals[0], totals[1], totals[2], totals[3]
        );
        let _ = writeln!(out, "outputs:");
        for o in &self.outputs {
            let _ = writeln!(out, "  {o}");
        }
        out
    }
}

/// Takes the run lock on a night's output directory.
fn lock(out_dir: &Path) -> Result<output::dir::DirLock> {
    output::dir::DirLock::acquire(out_dir).map_err(|e| match e {
        output::dir::LockError::Busy { path, pid } => Error::Busy(format!(
            "{}: another dunning run{} is writing this output directory (lock {})",
            out_dir.display(),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
            path.display()
        )),
        output::dir::LockError::Io(e) => Error::Output(e),
    })
}

fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let bytes = std::fs::read(path).map_err(|source| {
        Error::Contract(crate::contract::ContractError::Open {
            path: path.to_path_buf(),
            source,
        })
    })?;
    Ok((bytes.len() as u64, format!("{:x}", Sha256::digest(&bytes))))
}

/// The scored rows, in `OUT/AS_OF/`.
pub const SCORED: &str = "scored.parquet";
/// The rejected input rows, when there are any.
pub const REJECTS: &str = "rejects.parquet";
/// What the run read, decided and wrote.
pub const MANIFEST: &str = "manifest.json";

/// The stages of a nightly run, in order (for progress displays).
pub const STAGES: [&str; 5] = [
    "read and validate",
    "features",
    "score",
    "strategy",
    "write",
];

/// Runs the nightly job; returns its manifest.
pub fn run(opts: &RunOptions) -> Result<Manifest> {
    run_observed(opts, None)
}

/// [`run`], reporting each of the [`STAGES`] to `observer` as it ends.
pub fn run_observed(
    opts: &RunOptions,
    observer: Option<crate::jobs::Observer>,
) -> Result<Manifest> {
    let mut clock = Stopwatch::observed(observer);
    let strategy_bytes = std::fs::read(&opts.strategy).map_err(|source| {
        Error::Strategy(StrategyError::Read {
            path: opts.strategy.clone(),
            source,
        })
    })?;
    let strategy_text = String::from_utf8_lossy(&strategy_bytes);
    let strategy = Strategy::parse(&opts.strategy, &strategy_text)?;
    let strategy_sha256 = format!("{:x}", Sha256::digest(&strategy_bytes));
    let out_dir = opts.out.join(dates::format(opts.as_of));
    let _lock = lock(&out_dir)?;

    let s = load_and_score(
        &opts.model,
        &opts.inputs,
        opts.as_of,
        opts.tolerance,
        opts.strict,
        &mut clock,
    )?;
    let missing: Vec<&str> = s
        .model
        .bands
        .iter()
        .map(|b| b.band.as_str())
        .filter(|b| !strategy.bands.iter().any(|x| x == b))
        .collect();
    // With p_repay cut-offs the strategy bands its borrowers itself.
    if strategy.band_cutoffs.is_none() && !missing.is_empty() {
        return Err(Error::Strategy(StrategyError::Invalid {
            path: opts.strategy.clone(),
            line: 1,
            key: "bands".into(),
            message: format!("the model's band(s) {missing:?} are not in the strategy's bands"),
        }));
    }

    // Inputs: hashes for the manifest and the run id.
    let mut run_hash = Sha256::new();
    let mut inputs = Vec::new();
    let files = [
        ("schedule", Some(&opts.inputs.schedule)),
        ("payments", Some(&opts.inputs.payments)),
        ("borrowers", opts.inputs.borrowers.as_ref()),
        ("contacts", opts.inputs.contacts.as_ref()),
    ];
    for (table, path) in files {
        let Some(path) = path else { continue };
        let (size, sha) = sha256_file(path)?;
        run_hash.update(table.as_bytes());
        run_hash.update(sha.as_bytes());
        let report = s.ledger.reports.iter().find(|r| r.table == table);
        inputs.push(InputEntry {
            table: table.into(),
            path: path.display().to_string(),
            size,
            rows: report.map_or(0, |r| r.rows_read),
            used: report.map_or(0, |r| r.rows_used),
            rejected: report.map_or(0, |r| r.rows_rejected),
            unmatched: report.map_or(0, |r| r.rows_unmatched),
            sha256: sha,
        });
    }
    run_hash.update(s.model_sha256.as_bytes());
    run_hash.update(strategy_sha256.as_bytes());
    run_hash.update(dates::format(opts.as_of).as_bytes());
    let run_id = format!("{:x}", run_hash.finalize())[..16].to_string();

    // Decisions, in scored-row (borrower) order.
    let fs = &s.features;
    let width = fs.names.len();
    let dpd_col = fs.position("dpd").expect("dpd is a ledger feature");
    let overdue_col = fs
        .position("overdue_amount")
        .expect("overdue_amount is a ledger feature");
    let action_day = opts.as_of + 1;
    let mut decisions = Vec::with_capacity(s.rows.len());
    let mut arms = Vec::with_capacity(s.rows.len());
    let mut priority = Vec::with_capacity(s.rows.len());
    let mut bands = Vec::with_capacity(s.rows.len());
    for r in &s.rows {
        let b = fs.rows[r.row].borrower;
        let values = &fs.values[r.row * width..(r.row + 1) * width];
        let id = s.ledger.borrowers.display(b);
        let band_name = &s.model.bands[r.band].band;
        let next_due = s
            .ledger
            .schedule
            .of(b)
            .iter()
            .map(|i| i.due)
            .filter(|&d| d > opts.as_of)
            .min();
        let contact = match (&strategy.contact_rules, &s.ledger.contacts) {
            (Some(rules), Some(c)) => Some(contact::status(rules, c.of(b), action_day)),
            (Some(rules), None) => Some(contact::status(rules, &[], action_day)),
            _ => None,
        };
        let a = arm(&strategy, &id);
        let state = BorrowerState {
            dpd: values[dpd_col] as i64,
            band: strategy.band_of_p(r.p_repay).unwrap_or_else(|| {
                strategy
                    .bands
                    .iter()
                    .position(|x| x == band_name)
                    .unwrap_or(strategy.bands.len() - 1)
            }),
            days_to_next_due: next_due.map(|d| i64::from(d - opts.as_of)),
            flags: s.ledger.flags[b as usize],
            contact,
            arm: a,
        };
        decisions.push(decide(&strategy, &state));
        bands.push(state.band);
        arms.push(a);
        priority.push(values[overdue_col] * (1.0 - r.p_repay));
    }
    apply_capacity(&strategy, &mut decisions, &priority);
    clock.lap("strategy");

    let batch = tables::run_table(
        &s.ledger,
        fs,
        &s.model,
        &s.rows,
        &s.model_sha256,
        &strategy,
        &decisions,
        &arms,
        &run_id,
    );
    let stage = output::dir::StagedDir::create(&out_dir)?;
    output::write_parquet(
        &stage.path().join(SCORED),
        batch.schema(),
        std::slice::from_ref(&batch),
    )?;
    let rejected = !s.ledger.rejects.is_empty();
    if rejected {
        output::write_parquet(
            &stage.path().join(REJECTS),
            tables::rejects_schema(),
            &[tables::rejects_table(&s.ledger.rejects)],
        )?;
    }
    clock.lap("write");

    let mut m = Manifest {
        run_id,
        as_of: dates::format(opts.as_of),
        dunning_version: env!("CARGO_PKG_VERSION").into(),
        stage_seconds: clock
            .laps
            .iter()
            .map(|(n, d)| (n.to_string(), d.as_secs_f64()))
            .collect(),
        inputs,
        model: s.model.version.clone(),
        model_sha256: s.model_sha256.clone(),
        strategy: strategy.version.clone(),
        strategy_sha256,
        scored: s.rows.len() as u64,
        outside_population: s.population.counts[0].outside_population,
        rejected: s.ledger.rejects.len() as u64,
        by_dpd_bucket: BTreeMap::new(),
        by_band: BTreeMap::new(),
        by_treatment: BTreeMap::new(),
        by_bucket_and_treatment: BTreeMap::new(),
        buckets: strategy.buckets.iter().map(|b| b.name.clone()).collect(),
        model_validation: [
            ("auc".to_string(), s.model.validation.auc),
            ("ks".to_string(), s.model.validation.ks),
        ]
        .into(),
        outputs: [Some(SCORED), rejected.then_some(REJECTS), Some(MANIFEST)]
            .into_iter()
            .flatten()
            .map(|f| out_dir.join(f).display().to_string())
            .collect(),
        status: "ok".into(),
    };
    for ((r, d), &band) in s.rows.iter().zip(&decisions).zip(&bands) {
        let dpd = fs.values[r.row * width + dpd_col];
        *m.by_dpd_bucket
            .entry(scoring::dpd_bucket(dpd).into())
            .or_default() += 1;
        *m.by_band.entry(strategy.bands[band].clone()).or_default() += 1;
        *m.by_treatment
            .entry(d.treatment.as_str().into())
            .or_default() += 1;
        let bucket = &strategy.buckets[strategy.bucket(dpd as i64)].name;
        *m.by_bucket_and_treatment
            .entry(format!("{bucket}/{}", d.treatment.as_str()))
            .or_default() += 1;
    }
    output::write_json(&stage.path().join(MANIFEST), &m)?;
    stage.publish()?;
    Ok(m)
}
