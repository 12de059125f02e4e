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

/// A model applied to one snapshot: what `score` writes and `run` builds on.
#[derive(Debug)]
pub struct Scored {
    /// The model.
    pub model: Model,
    /// sha256 of model.json, as read.
    pub model_sha256: String,
    /// The validated input.
    pub ledger: crate::contract::Ledger,
    /// Features at the as-of date.
    pub features: crate::ledger::FeatureSet,
    /// The population (and the borrowers outside it).
    pub population: crate::labels::Labeled,
    /// One scored row per borrower in the population, in borrower order.
    pub rows: Vec<scoring::ScoredRow>,
}

/// A model directory's model.json (a path to a file is taken as it is).
pub(crate) fn model_json(path: &std::path::Path) -> std::path::PathBuf {
    if path.is_dir() {
        path.join("model.json")
    } else {
        path.to_path_buf()
    }
}

/// A model read from its directory or model.json, with the file's sha256.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The model.json path.
    pub path: PathBuf,
    /// The model.
    pub model: Model,
    /// sha256 of model.json, as read.
    pub sha256: String,
}

impl LoadedModel {
    /// Reads and checks the model at `model_path` (a directory or its model.json).
    pub fn read(model_path: &std::path::Path) -> Result<Self> {
        let path = model_json(model_path);
        let bytes = std::fs::read(&path).map_err(|source| ModelError::Read {
            path: path.clone(),
            source,
        })?;
        let model = Model::from_bytes(&path, &bytes)?;
        let sha256 = format!("{:x}", Sha256::digest(&bytes));
        Ok(Self {
            path,
            model,
            sha256,
        })
    }

    /// A mismatch between this model and the inputs, naming the model file.
    pub fn mismatch(&self, e: ModelError) -> Error {
        match e {
            e @ ModelError::FeatureMismatch { .. } => Error::Model(ModelError::Mismatch {
                path: self.path.clone(),
                source: Box::new(e),
            }),
            e => Error::Model(e),
        }
    }

    /// The borrower attributes the model needs: its features outside the
    /// ledger and contact catalogue are attributes (NAME or NAME_missing).
    fn attributes(&self) -> Vec<String> {
        let catalogue = ledger::feature_names(true, &[]);
        let mut attributes: Vec<String> = Vec::new();
        for f in &self.model.features {
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
        attributes
    }
}

/// Checks that the inputs can give every feature of each of `models`, then
/// reads and validates the inputs (of one borrower partition, when given)
/// with the borrower attributes the models need. A mismatch names the model
/// file and fails before any input data is read.
pub fn load_ledger_for(
    models: &[&LoadedModel],
    inputs: &InputPaths,
    mut load: LoadOptions,
) -> Result<contract::Ledger> {
    let mut attributes = std::mem::take(&mut load.attributes);
    for m in models {
        let own = m.attributes();
        let expected = ledger::feature_names(inputs.contacts.is_some(), &own);
        let missing: Vec<String> = m
            .model
            .features
            .iter()
            .map(|f| f.name.clone())
            .filter(|n| !expected.contains(n))
            .collect();
        if !missing.is_empty() {
            return Err(m.mismatch(ModelError::FeatureMismatch {
                missing,
                available: expected.join(", "),
            }));
        }
        check_attribute_columns(inputs, &own).map_err(|e| match e {
            Error::Model(e) => m.mismatch(e),
            e => e,
        })?;
        for a in own {
            if !attributes.contains(&a) {
                attributes.push(a);
            }
        }
    }
    contract::load(inputs, &LoadOptions { attributes, ..load }).map_err(|e| match e {
        // An attribute a model needs is not in the borrowers table.
        ContractError::UnknownAttribute { column, .. } => {
            let m = models
                .iter()
                .find(|m| m.attributes().contains(&column))
                .or(models.first());
            let e = ModelError::FeatureMismatch {
                missing: vec![column],
                available: "the borrowers table's numeric columns".into(),
            };
            match m {
                Some(m) => m.mismatch(e),
                None => Error::Model(e),
            }
        }
        e => Error::Contract(e),
    })
}

/// Loads the model at `model_path` (a directory or its model.json), checks
/// that the inputs can give its features, reads and validates the inputs
/// (of one borrower partition, when given), builds the features at `as_of`,
/// and scores the population.
pub fn load_and_score(
    model_path: &std::path::Path,
    inputs: &InputPaths,
    as_of: Day,
    tolerance: f64,
    load: LoadOptions,
    clock: &mut crate::jobs::Stopwatch,
) -> Result<Scored> {
    let loaded = LoadedModel::read(model_path)?;
    let ledger = load_ledger_for(&[&loaded], inputs, load)?;
    clock.lap("read and validate")?;
    let snapshots = SnapshotOptions {
        as_of: vec![as_of],
        horizon_days: loaded
            .model
            .training
            .horizon_days
            .unwrap_or(ledger::DEFAULT_HORIZON_DAYS),
        tolerance,
    };
    let features = ledger::build(&ledger, &snapshots, ledger::Keep::Population)?;
    let population = labels::attach(&features, None, None);
    clock.lap("features")?;
    let rows = scoring::score(&loaded.model, &features, &population.rows)
        .map_err(|e| loaded.mismatch(e))?;
    clock.lap("score")?;
    let LoadedModel {
        model,
        sha256: model_sha256,
        ..
    } = loaded;
    Ok(Scored {
        model,
        model_sha256,
        ledger,
        features,
        population,
        rows,
    })
}

/// Loads the model, builds the features it needs, scores and writes.
pub fn run(opts: &ScoreOptions) -> Result<ScoreSummary> {
    let mut clock = crate::jobs::Stopwatch::default();
    let s = load_and_score(
        &opts.model,
        &opts.inputs,
        opts.as_of,
        opts.tolerance,
        LoadOptions {
            strict: opts.strict,
            ..LoadOptions::default()
        },
        &mut clock,
    )?;
    let batch = tables::scored_table(&s.ledger, &s.features, &s.model, &s.rows, &s.model_sha256);
    crate::jobs::write_rejects(&opts.out, &s.ledger.rejects)?;
    output::write_parquet(&opts.out, batch.schema(), std::slice::from_ref(&batch))?;
    clock.lap("write")?;
    Ok(ScoreSummary {
        rows: batch.num_rows() as u64,
        outside_population: s.population.counts[0].outside_population,
        inputs: s.ledger.reports.clone(),
        rejected: s.ledger.rejects.len() as u64,
        model_version: s.model.version.clone(),
        timings: clock.laps,
    })
}

/// The attributes the model needs must be columns of the borrowers table:
/// checked on the file's footer, before any data is read.
pub(crate) fn check_attribute_columns(inputs: &InputPaths, attributes: &[String]) -> Result<()> {
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
    let Ok(schema) = contract::read::file_schema(path) else {
        return Ok(());
    };
    let numeric = contract::read::is_numeric;
    let missing: Vec<String> = attributes
        .iter()
        .filter(|a| {
            !schema
                .field_with_name(a)
                .is_ok_and(|f| numeric(f.data_type()))
        })
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // The columns there are, with the type of those that are not numbers.
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| match numeric(f.data_type()) {
            true => f.name().clone(),
            false => format!("{} ({}, not a number)", f.name(), f.data_type()),
        })
        .collect();
    Err(Error::Model(ModelError::FeatureMismatch {
        missing,
        available: format!("{}: {}", path.display(), columns.join(", ")),
    }))
}
