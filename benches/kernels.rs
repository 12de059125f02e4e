//! Criterion benches of the per-borrower kernels: the FIFO waterfall replay,
//! the feature read-out, and scoring (linear predictor, score, band and three
//! reason codes), with the CPU's vector instructions and in portable code,
//! on one core. Inputs are built outside the
//! timed code; the BenchmarkId carries the number of borrowers.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use dunning::contract::{Installment, Payment};
use dunning::dates::ymd;
use dunning::ledger::features::ledger_features;
use dunning::ledger::waterfall::Waterfall;
use dunning::model::Model;
use dunning::scoring::Scorer;

/// Twelve monthly installments and about as many payments (some late,
/// some partial, an occasional reversal) per borrower.
fn histories(n: u32) -> Vec<(Vec<Installment>, Vec<Payment>)> {
    let start = ymd(2025, 1, 1);
    (0..n)
        .map(|b| {
            let inst: Vec<Installment> = (0..12)
                .map(|k| Installment {
                    borrower: b,
                    loan: 0,
                    due: start + 30 * k,
                    amount: 100.0,
                })
                .collect();
            let mut pays = Vec::new();
            for k in 0..12 {
                let h = (b.wrapping_mul(2_654_435_761) ^ (k as u32).wrapping_mul(40_503)) % 100;
                let late = if h < 70 { 0 } else { (h % 40) as i32 };
                let amount = if h.is_multiple_of(17) { 60.0 } else { 100.0 };
                pays.push(Payment {
                    borrower: b,
                    loan: None,
                    date: start + 30 * k + late,
                    amount,
                });
                if h == 3 {
                    pays.push(Payment {
                        borrower: b,
                        loan: None,
                        date: start + 30 * k + late + 3,
                        amount: -amount,
                    });
                }
            }
            pays.sort_by(|a, b| a.date.cmp(&b.date).then(b.amount.total_cmp(&a.amount)));
            (inst, pays)
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    let t = ymd(2025, 9, 15);
    let mut group = c.benchmark_group("kernels");
    for n in [1_000u32, 10_000] {
        let data = histories(n);
        group.throughput(Throughput::Elements(u64::from(n)));
        group.bench_with_input(BenchmarkId::new("waterfall", n), &data, |bench, data| {
            bench.iter(|| {
                let mut dpd = 0i64;
                for (inst, pays) in data {
                    let mut w = Waterfall::new(inst, pays, 0.01);
                    w.advance(t);
                    dpd += i64::from(w.dpd(t));
                }
                dpd
            })
        });
        group.bench_with_input(
            BenchmarkId::new("waterfall_and_features", n),
            &data,
            |bench, data| {
                let mut out = Vec::with_capacity(64);
                bench.iter(|| {
                    let mut sum = 0.0;
                    for (inst, pays) in data {
                        let mut w = Waterfall::new(inst, pays, 0.01);
                        w.advance(t);
                        out.clear();
                        ledger_features(&w, t, 0.01, &mut out);
                        sum += out[0];
                    }
                    sum
                })
            },
        );
    }
    group.finish();
}

fn scoring(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default/model.json");
    let model = Model::load(&path).expect("the committed default model");
    let width = model.features.len();
    let cols: Vec<usize> = (0..width).collect();
    let scorer = Scorer::new(&model, &cols);
    let mut group = c.benchmark_group("scoring");
    for n in [10_000usize, 100_000] {
        // Feature values spread around each feature's training mean.
        let values: Vec<f64> = (0..n * width)
            .map(|k| {
                let f = &model.features[k % width];
                let u = (dunning::hash::splitmix64(k as u64) >> 11) as f64 / (1u64 << 53) as f64;
                f.mean.unwrap_or(0.0) + (u - 0.5) * 4.0 * f.std.unwrap_or(1.0)
            })
            .collect();
        group.throughput(Throughput::Elements(n as u64));
        let rows: Vec<usize> = (0..n).collect();
        let mut out = vec![dunning::scoring::ScoredRow::default(); n];
        for (name, portable) in [("score_rows", false), ("score_rows_portable", true)] {
            group.bench_with_input(BenchmarkId::new(name, n), &values, |bench, values| {
                bench.iter(|| {
                    if portable {
                        scorer.score_rows_portable(values, width, &rows, &mut out);
                    } else {
                        scorer.score_rows(values, width, &rows, &mut out);
                    }
                    out.iter().map(|r| r.p_repay).sum::<f64>()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, kernels, scoring);
criterion_main!(benches);
