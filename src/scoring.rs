//! Scoring: applying a [`Model`] to the borrowers of a snapshot.
//!
//! For each borrower in the population: the probability of repaying, the
//! scorecard score and risk band, the DPD bucket, and up to three reason codes
//! (the features that pull the score down most relative to the training
//! population). Rows are scored in parallel chunks with rayon; every row's
//! result depends only on that row, so the output is identical for any
//! thread count. Choosing treatments is the strategy's job, not this module's.

use std::array::from_fn;

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
#[derive(Debug, Clone, Default, PartialEq)]
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
    let width = fs.names.len();
    let mut out = vec![ScoredRow::default(); rows.len()];
    out.par_chunks_mut(CHUNK)
        .zip(rows.par_chunks(CHUNK))
        .for_each(|(out, rows)| scorer.score_rows(&fs.values, width, rows, out));
    Ok(out)
}

/// Rows scored together, one per SIMD lane: eight f64 lanes fill an
/// AVX-512 register (two AVX2 or four SSE2 registers).
pub const LANES: usize = 8;

/// A model laid out for scoring: per feature, the column it reads and the
/// numbers of its transform in flat arrays (the model's features carry
/// names, bins and distributions that scoring does not need in its loop).
/// The arithmetic is exactly [`crate::model::ModelFeature::transform`] and
/// `model::train::linear`'s, in the same order, so scores have the same bits.
///
/// [`Scorer::score_rows`] scores [`LANES`] rows at a time, each lane one
/// row: every lane does the same operations in the same order as
/// [`Scorer::score_row`] on its row, so the results are bit-identical,
/// while the compiler turns the lane loops into vector instructions.
#[derive(Debug)]
pub struct Scorer<'m> {
    model: &'m Model,
    cols: Vec<usize>,
    /// `(x - shift) * scale`: a standardized feature's mean and 1 / std,
    /// (0, 1) for the others, which leaves their values as they are.
    shift: Vec<f64>,
    scale: Vec<f64>,
    /// Features with a WoE binning, applied while gathering.
    woe: Vec<usize>,
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
            shift: f
                .iter()
                .map(|f| standard(f).map_or(0.0, |(m, _)| m))
                .collect(),
            scale: f
                .iter()
                .map(|f| standard(f).map_or(1.0, |(_, s)| 1.0 / s))
                .collect(),
            woe: (0..f.len()).filter(|&i| f[i].woe.is_some()).collect(),
            coefficient: f.iter().map(|f| f.coefficient).collect(),
            reference: f.iter().map(|f| f.reference).collect(),
        }
    }

    /// Scores one row of raw feature values (`values[cols[i]]` is model feature i).
    pub fn score_row(&self, values: &[f64], row: usize) -> ScoredRow {
        let mut out = [ScoredRow::default()];
        self.score_rows(values, values.len(), &[0], &mut out);
        out[0].row = row;
        out[0].clone()
    }

    /// Scores rows `rows` of the row-major matrix `values` (`width` values
    /// per row, `values[r * width + cols[i]]` is row r's model feature i)
    /// into `out`, one [`ScoredRow`] per entry of `rows`.
    ///
    /// # Panics
    /// When `out` and `rows` differ in length or a row is outside `values`.
    pub fn score_rows(&self, values: &[f64], width: usize, rows: &[usize], out: &mut [ScoredRow]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { avx512::score_rows(self, values, width, rows, out) };
        }
        self.score_rows_portable(values, width, rows, out);
    }

    /// [`Scorer::score_rows`] in portable code only, whatever the CPU: the
    /// code path of CPUs without AVX-512, and the baseline its benchmark
    /// compares with. Same results, to the bit.
    pub fn score_rows_portable(
        &self,
        values: &[f64],
        width: usize,
        rows: &[usize],
        out: &mut [ScoredRow],
    ) {
        self.score_rows_with(values, width, rows, out, Self::gather, Self::lanes);
    }

    /// [`Scorer::score_rows`] with `lanes` for the arithmetic.
    #[inline(always)]
    fn score_rows_with(
        &self,
        values: &[f64],
        width: usize,
        rows: &[usize],
        out: &mut [ScoredRow],
        gather: impl Fn(&Self, &[f64], usize, &[usize; LANES], &[usize], &mut [[f64; LANES]]),
        lanes: impl Fn(&Self, &[[f64; LANES]]) -> ([f64; LANES], [[u64; LANES]; 3]),
    ) {
        assert_eq!(rows.len(), out.len(), "one output per row");
        let mut x = vec![[0.0f64; LANES]; self.cols.len()];
        let blocks = rows.chunks(LANES);
        // The block after next, whose rows the gather asks the memory for.
        let mut ahead = rows.chunks(LANES).skip(2);
        for (rows, out) in blocks.zip(out.chunks_mut(LANES)) {
            // A short last block repeats its first row in the unused lanes.
            let block: [usize; LANES] = from_fn(|l| rows.get(l).copied().unwrap_or(rows[0]));
            gather(
                self,
                values,
                width,
                &block,
                ahead.next().unwrap_or(&[]),
                &mut x,
            );
            for &i in &self.woe {
                if let Some(w) = &self.model.features[i].woe {
                    x[i] = x[i].map(|x| w.transform(x));
                }
            }
            let (sum, idx) = lanes(self, &x);
            for (l, (o, &r)) in out.iter_mut().zip(rows).enumerate() {
                *o = self.finish(r, sum[l], idx.map(|idx| idx[l]));
            }
        }
    }

    /// Feature i of the rows `block` (`values` row-major, `width` values
    /// per row) into `x[i]`, side by side. `_ahead` are rows to be gathered
    /// soon (a hint the portable code does not use).
    #[inline(always)]
    fn gather(
        &self,
        values: &[f64],
        width: usize,
        block: &[usize; LANES],
        _ahead: &[usize],
        x: &mut [[f64; LANES]],
    ) {
        for (l, &r) in block.iter().enumerate() {
            let row = &values[r * width..(r + 1) * width];
            for (x, &col) in x.iter_mut().zip(&self.cols) {
                x[l] = row[col];
            }
        }
    }

    /// The linear predictor and the three most negative contributions of
    /// the [`LANES`] rows in `x` (`x[i][l]` is lane l's feature i), in
    /// portable code the compiler vectorizes as it can.
    #[inline(always)]
    fn lanes(&self, x: &[[f64; LANES]]) -> ([f64; LANES], [[u64; LANES]; 3]) {
        // Summed as in training (`model::train::linear`): terms first, then
        // the intercept, so training and scoring give the same bits.
        // Starts at -0.0 as `Iterator::sum` does, the bits of training's sum.
        let mut sum = [-0.0f64; LANES];
        // The three most negative contributions, most negative first; an
        // empty slot holds 0.0, so "c < slot" alone says whether c enters
        // (only negative contributions do) and ties keep the earlier
        // feature. Branch-free: the selects compile to vector blends.
        let mut v = [[0.0f64; LANES]; 3];
        let mut idx = [[u64::MAX; LANES]; 3];
        for (i, x) in x.iter().enumerate() {
            let (m, sd) = (self.shift[i], self.scale[i]);
            let t: [f64; LANES] = from_fn(|l| (x[l] - m) * sd);
            let (coef, reference, k) = (self.coefficient[i], self.reference[i], i as u64);
            for l in 0..LANES {
                sum[l] += coef * t[l];
            }
            let c: [f64; LANES] = from_fn(|l| coef * (t[l] - reference));
            let lt0: [bool; LANES] = from_fn(|l| c[l] < v[0][l]);
            let lt1: [bool; LANES] = from_fn(|l| c[l] < v[1][l]);
            let lt2: [bool; LANES] = from_fn(|l| c[l] < v[2][l]);
            // Slot 2 takes slot 1's entry when c beats slot 1, else c when
            // c beats slot 2; slot 1 likewise from slot 0; slot 0 takes c.
            let v2 = from_fn(|l| pick(lt1[l], v[1][l], pick(lt2[l], c[l], v[2][l])));
            let i2 = from_fn(|l| pick(lt1[l], idx[1][l], pick(lt2[l], k, idx[2][l])));
            let v1 = from_fn(|l| pick(lt0[l], v[0][l], pick(lt1[l], c[l], v[1][l])));
            let i1 = from_fn(|l| pick(lt0[l], idx[0][l], pick(lt1[l], k, idx[1][l])));
            let v0 = from_fn(|l| pick(lt0[l], c[l], v[0][l]));
            let i0 = from_fn(|l| pick(lt0[l], k, idx[0][l]));
            (v, idx) = ([v0, v1, v2], [i0, i1, i2]);
        }
        (sum, idx)
    }

    /// Probability, score, band and reasons from a row's sum of terms.
    #[inline(always)]
    fn finish(&self, row: usize, sum: f64, idx: [u64; 3]) -> ScoredRow {
        let z = self.model.intercept + sum;
        let p_repay = 1.0 / (1.0 + (-z).exp());
        let score = self.model.scaling.score(z);
        let band = self.model.band_index(score);
        let reasons = idx.map(|i| (i != u64::MAX).then_some(i as u16));
        ScoredRow {
            row,
            p_repay,
            score,
            band,
            reasons,
        }
    }
}

/// The AVX-512 version of [`Scorer::lanes`]: eight rows in one register,
/// the same IEEE operations in the same order as the portable code (no
/// fused multiply-add), so the same bits. benches/kernels.rs measures it
/// (`scoring/score_rows`) against the portable code
/// (`scoring/score_rows_portable`), whose selects the compiler does not
/// manage to keep in vector registers.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{ScoredRow, Scorer, LANES};

    /// [`Scorer::score_rows`] compiled for AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) fn score_rows(
        scorer: &Scorer,
        values: &[f64],
        width: usize,
        rows: &[usize],
        out: &mut [ScoredRow],
    ) {
        let rows_in = values.len() / width.max(1);
        assert!(
            scorer.cols.iter().all(|&c| c < width) && rows.iter().all(|&r| r < rows_in),
            "rows and columns inside the matrix"
        );
        scorer.score_rows_with(
            values,
            width,
            rows,
            out,
            |s, v, w, b, a, x| gather(s, v, w, b, a, x),
            |s, x| lanes(s, x),
        );
    }

    /// [`Scorer::gather`] with gather instructions, prefetching the rows
    /// `ahead`; the caller has checked that every row and every column is
    /// inside `values`.
    #[target_feature(enable = "avx512f")]
    fn gather(
        scorer: &Scorer,
        values: &[f64],
        width: usize,
        block: &[usize; LANES],
        ahead: &[usize],
        x: &mut [[f64; LANES]],
    ) {
        for &r in ahead {
            for line in values[r * width..(r + 1) * width].chunks(8) {
                _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
            }
        }
        let starts: [i64; LANES] = block.map(|r| (r * width) as i64);
        // SAFETY: starts is eight i64, as the unaligned load reads.
        let starts = unsafe { _mm512_loadu_si512(starts.as_ptr().cast()) };
        for (x, &col) in x.iter_mut().zip(&scorer.cols) {
            let at = _mm512_add_epi64(starts, _mm512_set1_epi64(col as i64));
            // SAFETY: row r < values.len() / width and col < width were
            // checked in score_rows, so every r * width + col is an index
            // into values; the store writes eight f64 into x's eight.
            unsafe {
                let v = _mm512_i64gather_pd::<8>(at, values.as_ptr().cast());
                _mm512_storeu_pd(x.as_mut_ptr(), v);
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    fn load(x: &[f64; LANES]) -> __m512d {
        // SAFETY: x holds exactly the eight f64 an unaligned load reads.
        unsafe { _mm512_loadu_pd(x.as_ptr()) }
    }

    #[target_feature(enable = "avx512f")]
    fn lanes(scorer: &Scorer, x: &[[f64; LANES]]) -> ([f64; LANES], [[u64; LANES]; 3]) {
        let mut sum = _mm512_set1_pd(-0.0);
        let zero = _mm512_setzero_pd();
        let (mut v0, mut v1, mut v2) = (zero, zero, zero);
        let none = _mm512_set1_epi64(-1);
        let (mut i0, mut i1, mut i2) = (none, none, none);
        for (i, x) in x.iter().enumerate() {
            let (m, sd) = (
                _mm512_set1_pd(scorer.shift[i]),
                _mm512_set1_pd(scorer.scale[i]),
            );
            let t = _mm512_mul_pd(_mm512_sub_pd(load(x), m), sd);
            let coef = _mm512_set1_pd(scorer.coefficient[i]);
            sum = _mm512_add_pd(sum, _mm512_mul_pd(coef, t));
            let c = _mm512_mul_pd(coef, _mm512_sub_pd(t, _mm512_set1_pd(scorer.reference[i])));
            let k = _mm512_set1_epi64(i as i64);
            // c < slot, false for NaN as in the scalar comparison.
            let lt0 = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(c, v0);
            let lt1 = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(c, v1);
            let lt2 = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(c, v2);
            // blend(m, a, b) is b where m is set: the portable code's selects.
            v2 = _mm512_mask_blend_pd(lt1, _mm512_mask_blend_pd(lt2, v2, c), v1);
            i2 = _mm512_mask_blend_epi64(lt1, _mm512_mask_blend_epi64(lt2, i2, k), i1);
            v1 = _mm512_mask_blend_pd(lt0, _mm512_mask_blend_pd(lt1, v1, c), v0);
            i1 = _mm512_mask_blend_epi64(lt0, _mm512_mask_blend_epi64(lt1, i1, k), i0);
            v0 = _mm512_mask_blend_pd(lt0, v0, c);
            i0 = _mm512_mask_blend_epi64(lt0, i0, k);
        }
        let mut s = [0.0f64; LANES];
        let mut idx = [[0u64; LANES]; 3];
        // SAFETY: each store writes eight 64-bit values into an array of eight.
        unsafe {
            _mm512_storeu_pd(s.as_mut_ptr(), sum);
            for (dst, src) in idx.iter_mut().zip([i0, i1, i2]) {
                _mm512_storeu_si512(dst.as_mut_ptr().cast(), src);
            }
        }
        (s, idx)
    }
}

/// A standardized feature's (mean, std); None for WoE or raw ones.
fn standard(f: &crate::model::ModelFeature) -> Option<(f64, f64)> {
    match (&f.woe, f.mean, f.std) {
        (None, Some(m), Some(s)) => Some((m, s)),
        _ => None,
    }
}

/// `a` when `m`, else `b`: a select, which the lane loops turn into blends.
#[inline(always)]
fn pick<T>(m: bool, a: T, b: T) -> T {
    if m {
        a
    } else {
        b
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
    fn blocks_give_the_bits_of_the_definition() {
        // Standardized features with uneven means and stds, one WoE feature
        // and one raw one; values with NaN, infinities and ties; 1003 rows
        // (a short last block), scored in an order that is not the rows'.
        let mut m = model(&[0.7, -1.3, 0.25, 2.0, -0.4, 0.0, 1.1]);
        for (j, f) in m.features.iter_mut().enumerate() {
            f.mean = Some(j as f64 * 0.37 - 1.0);
            f.std = Some(0.3 + j as f64 * 0.71);
            f.reference = 0.01 * j as f64;
        }
        let (x, y): (Vec<f64>, Vec<bool>) = (0..4000u64)
            .map(|k| {
                let u = (crate::hash::splitmix64(k) >> 11) as f64 / (1u64 << 53) as f64;
                (
                    u * 100.0,
                    crate::hash::splitmix64(k + 99) % 100 < 20 + (u * 60.0) as u64,
                )
            })
            .unzip();
        m.features[2].woe = Some(crate::model::woe::fit(&x, &y, &Default::default()).unwrap());
        (m.features[2].mean, m.features[2].std) = (None, None);
        (m.features[4].mean, m.features[4].std) = (None, None);
        let width = 9;
        let cols = [8, 0, 3, 1, 7, 2, 5];
        let n = 1003;
        let values: Vec<f64> = (0..n * width)
            .map(|k| match crate::hash::splitmix64(k as u64) % 50 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                3 => 2.0,
                r => r as f64 * 3.7 - 60.0,
            })
            .collect();
        let rows: Vec<usize> = (0..n).map(|k| (k * 7919) % n).collect();
        let scorer = Scorer::new(&m, &cols);
        let mut fast = vec![ScoredRow::default(); n];
        let mut portable = vec![ScoredRow::default(); n];
        scorer.score_rows(&values, width, &rows, &mut fast);
        scorer.score_rows_with(
            &values,
            width,
            &rows,
            &mut portable,
            Scorer::gather,
            Scorer::lanes,
        );
        for (k, &r) in rows.iter().enumerate() {
            let raw: Vec<f64> = cols.iter().map(|&c| values[r * width + c]).collect();
            let z = crate::model::train::linear(&m.features, m.intercept, &raw);
            let mut neg: Vec<(f64, u16)> = m
                .features
                .iter()
                .zip(&raw)
                .enumerate()
                .map(|(i, (f, &x))| (f.coefficient * (f.transform(x) - f.reference), i as u16))
                .filter(|(c, _)| *c < 0.0)
                .collect();
            neg.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut reasons = [None; 3];
            for (slot, (_, i)) in reasons.iter_mut().zip(&neg) {
                *slot = Some(*i);
            }
            let score = m.scaling.score(z);
            let want = ScoredRow {
                row: r,
                p_repay: 1.0 / (1.0 + (-z).exp()),
                score,
                band: m.band_index(score),
                reasons,
            };
            // Numbers compare by bits. A NaN feature gives a NaN p_repay,
            // whose sign and payload IEEE leaves open (they differ between
            // optimized and debug builds): any NaN is the same NaN.
            let p = |x: f64| {
                if x.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    x.to_bits()
                }
            };
            let bits = |s: &ScoredRow| (p(s.p_repay), s.row, s.score, s.band, s.reasons);
            assert_eq!(bits(&fast[k]), bits(&want), "row {r}: {raw:?}");
            assert_eq!(bits(&portable[k]), bits(&want), "row {r}: {raw:?}");
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
