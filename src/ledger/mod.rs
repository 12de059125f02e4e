//! Ledger features: point-in-time features of every borrower at each as-of date.
//!
//! For each borrower (in parallel with rayon) the payment waterfall is replayed
//! once through time; at each as-of date T it is read for the features and at
//! T + H for the overdue amount that the label needs. Only what was known at T
//! enters the features at T. This module computes values; deciding who is in a
//! snapshot's population and what the label is belongs to [`crate::labels`].

pub mod features;
pub mod waterfall;

use rayon::prelude::*;

use crate::contract::{Ledger, MAX_DAY, MIN_DAY};
use crate::dates::Day;
use crate::par::par_concat;
pub use features::{FeatureDef, CONTACT_FEATURES, LEDGER_FEATURES};
use waterfall::Waterfall;

/// Default tolerance: an installment is covered when less than a cent is unpaid.
pub const DEFAULT_TOLERANCE: f64 = 0.01;
/// Default label horizon in days.
pub const DEFAULT_HORIZON_DAYS: i32 = 30;

/// Errors in the snapshot options.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// No as-of date was given.
    #[error("at least one --as-of date is needed")]
    NoAsOf,
    /// The horizon is not a positive number of days.
    #[error("--horizon-days must be between 1 and 3650, got {0}")]
    Horizon(i32),
    /// The tolerance is negative or not finite.
    #[error("--tolerance must be a finite amount >= 0, got {0}")]
    Tolerance(f64),
    /// An as-of date outside the dates the contract accepts.
    #[error("--as-of {0} is outside 1900-01-01 to 2200-12-31")]
    AsOfRange(String),
    /// A feature came out NaN or infinite: a bug, since inputs are bounded.
    #[error(
        "internal error: feature `{feature}` is not finite for borrower {borrower} as of {as_of}"
    )]
    NonFinite {
        /// The feature.
        feature: String,
        /// The borrower's id.
        borrower: String,
        /// The as-of date.
        as_of: String,
    },
}

/// What to compute.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// As-of dates T (sorted and deduplicated on use).
    pub as_of: Vec<Day>,
    /// Label horizon H in days.
    pub horizon_days: i32,
    /// Covered-within tolerance, in currency units.
    pub tolerance: f64,
}

impl SnapshotOptions {
    /// Checks the options; returns the sorted, distinct as-of dates.
    pub fn check(&self) -> Result<Vec<Day>, FeatureError> {
        if self.as_of.is_empty() {
            return Err(FeatureError::NoAsOf);
        }
        if !(1..=3650).contains(&self.horizon_days) {
            return Err(FeatureError::Horizon(self.horizon_days));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(FeatureError::Tolerance(self.tolerance));
        }
        if let Some(&d) = self
            .as_of
            .iter()
            .find(|&&d| !(MIN_DAY..=MAX_DAY).contains(&d))
        {
            return Err(FeatureError::AsOfRange(crate::dates::format(d)));
        }
        let mut dates = self.as_of.clone();
        dates.sort_unstable();
        dates.dedup();
        Ok(dates)
    }
}

/// One borrower at one as-of date, before the population filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnapshotRow {
    /// Borrower index.
    pub borrower: u32,
    /// Index into [`FeatureSet::as_of`].
    pub snapshot: u32,
    /// An installment of a started loan falls due in (T, T + H].
    pub due_in_horizon: bool,
    /// Overdue amount at the end of T + H.
    pub overdue_at_horizon: f64,
}

/// Which (borrower, as-of) rows [`build`] computes features for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every borrower at every as-of date (what a comparison of two dates
    /// needs: the backtest reads each population row's borrower at T + H).
    All,
    /// Only the rows in their snapshot's population (overdue at T, or with
    /// an installment of a started loan due in (T, T + H]; see
    /// [`crate::labels`]): the others are counted in
    /// [`FeatureSet::outside`], and their features, which no output
    /// carries, are not computed.
    Population,
}

/// Features of the borrowers at the as-of dates, ordered by (as-of, borrower).
#[derive(Debug, Clone)]
pub struct FeatureSet {
    /// The as-of dates, ascending.
    pub as_of: Vec<Day>,
    /// Label horizon in days.
    pub horizon_days: i32,
    /// Tolerance used.
    pub tolerance: f64,
    /// Feature column names, in order.
    pub names: Vec<String>,
    /// One entry per borrower per as-of date (with [`Keep::Population`],
    /// only those in the population).
    pub rows: Vec<SnapshotRow>,
    /// Per as-of date, the borrowers left out of `rows` as outside the
    /// population (all 0 with [`Keep::All`]).
    pub outside: Vec<u64>,
    /// Row-major feature values: `values[k * names.len() + j]` is feature j of row k.
    pub values: Vec<f64>,
}

impl FeatureSet {
    /// Feature values of row `k`.
    pub fn row_values(&self, k: usize) -> &[f64] {
        let n = self.names.len();
        &self.values[k * n..(k + 1) * n]
    }
    /// Position of the feature called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// The feature columns, in order: the ledger features, the contact features
/// (when a contacts table is given), then each attribute and its `_missing` flag.
pub fn feature_names(contacts: bool, attributes: &[String]) -> Vec<String> {
    let mut names: Vec<String> = LEDGER_FEATURES.iter().map(|f| f.name.to_string()).collect();
    if contacts {
        names.extend(CONTACT_FEATURES.iter().map(|f| f.name.to_string()));
    }
    for a in attributes {
        names.push(a.clone());
        names.push(format!("{a}_missing"));
    }
    names
}

/// The due date of the borrower's next installment after `as_of` (the
/// earliest due strictly later than `as_of`), if any: what the strategy's
/// preventive reminder looks at, and the run's `next_due_date` column.
pub fn next_due_date(ledger: &Ledger, borrower: u32, as_of: Day) -> Option<Day> {
    ledger
        .schedule
        .of(borrower)
        .iter()
        .map(|i| i.due)
        .filter(|&d| d > as_of)
        .min()
}

/// Borrowers per rayon task: large enough to amortize scheduling, small enough to balance.
const CHUNK: usize = 2048;

/// Computes the features of the borrowers at the as-of dates: of every
/// borrower at every date, or only of the population rows (see [`Keep`]).
pub fn build(
    ledger: &Ledger,
    opts: &SnapshotOptions,
    keep: Keep,
) -> Result<FeatureSet, FeatureError> {
    let as_of = opts.check()?;
    let attributes: Vec<String> = ledger.attributes.iter().map(|a| a.name.clone()).collect();
    let names = feature_names(ledger.contacts.is_some(), &attributes);
    let width = names.len();
    let n = ledger.borrower_count();
    let snaps = as_of.len();
    let chunks: Vec<Chunk> = (0..n)
        .step_by(CHUNK)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|first| {
            let last = (first + CHUNK).min(n);
            let mut chunk = Chunk {
                rows: Vec::with_capacity((last - first) * snaps),
                values: Vec::with_capacity((last - first) * snaps * width),
                outside: vec![0; snaps],
            };
            let mut scratch = Scratch::default();
            for b in first..last {
                borrower(
                    ledger,
                    b as u32,
                    &as_of,
                    opts,
                    keep,
                    width,
                    &mut scratch,
                    &mut chunk,
                );
            }
            chunk
        })
        .collect();
    let mut outside = vec![0u64; snaps];
    for c in &chunks {
        for (o, &k) in outside.iter_mut().zip(&c.outside) {
            *o += k;
        }
    }
    // Chunks are in borrower order with each borrower's snapshots together,
    // in snapshot order; regroup as (as-of, borrower). With one snapshot
    // (the nightly run) that is the chunks' own order: they are put
    // together in parallel.
    let (rows, values) = if snaps == 1 {
        let (rows, values): (Vec<_>, Vec<_>) =
            chunks.into_iter().map(|c| (c.rows, c.values)).unzip();
        (par_concat(rows), par_concat(values))
    } else {
        let total: usize = chunks.iter().map(|c| c.rows.len()).sum();
        let mut rows = Vec::with_capacity(total);
        let mut values = Vec::with_capacity(total * width);
        for s in 0..snaps {
            for c in &chunks {
                for (k, r) in c.rows.iter().enumerate() {
                    if r.snapshot as usize == s {
                        rows.push(*r);
                        values.extend_from_slice(&c.values[k * width..(k + 1) * width]);
                    }
                }
            }
        }
        (rows, values)
    };
    // Inputs are bounded (amounts within 1e13, dates within 1900-2200), so
    // every feature is finite; check rather than trust it.
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        let r = rows[i / width];
        return Err(FeatureError::NonFinite {
            feature: names[i % width].clone(),
            borrower: ledger.borrowers.display(r.borrower),
            as_of: crate::dates::format(as_of[r.snapshot as usize]),
        });
    }
    Ok(FeatureSet {
        as_of,
        horizon_days: opts.horizon_days,
        tolerance: opts.tolerance,
        names,
        rows,
        outside,
        values,
    })
}

/// The rows of one task's borrowers.
struct Chunk {
    rows: Vec<SnapshotRow>,
    values: Vec<f64>,
    /// Per snapshot, the rows left out as outside the population.
    outside: Vec<u64>,
}

/// Buffers that the borrowers of one task reuse, one after another (no
/// allocation per borrower).
#[derive(Default)]
struct Scratch {
    checkpoints: Vec<(Day, u8, usize)>,
    out: Vec<f64>,
    /// Per snapshot, whether the borrower's row is kept.
    kept: Vec<bool>,
}

/// One borrower: replays the waterfall through the as-of dates and their
/// horizons, and appends a row of `width` features per as-of date (per
/// as-of date in the population, with [`Keep::Population`]).
#[allow(clippy::too_many_arguments)]
fn borrower(
    ledger: &Ledger,
    b: u32,
    as_of: &[Day],
    opts: &SnapshotOptions,
    keep: Keep,
    width: usize,
    scratch: &mut Scratch,
    chunk: &mut Chunk,
) {
    let installments = ledger.schedule.of(b);
    let payments = ledger.payments.of(b);
    let h = opts.horizon_days;
    let mut w = Waterfall::new(installments, payments, opts.tolerance);
    // Checkpoints in time order: (day, kind, snapshot), features at T before the horizon of earlier T.
    let Scratch {
        checkpoints,
        out,
        kept,
    } = scratch;
    checkpoints.clear();
    for (s, &t) in as_of.iter().enumerate() {
        checkpoints.push((t, 0, s));
        checkpoints.push((t.saturating_add(h), 1, s));
    }
    checkpoints.sort_unstable();
    kept.clear();
    kept.resize(as_of.len(), true);
    let Chunk {
        rows,
        values,
        outside,
    } = chunk;
    let start = rows.len();
    for (s, _) in as_of.iter().enumerate() {
        rows.push(SnapshotRow {
            borrower: b,
            snapshot: s as u32,
            due_in_horizon: false,
            overdue_at_horizon: 0.0,
        });
    }
    // Snapshot s's features go to values[base + s * width..][..width].
    let base = values.len();
    values.resize(base + as_of.len() * width, 0.0);
    for &mut (day, kind, s) in checkpoints {
        if !kept[s] {
            continue;
        }
        w.advance(day);
        let row = &mut rows[start + s];
        if kind == 1 {
            row.overdue_at_horizon = w.overdue(day);
            continue;
        }
        let t = day;
        row.due_in_horizon = w
            .active_installments()
            .any(|i| installments[i].due > t && installments[i].due <= t.saturating_add(h));
        // The population test of `labels::attach`: the dpd feature (which
        // `ledger_features` computes as `w.dpd(t)`) above 0, or a due date
        // within the horizon.
        if keep == Keep::Population && !row.due_in_horizon && w.dpd(t) == 0 {
            kept[s] = false;
            outside[s] += 1;
            continue;
        }
        out.clear();
        features::ledger_features(&w, t, opts.tolerance, out);
        if let Some(contacts) = &ledger.contacts {
            features::contact_features(contacts.of(b), payments, t, opts.tolerance, out);
        }
        for a in &ledger.attributes {
            let v = a.values[b as usize];
            out.push(v.unwrap_or(0.0));
            out.push(if v.is_some() { 0.0 } else { 1.0 });
        }
        values[base + s * width..][..width].copy_from_slice(out);
    }
    // Close up the rows left out (and their values), keeping the order.
    if kept.iter().any(|&k| !k) {
        let mut to = 0;
        for s in 0..as_of.len() {
            if kept[s] {
                rows[start + to] = rows[start + s];
                values.copy_within(base + s * width..base + (s + 1) * width, base + to * width);
                to += 1;
            }
        }
        rows.truncate(start + to);
        values.truncate(base + to * width);
    }
}
