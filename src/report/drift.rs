//! Population drift: the population stability index (PSI) of the score and
//! of each model feature (the characteristic stability index, CSI) between
//! the training population, whose distributions the model stores, and the
//! population scored tonight.
//!
//! The model keeps, for the score and for every feature, the inner edges of
//! the training deciles and the share of the training rows in each bin
//! ([`Distribution`], computed by [`Distribution::of`] when training).
//! Tonight's values are counted in exactly those bins, with exactly the
//! training's rule ([`Distribution::bin_of`]: a value v is in bin i when
//! `edges[i-1] < v <= edges[i]`), and
//!
//! ```text
//! PSI = sum over bins of (a - e) * ln(a / e)
//! ```
//!
//! with e the training share and a tonight's share of a bin. A bin empty on
//! either side would make the PSI infinite, so both shares are floored at
//! [`SHARE_FLOOR`] (1e-4, one row in ten thousand) before the sum; the
//! shares are not renormalized afterwards. The usual reading, and the
//! default thresholds: below 0.1 stable, 0.1 to 0.25 a shift worth a look
//! (a warning), above 0.25 a population the model was not built for.
//!
//! Missing values (NaN) are not put in any bin: the stored distributions
//! have no missing bin, because dunning's feature table never holds NaN (a
//! missing attribute is 0 with its `_missing` flag, whose own CSI carries
//! the missingness). They are counted in each item's `missing` and left out
//! of tonight's shares. An empty population (no row with a value) has a PSI
//! of 0: there is nothing to compare.
//!
//! Counts are integers, so a night split into partitions gives exactly the
//! single run's numbers: each partition's report carries its counts, and
//! [`DriftReport::combine`] sums them and computes the PSI once
//! ([`DriftItem::from_counts`] is the only place a PSI of counts is
//! computed).
//!
//! This module measures and classifies; it does not decide whether a run
//! goes on (the nightly job does, from [`DriftReport::check`]), log, or
//! write files.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{Distribution, Model};

/// The floor applied to both shares of a bin before the PSI sum, so an
/// empty bin adds a large but finite term: 1e-4, one row in ten thousand,
/// below any share a decile bin of a real population has.
pub const SHARE_FLOOR: f64 = 1e-4;

/// The default warning threshold: a PSI above 0.1 is a shift worth a look.
pub const DEFAULT_WARN_ABOVE: f64 = 0.1;

/// The usual fail threshold, a PSI above 0.25: the population is not the
/// one the model was built for. Failing is off unless asked for (see
/// [`Thresholds::default`]).
pub const USUAL_FAIL_ABOVE: f64 = 0.25;

/// The thresholds the reports (report.json, backtest.json) judge drift by:
/// warn above [`DEFAULT_WARN_ABOVE`] and mark above [`USUAL_FAIL_ABOVE`] as
/// failed, so a reader sees both usual levels. A report only describes; it
/// never stops on drift.
pub fn report_thresholds() -> Thresholds {
    Thresholds {
        warn_above: DEFAULT_WARN_ABOVE,
        fail_above: Some(USUAL_FAIL_ABOVE),
    }
}

/// Rows per rayon task when counting.
const CHUNK: usize = 8192;

/// Errors of drift computations.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// A PSI is above the fail threshold: tonight's population is not the
    /// one the model was trained on.
    #[error(
        "population drift: PSI above the fail threshold {fail_above} for {}; the model was not \
         trained on a population like tonight's, so nothing was published (see the drift \
         thresholds in the README: --drift-fail-above X|off, or drift_fail_above in the config)",
        list(drifted)
    )]
    Exceeded {
        /// The fail threshold.
        fail_above: f64,
        /// Each score or feature above it, with its PSI, score first.
        drifted: Vec<(String, f64)>,
    },
    /// The values given do not have the shape the model needs.
    #[error("drift: {0}")]
    Shape(String),
    /// Partition reports that cannot be added up (another model's bins).
    #[error("drift: the partitions' drift sections do not match: {0}")]
    Mismatch(String),
}

fn list(drifted: &[(String, f64)]) -> String {
    let parts: Vec<String> = drifted
        .iter()
        .map(|(name, psi)| format!("{name} ({psi:.3})"))
        .collect();
    parts.join(", ")
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, DriftError>;

/// Whether a PSI (or a whole report) is within the thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// At or below the warning threshold.
    Ok,
    /// Above the warning threshold (and not above the fail threshold).
    Warn,
    /// Above the fail threshold (only when one is set).
    Fail,
}

impl Status {
    /// `ok`, `warn` or `fail`, as in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// When a PSI warns and when it fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Warn when a PSI is above this.
    pub warn_above: f64,
    /// Fail the run when a PSI is above this; None: never fail.
    pub fail_above: Option<f64>,
}

impl Default for Thresholds {
    /// Warn above [`DEFAULT_WARN_ABOVE`] (0.1); never fail. Failing stops
    /// the whole night's collections work (no treatments at all), and one
    /// feature fed by an operational change (a new dialer moves the contact
    /// counts) can cross 0.25 while the score is fine: whether a shifted
    /// population should stop the batch is the model owner's decision, so
    /// it is opt-in (`--drift-fail-above 0.25`).
    fn default() -> Self {
        Self {
            warn_above: DEFAULT_WARN_ABOVE,
            fail_above: None,
        }
    }
}

impl Thresholds {
    /// Checks the thresholds: finite and positive, and the fail threshold
    /// not below the warning one. The message names the key.
    pub fn check(&self) -> std::result::Result<(), String> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if !ok(self.warn_above) {
            return Err(format!(
                "drift_warn_above: expected a finite PSI > 0, got {}",
                self.warn_above
            ));
        }
        if let Some(f) = self.fail_above {
            if !ok(f) {
                return Err(format!(
                    "drift_fail_above: expected a finite PSI > 0 or \"off\", got {f}"
                ));
            }
            if f < self.warn_above {
                return Err(format!(
                    "drift_fail_above ({f}) is below drift_warn_above ({})",
                    self.warn_above
                ));
            }
        }
        Ok(())
    }

    /// The status of one PSI: fail above the fail threshold, warn above the
    /// warning threshold, ok otherwise ("above" is strictly greater).
    pub fn status(&self, psi: f64) -> Status {
        if self.fail_above.is_some_and(|f| psi > f) {
            Status::Fail
        } else if psi > self.warn_above {
            Status::Warn
        } else {
            Status::Ok
        }
    }
}

/// The PSI of tonight's `actual` shares against the training's `expected`
/// shares, bin by bin, each share floored at [`SHARE_FLOOR`].
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(SHARE_FLOOR), a.max(SHARE_FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// The drift of one item (the score or a feature).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftItem {
    /// `score`, or the feature's name.
    pub name: String,
    /// The PSI (for a feature, its CSI).
    pub psi: f64,
    /// The PSI against the thresholds.
    pub status: Status,
    /// The training distribution's inner bin edges.
    pub edges: Vec<f64>,
    /// The training population's share in each bin (edges.len() + 1).
    pub expected: Vec<f64>,
    /// Tonight's share in each bin (missing values left out).
    pub actual: Vec<f64>,
    /// Tonight's number of values in each bin.
    pub counts: Vec<u64>,
    /// Tonight's missing (NaN) values, in no bin.
    pub missing: u64,
}

impl DriftItem {
    /// The item with tonight's `counts` in the bins of `edges`, against the
    /// training shares `expected`: the one place a PSI of counts is computed.
    pub fn from_counts(
        name: &str,
        edges: &[f64],
        expected: &[f64],
        counts: Vec<u64>,
        missing: u64,
        thresholds: &Thresholds,
    ) -> Self {
        let n: u64 = counts.iter().sum();
        let actual: Vec<f64> = counts
            .iter()
            .map(|&c| if n == 0 { 0.0 } else { c as f64 / n as f64 })
            .collect();
        let psi = if n == 0 { 0.0 } else { psi(expected, &actual) };
        Self {
            name: name.to_string(),
            psi,
            status: thresholds.status(psi),
            edges: edges.to_vec(),
            expected: expected.to_vec(),
            actual,
            counts,
            missing,
        }
    }
}

/// The drift of a scored population: the score's PSI and each feature's
/// CSI, in model order, with the thresholds they were judged by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftReport {
    /// The worst status of the score and the features.
    pub status: Status,
    /// The thresholds.
    pub thresholds: Thresholds,
    /// The share floor used in the PSI sums ([`SHARE_FLOOR`]).
    pub share_floor: f64,
    /// Rows (borrowers) counted.
    pub rows: u64,
    /// The score's PSI.
    pub score: DriftItem,
    /// Each model feature's CSI, in model order.
    pub features: Vec<DriftItem>,
}

impl DriftReport {
    /// The score and the features, score first.
    pub fn items(&self) -> impl Iterator<Item = &DriftItem> {
        std::iter::once(&self.score).chain(&self.features)
    }

    /// The items above the warning threshold (warn or fail), score first.
    pub fn drifted(&self) -> impl Iterator<Item = &DriftItem> {
        self.items().filter(|i| i.status != Status::Ok)
    }

    /// The same counts judged by other thresholds.
    pub fn with_thresholds(&self, thresholds: Thresholds) -> Self {
        let mut r = self.clone();
        r.thresholds = thresholds;
        for i in std::iter::once(&mut r.score).chain(&mut r.features) {
            i.status = thresholds.status(i.psi);
        }
        r.status = r.items().map(|i| i.status).max().unwrap_or(Status::Ok);
        r
    }

    /// Err([`DriftError::Exceeded`]) naming every item above the fail
    /// threshold, when there is one.
    pub fn check(&self) -> Result<()> {
        let Some(fail_above) = self.thresholds.fail_above else {
            return Ok(());
        };
        let drifted: Vec<(String, f64)> = self
            .items()
            .filter(|i| i.status == Status::Fail)
            .map(|i| (i.name.clone(), i.psi))
            .collect();
        if drifted.is_empty() {
            Ok(())
        } else {
            Err(DriftError::Exceeded {
                fail_above,
                drifted,
            })
        }
    }

    /// The report of the union of the populations of `parts` (the
    /// partitions of one night, scored with one model): their counts
    /// summed, the PSI computed once, judged by `thresholds`. The result is
    /// exactly the report of scoring the union at once.
    pub fn combine(parts: &[DriftReport], thresholds: Thresholds) -> Result<Self> {
        let Some(first) = parts.first() else {
            return Err(DriftError::Mismatch("no partitions".into()));
        };
        let same_bins = |a: &DriftItem, b: &DriftItem| {
            a.name == b.name
                && a.edges == b.edges
                && a.expected == b.expected
                && a.counts.len() == b.counts.len()
        };
        for (k, p) in parts.iter().enumerate() {
            if p.features.len() != first.features.len()
                || !p.items().zip(first.items()).all(|(a, b)| same_bins(a, b))
            {
                return Err(DriftError::Mismatch(format!(
                    "partition {k} has other items or bins than partition 0"
                )));
            }
        }
        let score = sum_items(parts.iter().map(|p| &p.score), &thresholds);
        let features = (0..first.features.len())
            .map(|j| sum_items(parts.iter().map(|p| &p.features[j]), &thresholds))
            .collect();
        Ok(Self::assemble(
            thresholds,
            parts.iter().map(|p| p.rows).sum(),
            score,
            features,
        ))
    }

    fn assemble(
        thresholds: Thresholds,
        rows: u64,
        score: DriftItem,
        features: Vec<DriftItem>,
    ) -> Self {
        let status = std::iter::once(&score)
            .chain(&features)
            .map(|i| i.status)
            .max()
            .unwrap_or(Status::Ok);
        Self {
            status,
            thresholds,
            share_floor: SHARE_FLOOR,
            rows,
            score,
            features,
        }
    }
}

/// One item of several partitions (checked to have the same bins): counts
/// summed, PSI computed once.
fn sum_items<'a>(
    mut items: impl Iterator<Item = &'a DriftItem>,
    thresholds: &Thresholds,
) -> DriftItem {
    let first = items.next().expect("combine checks there is a partition");
    let mut counts = first.counts.clone();
    let mut missing = first.missing;
    for it in items {
        for (c, x) in counts.iter_mut().zip(&it.counts) {
            *c += x;
        }
        missing += it.missing;
    }
    DriftItem::from_counts(
        &first.name,
        &first.edges,
        &first.expected,
        counts,
        missing,
        thresholds,
    )
}

/// Tonight's counts in a model's bins: per feature and for the score.
#[derive(Debug, Clone)]
pub struct Tally<'m> {
    model: &'m Model,
    rows: u64,
    score: (Vec<u64>, u64),
    features: Vec<(Vec<u64>, u64)>,
}

fn empty(d: &Distribution) -> (Vec<u64>, u64) {
    (vec![0; d.edges.len() + 1], 0)
}

fn count(d: &Distribution, slot: &mut (Vec<u64>, u64), v: f64) {
    if v.is_nan() {
        slot.1 += 1;
    } else {
        slot.0[Distribution::bin_of(&d.edges, v)] += 1;
    }
}

impl<'m> Tally<'m> {
    /// No rows yet, in `model`'s bins.
    pub fn new(model: &'m Model) -> Self {
        Self {
            model,
            rows: 0,
            score: empty(&model.score_distribution),
            features: model
                .features
                .iter()
                .map(|f| empty(&f.distribution))
                .collect(),
        }
    }

    /// Counts one row: `values[cols[i]]` is the raw value of model feature
    /// i (the layout [`crate::scoring::Scorer`] reads), `score` its score.
    pub fn add(&mut self, values: &[f64], cols: &[usize], score: f64) {
        self.rows += 1;
        count(&self.model.score_distribution, &mut self.score, score);
        for ((f, slot), &c) in self.model.features.iter().zip(&mut self.features).zip(cols) {
            count(&f.distribution, slot, values[c]);
        }
    }

    /// Adds `other`'s counts (of the same model).
    pub fn merge(mut self, other: Self) -> Self {
        let add = |a: &mut (Vec<u64>, u64), b: &(Vec<u64>, u64)| {
            for (x, y) in a.0.iter_mut().zip(&b.0) {
                *x += y;
            }
            a.1 += b.1;
        };
        self.rows += other.rows;
        add(&mut self.score, &other.score);
        for (a, b) in self.features.iter_mut().zip(&other.features) {
            add(a, b);
        }
        self
    }

    /// The report of the rows counted, judged by `thresholds`.
    pub fn report(&self, thresholds: Thresholds) -> DriftReport {
        let item = |name: &str, d: &Distribution, slot: &(Vec<u64>, u64)| {
            DriftItem::from_counts(
                name,
                &d.edges,
                &d.shares,
                slot.0.clone(),
                slot.1,
                &thresholds,
            )
        };
        let m = self.model;
        let score = item("score", &m.score_distribution, &self.score);
        let features = m
            .features
            .iter()
            .zip(&self.features)
            .map(|(f, slot)| item(&f.name, &f.distribution, slot))
            .collect();
        DriftReport::assemble(thresholds, self.rows, score, features)
    }
}

/// Counts a population in `model`'s bins, in parallel: population row k is
/// row `rows[k]` of the row-major matrix `values` (`width` values a row,
/// model feature i in column `cols[i]`), with score `scores[k]`. Counts are
/// integers, so the result does not depend on the number of threads.
pub fn tally<'m>(
    model: &'m Model,
    values: &[f64],
    width: usize,
    cols: &[usize],
    rows: &[usize],
    scores: &[f64],
) -> Result<Tally<'m>> {
    if cols.len() != model.features.len() {
        return Err(DriftError::Shape(format!(
            "{} feature columns given for a model of {} features",
            cols.len(),
            model.features.len()
        )));
    }
    if rows.len() != scores.len() {
        return Err(DriftError::Shape(format!(
            "{} rows but {} scores",
            rows.len(),
            scores.len()
        )));
    }
    let height = values.len() / width.max(1);
    if (width == 0 && !rows.is_empty()) || !values.len().is_multiple_of(width.max(1)) {
        return Err(DriftError::Shape(format!(
            "{} values do not make rows of width {width}",
            values.len()
        )));
    }
    if let Some(&c) = cols.iter().find(|&&c| c >= width) {
        return Err(DriftError::Shape(format!(
            "feature column {c} is outside rows of width {width}"
        )));
    }
    if let Some(&r) = rows.iter().find(|&&r| r >= height) {
        return Err(DriftError::Shape(format!(
            "row {r} is outside the {height} rows given"
        )));
    }
    Ok(rows
        .par_chunks(CHUNK)
        .zip(scores.par_chunks(CHUNK))
        .map(|(rows, scores)| {
            let mut t = Tally::new(model);
            for (&r, &s) in rows.iter().zip(scores) {
                t.add(&values[r * width..(r + 1) * width], cols, s);
            }
            t
        })
        .reduce(|| Tally::new(model), Tally::merge))
}

/// The drift of a scored population against `model`'s training
/// population: `raw` holds one row of raw feature values per borrower,
/// row-major, `width` values a row with model feature i in column i (extra
/// columns after the model's are ignored), and `scores` the borrowers'
/// scores, in the same order. For reports and notebooks; the nightly run
/// counts its feature set in place with [`tally`].
pub fn population(
    model: &Model,
    raw: &[f64],
    width: usize,
    scores: &[f64],
    thresholds: Thresholds,
) -> Result<DriftReport> {
    if width * scores.len() != raw.len() {
        return Err(DriftError::Shape(format!(
            "{} raw values for {} scores at {width} values a row",
            raw.len(),
            scores.len()
        )));
    }
    let cols: Vec<usize> = (0..model.features.len()).collect();
    let rows: Vec<usize> = (0..scores.len()).collect();
    Ok(tally(model, raw, width, &cols, &rows, scores)?.report(thresholds))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values: Python 3, `sum((a-e)*math.log(a/e) for a, e in
    /// zip(actual, expected))`, an independent implementation. The sums
    /// run in the same order, so 1e-15 covers the last bit of `ln`.
    const TOL: f64 = 1e-15;

    fn model() -> Model {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/model.json"
        ))
        .unwrap();
        let mut m: Model = serde_json::from_str(&text).unwrap();
        // Two features with hand-made bins: x in (-inf,1], (1,2], (2,3],
        // (3,inf) with shares 1/4 each; y in (-inf,0], (0,10], (10,inf).
        m.features.truncate(2);
        m.features[0].name = "x".into();
        m.features[0].distribution = Distribution {
            edges: vec![1.0, 2.0, 3.0],
            shares: vec![0.25; 4],
        };
        m.features[1].name = "y".into();
        m.features[1].distribution = Distribution {
            edges: vec![0.0, 10.0],
            shares: vec![0.5, 0.3, 0.2],
        };
        m.score_distribution = Distribution {
            edges: vec![500.0],
            shares: vec![0.5, 0.5],
        };
        m
    }

    #[test]
    fn four_bins_by_hand() {
        // expected 1/4 each, actual 0.1, 0.2, 0.3, 0.4:
        //   (0.1-0.25) ln(0.4) = 0.137443609781123
        //   (0.2-0.25) ln(0.8) = 0.011157177565710
        //   (0.3-0.25) ln(1.2) = 0.009116077839698
        //   (0.4-0.25) ln(1.6) = 0.070500544386860
        //   PSI                = 0.228217409573392 (Python: 0.22821740957339182)
        let got = psi(&[0.25; 4], &[0.1, 0.2, 0.3, 0.4]);
        assert!((got - 0.228_217_409_573_391_82).abs() < TOL, "{got}");
    }

    #[test]
    fn values_on_an_edge_fall_in_the_lower_bin() {
        // x: 1.0 is on the first edge (bin 0); 1.5 and 2.0 in bin 1; 2.01,
        // 2.5 and 3.0 in bin 2; 3.0001, 7, 10 and 100 in bin 3: shares 0.1,
        // 0.2, 0.3, 0.4, the PSI of `four_bins_by_hand`.
        let m = model();
        let x = [1.0, 1.5, 2.0, 2.01, 2.5, 3.0, 3.0001, 7.0, 10.0, 100.0];
        let raw: Vec<f64> = x.iter().flat_map(|&v| [v, 5.0]).collect();
        let scores = [400.0; 10];
        let r = population(&m, &raw, 2, &scores, Thresholds::default()).unwrap();
        let f = &r.features[0];
        assert_eq!(f.counts, vec![1, 2, 3, 4]);
        assert_eq!(f.actual, vec![0.1, 0.2, 0.3, 0.4]);
        assert!((f.psi - 0.228_217_409_573_391_82).abs() < TOL, "{}", f.psi);
        assert_eq!(f.status, Status::Warn);
        // The same rule as training's shares: Distribution::shares_of.
        assert_eq!(Distribution::shares_of(&f.edges, &x), f.actual);
        // -0.0 and 0.0 are equal: both on the edge 0 of y.
        assert_eq!(Distribution::bin_of(&[0.0, 10.0], -0.0), 0);
        assert_eq!(Distribution::bin_of(&[-0.0, 10.0], 0.0), 0);
        assert_eq!(Distribution::bin_of(&[0.0, 10.0], 1e-300), 1);
        // y: all ten in bin 1; the score: all ten in bin 0.
        assert_eq!(r.features[1].counts, vec![0, 10, 0]);
        assert_eq!(r.score.counts, vec![10, 0]);
        assert_eq!(r.rows, 10);
    }

    #[test]
    fn an_empty_bin_takes_the_floor() {
        // expected 0.5, 0.3, 0.2; actual 6, 4, 0 of 10 -> 0.6, 0.4, 0 -> 1e-4:
        //   (0.6-0.5) ln(1.2)          = 0.018232155679395
        //   (0.4-0.3) ln(4/3)          = 0.028768207245178
        //   (1e-4-0.2) ln(1e-4 / 0.2)  = 1.519420401662462
        //   PSI                        = 1.566420764587036 (Python)
        let t = Thresholds {
            warn_above: 0.1,
            fail_above: Some(0.25),
        };
        let it = DriftItem::from_counts("y", &[0.0, 10.0], &[0.5, 0.3, 0.2], vec![6, 4, 0], 0, &t);
        assert!((it.psi - 1.566_420_764_587_036).abs() < TOL, "{}", it.psi);
        assert!(it.psi.is_finite());
        assert_eq!(it.status, Status::Fail);
        // A training share of 0 is floored too.
        let z = psi(&[0.0, 1.0], &[0.5, 0.5]);
        let by_hand = (0.5 - 1e-4) * (0.5f64 / 1e-4).ln() + (0.5 - 1.0) * 0.5f64.ln();
        assert!((z - by_hand).abs() < 1e-12, "{z} {by_hand}");
    }

    #[test]
    fn the_training_population_itself_has_zero_drift() {
        // Shares from Distribution::of and tonight's shares from the same
        // values are the same divisions: PSI exactly 0.
        let values: Vec<f64> = (0..1000).map(|i| f64::from((i * 37) % 101)).collect();
        let d = Distribution::of(&values);
        let mut m = model();
        m.features.truncate(1);
        m.features[0].distribution = d.clone();
        m.score_distribution = d;
        let r = population(&m, &values, 1, &values, Thresholds::default()).unwrap();
        assert_eq!(r.score.psi, 0.0);
        assert_eq!(r.features[0].psi, 0.0);
        assert_eq!(r.status, Status::Ok);
        assert!(r.check().is_ok());
    }

    #[test]
    fn missing_values_are_counted_apart() {
        let m = model();
        let raw = [f64::NAN, 1.0, 2.0, f64::NAN, 3.5, 20.0];
        let r = population(&m, &raw, 2, &[1.0, 2.0, 3.0], Thresholds::default()).unwrap();
        assert_eq!(r.features[0].missing, 1);
        assert_eq!(r.features[0].counts, vec![0, 1, 0, 1]);
        assert_eq!(r.features[0].actual, vec![0.0, 0.5, 0.0, 0.5]);
        assert_eq!(r.features[1].missing, 1);
        assert_eq!(r.features[1].counts, vec![0, 1, 1]);
        // All missing: nothing to compare, PSI 0.
        let r = population(&m, &[f64::NAN; 2], 2, &[f64::NAN], Thresholds::default()).unwrap();
        assert_eq!((r.score.psi, r.score.missing), (0.0, 1));
    }

    #[test]
    fn thresholds_classify_and_check_names_what_drifted() {
        let t = Thresholds {
            warn_above: 0.1,
            fail_above: Some(0.25),
        };
        assert_eq!(t.status(0.1), Status::Ok);
        assert_eq!(t.status(0.100001), Status::Warn);
        assert_eq!(t.status(0.25), Status::Warn);
        assert_eq!(t.status(0.2500001), Status::Fail);
        assert_eq!(Thresholds::default().status(9.0), Status::Warn);

        let m = model();
        let raw: Vec<f64> = (0..10).flat_map(|_| [2.5, 5.0]).collect();
        let r = population(&m, &raw, 2, &[600.0; 10], t).unwrap();
        assert_eq!(r.status, Status::Fail);
        let names: Vec<&str> = r.drifted().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["score", "x", "y"]);
        let e = r.check().unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("score (") && msg.contains("x (") && msg.contains("0.25"),
            "{msg}"
        );
        // Warn-only never fails.
        let warn_only = r.with_thresholds(Thresholds::default());
        assert_eq!(warn_only.status, Status::Warn);
        assert!(warn_only.check().is_ok());
    }

    #[test]
    fn rejects_bad_thresholds() {
        for (warn, fail, key) in [
            (0.0, None, "drift_warn_above"),
            (f64::NAN, None, "drift_warn_above"),
            (0.1, Some(-1.0), "drift_fail_above"),
            (0.1, Some(f64::INFINITY), "drift_fail_above"),
            (0.3, Some(0.25), "drift_fail_above (0.25) is below"),
        ] {
            let t = Thresholds {
                warn_above: warn,
                fail_above: fail,
            };
            let e = t.check().unwrap_err();
            assert!(e.contains(key), "{e}");
        }
        assert!(Thresholds::default().check().is_ok());
    }

    #[test]
    fn partitions_add_up_to_the_single_run() {
        let m = model();
        let raw: Vec<f64> = (0..5000)
            .flat_map(|i| [f64::from(i % 7) * 0.6, f64::from(i % 23) - 3.0])
            .collect();
        let scores: Vec<f64> = (0..5000).map(|i| f64::from(450 + i % 113)).collect();
        let t = Thresholds::default();
        let whole = population(&m, &raw, 2, &scores, t).unwrap();
        let parts: Vec<DriftReport> = [0..1234, 1234..1235, 1235..5000]
            .into_iter()
            .map(|r| population(&m, &raw[2 * r.start..2 * r.end], 2, &scores[r], t).unwrap())
            .collect();
        let combined = DriftReport::combine(&parts, t).unwrap();
        assert_eq!(combined, whole);
        // Through JSON, as partition manifests carry them.
        let json: Vec<DriftReport> = parts
            .iter()
            .map(|p| serde_json::from_str(&serde_json::to_string(p).unwrap()).unwrap())
            .collect();
        assert_eq!(DriftReport::combine(&json, t).unwrap(), whole);
        // The parallel count does not depend on the thread count.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(
            pool.install(|| population(&m, &raw, 2, &scores, t).unwrap()),
            whole
        );
    }

    #[test]
    fn rejects_partitions_of_other_bins_and_bad_shapes() {
        let m = model();
        let t = Thresholds::default();
        let a = population(&m, &[1.0, 1.0], 2, &[500.0], t).unwrap();
        let mut b = a.clone();
        b.features[1].edges[0] = 0.5;
        assert!(matches!(
            DriftReport::combine(&[a.clone(), b], t),
            Err(DriftError::Mismatch(_))
        ));
        assert!(matches!(
            DriftReport::combine(&[], t),
            Err(DriftError::Mismatch(_))
        ));
        assert!(matches!(
            population(&m, &[1.0, 1.0, 1.0], 2, &[500.0], t),
            Err(DriftError::Shape(_))
        ));
        assert!(matches!(
            tally(&m, &[1.0, 1.0], 2, &[0], &[0], &[500.0]),
            Err(DriftError::Shape(_))
        ));
        assert!(matches!(
            tally(&m, &[1.0, 1.0], 2, &[0, 2], &[0], &[500.0]),
            Err(DriftError::Shape(_))
        ));
        assert!(matches!(
            tally(&m, &[1.0, 1.0], 2, &[0, 1], &[1], &[500.0]),
            Err(DriftError::Shape(_))
        ));
    }

    #[test]
    fn shared_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<DriftReport>();
        check::<DriftError>();
        check::<Tally<'static>>();
    }
}
