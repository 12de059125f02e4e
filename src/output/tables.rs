//! The schemas of dunning's output tables, and their construction from results.
//!
//! Downstream systems read these files; their columns and types are documented
//! in `docs/output-schema.md` and pinned by tests. Building a table does no
//! computation beyond laying results out as Arrow columns.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, StringArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::contract::{IdType, Ledger, Reject};
use crate::dates;
use crate::labels::Labeled;
use crate::ledger::FeatureSet;
use crate::model::Model;
use crate::scoring::{self, ScoredRow};

/// Version of the scored table's schema, in its Parquet metadata.
pub const SCORED_SCHEMA_VERSION: &str = "1";

/// Columns of the feature table besides the features themselves.
pub const FEATURE_TABLE_KEYS: [&str; 7] = [
    "borrower_id",
    "as_of",
    "repaid",
    "label_source",
    "hardship",
    "dispute",
    "do_not_contact",
];

/// The Arrow type of borrower_id in outputs: the input's id type.
pub fn id_data_type(t: IdType) -> DataType {
    match t {
        IdType::Int => DataType::Int64,
        IdType::Str => DataType::Utf8,
    }
}

/// Builds the feature table: one row per borrower in a snapshot's population.
///
/// Columns: `borrower_id` (input id type), `as_of` (Date32), `repaid`
/// (Boolean, null when unknown), `label_source` (Utf8: ledger or given, null
/// when unknown), one Float64 column per feature in [`FeatureSet::names`]
/// order, then the Boolean flags `hardship`, `dispute`, `do_not_contact`.
pub fn feature_table(ledger: &Ledger, fs: &FeatureSet, labeled: &Labeled) -> RecordBatch {
    let rows = &labeled.rows;
    let borrowers: Vec<u32> = rows.iter().map(|&k| fs.rows[k].borrower).collect();
    let mut fields = vec![
        Field::new(
            "borrower_id",
            id_data_type(ledger.borrowers.id_type()),
            false,
        ),
        Field::new("as_of", DataType::Date32, false),
        Field::new("repaid", DataType::Boolean, true),
        Field::new("label_source", DataType::Utf8, true),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        ledger.borrowers.take(&borrowers),
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|&k| fs.as_of[fs.rows[k].snapshot as usize]),
        )),
        Arc::new(BooleanArray::from(labeled.repaid.clone())),
        Arc::new(StringArray::from_iter(
            labeled.source.iter().map(|s| s.map(|s| s.as_str())),
        )),
    ];
    let width = fs.names.len();
    for (j, name) in fs.names.iter().enumerate() {
        fields.push(Field::new(name, DataType::Float64, false));
        columns.push(Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|&k| fs.values[k * width + j]),
        )));
    }
    type FlagOf = fn(&crate::contract::Flags) -> bool;
    let flags: [(&str, FlagOf); 3] = [
        ("hardship", |f| f.hardship),
        ("dispute", |f| f.dispute),
        ("do_not_contact", |f| f.do_not_contact),
    ];
    for (name, get) in flags {
        fields.push(Field::new(name, DataType::Boolean, false));
        columns.push(Arc::new(BooleanArray::from_iter(
            borrowers
                .iter()
                .map(|&b| Some(get(&ledger.flags[b as usize]))),
        )));
    }
    let mut meta = HashMap::new();
    meta.insert(
        "dunning.horizon_days".to_string(),
        fs.horizon_days.to_string(),
    );
    meta.insert("dunning.tolerance".to_string(), fs.tolerance.to_string());
    if let Some(end) = labeled.data_end {
        meta.insert("dunning.data_end".to_string(), dates::format(end));
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, meta));
    RecordBatch::try_new(schema, columns).expect("columns are built to the schema")
}

/// The schema of the rejects file.
pub fn rejects_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("row_index", DataType::UInt64, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("values", DataType::Utf8, false),
    ]))
}

/// Builds the rejects table: one row per rejected input row, with the
/// table, file, 0-based row index, offending column, reason, and the row's
/// original values as a JSON object.
pub fn rejects_table(rejects: &[Reject]) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.table),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.file.as_str()),
        )),
        Arc::new(UInt64Array::from_iter_values(
            rejects.iter().map(|r| r.row_index),
        )),
        Arc::new(StringArray::from_iter(rejects.iter().map(|r| r.column))),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.reason.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.values.as_str()),
        )),
    ];
    RecordBatch::try_new(rejects_schema(), columns).expect("columns are built to the schema")
}

/// Builds the scored table, one row per scored borrower in borrower-id order.
///
/// Columns: `borrower_id`, `as_of` (Date32), `p_repay` (Float64 in [0, 1]),
/// `score` (Int32), `risk_band`, `dpd` (Int32), `dpd_bucket`,
/// `overdue_amount` (Float64), `reason_1`..`reason_3` (Utf8, null where
/// fewer features lower the score), `model_version`. The schema metadata
/// carries `dunning.schema_version`, `dunning.model_name`,
/// `dunning.model_version`, `dunning.model_sha256` and `dunning.as_of`.
pub fn scored_table(
    ledger: &Ledger,
    fs: &FeatureSet,
    model: &Model,
    scored: &[ScoredRow],
    model_sha256: &str,
) -> RecordBatch {
    let dpd = fs.position("dpd").expect("dpd is a ledger feature");
    let overdue = fs
        .position("overdue_amount")
        .expect("overdue_amount is a ledger feature");
    let width = fs.names.len();
    let value = |r: &ScoredRow, j: usize| fs.values[r.row * width + j];
    let borrowers: Vec<u32> = scored.iter().map(|r| fs.rows[r.row].borrower).collect();
    let as_of = fs.as_of.first().copied().unwrap_or(0);
    let reason = |k: usize| -> ArrayRef {
        Arc::new(StringArray::from_iter(scored.iter().map(|r| {
            r.reasons[k].map(|i| model.features[i as usize].name.as_str())
        })))
    };
    let fields = vec![
        Field::new(
            "borrower_id",
            id_data_type(ledger.borrowers.id_type()),
            false,
        ),
        Field::new("as_of", DataType::Date32, false),
        Field::new("p_repay", DataType::Float64, false),
        Field::new("score", DataType::Int32, false),
        Field::new("risk_band", DataType::Utf8, false),
        Field::new("dpd", DataType::Int32, false),
        Field::new("dpd_bucket", DataType::Utf8, false),
        Field::new("overdue_amount", DataType::Float64, false),
        Field::new("reason_1", DataType::Utf8, true),
        Field::new("reason_2", DataType::Utf8, true),
        Field::new("reason_3", DataType::Utf8, true),
        Field::new("model_version", DataType::Utf8, false),
    ];
    let columns: Vec<ArrayRef> = vec![
        ledger.borrowers.take(&borrowers),
        Arc::new(Date32Array::from_iter_values(
            scored
                .iter()
                .map(|r| fs.as_of[fs.rows[r.row].snapshot as usize]),
        )),
        Arc::new(Float64Array::from_iter_values(
            scored.iter().map(|r| r.p_repay),
        )),
        Arc::new(Int32Array::from_iter_values(scored.iter().map(|r| r.score))),
        Arc::new(StringArray::from_iter_values(
            scored.iter().map(|r| model.bands[r.band].band.as_str()),
        )),
        Arc::new(Int32Array::from_iter_values(
            scored.iter().map(|r| value(r, dpd) as i32),
        )),
        Arc::new(StringArray::from_iter_values(
            scored.iter().map(|r| scoring::dpd_bucket(value(r, dpd))),
        )),
        Arc::new(Float64Array::from_iter_values(
            scored.iter().map(|r| value(r, overdue)),
        )),
        reason(0),
        reason(1),
        reason(2),
        Arc::new(StringArray::from_iter_values(
            scored.iter().map(|_| model.version.as_str()),
        )),
    ];
    let mut meta = HashMap::new();
    meta.insert(
        "dunning.schema_version".to_string(),
        SCORED_SCHEMA_VERSION.to_string(),
    );
    meta.insert("dunning.model_name".to_string(), model.name.clone());
    meta.insert("dunning.model_version".to_string(), model.version.clone());
    meta.insert("dunning.model_sha256".to_string(), model_sha256.to_string());
    meta.insert("dunning.as_of".to_string(), dates::format(as_of));
    RecordBatch::try_new(Arc::new(Schema::new_with_metadata(fields, meta)), columns)
        .expect("columns are built to the schema")
}

/// Builds the nightly run's scored table: the [`scored_table`] columns, then
/// `treatment`, `channel`, `contact_allowed`, `next_contact_date` (Date32,
/// null without contact limits), `calls_left_today` (Int32, null without
/// contact limits), `contact_window_start` and `contact_window_end` (Utf8
/// "HH:MM" local time, null without contact limits), `offer_plan`,
/// `human_review`, `treatment_rule`, `arm`, `strategy_version`, `run_id`,
/// `next_due_date` (Date32, the next installment due after as_of, from
/// `next_due`, one per scored row; null when none).
#[allow(clippy::too_many_arguments)]
pub fn run_table(
    ledger: &Ledger,
    fs: &FeatureSet,
    model: &Model,
    scored: &[ScoredRow],
    model_sha256: &str,
    strategy: &crate::strategy::Strategy,
    decisions: &[crate::strategy::Decision],
    arms: &[crate::strategy::arms::Arm],
    next_due: &[Option<crate::dates::Day>],
    run_id: &str,
) -> RecordBatch {
    let base = scored_table(ledger, fs, model, scored, model_sha256);
    let hour = |h: Option<u8>| -> ArrayRef {
        let text = h.map(|h| format!("{h:02}:00"));
        Arc::new(StringArray::from_iter(
            decisions.iter().map(|_| text.as_deref()),
        ))
    };
    let rules = strategy.contact_rules.as_ref();
    let extra: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new("treatment", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                decisions.iter().map(|d| d.treatment.as_str()),
            )),
        ),
        (
            Field::new("channel", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                decisions.iter().map(|d| d.channel.as_str()),
            )),
        ),
        (
            Field::new("contact_allowed", DataType::Boolean, false),
            Arc::new(BooleanArray::from_iter(
                decisions.iter().map(|d| Some(d.contact_allowed)),
            )),
        ),
        (
            Field::new("next_contact_date", DataType::Date32, true),
            Arc::new(Date32Array::from_iter(
                decisions.iter().map(|d| d.next_contact_date),
            )),
        ),
        (
            Field::new("calls_left_today", DataType::Int32, true),
            Arc::new(Int32Array::from_iter(decisions.iter().map(|d| {
                d.calls_left_today.map(|c| c.min(i32::MAX as u32) as i32)
            }))),
        ),
        (
            Field::new("contact_window_start", DataType::Utf8, true),
            hour(rules.map(|r| r.window_start_hour)),
        ),
        (
            Field::new("contact_window_end", DataType::Utf8, true),
            hour(rules.map(|r| r.window_end_hour)),
        ),
        (
            Field::new("offer_plan", DataType::Boolean, false),
            Arc::new(BooleanArray::from_iter(
                decisions.iter().map(|d| Some(d.offer_plan)),
            )),
        ),
        (
            Field::new("human_review", DataType::Boolean, false),
            Arc::new(BooleanArray::from_iter(
                decisions.iter().map(|d| Some(d.human_review)),
            )),
        ),
        (
            Field::new("treatment_rule", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                decisions.iter().map(|d| d.rule.as_str()),
            )),
        ),
        (
            Field::new("arm", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                arms.iter().map(|a| a.as_str()),
            )),
        ),
        (
            Field::new("strategy_version", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                decisions.iter().map(|_| strategy.version.as_str()),
            )),
        ),
        (
            Field::new("run_id", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                decisions.iter().map(|_| run_id),
            )),
        ),
        (
            Field::new("next_due_date", DataType::Date32, true),
            Arc::new(Date32Array::from_iter(next_due.iter().copied())),
        ),
    ];
    let mut fields: Vec<Field> = base
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns = base.columns().to_vec();
    for (f, c) in extra {
        fields.push(f);
        columns.push(c);
    }
    let mut meta = base.schema().metadata().clone();
    meta.insert(
        "dunning.strategy_version".to_string(),
        strategy.version.clone(),
    );
    meta.insert("dunning.run_id".to_string(), run_id.to_string());
    RecordBatch::try_new(Arc::new(Schema::new_with_metadata(fields, meta)), columns)
        .expect("columns are built to the schema")
}
