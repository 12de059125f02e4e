//! Row-level validation: from read tables to the typed, grouped [`Ledger`].
//!
//! Every row of every table ends in exactly one place: used, rejected (with
//! the file, the row index, the column, the reason and the borrower id), or
//! counted as unmatched. With `strict`, any reject is fatal.
//!
//! Reject reasons name the column and the rule broken, never the value: the
//! values of amounts, dates and contacts are personal data, and reasons go
//! to the rejects file and the log.

use arrow::array::{Array, AsArray};
use arrow::util::display::array_value_to_string;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::read::{check_file, read_table, Column, RawChunk, RawTable};
use super::{
    Channel, ContractError, IdType, InputPaths, KeyIndex, Outcome, Result, TableReport, BORROWERS,
    CONTACTS, LABELS, MAX_DAY, MIN_DAY, PAYMENTS, PAYMENTS_UNTAGGED, SCHEDULE,
};
use crate::dates::Day;
use crate::par::{par_fill, Sink};

/// Per-run choices that affect loading.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Numeric borrower attributes to carry into the features (columns of the borrowers table).
    pub attributes: Vec<String>,
    /// Make any rejected row fatal.
    pub strict: bool,
    /// Load only this partition's borrowers (None: all).
    pub partition: Option<super::Partition>,
    /// Row groups shared with the other partitions of the same run (decoded
    /// once for all of them).
    pub shared: Option<std::sync::Arc<super::read::SharedGroups>>,
}

/// A rejected input row.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// Contract table name.
    pub table: &'static str,
    /// The file it came from.
    pub file: String,
    /// 0-based row index in the file.
    pub row_index: u64,
    /// The offending column, when one is to blame.
    pub column: Option<&'static str>,
    /// Why the row was rejected.
    pub reason: String,
    /// The row's borrower_id as the file stored it, as a JSON object
    /// `{"borrower_id": "..."}` (null when the file has none). The row's
    /// other values are personal data and are not copied: `file` and
    /// `row_index` find the row.
    pub values: String,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: row index {}", self.file, self.row_index)?;
        if let Some(c) = self.column {
            write!(f, ", column `{c}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// An installment owed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Installment {
    /// Borrower index (into [`Ledger::borrowers`]).
    pub borrower: u32,
    /// Loan index, or [`UNNAMED_LOAN`] when the schedule has no loan_id for it.
    pub loan: u32,
    /// Due date.
    pub due: Day,
    /// Amount due, finite and >= 0.
    pub amount: f64,
}

/// The loan index of installments whose schedule row has no loan_id.
pub const UNNAMED_LOAN: u32 = u32::MAX;

/// A money movement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Payment {
    /// Borrower index.
    pub borrower: u32,
    /// The loan it is tagged to, or None for a borrower-level payment.
    pub loan: Option<u32>,
    /// Payment date.
    pub date: Day,
    /// Amount, finite; negative for a reversal.
    pub amount: f64,
}

/// A collection contact. 32 bytes: contacts are the largest table (about
/// 14 per borrower), so the optional promise is stored with sentinels (NaN,
/// `i32::MIN`) rather than as `Option`s (which took it to 48 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contact {
    /// Borrower index.
    pub borrower: u32,
    /// Microseconds since the epoch (naive local time).
    pub time: i64,
    /// Its calendar day.
    pub day: Day,
    /// Channel.
    pub channel: Channel,
    /// Outcome.
    pub outcome: Outcome,
    promise_amount: f64,
    promise_date: Day,
}

impl Contact {
    /// A contact; `promise` is the promised amount and date, when given.
    pub fn new(
        borrower: u32,
        time: i64,
        day: Day,
        channel: Channel,
        outcome: Outcome,
        promise_amount: Option<f64>,
        promise_date: Option<Day>,
    ) -> Self {
        Self {
            borrower,
            time,
            day,
            channel,
            outcome,
            promise_amount: promise_amount.unwrap_or(f64::NAN),
            promise_date: promise_date.unwrap_or(Day::MIN),
        }
    }
    /// Promised amount, for a promise to pay.
    pub fn promise_amount(&self) -> Option<f64> {
        (!self.promise_amount.is_nan()).then_some(self.promise_amount)
    }
    /// Promised date, for a promise to pay.
    pub fn promise_date(&self) -> Option<Day> {
        (self.promise_date != Day::MIN).then_some(self.promise_date)
    }
}

/// A given training label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GivenLabel {
    /// Borrower index.
    pub borrower: u32,
    /// Snapshot date.
    pub as_of: Day,
    /// Whether the borrower repaid.
    pub repaid: bool,
}

/// Borrower flags from the borrowers table (false when absent or null).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// The borrower is in declared hardship.
    pub hardship: bool,
    /// The borrower disputes the debt.
    pub dispute: bool,
    /// The borrower must not be contacted.
    pub do_not_contact: bool,
}

/// Rows of one kind sorted by borrower, with each borrower's range.
#[derive(Debug, Clone, Default)]
pub struct Grouped<T> {
    /// All rows, sorted by borrower then canonically.
    pub rows: Vec<T>,
    /// `rows[offsets[b]..offsets[b + 1]]` are borrower b's rows.
    pub offsets: Vec<usize>,
}

impl<T> Grouped<T> {
    fn new(rows: Vec<T>, borrowers: usize, key: impl Fn(&T) -> u32) -> Self {
        let mut offsets = vec![0usize; borrowers + 1];
        for r in &rows {
            offsets[key(r) as usize + 1] += 1;
        }
        for b in 0..borrowers {
            offsets[b + 1] += offsets[b];
        }
        Self { rows, offsets }
    }
    /// Borrower `b`'s rows.
    pub fn of(&self, b: u32) -> &[T] {
        let b = b as usize;
        &self.rows[self.offsets[b]..self.offsets[b + 1]]
    }
}

/// A numeric borrower attribute, per borrower (None when missing).
#[derive(Debug, Clone)]
pub struct Attribute {
    /// Column name.
    pub name: String,
    /// Values by borrower index.
    pub values: Vec<Option<f64>>,
}

/// The validated input: every table typed, checked and grouped by borrower.
#[derive(Debug)]
pub struct Ledger {
    /// The borrowers (every borrower with at least one valid installment), sorted by id.
    pub borrowers: KeyIndex,
    /// Installments.
    pub schedule: Grouped<Installment>,
    /// Payments and reversals.
    pub payments: Grouped<Payment>,
    /// Contacts, when a contacts table was given.
    pub contacts: Option<Grouped<Contact>>,
    /// Flags by borrower index.
    pub flags: Vec<Flags>,
    /// Requested numeric attributes.
    pub attributes: Vec<Attribute>,
    /// Given labels sorted by (as_of, borrower), when a labels table was given.
    pub labels: Option<Vec<GivenLabel>>,
    /// The latest payment date in the ledger (where the data ends), if any payment.
    pub last_payment: Option<Day>,
    /// Row accounting per table, in load order.
    pub reports: Vec<TableReport>,
    /// Rejected rows, by table in load order (schedule, payments, contacts,
    /// borrowers, labels), then by file row.
    pub rejects: Vec<Reject>,
}

impl Ledger {
    /// Number of borrowers.
    pub fn borrower_count(&self) -> usize {
        self.borrowers.len()
    }
}

/// The tables in the order [`load`] validates them: rejects are listed in
/// this order, then by file row.
pub const LOAD_ORDER: [&str; 5] = ["schedule", "payments", "contacts", "borrowers", "labels"];

/// The sort key of a reject: its table's place in [`LOAD_ORDER`], then its
/// file row.
pub fn reject_order(table: &str, row_index: u64) -> (usize, u64) {
    (
        LOAD_ORDER
            .iter()
            .position(|t| *t == table)
            .unwrap_or(LOAD_ORDER.len()),
        row_index,
    )
}

/// Collects the rejects of one table.
struct Rejector<'a> {
    raw: &'a RawTable,
    file: String,
    rejects: Vec<Reject>,
    /// Table rows `first..first + rejected.len()` this rejector judges.
    first: usize,
    rejected: Vec<bool>,
    /// The table row of row 0 of the chunk being judged: [`Rejector::reject`]
    /// takes the chunk's rows ([`Rejector::at`]), [`Rejector::reject_row`]
    /// and [`Rejector::ok_row`] the table's.
    base: usize,
}

impl<'a> Rejector<'a> {
    fn new(raw: &'a RawTable) -> Self {
        Self::range(raw, 0, raw.rows)
    }
    /// A rejector of table rows `first..end` only (a piece of a table).
    fn range(raw: &'a RawTable, first: usize, end: usize) -> Self {
        Self {
            raw,
            file: raw.path.display().to_string(),
            rejects: Vec::new(),
            first,
            rejected: vec![false; end - first],
            base: 0,
        }
    }
    /// The rows given from now on are those of `chunk`.
    fn at(&mut self, chunk: &RawChunk) {
        self.base = chunk.first;
    }
    /// Rejects `row` of the current chunk (once; a second reason for the
    /// same row is not recorded).
    fn reject(&mut self, row: usize, column: Option<&'static str>, reason: impl Into<String>) {
        self.reject_row(self.base + row, column, reason);
    }
    /// Rejects table row `row` (see [`Rejector::reject`]).
    fn reject_row(&mut self, row: usize, column: Option<&'static str>, reason: impl Into<String>) {
        if std::mem::replace(&mut self.rejected[row - self.first], true) {
            return;
        }
        // Only the borrower id is copied: the other columns are personal
        // data (amounts, dates, contact details, loan ids), and the row is
        // found in its file by `row_index`.
        let (chunk, at) = self.raw.locate(row);
        let id = match &chunk.original_id {
            Some(a) if !a.is_null(at) => array_value_to_string(a.as_ref(), at)
                .map(serde_json::Value::String)
                .unwrap_or(serde_json::Value::Null),
            _ => serde_json::Value::Null,
        };
        self.rejects.push(Reject {
            table: self.raw.spec.name,
            file: self.file.clone(),
            row_index: self.raw.file_row(row),
            column,
            reason: reason.into(),
            values: serde_json::json!({ "borrower_id": id }).to_string(),
        });
    }
    /// Whether table row `row` is not rejected.
    fn ok_row(&self, row: usize) -> bool {
        !self.rejected[row - self.first]
    }
    fn count(&self) -> u64 {
        self.rejects.len() as u64
    }
}

fn report(raw: &RawTable, used: u64, rejected: u64, unmatched: u64) -> TableReport {
    debug_assert_eq!(used + rejected + unmatched, raw.rows as u64);
    TableReport {
        table: raw.spec.name.to_string(),
        file: raw.path.display().to_string(),
        rows_read: raw.file_rows as u64,
        rows_used: used,
        rows_rejected: rejected,
        rows_unmatched: unmatched,
        rows_other_partitions: (raw.file_rows - raw.rows) as u64,
        ignored_columns: raw.ignored.clone(),
    }
}

/// The position of a required column of a table that [`read_table`] has
/// checked is present.
fn need(raw: &RawTable, name: &str) -> usize {
    raw.position(name)
        .expect("read_table checks that required columns are present")
}

/// Checks a date column at `row`: not null and within [1900-01-01, 2200-12-31].
#[inline]
fn check_day(rj: &mut Rejector, col: &Column, name: &'static str, row: usize) -> Option<Day> {
    let a = col.as_i64().expect("date columns are i64 day numbers");
    if a.is_valid(row) {
        let d = a.value(row);
        if (MIN_DAY as i64..=MAX_DAY as i64).contains(&d) {
            return Some(d as Day);
        }
    }
    reject_day(rj, a, name, row)
}

/// The reject of [`check_day`] (kept out of the valid rows' path).
#[cold]
#[inline(never)]
fn reject_day(
    rj: &mut Rejector,
    a: &arrow::array::Int64Array,
    name: &'static str,
    row: usize,
) -> Option<Day> {
    let reason = if a.is_null(row) {
        format!("null {name}")
    } else {
        format!("{name} out of range (before 1900-01-01 or after 2200-12-31)")
    };
    rj.reject(row, Some(name), reason);
    None
}

/// Checks an amount column at `row`: not null and finite (and >= 0 when `nonneg`).
#[inline]
fn check_amount(
    rj: &mut Rejector,
    col: &Column,
    name: &'static str,
    row: usize,
    nonneg: bool,
) -> Option<f64> {
    let a = col.as_float().expect("amount columns are f64");
    if a.is_valid(row) {
        let v = a.value(row);
        // NaN fails both comparisons.
        if v.abs() <= super::MAX_AMOUNT && (!nonneg || v >= 0.0) {
            return Some(v);
        }
    }
    reject_amount(rj, a, name, row, nonneg)
}

/// The reject of [`check_amount`] (kept out of the valid rows' path).
#[cold]
#[inline(never)]
fn reject_amount(
    rj: &mut Rejector,
    a: &arrow::array::Float64Array,
    name: &'static str,
    row: usize,
    nonneg: bool,
) -> Option<f64> {
    let reason = if a.is_null(row) {
        format!("null {name}")
    } else {
        let v = a.value(row);
        if !v.is_finite() {
            // `v` is NaN or an infinity here: a defect, not the borrower's data.
            format!("{name} is not a finite number ({v})")
        } else if nonneg && v < 0.0 {
            format!("{name} is negative")
        } else {
            format!("{name} is out of range (absolute value above 1e13)")
        }
    };
    rj.reject(row, Some(name), reason);
    None
}

/// Checks an id at `row` is present and not empty.
#[inline]
fn check_id(rj: &mut Rejector, col: &Column, name: &'static str, row: usize) -> bool {
    let null = match col {
        Column::IntId(a) => a.is_null(row),
        Column::StrId(a) => a.is_null(row) || a.value(row).trim().is_empty(),
        _ => true,
    };
    if null {
        reject_id(rj, name, row);
    }
    !null
}

/// The reject of [`check_id`] (kept out of the valid rows' path).
#[cold]
#[inline(never)]
fn reject_id(rj: &mut Rejector, name: &'static str, row: usize) {
    rj.reject(row, Some(name), format!("null or empty {name}"));
}

/// Checks that `raw`'s id column has the schedule's id type.
fn same_id_type(raw: &RawTable, name: &'static str, expected: IdType) -> Result<()> {
    match raw.sample(name).and_then(IdType::of) {
        Some(t) if t != expected => Err(ContractError::IdTypeMismatch {
            path: raw.path.clone(),
            column: name,
            found: t.name(),
            expected: expected.name(),
        }),
        _ => Ok(()),
    }
}

/// Reads and validates all input tables.
///
/// Fatal problems of the files come first, from their footers: every file
/// opens, is Parquet and has the contract's columns before any row is read.
/// Then each table is read, validated and dropped before the next is read,
/// so at most one raw table is in memory beside the validated rows.
pub fn load(paths: &InputPaths, opts: &LoadOptions) -> Result<Ledger> {
    // The partitions of one run check each footer once between them.
    let check = |path: &std::path::Path, spec: &'static super::TableSpec| match &opts.shared {
        Some(shared) => shared.check_file(path, spec),
        None => check_file(path, spec),
    };
    check(&paths.schedule, &SCHEDULE)?;
    check(&paths.payments, &PAYMENTS_UNTAGGED)?;
    for (path, spec) in [
        (paths.borrowers.as_deref(), &BORROWERS),
        (paths.contacts.as_deref(), &CONTACTS),
        (paths.labels.as_deref(), &LABELS),
    ] {
        if let Some(p) = path {
            check(p, spec)?;
        }
    }
    if paths.borrowers.is_none() {
        if let Some(name) = opts.attributes.first() {
            return Err(ContractError::UnknownAttribute {
                path: None,
                column: name.clone(),
            });
        }
    }

    let mut reports = Vec::new();
    let mut rejects = Vec::new();

    let clock = std::time::Instant::now();
    let lap =
        |what: &str| log::debug!("load: {what} done at {:.3}s", clock.elapsed().as_secs_f64());
    // Every table is read for this load's partition, sharing row groups
    // with the run's other partitions.
    let read = |path: &std::path::Path, spec: &'static super::TableSpec| {
        read_table(path, spec, opts.partition.as_ref(), opts.shared.as_deref())
    };
    let schedule_raw = read(&paths.schedule, &SCHEDULE)?;
    lap("schedule read");
    if schedule_raw.file_rows == 0 {
        return Err(ContractError::NoRows {
            path: paths.schedule.clone(),
            table: SCHEDULE.name,
        });
    }
    let id_type = schedule_raw
        .sample("borrower_id")
        .and_then(IdType::of)
        .expect("id column");
    let loan_type = schedule_raw.sample("loan_id").and_then(IdType::of);
    // A payment's loan_id means nothing when the schedule names no loans: it
    // is then not read (and listed as ignored).
    let payments_spec = if schedule_raw.has("loan_id") {
        &PAYMENTS
    } else {
        &PAYMENTS_UNTAGGED
    };
    let (borrowers, loans, schedule, loan_pairs) = load_schedule(
        &schedule_raw,
        (id_type, loan_type),
        &mut reports,
        &mut rejects,
    );
    drop(schedule_raw);
    lap("schedule validated");
    let n = borrowers.len();

    let payments_raw = read(&paths.payments, payments_spec)?;
    lap("payments read");
    same_id_type(&payments_raw, "borrower_id", id_type)?;
    if let Some(t) = loan_type {
        same_id_type(&payments_raw, "loan_id", t)?;
    }
    let (payments, last_payment) = load_payments(
        &payments_raw,
        &borrowers,
        loans.as_ref(),
        &loan_pairs,
        &mut reports,
        &mut rejects,
    );
    drop((payments_raw, loan_pairs, loans));
    lap("payments validated");

    let contacts = match paths.contacts.as_deref() {
        Some(p) => {
            let raw = read(p, &CONTACTS)?;
            lap("contacts read");
            same_id_type(&raw, "borrower_id", id_type)?;
            let c = load_contacts(&raw, &borrowers, &mut reports, &mut rejects);
            drop(raw);
            lap("contacts validated");
            Some(c)
        }
        None => None,
    };

    let (flags, attributes) = match paths.borrowers.as_deref() {
        Some(p) => {
            let raw = read(p, &BORROWERS)?;
            same_id_type(&raw, "borrower_id", id_type)?;
            for name in &opts.attributes {
                if !raw.has(name) || BORROWERS.kind_of(name).is_some() {
                    return Err(ContractError::UnknownAttribute {
                        path: paths.borrowers.clone(),
                        column: name.clone(),
                    });
                }
            }
            load_borrowers(
                &raw,
                &borrowers,
                &opts.attributes,
                &mut reports,
                &mut rejects,
            )
        }
        None => (vec![Flags::default(); n], Vec::new()),
    };

    let labels = match paths.labels.as_deref() {
        Some(p) => {
            let raw = read(p, &LABELS)?;
            same_id_type(&raw, "borrower_id", id_type)?;
            Some(load_labels(&raw, &borrowers, &mut reports, &mut rejects))
        }
        None => None,
    };

    // Rejects in load order of the tables, then file row order, whatever
    // order the checks found them in (and however the rows were partitioned).
    rejects.sort_by_key(|r| reject_order(r.table, r.row_index));
    if opts.strict && !rejects.is_empty() {
        return Err(ContractError::Strict {
            count: rejects.len(),
            first: rejects[0].to_string(),
        });
    }
    Ok(Ledger {
        schedule: Grouped::new(schedule, n, |r| r.borrower),
        payments: Grouped::new(payments, n, |r| r.borrower),
        contacts: contacts.map(|c| Grouped::new(c, n, |r| r.borrower)),
        borrowers,
        flags,
        attributes,
        labels,
        last_payment,
        reports,
        rejects,
    })
}

type ScheduleParts = (KeyIndex, Option<KeyIndex>, Vec<Installment>, LoanOwners);

/// Which borrower each loan of the schedule belongs to: one borrower for
/// nearly every loan (kept in a plain vector), and the pairs of a loan id
/// that several borrowers' installments name (kept in a set).
#[derive(Debug, Default)]
struct LoanOwners {
    /// The borrower of each loan index, [`SHARED_LOAN`] when several.
    owner: Vec<u32>,
    /// The (borrower, loan) pairs of the loans owned by several borrowers.
    shared: FxHashSet<(u32, u32)>,
}

/// See [`LoanOwners::owner`].
const SHARED_LOAN: u32 = u32::MAX;

impl LoanOwners {
    /// From the (borrower, loan) pairs of the installments (repeats
    /// allowed); pairs of [`UNNAMED_LOAN`] are not loans.
    fn new(loans: usize, parts: Vec<Vec<(u32, u32)>>) -> Self {
        const NONE: u32 = u32::MAX - 1;
        let mut owner = vec![NONE; loans];
        let mut shared = FxHashSet::default();
        for (b, l) in parts.into_iter().flatten() {
            if l == UNNAMED_LOAN {
                continue;
            }
            let o = &mut owner[l as usize];
            if *o == NONE {
                *o = b;
            } else if *o != b {
                if *o != SHARED_LOAN {
                    shared.insert((*o, l));
                    *o = SHARED_LOAN;
                }
                shared.insert((b, l));
            }
        }
        Self { owner, shared }
    }
    /// Whether the schedule has installments of `loan` for `borrower`.
    fn contains(&self, borrower: u32, loan: u32) -> bool {
        match self.owner.get(loan as usize) {
            Some(&SHARED_LOAN) => self.shared.contains(&(borrower, loan)),
            Some(&o) => o == borrower,
            None => false,
        }
    }
}

/// A schedule row that passed the row checks: its row in its chunk, due
/// date and amount.
type Checked = (usize, Day, f64);

fn load_schedule(
    raw: &RawTable,
    (id_type, loan_type): (IdType, Option<IdType>),
    reports: &mut Vec<TableReport>,
    rejects: &mut Vec<Reject>,
) -> ScheduleParts {
    let ids = need(raw, "borrower_id");
    let due = need(raw, "due_date");
    let amount = need(raw, "amount_due");
    let loan_col = raw.position("loan_id");
    // Rows are judged in parallel pieces (as payments and contacts are);
    // each valid row is kept as (its row in its chunk, due, amount).
    let (checked, mut rejected, pieces) = in_chunks(raw, |chunk, rows, rj, checked| {
        let (ids, due, amount) = (chunk.column(ids), chunk.column(due), chunk.column(amount));
        let loans = loan_col.map(|l| chunk.column(l));
        for row in rows {
            if !check_id(rj, ids, "borrower_id", row) {
                continue;
            }
            let Some(d) = check_day(rj, due, "due_date", row) else {
                continue;
            };
            let Some(a) = check_amount(rj, amount, "amount_due", row, true) else {
                continue;
            };
            if let Some(Column::StrId(l)) = loans {
                if l.is_valid(row) && l.value(row).trim().is_empty() {
                    rj.reject(row, Some("loan_id"), "empty loan_id");
                    continue;
                }
            }
            checked.push((row, d, a));
        }
    });
    // Each piece's valid rows, with the chunk they are rows of.
    let parts: Vec<(&RawChunk, &[Checked])> = {
        let mut rest = &checked[..];
        pieces
            .iter()
            .map(|p| {
                let (head, tail) = rest.split_at(p.kept);
                rest = tail;
                (&raw.chunks[p.chunk], head)
            })
            .collect()
    };
    let of = |col: usize| -> Vec<(&Column, &[Checked])> {
        parts
            .iter()
            .map(|&(c, rows)| (c.column(col), rows))
            .collect()
    };
    let borrowers = KeyIndex::build(id_type, &of(ids), |c| c.0);
    let loans = loan_col
        .zip(loan_type)
        .map(|(l, t)| KeyIndex::build(t, &of(l), |c| c.0));
    // Installments and the (borrower, loan) pairs, in parallel pieces.
    let mut bounds = Vec::with_capacity(parts.len());
    let mut at = 0;
    for (_, rows) in &parts {
        bounds.push((at, at + rows.len()));
        at += rows.len();
    }
    let (mut installments, pair_parts) =
        par_fill(checked.len(), &bounds, |k, (first, end), installments| {
            let chunk = parts[k].0;
            let ids = chunk.column(ids);
            let mut by_id = borrowers.cached(ids);
            let mut by_loan = match (&loans, loan_col) {
                (Some(k), Some(c)) => Some(k.cached(chunk.column(c))),
                _ => None,
            };
            let mut pairs = Vec::new();
            let mut last_pair = None;
            for &(row, due, amount) in &checked[first..end] {
                let borrower = by_id.get(row).expect("built from these rows");
                let loan = by_loan
                    .as_mut()
                    .and_then(|l| l.get(row))
                    .unwrap_or(UNNAMED_LOAN);
                if last_pair != Some((borrower, loan)) {
                    pairs.push((borrower, loan));
                    last_pair = Some((borrower, loan));
                }
                installments.push(Installment {
                    borrower,
                    loan,
                    due,
                    amount,
                });
            }
            pairs
        });
    let pairs = LoanOwners::new(loans.as_ref().map_or(0, KeyIndex::len), pair_parts);
    drop(checked);
    canonical_sort(
        &mut installments,
        |i| i.borrower,
        |a, b| {
            (a.borrower, a.loan, a.due)
                .cmp(&(b.borrower, b.loan, b.due))
                .then(a.amount.total_cmp(&b.amount))
        },
    );
    reports.push(report(
        raw,
        installments.len() as u64,
        rejected.len() as u64,
        0,
    ));
    rejects.append(&mut rejected);
    (borrowers, loans, installments, pairs)
}

/// Rows per parallel validation piece (tiny in unit tests, so that their
/// small tables are split and the merge of pieces is exercised).
const VALIDATE_CHUNK_ROWS: usize = if cfg!(test) { 3 } else { 256 * 1024 };

/// A piece of a table that [`in_chunks`] judged: rows of one chunk.
struct Piece {
    /// The chunk's index in [`RawTable::chunks`].
    chunk: usize,
    /// How many valid rows it kept.
    kept: usize,
}

/// Runs `judge` in parallel over pieces of `raw` of at most
/// [`VALIDATE_CHUNK_ROWS`] rows, each within one chunk: it gets the chunk,
/// the piece's rows of the chunk and a rejector of them (at the chunk), and
/// pushes at most one valid row per row it judges. Returns the valid rows
/// and the rejects, in row order, and the pieces.
fn in_chunks<T: Copy + Send + Sync>(
    raw: &RawTable,
    judge: impl Fn(&RawChunk, std::ops::Range<usize>, &mut Rejector, &mut Sink<T>) + Sync + Send,
) -> (Vec<T>, Vec<Reject>, Vec<Piece>) {
    // (chunk, first row in it, end) of each piece, and its table rows.
    let mut pieces = Vec::new();
    let mut bounds = Vec::new();
    for (k, c) in raw.chunks.iter().enumerate() {
        for first in (0..c.rows).step_by(VALIDATE_CHUNK_ROWS) {
            let end = (first + VALIDATE_CHUNK_ROWS).min(c.rows);
            pieces.push((k, first, end));
            bounds.push((c.first + first, c.first + end));
        }
    }
    let (out, results) = par_fill(raw.rows, &bounds, |p, (first, end), sink| {
        let (k, from, to) = pieces[p];
        let chunk = &raw.chunks[k];
        let mut rj = Rejector::range(raw, first, end);
        rj.at(chunk);
        judge(chunk, from..to, &mut rj, sink);
        (rj.rejects, sink.written())
    });
    let mut rejects = Vec::new();
    let mut judged = Vec::with_capacity(pieces.len());
    for ((k, ..), (r, kept)) in pieces.into_iter().zip(results) {
        rejects.extend(r);
        judged.push(Piece { chunk: k, kept });
    }
    (out, rejects, judged)
}

fn load_payments(
    raw: &RawTable,
    borrowers: &KeyIndex,
    loans: Option<&KeyIndex>,
    pairs: &LoanOwners,
    reports: &mut Vec<TableReport>,
    rejects: &mut Vec<Reject>,
) -> (Vec<Payment>, Option<Day>) {
    let ids = need(raw, "borrower_id");
    let date = need(raw, "paid_date");
    let amount = need(raw, "amount");
    // A payment's loan_id is only meaningful when the schedule names loans.
    let loan_pos = loans.and(raw.position("loan_id"));
    // Rows are judged in parallel pieces, each with its own rejector and id
    // caches; pieces are put back in row order.
    let judge = |chunk: &RawChunk,
                 rows: std::ops::Range<usize>,
                 rj: &mut Rejector,
                 out: &mut Sink<Payment>| {
        let (ids, date, amount) = (chunk.column(ids), chunk.column(date), chunk.column(amount));
        let loan_col = loan_pos.map(|l| chunk.column(l));
        let mut by_id = borrowers.cached(ids);
        let mut by_loan = match (loans, loan_col) {
            (Some(k), Some(c)) => Some(k.cached(c)),
            _ => None,
        };
        for row in rows {
            if !check_id(rj, ids, "borrower_id", row) {
                continue;
            }
            let Some(d) = check_day(rj, date, "paid_date", row) else {
                continue;
            };
            let Some(a) = check_amount(rj, amount, "amount", row, false) else {
                continue;
            };
            let Some(borrower) = by_id.get(row) else {
                rj.reject(
                    row,
                    Some("borrower_id"),
                    "borrower_id has no valid installment in the schedule",
                );
                continue;
            };
            if let Some(Column::StrId(l)) = loan_col {
                if l.is_valid(row) && l.value(row).trim().is_empty() {
                    rj.reject(row, Some("loan_id"), "empty loan_id");
                    continue;
                }
            }
            let loan = match (by_loan.as_mut(), loan_col) {
                (Some(k), Some(c)) if is_present(c, row) => match k.get(row) {
                    Some(l) if pairs.contains(borrower, l) => Some(l),
                    _ => {
                        rj.reject(
                            row,
                            Some("loan_id"),
                            "loan_id is not a loan of this borrower in the schedule",
                        );
                        continue;
                    }
                },
                _ => None,
            };
            out.push(Payment {
                borrower,
                loan,
                date: d,
                amount: a,
            });
        }
    };
    let (mut out, mut rejected, _) = in_chunks(raw, judge);
    canonical_sort(
        &mut out,
        |p| p.borrower,
        |a, b| {
            (a.borrower, a.date)
                .cmp(&(b.borrower, b.date))
                // Same day: money in before reversals, larger first, then by loan.
                .then(b.amount.total_cmp(&a.amount))
                .then(a.loan.cmp(&b.loan))
        },
    );
    let last = out.iter().map(|p| p.date).max();
    reports.push(report(raw, out.len() as u64, rejected.len() as u64, 0));
    rejects.append(&mut rejected);
    (out, last)
}

/// Puts rows in their canonical order (a total order, so the result does not
/// depend on the input order), whose first key is the borrower. Inputs
/// usually arrive grouped by borrower, and often sorted within each
/// borrower too. One parallel pass (over chunks cut at borrower boundaries)
/// checks each borrower's rows and sorts the few rows of a borrower that are
/// out of order (an export sorted by borrower whose loans interleave by due
/// date); it also finds whether the rows are grouped by borrower at all,
/// and only when they are not is the whole table sorted.
fn canonical_sort<T: Send>(
    rows: &mut [T],
    borrower: impl Fn(&T) -> u32 + Sync,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering + Sync,
) {
    let t = std::time::Instant::now();
    // Chunk ends, each moved forward to a change of borrower.
    let mut ends = Vec::new();
    let mut at = 0;
    while at < rows.len() {
        let mut end = (at + SORT_CHUNK_ROWS).min(rows.len());
        while end < rows.len() && borrower(&rows[end]) == borrower(&rows[end - 1]) {
            end += 1;
        }
        ends.push(end);
        at = end;
    }
    let ascending_across = ends
        .iter()
        .filter(|&&e| e < rows.len())
        .all(|&e| borrower(&rows[e - 1]) < borrower(&rows[e]));
    let mut chunks = Vec::with_capacity(ends.len());
    let mut rest = &mut *rows;
    let mut start = 0;
    for &end in &ends {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(end - start);
        chunks.push(head);
        rest = tail;
        start = end;
    }
    // Per chunk: whether its borrowers ascend, and how many borrowers' rows
    // had to be sorted.
    let checked: Vec<(bool, usize)> = chunks
        .into_par_iter()
        .map(|c| {
            // One pass over neighbours: a change of borrower starts a group
            // (and must go up); a pair out of order within a group has the
            // whole group sorted, and the pass goes on after it.
            let (mut ascending, mut sorted) = (true, 0);
            let mut start = 0;
            let mut i = 1;
            while i < c.len() {
                let (before, here) = (borrower(&c[i - 1]), borrower(&c[i]));
                if here != before {
                    ascending &= here > before;
                    start = i;
                } else if cmp(&c[i - 1], &c[i]).is_gt() {
                    let mut end = i + 1;
                    while end < c.len() && borrower(&c[end]) == here {
                        end += 1;
                    }
                    c[start..end].sort_unstable_by(&cmp);
                    sorted += 1;
                    i = end;
                    continue;
                }
                i += 1;
            }
            (ascending, sorted)
        })
        .collect();
    let grouped = ascending_across && checked.iter().all(|c| c.0);
    let sorted: usize = checked.iter().map(|c| c.1).sum();
    if !grouped {
        rows.par_sort_unstable_by(&cmp);
    }
    debug_assert!(rows.is_sorted_by(|a, b| cmp(a, b).is_le()));
    if !grouped || sorted > 0 {
        log::debug!(
            "sorted {} rows not in canonical order{} in {:.3}s",
            rows.len(),
            if grouped {
                format!(" ({sorted} borrowers' rows)")
            } else {
                String::new()
            },
            t.elapsed().as_secs_f64()
        );
    }
}

/// Rows per chunk of [`canonical_sort`]'s parallel pass (tiny in unit
/// tests, so that their small tables are split).
const SORT_CHUNK_ROWS: usize = if cfg!(test) { 2 } else { 16 * 1024 };

fn is_present(c: &Column, row: usize) -> bool {
    match c {
        Column::IntId(a) => a.is_valid(row),
        Column::StrId(a) => a.is_valid(row) && !a.value(row).trim().is_empty(),
        _ => false,
    }
}

/// A categorical column's value per row, parsed: each distinct spelling is
/// parsed once, and a row looks its dictionary key up (None: null, or a
/// spelling `parse` does not know).
fn categorical<'a, T: Copy + Send + Sync + 'a>(
    d: &'a arrow::array::DictionaryArray<arrow::datatypes::Int32Type>,
    parse: fn(&str) -> Option<T>,
) -> impl Fn(usize) -> Option<T> + Send + Sync + 'a {
    let v = d.values().as_string::<i32>();
    let parsed: Vec<Option<T>> = (0..v.len())
        .map(|k| v.is_valid(k).then(|| parse(v.value(k))).flatten())
        .collect();
    let keys = d.keys();
    move |row| {
        keys.is_valid(row)
            .then(|| parsed.get(keys.value(row) as usize).copied().flatten())
            .flatten()
    }
}

fn load_contacts(
    raw: &RawTable,
    borrowers: &KeyIndex,
    reports: &mut Vec<TableReport>,
    rejects: &mut Vec<Reject>,
) -> Vec<Contact> {
    const MICROS_PER_DAY: i64 = 86_400_000_000;
    let ids = need(raw, "borrower_id");
    let time = need(raw, "contact_time");
    let channel = need(raw, "channel");
    let outcome = need(raw, "outcome");
    let p_amount = raw.position("promise_amount");
    let p_date = raw.position("promise_date");
    // Rows are judged in parallel pieces, each with its own rejector and id
    // cache; pieces are put back in row order.
    let judge = |chunk: &RawChunk,
                 rows: std::ops::Range<usize>,
                 rj: &mut Rejector,
                 out: &mut Sink<Contact>| {
        let ids = chunk.column(ids);
        let time = chunk.column(time).as_i64().expect("time column");
        let channel_of = categorical(
            chunk.column(channel).as_text().expect("text column"),
            Channel::parse,
        );
        let outcome_of = categorical(
            chunk.column(outcome).as_text().expect("text column"),
            Outcome::parse,
        );
        let p_amount = p_amount.map(|p| chunk.column(p));
        let p_date = p_date.map(|p| chunk.column(p));
        let mut by_id = borrowers.cached(ids);
        for row in rows {
            if !check_id(rj, ids, "borrower_id", row) {
                continue;
            }
            if time.is_null(row) {
                rj.reject(row, Some("contact_time"), "null contact_time");
                continue;
            }
            let t = time.value(row);
            let day = t.div_euclid(MICROS_PER_DAY);
            if t == i64::MIN || day < MIN_DAY as i64 || day > MAX_DAY as i64 {
                rj.reject(
                    row,
                    Some("contact_time"),
                    "contact_time out of range (before 1900-01-01 or after 2200-12-31)",
                );
                continue;
            }
            let Some(ch) = channel_of(row) else {
                rj.reject(
                    row,
                    Some("channel"),
                    "channel is not one of sms, call, visit, letter, email, app",
                );
                continue;
            };
            let Some(oc) = outcome_of(row) else {
                rj.reject(row, Some("outcome"), "outcome is not one of no_answer, right_party, promise_to_pay, refused, paid, wrong_party");
                continue;
            };
            let promise_amount = match p_amount {
                Some(c) if c.as_float().is_some_and(|a| a.is_valid(row)) => {
                    match check_amount(rj, c, "promise_amount", row, true) {
                        Some(v) => Some(v),
                        None => continue,
                    }
                }
                _ => None,
            };
            let promise_date = match p_date {
                Some(c) if c.as_i64().is_some_and(|a| a.is_valid(row)) => {
                    match check_day(rj, c, "promise_date", row) {
                        Some(v) => Some(v),
                        None => continue,
                    }
                }
                _ => None,
            };
            let Some(borrower) = by_id.get(row) else {
                rj.reject(
                    row,
                    Some("borrower_id"),
                    "borrower_id has no valid installment in the schedule",
                );
                continue;
            };
            out.push(Contact::new(
                borrower,
                t,
                day as Day,
                ch,
                oc,
                promise_amount,
                promise_date,
            ));
        }
    };
    let (mut out, mut rejected, _) = in_chunks(raw, judge);
    canonical_sort(
        &mut out,
        |c| c.borrower,
        |a, b| {
            (a.borrower, a.time, a.channel, a.outcome, a.promise_date())
                .cmp(&(b.borrower, b.time, b.channel, b.outcome, b.promise_date()))
                .then(
                    a.promise_amount()
                        .unwrap_or(-1.0)
                        .total_cmp(&b.promise_amount().unwrap_or(-1.0)),
                )
        },
    );
    reports.push(report(raw, out.len() as u64, rejected.len() as u64, 0));
    rejects.append(&mut rejected);
    out
}

/// Rejects every row of a key that occurs more than once (which of two
/// conflicting rows to keep cannot be decided without depending on row
/// order). `keyed` holds table rows.
fn reject_duplicates<K: std::hash::Hash + Eq + Copy>(
    rj: &mut Rejector,
    keyed: &[(usize, K)],
    column: &'static str,
    what: &str,
) {
    let mut counts: FxHashMap<K, u32> = FxHashMap::default();
    for &(_, k) in keyed {
        *counts.entry(k).or_default() += 1;
    }
    for &(row, k) in keyed {
        let c = counts[&k];
        if c > 1 {
            rj.reject_row(
                row,
                Some(column),
                format!("{what} appears {c} times; all its rows are rejected"),
            );
        }
    }
}

fn load_borrowers(
    raw: &RawTable,
    borrowers: &KeyIndex,
    wanted: &[String],
    reports: &mut Vec<TableReport>,
    rejects: &mut Vec<Reject>,
) -> (Vec<Flags>, Vec<Attribute>) {
    let n = borrowers.len();
    let mut rj = Rejector::new(raw);
    let ids = need(raw, "borrower_id");
    // (table row, borrower) of each row with a known borrower.
    let mut keyed = Vec::with_capacity(raw.rows);
    let mut unmatched = 0u64;
    for chunk in &raw.chunks {
        rj.at(chunk);
        let ids = chunk.column(ids);
        let mut by_id = borrowers.cached(ids);
        for row in 0..chunk.rows {
            if !check_id(&mut rj, ids, "borrower_id", row) {
                continue;
            }
            match by_id.get(row) {
                Some(b) => keyed.push((chunk.first + row, b)),
                None => unmatched += 1,
            }
        }
    }
    reject_duplicates(&mut rj, &keyed, "borrower_id", "borrower_id");
    let [hardship, dispute, do_not_contact] =
        ["hardship", "dispute", "do_not_contact"].map(|name| raw.position(name));
    let flag = |chunk: &RawChunk, col: Option<usize>, row: usize| {
        col.and_then(|c| chunk.column(c).as_bool())
            .is_some_and(|a| a.is_valid(row) && a.value(row))
    };
    let mut flags = vec![Flags::default(); n];
    let mut attributes: Vec<Attribute> = wanted
        .iter()
        .map(|name| Attribute {
            name: name.clone(),
            values: vec![None; n],
        })
        .collect();
    let attribute_cols: Vec<usize> = wanted
        .iter()
        .map(|name| raw.position(name).expect("checked in load"))
        .collect();
    let mut used = 0u64;
    for &(row, b) in &keyed {
        if !rj.ok_row(row) {
            continue;
        }
        used += 1;
        let (chunk, row) = raw.locate(row);
        flags[b as usize] = Flags {
            hardship: flag(chunk, hardship, row),
            dispute: flag(chunk, dispute, row),
            do_not_contact: flag(chunk, do_not_contact, row),
        };
        for (attr, &c) in attributes.iter_mut().zip(&attribute_cols) {
            let col = chunk.column(c).as_float().expect("checked in load");
            attr.values[b as usize] =
                (col.is_valid(row) && col.value(row).is_finite()).then(|| col.value(row));
        }
    }
    let mut rep = report(raw, used, rj.count(), unmatched);
    // Numeric columns that were not asked for are read but not used.
    rep.ignored_columns.extend(
        raw.names
            .iter()
            .filter(|n| BORROWERS.kind_of(n).is_none() && !wanted.contains(n))
            .cloned(),
    );
    reports.push(rep);
    rejects.append(&mut rj.rejects);
    (flags, attributes)
}

fn load_labels(
    raw: &RawTable,
    borrowers: &KeyIndex,
    reports: &mut Vec<TableReport>,
    rejects: &mut Vec<Reject>,
) -> Vec<GivenLabel> {
    let mut rj = Rejector::new(raw);
    let (ids, as_of, repaid) = (
        need(raw, "borrower_id"),
        need(raw, "as_of"),
        need(raw, "repaid"),
    );
    // (table row, key) and (table row, label) of each row with a known borrower.
    let mut keyed = Vec::with_capacity(raw.rows);
    let mut labels = Vec::with_capacity(raw.rows);
    let mut unmatched = 0u64;
    for chunk in &raw.chunks {
        rj.at(chunk);
        let (ids, as_of) = (chunk.column(ids), chunk.column(as_of));
        let repaid = chunk.column(repaid).as_bool().expect("flag column");
        for row in 0..chunk.rows {
            if !check_id(&mut rj, ids, "borrower_id", row) {
                continue;
            }
            let Some(d) = check_day(&mut rj, as_of, "as_of", row) else {
                continue;
            };
            if repaid.is_null(row) {
                rj.reject(row, Some("repaid"), "null repaid");
                continue;
            }
            match borrowers.lookup(ids, row) {
                Some(b) => {
                    keyed.push((chunk.first + row, (b, d)));
                    labels.push((
                        chunk.first + row,
                        GivenLabel {
                            borrower: b,
                            as_of: d,
                            repaid: repaid.value(row),
                        },
                    ));
                }
                None => unmatched += 1,
            }
        }
    }
    reject_duplicates(&mut rj, &keyed, "borrower_id", "(borrower_id, as_of)");
    let mut out: Vec<GivenLabel> = labels
        .into_iter()
        .filter(|(row, _)| rj.ok_row(*row))
        .map(|(_, l)| l)
        .collect();
    out.sort_unstable_by_key(|l| (l.as_of, l.borrower));
    // Labels are "used" once matched to a snapshot row; the features stage
    // moves the ones that match no snapshot to unmatched.
    reports.push(report(raw, out.len() as u64, rj.count(), unmatched));
    rejects.append(&mut rj.rejects);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_a_schedule_without_rows() {
        use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, names: [&str; 3]| {
            let columns: Vec<(&str, ArrayRef)> = vec![
                (names[0], Arc::new(Int64Array::from(Vec::<i64>::new()))),
                (names[1], Arc::new(Date32Array::from(Vec::<i32>::new()))),
                (names[2], Arc::new(Float64Array::from(Vec::<f64>::new()))),
            ];
            let batch = RecordBatch::try_from_iter(columns).unwrap();
            let path = dir.path().join(name);
            let file = std::fs::File::create(&path).unwrap();
            let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            path
        };
        let paths = InputPaths {
            schedule: write(
                "schedule.parquet",
                ["borrower_id", "due_date", "amount_due"],
            ),
            payments: write("payments.parquet", ["borrower_id", "paid_date", "amount"]),
            ..InputPaths::default()
        };
        match load(&paths, &LoadOptions::default()) {
            Err(e @ ContractError::NoRows { .. }) => {
                assert!(e
                    .to_string()
                    .contains("schedule.parquet: the schedule table has no rows"))
            }
            other => panic!("{other:?}"),
        }
    }

    /// A generated ledger with 40 defective rows (and, beside them, a row
    /// with a null borrower_id in the schedule and the payments and a
    /// borrower listed twice) and a labels table, each table's rows in a
    /// scrambled order (so that defects land in any chunk) and in row
    /// groups of `rows` rows (None: one; a chunk each); with `strings`,
    /// string ids.
    fn scrambled_ledger(dir: &std::path::Path, rows: Option<usize>, strings: bool) -> InputPaths {
        use arrow::compute::{concat_batches, take_record_batch};
        use arrow::datatypes::{DataType, Field, Schema};
        let gen = dir.join("generated");
        if !gen.exists() {
            let mut o = crate::generate::GenerateOptions::new(40, 11, gen.clone());
            o.bad_rows = 40;
            crate::generate::generate(&o).unwrap();
        }
        let out = dir.join(format!(
            "{}{}",
            rows.map_or("whole".to_string(), |r| r.to_string()),
            if strings { "-strings" } else { "" }
        ));
        std::fs::create_dir_all(&out).unwrap();
        let write = |name: &str, all: &arrow::array::RecordBatch| {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_max_row_group_row_count(rows)
                .build();
            let file = std::fs::File::create(out.join(format!("{name}.parquet"))).unwrap();
            let mut w =
                parquet::arrow::ArrowWriter::try_new(file, all.schema(), Some(props)).unwrap();
            w.write(all).unwrap();
            w.close().unwrap();
        };
        let mut borrower_ids = None;
        for name in ["schedule", "payments", "borrowers", "contacts"] {
            let file = std::fs::File::open(gen.join(format!("{name}.parquet"))).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1 << 20)
                    .unwrap();
            let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
            let all = concat_batches(&batches[0].schema(), &batches).unwrap();
            let nullable: Vec<Field> = all
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect();
            let all = arrow::array::RecordBatch::try_new(
                std::sync::Arc::new(Schema::new(nullable)),
                all.columns().to_vec(),
            )
            .unwrap();
            // An all-null row (a null id) or a second copy of the first borrower.
            let extra = match name {
                "schedule" | "payments" => Some(None),
                "borrowers" => Some(Some(0)),
                _ => None,
            };
            let rows_in: Vec<Option<u64>> =
                (0..all.num_rows() as u64).map(Some).chain(extra).collect();
            let all = take_record_batch(&all, &arrow::array::UInt64Array::from(rows_in)).unwrap();
            let n = all.num_rows() as u64;
            // A fixed permutation: k -> k * 7919 mod n (7919 is prime, n is not a multiple).
            assert_ne!(n % 7919, 0);
            let order = arrow::array::UInt64Array::from_iter_values((0..n).map(|k| k * 7919 % n));
            let mut all = take_record_batch(&all, &order).unwrap();
            if strings {
                let schema = all.schema();
                let (fields, columns): (Vec<Field>, Vec<_>) = schema
                    .fields()
                    .iter()
                    .zip(all.columns())
                    .map(|(f, c)| {
                        if f.name().ends_with("_id") && f.data_type() == &DataType::Int64 {
                            let c = arrow::compute::cast(c, &DataType::Utf8).unwrap();
                            (Field::new(f.name(), DataType::Utf8, true), c)
                        } else {
                            (f.as_ref().clone(), c.clone())
                        }
                    })
                    .unzip();
                all = arrow::array::RecordBatch::try_new(
                    std::sync::Arc::new(Schema::new(fields)),
                    columns,
                )
                .unwrap();
            }
            if name == "borrowers" {
                borrower_ids = all.column_by_name("borrower_id").cloned();
            }
            write(name, &all);
        }
        // Two labels per listed borrower (in the borrowers' scrambled order),
        // then a null label and a second copy of the first.
        let ids = borrower_ids.unwrap();
        let n = ids.len() as u64;
        let pick: Vec<u64> = (0..2 * n).map(|k| k % n).chain([1, 0]).collect();
        let ids = arrow::compute::take(&ids, &arrow::array::UInt64Array::from(pick.clone()), None)
            .unwrap();
        let days = [
            crate::dates::ymd(2025, 6, 30),
            crate::dates::ymd(2025, 9, 30),
        ];
        let as_of: arrow::array::Date32Array = (0..pick.len())
            .map(|k| Some(days[usize::from(k as u64 >= n && k as u64 != 2 * n)]))
            .collect();
        let repaid: arrow::array::BooleanArray = (0..pick.len() as u64)
            .map(|k| (k != 2 * n).then_some(k % 3 == 0))
            .collect();
        let labels = arrow::array::RecordBatch::try_from_iter([
            ("borrower_id", ids),
            (
                "as_of",
                std::sync::Arc::new(as_of) as arrow::array::ArrayRef,
            ),
            ("repaid", std::sync::Arc::new(repaid)),
        ])
        .unwrap();
        write("labels", &labels);
        InputPaths {
            labels: Some(out.join("labels.parquet")),
            ..InputPaths::in_dir(&out)
        }
    }

    /// Loads with two numeric attributes of the borrowers.
    fn with_attributes() -> LoadOptions {
        LoadOptions {
            attributes: vec!["income".into(), "age".into()],
            ..LoadOptions::default()
        }
    }

    /// What a load's rejects say, but for the file names.
    fn reject_key(r: &Reject) -> (&'static str, u64, Option<&'static str>, String, String) {
        (
            r.table,
            r.row_index,
            r.column,
            r.reason.clone(),
            r.values.clone(),
        )
    }

    #[test]
    fn rows_in_many_chunks_load_as_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let one = load(
            &scrambled_ledger(dir.path(), None, false),
            &with_attributes(),
        )
        .unwrap();
        let many = load(
            &scrambled_ledger(dir.path(), Some(5), false),
            &with_attributes(),
        )
        .unwrap();
        // Every table came in many chunks, and defects were found in them.
        for name in ["schedule", "payments", "borrowers", "contacts"] {
            let raw = read_table(
                &dir.path().join("5").join(format!("{name}.parquet")),
                match name {
                    "schedule" => &SCHEDULE,
                    "payments" => &PAYMENTS,
                    "borrowers" => &BORROWERS,
                    _ => &CONTACTS,
                },
                None,
                None,
            )
            .unwrap();
            assert!(raw.chunks.len() > 5, "{name}: {} chunks", raw.chunks.len());
        }
        assert!(one.rejects.len() > 20, "{} rejects", one.rejects.len());
        // The null ids and both rows of the borrower listed twice are among them.
        let reasons: Vec<&str> = one.rejects.iter().map(|r| r.reason.as_str()).collect();
        for (reason, times) in [
            ("null or empty borrower_id", 2),
            ("borrower_id appears 2 times; all its rows are rejected", 2),
            ("null repaid", 1),
            (
                "(borrower_id, as_of) appears 2 times; all its rows are rejected",
                2,
            ),
        ] {
            let found = reasons.iter().filter(|&&r| r == reason).count();
            assert_eq!(found, times, "{reason}: {reasons:?}");
        }
        // The same rejects (file rows, columns, reasons, ids), but for the file names.
        assert_eq!(
            one.rejects.iter().map(reject_key).collect::<Vec<_>>(),
            many.rejects.iter().map(reject_key).collect::<Vec<_>>()
        );
        let counts = |l: &Ledger| {
            l.reports
                .iter()
                .map(|r| (r.rows_read, r.rows_used, r.rows_rejected, r.rows_unmatched))
                .collect::<Vec<_>>()
        };
        assert_eq!(counts(&one), counts(&many));
        assert_eq!(one.schedule.rows, many.schedule.rows);
        assert_eq!(one.schedule.offsets, many.schedule.offsets);
        assert_eq!(one.payments.rows, many.payments.rows);
        // (A contact without a promise holds NaN, which equals nothing.)
        let contacts = |l: &Ledger| {
            let c = l.contacts.as_ref().unwrap();
            let rows: Vec<_> = c
                .rows
                .iter()
                .map(|c| {
                    let promise = (c.promise_amount().map(f64::to_bits), c.promise_date());
                    (c.borrower, c.time, c.day, c.channel, c.outcome, promise)
                })
                .collect();
            (rows, c.offsets.clone())
        };
        assert!(!contacts(&one).0.is_empty());
        assert_eq!(contacts(&one), contacts(&many));
        assert_eq!(one.flags, many.flags);
        assert_eq!(one.borrower_count(), many.borrower_count());
        let attributes = |l: &Ledger| {
            l.attributes
                .iter()
                .map(|a| (a.name.clone(), a.values.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(attributes(&one).len(), 2);
        assert!(one.attributes[1].values.iter().any(Option::is_some));
        assert_eq!(attributes(&one), attributes(&many));
        let labels = one.labels.as_ref().unwrap();
        assert!(labels.len() > 40, "{} labels", labels.len());
        assert_eq!(one.labels, many.labels);
    }

    #[test]
    fn partitions_of_many_chunks_add_up_to_the_whole() {
        // Row groups of 5 scrambled rows: every partition filters every
        // decoded batch, and a partition of 64 (for 40 borrowers) may keep
        // no row at all; with string ids too (the hash scheme's own case).
        let dir = tempfile::tempdir().unwrap();
        for strings in [false, true] {
            let paths = scrambled_ledger(dir.path(), Some(5), strings);
            let whole = load(&paths, &with_attributes()).unwrap();
            let id_type = if strings { IdType::Str } else { IdType::Int };
            assert_eq!(whole.borrowers.id_type(), id_type);
            for count in [3, 64] {
                let scheme = super::super::partition_scheme(&paths.schedule, count).unwrap();
                let mut borrowers = 0;
                let mut empty = 0;
                let mut rejects = Vec::new();
                let mut counts = vec![(0, 0, 0, 0); whole.reports.len()];
                for index in 0..count {
                    let opts = LoadOptions {
                        partition: Some(super::super::Partition {
                            index,
                            count,
                            scheme: scheme.clone(),
                        }),
                        ..with_attributes()
                    };
                    let part = load(&paths, &opts).unwrap();
                    assert_eq!(part.borrowers.id_type(), id_type, "partition {index}");
                    borrowers += part.borrower_count();
                    empty += usize::from(part.borrower_count() == 0);
                    rejects.extend(part.rejects.iter().map(reject_key));
                    for (sum, r) in counts.iter_mut().zip(&part.reports) {
                        assert_eq!(
                            r.rows_read,
                            r.rows_used
                                + r.rows_rejected
                                + r.rows_unmatched
                                + r.rows_other_partitions,
                            "{r:?}"
                        );
                        sum.0 += r.rows_used;
                        sum.1 += r.rows_rejected;
                        sum.2 += r.rows_unmatched;
                        sum.3 += r.rows_read - r.rows_other_partitions;
                    }
                }
                assert_eq!(borrowers, whole.borrower_count(), "{count} partitions");
                assert_eq!(empty > 0, count == 64, "{count} partitions, {empty} empty");
                let want: Vec<_> = whole
                    .reports
                    .iter()
                    .map(|r| (r.rows_used, r.rows_rejected, r.rows_unmatched, r.rows_read))
                    .collect();
                assert_eq!(counts, want, "{count} partitions");
                let mut want: Vec<_> = whole.rejects.iter().map(reject_key).collect();
                want.sort();
                rejects.sort();
                assert_eq!(rejects, want, "{count} partitions");
            }
        }
    }

    #[test]
    fn canonical_sort_within_borrowers_is_the_full_sort() {
        let cmp = |a: &(u32, u32, i32), b: &(u32, u32, i32)| a.cmp(b);
        // Sorted by borrower, loans interleaved by date within a borrower.
        let mut rows: Vec<(u32, u32, i32)> = Vec::new();
        for b in 0..50u32 {
            for d in 0..(b % 7) as i32 {
                rows.push((b, 2, d));
                rows.push((b, 1, d + (b as i32 % 3)));
            }
        }
        let mut want = rows.clone();
        want.sort();
        let mut got = rows.clone();
        canonical_sort(&mut got, |r| r.0, cmp);
        assert_eq!(got, want);
        // Not sorted by borrower: the whole table is sorted.
        let mut got: Vec<(u32, u32, i32)> = rows.iter().rev().copied().collect();
        canonical_sort(&mut got, |r| r.0, cmp);
        assert_eq!(got, want);
    }

    #[test]
    fn canonical_sort_finds_a_borrower_in_two_places() {
        let cmp = |a: &(u32, i32), b: &(u32, i32)| a.cmp(b);
        for rows in [
            vec![(1, 0), (2, 0), (1, 1)],
            vec![(1, 0), (1, 1), (0, 5)],
            vec![(3, 1), (3, 0), (2, 0), (2, 1)],
            vec![(4, 2), (4, 1), (4, 0), (5, 0)],
        ] {
            let mut want = rows.clone();
            want.sort();
            let mut got = rows.clone();
            canonical_sort(&mut got, |r| r.0, cmp);
            assert_eq!(got, want, "{rows:?}");
        }
    }

    #[test]
    fn a_loan_belongs_to_the_borrowers_whose_installments_name_it() {
        // Loan 0: borrower 5 only; loan 1: borrowers 2 and 7; loan 2: none.
        let owners = LoanOwners::new(
            3,
            vec![
                vec![(5, 0), (2, 1), (5, 0)],
                vec![(7, 1), (2, 1), (9, UNNAMED_LOAN)],
            ],
        );
        assert!(owners.contains(5, 0));
        assert!(!owners.contains(2, 0));
        assert!(owners.contains(2, 1) && owners.contains(7, 1));
        assert!(!owners.contains(5, 1));
        assert!(!owners.contains(5, 2));
        assert!(!owners.contains(9, 3));
    }

    #[test]
    fn a_contact_is_32_bytes_and_keeps_its_promise() {
        assert_eq!(std::mem::size_of::<Contact>(), 32);
        let c = Contact::new(1, 0, 0, Channel::Call, Outcome::PromiseToPay, None, None);
        assert_eq!((c.promise_amount(), c.promise_date()), (None, None));
        let c = Contact::new(
            1,
            0,
            0,
            Channel::Call,
            Outcome::PromiseToPay,
            Some(0.0),
            Some(MIN_DAY),
        );
        assert_eq!(
            (c.promise_amount(), c.promise_date()),
            (Some(0.0), Some(MIN_DAY))
        );
    }
}
