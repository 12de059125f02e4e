//! Monotonic weight-of-evidence (WoE) binning of one numeric feature, for a
//! scorecard.
//!
//! [`fit`] cuts a feature into intervals whose WoE rises or falls strictly
//! with the value, plus one bin per special value and one for missing values
//! (NaN); [`WoeBinning::transform`] maps a value to its bin's WoE.
//!
//! Definitions, with `R` and `N` the repaid and not-repaid rows of the whole
//! sample (special and missing rows included) and `r`, `n` those of a bin:
//!
//! * `WoE = ln( ((r + 0.5) / R) / ((n + 0.5) / N) )`. The 0.5 added to each
//!   bin count (Laplace smoothing) keeps the WoE of a bin with no rows of a
//!   class finite.
//! * `IV of a bin = ((r + 0.5) / R - (n + 0.5) / N) * WoE`, with the same
//!   smoothed shares as the WoE, so each bin's IV is >= 0; the binning's IV is
//!   the sum over interval and special bins.
//!
//! Algorithm: NaNs and values equal to a special value go to their own bins
//! (only those present in the data). The other values are cut into at most
//! `max_prebins` quantile pre-bins on distinct values; adjacent bins are
//! pooled (pool-adjacent-violators) until the WoE is strictly increasing, and
//! again until strictly decreasing, and the direction with the higher IV is
//! kept (increasing on a tie). Then the smallest bin below `min_bin_share` of
//! the non-special rows is merged into the neighbour with the closer event
//! rate (repaid share), any monotonicity the merge broke is repaired by
//! pooling, and this repeats until no bin is too small. Deterministic, and
//! independent of the row order; O(n log n) with a heap for the merges.
//!
//! It does not choose features, bin categorical features, weight rows, fit the
//! scorecard's regression, or read and write files. Infinite values are
//! ordinary values (they fall in the edge bins); special values must be
//! finite, so a fitted binning always survives JSON.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

/// Smoothing added to each bin's repaid and not-repaid counts.
const SMOOTHING: f64 = 0.5;

/// Errors of [`fit`].
#[derive(Debug, thiserror::Error)]
pub enum WoeError {
    /// No rows.
    #[error("no rows: WoE binning needs at least one value")]
    Empty,
    /// The values and the labels have different lengths.
    #[error("length mismatch: {values} values but {y} labels")]
    LengthMismatch {
        /// Number of values.
        values: usize,
        /// Number of labels.
        y: usize,
    },
    /// All labels are equal, so WoE is undefined.
    #[error("all labels are of one class: WoE needs both repaid and not-repaid rows")]
    OneClass,
    /// The options are out of range; the message names the option and value.
    #[error("invalid WoE options: {0}")]
    InvalidOptions(String),
}

/// How to bin, per run.
#[derive(Debug, Clone)]
pub struct WoeOptions {
    /// Most quantile pre-bins before merging. Default 20: about 5% of the
    /// rows each, the usual scorecard starting point.
    pub max_prebins: usize,
    /// Smallest share of the non-special rows a final bin may hold, in
    /// [0, 1]. Default 0.05: smaller bins give unstable WoE.
    pub min_bin_share: f64,
    /// Values (codes such as -999) that get their own bin instead of an
    /// interval. Finite; duplicates are ignored. Default none.
    pub special_values: Vec<f64>,
}

impl Default for WoeOptions {
    fn default() -> Self {
        Self {
            max_prebins: 20,
            min_bin_share: 0.05,
            special_values: Vec::new(),
        }
    }
}

impl WoeOptions {
    /// Checks the options; gives the special values sorted and deduplicated.
    fn check(&self) -> Result<Vec<f64>, WoeError> {
        if self.max_prebins == 0 {
            return Err(WoeError::InvalidOptions(
                "max_prebins must be at least 1, got 0".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.min_bin_share) {
            return Err(WoeError::InvalidOptions(format!(
                "min_bin_share must be in [0, 1], got {}",
                self.min_bin_share
            )));
        }
        if let Some((i, v)) = self
            .special_values
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite())
        {
            return Err(WoeError::InvalidOptions(format!(
                "special_values[{i}] must be finite, got {v} (NaN always gets its own missing bin)"
            )));
        }
        let mut specials: Vec<f64> = self.special_values.iter().map(|v| v + 0.0).collect();
        specials.sort_unstable_by(f64::total_cmp);
        specials.dedup();
        Ok(specials)
    }
}

/// One interval bin: the values `x` with `lower < x <= upper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WoeBin {
    /// Exclusive lower edge; `None` is minus infinity (the first bin).
    pub lower: Option<f64>,
    /// Inclusive upper edge; `None` is plus infinity (the last bin).
    pub upper: Option<f64>,
    /// Rows in the bin.
    pub count: u64,
    /// Rows in the bin that repaid.
    pub repaid: u64,
    /// Smoothed weight of evidence (see the module doc).
    pub woe: f64,
    /// The bin's share of the information value.
    pub iv: f64,
}

/// The bin of one special value, or of missing values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialBin {
    /// The special value; `None` is missing (NaN).
    pub value: Option<f64>,
    /// Rows in the bin.
    pub count: u64,
    /// Rows in the bin that repaid.
    pub repaid: u64,
    /// Smoothed weight of evidence (see the module doc).
    pub woe: f64,
    /// The bin's share of the information value.
    pub iv: f64,
}

/// Direction of the WoE across the interval bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// WoE strictly increases with the value.
    Increasing,
    /// WoE strictly decreases with the value.
    Decreasing,
    /// At most one interval bin.
    Flat,
}

impl Trend {
    /// Whether WoE `a` followed by WoE `b` keeps the direction strictly.
    fn ordered(self, a: f64, b: f64) -> bool {
        match self {
            Self::Increasing => a < b,
            Self::Decreasing => a > b,
            Self::Flat => a == b,
        }
    }
}

/// A fitted binning of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WoeBinning {
    /// Interval bins in ascending order, covering the whole line: the first
    /// has no lower edge and the last no upper edge. Empty only when every
    /// fitted value was special or missing.
    pub bins: Vec<WoeBin>,
    /// Bins of the special values seen at fit, ascending, then the missing
    /// bin if there were NaNs.
    pub special: Vec<SpecialBin>,
    /// Direction of the WoE across `bins`.
    pub trend: Trend,
    /// Information value: the sum of the IV of all bins, special included.
    pub iv: f64,
}

impl WoeBinning {
    /// The WoE of `x`'s bin. NaN gives the missing bin's WoE, or 0.0 (no
    /// evidence) when there was no NaN at fit; a special value seen at fit
    /// gives its bin's WoE; any other value, including a special value not
    /// seen at fit, gives its interval bin's WoE, or 0.0 when there are no
    /// interval bins.
    pub fn transform(&self, x: f64) -> f64 {
        if x.is_nan() {
            return self
                .special
                .iter()
                .find(|s| s.value.is_none())
                .map_or(0.0, |s| s.woe);
        }
        if let Some(s) = self.special.iter().find(|s| s.value == Some(x)) {
            return s.woe;
        }
        let i = self
            .bins
            .partition_point(|b| b.upper.is_some_and(|u| u < x));
        self.bins.get(i).or(self.bins.last()).map_or(0.0, |b| b.woe)
    }
}

/// Fits a monotonic WoE binning of `values` against the labels `y` (true =
/// repaid). See the module doc for the definitions and the algorithm.
pub fn fit(values: &[f64], y: &[bool], opts: &WoeOptions) -> Result<WoeBinning, WoeError> {
    if values.len() != y.len() {
        return Err(WoeError::LengthMismatch {
            values: values.len(),
            y: y.len(),
        });
    }
    if values.is_empty() {
        return Err(WoeError::Empty);
    }
    let specials = opts.check()?;
    let repaid = y.iter().filter(|&&r| r).count();
    if repaid == 0 || repaid == y.len() {
        return Err(WoeError::OneClass);
    }
    let totals = Totals {
        repaid: repaid as f64,
        not_repaid: (y.len() - repaid) as f64,
    };

    let mut special_tallies = vec![Tally::default(); specials.len()];
    let mut missing = Tally::default();
    let mut regular: Vec<(f64, bool)> = Vec::with_capacity(values.len());
    for (&x, &label) in values.iter().zip(y) {
        if x.is_nan() {
            missing.add(label);
        } else if let Ok(i) = specials.binary_search_by(|s| s.total_cmp(&(x + 0.0))) {
            special_tallies[i].add(label);
        } else {
            regular.push((x + 0.0, label));
        }
    }
    regular.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));

    let prebins = prebin(&regular, opts.max_prebins);
    let increasing = pool(prebins.clone(), Trend::Increasing, &totals);
    let decreasing = pool(prebins, Trend::Decreasing, &totals);
    let (blocks, trend) = if totals.iv_of(&decreasing) > totals.iv_of(&increasing) {
        (decreasing, Trend::Decreasing)
    } else {
        (increasing, Trend::Increasing)
    };
    let min_count = opts.min_bin_share * regular.len() as f64;
    let blocks = merge_small(blocks, trend, min_count, &totals);
    let trend = if blocks.len() > 1 { trend } else { Trend::Flat };

    let mut bins = Vec::with_capacity(blocks.len());
    let mut lower = None;
    for (i, block) in blocks.iter().enumerate() {
        let upper = if i + 1 == blocks.len() {
            None
        } else {
            block.upper
        };
        let (woe, iv) = totals.woe_iv(block.tally);
        bins.push(WoeBin {
            lower,
            upper,
            count: block.tally.count,
            repaid: block.tally.repaid,
            woe,
            iv,
        });
        lower = upper;
    }
    let special: Vec<SpecialBin> = specials
        .iter()
        .map(|&v| Some(v))
        .zip(special_tallies)
        .chain(std::iter::once((None, missing)))
        .filter(|(_, t)| t.count > 0)
        .map(|(value, t)| {
            let (woe, iv) = totals.woe_iv(t);
            SpecialBin {
                value,
                count: t.count,
                repaid: t.repaid,
                woe,
                iv,
            }
        })
        .collect();
    let iv = bins.iter().map(|b| b.iv).sum::<f64>() + special.iter().map(|s| s.iv).sum::<f64>();
    Ok(WoeBinning {
        bins,
        special,
        trend,
        iv,
    })
}

/// Repaid and not-repaid rows of the whole sample, both > 0.
struct Totals {
    repaid: f64,
    not_repaid: f64,
}

impl Totals {
    /// Smoothed WoE and IV of a bin.
    fn woe_iv(&self, t: Tally) -> (f64, f64) {
        let share_repaid = (t.repaid as f64 + SMOOTHING) / self.repaid;
        let share_not = ((t.count - t.repaid) as f64 + SMOOTHING) / self.not_repaid;
        let woe = (share_repaid / share_not).ln();
        (woe, (share_repaid - share_not) * woe)
    }

    fn woe(&self, t: Tally) -> f64 {
        self.woe_iv(t).0
    }

    fn iv_of(&self, blocks: &[Block]) -> f64 {
        blocks.iter().map(|b| self.woe_iv(b.tally).1).sum()
    }
}

/// Row counts of a bin; `repaid <= count`.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    count: u64,
    repaid: u64,
}

impl Tally {
    fn add(&mut self, repaid: bool) {
        self.count += 1;
        self.repaid += u64::from(repaid);
    }

    fn rate(self) -> f64 {
        self.repaid as f64 / self.count as f64
    }
}

/// A run of adjacent pre-bins: its counts and the upper edge of its last one.
#[derive(Debug, Clone, Copy)]
struct Block {
    tally: Tally,
    upper: Option<f64>,
}

impl Block {
    /// This block followed by `right`.
    fn merge(self, right: Block) -> Block {
        Block {
            tally: Tally {
                count: self.tally.count + right.tally.count,
                repaid: self.tally.repaid + right.tally.repaid,
            },
            upper: right.upper,
        }
    }
}

/// Quantile pre-bins of the sorted values: cut points at the `q / k`
/// quantiles (`k = min(max_prebins, n)`), lowered to the largest value below
/// the maximum when they land on it, finite and deduplicated, so every
/// pre-bin holds at least its own cut value and the maximum is in the last.
fn prebin(sorted: &[(f64, bool)], max_prebins: usize) -> Vec<Block> {
    let Some(&(max, _)) = sorted.last() else {
        return Vec::new();
    };
    let n = sorted.len();
    let k = max_prebins.clamp(1, n);
    // A quantile that lands on the largest value cuts just below it instead,
    // so a heavy tie at the top still gets its own pre-bin.
    let below_max = sorted[..sorted.partition_point(|&(x, _)| x < max)]
        .last()
        .map(|&(x, _)| x);
    let mut cuts: Vec<f64> = Vec::new();
    for q in 1..k {
        // ceil(q * n / k) >= 1 since q >= 1 and n >= k.
        let index = (q as u128 * n as u128).div_ceil(k as u128) as usize - 1;
        let Some(cut) = below_max.map(|b| sorted[index].0.min(b)) else {
            break;
        };
        if cut.is_finite() && cuts.last().is_none_or(|&last| last < cut) {
            cuts.push(cut);
        }
    }
    let mut blocks: Vec<Block> = cuts
        .iter()
        .map(|&c| Some(c))
        .chain(std::iter::once(None))
        .map(|upper| Block {
            tally: Tally::default(),
            upper,
        })
        .collect();
    let mut j = 0;
    for &(x, label) in sorted {
        while j < cuts.len() && x > cuts[j] {
            j += 1;
        }
        blocks[j].tally.add(label);
    }
    blocks.retain(|b| b.tally.count > 0);
    blocks
}

/// Pools adjacent blocks (pool-adjacent-violators on the smoothed WoE) until
/// the WoE follows `trend` strictly.
fn pool(blocks: Vec<Block>, trend: Trend, totals: &Totals) -> Vec<Block> {
    let mut stack: Vec<Block> = Vec::with_capacity(blocks.len());
    for block in blocks {
        let mut top = block;
        while let Some(&below) = stack.last() {
            if trend.ordered(totals.woe(below.tally), totals.woe(top.tally)) {
                break;
            }
            stack.pop();
            top = below.merge(top);
        }
        stack.push(top);
    }
    stack
}

/// Blocks as a doubly linked list; a merge keeps the left block's id, so ids
/// of live blocks stay in list order.
struct Chain {
    blocks: Vec<Block>,
    prev: Vec<Option<usize>>,
    next: Vec<Option<usize>>,
    alive: Vec<bool>,
    version: Vec<u64>,
}

impl Chain {
    fn new(blocks: Vec<Block>) -> Self {
        let n = blocks.len();
        Self {
            blocks,
            prev: (0..n).map(|i| i.checked_sub(1)).collect(),
            next: (0..n).map(|i| Some(i + 1).filter(|&j| j < n)).collect(),
            alive: vec![true; n],
            version: vec![0; n],
        }
    }

    /// Merges `right` (the block after `left`) into `left`; returns `left`.
    fn merge(&mut self, left: usize, right: usize) -> usize {
        self.blocks[left] = self.blocks[left].merge(self.blocks[right]);
        self.next[left] = self.next[right];
        if let Some(after) = self.next[right] {
            self.prev[after] = Some(left);
        }
        self.alive[right] = false;
        self.version[left] += 1;
        left
    }

    /// Pools `id` with its neighbours until they follow `trend` strictly;
    /// returns the id of the pooled block.
    fn repair(&mut self, mut id: usize, trend: Trend, totals: &Totals) -> usize {
        loop {
            let woe = totals.woe(self.blocks[id].tally);
            if let Some(p) = self.prev[id] {
                if !trend.ordered(totals.woe(self.blocks[p].tally), woe) {
                    id = self.merge(p, id);
                    continue;
                }
            }
            if let Some(x) = self.next[id] {
                if !trend.ordered(woe, totals.woe(self.blocks[x].tally)) {
                    id = self.merge(id, x);
                    continue;
                }
            }
            return id;
        }
    }

    /// The neighbour of `id` with the closer event rate; on a tie the smaller,
    /// then the left one.
    fn closer_neighbour(&self, id: usize) -> Option<usize> {
        let (prev, next) = (self.prev[id], self.next[id]);
        let (p, x) = match (prev, next) {
            (Some(p), Some(x)) => (p, x),
            _ => return prev.or(next),
        };
        let rate = self.blocks[id].tally.rate();
        let dp = (self.blocks[p].tally.rate() - rate).abs();
        let dx = (self.blocks[x].tally.rate() - rate).abs();
        let (cp, cx) = (self.blocks[p].tally.count, self.blocks[x].tally.count);
        Some(if dp < dx || (dp == dx && cp <= cx) {
            p
        } else {
            x
        })
    }

    fn into_blocks(self) -> Vec<Block> {
        self.blocks
            .into_iter()
            .zip(self.alive)
            .filter_map(|(b, alive)| alive.then_some(b))
            .collect()
    }
}

/// Merges blocks with fewer than `min_count` rows, smallest (then leftmost)
/// first, into the neighbour with the closer event rate, keeping the WoE
/// strictly in `trend`.
fn merge_small(blocks: Vec<Block>, trend: Trend, min_count: f64, totals: &Totals) -> Vec<Block> {
    let small = |b: &Block| (b.tally.count as f64) < min_count;
    let mut heap: BinaryHeap<Reverse<(u64, usize, u64)>> = blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| small(b))
        .map(|(id, b)| Reverse((b.tally.count, id, 0)))
        .collect();
    let mut chain = Chain::new(blocks);
    while let Some(Reverse((_, id, version))) = heap.pop() {
        if !chain.alive[id] || chain.version[id] != version {
            continue;
        }
        let Some(other) = chain.closer_neighbour(id) else {
            continue;
        };
        let merged = chain.merge(id.min(other), id.max(other));
        let merged = chain.repair(merged, trend, totals);
        let block = chain.blocks[merged];
        if small(&block) {
            heap.push(Reverse((block.tally.count, merged, chain.version[merged])));
        }
    }
    chain.into_blocks()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values are hand-derived formulas evaluated to ~17 digits;
    /// 1e-12 allows for the rounding of a few operations.
    const TOL: f64 = 1e-12;

    fn assert_close(got: f64, want: f64) {
        assert!((got - want).abs() <= TOL, "got {got}, want {want}");
    }

    /// Equal up to a relative 1e-15 (a few ULP): serde_json parses floats
    /// best-effort, up to 1 ULP off, unless its `float_roundtrip` feature is
    /// on, and Cargo.toml does not turn it on.
    fn same_float(a: f64, b: f64) -> bool {
        a == b || (a - b).abs() <= 1e-15 * a.abs().max(b.abs())
    }

    fn same_edge(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => same_float(a, b),
            (a, b) => a.is_none() && b.is_none(),
        }
    }

    /// Writes `b` to JSON, reads it back and checks it is the same binning.
    fn assert_json_round_trip(b: &WoeBinning) -> String {
        let json = serde_json::to_string(b).unwrap();
        let back: WoeBinning = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (back.trend, back.bins.len(), back.special.len()),
            (b.trend, b.bins.len(), b.special.len())
        );
        assert!(same_float(back.iv, b.iv));
        for (x, y) in back.bins.iter().zip(&b.bins) {
            assert_eq!((x.count, x.repaid), (y.count, y.repaid));
            assert!(
                same_edge(x.lower, y.lower) && same_edge(x.upper, y.upper),
                "{x:?} vs {y:?}"
            );
            assert!(
                same_float(x.woe, y.woe) && same_float(x.iv, y.iv),
                "{x:?} vs {y:?}"
            );
        }
        for (x, y) in back.special.iter().zip(&b.special) {
            assert_eq!((x.value, x.count, x.repaid), (y.value, y.count, y.repaid));
            assert!(
                same_float(x.woe, y.woe) && same_float(x.iv, y.iv),
                "{x:?} vs {y:?}"
            );
        }
        json
    }

    /// Pseudo-random uniforms in [0, 1) from a 64-bit LCG (Knuth's MMIX).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// `n` rows with x uniform on [lo, hi) and P(repaid | x) = `rate(x)`.
    fn noisy(n: usize, lo: f64, hi: f64, rate: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<bool>) {
        let mut rng = Lcg(7);
        (0..n)
            .map(|_| {
                let x = lo + (hi - lo) * rng.next();
                (x, rng.next() < rate(x))
            })
            .unzip()
    }

    fn assert_strictly_monotone(b: &WoeBinning) {
        let woe: Vec<f64> = b.bins.iter().map(|b| b.woe).collect();
        let ok = match b.trend {
            Trend::Increasing => woe.windows(2).all(|w| w[0] < w[1]),
            Trend::Decreasing => woe.windows(2).all(|w| w[0] > w[1]),
            Trend::Flat => woe.len() <= 1,
        };
        assert!(ok, "{:?} not {:?}", woe, b.trend);
        // The intervals chain and cover the line.
        assert_eq!(b.bins.first().and_then(|b| b.lower), None);
        assert_eq!(b.bins.last().and_then(|b| b.upper), None);
        for w in b.bins.windows(2) {
            assert_eq!(w[0].upper, w[1].lower);
            assert!(w[0].upper.is_some());
        }
    }

    #[test]
    fn hand_computed_two_bins() {
        // x = 1: 4 rows, 1 repaid; x = 2: 6 rows, 5 repaid. R = 6, N = 4.
        let values = [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 2.0, 2.0];
        let y = [
            true, true, false, true, false, true, false, false, true, true,
        ];
        let opts = WoeOptions {
            max_prebins: 2,
            min_bin_share: 0.0,
            special_values: vec![],
        };
        let b = fit(&values, &y, &opts).unwrap();
        // The median sorted[ceil(1 * 10 / 2) - 1] = sorted[4] = 2.0 is the
        // largest value, so the cut moves down to the value below it, 1.0.
        assert_eq!(b.bins.len(), 2);
        assert_eq!((b.bins[0].lower, b.bins[0].upper), (None, Some(1.0)));
        assert_eq!((b.bins[1].lower, b.bins[1].upper), (Some(1.0), None));
        assert_eq!((b.bins[0].count, b.bins[0].repaid), (4, 1));
        assert_eq!((b.bins[1].count, b.bins[1].repaid), (6, 5));
        // Bin 1: shares (1 + 0.5)/6 = 0.25 and (3 + 0.5)/4 = 0.875,
        // WoE = ln(0.25 / 0.875) = ln(2/7) = -1.252762968495368,
        // IV = (0.25 - 0.875) * -1.252762968495368 = 0.782976855309605.
        assert_close(b.bins[0].woe, -1.252762968495368);
        assert_close(b.bins[0].iv, 0.782976855309605);
        // Bin 2: shares (5 + 0.5)/6 = 11/12 and (1 + 0.5)/4 = 0.375,
        // WoE = ln((11/12) / 0.375) = ln(22/9) = 0.8938178760220964,
        // IV = (11/12 - 0.375) * 0.8938178760220964 = 0.48415134951196886.
        assert_close(b.bins[1].woe, 0.8938178760220964);
        assert_close(b.bins[1].iv, 0.48415134951196886);
        assert_close(b.iv, 0.782976855309605 + 0.48415134951196886);
        assert_eq!(b.trend, Trend::Increasing);
        assert!(b.special.is_empty());
        assert_close(b.transform(1.0), b.bins[0].woe);
        assert_close(b.transform(1.5), b.bins[1].woe);
    }

    #[test]
    fn monotone_on_noisy_relationship() {
        let (x, y) = noisy(3000, 0.0, 100.0, |x| 0.2 + 0.6 * x / 100.0);
        let b = fit(&x, &y, &WoeOptions::default()).unwrap();
        assert_eq!(b.trend, Trend::Increasing);
        assert!(b.bins.len() >= 3, "{:?}", b.bins);
        assert_strictly_monotone(&b);
        assert_eq!(b.bins.iter().map(|b| b.count).sum::<u64>(), 3000);
        // Falling relationship: decreasing.
        let (x, y) = noisy(3000, 0.0, 100.0, |x| 0.8 - 0.6 * x / 100.0);
        let b = fit(&x, &y, &WoeOptions::default()).unwrap();
        assert_eq!(b.trend, Trend::Decreasing);
        assert_strictly_monotone(&b);
    }

    #[test]
    fn u_shape_still_gives_monotone_bins() {
        let (x, y) = noisy(3000, -1.0, 1.0, |x| 0.2 + 0.6 * x * x);
        let b = fit(&x, &y, &WoeOptions::default()).unwrap();
        assert_strictly_monotone(&b);
        assert_eq!(b.bins.iter().map(|b| b.count).sum::<u64>(), 3000);
    }

    #[test]
    fn min_bin_share_respected() {
        let (x, y) = noisy(2000, 0.0, 100.0, |x| 0.3 + 0.4 * (x / 15.0).sin().abs());
        for share in [0.0, 0.05, 0.2, 0.45, 1.0] {
            let opts = WoeOptions {
                max_prebins: 50,
                min_bin_share: share,
                special_values: vec![],
            };
            let b = fit(&x, &y, &opts).unwrap();
            assert_strictly_monotone(&b);
            if b.bins.len() > 1 {
                assert!(b.bins.iter().all(|b| b.count as f64 >= share * 2000.0));
            }
        }
        // x = 1: 10 rows, 2 repaid (WoE rank 1); x = 2: 1 row, not repaid
        // (smoothed odds 0.5/1.5 > 2.5/8.5, so monotone already); x = 3: 10
        // rows, 9 repaid. The 1-row bin is under 5% of 21 rows; its rate 0
        // is closer to 0.2 than to 0.9, so it joins x = 1.
        let mut values = vec![1.0; 10];
        values.push(2.0);
        values.extend([3.0; 10]);
        let mut y = vec![false; 21];
        y[0] = true;
        y[1] = true;
        y[11..20].fill(true);
        let b = fit(&values, &y, &WoeOptions::default()).unwrap();
        let bins: Vec<_> = b
            .bins
            .iter()
            .map(|b| (b.upper, b.count, b.repaid))
            .collect();
        assert_eq!(bins, [(Some(2.0), 11, 2), (None, 10, 9)]);
    }

    #[test]
    fn special_values_and_missing_get_own_bins() {
        let (mut x, mut y) = noisy(400, 0.0, 10.0, |x| 0.2 + 0.06 * x);
        for i in 0..40 {
            x.push(-999.0);
            y.push(i % 4 == 0);
            x.push(f64::NAN);
            y.push(i % 5 != 0);
        }
        let opts = WoeOptions {
            special_values: vec![-1.0, -999.0, -999.0],
            ..WoeOptions::default()
        };
        let b = fit(&x, &y, &opts).unwrap();
        assert_eq!(b.special.len(), 2, "unseen -1 gets no bin");
        let (code, missing) = (&b.special[0], &b.special[1]);
        assert_eq!(
            (code.value, code.count, code.repaid),
            (Some(-999.0), 40, 10)
        );
        assert_eq!(
            (missing.value, missing.count, missing.repaid),
            (None, 40, 32)
        );
        assert_eq!(b.bins.iter().map(|b| b.count).sum::<u64>(), 400);
        assert_close(b.transform(-999.0), code.woe);
        assert_close(b.transform(f64::NAN), missing.woe);
        assert_close(b.transform(-1.0), b.bins[0].woe);
        let total: f64 = b.bins.iter().map(|b| b.iv).sum::<f64>() + code.iv + missing.iv;
        assert_close(b.iv, total);
        // Without NaNs at fit, NaN maps to 0.0.
        let b = fit(&x[..400], &y[..400], &opts).unwrap();
        assert!(b.special.is_empty());
        assert_eq!(b.transform(f64::NAN), 0.0);
    }

    #[test]
    fn transform_outside_range_uses_edge_bins() {
        let (x, y) = noisy(1000, 0.0, 100.0, |x| 0.2 + 0.6 * x / 100.0);
        let b = fit(&x, &y, &WoeOptions::default()).unwrap();
        let (first, last) = (b.bins[0].woe, b.bins[b.bins.len() - 1].woe);
        assert_eq!(b.transform(-1e9), first);
        assert_eq!(b.transform(f64::NEG_INFINITY), first);
        assert_eq!(b.transform(1e9), last);
        assert_eq!(b.transform(f64::INFINITY), last);
        // Each bin's own upper edge maps to that bin.
        for bin in &b.bins {
            if let Some(u) = bin.upper {
                assert_eq!(b.transform(u), bin.woe);
            }
        }
    }

    #[test]
    fn single_value_feature_is_flat() {
        let b = fit(
            &[5.0; 4],
            &[true, false, false, true],
            &WoeOptions::default(),
        )
        .unwrap();
        assert_eq!(b.trend, Trend::Flat);
        assert_eq!(b.bins.len(), 1);
        assert_eq!((b.bins[0].lower, b.bins[0].upper), (None, None));
        // r = n = 2, R = N = 2: WoE = ln((2.5/2) / (2.5/2)) = 0, IV 0.
        assert_close(b.bins[0].woe, 0.0);
        assert_close(b.iv, 0.0);
        assert_eq!(b.transform(-3.0), b.bins[0].woe);
    }

    #[test]
    fn all_special_gives_no_interval_bins() {
        let opts = WoeOptions {
            special_values: vec![0.0],
            ..WoeOptions::default()
        };
        // -0.0 counts as the special value 0.0.
        let b = fit(&[0.0, -0.0, f64::NAN], &[true, false, true], &opts).unwrap();
        assert!(b.bins.is_empty());
        assert_eq!(b.trend, Trend::Flat);
        assert_eq!(b.special[0].count, 2);
        assert_eq!(b.transform(42.0), 0.0);
    }

    #[test]
    fn infinite_values_are_ordinary_and_survive_json() {
        let x = [
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
            1.0,
            2.0,
            f64::INFINITY,
            3.0,
        ];
        let y = [false, false, false, true, true, true];
        let opts = WoeOptions {
            min_bin_share: 0.0,
            ..WoeOptions::default()
        };
        let b = fit(&x, &y, &opts).unwrap();
        assert!(b
            .bins
            .iter()
            .all(|b| b.lower.is_none_or(f64::is_finite) && b.upper.is_none_or(f64::is_finite)));
        assert_json_round_trip(&b);
    }

    #[test]
    fn independent_of_row_order() {
        let (x, y) = noisy(500, 0.0, 10.0, |x| 0.2 + 0.06 * x);
        let a = fit(&x, &y, &WoeOptions::default()).unwrap();
        let b = fit(
            &x.iter().rev().copied().collect::<Vec<_>>(),
            &y.iter().rev().copied().collect::<Vec<_>>(),
            &WoeOptions::default(),
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn serde_round_trip() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<WoeBinning>();
        send_sync::<WoeError>();
        let (mut x, mut y) = noisy(500, 0.0, 10.0, |x| 0.2 + 0.06 * x);
        x.extend([-999.0, f64::NAN]);
        y.extend([true, false]);
        let opts = WoeOptions {
            special_values: vec![-999.0],
            ..WoeOptions::default()
        };
        let b = fit(&x, &y, &opts).unwrap();
        let json = assert_json_round_trip(&b);
        assert!(json.contains("\"trend\":\"increasing\""), "{json}");
    }

    #[test]
    fn rejects_empty() {
        assert!(matches!(
            fit(&[], &[], &WoeOptions::default()),
            Err(WoeError::Empty)
        ));
    }

    #[test]
    fn rejects_length_mismatch() {
        let err = fit(&[1.0, 2.0], &[true], &WoeOptions::default()).unwrap_err();
        assert!(matches!(err, WoeError::LengthMismatch { values: 2, y: 1 }));
    }

    #[test]
    fn rejects_one_class() {
        for label in [true, false] {
            let err = fit(&[1.0, 2.0, f64::NAN], &[label; 3], &WoeOptions::default());
            assert!(matches!(err, Err(WoeError::OneClass)));
        }
    }

    #[test]
    fn rejects_invalid_options() {
        let base = WoeOptions::default();
        let bad = [
            WoeOptions {
                max_prebins: 0,
                ..base.clone()
            },
            WoeOptions {
                min_bin_share: f64::NAN,
                ..base.clone()
            },
            WoeOptions {
                min_bin_share: -0.1,
                ..base.clone()
            },
            WoeOptions {
                min_bin_share: 1.5,
                ..base.clone()
            },
            WoeOptions {
                special_values: vec![-999.0, f64::NAN],
                ..base.clone()
            },
            WoeOptions {
                special_values: vec![f64::INFINITY],
                ..base.clone()
            },
        ];
        for opts in bad {
            let err = fit(&[1.0, 2.0], &[true, false], &opts).unwrap_err();
            assert!(matches!(err, WoeError::InvalidOptions(_)), "{opts:?}");
        }
        let msg = fit(
            &[1.0],
            &[true],
            &WoeOptions {
                max_prebins: 0,
                ..base
            },
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("max_prebins"), "{msg}");
    }
}
