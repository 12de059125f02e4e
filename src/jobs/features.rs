//! `dunning features`: the training/inspection table of point-in-time features
//! and labels, with its rejects file and a JSON summary.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::contract::{self, InputPaths, LoadOptions, TableReport};
use crate::dates::{self, Day};
use crate::error::{Error, Result};
use crate::jobs::{sibling, write_rejects, Stopwatch};
use crate::labels::{self, SnapshotCounts};
use crate::ledger::{self, SnapshotOptions};
use crate::output::{self, tables};

/// Options of one `features` run.
#[derive(Debug, Clone)]
pub struct FeaturesOptions {
    /// Input files.
    pub inputs: InputPaths,
    /// As-of dates, horizon and tolerance.
    pub snapshots: SnapshotOptions,
    /// Attributes to carry and strictness.
    pub load: LoadOptions,
    /// Last day of data; default: the latest payment date in the ledger.
    pub data_end: Option<Day>,
    /// The feature table to write.
    pub out: PathBuf,
}

/// What a `features` run did, written beside the output as `*.summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FeaturesSummary {
    /// dunning version.
    pub dunning_version: String,
    /// The feature table written.
    pub output: String,
    /// The rejects file, when any row was rejected.
    pub rejects_file: Option<String>,
    /// Row accounting per input table.
    pub inputs: Vec<TableReport>,
    /// Per-snapshot population and label counts.
    pub snapshots: Vec<SnapshotCounts>,
    /// Rows written to the feature table.
    pub rows_written: u64,
    /// Rows rejected over all tables.
    pub rows_rejected: u64,
    /// Feature columns, in order.
    pub features: Vec<String>,
    /// Label horizon in days.
    pub horizon_days: i32,
    /// Covered-within tolerance.
    pub tolerance: f64,
    /// The last day of data used for labels.
    pub data_end: Option<String>,
    /// Wall time of each stage (logged, not written: the summary is deterministic).
    #[serde(skip)]
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Attribute columns must not repeat or clash with another output column.
fn check_attribute_names(attributes: &[String]) -> Result<()> {
    let mut seen: Vec<String> = tables::FEATURE_TABLE_KEYS
        .iter()
        .map(|s| s.to_string())
        .collect();
    seen.extend(ledger::feature_names(true, &[]));
    for a in attributes {
        for name in [a.clone(), format!("{a}_missing")] {
            if seen.contains(&name) {
                return Err(Error::Usage(format!(
                    "--attributes {a}: the feature table would have two columns named `{name}`"
                )));
            }
            seen.push(name);
        }
    }
    Ok(())
}

/// Builds the feature table and writes it, its rejects and its summary.
pub fn run(opts: &FeaturesOptions) -> Result<FeaturesSummary> {
    let inputs = [
        Some(&opts.inputs.schedule),
        Some(&opts.inputs.payments),
        opts.inputs.borrowers.as_ref(),
        opts.inputs.contacts.as_ref(),
        opts.inputs.labels.as_ref(),
    ];
    if inputs.iter().flatten().any(|p| same_file(p, &opts.out)) {
        return Err(Error::Usage(format!(
            "--out {} is one of the input files",
            opts.out.display()
        )));
    }
    opts.snapshots.check()?;
    check_attribute_names(&opts.load.attributes)?;
    let mut clock = Stopwatch::default();
    let mut ledger = contract::load(&opts.inputs, &opts.load)?;
    clock.lap("read and validate")?;
    let fs = ledger::build(&ledger, &opts.snapshots, ledger::Keep::Population)?;
    clock.lap("features")?;
    let data_end = opts.data_end.or(ledger.last_payment);
    let labeled = labels::attach(&fs, ledger.labels.as_deref(), data_end);
    if let Some(report) = ledger
        .reports
        .iter_mut()
        .find(|r| r.table == contract::LABELS.name)
    {
        // Valid labels that match no population row are unmatched, not used.
        let unused = report.rows_used - labeled.given_matched;
        report.rows_used = labeled.given_matched;
        report.rows_unmatched += unused;
    }

    let summary_path = sibling(&opts.out, "summary.json");
    let table = tables::feature_table(&ledger, &fs, &labeled);
    let rejects_path = write_rejects(&opts.out, &ledger.rejects)?;
    output::write_parquet(&opts.out, table.schema(), std::slice::from_ref(&table))?;
    clock.lap("write")?;
    let summary = FeaturesSummary {
        dunning_version: env!("CARGO_PKG_VERSION").to_string(),
        output: opts.out.display().to_string(),
        rejects_file: rejects_path.map(|p| p.display().to_string()),
        inputs: ledger.reports.clone(),
        snapshots: labeled.counts.clone(),
        rows_written: table.num_rows() as u64,
        rows_rejected: ledger.rejects.len() as u64,
        features: fs.names.clone(),
        horizon_days: fs.horizon_days,
        tolerance: fs.tolerance,
        data_end: data_end.map(dates::format),
        timings: clock.laps,
    };
    output::write_json(&summary_path, &summary)?;
    Ok(summary)
}
