//! `dunning score`: build tonight's features, score the population with a
//! trained model, and write `scored.parquet`.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::contract::{self, ContractError, InputPaths, LoadOptions, TableReport};
use crate::dates::Day;
use crate::error::{Error, Result};
use crate::labels;
use crate::ledger::{self, SnapshotOptions};
use crate::model::{Model, ModelError};
use crate::output::{self, tables};
use crate::scoring;

/// Options of one `score` run.
#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// The model directory (with model.json) or the model.json file.
    pub model: PathBuf,
    /// Input files.
    pub inputs: InputPaths,
    /// The as-of date.
    pub as_of: Day,
    /// Covered-within tolerance.
    pub tolerance: f64,
    /// Strictness.
    pub strict: bool,
    /// The scored table to write.
    pub out: PathBuf,
}

/// What a `score` run did.
#[derive(Debug, Clone)]
pub struct ScoreSummary {
    /// Rows written.
    pub rows: u64,
    /// Borrowers outside the population.
    pub outside_population: u64,
    /// Row accounting per input table.
    pub inputs: Vec<TableReport>,
    /// Rejected input rows.
    pub rejected: u64,
    /// The model's version.
    pub model_version: String,
    /// Wall time per stage.
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

/// Loads the model, builds the features it needs, scores and writes.
pub fn run(opts: &ScoreOptions) -> Result<ScoreSummary> {
    let mut clock = crate::jobs::Stopwatch::default();
    let path = if opts.model.is_dir() {
        opts.model.join("model.json")
    } else {
        opts.model.clone()
    };
    let bytes = std::fs::read(&path).map_err(|source| ModelError::Read {
        path: path.clone(),
        source,
    })?;
    let model = Model::from_bytes(&path, &bytes)?;
    let sha = format!("{:x}", Sha256::digest(&bytes));
    // Fail on a feature mismatch before reading any input. Model features
    // outside the catalogue are borrower attributes (NAME or NAME_missing).
    let catalogue = ledger::feature_names(true, &[]);
    let mut attributes: Vec<String> = Vec::new();
    for f in &model.features {
        if catalogue.contains(&f.name) {
            continue;
        }
        let stem = f
            .name
            .strip_suffix("_missing")
            .unwrap_or(&f.name)
            .to_string();
        if !attributes.contains(&stem) {
            attributes.push(stem);
        }
    }
    let expected = ledger::feature_names(opts.inputs.contacts.is_some(), &attributes);
    let missing: Vec<String> = model
        .features
        .iter()
        .map(|f| f.name.clone())
        .filter(|n| !expected.contains(n))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Model(ModelError::FeatureMismatch {
            missing,
            available: expected.join(", "),
        }));
    }
    check_attribute_columns(&opts.inputs, &attributes)?;
    let ledger = contract::load(
        &opts.inputs,
        &LoadOptions {
            attributes,
            strict: opts.strict,
        },
    )
    .map_err(|e| match e {
        // An attribute the model needs is not in the borrowers table.
        ContractError::UnknownAttribute { column, .. } => {
            Error::Model(ModelError::FeatureMismatch {
                missing: vec![column],
                available: "the borrowers table's numeric columns".into(),
            })
        }
        e => Error::Contract(e),
    })?;
    clock.lap("read and validate");
    let snapshots = SnapshotOptions {
        as_of: vec![opts.as_of],
        horizon_days: model
            .training
            .horizon_days
            .unwrap_or(ledger::DEFAULT_HORIZON_DAYS),
        tolerance: opts.tolerance,
    };
    let fs = ledger::build(&ledger, &snapshots)?;
    let population = labels::attach(&fs, None, None);
    clock.lap("features");
    let scored = scoring::score(&model, &fs, &population.rows)?;
    clock.lap("score");
    let batch = tables::scored_table(&ledger, &fs, &model, &scored, &sha);
    crate::jobs::write_rejects(&opts.out, &ledger.rejects)?;
    output::write_parquet(&opts.out, batch.schema(), std::slice::from_ref(&batch))?;
    clock.lap("write");
    Ok(ScoreSummary {
        rows: batch.num_rows() as u64,
        outside_population: population.counts[0].outside_population,
        inputs: ledger.reports.clone(),
        rejected: ledger.rejects.len() as u64,
        model_version: model.version.clone(),
        timings: clock.laps,
    })
}

/// The attributes the model needs must be columns of the borrowers table:
/// checked on the file's footer, before any data is read.
fn check_attribute_columns(inputs: &InputPaths, attributes: &[String]) -> Result<()> {
    if attributes.is_empty() {
        return Ok(());
    }
    let mismatch = |available: String| {
        Err(Error::Model(ModelError::FeatureMismatch {
            missing: attributes.to_vec(),
            available,
        }))
    };
    let Some(path) = &inputs.borrowers else {
        return mismatch("no --borrowers table was given".into());
    };
    // An unreadable file is reported by the contract stage with its own error.
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(());
    };
    let Ok(reader) = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
    else {
        return Ok(());
    };
    let columns: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let missing: Vec<String> = attributes
        .iter()
        .filter(|a| !columns.contains(a))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Model(ModelError::FeatureMismatch {
            missing,
            available: format!("{}: {}", path.display(), columns.join(", ")),
        }))
    }
}
