//! The validation report of a training run: `report.json` beside
//! `model.json`, with the same structures as a backtest's snapshots (the
//! [`Evaluation`] of the validation rows and the model's WoE bins), so one
//! HTML report renders either. Documented in docs/output-contract.md.
//!
//! It also holds the drift of the validation part against the training
//! part (PSI of the score and of each feature, [`super::drift`]), so the
//! page can show PSI per feature.
//!
//! It describes the rows training held out; it does not score anything
//! itself (training already did, see [`crate::model::train::train_validated`]).

use serde::{Deserialize, Serialize};

use super::drift::{self, DriftError, DriftReport};
use super::evaluation::{woe_features, Evaluation, ModelInfo, Outcome, WoeFeature};
use crate::model::metrics::MetricsError;
use crate::model::train::ValidationRows;
use crate::model::Model;

/// report.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationReport {
    /// `validation`.
    pub kind: String,
    /// The dunning version that wrote it.
    pub dunning_version: String,
    /// The model (its `path` is `model.json`, the file beside this one).
    pub model: ModelInfo,
    /// The training snapshots.
    pub as_of: Vec<String>,
    /// How the validation rows were chosen (by borrower, or out of time).
    pub split: String,
    /// The validation rows against their labels: metrics (the same numbers
    /// as model.json's `validation`), curves, band mix and repay rate by band.
    pub evaluation: Evaluation,
    /// The model's WoE bins per feature (empty for a standardized model).
    pub woe_bins: Vec<WoeFeature>,
    /// PSI of the score and each feature of the validation rows against the
    /// training rows' distributions in model.json, judged by the report
    /// thresholds ([`drift::report_thresholds`]).
    pub drift: DriftReport,
}

/// Why a validation report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ValidationReportError {
    /// The metrics failed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// The drift failed (rows of the wrong shape).
    #[error(transparent)]
    Drift(#[from] DriftError),
}

impl ValidationReport {
    /// The report of `model` on its validation rows; `sha256` is model.json's.
    pub fn of(
        model: &Model,
        rows: &ValidationRows,
        sha256: &str,
    ) -> Result<Self, ValidationReportError> {
        let outcomes: Vec<Outcome> = rows
            .p_repay
            .iter()
            .zip(&rows.score)
            .zip(&rows.repaid)
            .map(|((&p_repay, &score), &repaid)| Outcome {
                p_repay,
                score,
                band: model.band_index(score),
                repaid,
            })
            .collect();
        Ok(Self {
            kind: "validation".into(),
            dunning_version: env!("CARGO_PKG_VERSION").into(),
            model: ModelInfo::of(model, std::path::Path::new("model.json"), sha256),
            as_of: model.training.as_of.clone(),
            split: model.training.split.clone(),
            evaluation: Evaluation::of(&outcomes, model)?,
            woe_bins: woe_features(model),
            drift: drift::population(
                model,
                &rows.raw,
                model.features.len(),
                &rows.score.iter().map(|&s| f64::from(s)).collect::<Vec<_>>(),
                drift::report_thresholds(),
            )?,
        })
    }
}
