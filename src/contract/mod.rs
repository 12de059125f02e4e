//! The input contract: what each input table must hold, and its validation.
//!
//! This module turns the user's Parquet files into a checked, typed [`Ledger`]:
//! required columns present and of castable types (else a fatal
//! [`ContractError`] naming the file and column), and every row either used or
//! rejected with a reason ([`Reject`]) and counted ([`TableReport`]). The exact
//! contract is documented in `docs/input-contract.md`.
//!
//! It computes no features and makes no decisions; the ledger it returns is
//! sorted and grouped by borrower, ready for the per-borrower kernels in
//! [`crate::ledger`].

pub mod footer;
pub mod guard;
mod keys;
pub mod read;
mod validate;

use std::path::{Path, PathBuf};

pub use keys::{IdType, KeyIndex};
pub use validate::{
    load, reject_order, Attribute, Contact, Flags, GivenLabel, Grouped, Installment, Ledger,
    LoadOptions, Payment, Reject, LOAD_ORDER, UNNAMED_LOAN,
};

use crate::dates::Day;

/// Errors that stop a run before anything is written (bad input).
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The file could not be opened.
    #[error("{}: cannot open: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The path is a directory or another non-file.
    #[error("{}: not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is not readable Parquet.
    #[error("{}: not a readable Parquet file: {message}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint.
        message: String,
    },
    /// The schedule file has no rows: no borrower to score (an export that
    /// failed, not a night to publish over the previous one).
    #[error("{}: the {table} table has no rows; a night needs at least one installment", path.display())]
    NoRows {
        /// The file.
        path: PathBuf,
        /// The contract table.
        table: &'static str,
    },
    /// A required column is absent.
    #[error("{}: the {table} table needs a column `{column}`, which the file does not have", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The contract table.
        table: &'static str,
        /// The missing column.
        column: &'static str,
    },
    /// A column has a type that cannot be cast without loss.
    #[error("{}: column `{column}` has type {found}; expected {expected}", path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The type found.
        found: String,
        /// What the contract accepts.
        expected: &'static str,
    },
    /// An id column's type differs from the schedule's borrower_id (or loan_id).
    #[error("{}: column `{column}` holds {found} ids but the schedule's `{column}` holds {expected} ids; use one id type in every table", path.display())]
    IdTypeMismatch {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// The type found.
        found: &'static str,
        /// The schedule's type.
        expected: &'static str,
    },
    /// `--strict` was given and some rows were rejected.
    #[error("{count} input row(s) rejected and --strict is set; first: {first}")]
    Strict {
        /// How many rows were rejected.
        count: usize,
        /// The first reject, described.
        first: String,
    },
    /// A borrower attribute that was asked for is not a numeric column of the borrowers table.
    #[error("{}: attribute `{column}` was asked for but is not a numeric column of the borrowers table", path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "borrowers".into()))]
    UnknownAttribute {
        /// The borrowers file, when one was given.
        path: Option<PathBuf>,
        /// The attribute asked for.
        column: String,
    },
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, ContractError>;

/// How a contract column is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// borrower_id, loan_id: integer or string.
    Id,
    /// A calendar date (Date; Datetime truncated).
    Date,
    /// A point in time (Datetime; Date taken as midnight).
    DateTime,
    /// A money amount (float, integer or decimal).
    Amount,
    /// A boolean flag.
    Flag,
    /// A categorical string.
    Text,
    /// A numeric attribute.
    Numeric,
}

/// One column of a contract table.
#[derive(Debug)]
pub struct ColumnSpec {
    /// Column name.
    pub name: &'static str,
    /// Its type class.
    pub kind: ColumnKind,
    /// Whether the file must have it.
    pub required: bool,
}

const fn col(name: &'static str, kind: ColumnKind, required: bool) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required,
    }
}

/// The contract of one input table.
#[derive(Debug)]
pub struct TableSpec {
    /// Table name, as used in messages and the rejects file.
    pub name: &'static str,
    /// Its columns.
    pub columns: &'static [ColumnSpec],
    /// Whether other numeric columns are read too (borrower attributes).
    pub numeric_extras: bool,
}

impl TableSpec {
    /// The kind of contract column `name`, if it is one.
    pub fn kind_of(&self, name: &str) -> Option<ColumnKind> {
        self.columns.iter().find(|c| c.name == name).map(|c| c.kind)
    }
}

use ColumnKind::*;

/// One row per installment owed.
pub static SCHEDULE: TableSpec = TableSpec {
    name: "schedule",
    columns: &[
        col("borrower_id", Id, true),
        col("loan_id", Id, false),
        col("due_date", Date, true),
        col("amount_due", Amount, true),
    ],
    numeric_extras: false,
};

/// One row per money movement.
pub static PAYMENTS: TableSpec = TableSpec {
    name: "payments",
    columns: &[
        col("borrower_id", Id, true),
        col("loan_id", Id, false),
        col("paid_date", Date, true),
        col("amount", Amount, true),
    ],
    numeric_extras: false,
};

/// Payments when the schedule has no loan_id: the payments' loan_id is ignored.
pub static PAYMENTS_UNTAGGED: TableSpec = TableSpec {
    name: "payments",
    columns: &[
        col("borrower_id", Id, true),
        col("paid_date", Date, true),
        col("amount", Amount, true),
    ],
    numeric_extras: false,
};

/// One row per borrower: flags and numeric attributes.
pub static BORROWERS: TableSpec = TableSpec {
    name: "borrowers",
    columns: &[
        col("borrower_id", Id, true),
        col("hardship", Flag, false),
        col("dispute", Flag, false),
        col("do_not_contact", Flag, false),
    ],
    numeric_extras: true,
};

/// One row per collection contact.
pub static CONTACTS: TableSpec = TableSpec {
    name: "contacts",
    columns: &[
        col("borrower_id", Id, true),
        col("contact_time", DateTime, true),
        col("channel", Text, true),
        col("outcome", Text, true),
        col("promise_amount", Amount, false),
        col("promise_date", Date, false),
    ],
    numeric_extras: false,
};

/// Given training labels, one row per borrower per as-of date.
pub static LABELS: TableSpec = TableSpec {
    name: "labels",
    columns: &[
        col("borrower_id", Id, true),
        col("as_of", Date, true),
        col("repaid", Flag, true),
    ],
    numeric_extras: false,
};

/// The input files of one run.
#[derive(Debug, Clone, Default)]
pub struct InputPaths {
    /// schedule.parquet (required).
    pub schedule: PathBuf,
    /// payments.parquet (required).
    pub payments: PathBuf,
    /// borrowers.parquet (optional).
    pub borrowers: Option<PathBuf>,
    /// contacts.parquet (optional).
    pub contacts: Option<PathBuf>,
    /// labels.parquet (optional).
    pub labels: Option<PathBuf>,
}

impl InputPaths {
    /// The standard file names in one directory (optional files only when present).
    pub fn in_dir(dir: &Path) -> Self {
        let opt = |name: &str| {
            let p = dir.join(name);
            p.exists().then_some(p)
        };
        Self {
            schedule: dir.join("schedule.parquet"),
            payments: dir.join("payments.parquet"),
            borrowers: opt("borrowers.parquet"),
            contacts: opt("contacts.parquet"),
            labels: None,
        }
    }
}

/// Collection contact channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// Text message.
    Sms,
    /// Voice call.
    Call,
    /// Field visit.
    Visit,
    /// Letter.
    Letter,
    /// E-mail.
    Email,
    /// In-app message.
    App,
}

impl Channel {
    /// All channels, in contract order.
    pub const ALL: [Channel; 6] = [
        Self::Sms,
        Self::Call,
        Self::Visit,
        Self::Letter,
        Self::Email,
        Self::App,
    ];
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Call => "call",
            Self::Visit => "visit",
            Self::Letter => "letter",
            Self::Email => "email",
            Self::App => "app",
        }
    }
    /// Parses the contract's spelling (case-insensitive, surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Self> {
        // Exact spellings first: a jump on the bytes, no allocation.
        let exact = Self::ALL.into_iter().find(|c| c.as_str() == s);
        exact.or_else(|| {
            let s = s.trim();
            Self::ALL
                .into_iter()
                .find(|c| c.as_str().eq_ignore_ascii_case(s))
        })
    }
}

/// Outcomes of a collection contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Nobody answered.
    NoAnswer,
    /// The borrower was reached.
    RightParty,
    /// The borrower promised to pay.
    PromiseToPay,
    /// The borrower refused.
    Refused,
    /// The borrower paid during the contact.
    Paid,
    /// Somebody else was reached.
    WrongParty,
}

impl Outcome {
    /// All outcomes, in contract order.
    pub const ALL: [Outcome; 6] = [
        Self::NoAnswer,
        Self::RightParty,
        Self::PromiseToPay,
        Self::Refused,
        Self::Paid,
        Self::WrongParty,
    ];
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoAnswer => "no_answer",
            Self::RightParty => "right_party",
            Self::PromiseToPay => "promise_to_pay",
            Self::Refused => "refused",
            Self::Paid => "paid",
            Self::WrongParty => "wrong_party",
        }
    }
    /// Parses the contract's spelling (case-insensitive, surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let exact = Self::ALL.into_iter().find(|c| c.as_str() == s);
        exact.or_else(|| {
            let s = s.trim();
            Self::ALL
                .into_iter()
                .find(|c| c.as_str().eq_ignore_ascii_case(s))
        })
    }
    /// Whether the borrower was spoken to (a right-party contact).
    pub fn is_right_party(self) -> bool {
        matches!(
            self,
            Self::RightParty | Self::PromiseToPay | Self::Refused | Self::Paid
        )
    }
}

/// Largest accepted absolute amount (1e13): larger values are data errors,
/// and keeping amounts this far from f64's limits keeps every sum and ratio finite.
pub const MAX_AMOUNT: f64 = 1e13;

/// Earliest accepted date (1900-01-01): anything earlier is a data error.
pub const MIN_DAY: Day = -25_567;
/// Latest accepted date (2200-12-31).
pub const MAX_DAY: Day = 84_370;

/// One of `count` partitions of the borrowers (`--partitions`,
/// `--partition`). Every row of every table belongs to the partition of its
/// borrower_id, so each partition holds whole borrowers and the partitions
/// together hold every row exactly once. The assignment depends only on the
/// id and the [`PartitionScheme`], which is derived from the schedule file's
/// footer: the same files give the same partitions on every machine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Partition {
    /// This partition, `0..count`.
    pub index: u32,
    /// The number of partitions, at least 1.
    pub count: u32,
    /// How ids map to partitions.
    pub scheme: PartitionScheme,
}

/// How borrower ids are assigned to partitions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PartitionScheme {
    /// A stable hash of the canonical id (integers as i64, strings as UTF-8
    /// bytes): any input, but every partition decodes every row group.
    Hash,
    /// Integer id ranges: partition k holds ids in `[starts[k-1], starts[k])`
    /// (open-ended at both ends). Chosen when the schedule is stored in
    /// borrower_id order, as ledger exports usually are: a partition then
    /// decodes only the row groups whose id statistics overlap its range
    /// (see [`range_starts`]).
    Ranges {
        /// The first id of partitions 1..count.
        starts: Vec<i64>,
    },
}

impl Partition {
    /// The partition of a row whose borrower_id is null or unreadable (it is
    /// rejected there).
    pub const NULL: u32 = 0;

    /// The partition of an integer borrower id.
    pub fn of_int(&self, id: i64) -> u32 {
        match &self.scheme {
            PartitionScheme::Hash => {
                (crate::hash::splitmix64(id as u64) % u64::from(self.count)) as u32
            }
            PartitionScheme::Ranges { starts } => starts.partition_point(|&s| s <= id) as u32,
        }
    }

    /// The partition of a string borrower id.
    pub fn of_str(&self, id: &str) -> u32 {
        let h = crate::hash::splitmix64(crate::hash::fnv1a64(id.bytes()));
        (h % u64::from(self.count)) as u32
    }

    /// The ids `[lo, hi]` this partition can hold under a range scheme.
    pub fn id_range(&self) -> Option<(i64, i64)> {
        match &self.scheme {
            PartitionScheme::Hash => None,
            PartitionScheme::Ranges { starts } => {
                let k = self.index as usize;
                let lo = if k == 0 { i64::MIN } else { starts[k - 1] };
                let hi = starts.get(k).map_or(i64::MAX, |&s| s - 1);
                Some((lo, hi))
            }
        }
    }
}

/// The partition scheme of `count` partitions for a schedule file: integer
/// ranges when its borrower_id is a signed integer column whose row groups
/// are in id order (by their statistics, allowing a tenth of them out of
/// order); a hash otherwise. Reads only the footer. See [`range_starts`].
pub fn partition_scheme(schedule: &Path, count: u32) -> Result<PartitionScheme> {
    read::check_file(schedule, &SCHEDULE)?;
    let ranges = read::row_group_id_ranges(schedule)?;
    Ok(match ranges.and_then(|r| range_starts(&r, count)) {
        Some(starts) => PartitionScheme::Ranges { starts },
        None => PartitionScheme::Hash,
    })
}

/// The first ids of partitions `1..count` for a schedule whose row groups
/// hold the borrower_id ranges `ranges` (min, max), or None when they are
/// not in id order (more than a tenth of them out of order) or `count` is 1.
///
/// With at least `count` row groups the boundaries are the first ids of
/// evenly spaced row groups, so that a partition decodes whole row groups
/// of the schedule. With fewer, each row group's id span is cut evenly among
/// the partitions that fall in it: such a row group is decoded once for the
/// partitions that share it in one process (see `read::SharedGroups`), where
/// a hash would have every partition decode every row group. A few stray
/// row groups (such as late corrections appended at the end) are decoded by
/// every partition they overlap, which costs time but never correctness.
/// The boundaries are strictly increasing (a partition may be empty on a
/// tiny file).
pub fn range_starts(ranges: &[(i64, i64)], count: u32) -> Option<Vec<i64>> {
    let g = ranges.len();
    let n = count as usize;
    if g == 0 || n < 2 {
        return None;
    }
    let out_of_order = ranges.windows(2).filter(|w| w[0].1 > w[1].0).count();
    if out_of_order > (g / 10).max(1) {
        return None;
    }
    let mut groups = ranges.to_vec();
    groups.sort_unstable();
    let mut starts: Vec<i64> = Vec::with_capacity(n - 1);
    for k in 1..n {
        let s = if g >= n {
            groups[(k * g / n).min(g - 1)].0
        } else {
            // Boundary k lies `rem / n` of the way into row group `j`.
            let (j, rem) = (k * g / n, k * g % n);
            let (lo, hi) = groups[j];
            let span = (i128::from(hi) - i128::from(lo) + 1).max(0);
            // Below `span`, so `lo + cut` is at most `hi` (an i64).
            let cut = span * rem as i128 / n as i128;
            (i128::from(lo) + cut) as i64
        };
        let s = match starts.last() {
            Some(&prev) if s <= prev => prev.saturating_add(1),
            _ => s,
        };
        starts.push(s);
    }
    Some(starts)
}

/// Row counts of one input table:
/// `rows_read = rows_used + rows_rejected + rows_unmatched + rows_other_partitions`.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq, Eq)]
pub struct TableReport {
    /// Contract table name.
    pub table: String,
    /// The file.
    pub file: String,
    /// Rows in the file.
    pub rows_read: u64,
    /// Rows that entered the computation.
    pub rows_used: u64,
    /// Rows written to the rejects file.
    pub rows_rejected: u64,
    /// Valid rows that match nothing to compute (borrowers without any
    /// schedule; labels for a borrower or date outside the snapshots).
    pub rows_unmatched: u64,
    /// Rows of other borrower partitions (0 unless the run is partitioned).
    pub rows_other_partitions: u64,
    /// Columns in the file that the contract does not use.
    pub ignored_columns: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_starts_follow_row_groups_or_cut_them() {
        // Enough row groups: the first ids of evenly spaced ones.
        let g: Vec<(i64, i64)> = (0..8).map(|k| (k * 100, k * 100 + 99)).collect();
        assert_eq!(range_starts(&g, 4), Some(vec![200, 400, 600]));
        assert_eq!(range_starts(&g, 8), Some((1..8).map(|k| k * 100).collect()));
        // Fewer row groups than partitions: each row group's span is cut.
        assert_eq!(
            range_starts(&g[..2], 8),
            Some(vec![25, 50, 75, 100, 125, 150, 175])
        );
        // One row group of ids 1..=1000 in 4: even quarters.
        assert_eq!(range_starts(&[(1, 1000)], 4), Some(vec![251, 501, 751]));
        // A span narrower than the partitions: strictly increasing anyway.
        assert_eq!(range_starts(&[(5, 6)], 4), Some(vec![5, 6, 7]));
        // Extreme ids do not overflow.
        let wide = range_starts(&[(i64::MIN, i64::MAX)], 3).unwrap();
        assert!(wide.windows(2).all(|w| w[0] < w[1]), "{wide:?}");
        // Out of order, one partition, or no row group: no ranges.
        let shuffled = [(300, 399), (0, 99), (200, 299), (100, 199), (500, 599)];
        assert_eq!(range_starts(&shuffled, 2), None);
        assert_eq!(range_starts(&g, 1), None);
        assert_eq!(range_starts(&[], 4), None);
    }

    #[test]
    fn range_partitions_own_half_open_id_ranges() {
        let p = |index| Partition {
            index,
            count: 4,
            scheme: PartitionScheme::Ranges {
                starts: vec![10, 20, 30],
            },
        };
        let owner: Vec<u32> = [i64::MIN, 5, 9, 10, 19, 20, 29, 30, i64::MAX]
            .iter()
            .map(|&id| p(0).of_int(id))
            .collect();
        assert_eq!(owner, [0, 0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(p(0).id_range(), Some((i64::MIN, 9)));
        assert_eq!(p(1).id_range(), Some((10, 19)));
        assert_eq!(p(3).id_range(), Some((30, i64::MAX)));
        let h = Partition {
            index: 0,
            count: 4,
            scheme: PartitionScheme::Hash,
        };
        assert_eq!(h.id_range(), None);
        let mut seen = [0u32; 4];
        for id in 0..4000 {
            seen[h.of_int(id) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }
    use crate::dates::ymd;

    #[test]
    fn date_bounds_are_the_documented_ones() {
        assert_eq!(MIN_DAY, ymd(1900, 1, 1));
        assert_eq!(MAX_DAY, ymd(2200, 12, 31));
    }

    #[test]
    fn parses_channels_and_outcomes() {
        assert_eq!(Channel::parse(" SMS "), Some(Channel::Sms));
        assert_eq!(Channel::parse("fax"), None);
        assert_eq!(
            Outcome::parse("promise_to_pay"),
            Some(Outcome::PromiseToPay)
        );
        assert!(Outcome::Paid.is_right_party());
        assert!(!Outcome::WrongParty.is_right_party());
    }
}
