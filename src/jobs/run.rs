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
//!
//! With `--pseudonymize-ids` the night's files carry keyed pseudonyms instead
//! of borrower ids ([`crate::pseudonym`], [`output::pseudonymize`]). They are
//! put in at the very last write, after partitions are merged and capacity
//! is applied by the real ids, so pseudonymized and plain runs decide alike.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::contract::read::SharedGroups;
use crate::contract::{InputPaths, LoadOptions, Partition, PartitionScheme};
use crate::dates::{self, Day};
use crate::error::{Error, Result};
use crate::jobs::score::load_and_score;
use crate::jobs::Stopwatch;
use crate::output::pseudonymize::{pseudonymize_rejects, PseudonymizedScored, MAPPING};
use crate::output::{self, tables};
use crate::pseudonym::{PseudonymKey, KEY_ENV};
use crate::report::drift::{self, DriftReport, Thresholds};
use crate::strategy::arms::{apply_capacity, arm, capacity_demotions, capacity_priority};
use crate::strategy::contact;
use crate::strategy::{decide, BorrowerState, Strategy, StrategyError, Treatment};

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
    /// Number of borrower partitions (1: none; see [`crate::contract::Partition`]).
    pub partitions: u32,
    /// Score only this partition, into `OUT/AS_OF.part-I-of-N/` (None: all).
    pub partition: Option<u32>,
    /// Write keyed pseudonyms instead of borrower ids (None: the ids).
    pub pseudonym: Option<PseudonymOptions>,
    /// When the population drift (PSI of the score, CSI of each feature
    /// against the model's training population) warns and fails the night.
    pub drift: Thresholds,
    /// How many scored partitions a partitioned run that writes the night
    /// in order may keep in memory, waiting to be written; a partition
    /// that ends further ahead of the writer goes through a scratch file
    /// (0: every one does). [`HELD_PARTITIONS`] unless testing that path.
    pub held_partitions: u32,
}

/// The default [`RunOptions::held_partitions`]: as many as are scored at a
/// time, so that memory stays a few partitions' worth.
pub const HELD_PARTITIONS: u32 = PARTITIONS_IN_FLIGHT as u32;

/// `drift_fail_above` / `--drift-fail-above`: a PSI, or `off` (never fail).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FailAbove {
    /// Never fail on drift.
    Off,
    /// Fail when a PSI is above this.
    Psi(f64),
}

impl FailAbove {
    /// Parses a PSI (a finite number > 0) or `off`.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        match text.trim() {
            "off" => Ok(FailAbove::Off),
            t => match t.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(FailAbove::Psi(v)),
                _ => Err(format!(
                    "expected a PSI > 0 such as 0.25, or \"off\", got {text:?}"
                )),
            },
        }
    }

    /// The threshold (None: off).
    pub fn value(self) -> Option<f64> {
        match self {
            FailAbove::Off => None,
            FailAbove::Psi(v) => Some(v),
        }
    }
}

impl<'de> Deserialize<'de> for FailAbove {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FailAbove;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("drift_fail_above: a PSI > 0 such as 0.25, or \"off\"")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<FailAbove, E> {
                Ok(FailAbove::Psi(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<FailAbove, E> {
                Ok(FailAbove::Psi(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<FailAbove, E> {
                Ok(FailAbove::Psi(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<FailAbove, E> {
                FailAbove::parse(v).map_err(|e| E::custom(format!("drift_fail_above: {e}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// `--pseudonymize-ids` and its options: where the key is, and whether to
/// write the mapping file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PseudonymOptions {
    /// The key file (None: the key is in the environment variable
    /// [`KEY_ENV`]). The key itself is never an option's value.
    pub key_file: Option<PathBuf>,
    /// Also write the mapping file (borrower_id -> pseudonym) into the
    /// night's directory.
    pub map: bool,
}

impl PseudonymOptions {
    /// The options of the flags `--pseudonymize-ids`, `--pseudonym-key-file`
    /// and `--pseudonym-map`: None without `--pseudonymize-ids`, and a usage
    /// error when the other two are given without it.
    pub fn from_flags(
        pseudonymize: bool,
        key_file: Option<PathBuf>,
        map: bool,
    ) -> Result<Option<Self>> {
        if !pseudonymize {
            if key_file.is_some() || map {
                return Err(Error::Usage(
                    "--pseudonym-key-file and --pseudonym-map need --pseudonymize-ids".into(),
                ));
            }
            return Ok(None);
        }
        Ok(Some(Self { key_file, map }))
    }

    /// Reads and checks the key (from [`KEY_ENV`] or the key file).
    fn resolve(&self) -> Result<Pseudonyms> {
        let key = PseudonymKey::resolve(std::env::var_os(KEY_ENV), self.key_file.as_deref())?;
        Ok(Pseudonyms { key, map: self.map })
    }
}

/// A checked key and whether to write the mapping file.
struct Pseudonyms {
    key: PseudonymKey,
    map: bool,
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
    /// Number of borrower partitions.
    pub partitions: Option<u32>,
    /// Score only this partition.
    pub partition: Option<u32>,
    /// Write keyed pseudonyms instead of borrower ids.
    pub pseudonymize_ids: Option<bool>,
    /// The pseudonym key file (the key itself is never a config value).
    pub pseudonym_key_file: Option<PathBuf>,
    /// Also write the mapping file.
    pub pseudonym_map: Option<bool>,
    /// Warn when a PSI of the score or of a feature is above this (default 0.1).
    pub drift_warn_above: Option<f64>,
    /// Fail the night, publishing nothing, when a PSI is above this; `off`
    /// (the default) never fails.
    pub drift_fail_above: Option<FailAbove>,
}

impl RunConfig {
    /// Reads a config file; relative paths become relative to its directory.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |message: String| Error::Config(format!("{}: {message}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        // The message and the line, not toml's excerpt of the file: a
        // mistaken line such as `pseudonym_key = "..."` must not reach the log.
        let mut c: RunConfig = toml::from_str(&text).map_err(|e| {
            bad(match e.span() {
                Some(at) => format!(
                    "line {}: {}",
                    text[..at.start.min(text.len())].matches('\n').count() + 1,
                    e.message()
                ),
                None => e.message().to_string(),
            })
        })?;
        c.check().map_err(bad)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut c.model,
            &mut c.strategy,
            &mut c.schedule,
            &mut c.payments,
            &mut c.borrowers,
            &mut c.contacts,
            &mut c.out,
            &mut c.pseudonym_key_file,
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

    /// Checks the values a config file gives (the same checks the command
    /// line's values get later, made here so that the message names the file).
    fn check(&self) -> std::result::Result<(), String> {
        if let Some(t) = &self.as_of {
            let day = dates::parse(t);
            let range = crate::contract::MIN_DAY..=crate::contract::MAX_DAY;
            if !day.is_some_and(|d| range.contains(&d)) {
                return Err(format!(
                    "as_of: expected a date YYYY-MM-DD between 1900 and 2200, got {t:?}"
                ));
            }
        }
        if let Some(t) = self.tolerance {
            if !(t.is_finite() && t >= 0.0) {
                return Err(format!("tolerance: expected a finite amount >= 0, got {t}"));
            }
        }
        if self.partitions == Some(0) {
            return Err("partitions: expected 1 or more, got 0".into());
        }
        if let (Some(i), Some(n)) = (self.partition, self.partitions) {
            if i >= n {
                return Err(format!("partition: {i} is not below partitions ({n})"));
            }
        }
        if self.drift_warn_above.is_some() || self.drift_fail_above.is_some() {
            self.drift_thresholds(&RunConfig::default()).check()?;
        }
        Ok(())
    }

    /// The drift thresholds of `self` over `file`, over the defaults.
    fn drift_thresholds(&self, file: &RunConfig) -> Thresholds {
        let default = Thresholds::default();
        Thresholds {
            warn_above: self
                .drift_warn_above
                .or(file.drift_warn_above)
                .unwrap_or(default.warn_above),
            fail_above: match self.drift_fail_above.or(file.drift_fail_above) {
                Some(f) => f.value(),
                None => default.fail_above,
            },
        }
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
        let drift = self.drift_thresholds(&file);
        drift.check().map_err(Error::Usage)?;
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
            drift,
            held_partitions: HELD_PARTITIONS,
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
            partitions: self.partitions.or(file.partitions).unwrap_or(1),
            partition: self.partition.or(file.partition),
            pseudonym: PseudonymOptions::from_flags(
                self.pseudonymize_ids
                    .or(file.pseudonymize_ids)
                    .unwrap_or(false),
                self.pseudonym_key_file.or(file.pseudonym_key_file),
                self.pseudonym_map.or(file.pseudonym_map).unwrap_or(false),
            )?,
        })
    }
}

/// One input file in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Rows of other partitions (a partition's manifest only; 0 otherwise).
    pub other_partitions: u64,
    /// sha256 of the file.
    pub sha256: String,
}

/// manifest.json: what the run read, decided and wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Run id (a hash of inputs, model, strategy and as-of date).
    pub run_id: String,
    /// The as-of date.
    pub as_of: String,
    /// dunning version.
    pub dunning_version: String,
    /// The borrower partition this manifest covers (None: the whole night).
    pub partition: Option<Partition>,
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
    /// Whether capacity fallbacks are applied: true for a night, false for
    /// one partition's output (capacity is over the whole night, so it is
    /// applied when the partitions are combined).
    pub capacity_applied: bool,
    /// Whether borrower_id in scored.parquet and rejects.parquet holds keyed
    /// pseudonyms instead of the ids.
    #[serde(default)]
    pub pseudonymized_ids: bool,
    /// The pseudonym key's fingerprint (see
    /// [`PseudonymKey::fingerprint`]); null without pseudonyms.
    #[serde(default)]
    pub pseudonym_key_fingerprint: Option<String>,
    /// Population drift of the scored borrowers against the model's
    /// training population: the PSI of the score and each feature's CSI,
    /// with tonight's counts per bin (see [`drift`]). In a partition's
    /// manifest, that share's counts; the night's are their sums.
    #[serde(default)]
    pub drift: Option<DriftReport>,
    /// The run's peak resident memory in bytes (Linux; null elsewhere).
    pub peak_rss_bytes: Option<u64>,
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
            "{} borrowers scored, {} outside the population, {} input rows rejected",
            self.scored, self.outside_population, self.rejected
        );
        if let Some(d) = &self.drift {
            let worst = d.features.iter().max_by(|a, b| a.psi.total_cmp(&b.psi));
            let _ = writeln!(
                out,
                "drift {}: score PSI {:.3}{}",
                d.status.as_str(),
                d.score.psi,
                worst
                    .map(|w| format!(", largest feature CSI {:.3} ({})", w.psi, w.name))
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(out);
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

/// The size and SHA-256 of a file, read a block at a time: an input file
/// is hundreds of MB, and reading it whole would cost as much fresh memory.
/// Stops with an error at the next block once `stop` is set.
fn sha256_file(path: &Path, stop: &AtomicBool) -> std::io::Result<(u64, String)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(std::io::Error::other(
                "hashing stopped: the run ended first",
            ));
        }
        match file.read(&mut block) {
            Ok(0) => break,
            Ok(n) => {
                hash.update(&block[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((size, format!("{:x}", hash.finalize())))
}

/// The input files' sizes and hashes, and the run id made from them.
#[derive(Debug)]
struct Hashed {
    /// (table, path, size, sha256) of each input file.
    files: Vec<(&'static str, PathBuf, u64, String)>,
    run_id: String,
}

/// Why an input file could not be hashed (kept to give every partition
/// that asks the same error: an I/O error cannot be cloned).
#[derive(Debug)]
struct HashFailure {
    path: PathBuf,
    kind: std::io::ErrorKind,
    message: String,
}

/// A file's size and SHA-256, or why it could not be hashed.
type FileHash = std::result::Result<(u64, String), HashFailure>;

/// The input files' hashes, computed on threads of their own while the
/// partitions start reading (the hash reads every byte of every file, and
/// the largest file alone took the first tenth of a 1M run's wall time
/// with a core idle). The first caller of [`InputHashes::get`] waits for them;
/// dropped before that (a run that failed), it stops them.
struct InputHashes {
    threads: std::sync::Mutex<Vec<std::thread::JoinHandle<FileHash>>>,
    /// Set on drop: the threads still hashing stop at their next block.
    stop: Arc<AtomicBool>,
    tables: Vec<(&'static str, PathBuf)>,
    /// Hashes of the model and strategy files and the as-of date, which
    /// the run id also covers.
    rest: [String; 3],
    done: std::sync::OnceLock<std::result::Result<Hashed, HashFailure>>,
}

impl InputHashes {
    /// Starts hashing `tables`' files.
    fn start(tables: Vec<(&'static str, PathBuf)>, rest: [String; 3]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = tables
            .iter()
            .map(|(_, path)| {
                let path = path.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    sha256_file(&path, &stop).map_err(|e| HashFailure {
                        kind: e.kind(),
                        message: e.to_string(),
                        path,
                    })
                })
            })
            .collect();
        Self {
            threads: std::sync::Mutex::new(threads),
            stop,
            tables,
            rest,
            done: std::sync::OnceLock::new(),
        }
    }

    /// The hashes and the run id, once every file is hashed; the first
    /// file (in table order) that failed otherwise.
    fn get(&self) -> Result<&Hashed> {
        let done = self.done.get_or_init(|| {
            let threads = std::mem::take(
                &mut *self
                    .threads
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            // The handles are taken once: were this closure to unwind after
            // taking them, a later call must fail, not hash nothing.
            if threads.len() != self.tables.len() {
                return Err(HashFailure {
                    path: self.tables.first().map(|t| t.1.clone()).unwrap_or_default(),
                    kind: std::io::ErrorKind::Other,
                    message: "an earlier attempt to hash the inputs was interrupted".into(),
                });
            }
            let mut files = Vec::with_capacity(threads.len());
            let mut failure = None;
            for ((table, path), t) in self.tables.iter().zip(threads) {
                let r = t.join().unwrap_or_else(|_| {
                    Err(HashFailure {
                        path: path.clone(),
                        kind: std::io::ErrorKind::Other,
                        message: "the thread hashing it panicked".into(),
                    })
                });
                match r {
                    Ok((size, sha)) => files.push((*table, path.clone(), size, sha)),
                    Err(f) => {
                        failure.get_or_insert(f);
                    }
                }
            }
            if let Some(f) = failure {
                return Err(f);
            }
            let mut run_hash = Sha256::new();
            for (table, _, _, sha) in &files {
                run_hash.update(table.as_bytes());
                run_hash.update(sha.as_bytes());
            }
            for h in &self.rest {
                run_hash.update(h.as_bytes());
            }
            let run_id = format!("{:x}", run_hash.finalize())[..16].to_string();
            Ok(Hashed { files, run_id })
        });
        done.as_ref().map_err(|f| {
            Error::Contract(crate::contract::ContractError::Open {
                path: f.path.clone(),
                source: std::io::Error::new(f.kind, f.message.clone()),
            })
        })
    }
}

impl Drop for InputHashes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
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

/// What every part of a night shares: the strategy, the input hashes and
/// the run id.
struct Prepared {
    strategy: Strategy,
    strategy_sha256: String,
    model_sha256: String,
    /// The input files' hashes and the run id (being computed).
    hashes: InputHashes,
    /// How borrowers map to partitions (when partitioned).
    scheme: PartitionScheme,
}

/// Reads and checks a strategy file; returns it with the file's sha256.
pub fn read_strategy(path: &Path) -> Result<(Strategy, String)> {
    let bytes = std::fs::read(path).map_err(|source| {
        Error::Strategy(StrategyError::Read {
            path: path.to_path_buf(),
            source,
        })
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        Error::Strategy(StrategyError::Parse {
            path: path.to_path_buf(),
            message: format!("not UTF-8 text: {e}"),
        })
    })?;
    let strategy = Strategy::parse(path, text)?;
    Ok((strategy, format!("{:x}", Sha256::digest(&bytes))))
}

fn prepare(opts: &RunOptions) -> Result<Prepared> {
    let (strategy, strategy_sha256) = read_strategy(&opts.strategy)?;
    let model_path = crate::jobs::score::model_json(&opts.model);
    let model_sha256 = match std::fs::read(&model_path) {
        Ok(bytes) => format!("{:x}", Sha256::digest(&bytes)),
        Err(source) => {
            return Err(Error::Model(crate::model::ModelError::Read {
                path: model_path,
                source,
            }))
        }
    };
    let listed = [
        ("schedule", Some(&opts.inputs.schedule)),
        ("payments", Some(&opts.inputs.payments)),
        ("borrowers", opts.inputs.borrowers.as_ref()),
        ("contacts", opts.inputs.contacts.as_ref()),
    ];
    let tables = listed
        .into_iter()
        .filter_map(|(t, p)| p.map(|p| (t, p.clone())))
        .collect();
    let hashes = InputHashes::start(
        tables,
        [
            model_sha256.clone(),
            strategy_sha256.clone(),
            dates::format(opts.as_of),
        ],
    );
    let scheme = if opts.partitions > 1 {
        let scheme = crate::contract::partition_scheme(&opts.inputs.schedule, opts.partitions)?;
        if scheme == PartitionScheme::Hash {
            log::warn!(
                "{}: borrower_id is not an integer column stored in id order, so the {} partitions \
                 are a hash of the id and each decodes every row group of every input \
                 (sorting the inputs by borrower_id lets each decode only its own)",
                opts.inputs.schedule.display(),
                opts.partitions
            );
        }
        scheme
    } else {
        PartitionScheme::Hash
    };
    Ok(Prepared {
        scheme,
        strategy,
        strategy_sha256,
        model_sha256,
        hashes,
    })
}

/// What scoring one partition (or the whole population) produced.
struct Part {
    /// The scored rows with their decisions before capacity, by borrower_id.
    batch: RecordBatch,
    rejects: Vec<crate::contract::Reject>,
    manifest: Manifest,
}

/// Reads, validates, builds features, scores and decides for `partition`'s
/// borrowers (all when None). Capacity is left to [`finish`], which sees
/// the whole night.
fn score_part(
    opts: &RunOptions,
    prep: &Prepared,
    partition: Option<Partition>,
    shared: Option<Arc<SharedGroups>>,
    clock: &mut Stopwatch,
) -> Result<Part> {
    let strategy = &prep.strategy;
    let s = load_and_score(
        &opts.model,
        &opts.inputs,
        opts.as_of,
        opts.tolerance,
        LoadOptions {
            strict: opts.strict,
            partition: partition.clone(),
            shared,
            ..LoadOptions::default()
        },
        clock,
    )?;
    if s.model_sha256 != prep.model_sha256 {
        return Err(Error::Config(format!(
            "{}: the model changed while the run was reading it",
            opts.model.display()
        )));
    }
    check_bands(
        strategy,
        &opts.strategy,
        s.model.bands.iter().map(|b| b.band.as_str()),
    )?;
    let drift = night_drift(&s, opts.drift)?;
    let decided = decide_all(strategy, &s, opts.as_of);
    clock.lap("strategy")?;

    // The input hashes were computed while this partition was read. A file
    // that could not be hashed fails the run here, before anything is
    // written (a file that cannot be read has failed the load before).
    let hashed = prep.hashes.get()?;
    let inputs = hashed
        .files
        .iter()
        .map(|(table, path, size, sha)| {
            let report = s.ledger.reports.iter().find(|r| r.table == *table);
            InputEntry {
                table: table.to_string(),
                path: path.display().to_string(),
                size: *size,
                rows: report.map_or(0, |r| r.rows_read),
                used: report.map_or(0, |r| r.rows_used),
                rejected: report.map_or(0, |r| r.rows_rejected),
                unmatched: report.map_or(0, |r| r.rows_unmatched),
                other_partitions: report.map_or(0, |r| r.rows_other_partitions),
                sha256: sha.clone(),
            }
        })
        .collect();

    let batch = tables::run_table(
        &s.ledger,
        &s.features,
        &s.model,
        &s.rows,
        &s.model_sha256,
        strategy,
        &decided.decisions,
        &decided.arms,
        &decided.next_due,
        &hashed.run_id,
    );
    let manifest = Manifest {
        run_id: hashed.run_id.clone(),
        as_of: dates::format(opts.as_of),
        dunning_version: env!("CARGO_PKG_VERSION").into(),
        partition,
        stage_seconds: BTreeMap::new(),
        inputs,
        model: s.model.version.clone(),
        model_sha256: s.model_sha256.clone(),
        strategy: strategy.version.clone(),
        strategy_sha256: prep.strategy_sha256.clone(),
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
        capacity_applied: false,
        pseudonymized_ids: false,
        pseudonym_key_fingerprint: None,
        drift: Some(drift),
        peak_rss_bytes: None,
        outputs: Vec::new(),
        status: "ok".into(),
    };
    let rejects = s.ledger.rejects;
    Ok(Part {
        batch,
        rejects,
        manifest,
    })
}

/// Checks that the strategy at `path` can band every borrower: each of the
/// model's `bands` is one of the strategy's, unless the strategy cuts p_repay
/// into bands itself (`band_cutoffs`).
pub fn check_bands<'a>(
    strategy: &Strategy,
    path: &Path,
    bands: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    let missing: Vec<&str> = bands
        .into_iter()
        .filter(|b| !strategy.bands.iter().any(|x| x == b))
        .collect();
    // With p_repay cut-offs the strategy bands its borrowers itself.
    if strategy.band_cutoffs.is_none() && !missing.is_empty() {
        return Err(Error::Strategy(StrategyError::Invalid {
            path: path.to_path_buf(),
            line: 1,
            key: "bands".into(),
            message: format!("the model's band(s) {missing:?} are not in the strategy's bands"),
        }));
    }
    Ok(())
}

/// The drift of the scored rows (the rows of scored.parquet) against the
/// model's training distributions.
fn night_drift(s: &crate::jobs::score::Scored, thresholds: Thresholds) -> Result<DriftReport> {
    let cols = crate::scoring::feature_columns(&s.model, &s.features)?;
    let rows: Vec<usize> = s.rows.iter().map(|r| r.row).collect();
    let scores: Vec<f64> = s.rows.iter().map(|r| f64::from(r.score)).collect();
    let width = s.features.names.len();
    let t = drift::tally(&s.model, &s.features.values, width, &cols, &rows, &scores)?;
    Ok(t.report(thresholds))
}

/// The decisions of a whole night as `dunning run` writes them, without
/// writing anything: [`decide_all`], then capacity over all rows in borrower
/// order (the order of an unpartitioned night's scored.parquet), with the
/// run's priority ([`crate::strategy::arms::capacity_priority`]). Also
/// returns each row's treatment before capacity.
pub fn decide_night(strategy: &Strategy, s: &crate::jobs::score::Scored, as_of: Day) -> Night {
    let Decided {
        mut decisions,
        arms,
        ..
    } = decide_all(strategy, s, as_of);
    let before_capacity = decisions.iter().map(|d| d.treatment).collect();
    let fs = &s.features;
    let width = fs.names.len();
    let overdue = fs
        .position("overdue_amount")
        .expect("overdue_amount is a ledger feature");
    let priority: Vec<f64> = s
        .rows
        .iter()
        .map(|r| capacity_priority(fs.values[r.row * width + overdue], r.p_repay))
        .collect();
    apply_capacity(strategy, &mut decisions, &priority);
    Night {
        decisions,
        arms,
        before_capacity,
    }
}

/// A night's decisions (see [`decide_night`]), one per scored row, in row order.
#[derive(Debug, Clone)]
pub struct Night {
    /// The decisions, capacity applied.
    pub decisions: Vec<crate::strategy::Decision>,
    /// Each row's arm.
    pub arms: Vec<crate::strategy::arms::Arm>,
    /// Each row's treatment before capacity.
    pub before_capacity: Vec<Treatment>,
}

/// What the strategy decided for each scored row, in row order.
#[derive(Debug)]
pub struct Decided {
    /// The decisions (capacity not yet applied).
    pub decisions: Vec<crate::strategy::Decision>,
    /// The champion/challenger arm of each row.
    pub arms: Vec<crate::strategy::arms::Arm>,
    /// The next installment due after the as-of date (what the preventive
    /// reminder looked at, and the scored file's `next_due_date`).
    pub next_due: Vec<Option<Day>>,
}

/// The strategy's decision and arm for every scored row, in row order
/// (capacity not yet applied).
pub fn decide_all(strategy: &Strategy, s: &crate::jobs::score::Scored, as_of: Day) -> Decided {
    decide_rows(strategy, &s.ledger, &s.features, &s.model, &s.rows, as_of)
}

/// [`decide_all`] for `rows` of the snapshot at `as_of` in `fs` (which may
/// hold other snapshots too, as a backtest's does).
pub fn decide_rows(
    strategy: &Strategy,
    ledger: &crate::contract::Ledger,
    fs: &crate::ledger::FeatureSet,
    model: &crate::model::Model,
    rows: &[crate::scoring::ScoredRow],
    as_of: Day,
) -> Decided {
    let width = fs.names.len();
    let dpd_col = fs.position("dpd").expect("dpd is a ledger feature");
    let action_day = as_of + 1;
    let mut decisions = Vec::with_capacity(rows.len());
    let mut arms = Vec::with_capacity(rows.len());
    let mut next_dues = Vec::with_capacity(rows.len());
    for r in rows {
        let b = fs.rows[r.row].borrower;
        let values = &fs.values[r.row * width..(r.row + 1) * width];
        let next_due = crate::ledger::next_due_date(ledger, b, as_of);
        let contact = match (&strategy.contact_rules, &ledger.contacts) {
            (Some(rules), Some(c)) => Some(contact::status(rules, c.of(b), action_day)),
            (Some(rules), None) => Some(contact::status(rules, &[], action_day)),
            _ => None,
        };
        // The arm hashes the id as the user gave it (only when there is a
        // challenger to assign).
        let a = match strategy.challenger {
            Some(_) => arm(strategy, &ledger.borrowers.display(b)),
            None => crate::strategy::arms::Arm::Champion,
        };
        let state = BorrowerState {
            dpd: values[dpd_col] as i64,
            band: strategy_band(strategy, r.p_repay, &model.bands[r.band].band),
            days_to_next_due: next_due.map(|d| i64::from(d - as_of)),
            flags: ledger.flags[b as usize],
            contact,
            arm: a,
        };
        decisions.push(decide(strategy, &state));
        arms.push(a);
        next_dues.push(next_due);
    }
    Decided {
        decisions,
        arms,
        next_due: next_dues,
    }
}

/// The strategy's band index of a borrower: by its own cut-offs on p_repay,
/// or the model's band's position in the strategy's bands.
fn strategy_band(strategy: &Strategy, p_repay: f64, model_band: &str) -> usize {
    strategy.band_index(p_repay, model_band)
}

/// Where the night's scored rows come from when finishing.
enum Scored {
    /// One batch in memory (an unpartitioned run).
    Batch(RecordBatch),
    /// Partition files, each sorted by borrower_id.
    Files(Vec<PathBuf>),
}

/// Scored rows in borrower order, a bounded batch at a time.
enum ScoredStream {
    Batch(RecordBatch, usize),
    Merge(output::merge::SortedMerge),
}

impl Scored {
    fn stream(&self) -> Result<ScoredStream> {
        Ok(match self {
            Scored::Batch(b) => ScoredStream::Batch(b.clone(), 0),
            Scored::Files(paths) => {
                ScoredStream::Merge(output::merge::SortedMerge::open(paths, "borrower_id")?)
            }
        })
    }
}

impl ScoredStream {
    fn schema(&self) -> arrow::datatypes::SchemaRef {
        match self {
            ScoredStream::Batch(b, _) => b.schema(),
            ScoredStream::Merge(m) => m.schema(),
        }
    }
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        match self {
            ScoredStream::Batch(b, at) => {
                if *at >= b.num_rows() {
                    return Ok(None);
                }
                let n = output::merge::MERGE_BATCH_ROWS.min(b.num_rows() - *at);
                let out = b.slice(*at, n);
                *at += n;
                Ok(Some(out))
            }
            ScoredStream::Merge(m) => Ok(m.next_batch()?),
        }
    }
}

fn column<'a, T: arrow::array::Array + 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .unwrap_or_else(|| panic!("scored tables have a {name} column of the documented type"))
}

/// The capacity fallbacks of the whole night: merged row index -> the final
/// treatment and the rule text to append. Ties go to the later borrower.
fn capacity_overrides(
    strategy: &Strategy,
    scored: &Scored,
) -> Result<FxHashMap<usize, (Treatment, String)>> {
    if strategy.capacity.iter().all(Option::is_none) {
        return Ok(FxHashMap::default());
    }
    let mut treatments = Vec::new();
    let mut priority = Vec::new();
    let mut stream = scored.stream()?;
    while let Some(b) = stream.next_batch()? {
        let t: &StringArray = column(&b, "treatment");
        let overdue: &Float64Array = column(&b, "overdue_amount");
        let p: &Float64Array = column(&b, "p_repay");
        for k in 0..b.num_rows() {
            treatments.push(Treatment::parse(t.value(k)).expect("written by this run"));
            priority.push(capacity_priority(overdue.value(k), p.value(k)));
        }
    }
    let mut out: FxHashMap<usize, (Treatment, String)> = FxHashMap::default();
    for (i, from, to) in capacity_demotions(strategy, &mut treatments, &priority) {
        let e = out.entry(i).or_insert((to, String::new()));
        e.0 = to;
        e.1.push_str(&format!(";capacity:{}->{}", from.as_str(), to.as_str()));
    }
    Ok(out)
}

/// `batch` (rows `first..` of the night) with the capacity fallbacks applied.
fn with_overrides(
    strategy: &Strategy,
    batch: RecordBatch,
    first: usize,
    overrides: &FxHashMap<usize, (Treatment, String)>,
) -> Result<RecordBatch> {
    let n = batch.num_rows();
    if !(first..first + n).any(|i| overrides.contains_key(&i)) {
        return Ok(batch);
    }
    let t: &StringArray = column(&batch, "treatment");
    let c: &StringArray = column(&batch, "channel");
    let r: &StringArray = column(&batch, "treatment_rule");
    // Only demoted rows change; the others keep their values (borrowed).
    let demoted = |k: usize| overrides.get(&(first + k));
    let tv: StringArray = (0..n)
        .map(|k| Some(demoted(k).map_or(t.value(k), |(to, _)| to.as_str())))
        .collect();
    let cv: StringArray = (0..n)
        .map(|k| {
            Some(demoted(k).map_or(c.value(k), |(to, _)| {
                strategy.channels[to.index()][0].as_str()
            }))
        })
        .collect();
    let rv: StringArray = (0..n)
        .map(|k| {
            Some(match demoted(k) {
                Some((_, rule)) => std::borrow::Cow::Owned(format!("{}{rule}", r.value(k))),
                None => std::borrow::Cow::Borrowed(r.value(k)),
            })
        })
        .collect();
    let schema = batch.schema();
    let mut columns = batch.columns().to_vec();
    for (name, values) in [("treatment", tv), ("channel", cv), ("treatment_rule", rv)] {
        let i = schema.index_of(name).expect("documented column");
        columns[i] = Arc::new(values);
    }
    RecordBatch::try_new(schema, columns).map_err(|e| Error::Internal(e.to_string()))
}

/// Adds a batch's borrowers to the manifest's counts.
fn count(strategy: &Strategy, m: &mut Manifest, b: &RecordBatch) {
    let dpd: &arrow::array::Int32Array = column(b, "dpd");
    let bucket: &StringArray = column(b, "dpd_bucket");
    let p: &Float64Array = column(b, "p_repay");
    let band: &StringArray = column(b, "risk_band");
    let t: &StringArray = column(b, "treatment");
    // Counted by index per batch, then added to the manifest's maps: no
    // string is built per row.
    fn add(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
        match map.get_mut(key) {
            Some(v) => *v += n,
            None => {
                map.insert(key.to_string(), n);
            }
        }
    }
    let mut by_bucket: Vec<(&str, u64)> = Vec::new();
    let mut by_treatment: Vec<(&str, u64)> = Vec::new();
    let mut by_band = vec![0u64; strategy.bands.len()];
    let mut by_pair: BTreeMap<(usize, &str), u64> = BTreeMap::new();
    fn tally<'a>(v: &mut Vec<(&'a str, u64)>, key: &'a str) {
        match v.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 += 1,
            None => v.push((key, 1)),
        }
    }
    for k in 0..b.num_rows() {
        tally(&mut by_bucket, bucket.value(k));
        tally(&mut by_treatment, t.value(k));
        by_band[strategy_band(strategy, p.value(k), band.value(k))] += 1;
        let sbucket = strategy.bucket(i64::from(dpd.value(k)));
        *by_pair.entry((sbucket, t.value(k))).or_default() += 1;
    }
    for (key, n) in by_bucket {
        add(&mut m.by_dpd_bucket, key, n);
    }
    for (key, n) in by_treatment {
        add(&mut m.by_treatment, key, n);
    }
    for (i, n) in by_band.into_iter().enumerate().filter(|(_, n)| *n > 0) {
        add(&mut m.by_band, &strategy.bands[i], n);
    }
    for ((i, treatment), n) in by_pair {
        let key = format!("{}/{treatment}", strategy.buckets[i].name);
        add(&mut m.by_bucket_and_treatment, &key, n);
    }
}

/// Where the night's scored rows go: straight to scored.parquet, or through
/// the pseudonymizer.
enum ScoredSink<'k> {
    Plain(Box<output::ParquetStream>),
    Pseudonymized(PseudonymizedScored<'k>),
}

impl<'k> ScoredSink<'k> {
    fn create(
        dir: &Path,
        schema: arrow::datatypes::SchemaRef,
        pseudonyms: Option<&'k Pseudonyms>,
    ) -> Result<Self> {
        let dest = dir.join(SCORED);
        Ok(match pseudonyms {
            None => ScoredSink::Plain(Box::new(output::ParquetStream::create(&dest, schema)?)),
            Some(p) => {
                let map = p.map.then(|| dir.join(MAPPING));
                ScoredSink::Pseudonymized(PseudonymizedScored::create(
                    &p.key,
                    &dest,
                    map.as_deref(),
                    &schema,
                )?)
            }
        })
    }

    fn write(&mut self, b: &RecordBatch) -> Result<()> {
        match self {
            ScoredSink::Plain(w) => w.write(b)?,
            ScoredSink::Pseudonymized(w) => w.write(b)?,
        }
        Ok(())
    }

    /// Finishes the files; `extra` are the rejects' (pseudonym, id) pairs.
    fn finish(self, extra: Vec<(String, String)>) -> Result<()> {
        match self {
            ScoredSink::Plain(w) => w.finish()?,
            ScoredSink::Pseudonymized(w) => {
                w.finish(extra)?;
            }
        }
        Ok(())
    }
}

/// Writes the night into `dir`: scored.parquet (capacity applied, counted as
/// it streams), rejects.parquet when `rejects` has rows, the mapping file
/// when asked, and the manifest. With `pseudonyms`, ids are replaced here,
/// after everything else is decided. `m` carries everything but the counts
/// and the outputs.
#[allow(clippy::too_many_arguments)]
fn finish(
    strategy: &Strategy,
    scored: &Scored,
    rejects: Option<RecordBatch>,
    mut m: Manifest,
    dir: &Path,
    out_dir: &Path,
    clock: &mut Stopwatch,
    pseudonyms: Option<&Pseudonyms>,
) -> Result<Manifest> {
    let overrides = capacity_overrides(strategy, scored)?;
    let mut stream = scored.stream()?;
    let mut w = ScoredSink::create(dir, stream.schema(), pseudonyms)?;
    let mut at = 0;
    while let Some(b) = stream.next_batch()? {
        crate::jobs::interrupt::check()?;
        let n = b.num_rows();
        let b = with_overrides(strategy, b, at, &overrides)?;
        count(strategy, &mut m, &b);
        w.write(&b)?;
        at += n;
    }
    close_night(w, rejects, m, at, dir, out_dir, clock, pseudonyms)
}

/// Ends a night whose `at` scored rows went to `w` (counted into `m`):
/// finishes scored.parquet, writes rejects.parquet when `rejects` has rows,
/// and the manifest.
#[allow(clippy::too_many_arguments)]
fn close_night(
    w: ScoredSink<'_>,
    rejects: Option<RecordBatch>,
    mut m: Manifest,
    at: usize,
    dir: &Path,
    out_dir: &Path,
    clock: &mut Stopwatch,
    pseudonyms: Option<&Pseudonyms>,
) -> Result<Manifest> {
    let rejects = rejects.filter(|r| r.num_rows() > 0);
    let (rejects, extra) = match (rejects, pseudonyms) {
        (Some(r), Some(p)) => {
            let (r, pairs) = pseudonymize_rejects(&p.key, &r)?;
            (Some(r), pairs)
        }
        (r, _) => (r, Vec::new()),
    };
    w.finish(extra)?;
    let rejected = rejects.is_some();
    if let Some(r) = rejects {
        output::write_parquet(&dir.join(REJECTS), r.schema(), &[r])?;
    }
    clock.lap("write")?;
    m.capacity_applied = true;
    m.scored = at as u64;
    m.pseudonymized_ids = pseudonyms.is_some();
    m.pseudonym_key_fingerprint = pseudonyms.map(|p| p.key.fingerprint());
    m.peak_rss_bytes = crate::jobs::peak_rss_bytes();
    add_laps(&mut m, clock);
    let mapped = pseudonyms.is_some_and(|p| p.map);
    m.outputs = [
        Some(SCORED),
        rejected.then_some(REJECTS),
        mapped.then_some(MAPPING),
        Some(MANIFEST),
    ]
    .into_iter()
    .flatten()
    .map(|f| out_dir.join(f).display().to_string())
    .collect();
    output::write_json(&dir.join(MANIFEST), &m)?;
    Ok(m)
}

fn add_laps(m: &mut Manifest, clock: &mut Stopwatch) {
    for (n, d) in clock.laps.drain(..) {
        *m.stage_seconds.entry(n.to_string()).or_default() += d.as_secs_f64();
    }
}

/// The directory of partition `p` of a night: `OUT/AS_OF.part-I-of-N`.
pub fn partition_dir(out: &Path, as_of: Day, index: u32, count: u32) -> PathBuf {
    out.join(format!("{}.part-{index}-of-{count}", dates::format(as_of)))
}

/// [`run`], reporting each of the [`STAGES`] to `observer` as it ends.
///
/// With `partitions` = 1 the whole population is scored at once. With
/// `partition` = Some(i) only partition i is scored, into
/// [`partition_dir`], for [`combine`] to merge. With `partitions` = N and no
/// `partition`, the partitions are scored one after the other (memory grows
/// with a partition, not with the ledger) and merged into `OUT/AS_OF/`.
pub fn run_observed(
    opts: &RunOptions,
    observer: Option<crate::jobs::Observer>,
) -> Result<Manifest> {
    let mut clock = Stopwatch::observed(observer);
    let count = opts.partitions.max(1);
    if let Some(i) = opts.partition {
        if i >= count {
            return Err(Error::Usage(format!(
                "--partition {i} is not below --partitions {count}"
            )));
        }
    }
    if opts.partition.is_some() && opts.pseudonym.is_some() {
        return Err(Error::Usage(
            "--pseudonymize-ids applies to the night's files: give it to `dunning combine`, \
             not to a --partition run (partitions are merged by the real ids)"
                .into(),
        ));
    }
    let pseudonyms = opts
        .pseudonym
        .as_ref()
        .map(PseudonymOptions::resolve)
        .transpose()?;
    let prep = prepare(opts)?;
    match opts.partition {
        Some(index) => {
            let p = Partition {
                index,
                count,
                scheme: prep.scheme.clone(),
            };
            let dest = partition_dir(&opts.out, opts.as_of, index, count);
            let _lock = lock(&dest)?;
            let part = score_part(opts, &prep, Some(p), None, &mut clock)?;
            let stage = output::dir::StagedDir::create(&dest)?;
            let m = write_part(part, stage.path(), &dest, &mut clock)?;
            crate::jobs::interrupt::boundary("publish")?;
            stage.publish()?;
            Ok(m)
        }
        None => {
            let out_dir = opts.out.join(dates::format(opts.as_of));
            let _lock = lock(&out_dir)?;
            let stage = output::dir::StagedDir::create(&out_dir)?;
            let m = if count == 1 {
                let part = score_part(opts, &prep, None, None, &mut clock)?;
                // Too much drift fails the night before anything is written.
                if let Some(d) = &part.manifest.drift {
                    d.check()?;
                }
                let rejects =
                    (!part.rejects.is_empty()).then(|| tables::rejects_table(&part.rejects));
                finish(
                    &prep.strategy,
                    &Scored::Batch(part.batch),
                    rejects,
                    part.manifest,
                    stage.path(),
                    &out_dir,
                    &mut clock,
                    pseudonyms.as_ref(),
                )?
            } else {
                let parts_dir = stage.path().join(".parts");
                let m = if streams_in_order(&prep) {
                    score_and_write(
                        opts,
                        &prep,
                        count,
                        &parts_dir,
                        stage.path(),
                        &out_dir,
                        &mut clock,
                        pseudonyms.as_ref(),
                    )?
                } else {
                    let parts =
                        score_partitions(opts, &prep, count, &parts_dir, 0, &mut clock, |_, _| {
                            Ok(())
                        })?;
                    merge_parts(
                        &prep.strategy,
                        &prep.strategy_sha256,
                        parts,
                        stage.path(),
                        &out_dir,
                        &mut clock,
                        pseudonyms.as_ref(),
                        &DriftOverride::all(opts.drift),
                    )?
                };
                // (Absent when every partition was held in memory.)
                match std::fs::remove_dir_all(&parts_dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Error::Output(output::OutputError::Io {
                            path: parts_dir.clone(),
                            action: "removing the partition files",
                            source: e,
                        }));
                    }
                    _ => {}
                }
                m
            };
            crate::jobs::interrupt::boundary("publish")?;
            stage.publish()?;
            Ok(m)
        }
    }
}

/// Writes one partition's scored rows (decisions before capacity), rejects
/// and manifest into `dir` (which will be published as `dest`).
fn write_part(part: Part, dir: &Path, dest: &Path, clock: &mut Stopwatch) -> Result<Manifest> {
    let Part {
        batch,
        rejects,
        mut manifest,
    } = part;
    output::write_parquet(&dir.join(SCORED), batch.schema(), &[batch])?;
    let rejected = !rejects.is_empty();
    if rejected {
        output::write_parquet(
            &dir.join(REJECTS),
            tables::rejects_schema(),
            &[tables::rejects_table(&rejects)],
        )?;
    }
    clock.lap("write")?;
    add_laps(&mut manifest, clock);
    manifest.peak_rss_bytes = crate::jobs::peak_rss_bytes();
    manifest.outputs = [Some(SCORED), rejected.then_some(REJECTS), Some(MANIFEST)]
        .into_iter()
        .flatten()
        .map(|f| dest.join(f).display().to_string())
        .collect();
    output::write_json(&dir.join(MANIFEST), &manifest)?;
    Ok(manifest)
}

/// One partition's results, ready to merge into the night.
struct PartOutput {
    /// Its directory (named in messages).
    dir: PathBuf,
    /// Its manifest.
    manifest: Manifest,
    /// Its scored rows, sorted by borrower_id: Parquet, or a scratch file
    /// (unless they are `held`).
    scored: PathBuf,
    /// Its scored rows kept in memory instead, for the in-order writer to
    /// take (see [`score_partitions`]).
    held: Option<RecordBatch>,
    /// Its rejects, when it has any.
    rejects: Option<RecordBatch>,
}

fn bad_part(path: &Path, message: String) -> Error {
    Error::Config(format!("{}: {message}", path.display()))
}

/// Sets one partition of an in-process partitioned run aside in `dir` (in
/// the staging directory): its scored rows as a scratch file, its manifest
/// and rejects in memory.
/// With `hold`, its scored rows stay in memory instead (and no file is
/// written).
fn spill_part(part: Part, dir: &Path, hold: bool, clock: &mut Stopwatch) -> Result<PartOutput> {
    let Part {
        batch,
        rejects,
        mut manifest,
    } = part;
    let scored = dir.join("scored.arrow");
    let held = if hold {
        Some(batch)
    } else {
        output::spill::write(&scored, &batch)?;
        None
    };
    let rejects = (!rejects.is_empty()).then(|| tables::rejects_table(&rejects));
    clock.lap("write")?;
    add_laps(&mut manifest, clock);
    manifest.peak_rss_bytes = crate::jobs::peak_rss_bytes();
    Ok(PartOutput {
        dir: dir.to_path_buf(),
        manifest,
        scored,
        held,
        rejects,
    })
}

/// Partitions scored at the same time by an in-process partitioned run.
/// With several, one partition's serial steps (grouping, sorting,
/// writing) overlap the others' parallel ones and the cores stay busy;
/// memory is that of this many partitions, so `--partitions` is what bounds
/// it. Three measured 2-10% faster than two on the 2-core VM (1M borrowers,
/// 64 partitions, interleaved runs) for a fifth more memory; four, no
/// faster than three.
pub const PARTITIONS_IN_FLIGHT: usize = 3;

/// Scores partitions `0..count` of the night, [`PARTITIONS_IN_FLIGHT`] at a
/// time, each set aside in `parts_dir/INDEX` ([`spill_part`]), and hands
/// each to `in_order` on this thread, in index order, as soon as it and the
/// ones before it are done (while the others are scored). With `hold`, a
/// partition that ends fewer than `hold` places after the one `in_order`
/// waits for keeps its scored rows in memory, and `in_order` takes them
/// (the usual case: partitions end about in order); a later one (after a
/// slow partition) is set aside on disk, so memory stays bounded. The laps
/// of every partition go to `clock`'s observer as they end. Fails with the
/// error of the lowest failing partition, or of `in_order`; once one fails,
/// no other partition starts.
fn score_partitions(
    opts: &RunOptions,
    prep: &Prepared,
    count: u32,
    parts_dir: &Path,
    hold: u32,
    clock: &mut Stopwatch,
    mut in_order: impl FnMut(&PartOutput, Option<RecordBatch>) -> Result<()>,
) -> Result<Vec<PartOutput>> {
    use std::sync::atomic::AtomicU32;
    use std::sync::{Condvar, Mutex};
    let next = AtomicU32::new(0);
    // The partition `in_order` waits for (or takes next).
    let consumed = AtomicU32::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<PartOutput>>>> =
        Mutex::new((0..count).map(|_| None).collect());
    let done = Condvar::new();
    let observer = std::sync::Arc::new(Mutex::new(clock.take_observer()));
    let workers = PARTITIONS_IN_FLIGHT.min(count as usize);
    // Row groups that hold ids of neighbouring partitions are decoded once.
    let shared = Arc::new(SharedGroups::default());
    let mut consumer_error = None;
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                // A worker that panics (a bug) must still wake the consumer,
                // or it would wait for its partition for ever.
                struct OnPanic<'a>(&'a AtomicBool, &'a Condvar);
                impl Drop for OnPanic<'_> {
                    fn drop(&mut self) {
                        if std::thread::panicking() {
                            self.0.store(true, Ordering::SeqCst);
                            self.1.notify_all();
                        }
                    }
                }
                let _on_panic = OnPanic(&failed, &done);
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= count || failed.load(Ordering::SeqCst) {
                        break;
                    }
                    let observer = observer.clone();
                    let mut part_clock = Stopwatch::observed(Some(Box::new(move |stage, d| {
                        if let Some(o) = observer.lock().ok().as_mut().and_then(|o| o.as_mut()) {
                            o(stage, d);
                        }
                    })));
                    let p = Partition {
                        index,
                        count,
                        scheme: prep.scheme.clone(),
                    };
                    let r = score_part(opts, prep, Some(p), Some(shared.clone()), &mut part_clock)
                        .and_then(|part| {
                            let held = index < consumed.load(Ordering::SeqCst).saturating_add(hold);
                            let dir = parts_dir.join(index.to_string());
                            spill_part(part, &dir, held, &mut part_clock)
                        });
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    if let Ok(mut all) = results.lock() {
                        all[index as usize] = Some(r);
                    }
                    done.notify_all();
                }
                // Wake the consumer when this worker stops taking partitions.
                done.notify_all();
            });
        }
        // The consumer: partition k once 0..=k are done.
        for k in 0..count as usize {
            let Ok(mut all) = results.lock() else { break };
            while all[k].is_none() && !failed.load(Ordering::SeqCst) {
                all = match done.wait(all) {
                    Ok(a) => a,
                    Err(_) => return,
                };
            }
            let Some(Ok(part)) = all[k].as_mut() else {
                break;
            };
            // The consumer takes the partition's rows, or reads its files;
            // the workers only need the lock to store their results.
            let held = part.held.take();
            let part = PartOutput {
                dir: part.dir.clone(),
                manifest: part.manifest.clone(),
                scored: part.scored.clone(),
                held: None,
                rejects: None,
            };
            drop(all);
            if let Err(e) = in_order(&part, held) {
                failed.store(true, Ordering::SeqCst);
                consumer_error = Some(e);
                break;
            }
            consumed.store(k as u32 + 1, Ordering::SeqCst);
        }
    });
    let observer = std::sync::Arc::try_unwrap(observer)
        .ok()
        .and_then(|o| o.into_inner().ok())
        .flatten();
    clock.set_observer(observer);
    let results = results
        .into_inner()
        .map_err(|_| Error::Internal("a partition worker panicked".into()))?;
    let mut parts = Vec::with_capacity(count as usize);
    for r in results {
        match r {
            Some(r) => parts.push(r?),
            None => break,
        }
    }
    if let Some(e) = consumer_error {
        return Err(e);
    }
    if parts.len() != count as usize {
        return Err(Error::Internal(
            "a partition was not scored, and none failed".into(),
        ));
    }
    Ok(parts)
}

/// Cuts a stream of batches into batches of exactly
/// [`output::merge::MERGE_BATCH_ROWS`] rows (the last one shorter), the
/// batches the night's other paths write: the Parquet writer cuts pages by
/// the batches it is given, and the bytes must not depend on the path.
struct Rebatch {
    pending: Vec<RecordBatch>,
    rows: usize,
}

impl Rebatch {
    fn new() -> Self {
        Self {
            pending: Vec::new(),
            rows: 0,
        }
    }

    /// Takes `b`; gives the whole batches it completes.
    fn push(&mut self, b: RecordBatch) -> Result<Vec<RecordBatch>> {
        const N: usize = output::merge::MERGE_BATCH_ROWS;
        self.rows += b.num_rows();
        self.pending.push(b);
        let mut out = Vec::new();
        if self.rows < N {
            return Ok(out);
        }
        let all = self.take()?.expect("rows are pending");
        let mut at = 0;
        while all.num_rows() - at >= N {
            out.push(all.slice(at, N));
            at += N;
        }
        if at < all.num_rows() {
            self.rows = all.num_rows() - at;
            self.pending.push(all.slice(at, self.rows));
        }
        Ok(out)
    }

    /// The rows still pending, as one batch.
    fn take(&mut self) -> Result<Option<RecordBatch>> {
        let Some(first) = self.pending.first() else {
            return Ok(None);
        };
        let b = arrow::compute::concat_batches(&first.schema(), &self.pending)
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.pending.clear();
        self.rows = 0;
        Ok(Some(b))
    }
}

/// Whether a partitioned night can be written while it is scored: with id
/// ranges, partition order is borrower_id order, so the night's rows are
/// the partitions' rows one partition after the other; and without
/// capacity limits, no row's treatment depends on the rows after it.
fn streams_in_order(prep: &Prepared) -> bool {
    matches!(prep.scheme, PartitionScheme::Ranges { .. })
        && prep.strategy.capacity.iter().all(Option::is_none)
}

/// Scores the partitions of the night and writes its files into `dir` as
/// they complete, in order ([`streams_in_order`] must hold): the same bytes
/// as [`merge_parts`], without a serial write after the last partition.
#[allow(clippy::too_many_arguments)]
fn score_and_write(
    opts: &RunOptions,
    prep: &Prepared,
    partitions: u32,
    parts_dir: &Path,
    dir: &Path,
    out_dir: &Path,
    clock: &mut Stopwatch,
    pseudonyms: Option<&Pseudonyms>,
) -> Result<Manifest> {
    let strategy = &prep.strategy;
    let mut night: Option<(ScoredSink<'_>, Manifest)> = None;
    let mut rebatch = Rebatch::new();
    let mut at = 0;
    let hold = opts.held_partitions;
    let parts = score_partitions(
        opts,
        prep,
        partitions,
        parts_dir,
        hold,
        clock,
        |part, held| {
            let (schema, batches): (_, Box<dyn Iterator<Item = Result<RecordBatch>>>) = match held {
                Some(b) => (b.schema(), Box::new(std::iter::once(Ok(b)))),
                None => {
                    let reader = output::spill::SpillReader::open(&part.scored)?;
                    let path = part.scored.clone();
                    (
                        reader.schema(),
                        Box::new(reader.map(move |b| {
                            b.map_err(|e| Error::Internal(format!("{}: {e}", path.display())))
                        })),
                    )
                }
            };
            if night.is_none() {
                let sink = ScoredSink::create(dir, schema, pseudonyms)?;
                night = Some((sink, part.manifest.clone()));
            }
            let (w, counts) = night.as_mut().expect("created above");
            for b in batches {
                for b in rebatch.push(b?)? {
                    crate::jobs::interrupt::check()?;
                    count(strategy, counts, &b);
                    w.write(&b)?;
                    at += b.num_rows();
                }
            }
            Ok(())
        },
    )?;
    let (mut w, counts) = night.ok_or_else(|| Error::Internal("no partition was scored".into()))?;
    let mut counts = counts;
    if let Some(b) = rebatch.take()? {
        crate::jobs::interrupt::check()?;
        count(strategy, &mut counts, &b);
        w.write(&b)?;
        at += b.num_rows();
    }
    let (mut m, rejects) = merge_manifests(
        &prep.strategy_sha256,
        &parts,
        &DriftOverride::all(opts.drift),
    )?;
    m.by_dpd_bucket = counts.by_dpd_bucket;
    m.by_band = counts.by_band;
    m.by_treatment = counts.by_treatment;
    m.by_bucket_and_treatment = counts.by_bucket_and_treatment;
    close_night(w, rejects, m, at, dir, out_dir, clock, pseudonyms)
}

/// Reads a partition directory written by `run --partition` (scored.parquet,
/// manifest.json and maybe rejects.parquet).
fn read_part(d: &Path) -> Result<PartOutput> {
    let path = d.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| bad_part(&path, format!("cannot read a partition's manifest: {e}")))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| bad_part(&path, format!("not a partition manifest: {e}")))?;
    let path = d.join(REJECTS);
    let rejects = if path.exists() {
        let batches = read_batches(&path)?;
        Some(
            arrow::compute::concat_batches(&tables::rejects_schema(), &batches)
                .map_err(|e| Error::Internal(e.to_string()))?,
        )
    } else {
        None
    };
    Ok(PartOutput {
        dir: d.to_path_buf(),
        manifest,
        scored: d.join(SCORED),
        held: None,
        rejects,
    })
}

/// Merges the partitions of a night into the night's files in `dir`,
/// exactly as an unpartitioned run would have written them.
#[allow(clippy::too_many_arguments)]
fn merge_parts(
    strategy: &Strategy,
    strategy_sha256: &str,
    outputs: Vec<PartOutput>,
    dir: &Path,
    out_dir: &Path,
    clock: &mut Stopwatch,
    pseudonyms: Option<&Pseudonyms>,
    drift_override: &DriftOverride,
) -> Result<Manifest> {
    let (m, rejects) = merge_manifests(strategy_sha256, &outputs, drift_override)?;
    let scored = Scored::Files(outputs.iter().map(|p| p.scored.clone()).collect());
    finish(
        strategy, &scored, rejects, m, dir, out_dir, clock, pseudonyms,
    )
}

/// Checks that `outputs` are the partitions of one night, and gives the
/// night's manifest (their counts summed; the scored rows' counts are left
/// to the writer) and rejects (in table load order then file row).
fn merge_manifests(
    strategy_sha256: &str,
    outputs: &[PartOutput],
    drift_override: &DriftOverride,
) -> Result<(Manifest, Option<RecordBatch>)> {
    let bad = bad_part;
    let dirs: Vec<&Path> = outputs.iter().map(|p| p.dir.as_path()).collect();
    let parts: Vec<&Manifest> = outputs.iter().map(|p| &p.manifest).collect();
    let first = parts[0];
    let count = first.partition.as_ref().map_or(1, |p| p.count);
    let mut seen = vec![false; count as usize];
    for (m, d) in parts.iter().zip(&dirs) {
        let same = m.run_id == first.run_id
            && m.as_of == first.as_of
            && m.model_sha256 == first.model_sha256
            && m.strategy_sha256 == first.strategy_sha256;
        if !same {
            return Err(bad(
                d,
                "this partition is of another run (run id, as-of date, model or strategy differ)"
                    .into(),
            ));
        }
        match &m.partition {
            Some(p)
                if p.count == count
                    && p.index < count
                    && Some(&p.scheme) == first.partition.as_ref().map(|f| &f.scheme)
                    && !std::mem::replace(&mut seen[p.index as usize], true) => {}
            _ => return Err(bad(d, format!("not one of {count} distinct partitions"))),
        }
    }
    if seen.iter().any(|s| !s) {
        let missing: Vec<usize> = (0..count as usize).filter(|&i| !seen[i]).collect();
        return Err(Error::Usage(format!(
            "partitions {missing:?} of {count} are missing"
        )));
    }
    if first.strategy_sha256 != strategy_sha256 {
        return Err(bad(
            dirs[0],
            format!(
                "the partitions were run with another strategy file (sha256 {}, not {strategy_sha256})",
                first.strategy_sha256
            ),
        ));
    }

    // The night's manifest: the parts' counts summed.
    let mut m = first.clone();
    m.partition = None;
    m.stage_seconds = BTreeMap::new();
    m.scored = 0;
    m.outside_population = parts.iter().map(|p| p.outside_population).sum();
    m.rejected = parts.iter().map(|p| p.rejected).sum();
    for (k, input) in m.inputs.iter_mut().enumerate() {
        let sum = |f: fn(&InputEntry) -> u64| parts.iter().map(|p| f(&p.inputs[k])).sum();
        input.used = sum(|e| e.used);
        input.rejected = sum(|e| e.rejected);
        input.unmatched = sum(|e| e.unmatched);
        input.other_partitions = 0;
    }
    for p in &parts {
        for (k, v) in &p.stage_seconds {
            *m.stage_seconds.entry(k.clone()).or_default() += v;
        }
    }
    // The night's drift: the parts' counts summed. Too much of it fails the
    // night before the merge writes anything (when the partitions were
    // streamed into the staging directory, before it is published).
    let drift = night_drift_of_parts(&parts, &dirs, drift_override)?;
    drift.check()?;
    m.drift = Some(drift);

    // Rejects: all parts', in table load order then file row, as one run.
    let batches: Vec<RecordBatch> = outputs.iter().filter_map(|p| p.rejects.clone()).collect();
    let rejects = if batches.is_empty() {
        None
    } else {
        Some(sort_rejects(
            &arrow::compute::concat_batches(&tables::rejects_schema(), &batches)
                .map_err(|e| Error::Internal(e.to_string()))?,
        )?)
    };
    Ok((m, rejects))
}

/// Drift thresholds given to a merge: each one given replaces the one the
/// partitions were run with.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DriftOverride {
    /// The warning threshold (None: the partitions').
    pub warn_above: Option<f64>,
    /// The fail threshold (None: the partitions').
    pub fail_above: Option<FailAbove>,
}

impl DriftOverride {
    /// Both thresholds given.
    pub fn all(t: Thresholds) -> Self {
        Self {
            warn_above: Some(t.warn_above),
            fail_above: Some(t.fail_above.map_or(FailAbove::Off, FailAbove::Psi)),
        }
    }
}

/// The night's drift from its partitions' manifests, judged by the
/// partitions' thresholds with `over`'s in their place where given.
fn night_drift_of_parts(
    parts: &[&Manifest],
    dirs: &[&Path],
    over: &DriftOverride,
) -> Result<DriftReport> {
    let mut reports = Vec::with_capacity(parts.len());
    for (p, d) in parts.iter().zip(dirs) {
        match &p.drift {
            Some(r) => reports.push(r.clone()),
            None => {
                return Err(Error::Config(format!(
                    "{}: the partition's manifest has no drift section (written by an older \
                     dunning); run the partition again",
                    d.join(MANIFEST).display()
                )))
            }
        }
    }
    let first = reports[0].thresholds;
    if over.warn_above.is_none() || over.fail_above.is_none() {
        if let Some(k) = reports.iter().position(|r| r.thresholds != first) {
            return Err(Error::Config(format!(
                "{}: this partition was run with other drift thresholds than partition 0; give \
                 --drift-warn-above and --drift-fail-above",
                dirs[k].display()
            )));
        }
    }
    let thresholds = Thresholds {
        warn_above: over.warn_above.unwrap_or(first.warn_above),
        fail_above: match over.fail_above {
            Some(f) => f.value(),
            None => first.fail_above,
        },
    };
    thresholds.check().map_err(Error::Usage)?;
    Ok(DriftReport::combine(&reports, thresholds)?)
}

fn read_batches(path: &Path) -> Result<Vec<RecordBatch>> {
    let perr = |source| {
        Error::Output(output::OutputError::Parquet {
            path: path.to_path_buf(),
            source,
        })
    };
    let file = std::fs::File::open(path).map_err(|source| {
        Error::Output(output::OutputError::Io {
            path: path.to_path_buf(),
            action: "opening",
            source,
        })
    })?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(perr)?
        .build()
        .map_err(perr)?;
    reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| perr(e.into()))
}

/// Rejects sorted as [`crate::contract::Ledger::rejects`] are: table in
/// load order, then file row.
fn sort_rejects(b: &RecordBatch) -> Result<RecordBatch> {
    let table: &StringArray = column(b, "table");
    let row: &arrow::array::UInt64Array = column(b, "row_index");
    let mut idx: Vec<u32> = (0..b.num_rows() as u32).collect();
    idx.sort_by_key(|&k| {
        crate::contract::reject_order(table.value(k as usize), row.value(k as usize))
    });
    let idx = arrow::array::UInt32Array::from(idx);
    arrow::compute::take_record_batch(b, &idx).map_err(|e| Error::Internal(e.to_string()))
}

/// Options of [`combine`].
#[derive(Debug, Clone)]
pub struct CombineOptions {
    /// The strategy file the partitions were run with.
    pub strategy: PathBuf,
    /// The output root the partitions were written to.
    pub out: PathBuf,
    /// The as-of date.
    pub as_of: Day,
    /// The number of partitions.
    pub partitions: u32,
    /// Write keyed pseudonyms instead of borrower ids (None: the ids).
    pub pseudonym: Option<PseudonymOptions>,
    /// Drift thresholds in place of those the partitions were run with.
    pub drift: DriftOverride,
}

/// Merges the partition directories `OUT/AS_OF.part-I-of-N` of a night
/// (each run with `--partition I --partitions N`, maybe on other machines)
/// into `OUT/AS_OF/`: the same files an unpartitioned run writes, capacity
/// applied over the whole night.
pub fn combine(opts: &CombineOptions) -> Result<Manifest> {
    let mut clock = Stopwatch::default();
    let pseudonyms = opts
        .pseudonym
        .as_ref()
        .map(PseudonymOptions::resolve)
        .transpose()?;
    let (strategy, strategy_sha256) = read_strategy(&opts.strategy)?;
    let count = opts.partitions.max(1);
    let dirs: Vec<PathBuf> = (0..count)
        .map(|index| partition_dir(&opts.out, opts.as_of, index, count))
        .collect();
    for d in &dirs {
        if !d.join(MANIFEST).is_file() {
            return Err(Error::Usage(format!(
                "{}: no such partition output (run it with --partition and --partitions {count})",
                d.display()
            )));
        }
    }
    let parts = dirs
        .iter()
        .map(|d| read_part(d))
        .collect::<Result<Vec<_>>>()?;
    let out_dir = opts.out.join(dates::format(opts.as_of));
    let _lock = lock(&out_dir)?;
    let stage = output::dir::StagedDir::create(&out_dir)?;
    let m = merge_parts(
        &strategy,
        &strategy_sha256,
        parts,
        stage.path(),
        &out_dir,
        &mut clock,
        pseudonyms.as_ref(),
        &opts.drift,
    )?;
    crate::jobs::interrupt::boundary("publish")?;
    stage.publish()?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<RunConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nightly.toml");
        std::fs::write(&path, text).unwrap();
        RunConfig::load(&path)
    }

    #[test]
    fn rejects_config_values_naming_the_file_and_key() {
        for (text, key) in [
            ("as_of = \"2025-02-30\"", "as_of"),
            ("as_of = \"2525-01-01\"", "as_of"),
            ("tolerance = -0.5", "tolerance"),
            ("tolerance = nan", "tolerance"),
            ("partitions = 0", "partitions"),
            ("partitions = 2\npartition = 2", "partition"),
        ] {
            match config(text) {
                Err(Error::Config(m)) => {
                    assert!(m.contains("nightly.toml: ") && m.contains(key), "{m}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let ok = config("as_of = \"2025-12-31\"\ntolerance = 0.0\npartitions = 2\npartition = 1");
        assert_eq!(ok.unwrap().partition, Some(1));
    }

    #[test]
    fn input_hashes_are_the_files_sha256_and_stop_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"abc").unwrap();
        let missing = dir.path().join("missing");
        let rest = [String::new(), String::new(), String::new()];
        let hashes = InputHashes::start(vec![("schedule", a.clone())], rest.clone());
        let got = hashes.get().unwrap();
        // SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(got.files, vec![("schedule", a.clone(), 3, abc.to_string())]);
        // The same answer on a second call; the first failing file by table order.
        assert_eq!(hashes.get().unwrap().run_id, got.run_id);
        let failing = InputHashes::start(
            vec![("schedule", a.clone()), ("payments", missing.clone())],
            rest,
        );
        for _ in 0..2 {
            match failing.get() {
                Err(Error::Contract(crate::contract::ContractError::Open { path, .. })) => {
                    assert_eq!(path, missing)
                }
                other => panic!("{other:?}"),
            }
        }
        // A stopped hash ends with an error at its next block.
        let stop = AtomicBool::new(true);
        assert!(sha256_file(&a, &stop).is_err());
        stop.store(false, Ordering::Relaxed);
        assert_eq!(sha256_file(&a, &stop).unwrap(), (3, abc.to_string()));
    }

    #[test]
    fn rebatch_cuts_whole_batches_and_keeps_every_row_in_order() {
        use arrow::array::Int64Array;
        use arrow::datatypes::{DataType, Field, Schema};
        const N: usize = output::merge::MERGE_BATCH_ROWS;
        let schema =
            std::sync::Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = |from: i64, n: usize| {
            let v: Vec<i64> = (from..from + n as i64).collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![std::sync::Arc::new(Int64Array::from(v))],
            )
            .unwrap()
        };
        let mut r = Rebatch::new();
        let mut out = Vec::new();
        let mut from = 0;
        // Partition-sized pieces: short, empty, several batches long.
        for n in [100, 0, N - 100, 3 * N + 17, 5, N] {
            out.extend(r.push(batch(from, n)).unwrap());
            from += n as i64;
        }
        out.extend(r.take().unwrap());
        assert!(r.take().unwrap().is_none());
        let sizes: Vec<usize> = out.iter().map(RecordBatch::num_rows).collect();
        assert!(
            sizes[..sizes.len() - 1].iter().all(|&s| s == N),
            "{sizes:?}"
        );
        let all = arrow::compute::concat_batches(&schema, &out).unwrap();
        assert_eq!(all, batch(0, from as usize));
    }

    #[test]
    fn reads_drift_thresholds_and_rejects_bad_ones() {
        for (text, key) in [
            ("drift_warn_above = 0", "drift_warn_above"),
            ("drift_warn_above = nan", "drift_warn_above"),
            ("drift_fail_above = -0.25", "drift_fail_above"),
            ("drift_fail_above = \"sometimes\"", "drift_fail_above"),
            ("drift_fail_above = true", "drift_fail_above"),
            (
                "drift_warn_above = 0.3\ndrift_fail_above = 0.25",
                "drift_fail_above (0.25) is below",
            ),
        ] {
            match config(text) {
                Err(Error::Config(m)) => {
                    assert!(
                        m.contains("nightly.toml: ") && m.contains(key),
                        "{text}: {m}"
                    )
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let c = config("drift_warn_above = 0.2\ndrift_fail_above = 1").unwrap();
        assert_eq!(c.drift_fail_above, Some(FailAbove::Psi(1.0)));
        let t = RunConfig::default().drift_thresholds(&c);
        assert_eq!((t.warn_above, t.fail_above), (0.2, Some(1.0)));
        // A flag wins: `off` over the file's threshold.
        let flags = RunConfig {
            drift_fail_above: Some(FailAbove::Off),
            ..RunConfig::default()
        };
        assert_eq!(flags.drift_thresholds(&c).fail_above, None);
        let c = config("drift_fail_above = \"off\"").unwrap();
        assert_eq!(
            RunConfig::default().drift_thresholds(&c),
            Thresholds::default()
        );
        assert_eq!(FailAbove::parse("0.25"), Ok(FailAbove::Psi(0.25)));
        assert!(FailAbove::parse("inf").is_err() && FailAbove::parse("0").is_err());
    }

    #[test]
    fn rejects_a_strategy_that_is_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        let mut bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/strategies/default.toml"
        ))
        .unwrap();
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_strategy(&path).is_ok());
        // The same with a byte that is not UTF-8, in a comment.
        bytes.extend_from_slice(b"\n# caf\xe9\n");
        std::fs::write(&path, &bytes).unwrap();
        match read_strategy(&path) {
            Err(Error::Strategy(StrategyError::Parse { message, .. })) => {
                assert!(message.contains("not UTF-8"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
