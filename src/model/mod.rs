//! The repayment model: the stored model (`model.json`), its fitting with
//! linfa-logistic, and validation metrics.
//!
//! A [`Model`] is everything the nightly scoring needs and everything a
//! reviewer asks about: the features in order with their transforms and
//! coefficients, the penalty, the training data's extent, validation
//! metrics, score scaling, risk-band cut-offs, and the training population's
//! score distribution for drift checks. This module fits and describes
//! models; applying one to borrowers is [`crate::scoring`].

pub mod card;
pub mod fit;
pub mod metrics;
pub mod train;
pub mod woe;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use metrics::Metrics;
use woe::WoeBinning;

/// The model.json format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Errors of training, loading and saving models.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model file cannot be read.
    #[error("{}: cannot read the model: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The model file is not a valid model.json.
    #[error("{}: not a valid model.json: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The model file has a format this build does not know.
    #[error("{}: model format version {found}; this dunning reads version {FORMAT_VERSION}", path.display())]
    FormatVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// The features the model needs cannot be built from the given inputs.
    #[error("the model needs feature(s) {missing:?}, which these inputs do not give (features available: {available})")]
    FeatureMismatch {
        /// Features missing from the inputs.
        missing: Vec<String>,
        /// What the inputs give.
        available: String,
    },
    /// The model cannot score these inputs (they lack features it needs).
    #[error("{}: {source}", path.display())]
    Mismatch {
        /// The model file.
        path: PathBuf,
        /// What does not match ([`ModelError::FeatureMismatch`]).
        source: Box<ModelError>,
    },
    /// The training data cannot train a model.
    #[error("cannot train: {0}")]
    Training(String),
    /// linfa-logistic failed.
    #[error("logistic regression failed: {0}")]
    Solver(String),
    /// Bad training options.
    #[error("{0}")]
    Options(String),
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, ModelError>;

/// How a feature enters the linear predictor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// (x - mean) / std, with mean and std from the training part.
    Standardize,
    /// The weight of evidence of x's bin (a scorecard).
    Woe,
}

/// One feature of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFeature {
    /// Column name in the feature table.
    pub name: String,
    /// Coefficient on the transformed value (log-odds of repaying per unit).
    pub coefficient: f64,
    /// Training mean (standardize).
    pub mean: Option<f64>,
    /// Training standard deviation (standardize).
    pub std: Option<f64>,
    /// Bins and weights of evidence (woe).
    pub woe: Option<WoeBinning>,
    /// Mean of the transformed value over the training part: the reference
    /// point for reason codes (0 for standardized features).
    pub reference: f64,
    /// Distribution of the raw feature over the training part, for drift checks.
    pub distribution: Distribution,
}

impl ModelFeature {
    /// The transformed value of a raw feature value. Standardizing
    /// multiplies by the reciprocal of the std, `(x - mean) * (1 / std)`:
    /// scoring does the same arithmetic eight rows at a time, where a
    /// multiply costs a fraction of a divide, and both give the same bits.
    pub fn transform(&self, x: f64) -> f64 {
        match (&self.woe, self.mean, self.std) {
            (Some(w), _, _) => w.transform(x),
            (None, Some(m), Some(s)) => (x - m) * (1.0 / s),
            _ => x,
        }
    }
}

/// A feature left out of the model, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Excluded {
    /// Feature name.
    pub name: String,
    /// Why it was left out.
    pub reason: String,
}

/// A distribution summarised by decile edges of the training population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    /// Inner bin edges, ascending and distinct (a value v is in bin i when
    /// `edges[i-1] < v <= edges[i]`).
    pub edges: Vec<f64>,
    /// Share of the training population in each of the edges.len() + 1 bins.
    pub shares: Vec<f64>,
}

/// Score scaling: score = offset + factor * ln(odds of repaying).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    /// Score at the reference odds.
    pub points: f64,
    /// Reference odds of repaying (e.g. 50 for 50:1).
    pub odds: f64,
    /// Points to double the odds.
    pub pdo: f64,
    /// factor = pdo / ln 2.
    pub factor: f64,
    /// offset = points - factor * ln(odds).
    pub offset: f64,
}

impl Scaling {
    /// Scaling with `points` at `odds`:1 and `pdo` points to double the odds.
    pub fn new(points: f64, odds: f64, pdo: f64) -> Self {
        let factor = pdo / std::f64::consts::LN_2;
        Self {
            points,
            odds,
            pdo,
            factor,
            offset: points - factor * odds.ln(),
        }
    }
    /// The integer score of a log-odds value (rounded half away from zero,
    /// clamped to the i32 range).
    pub fn score(&self, log_odds: f64) -> i32 {
        let s = (self.offset + self.factor * log_odds).round();
        s.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
    }
}

impl Default for Scaling {
    /// 600 points at odds of 50:1, 20 points to double the odds: common
    /// scorecard conventions.
    fn default() -> Self {
        Self::new(600.0, 50.0, 20.0)
    }
}

/// A risk band: borrowers scoring at least `min_score` and below the
/// previous band's minimum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// Band name, A (best) to E.
    pub band: String,
    /// Lowest score in the band (None for the last band: everything below).
    pub min_score: Option<i32>,
}

/// What the model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    /// Snapshot dates of the training table.
    pub as_of: Vec<String>,
    /// Label horizon in days.
    pub horizon_days: Option<i32>,
    /// How the validation set was chosen.
    pub split: String,
    /// Seed of the borrower split.
    pub seed: u64,
    /// Rows used to fit.
    pub train_rows: u64,
    /// Rows held out for validation.
    pub validation_rows: u64,
    /// Rows without a label, not used.
    pub unlabelled_rows: u64,
    /// Share repaid among the training rows.
    pub train_label_rate: f64,
    /// Share repaid among the validation rows.
    pub validation_label_rate: f64,
    /// linfa-logistic iterations limit and tolerance used.
    pub solver: String,
}

/// L2 penalty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Penalty {
    /// ALPHA in summed log loss + ALPHA / 2 * |w|^2 (= 1 / C of scikit-learn).
    pub l2_alpha: f64,
}

/// A trained repayment model, as stored in `models/NAME/model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// model.json format version.
    pub format_version: u32,
    /// Model name (its directory).
    pub name: String,
    /// Model version, written into every scored row.
    pub version: String,
    /// When it was trained (UTC, RFC 3339).
    pub created_at: String,
    /// The dunning version that trained it.
    pub dunning_version: String,
    /// Training data.
    pub training: TrainingInfo,
    /// How features are transformed.
    pub transform: Transform,
    /// Features in order.
    pub features: Vec<ModelFeature>,
    /// Features left out, and why.
    pub excluded_features: Vec<Excluded>,
    /// Intercept of the linear predictor (log-odds of repaying).
    pub intercept: f64,
    /// Penalty.
    pub penalty: Penalty,
    /// Metrics on the validation set.
    pub validation: Metrics,
    /// Score scaling.
    pub scaling: Scaling,
    /// Risk bands, best first.
    pub bands: Vec<Band>,
    /// Score distribution of the training population, for drift checks.
    pub score_distribution: Distribution,
}

impl Model {
    /// Log-odds of repaying for one row of raw feature values in model order.
    pub fn log_odds(&self, raw: &[f64]) -> f64 {
        train::linear(&self.features, self.intercept, raw)
    }

    /// The index of a score's risk band (the last band when no minimum is met).
    pub fn band_index(&self, score: i32) -> usize {
        self.bands
            .iter()
            .position(|b| b.min_score.is_none_or(|m| score >= m))
            .unwrap_or(self.bands.len().saturating_sub(1))
    }

    /// The risk band of a score.
    pub fn band(&self, score: i32) -> &str {
        self.bands
            .get(self.band_index(score))
            .map_or("E", |b| b.band.as_str())
    }

    /// Reads and checks a model.json.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Parses and checks the bytes of a model.json read from `path`.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let corrupt = |message: String| ModelError::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        match value
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
        {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(ModelError::FormatVersion {
                    path: path.to_path_buf(),
                    found: v.min(u64::from(u32::MAX)) as u32,
                })
            }
            None => return Err(corrupt("no format_version".into())),
        }
        let model: Model = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        model.check().map_err(corrupt)?;
        Ok(model)
    }

    /// Internal consistency: finite numbers, transforms present, bands ordered.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        // Bounds that no fitted model comes near, and that keep every score
        // computation finite: log-odds stay far from overflow.
        // Reason codes index features in u16, with u16::MAX as "none".
        const MAX_FEATURES: usize = u16::MAX as usize - 1;
        const MAX_COEFFICIENT: f64 = 1e6;
        if self.features.is_empty() || self.features.len() > MAX_FEATURES {
            return Err(format!(
                "the model has {} features; 1 to {MAX_FEATURES} are allowed",
                self.features.len()
            ));
        }
        if !(self.intercept.is_finite() && self.intercept.abs() <= MAX_COEFFICIENT) {
            return Err(format!(
                "intercept {} is not a finite number within 1e6",
                self.intercept
            ));
        }
        let expected = Scaling::new(self.scaling.points, self.scaling.odds, self.scaling.pdo);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        if !(expected.factor.is_finite()
            && expected.offset.is_finite()
            && close(self.scaling.factor, expected.factor)
            && close(self.scaling.offset, expected.offset))
        {
            return Err(
                "score scaling: factor and offset must follow from points, odds and pdo".into(),
            );
        }
        let mut names = std::collections::HashSet::with_capacity(self.features.len());
        for f in &self.features {
            if !names.insert(f.name.as_str()) {
                return Err(format!("feature `{}` appears more than once", f.name));
            }
            if !(f.coefficient.is_finite()
                && f.coefficient.abs() <= MAX_COEFFICIENT
                && f.reference.is_finite())
            {
                return Err(format!(
                    "feature `{}`: coefficient or reference is not a finite number within 1e6",
                    f.name
                ));
            }
            let ok = match self.transform {
                Transform::Standardize if f.woe.is_some() => false,
                Transform::Woe
                    if f.woe.as_ref().is_some_and(|w| {
                        !w.bins
                            .iter()
                            .map(|b| b.woe)
                            .chain(w.special.iter().map(|b| b.woe))
                            .all(f64::is_finite)
                    }) =>
                {
                    false
                }
                Transform::Standardize => {
                    f.mean.is_some_and(f64::is_finite)
                        && f.std.is_some_and(|s| s.is_finite() && s >= 1e-12)
                }
                Transform::Woe => f.woe.is_some(),
            };
            if !ok {
                return Err(format!(
                    "feature `{}`: missing or invalid {:?} parameters",
                    f.name, self.transform
                ));
            }
        }
        // The drift check counts tonight's values in these bins.
        check_distribution(&self.score_distribution)
            .map_err(|e| format!("score_distribution: {e}"))?;
        for f in &self.features {
            check_distribution(&f.distribution)
                .map_err(|e| format!("feature `{}`: distribution: {e}", f.name))?;
        }
        let mins: Vec<i32> = self.bands.iter().filter_map(|b| b.min_score).collect();
        let mut names: Vec<&str> = self.bands.iter().map(|b| b.band.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if self.bands.is_empty()
            || names.len() != self.bands.len()
            || mins.len() + 1 != self.bands.len()
            || self.bands.last().is_some_and(|b| b.min_score.is_some())
            || mins.windows(2).any(|w| w[0] <= w[1])
        {
            return Err(
                "risk bands must have decreasing minimum scores and end with an open band".into(),
            );
        }
        Ok(())
    }
}

/// A stored distribution must give each of tonight's values one bin: finite
/// inner edges in strictly ascending order, one share more than edges, each
/// share in [0, 1], summing to 1.
fn check_distribution(d: &Distribution) -> std::result::Result<(), String> {
    if d.shares.len() != d.edges.len() + 1 {
        return Err(format!(
            "{} edges need {} shares, got {}",
            d.edges.len(),
            d.edges.len() + 1,
            d.shares.len()
        ));
    }
    if !d.edges.iter().all(|e| e.is_finite()) || d.edges.windows(2).any(|w| w[0] >= w[1]) {
        return Err("edges must be finite and strictly ascending".into());
    }
    let sum: f64 = d.shares.iter().sum();
    if !d.shares.iter().all(|s| (0.0..=1.0).contains(s)) || (sum - 1.0).abs() > 1e-6 {
        return Err(format!(
            "shares must be in [0, 1] and sum to 1, got a sum of {sum}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_json() -> serde_json::Value {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/model.json"
        ))
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Writes `value` to a temporary model.json and loads it.
    fn load(value: &serde_json::Value) -> Result<Model> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        std::fs::write(&path, value.to_string()).unwrap();
        Model::load(&path)
    }

    #[test]
    fn the_committed_default_model_loads() {
        let m = load(&default_json()).unwrap();
        assert_eq!(m.format_version, FORMAT_VERSION);
        assert_eq!(m.band(10_000), "A");
        assert_eq!(m.band(-10_000), "E");
    }

    #[test]
    fn rejects_inconsistent_models() {
        type Edit = fn(&mut serde_json::Value);
        let cases: [(&str, Edit); 11] = [
            ("no features", |v| v["features"] = serde_json::json!([])),
            ("a feature twice", |v| {
                let f = v["features"][0].clone();
                v["features"].as_array_mut().unwrap().push(f);
            }),
            ("huge coefficient", |v| {
                v["features"][0]["coefficient"] = serde_json::json!(1e300)
            }),
            ("zero std", |v| {
                v["features"][0]["std"] = serde_json::json!(0.0)
            }),
            ("missing std", |v| {
                v["features"][0]["std"] = serde_json::Value::Null
            }),
            ("bands out of order", |v| {
                v["bands"][1]["min_score"] = serde_json::json!(10_000)
            }),
            ("no open last band", |v| {
                v["bands"][4]["min_score"] = serde_json::json!(1)
            }),
            ("unknown key", |v| v["extra"] = serde_json::json!(1)),
            ("a share too few", |v| {
                v["score_distribution"]["shares"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            }),
            ("edges out of order", |v| {
                v["features"][0]["distribution"]["edges"] = serde_json::json!([17.0, 0.0, 50.0])
            }),
            ("shares not summing to 1", |v| {
                v["features"][1]["distribution"]["shares"][0] = serde_json::json!(0.9)
            }),
        ];
        for (what, edit) in cases {
            let mut v = default_json();
            edit(&mut v);
            assert!(
                matches!(load(&v), Err(ModelError::Corrupt { .. })),
                "{what} was accepted"
            );
        }
        let mut v = default_json();
        v["format_version"] = serde_json::json!(2);
        assert!(matches!(
            load(&v),
            Err(ModelError::FormatVersion { found: 2, .. })
        ));
    }
}
