//! Scoring: applying a [`Model`] to the borrowers of a snapshot.
//!
//! For each borrower in the population: the probability of repaying, the
//! scorecard score and risk band, the DPD bucket, and up to three reason codes
//! (the features that pull the score down most relative to the training
//! population). Rows are scored in parallel chunks with rayon; every row's
//! result depends only on that row, so the output is identical for any
//! thread count. Choosing treatments is the strategy's job, not this module's.

use rayon::prelude::*;

use crate::ledger::FeatureSet;
use crate::model::{Model, ModelError};

/// DPD buckets, in order.
pub const DPD_BUCKETS: [&str; 5] = ["current", "1-29", "30-59", "60-89", "90+"];

/// The DPD bucket of a number of days past due.
pub fn dpd_bucket(dpd: f64) -> &'static str {
    match dpd {
        d if d < 1.0 => DPD_BUCKETS[0],
        d if d < 30.0 => DPD_BUCKETS[1],
        d if d < 60.0 => DPD_BUCKETS[2],
        d if d < 90.0 => DPD_BUCKETS[3],
        _ => DPD_BUCKETS[4],
    }
}

/// One scored borrower.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredRow {
    /// Index into the feature set's rows.
    pub row: usize,
    /// Probability of repaying within the horizon.
    pub p_repay: f64,
    /// Scorecard score.
    pub score: i32,
    /// Index into the model's bands.
    pub band: usize,
    /// Up to three features (indices into the model's features), most negative first.
    pub reasons: [Option<u16>; 3],
}

/// Rows per rayon task.
const CHUNK: usize = 4096;

/// Maps the model's features to columns of `fs`; a feature the inputs cannot
/// give is an error naming it.
pub fn feature_columns(model: &Model, fs: &FeatureSet) -> Result<Vec<usize>, ModelError> {
    let mut cols = Vec::with_capacity(model.features.len());
    let mut missing = Vec::new();
    for f in &model.features {
        match fs.position(&f.name) {
            Some(j) => cols.push(j),
            None => missing.push(f.name.clone()),
        }
    }
    if missing.is_empty() {
        Ok(cols)
    } else {
        Err(ModelError::FeatureMismatch {
            missing,
            available: fs.names.join(", "),
        })
    }
}

/// Scores the feature-set rows `rows` with `model`.
pub fn score(model: &Model, fs: &FeatureSet, rows: &[usize]) -> Result<Vec<ScoredRow>, ModelError> {
    let cols = feature_columns(model, fs)?;
    let scorer = Scorer::new(model, &cols);
    Ok(rows
        .par_chunks(CHUNK)
        .flat_map_iter(|chunk| chunk.iter().map(|&k| scorer.score_row(fs.row_values(k), k)))
        .collect())
}

/// A model laid out for scoring: per feature, the column it reads and the
/// numbers of its transform in flat arrays (the model's features carry
/// names, bins and distributions that scoring does not need in its loop).
/// The arithmetic is exactly [`crate::model::ModelFeature::transform`] and
/// `model::train::linear`'s, in the same order, so scores have the same bits.
#[derive(Debug)]
pub struct Scorer<'m> {
    model: &'m Model,
    cols: Vec<usize>,
    /// `(mean, std)` of standardized features; None for WoE or raw ones.
    standard: Vec<Option<(f64, f64)>>,
    coefficient: Vec<f64>,
    reference: Vec<f64>,
}

impl<'m> Scorer<'m> {
    /// Prepares `model`, whose feature i is read from column `cols[i]`.
    pub fn new(model: &'m Model, cols: &[usize]) -> Self {
        let f = &model.features;
        Self {
            model,
            cols: cols.to_vec(),
            standard: f
                .iter()
                .map(|f| match (&f.woe, f.mean, f.std) {
                    (None, Some(m), Some(s)) => Some((m, s)),
                    _ => None,
                })
                .collect(),
            coefficient: f.iter().map(|f| f.coefficient).collect(),
            reference: f.iter().map(|f| f.reference).collect(),
        }
    }

    /// Scores one row of raw feature values (`values[cols[i]]` is model feature i).
    pub fn score_row(&self, values: &[f64], row: usize) -> ScoredRow {
        // Summed as in training (`model::train::linear`): terms first, then
        // the intercept, so training and scoring give the same bits.
        let mut sum = 0.0;
        // The three most negative contributions, most negative first; an
        // empty slot holds 0.0, so "c < slot" alone says whether c enters
        // (only negative contributions do) and ties keep the earlier
        // feature. Branch-free: the selects compile to conditional moves.
        let (mut v, mut idx) = ([0.0f64; 3], [u16::MAX; 3]);
        for i in 0..self.cols.len() {
            let x = values[self.cols[i]];
            let t = match self.standard[i] {
                Some((m, s)) => (x - m) / s,
                None => self.model.features[i].transform(x),
            };
            let coef = self.coefficient[i];
            sum += coef * t;
            let c = coef * (t - self.reference[i]);
            let (lt0, lt1, lt2) = (c < v[0], c < v[1], c < v[2]);
            let k = i as u16;
            v[2] = if lt1 {
                v[1]
            } else if lt2 {
                c
            } else {
                v[2]
            };
            idx[2] = if lt1 {
                idx[1]
            } else if lt2 {
                k
            } else {
                idx[2]
            };
            v[1] = if lt0 {
                v[0]
            } else if lt1 {
                c
            } else {
                v[1]
            };
            idx[1] = if lt0 {
                idx[0]
            } else if lt1 {
                k
            } else {
                idx[1]
            };
            v[0] = if lt0 { c } else { v[0] };
            idx[0] = if lt0 { k } else { idx[0] };
        }
        let z = self.model.intercept + sum;
        let p_repay = 1.0 / (1.0 + (-z).exp());
        let score = self.model.scaling.score(z);
        let band = self.model.band_index(score);
        let reasons = idx.map(|i| (i != u16::MAX).then_some(i));
        ScoredRow {
            row,
            p_repay,
            score,
            band,
            reasons,
        }
    }
}

/// Scores one row of raw feature values (`values[cols[i]]` is model feature
/// i). For many rows, prepare a [`Scorer`] once instead.
pub fn score_row(model: &Model, cols: &[usize], values: &[f64], row: usize) -> ScoredRow {
    Scorer::new(model, cols).score_row(values, row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        let got: Vec<&str> = [0.0, 1.0, 29.0, 30.0, 59.0, 60.0, 89.0, 90.0, 400.0]
            .iter()
            .map(|&d| dpd_bucket(d))
            .collect();
        assert_eq!(
            got,
            ["current", "1-29", "1-29", "30-59", "30-59", "60-89", "60-89", "90+", "90+"]
        );
    }

    fn model(coefficients: &[f64]) -> Model {
        let json = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/model.json"
        ))
        .unwrap();
        let mut m: Model = serde_json::from_str(&json).unwrap();
        m.features.truncate(coefficients.len());
        for (f, &c) in m.features.iter_mut().zip(coefficients) {
            f.coefficient = c;
            f.mean = Some(0.0);
            f.std = Some(1.0);
            f.reference = 0.0;
        }
        m.intercept = 0.5;
        m
    }

    #[test]
    fn reasons_are_the_most_negative_contributions_first() {
        let m = model(&[1.0, -2.0, 0.5, 3.0, -1.0]);
        let cols = [0, 1, 2, 3, 4];
        // Contributions: -1.0, -2.0, +0.5, -6.0, -1.0 -> features 3, 1, then 0
        // (ties between 0 and 4 go to the earlier feature).
        let r = score_row(&m, &cols, &[-1.0, 1.0, 1.0, -2.0, 1.0], 0);
        assert_eq!(r.reasons, [Some(3), Some(1), Some(0)]);
        let z: f64 = 0.5 - 1.0 - 2.0 + 0.5 - 6.0 - 1.0;
        assert!((r.p_repay - 1.0 / (1.0 + (-z).exp())).abs() < 1e-15);
        // Only one feature lowers the score: the other reasons are null.
        let r = score_row(&m, &cols, &[1.0, -1.0, 1.0, 0.0, 0.5], 0);
        assert_eq!(r.reasons, [Some(4), None, None]);
    }

    #[test]
    fn reasons_match_a_plain_sort_on_many_rows() {
        // Coefficients and values with many ties and zeros, against the
        // definition: negative contributions, most negative first, ties by
        // feature order.
        let coefs = [1.0, -2.0, 0.5, 3.0, -1.0, 0.0, 2.0, -0.5];
        let m = model(&coefs);
        let cols: Vec<usize> = (0..coefs.len()).collect();
        for seed in 0..2000u64 {
            let values: Vec<f64> = (0..coefs.len() as u64)
                .map(|j| (crate::hash::splitmix64(seed * 31 + j) % 7) as f64 - 3.0)
                .collect();
            let mut neg: Vec<(f64, u16)> = coefs
                .iter()
                .zip(&values)
                .enumerate()
                .map(|(i, (c, x))| (c * x, i as u16))
                .filter(|(c, _)| *c < 0.0)
                .collect();
            neg.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut want = [None; 3];
            for (k, (_, i)) in neg.iter().take(3).enumerate() {
                want[k] = Some(*i);
            }
            assert_eq!(score_row(&m, &cols, &values, 0).reasons, want, "{values:?}");
        }
    }

    #[test]
    fn scaling_defaults_are_the_scorecard_convention() {
        let s = crate::model::Scaling::default();
        // 600 at 50:1; doubling the odds adds 20 points.
        assert_eq!(s.score(50f64.ln()), 600);
        assert_eq!(s.score(100f64.ln()), 620);
        assert_eq!(s.score(25f64.ln()), 580);
        assert!((s.factor - 20.0 / std::f64::consts::LN_2).abs() < 1e-12);
    }
}
