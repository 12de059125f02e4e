//! Labels and snapshot populations.
//!
//! A snapshot's population at as-of date T is the borrowers overdue at T
//! (dpd above 0) or with an installment of a started loan due in (T, T + H]; the others
//! are counted as outside the population, never silently dropped. The label
//! `repaid` is true when the borrower's overdue amount at the end of T + H is
//! within the tolerance, and unknown (null) when T + H lies beyond the end of
//! the data. A given labels table overrides the derived label for the
//! (borrower, as-of) pairs it names.

use serde::Serialize;

use crate::contract::GivenLabel;
use crate::dates::{self, Day};
use crate::ledger::FeatureSet;

/// Where a row's label came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    /// Derived from the ledger at T + H.
    Ledger,
    /// Taken from the given labels table.
    Given,
}

impl LabelSource {
    /// The spelling in the feature table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ledger => "ledger",
            Self::Given => "given",
        }
    }
}

/// Counts of one snapshot.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SnapshotCounts {
    /// The as-of date.
    pub as_of: String,
    /// Borrowers in the ledger.
    pub borrowers: u64,
    /// Borrowers in the population (rows written).
    pub in_population: u64,
    /// Borrowers outside the population (neither overdue nor due within the horizon).
    pub outside_population: u64,
    /// Rows with a known label.
    pub labelled: u64,
    /// Rows labelled repaid.
    pub repaid: u64,
    /// Rows whose label came from the labels table.
    pub given_labels: u64,
}

/// The population rows of a feature set with their labels.
#[derive(Debug, Clone)]
pub struct Labeled {
    /// Indices into the feature set's rows, in (as-of, borrower) order.
    pub rows: Vec<usize>,
    /// Label of each kept row.
    pub repaid: Vec<Option<bool>>,
    /// Source of each kept row's label.
    pub source: Vec<Option<LabelSource>>,
    /// Per-snapshot counts.
    pub counts: Vec<SnapshotCounts>,
    /// Given labels that matched a population row.
    pub given_matched: u64,
    /// The last day with data: labels need T + H on or before it.
    pub data_end: Option<Day>,
}

/// Selects each snapshot's population and attaches labels.
pub fn attach(fs: &FeatureSet, given: Option<&[GivenLabel]>, data_end: Option<Day>) -> Labeled {
    let dpd = fs.position("dpd").expect("dpd is a ledger feature");
    let tol = fs.tolerance;
    let mut out = Labeled {
        rows: Vec::new(),
        repaid: Vec::new(),
        source: Vec::new(),
        counts: fs
            .as_of
            .iter()
            .map(|&d| SnapshotCounts {
                as_of: dates::format(d),
                borrowers: 0,
                in_population: 0,
                outside_population: 0,
                labelled: 0,
                repaid: 0,
                given_labels: 0,
            })
            .collect(),
        given_matched: 0,
        data_end,
    };
    // Rows the feature set left out as outside the population.
    for (c, &k) in out.counts.iter_mut().zip(&fs.outside) {
        c.borrowers += k;
        c.outside_population += k;
    }
    for (k, r) in fs.rows.iter().enumerate() {
        let s = r.snapshot as usize;
        let t = fs.as_of[s];
        let c = &mut out.counts[s];
        c.borrowers += 1;
        let overdue = fs.row_values(k)[dpd] > 0.0;
        if !(overdue || r.due_in_horizon) {
            c.outside_population += 1;
            continue;
        }
        c.in_population += 1;
        let given_label = given.and_then(|g| {
            g.binary_search_by_key(&(t, r.borrower), |l| (l.as_of, l.borrower))
                .ok()
                .map(|i| g[i].repaid)
        });
        let derived = data_end
            .filter(|&end| t.saturating_add(fs.horizon_days) <= end)
            .map(|_| r.overdue_at_horizon <= tol);
        let (label, source) = match (given_label, derived) {
            (Some(l), _) => (Some(l), Some(LabelSource::Given)),
            (None, Some(l)) => (Some(l), Some(LabelSource::Ledger)),
            (None, None) => (None, None),
        };
        if source == Some(LabelSource::Given) {
            c.given_labels += 1;
            out.given_matched += 1;
        }
        if let Some(l) = label {
            c.labelled += 1;
            c.repaid += u64::from(l);
        }
        out.rows.push(k);
        out.repaid.push(label);
        out.source.push(source);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{SnapshotRow, LEDGER_FEATURES};

    fn set(rows: Vec<(u32, bool, f64, f64)>) -> FeatureSet {
        let width = LEDGER_FEATURES.len();
        let mut values = vec![0.0; rows.len() * width];
        for (k, r) in rows.iter().enumerate() {
            values[k * width] = r.3; // dpd
        }
        FeatureSet {
            as_of: vec![100],
            horizon_days: 30,
            tolerance: 0.01,
            names: LEDGER_FEATURES.iter().map(|f| f.name.to_string()).collect(),
            rows: rows
                .iter()
                .map(|&(b, due, overdue_h, _)| SnapshotRow {
                    borrower: b,
                    snapshot: 0,
                    due_in_horizon: due,
                    overdue_at_horizon: overdue_h,
                })
                .collect(),
            outside: vec![0],
            values,
        }
    }

    #[test]
    fn population_and_derived_labels() {
        // b0: overdue at T, repaid by T+H. b1: due soon, still owes at T+H.
        // b2: neither overdue nor due: outside. b3: overdue, 0.005 left: within tolerance.
        let fs = set(vec![
            (0, false, 0.0, 5.0),
            (1, true, 50.0, 0.0),
            (2, false, 0.0, 0.0),
            (3, false, 0.005, 12.0),
        ]);
        let l = attach(&fs, None, Some(130));
        assert_eq!(l.rows, vec![0, 1, 3]);
        assert_eq!(l.repaid, vec![Some(true), Some(false), Some(true)]);
        assert_eq!(l.counts[0].outside_population, 1);
        assert_eq!(l.counts[0].in_population, 3);
        assert_eq!(l.counts[0].repaid, 2);
        // Horizon beyond the data: no label.
        let l = attach(&fs, None, Some(129));
        assert_eq!(l.repaid, vec![None, None, None]);
        assert_eq!(l.counts[0].labelled, 0);
    }

    #[test]
    fn given_labels_override() {
        let fs = set(vec![(0, false, 0.0, 5.0), (1, true, 50.0, 0.0)]);
        let given = vec![
            GivenLabel {
                borrower: 1,
                as_of: 100,
                repaid: true,
            },
            GivenLabel {
                borrower: 2,
                as_of: 100,
                repaid: false,
            },
        ];
        let l = attach(&fs, Some(&given), None);
        assert_eq!(l.repaid, vec![None, Some(true)]);
        assert_eq!(l.source, vec![None, Some(LabelSource::Given)]);
        assert_eq!(l.given_matched, 1);
    }
}
