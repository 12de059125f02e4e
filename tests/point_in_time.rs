//! Property tests of the feature builder's point-in-time semantics:
//! data dated after the as-of date changes no feature at that date, and the
//! order of input rows changes nothing at all.

mod common;

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use common::{write_parquet, Workdir};
use dunning::contract::{self, InputPaths, LoadOptions};
use dunning::labels;
use dunning::ledger::{self, FeatureSet, SnapshotOptions};

const BASE: i32 = 20_089; // 2025-01-01
const CHANNELS: [&str; 6] = ["sms", "call", "visit", "letter", "email", "app"];
const OUTCOMES: [&str; 6] = [
    "no_answer",
    "right_party",
    "promise_to_pay",
    "refused",
    "paid",
    "wrong_party",
];

#[derive(Debug, Clone)]
struct Inst(i64, i64, i32, f64);
#[derive(Debug, Clone)]
struct Pay(i64, Option<i64>, i32, f64);
#[derive(Debug, Clone)]
struct Cont(i64, i64, usize, usize, Option<f64>, Option<i32>);

fn installments() -> impl Strategy<Value = Vec<Inst>> {
    prop::collection::vec(
        (
            0..3i64,
            0..2i64,
            0..10i32,
            prop::sample::select(vec![0.0, 50.0, 100.0, 100.5]),
        ),
        1..20,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(b, l, m, a)| Inst(b, b * 10 + l, BASE + m * 30 + (l as i32) * 9, a))
            .collect()
    })
}

fn payments(days: std::ops::Range<i32>) -> impl Strategy<Value = Vec<Pay>> {
    prop::collection::vec(
        (
            0..3i64,
            prop::option::of(0..2i64),
            days,
            prop::sample::select(vec![-60.0, 20.0, 50.0, 100.0, 150.0, 0.004]),
        ),
        0..25,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(b, l, d, a)| Pay(b, l.map(|l| b * 10 + l), BASE + d, a))
            .collect()
    })
}

fn contacts(days: std::ops::Range<i32>) -> impl Strategy<Value = Vec<Cont>> {
    prop::collection::vec(
        (
            0..3i64,
            days,
            0..86_400i64,
            0..6usize,
            0..6usize,
            prop::option::of(prop::sample::select(vec![30.0, 100.0])),
            prop::option::of(0..15i32),
        ),
        0..15,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(b, d, s, ch, oc, amt, pd)| {
                let day = BASE + d;
                Cont(
                    b,
                    i64::from(day) * 86_400_000_000 + s * 1_000_000,
                    ch,
                    oc,
                    amt,
                    pd.map(|x| day + x),
                )
            })
            .collect()
    })
}

fn write(w: &Workdir, tag: &str, s: &[Inst], p: &[Pay], c: &[Cont]) -> InputPaths {
    let a = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
    let sched = w.path(&format!("{tag}-s.parquet"));
    write_parquet(
        &sched,
        vec![
            ("borrower_id", a(s.iter().map(|x| x.0).collect())),
            ("loan_id", a(s.iter().map(|x| x.1).collect())),
            (
                "due_date",
                Arc::new(Date32Array::from(s.iter().map(|x| x.2).collect::<Vec<_>>())),
            ),
            (
                "amount_due",
                Arc::new(Float64Array::from(
                    s.iter().map(|x| x.3).collect::<Vec<_>>(),
                )),
            ),
        ],
    );
    let pay = w.path(&format!("{tag}-p.parquet"));
    write_parquet(
        &pay,
        vec![
            ("borrower_id", a(p.iter().map(|x| x.0).collect())),
            (
                "loan_id",
                Arc::new(Int64Array::from(p.iter().map(|x| x.1).collect::<Vec<_>>())),
            ),
            (
                "paid_date",
                Arc::new(Date32Array::from(p.iter().map(|x| x.2).collect::<Vec<_>>())),
            ),
            (
                "amount",
                Arc::new(Float64Array::from(
                    p.iter().map(|x| x.3).collect::<Vec<_>>(),
                )),
            ),
        ],
    );
    let con = w.path(&format!("{tag}-c.parquet"));
    write_parquet(
        &con,
        vec![
            ("borrower_id", a(c.iter().map(|x| x.0).collect())),
            (
                "contact_time",
                Arc::new(TimestampMicrosecondArray::from(
                    c.iter().map(|x| x.1).collect::<Vec<_>>(),
                )),
            ),
            (
                "channel",
                Arc::new(StringArray::from(
                    c.iter().map(|x| CHANNELS[x.2]).collect::<Vec<_>>(),
                )),
            ),
            (
                "outcome",
                Arc::new(StringArray::from(
                    c.iter().map(|x| OUTCOMES[x.3]).collect::<Vec<_>>(),
                )),
            ),
            (
                "promise_amount",
                Arc::new(Float64Array::from(
                    c.iter().map(|x| x.4).collect::<Vec<_>>(),
                )),
            ),
            (
                "promise_date",
                Arc::new(Date32Array::from(c.iter().map(|x| x.5).collect::<Vec<_>>())),
            ),
        ],
    );
    InputPaths {
        schedule: sched,
        payments: pay,
        borrowers: None,
        contacts: Some(con),
        labels: None,
    }
}

fn features(paths: &InputPaths, as_of: Vec<i32>) -> FeatureSet {
    features_of(paths, as_of, ledger::Keep::All)
}

fn features_of(paths: &InputPaths, as_of: Vec<i32>, keep: ledger::Keep) -> FeatureSet {
    let ledger = contract::load(paths, &LoadOptions::default()).expect("valid input");
    ledger::build(
        &ledger,
        &SnapshotOptions {
            as_of,
            horizon_days: 30,
            tolerance: 0.01,
        },
        keep,
    )
    .expect("options")
}

/// The features (not the horizon outcome, which looks past T by design) of every row.
fn at_t(fs: &FeatureSet) -> Vec<(u32, u32, bool, Vec<u64>)> {
    fs.rows
        .iter()
        .enumerate()
        .map(|(k, r)| {
            (
                r.borrower,
                r.snapshot,
                r.due_in_horizon,
                fs.row_values(k).iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn data_after_t_changes_no_feature_at_t(
        s in installments(),
        p in payments(-40..200),
        c in contacts(-40..200),
        later_p in payments(0..150),
        later_c in contacts(0..150),
        t_off in 0..200i32,
    ) {
        let t = BASE + t_off;
        let w = Workdir::new();
        let before = features(&write(&w, "a", &s, &p, &c), vec![t]);
        // Shift the extra rows to strictly after T.
        let mut p2 = p.clone();
        p2.extend(later_p.into_iter().map(|x| Pay(x.0, x.1, t + 1 + (x.2 - BASE), x.3)));
        let mut c2 = c.clone();
        c2.extend(later_c.into_iter().map(|x| {
            let shift = i64::from(t + 1 - BASE) * 86_400_000_000;
            Cont(x.0, x.1 + shift, x.2, x.3, x.4, x.5.map(|d| d + t + 1 - BASE))
        }));
        let after = features(&write(&w, "b", &s, &p2, &c2), vec![t]);
        prop_assert_eq!(at_t(&before), at_t(&after));
    }

    #[test]
    fn row_order_changes_nothing(
        s in installments(),
        p in payments(-40..300),
        c in contacts(-40..300),
        seed in any::<u64>(),
        t_off in 0..250i32,
    ) {
        let w = Workdir::new();
        let as_of = vec![BASE + t_off, BASE + t_off / 2];
        let a = features(&write(&w, "a", &s, &p, &c), as_of.clone());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (mut s2, mut p2, mut c2) = (s.clone(), p.clone(), c.clone());
        s2.shuffle(&mut rng);
        p2.shuffle(&mut rng);
        c2.shuffle(&mut rng);
        let b = features(&write(&w, "b", &s2, &p2, &c2), as_of);
        prop_assert_eq!(at_t(&a), at_t(&b));
        let ha: Vec<u64> = a.rows.iter().map(|r| r.overdue_at_horizon.to_bits()).collect();
        let hb: Vec<u64> = b.rows.iter().map(|r| r.overdue_at_horizon.to_bits()).collect();
        prop_assert_eq!(ha, hb);
    }

    #[test]
    fn population_rows_are_the_rows_labels_keep(
        s in installments(),
        p in payments(-40..300),
        c in contacts(-40..300),
        t_off in 0..250i32,
    ) {
        // Building only the population's rows gives, bit for bit, the rows
        // (and labels and counts) that the labels keep of all rows.
        let w = Workdir::new();
        let paths = write(&w, "a", &s, &p, &c);
        let as_of = vec![BASE + t_off, BASE + t_off / 2, BASE + t_off + 45];
        let all = features_of(&paths, as_of.clone(), ledger::Keep::All);
        let pop = features_of(&paths, as_of, ledger::Keep::Population);
        let end = Some(BASE + 200);
        let (la, lp) = (labels::attach(&all, None, end), labels::attach(&pop, None, end));
        prop_assert_eq!(&la.counts, &lp.counts);
        prop_assert_eq!(&la.repaid, &lp.repaid);
        prop_assert_eq!(lp.rows.clone(), (0..pop.rows.len()).collect::<Vec<_>>());
        let kept: Vec<_> = la.rows.iter().map(|&k| (all.rows[k], all.row_values(k).iter().map(|v| v.to_bits()).collect::<Vec<_>>())).collect();
        let built: Vec<_> = (0..pop.rows.len()).map(|k| (pop.rows[k], pop.row_values(k).iter().map(|v| v.to_bits()).collect::<Vec<_>>())).collect();
        prop_assert_eq!(kept, built);
        prop_assert_eq!(all.outside.iter().sum::<u64>(), 0);
    }
}
