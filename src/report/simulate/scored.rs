//! Re-deciding a nightly run's scored.parquet under another strategy.
//!
//! A night's `OUT/AS_OF/scored.parquet` (`dunning run`) holds, per borrower,
//! what every strategy decides on, except the contact history:
//!
//! | the strategy needs | taken from |
//! |---|---|
//! | DPD bucket | `dpd` |
//! | risk band | `risk_band` (the model's), or `p_repay` with `band_cutoffs` |
//! | preventive reminder | `next_due_date` (files written before that column existed: see below) |
//! | dispute, hardship, do-not-contact flags | `treatment_rule`: the run writes `;dispute`, `;hardship` and `;do_not_contact` whenever the flag is set, whatever the strategy |
//! | challenger arm | `borrower_id` with the strategy's salt and share |
//! | capacity priority and order | `overdue_amount`, `p_repay`, the file's row order (the run's) |
//! | calls left on the action day | `calls_left_today`, counted by the night under *its* strategy's contact limits |
//!
//! What cannot be re-evaluated from the file, and how it is treated (each
//! case that applies is listed in the report's `limitations`):
//!
//! - **Contact limits** need the contact history, which the file does not
//!   hold. A strategy whose contact window is the night's uses the night's
//!   `calls_left_today` (exact when its call limits are the night's too);
//!   for a strategy with another window, or when the night had no contact
//!   limits, whether a *call* may be made is unknown: `contact_allowed` is
//!   counted as unknown (null) for those calls. Treatments and channels
//!   never depend on contact limits.
//! - **Preventive reminders** in a file without `next_due_date`: a borrower
//!   gets the reminder when the night gave it one (`;preventive`), which is
//!   exact only when both strategies remind the same number of days ahead.
//! - A file with **pseudonymized ids** is refused: the arms and the
//!   capacity order (by id) need the real ids. So is a **partition's share**
//!   (its decisions are before capacity): combine the night first.
//!
//! The snapshot mode of `dunning simulate` reads the ledger itself and has
//! none of these limits.

use std::path::{Path, PathBuf};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray,
};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use sha2::{Digest, Sha256};

use super::{Borrower, Outcome};
use crate::contract::{Channel, Flags};
use crate::dates::{self, Day};
use crate::strategy::arms::{self, capacity_priority, Arm};
use crate::strategy::contact::{ContactRules, ContactStatus};
use crate::strategy::{decide, BorrowerState, Decision, Strategy, Treatment};

/// What is wrong with a scored file.
#[derive(Debug, thiserror::Error)]
pub enum ScoredError {
    /// The file cannot be opened or decoded.
    #[error("{}: cannot read the scored file: {message}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A column the what-if needs is absent.
    #[error("{}: column `{column}` is missing: {why}", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// What it is needed for.
        why: &'static str,
    },
    /// A column has another type than the output contract's.
    #[error("{}: column `{column}` has type {found}; expected {expected}", path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// The type found.
        found: String,
        /// The contract's type.
        expected: &'static str,
    },
    /// A value the what-if cannot use.
    #[error("{}: column `{column}` row {row}: {message}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// 0-based row.
        row: u64,
        /// What is wrong.
        message: String,
    },
    /// The ids are pseudonyms.
    #[error("{}: borrower_id holds pseudonyms (--pseudonymize-ids); the challenger arms and the capacity order need the real ids: simulate on the night's scored.parquet without pseudonyms, or on a snapshot", path.display())]
    Pseudonymized {
        /// The file.
        path: PathBuf,
    },
    /// The file is one partition's share, decided before capacity.
    #[error("{}: a partition's share of a night (decisions before capacity, see {}); run `dunning combine` and simulate on the night's scored.parquet", path.display(), manifest.display())]
    PartitionShare {
        /// The file.
        path: PathBuf,
        /// The manifest that says so.
        manifest: PathBuf,
    },
}

/// A nightly run's scored.parquet, read for the what-if.
#[derive(Debug, Clone)]
pub struct ScoredFile {
    /// The file.
    pub path: PathBuf,
    /// Its sha256.
    pub sha256: String,
    /// The night.
    pub as_of: Day,
    /// The night's run id.
    pub run_id: String,
    /// The model's version.
    pub model_version: String,
    /// The night's strategy version.
    pub strategy_version: String,
    /// The night's strategy file's sha256, from the manifest.json beside the
    /// file (None without one).
    pub strategy_sha256: Option<String>,
    /// The night's contact window (start, end hour), when it had contact limits.
    pub window: Option<(u8, u8)>,
    /// Whether the file has `next_due_date`.
    pub has_next_due: bool,
    /// The borrower_id column, as stored.
    pub ids: ArrayRef,
    /// The distinct model bands, in order of first appearance.
    pub band_names: Vec<String>,
    /// One row per borrower, in the file's order.
    pub rows: Vec<ScoredRow>,
}

/// One borrower of a scored file.
#[derive(Debug, Clone)]
pub struct ScoredRow {
    /// p_repay, overdue amount and DPD.
    pub borrower: Borrower,
    /// Index into [`ScoredFile::band_names`].
    pub model_band: usize,
    /// Flags, from the recorded rule.
    pub flags: Flags,
    /// Whether the night gave a preventive reminder.
    pub preventive: bool,
    /// Calls left on the action day, under the night's contact limits.
    pub calls_left_today: Option<u32>,
    /// The next installment's due date (when the file has the column).
    pub next_due_date: Option<Day>,
    /// The night's decision.
    pub recorded: Outcome,
}

type Result<T> = std::result::Result<T, ScoredError>;

/// Why the decision columns are needed (a `dunning score` file lacks them).
const DECISIONS: &str =
    "simulate needs the scored.parquet of a nightly run (`dunning run`), with its decisions";

/// Reads `path` (a scored.parquet, or a night's directory holding one).
pub fn read(path: &Path) -> Result<ScoredFile> {
    let path = if path.is_dir() {
        path.join("scored.parquet")
    } else {
        path.to_path_buf()
    };
    let unreadable = |message: String| ScoredError::Unreadable {
        path: path.clone(),
        message,
    };
    let bytes = std::fs::read(&path).map_err(|e| unreadable(e.to_string()))?;
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    check_manifest(&path)?;
    // The footer is checked as an input's is, before any page is decoded.
    crate::contract::read::file_schema(&path).map_err(|e| {
        // The contract's message names the file too.
        let m = e.to_string();
        let prefix = format!("{}: ", path.display());
        unreadable(m.strip_prefix(&prefix).unwrap_or(&m).to_string())
    })?;
    drop(bytes);
    let file = std::fs::File::open(&path).map_err(|e| unreadable(e.to_string()))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| unreadable(e.to_string()))?;
    let meta = |key: &str| -> Option<String> {
        let kv = builder.metadata().file_metadata().key_value_metadata()?;
        kv.iter().find(|k| k.key == key)?.value.clone()
    };
    if meta("dunning.pseudonym_key_fingerprint").is_some() {
        return Err(ScoredError::Pseudonymized { path });
    }
    let footer_as_of = meta("dunning.as_of");
    let schema = builder.schema().clone();
    let wanted: Vec<usize> = COLUMNS
        .iter()
        .filter_map(|(name, ..)| schema.index_of(name).ok())
        .collect();
    for &(name, expected, required) in COLUMNS {
        match schema.field_with_name(name) {
            Err(_) if required => {
                return Err(ScoredError::MissingColumn {
                    path,
                    column: name,
                    why: DECISIONS,
                })
            }
            Err(_) => {}
            Ok(f) => {
                let ok = expected
                    .split(" or ")
                    .any(|t| t == format!("{:?}", f.data_type()));
                if !ok {
                    return Err(ScoredError::WrongType {
                        path,
                        column: name,
                        found: format!("{:?}", f.data_type()),
                        expected,
                    });
                }
            }
        }
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| unreadable(e.to_string()))?;
    let projected = arrow::record_batch::RecordBatchReader::schema(&reader);
    let batches: Vec<RecordBatch> = reader
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| unreadable(e.to_string()))?;
    let batch = arrow::compute::concat_batches(&projected, &batches)
        .map_err(|e| unreadable(e.to_string()))?;
    parse(path, sha256, batch, footer_as_of)
}

/// The columns read: (name, documented type, required).
const COLUMNS: &[(&str, &str, bool)] = &[
    ("borrower_id", "Int64 or Utf8", true),
    ("as_of", "Date32", true),
    ("p_repay", "Float64", true),
    ("risk_band", "Utf8", true),
    ("dpd", "Int32", true),
    ("overdue_amount", "Float64", true),
    ("model_version", "Utf8", true),
    ("treatment", "Utf8", true),
    ("channel", "Utf8", true),
    ("contact_allowed", "Boolean", true),
    ("calls_left_today", "Int32", true),
    ("contact_window_start", "Utf8", true),
    ("contact_window_end", "Utf8", true),
    ("offer_plan", "Boolean", true),
    ("human_review", "Boolean", true),
    ("treatment_rule", "Utf8", true),
    ("arm", "Utf8", true),
    ("strategy_version", "Utf8", true),
    ("run_id", "Utf8", true),
    ("next_due_date", "Date32", false),
];

/// A manifest.json beside the file that says it is a partition's share is
/// refused; one that cannot be read is not the what-if's concern.
fn check_manifest(path: &Path) -> Result<()> {
    let Some(m) = read_manifest(path) else {
        return Ok(());
    };
    let share = m.get("capacity_applied").and_then(|v| v.as_bool()) == Some(false)
        || m.get("partition").is_some_and(|p| !p.is_null());
    if share {
        return Err(ScoredError::PartitionShare {
            path: path.to_path_buf(),
            manifest: manifest_path(path),
        });
    }
    Ok(())
}

fn manifest_path(path: &Path) -> PathBuf {
    path.with_file_name(crate::jobs::run::MANIFEST)
}

fn read_manifest(path: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(manifest_path(path)).ok()?;
    serde_json::from_str(&text).ok()
}

/// "08:00" -> 8.
fn hour(s: &str) -> Option<u8> {
    let (h, m) = s.split_once(':')?;
    (m == "00").then_some(())?;
    h.parse().ok()
}

/// Makes the error of a bad value: (column, row, what is wrong).
type Bad<'a> = &'a dyn Fn(&'static str, usize, String) -> ScoredError;

/// The typed columns of a scored batch (types checked in [`read`]).
struct Columns<'a> {
    as_of: &'a Date32Array,
    p: &'a Float64Array,
    band: &'a StringArray,
    dpd: &'a Int32Array,
    overdue: &'a Float64Array,
    treatment: &'a StringArray,
    channel: &'a StringArray,
    allowed: &'a BooleanArray,
    calls: &'a Int32Array,
    start: &'a StringArray,
    end: &'a StringArray,
    plan: &'a BooleanArray,
    review: &'a BooleanArray,
    rule: &'a StringArray,
    arm: &'a StringArray,
    version: &'a StringArray,
    run_id: &'a StringArray,
    model: &'a StringArray,
    next_due: Option<&'a Date32Array>,
}

impl<'a> Columns<'a> {
    fn new(b: &'a RecordBatch) -> Self {
        let col = |name: &str| b.column_by_name(name).expect("checked when read");
        Self {
            as_of: col("as_of").as_primitive(),
            p: col("p_repay").as_primitive(),
            band: col("risk_band").as_string(),
            dpd: col("dpd").as_primitive(),
            overdue: col("overdue_amount").as_primitive(),
            treatment: col("treatment").as_string(),
            channel: col("channel").as_string(),
            allowed: col("contact_allowed").as_boolean(),
            calls: col("calls_left_today").as_primitive(),
            start: col("contact_window_start").as_string(),
            end: col("contact_window_end").as_string(),
            plan: col("offer_plan").as_boolean(),
            review: col("human_review").as_boolean(),
            rule: col("treatment_rule").as_string(),
            arm: col("arm").as_string(),
            version: col("strategy_version").as_string(),
            run_id: col("run_id").as_string(),
            model: col("model_version").as_string(),
            next_due: b.column_by_name("next_due_date").map(|c| c.as_primitive()),
        }
    }

    /// The night's contact window, from row 0 (None without contact limits).
    fn window(&self, bad: Bad) -> Result<Option<(u8, u8)>> {
        if self.start.is_empty() || self.start.is_null(0) {
            return Ok(None);
        }
        let (s, e) = (self.start.value(0), self.end.value(0));
        match (hour(s), hour(e)) {
            (Some(s), Some(e)) => Ok(Some((s, e))),
            _ => Err(bad(
                "contact_window_start",
                0,
                format!("expected a window of whole hours HH:00, got {s:?} to {e:?}"),
            )),
        }
    }

    /// Row `k` is of the same night, run and contact window as row 0.
    fn check_same_night(&self, k: usize, bad: Bad) -> Result<()> {
        if self.as_of.value(k) != self.as_of.value(0) {
            return Err(bad(
                "as_of",
                k,
                format!(
                    "{} differs from the first row's {}: one night per file",
                    dates::format(self.as_of.value(k)),
                    dates::format(self.as_of.value(0))
                ),
            ));
        }
        let text = |a: &StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
        for (name, a) in [
            ("strategy_version", self.version),
            ("run_id", self.run_id),
            ("contact_window_start", self.start),
            ("contact_window_end", self.end),
        ] {
            if text(a, k) != text(a, 0) {
                return Err(bad(
                    name,
                    k,
                    format!(
                        "{:?} differs from the first row's {:?}: one night, one run",
                        text(a, k),
                        text(a, 0)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The p_repay, overdue amount and DPD of row `k`, checked.
    fn borrower(&self, k: usize, bad: Bad) -> Result<Borrower> {
        let p_repay = self.p.value(k);
        if !(0.0..=1.0).contains(&p_repay) {
            return Err(bad("p_repay", k, "not a probability in [0, 1]".into()));
        }
        let overdue_amount = self.overdue.value(k);
        if !(overdue_amount.is_finite() && overdue_amount >= 0.0) {
            return Err(bad("overdue_amount", k, "not a finite amount >= 0".into()));
        }
        let dpd = self.dpd.value(k);
        if dpd < 0 {
            return Err(bad("dpd", k, "negative".into()));
        }
        Ok(Borrower {
            p_repay,
            overdue_amount,
            dpd: i64::from(dpd),
        })
    }

    /// The night's decision of row `k`, and what its rule says.
    fn decision(&self, k: usize, bad: Bad) -> Result<(Outcome, Recorded)> {
        let value = self.treatment.value(k);
        let treatment = Treatment::parse(value).ok_or_else(|| {
            bad(
                "treatment",
                k,
                format!("unknown treatment {value:?} (soft, standard, escalated)"),
            )
        })?;
        let value = self.channel.value(k);
        let channel = Channel::parse(value)
            .ok_or_else(|| bad("channel", k, format!("unknown channel {value:?}")))?;
        let arm = match self.arm.value(k) {
            "champion" => Arm::Champion,
            "challenger" => Arm::Challenger,
            other => {
                return Err(bad(
                    "arm",
                    k,
                    format!("unknown arm {other:?} (champion, challenger)"),
                ))
            }
        };
        let rule = self.rule.value(k);
        let recorded = Recorded::parse(rule, treatment).map_err(|m| bad("treatment_rule", k, m))?;
        let outcome = Outcome {
            treatment,
            before_capacity: recorded.before_capacity,
            channel,
            contact_allowed: Some(self.allowed.value(k)),
            human_review: self.review.value(k),
            offer_plan: self.plan.value(k),
            arm,
            rule: rule.to_string(),
        };
        Ok((outcome, recorded))
    }

    /// Calls left tomorrow in row `k`, under the night's limits.
    fn calls_left(&self, k: usize, bad: Bad) -> Result<Option<u32>> {
        if self.calls.is_null(k) {
            return Ok(None);
        }
        u32::try_from(self.calls.value(k))
            .map(Some)
            .map_err(|_| bad("calls_left_today", k, "negative".into()))
    }
}

/// A null in a column the contract says is never null is a damaged file.
fn check_nulls(b: &RecordBatch, bad: Bad) -> Result<()> {
    const NULLABLE: [&str; 4] = [
        "calls_left_today",
        "contact_window_start",
        "contact_window_end",
        "next_due_date",
    ];
    for &(name, _, _) in COLUMNS {
        let Some(c) = b.column_by_name(name) else {
            continue;
        };
        if !NULLABLE.contains(&name) && c.null_count() > 0 {
            let row = (0..c.len()).find(|&k| c.is_null(k)).unwrap_or(0);
            return Err(bad(name, row, "is null".into()));
        }
    }
    Ok(())
}

fn parse(
    path: PathBuf,
    sha256: String,
    b: RecordBatch,
    footer_as_of: Option<String>,
) -> Result<ScoredFile> {
    let n = b.num_rows();
    let bad = |column: &'static str, row: usize, message: String| ScoredError::BadValue {
        path: path.clone(),
        column,
        row: row as u64,
        message,
    };
    check_nulls(&b, &bad)?;
    let c = Columns::new(&b);
    let as_of = match (n, footer_as_of.as_deref().and_then(dates::parse)) {
        (0, Some(d)) => d,
        (0, None) => {
            return Err(ScoredError::Unreadable {
                path,
                message: "no rows and no dunning.as_of in the footer".into(),
            })
        }
        _ => c.as_of.value(0),
    };
    let window = c.window(&bad)?;
    let mut band_names: Vec<String> = Vec::new();
    let mut rows = Vec::with_capacity(n);
    for k in 0..n {
        c.check_same_night(k, &bad)?;
        let borrower = c.borrower(k, &bad)?;
        let (recorded, said) = c.decision(k, &bad)?;
        let name = c.band.value(k);
        let model_band = band_names
            .iter()
            .position(|x| x == name)
            .unwrap_or_else(|| {
                band_names.push(name.to_string());
                band_names.len() - 1
            });
        rows.push(ScoredRow {
            borrower,
            model_band,
            flags: said.flags,
            preventive: said.preventive,
            calls_left_today: c.calls_left(k, &bad)?,
            next_due_date: c.next_due.and_then(|d| (!d.is_null(k)).then(|| d.value(k))),
            recorded,
        });
    }
    let first = |a: &StringArray| {
        if n > 0 {
            a.value(0).to_string()
        } else {
            String::new()
        }
    };
    let strategy_sha256 =
        read_manifest(&path).and_then(|m| m.get("strategy_sha256")?.as_str().map(String::from));
    Ok(ScoredFile {
        sha256,
        as_of,
        run_id: first(c.run_id),
        model_version: first(c.model),
        strategy_version: first(c.version),
        strategy_sha256,
        window,
        has_next_due: c.next_due.is_some(),
        ids: b.column_by_name("borrower_id").expect("checked").clone(),
        band_names,
        rows,
        path,
    })
}

/// What the recorded rule says beyond the treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Recorded {
    flags: Flags,
    preventive: bool,
    before_capacity: Treatment,
}

impl Recorded {
    /// Parses a treatment_rule (see [`crate::strategy::assign`]): the flags
    /// it names, whether the preventive reminder was given, and the
    /// treatment before capacity (the first `capacity:FROM->TO`'s FROM).
    fn parse(rule: &str, treatment: Treatment) -> std::result::Result<Self, String> {
        let mut r = Recorded {
            flags: Flags::default(),
            preventive: false,
            before_capacity: treatment,
        };
        let mut demoted = false;
        let mut last = None;
        for (i, token) in rule.split(';').enumerate() {
            match token {
                "dispute" => r.flags.dispute = true,
                "hardship" => r.flags.hardship = true,
                "do_not_contact" => r.flags.do_not_contact = true,
                "preventive" => r.preventive = true,
                "contact_limit" | "human_review" => {}
                t if i == 0
                    && (t.starts_with("matrix:") || t.starts_with("challenger:matrix:")) => {}
                t => {
                    let fall = t.strip_prefix("capacity:").and_then(|m| {
                        let (from, to) = m.split_once("->")?;
                        Some((Treatment::parse(from)?, Treatment::parse(to)?))
                    });
                    let Some((from, to)) = fall else {
                        return Err(format!("unknown rule {t:?} in {rule:?}"));
                    };
                    if to.index() + 1 != from.index() || last.is_some_and(|l| l != from) {
                        return Err(format!("capacity fallbacks out of order in {rule:?}"));
                    }
                    if !demoted {
                        r.before_capacity = from;
                        demoted = true;
                    }
                    last = Some(to);
                }
            }
        }
        if !rule.starts_with("matrix:") && !rule.starts_with("challenger:matrix:") {
            return Err(format!(
                "expected the rule to start with the matrix cell, got {rule:?}"
            ));
        }
        if last.is_some_and(|l| l != treatment) {
            return Err(format!(
                "capacity fallbacks in {rule:?} end elsewhere than the treatment {}",
                treatment.as_str()
            ));
        }
        Ok(r)
    }
}

/// How a strategy's contact limits are evaluated on a scored file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactBasis {
    /// The strategy has no contact limits: exact.
    None,
    /// The night's calls_left_today (the strategy's window is the night's).
    Recorded,
    /// Calls cannot be judged: contact_allowed of calls is unknown.
    Unknown,
}

/// The outcomes of `strategy` (whose file has sha256 `sha256`) on the
/// file's borrowers, decided as the night decided them, capacity applied;
/// each limitation that applies is pushed onto `limitations`, naming
/// `label` (baseline or new). `night_contact` is the night's contact limits
/// when known (the night's strategy file was given as the baseline).
pub fn redecide(
    file: &ScoredFile,
    strategy: &Strategy,
    sha256: &str,
    night_contact: Option<&Option<ContactRules>>,
    label: &str,
    limitations: &mut Vec<String>,
) -> Vec<Outcome> {
    let same_as_night = file.strategy_sha256.as_deref() == Some(sha256);
    let same_limits = same_as_night || night_contact == Some(&strategy.contact_rules);
    let basis = match (&strategy.contact_rules, file.window) {
        (None, _) => ContactBasis::None,
        (Some(r), Some(w)) if w == (r.window_start_hour, r.window_end_hour) => {
            ContactBasis::Recorded
        }
        (Some(_), _) => ContactBasis::Unknown,
    };
    match basis {
        ContactBasis::Recorded if !same_limits => limitations.push(format!(
            "{label} ({}): whether a call may be made tomorrow uses the night's calls_left_today, counted under the night's contact limits; if this strategy's call limits differ, contact_allowed of calls is not re-evaluated (the snapshot mode reads the contact history). Treatments and channels do not depend on contact limits.",
            strategy.version
        )),
        ContactBasis::Unknown => limitations.push(format!(
            "{label} ({}): its contact limits cannot be evaluated from the scored file (the night's contact window {} is not this strategy's, and the file has no contact history): contact_allowed of its calls is unknown (null). Treatments and channels do not depend on contact limits; the snapshot mode evaluates them.",
            strategy.version,
            file.window
                .map(|(s, e)| format!("{s:02}:00-{e:02}:00"))
                .unwrap_or_else(|| "(none)".into())
        )),
        _ => {}
    }
    if strategy.preventive.is_some() && !file.has_next_due && !same_as_night {
        limitations.push(format!(
            "{label} ({}): the scored file has no next_due_date column (written by an older dunning), so a borrower gets the preventive reminder when the night gave one; exact only when this strategy's preventive.days_before_due is the night's.",
            strategy.version
        ));
    }
    let action_day = file.as_of + 1;
    let mut decisions: Vec<Decision> = Vec::with_capacity(file.rows.len());
    let mut arms_of = Vec::with_capacity(file.rows.len());
    let mut priority = Vec::with_capacity(file.rows.len());
    for (k, r) in file.rows.iter().enumerate() {
        let b = &r.borrower;
        let days_to_next_due = if file.has_next_due {
            r.next_due_date.map(|d| i64::from(d - file.as_of))
        } else {
            // The night's reminder stands in for the due date.
            r.preventive.then_some(0)
        };
        let contact = match (basis, r.calls_left_today) {
            (ContactBasis::Recorded, Some(calls_left_today)) => Some(ContactStatus {
                calls_left_today,
                next_call_date: action_day,
                action_day,
            }),
            _ => None,
        };
        let arm = match &strategy.challenger {
            None => Arm::Champion,
            Some(_) => arms::arm(strategy, &id_text(&file.ids, k)),
        };
        let state = BorrowerState {
            dpd: b.dpd,
            band: strategy.band_index(b.p_repay, &file.band_names[r.model_band]),
            days_to_next_due,
            flags: r.flags,
            contact,
            arm,
        };
        decisions.push(decide(strategy, &state));
        arms_of.push(arm);
        priority.push(capacity_priority(b.overdue_amount, b.p_repay));
    }
    let mut out = super::outcomes(strategy, decisions, &arms_of, &priority);
    if basis == ContactBasis::Unknown {
        for (o, r) in out.iter_mut().zip(&file.rows) {
            if o.channel == Channel::Call && !r.flags.dispute {
                o.contact_allowed = None;
            }
        }
    }
    out
}

/// The id's text, as the run hashes it for the arm (an integer's decimal
/// digits, a string as stored).
fn id_text(ids: &ArrayRef, k: usize) -> String {
    match ids.data_type() {
        DataType::Int64 => ids
            .as_any()
            .downcast_ref::<Int64Array>()
            .map_or_else(String::new, |a| a.value(k).to_string()),
        _ => ids.as_string::<i32>().value(k).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::Strategy;

    fn default_strategy() -> Strategy {
        Strategy::parse(
            Path::new("default.toml"),
            include_str!("../../../strategies/default.toml"),
        )
        .unwrap()
    }

    #[test]
    fn the_recorded_rule_gives_back_the_flags_decide_wrote() {
        let s = default_strategy();
        for bits in 0..8u8 {
            let flags = Flags {
                hardship: bits & 1 != 0,
                dispute: bits & 2 != 0,
                do_not_contact: bits & 4 != 0,
            };
            for (dpd, days) in [(0, Some(1)), (0, None), (45, None), (120, Some(2))] {
                let d = decide(
                    &s,
                    &BorrowerState {
                        dpd,
                        band: 3,
                        days_to_next_due: days,
                        flags,
                        contact: None,
                        arm: Arm::Champion,
                    },
                );
                let r = Recorded::parse(&d.rule, d.treatment).unwrap();
                assert_eq!(r.flags, flags, "{}", d.rule);
                assert_eq!(r.preventive, dpd == 0 && days.is_some(), "{}", d.rule);
                assert_eq!(r.before_capacity, d.treatment);
            }
        }
    }

    #[test]
    fn the_recorded_rule_gives_the_treatment_before_capacity() {
        let r = Recorded::parse(
            "matrix:90+/E;human_review;capacity:escalated->standard;capacity:standard->soft",
            Treatment::Soft,
        )
        .unwrap();
        assert_eq!(r.before_capacity, Treatment::Escalated);
        let r = Recorded::parse(
            "challenger:matrix:30-59/A;capacity:standard->soft",
            Treatment::Soft,
        )
        .unwrap();
        assert_eq!(r.before_capacity, Treatment::Standard);
    }

    #[test]
    fn rejects_rules_it_cannot_read() {
        for (rule, t) in [
            ("matrix:1/A;teleport", Treatment::Soft),
            ("preventive", Treatment::Soft),
            ("matrix:1/A;capacity:escalated->soft", Treatment::Soft),
            ("matrix:1/A;capacity:escalated->standard", Treatment::Soft),
        ] {
            assert!(Recorded::parse(rule, t).is_err(), "{rule}");
        }
    }

    use arrow::array::{ArrayRef, Date32Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    /// A two-row scored file as `dunning run` writes it (columns the
    /// what-if reads), with `replace` columns swapped in and `drop` left out.
    fn write(dir: &Path, replace: Vec<(&str, ArrayRef)>, drop: &[&str]) -> PathBuf {
        let text = |v: [&str; 2]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        let mut cols: Vec<(&str, ArrayRef)> = vec![
            ("borrower_id", Arc::new(Int64Array::from(vec![1, 2]))),
            ("as_of", Arc::new(Date32Array::from(vec![20_000, 20_000]))),
            ("p_repay", Arc::new(Float64Array::from(vec![0.9, 0.3]))),
            ("risk_band", text(["A", "E"])),
            ("dpd", Arc::new(Int32Array::from(vec![0, 95]))),
            (
                "overdue_amount",
                Arc::new(Float64Array::from(vec![0.0, 250.0])),
            ),
            ("model_version", text(["m", "m"])),
            ("treatment", text(["soft", "escalated"])),
            ("channel", text(["sms", "visit"])),
            (
                "contact_allowed",
                Arc::new(BooleanArray::from(vec![true, true])),
            ),
            (
                "calls_left_today",
                Arc::new(Int32Array::from(vec![Some(6), Some(0)])),
            ),
            ("contact_window_start", text(["08:00", "08:00"])),
            ("contact_window_end", text(["22:00", "22:00"])),
            (
                "offer_plan",
                Arc::new(BooleanArray::from(vec![false, false])),
            ),
            (
                "human_review",
                Arc::new(BooleanArray::from(vec![false, false])),
            ),
            ("treatment_rule", text(["matrix:current/A", "matrix:90+/E"])),
            ("arm", text(["champion", "champion"])),
            ("strategy_version", text(["default-1", "default-1"])),
            ("run_id", text(["r", "r"])),
            (
                "next_due_date",
                Arc::new(Date32Array::from(vec![Some(20_002), None])),
            ),
        ];
        for (name, a) in replace {
            let slot = cols.iter_mut().find(|c| c.0 == name).unwrap();
            slot.1 = a;
        }
        cols.retain(|c| !drop.contains(&c.0));
        let fields: Vec<Field> = cols
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            cols.into_iter().map(|c| c.1).collect(),
        )
        .unwrap();
        let path = dir.join("scored.parquet");
        crate::output::write_parquet(&path, batch.schema(), &[batch]).unwrap();
        path
    }

    #[test]
    fn reads_a_night_s_scored_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = read(&write(dir.path(), vec![], &[])).unwrap();
        assert_eq!(
            (f.as_of, f.window, f.has_next_due),
            (20_000, Some((8, 22)), true)
        );
        assert_eq!(f.band_names, ["A", "E"]);
        assert_eq!(f.rows[0].next_due_date, Some(20_002));
        assert_eq!(f.rows[1].calls_left_today, Some(0));
        assert_eq!(f.rows[1].recorded.treatment, Treatment::Escalated);
        assert_eq!(f.sha256.len(), 64);
        // The night's directory stands for its scored.parquet.
        assert_eq!(read(dir.path()).unwrap().rows.len(), 2);
        // Re-deciding under the default strategy gives the recorded decisions.
        let s = default_strategy();
        let mut notes = Vec::new();
        let o = redecide(&f, &s, "other", None, "new", &mut notes);
        assert_eq!(o[0].treatment, Treatment::Soft);
        assert_eq!(o[0].rule, "matrix:current/A;preventive");
        assert_eq!(o[1].rule, "matrix:90+/E");
        assert_eq!(notes.len(), 1, "contact limits unconfirmed: {notes:?}");
    }

    #[test]
    fn rejects_damaged_scored_files() {
        let f64s = |v: [f64; 2]| -> ArrayRef { Arc::new(Float64Array::from(v.to_vec())) };
        let text = |v: [Option<&str>; 2]| -> ArrayRef { Arc::new(StringArray::from(v.to_vec())) };
        /// (columns to swap in, columns to leave out, expected message part)
        type Case<'a> = (Vec<(&'a str, ArrayRef)>, &'a [&'a str], &'a str);
        let cases: Vec<Case> = vec![
            (vec![], &["treatment"], "column `treatment` is missing"),
            (
                vec![("dpd", Arc::new(Int64Array::from(vec![0, 95])) as ArrayRef)],
                &[],
                "column `dpd` has type Int64; expected Int32",
            ),
            (
                vec![("p_repay", f64s([0.9, 1.5]))],
                &[],
                "column `p_repay` row 1: not a probability",
            ),
            (
                vec![("p_repay", f64s([f64::NAN, 0.3]))],
                &[],
                "`p_repay` row 0",
            ),
            (
                vec![("overdue_amount", f64s([0.0, -1.0]))],
                &[],
                "`overdue_amount` row 1",
            ),
            (
                vec![("treatment", text([Some("soft"), Some("arrest")]))],
                &[],
                "`treatment` row 1: unknown treatment \"arrest\"",
            ),
            (
                vec![("treatment", text([Some("soft"), None]))],
                &[],
                "`treatment` row 1: is null",
            ),
            (
                vec![(
                    "treatment_rule",
                    text([Some("matrix:current/A;teleport"), Some("matrix:90+/E")]),
                )],
                &[],
                "`treatment_rule` row 0: unknown rule",
            ),
            (
                vec![("run_id", text([Some("r"), Some("s")]))],
                &[],
                "`run_id` row 1",
            ),
            (
                vec![(
                    "as_of",
                    Arc::new(Date32Array::from(vec![20_000, 20_001])) as ArrayRef,
                )],
                &[],
                "`as_of` row 1",
            ),
            (
                vec![("arm", text([Some("champion"), Some("rebel")]))],
                &[],
                "`arm` row 1: unknown arm",
            ),
        ];
        for (replace, drop, needle) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = write(dir.path(), replace, drop);
            let e = read(&path).unwrap_err().to_string();
            assert!(e.starts_with(&path.display().to_string()), "{e}");
            assert!(e.contains(needle), "{needle:?} not in {e}");
        }
    }

    #[test]
    fn rejects_partition_shares_and_reads_the_night_s_strategy_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), vec![], &[]);
        std::fs::write(
            dir.path().join("manifest.json"),
            r#"{"partition": {"index": 0, "count": 2}, "capacity_applied": false}"#,
        )
        .unwrap();
        assert!(matches!(
            read(&path),
            Err(ScoredError::PartitionShare { .. })
        ));
        std::fs::write(
            dir.path().join("manifest.json"),
            r#"{"partition": null, "capacity_applied": true, "strategy_sha256": "abc"}"#,
        )
        .unwrap();
        assert_eq!(read(&path).unwrap().strategy_sha256.as_deref(), Some("abc"));
    }

    #[test]
    fn a_file_without_next_due_date_stands_in_the_night_s_reminders() {
        let dir = tempfile::tempdir().unwrap();
        let rule: ArrayRef = Arc::new(StringArray::from(vec![
            "matrix:current/A;preventive",
            "matrix:90+/E",
        ]));
        let f = read(&write(
            dir.path(),
            vec![("treatment_rule", rule)],
            &["next_due_date"],
        ))
        .unwrap();
        assert!(!f.has_next_due);
        let mut notes = Vec::new();
        let o = redecide(&f, &default_strategy(), "other", None, "new", &mut notes);
        assert_eq!(o[0].rule, "matrix:current/A;preventive");
        assert!(
            notes.iter().any(|n| n.contains("next_due_date")),
            "{notes:?}"
        );
    }

    #[test]
    fn hours_of_the_contact_window() {
        assert_eq!(hour("08:00"), Some(8));
        assert_eq!(hour("22:00"), Some(22));
        assert_eq!(hour("08:30"), None);
        assert_eq!(hour("8"), None);
    }
}
