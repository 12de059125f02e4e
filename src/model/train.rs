//! Training: from a labelled feature table to a [`Model`].
//!
//! Splits by borrower (seeded; a borrower's snapshots never straddle the
//! split) or out of time, drops features that carry nothing on the training
//! part, transforms (standardize, or WoE bins for a scorecard), fits with
//! [`super::fit`], and validates. Reading the inputs and writing the model
//! files belong to [`crate::jobs`].

use ndarray::{Array2, ShapeBuilder};

use super::fit::{fit_logistic, FitOptions};
use super::metrics;
use super::woe::{self, WoeOptions};
use super::{
    Band, Distribution, Excluded, Model, ModelError, ModelFeature, Penalty, Result, Scaling,
    TrainingInfo, Transform, FORMAT_VERSION,
};
use crate::dates::{self, Day};
use crate::hash::{fnv1a64, splitmix64 as splitmix};

/// A labelled feature table: one row per borrower per snapshot.
#[derive(Debug, Clone, Default)]
pub struct TrainingTable {
    /// Feature names, in column order.
    pub names: Vec<String>,
    /// Row-major values: `values[r * names.len() + j]`.
    pub values: Vec<f64>,
    /// Label of each row (None: unknown, not used).
    pub labels: Vec<Option<bool>>,
    /// A stable hash of each row's borrower id, for the borrower split.
    pub groups: Vec<u64>,
    /// Snapshot date of each row.
    pub as_of: Vec<Day>,
    /// Label horizon, when known.
    pub horizon_days: Option<i32>,
}

impl TrainingTable {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.labels.len()
    }
    fn value(&self, r: usize, j: usize) -> f64 {
        self.values[r * self.names.len() + j]
    }
}

/// FNV-1a of an id's text: the borrower's group for the split.
pub fn group_hash(id: &str) -> u64 {
    fnv1a64(id.bytes())
}

/// Options of one training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Model name.
    pub name: String,
    /// Model version (written into scored rows).
    pub version: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Solver and penalty.
    pub fit: FitOptions,
    /// Share of borrowers held out for validation (borrower split).
    pub validation_share: f64,
    /// Snapshots on or after this date form the validation set (out of time).
    pub validate_as_of: Option<Day>,
    /// Seed of the borrower split.
    pub seed: u64,
    /// Features to use (default: every feature of the table).
    pub features: Option<Vec<String>>,
    /// Standardize or WoE.
    pub transform: Transform,
    /// Score scaling.
    pub scaling: Scaling,
}

/// Quantile of sorted values (nearest rank, q in [0,1]).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Distribution {
    /// Decile edges and shares of `values`.
    pub fn of(values: &[f64]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let mut edges: Vec<f64> = Vec::new();
        if !sorted.is_empty() {
            for k in 1..10 {
                let e = quantile(&sorted, f64::from(k) / 10.0);
                if edges.last() != Some(&e) && e < sorted[sorted.len() - 1] {
                    edges.push(e);
                }
            }
        }
        let shares = Self::shares_of(&edges, &sorted);
        Self { edges, shares }
    }

    /// The bin of `v` among the inner `edges` (ascending): i when
    /// `edges[i-1] < v <= edges[i]`, so a value on an edge is in the lower
    /// bin. Training's shares and the nightly drift check both bin with this.
    /// (A NaN would land in bin 0; feature tables never hold NaN, and the
    /// drift check counts NaN apart.)
    pub fn bin_of(edges: &[f64], v: f64) -> usize {
        edges.partition_point(|&e| e < v)
    }

    /// Shares of `values` in the bins of `edges`.
    pub fn shares_of(edges: &[f64], values: &[f64]) -> Vec<f64> {
        let mut counts = vec![0u64; edges.len() + 1];
        for &v in values {
            counts[Self::bin_of(edges, v)] += 1;
        }
        let n = values.len().max(1) as f64;
        counts.into_iter().map(|c| c as f64 / n).collect()
    }
}

/// The validation rows of a training run, scored by the fitted model, in
/// table order: what the validation report (`report.json`) is made of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationRows {
    /// Predicted probability of repaying.
    pub p_repay: Vec<f64>,
    /// Scorecard score.
    pub score: Vec<i32>,
    /// Whether the row repaid.
    pub repaid: Vec<bool>,
    /// Row-major raw values of the model's features, in model order
    /// (`raw[i * features + k]` is feature k of row i): what the report's
    /// drift of the validation part against the training part takes.
    pub raw: Vec<f64>,
}

/// A fitted model with its scored validation rows.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The model.
    pub model: Model,
    /// The validation rows it was measured on.
    pub validation: ValidationRows,
}

/// Trains a model on `table`.
pub fn train(table: &TrainingTable, opts: &TrainOptions) -> Result<Model> {
    train_validated(table, opts).map(|t| t.model)
}

/// Trains a model on `table`; returns it with its scored validation rows.
pub fn train_validated(table: &TrainingTable, opts: &TrainOptions) -> Result<Trained> {
    if !(0.0..1.0).contains(&opts.validation_share)
        || opts.validation_share == 0.0 && opts.validate_as_of.is_none()
    {
        return Err(ModelError::Options(format!(
            "--validation-share must be in (0, 1), got {}",
            opts.validation_share
        )));
    }
    let labelled: Vec<usize> = (0..table.rows())
        .filter(|&r| table.labels[r].is_some())
        .collect();
    let (mut train_rows, mut valid_rows) = (Vec::new(), Vec::new());
    for &r in &labelled {
        let validation = match opts.validate_as_of {
            Some(d) => table.as_of[r] >= d,
            None => {
                let u = (splitmix(table.groups[r] ^ splitmix(opts.seed)) >> 11) as f64
                    / (1u64 << 53) as f64;
                u < opts.validation_share
            }
        };
        if validation {
            valid_rows.push(r)
        } else {
            train_rows.push(r)
        }
    }
    if train_rows.is_empty() || valid_rows.is_empty() {
        return Err(ModelError::Training(format!(
            "{} labelled rows split into {} training and {} validation rows; both must be non-empty",
            labelled.len(),
            train_rows.len(),
            valid_rows.len()
        )));
    }
    let wanted: Vec<usize> = match &opts.features {
        Some(list) => {
            let mut idx = Vec::new();
            for name in list {
                match table.names.iter().position(|n| n == name) {
                    Some(j) => idx.push(j),
                    None => {
                        return Err(ModelError::FeatureMismatch {
                            missing: vec![name.clone()],
                            available: table.names.join(", "),
                        })
                    }
                }
            }
            idx
        }
        None => (0..table.names.len()).collect(),
    };
    let y_train: Vec<bool> = train_rows
        .iter()
        .map(|&r| table.labels[r] == Some(true))
        .collect();

    // Transform each feature on the training part; drop those that carry nothing.
    let mut features: Vec<ModelFeature> = Vec::new();
    let mut columns: Vec<usize> = Vec::new();
    let mut excluded = Vec::new();
    for &j in &wanted {
        let raw: Vec<f64> = train_rows.iter().map(|&r| table.value(r, j)).collect();
        let n = raw.len() as f64;
        let mean = raw.iter().sum::<f64>() / n;
        let std = (raw.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        if std <= 1e-12 * mean.abs().max(1.0) || !std.is_finite() {
            excluded.push(Excluded {
                name: table.names[j].clone(),
                reason: "zero variance on the training rows (constant or always missing)".into(),
            });
            continue;
        }
        let (mean_opt, std_opt, bins) = match opts.transform {
            Transform::Standardize => (Some(mean), Some(std), None),
            Transform::Woe => {
                let b = woe::fit(&raw, &y_train, &WoeOptions::default())
                    .map_err(|e| ModelError::Training(format!("{}: {e}", table.names[j])))?;
                if b.bins.len() + b.special.len() < 2 {
                    excluded.push(Excluded {
                        name: table.names[j].clone(),
                        reason: "a single WoE bin after monotonic merging (no signal)".into(),
                    });
                    continue;
                }
                (None, None, Some(b))
            }
        };
        let mut f = ModelFeature {
            name: table.names[j].clone(),
            coefficient: 0.0,
            mean: mean_opt,
            std: std_opt,
            woe: bins,
            reference: 0.0,
            distribution: Distribution::of(&raw),
        };
        f.reference = raw.iter().map(|&v| f.transform(v)).sum::<f64>() / n;
        features.push(f);
        columns.push(j);
    }
    if features.is_empty() {
        return Err(ModelError::Training(
            "no feature varies on the training rows".into(),
        ));
    }
    // Column-major (Fortran order): linfa's gradient is x.t() . r, which then
    // reads contiguous memory; on 1M x 37 this halves the fit time.
    let design = |rows: &[usize]| {
        Array2::from_shape_fn((rows.len(), features.len()).f(), |(i, k)| {
            features[k].transform(table.value(rows[i], columns[k]))
        })
    };
    let fitted = fit_logistic(&design(&train_rows), &y_train, &opts.fit)?;
    for (f, c) in features.iter_mut().zip(&fitted.coefficients) {
        f.coefficient = *c;
    }

    let raw_row = |r: usize| -> Vec<f64> { columns.iter().map(|&j| table.value(r, j)).collect() };
    let log_odds = |rows: &[usize]| -> Vec<f64> {
        rows.iter()
            .map(|&r| linear(&features, fitted.intercept, &raw_row(r)))
            .collect()
    };
    let valid_lo = log_odds(&valid_rows);
    let p: Vec<f64> = valid_lo.iter().map(|&z| 1.0 / (1.0 + (-z).exp())).collect();
    let y_valid: Vec<bool> = valid_rows
        .iter()
        .map(|&r| table.labels[r] == Some(true))
        .collect();
    let validation = metrics::evaluate(&p, &y_valid)
        .map_err(|e| ModelError::Training(format!("validation: {e}")))?;
    let valid_score: Vec<i32> = valid_lo.iter().map(|&z| opts.scaling.score(z)).collect();
    let mut valid_scores: Vec<f64> = valid_score.iter().map(|&s| f64::from(s)).collect();
    valid_scores.sort_unstable_by(f64::total_cmp);
    let train_scores: Vec<f64> = log_odds(&train_rows)
        .iter()
        .map(|&z| f64::from(opts.scaling.score(z)))
        .collect();

    let model = Model {
        format_version: FORMAT_VERSION,
        name: opts.name.clone(),
        version: opts.version.clone(),
        created_at: opts.created_at.clone(),
        dunning_version: env!("CARGO_PKG_VERSION").to_string(),
        training: TrainingInfo {
            as_of: {
                let mut d: Vec<Day> = labelled.iter().map(|&r| table.as_of[r]).collect();
                d.sort_unstable();
                d.dedup();
                d.into_iter().map(dates::format).collect()
            },
            horizon_days: table.horizon_days,
            split: match opts.validate_as_of {
                Some(d) => format!(
                    "out of time: snapshots on or after {} validate",
                    dates::format(d)
                ),
                None => format!(
                    "by borrower: {:.0}% of borrowers validate",
                    opts.validation_share * 100.0
                ),
            },
            seed: opts.seed,
            train_rows: train_rows.len() as u64,
            validation_rows: valid_rows.len() as u64,
            unlabelled_rows: (table.rows() - labelled.len()) as u64,
            train_label_rate: y_train.iter().filter(|&&v| v).count() as f64 / y_train.len() as f64,
            validation_label_rate: y_valid.iter().filter(|&&v| v).count() as f64
                / y_valid.len() as f64,
            solver: format!(
                "linfa-logistic L-BFGS, gradient tolerance {:e} per row, at most {} iterations",
                opts.fit.gradient_tolerance_per_row, opts.fit.max_iterations
            ),
        },
        transform: opts.transform,
        features,
        excluded_features: excluded,
        intercept: fitted.intercept,
        penalty: Penalty {
            l2_alpha: opts.fit.alpha,
        },
        validation,
        scaling: opts.scaling,
        bands: quintile_bands(&valid_scores),
        score_distribution: Distribution::of(&train_scores),
    };
    // What training writes, scoring must accept.
    model
        .check()
        .map_err(|e| ModelError::Training(format!("the fitted model is unusable: {e}")))?;
    Ok(Trained {
        model,
        validation: ValidationRows {
            p_repay: p,
            score: valid_score,
            repaid: y_valid,
            raw: valid_rows.iter().flat_map(|&r| raw_row(r)).collect(),
        },
    })
}

/// The linear predictor: intercept plus coefficient times transformed value.
pub fn linear(features: &[ModelFeature], intercept: f64, raw: &[f64]) -> f64 {
    intercept
        + features
            .iter()
            .zip(raw)
            .map(|(f, &x)| f.coefficient * f.transform(x))
            .sum::<f64>()
}

/// Bands A-E at the 80th, 60th, 40th and 20th percentiles of `sorted` scores,
/// kept strictly decreasing.
fn quintile_bands(sorted: &[f64]) -> Vec<Band> {
    let mut bands = Vec::new();
    let mut prev = i32::MAX;
    for (name, q) in [("A", 0.8), ("B", 0.6), ("C", 0.4), ("D", 0.2)] {
        let m = (quantile(sorted, q) as i32).min(prev.saturating_sub(1));
        bands.push(Band {
            band: name.into(),
            min_score: Some(m),
        });
        prev = m;
    }
    bands.push(Band {
        band: "E".into(),
        min_score: None,
    });
    bands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_deciles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let d = Distribution::of(&v);
        assert_eq!(d.edges.len(), 9);
        assert!(
            d.shares.iter().all(|&s| (s - 0.1).abs() < 0.011),
            "{:?}",
            d.shares
        );
        let c = Distribution::of(&[3.0; 10]);
        assert!(c.edges.is_empty());
        assert_eq!(c.shares, vec![1.0]);
    }

    #[test]
    fn bands_are_strictly_decreasing() {
        let b = quintile_bands(&[500.0; 50]);
        let mins: Vec<i32> = b.iter().filter_map(|b| b.min_score).collect();
        assert!(mins.windows(2).all(|w| w[0] > w[1]), "{mins:?}");
        assert_eq!(b.last().unwrap().min_score, None);
    }

    #[test]
    fn split_is_by_borrower_and_seeded() {
        let h = group_hash("B1");
        assert_eq!(h, group_hash("B1"));
        assert_ne!(h, group_hash("B2"));
        assert_ne!(splitmix(h ^ splitmix(1)), splitmix(h ^ splitmix(2)));
    }
}
