//! `dunning train`: fit a model on a feature table (a file written by
//! `dunning features`, or built from ledger inputs) and write
//! `models/NAME/model.json`, `model-card.md` and the validation report
//! `report.json` with its HTML page `report.html`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::contract::{self, ContractError, InputPaths, LoadOptions};
use crate::dates::Day;
use crate::error::{Error, Result};
use crate::labels;
use crate::ledger::{self, SnapshotOptions};
use crate::model::train::{self, group_hash, TrainOptions, TrainingTable};
use crate::model::{card, Model};
use crate::output::{self, tables::FEATURE_TABLE_KEYS};
use crate::report::validation::ValidationReport;

/// Where the training table comes from.
// Built once per training run: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum TrainInput {
    /// A feature table written by `dunning features`.
    Features(PathBuf),
    /// Ledger inputs, featurized in memory.
    Ledger {
        /// Input files.
        inputs: InputPaths,
        /// Snapshots.
        snapshots: SnapshotOptions,
        /// Attributes and strictness.
        load: LoadOptions,
        /// End of data for labels.
        data_end: Option<Day>,
    },
}

/// Options of one `train` run.
#[derive(Debug, Clone)]
pub struct TrainJobOptions {
    /// The training table's source.
    pub input: TrainInput,
    /// The model directory (its name is the model's name).
    pub out_dir: PathBuf,
    /// Training options; `name`, `version` and `created_at` are filled in by [`run`] when empty.
    pub train: TrainOptions,
}

/// The current time as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    chrono::DateTime::from_timestamp(secs, 0).map_or_else(
        || "1970-01-01T00:00:00Z".into(),
        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// Trains and writes the model; returns it.
pub fn run(opts: &TrainJobOptions) -> Result<Model> {
    let table = match &opts.input {
        TrainInput::Features(path) => read_feature_table(path)?,
        TrainInput::Ledger {
            inputs,
            snapshots,
            load,
            data_end,
        } => ledger_table(inputs, snapshots, load, *data_end)?,
    };
    let mut topts = opts.train.clone();
    let name = opts
        .out_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    if topts.name.is_empty() {
        topts.name = name;
    }
    if topts.created_at.is_empty() {
        topts.created_at = now_rfc3339();
    }
    if topts.version.is_empty() {
        topts.version = format!("{}@{}", topts.name, topts.created_at);
    }
    let trained = train::train_validated(&table, &topts)?;
    let model = trained.model;
    // The report is built before anything is written, so a failure leaves
    // the model directory as it was.
    let report = validation_report(&model, &trained.validation)?;
    let page = crate::report::page::validation_page(&report).render();
    output::write_json(&opts.out_dir.join("model.json"), &model)?;
    output::write_text(&opts.out_dir.join("model-card.md"), &card::render(&model))?;
    output::write_json(&opts.out_dir.join(REPORT), &report)?;
    output::write_text(&opts.out_dir.join(REPORT_HTML), &page)?;
    Ok(model)
}

/// The validation report, written as `report.json` beside model.json.
pub const REPORT: &str = "report.json";

/// The validation report's offline HTML page, beside `report.json`.
pub const REPORT_HTML: &str = "report.html";

/// The validation report of `model` on its validation rows. It names
/// model.json by the sha256 of the bytes [`output::write_json`] writes for
/// it (pretty JSON and a newline; a test compares with the file written).
pub fn validation_report(model: &Model, rows: &train::ValidationRows) -> Result<ValidationReport> {
    let mut bytes = serde_json::to_vec_pretty(model)
        .map_err(|e| Error::Internal(format!("serializing the model: {e}")))?;
    bytes.push(b'\n');
    let sha256 = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&bytes));
    ValidationReport::of(model, rows, &sha256)
        .map_err(|e| Error::Internal(format!("validation report: {e}")))
}

/// Reads and validates a ledger, builds its snapshots' features and labels,
/// and returns the labelled rows as a training table.
pub fn ledger_table(
    inputs: &contract::InputPaths,
    snapshots: &SnapshotOptions,
    load: &LoadOptions,
    data_end: Option<Day>,
) -> Result<TrainingTable> {
    let ledger = contract::load(inputs, load)?;
    let fs = ledger::build(&ledger, snapshots, ledger::Keep::Population)?;
    let labeled = labels::attach(
        &fs,
        ledger.labels.as_deref(),
        data_end.or(ledger.last_payment),
    );
    let width = fs.names.len();
    let mut t = TrainingTable {
        names: fs.names.clone(),
        horizon_days: Some(fs.horizon_days),
        ..TrainingTable::default()
    };
    for (i, &k) in labeled.rows.iter().enumerate() {
        let r = fs.rows[k];
        t.values
            .extend_from_slice(&fs.values[k * width..(k + 1) * width]);
        t.labels.push(labeled.repaid[i]);
        t.groups
            .push(group_hash(&ledger.borrowers.display(r.borrower)));
        t.as_of.push(fs.as_of[r.snapshot as usize]);
    }
    Ok(t)
}

/// Reads a feature table written by `dunning features`: every Float64 column
/// besides the key columns is a feature.
pub fn read_feature_table(path: &Path) -> Result<TrainingTable> {
    let unreadable = |message: String| {
        Error::Contract(ContractError::Unreadable {
            path: path.to_path_buf(),
            message,
        })
    };
    let file = std::fs::File::open(path).map_err(|source| {
        Error::Contract(ContractError::Open {
            path: path.to_path_buf(),
            source,
        })
    })?;
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| unreadable(e.to_string()))?;
    let schema = reader.schema().clone();
    let horizon = schema
        .metadata()
        .get("dunning.horizon_days")
        .and_then(|h| h.parse().ok());
    for (col, dt) in [
        ("borrower_id", None),
        ("as_of", Some(DataType::Date32)),
        ("repaid", Some(DataType::Boolean)),
    ] {
        match schema.field_with_name(col) {
            Err(_) => {
                return Err(Error::Contract(ContractError::MissingColumn {
                    path: path.to_path_buf(),
                    table: "features",
                    column: col,
                }))
            }
            Ok(f) if dt.as_ref().is_some_and(|d| f.data_type() != d) => {
                return Err(Error::Contract(ContractError::WrongType {
                    path: path.to_path_buf(),
                    column: col.into(),
                    found: f.data_type().to_string(),
                    expected: if col == "as_of" { "Date32" } else { "Boolean" },
                }))
            }
            Ok(_) => {}
        }
    }
    let names: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| {
            f.data_type() == &DataType::Float64 && !FEATURE_TABLE_KEYS.contains(&f.name().as_str())
        })
        .map(|f| f.name().clone())
        .collect();
    let mut t = TrainingTable {
        names: names.clone(),
        horizon_days: horizon,
        ..TrainingTable::default()
    };
    let batches = reader.build().map_err(|e| unreadable(e.to_string()))?;
    let mut offset = 0usize;
    for batch in batches {
        let batch = batch.map_err(|e| unreadable(e.to_string()))?;
        let ids = batch.column_by_name("borrower_id").expect("checked");
        let ids =
            arrow::compute::cast(ids, &DataType::Utf8).map_err(|e| unreadable(e.to_string()))?;
        let ids = ids.as_string::<i32>();
        let as_of = batch
            .column_by_name("as_of")
            .expect("checked")
            .as_primitive::<Date32Type>()
            .clone();
        let repaid = batch
            .column_by_name("repaid")
            .expect("checked")
            .as_boolean()
            .clone();
        let cols: Vec<Arc<dyn Array>> = names
            .iter()
            .map(|n| batch.column_by_name(n).expect("listed").clone())
            .collect();
        for r in 0..batch.num_rows() {
            for (c, name) in cols.iter().zip(&names) {
                let a = c.as_primitive::<Float64Type>();
                let v = if a.is_null(r) { f64::NAN } else { a.value(r) };
                if !v.is_finite() {
                    return Err(Error::Contract(ContractError::Unreadable {
                        path: path.to_path_buf(),
                        message: format!(
                            "column `{name}` row index {}: feature values must be finite, got {v}",
                            offset + r
                        ),
                    }));
                }
                t.values.push(v);
            }
            if !ids.is_valid(r) || !as_of.is_valid(r) {
                return Err(Error::Contract(ContractError::Unreadable {
                    path: path.to_path_buf(),
                    message: format!(
                        "row index {}: borrower_id and as_of must not be null",
                        offset + r
                    ),
                }));
            }
            t.labels.push(repaid.is_valid(r).then(|| repaid.value(r)));
            t.groups.push(group_hash(ids.value(r)));
            t.as_of.push(as_of.value(r));
        }
        offset += batch.num_rows();
    }
    Ok(t)
}
