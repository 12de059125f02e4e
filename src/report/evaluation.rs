//! The evaluation of one set of scored, labelled rows, shared by the
//! backtest, the model comparison and the training's validation report:
//! the metrics of [`crate::model::metrics`] (AUC, Gini, KS, Brier, log loss,
//! calibration by decile), the curves of [`super::curves`], the band mix with
//! the repay rate of each band, and a model's WoE bins.
//!
//! Every structure holds plain numbers in the shapes the HTML report plots
//! (a ROC curve as (FPR, TPR) pairs, a histogram as edges and counts, bars as
//! names and values). It neither scores nor reads files.

use serde::{Deserialize, Serialize};

use super::curves::{self, KsCurve, ScoreHistogram};
use crate::model::metrics::{self, Metrics, MetricsError};
use crate::model::woe::Trend;
use crate::model::{Model, Transform};

/// One scored borrower-snapshot with what really happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Predicted probability of repaying.
    pub p_repay: f64,
    /// Scorecard score.
    pub score: i32,
    /// Index of the risk band in the model's bands.
    pub band: usize,
    /// Whether the borrower repaid within the horizon.
    pub repaid: bool,
}

/// Borrowers of one group (a band, a treatment): how many, their share of
/// all, and how many repaid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateRow {
    /// The group (band or treatment name).
    pub name: String,
    /// Borrowers in the group.
    pub count: u64,
    /// `count` over all borrowers (0 when there are none): the mix.
    pub share: f64,
    /// Of those, how many repaid.
    pub repaid: u64,
    /// `repaid / count`; null for an empty group.
    pub repay_rate: Option<f64>,
}

/// One [`RateRow`] per name, in the order of `names`, from `(group index,
/// repaid)` pairs. Every name gets a row, empty groups included.
pub fn rate_rows(names: &[String], rows: impl IntoIterator<Item = (usize, bool)>) -> Vec<RateRow> {
    let mut count = vec![0u64; names.len()];
    let mut repaid = vec![0u64; names.len()];
    for (g, r) in rows {
        if let Some(c) = count.get_mut(g) {
            *c += 1;
            repaid[g] += u64::from(r);
        }
    }
    let total: u64 = count.iter().sum();
    names
        .iter()
        .enumerate()
        .map(|(g, name)| RateRow {
            name: name.clone(),
            count: count[g],
            share: if total > 0 {
                count[g] as f64 / total as f64
            } else {
                0.0
            },
            repaid: repaid[g],
            repay_rate: (count[g] > 0).then(|| repaid[g] as f64 / count[g] as f64),
        })
        .collect()
}

/// How well one model's scores matched what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// Rows evaluated.
    pub count: u64,
    /// Rows that repaid.
    pub repaid: u64,
    /// AUC, Gini, KS, Brier, log loss and calibration by decile; null when
    /// there are no rows or they all have the same outcome (AUC and KS are
    /// undefined then).
    pub metrics: Option<Metrics>,
    /// The ROC curve, (false positive rate, true positive rate) ascending
    /// (repaid is the positive class); empty when `metrics` is null.
    pub roc: Vec<(f64, f64)>,
    /// Cumulative shares of repaid and not-repaid rows over the score.
    pub ks_curve: KsCurve,
    /// Score distributions of repaid and not-repaid rows on the model's
    /// fixed edges ([`curves::score_edges`]).
    pub score_histogram: ScoreHistogram,
    /// Per risk band of the model, best first: the band mix and each
    /// band's repay rate.
    pub by_band: Vec<RateRow>,
}

impl Evaluation {
    /// Evaluates `rows` scored by `model`.
    pub fn of(rows: &[Outcome], model: &Model) -> Result<Self, MetricsError> {
        let p: Vec<f64> = rows.iter().map(|r| r.p_repay).collect();
        let y: Vec<bool> = rows.iter().map(|r| r.repaid).collect();
        let score: Vec<f64> = rows.iter().map(|r| f64::from(r.score)).collect();
        let metrics = match metrics::evaluate(&p, &y) {
            Ok(m) => Some(m),
            Err(MetricsError::OneClass | MetricsError::Empty) => None,
            Err(e) => return Err(e),
        };
        let bands: Vec<String> = model.bands.iter().map(|b| b.band.clone()).collect();
        Ok(Self {
            count: rows.len() as u64,
            repaid: y.iter().filter(|&&r| r).count() as u64,
            roc: curves::roc(&p, &y),
            ks_curve: curves::ks_curve(&score, &y),
            score_histogram: curves::score_histogram(
                &score,
                &y,
                &curves::score_edges(&model.scaling),
            ),
            by_band: rate_rows(&bands, rows.iter().map(|r| (r.band, r.repaid))),
            metrics,
        })
    }
}

/// Which model a report is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// The model path as given (directory or model.json).
    pub path: String,
    /// The model's name.
    pub name: String,
    /// The model's version.
    pub version: String,
    /// sha256 of model.json.
    pub sha256: String,
    /// standardize or woe.
    pub transform: Transform,
    /// The label horizon it was trained for (days).
    pub horizon_days: Option<i32>,
    /// Its risk bands, best first.
    pub bands: Vec<String>,
}

impl ModelInfo {
    /// The description of `model`, read from `path` with `sha256`.
    pub fn of(model: &Model, path: &std::path::Path, sha256: &str) -> Self {
        Self {
            path: path.display().to_string(),
            name: model.name.clone(),
            version: model.version.clone(),
            sha256: sha256.to_string(),
            transform: model.transform,
            horizon_days: model.training.horizon_days,
            bands: model.bands.iter().map(|b| b.band.clone()).collect(),
        }
    }
}

/// One bin of a WoE feature, for the report's bin plots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WoeBinRow {
    /// The bin: `(-inf, 3]`, `(3, 10]`, `(10, +inf)`, `= -999` (a special
    /// value) or `missing`.
    pub label: String,
    /// Training rows in the bin.
    pub count: u64,
    /// Of those, how many repaid.
    pub repaid: u64,
    /// The bin's share of the training rows.
    pub share: f64,
    /// Weight of evidence.
    pub woe: f64,
    /// The bin's information value.
    pub iv: f64,
}

/// The bins of one WoE feature of a model, as fitted on its training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WoeFeature {
    /// The feature.
    pub feature: String,
    /// Its coefficient on the WoE.
    pub coefficient: f64,
    /// increasing, decreasing or flat.
    pub trend: Trend,
    /// Information value of the binning.
    pub iv: f64,
    /// Interval bins ascending, then special values, then missing.
    pub bins: Vec<WoeBinRow>,
}

/// The WoE bins of each feature of `model`, in model order (empty for a
/// standardized model).
pub fn woe_features(model: &Model) -> Vec<WoeFeature> {
    let edge = |v: Option<f64>, inf: &str| v.map_or_else(|| inf.to_string(), |v| format!("{v}"));
    model
        .features
        .iter()
        .filter_map(|f| {
            let w = f.woe.as_ref()?;
            let mut bins: Vec<WoeBinRow> = Vec::new();
            for b in &w.bins {
                let close = if b.upper.is_some() { "]" } else { ")" };
                bins.push(WoeBinRow {
                    label: format!(
                        "({}, {}{close}",
                        edge(b.lower, "-inf"),
                        edge(b.upper, "+inf")
                    ),
                    count: b.count,
                    repaid: b.repaid,
                    share: 0.0,
                    woe: b.woe,
                    iv: b.iv,
                });
            }
            for s in &w.special {
                bins.push(WoeBinRow {
                    label: s
                        .value
                        .map_or_else(|| "missing".into(), |v| format!("= {v}")),
                    count: s.count,
                    repaid: s.repaid,
                    share: 0.0,
                    woe: s.woe,
                    iv: s.iv,
                });
            }
            let total: u64 = bins.iter().map(|b| b.count).sum();
            for b in &mut bins {
                b.share = if total > 0 {
                    b.count as f64 / total as f64
                } else {
                    0.0
                };
            }
            Some(WoeFeature {
                feature: f.name.clone(),
                coefficient: f.coefficient,
                trend: w.trend,
                iv: w.iv,
                bins,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::woe::{SpecialBin, WoeBin, WoeBinning};

    fn default_model() -> Model {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/default/model.json");
        Model::load(std::path::Path::new(path)).unwrap()
    }

    #[test]
    fn repay_rate_by_band_by_hand() {
        // Bands A, B, C. Rows (band, repaid): A yes, A yes, A no, B no, B yes,
        // and nobody in C. A: 3 rows (share 3/5), 2 repaid (2/3); B: 2 rows
        // (2/5), 1 repaid (1/2); C: empty, repay rate null.
        let names: Vec<String> = ["A", "B", "C"].iter().map(|s| s.to_string()).collect();
        let rows = [(0, true), (0, true), (0, false), (1, false), (1, true)];
        let r = rate_rows(&names, rows);
        assert_eq!(r.iter().map(|r| r.count).collect::<Vec<_>>(), [3, 2, 0]);
        assert_eq!(r.iter().map(|r| r.repaid).collect::<Vec<_>>(), [2, 1, 0]);
        assert_eq!(r[0].share, 3.0 / 5.0);
        assert_eq!(r[1].share, 2.0 / 5.0);
        assert_eq!(r[2].share, 0.0);
        assert_eq!(r[0].repay_rate, Some(2.0 / 3.0));
        assert_eq!(r[1].repay_rate, Some(0.5));
        assert_eq!(r[2].repay_rate, None);
        // No rows at all: every group empty, shares 0.
        let r = rate_rows(&names, []);
        assert!(r.iter().all(|r| r.count == 0 && r.share == 0.0));
    }

    #[test]
    fn evaluation_of_five_rows() {
        // The five rows of the curves tests, banded A (score >= 600) or lower.
        let model = default_model();
        let band = |s: i32| model.band_index(s);
        let rows: Vec<Outcome> = [
            (0.9, 640, true),
            (0.8, 610, false),
            (0.6, 560, true),
            (0.6, 560, false),
            (0.3, 500, true),
        ]
        .iter()
        .map(|&(p, s, y)| Outcome {
            p_repay: p,
            score: s,
            band: band(s),
            repaid: y,
        })
        .collect();
        let e = Evaluation::of(&rows, &model).unwrap();
        assert_eq!((e.count, e.repaid), (5, 3));
        let m = e.metrics.as_ref().unwrap();
        assert!((m.auc - 5.0 / 12.0).abs() < 1e-12);
        assert_eq!(e.roc.len(), 5);
        assert_eq!(e.by_band.iter().map(|b| b.count).sum::<u64>(), 5);
        let h = &e.score_histogram;
        assert_eq!(h.repaid.iter().sum::<u64>(), 3);
        assert_eq!(h.not_repaid.iter().sum::<u64>(), 2);
        assert_eq!(h.edges.len(), h.repaid.len() + 1);
        // One class: no metrics, no curves, but counts and bands.
        let same: Vec<Outcome> = rows
            .iter()
            .map(|r| Outcome { repaid: true, ..*r })
            .collect();
        let e = Evaluation::of(&same, &model).unwrap();
        assert!(e.metrics.is_none() && e.roc.is_empty() && e.ks_curve.score.is_empty());
        assert_eq!(e.repaid, 5);
        let e = Evaluation::of(&[], &model).unwrap();
        assert!(e.metrics.is_none() && e.count == 0);
    }

    #[test]
    fn woe_bins_with_labels_and_shares() {
        let mut model = default_model();
        assert!(woe_features(&model).is_empty(), "standardized model");
        // Bins (-inf, 3] 60 rows, (3, +inf) 30, special -999 6, missing 4.
        let bin = |lower, upper, count, woe| WoeBin {
            lower,
            upper,
            count,
            repaid: count / 2,
            woe,
            iv: 0.01,
        };
        model.features[0].woe = Some(WoeBinning {
            bins: vec![
                bin(None, Some(3.0), 60, 0.5),
                bin(Some(3.0), None, 30, -0.7),
            ],
            special: vec![
                SpecialBin {
                    value: Some(-999.0),
                    count: 6,
                    repaid: 1,
                    woe: -1.0,
                    iv: 0.02,
                },
                SpecialBin {
                    value: None,
                    count: 4,
                    repaid: 2,
                    woe: 0.1,
                    iv: 0.0,
                },
            ],
            trend: Trend::Decreasing,
            iv: 0.04,
        });
        let w = woe_features(&model);
        assert_eq!(w.len(), 1);
        let labels: Vec<&str> = w[0].bins.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["(-inf, 3]", "(3, +inf)", "= -999", "missing"]);
        let shares: Vec<f64> = w[0].bins.iter().map(|b| b.share).collect();
        assert_eq!(shares, [0.6, 0.3, 0.06, 0.04]);
        assert_eq!(w[0].feature, model.features[0].name);
    }
}
