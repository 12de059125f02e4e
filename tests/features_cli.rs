//! `dunning generate` and `dunning features` end to end on small real files.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use common::*;

fn features_args<'a>(dir: &'a str, out: &'a str) -> Vec<String> {
    vec![
        "features".into(),
        "--schedule".into(),
        format!("{dir}/schedule.parquet"),
        "--payments".into(),
        format!("{dir}/payments.parquet"),
        "--borrowers".into(),
        format!("{dir}/borrowers.parquet"),
        "--contacts".into(),
        format!("{dir}/contacts.parquet"),
        "--as-of".into(),
        "2025-10-31".into(),
        "--as-of".into(),
        "2025-11-30".into(),
        "--attributes".into(),
        "income".into(),
        "--out".into(),
        out.into(),
    ]
}

fn run_strs(w: &Workdir, args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    w.run(&refs)
}

#[test]
fn generate_then_features_accounts_for_every_borrower() {
    let w = Workdir::new();
    let o = w.run(&[
        "generate",
        "--borrowers",
        "400",
        "--seed",
        "11",
        "--out",
        "gen",
    ]);
    assert_exit(&o, 0);
    let o = run_strs(&w, &features_args("gen", "out/features.parquet"));
    assert_exit(&o, 0);

    let schedule = read_parquet(&w.path("gen/schedule.parquet"));
    let all: HashSet<i64> = schedule
        .column_by_name("borrower_id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .copied()
        .collect();
    let table = read_parquet(&w.path("out/features.parquet"));
    let ids = table
        .column_by_name("borrower_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let as_of = table
        .column_by_name("as_of")
        .unwrap()
        .as_primitive::<arrow::datatypes::Date32Type>();
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(w.path("out/features.summary.json")).unwrap(),
    )
    .unwrap();
    let snaps = summary["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    for (s, t) in snaps.iter().zip([day("2025-10-31"), day("2025-11-30")]) {
        let rows: Vec<i64> = (0..table.num_rows())
            .filter(|&k| as_of.value(k) == t)
            .map(|k| ids.value(k))
            .collect();
        let distinct: HashSet<i64> = rows.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            rows.len(),
            "a borrower appears twice in a snapshot"
        );
        assert!(distinct.is_subset(&all));
        assert_eq!(s["in_population"].as_u64().unwrap() as usize, rows.len());
        assert_eq!(
            s["in_population"].as_u64().unwrap() + s["outside_population"].as_u64().unwrap(),
            all.len() as u64,
            "every borrower is in the population or counted outside it"
        );
        assert_eq!(s["borrowers"].as_u64().unwrap(), all.len() as u64);
    }
    // Every input row is accounted for.
    for t in summary["inputs"].as_array().unwrap() {
        let read = t["rows_read"].as_u64().unwrap();
        let sum = t["rows_used"].as_u64().unwrap()
            + t["rows_rejected"].as_u64().unwrap()
            + t["rows_unmatched"].as_u64().unwrap();
        assert_eq!(read, sum, "{t}");
    }
    // Features are finite; labels exist for both snapshots (data ends 2025-12-31).
    for f in summary["features"].as_array().unwrap() {
        let col = table
            .column_by_name(f.as_str().unwrap())
            .unwrap()
            .as_primitive::<Float64Type>();
        assert_eq!(col.null_count(), 0);
        assert!(col.values().iter().all(|v| v.is_finite()), "{f}");
    }
    assert!(summary["features"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "income_missing"));
    let repaid = table.column_by_name("repaid").unwrap().as_boolean();
    assert_eq!(repaid.null_count(), 0);
    let rate = repaid.true_count() as f64 / repaid.len() as f64;
    assert!(rate > 0.3 && rate < 0.95, "label rate {rate}");
    assert!(!w.path("out/features.rejects.parquet").exists());
}

#[test]
fn same_seed_same_bytes() {
    let w = Workdir::new();
    for dir in ["a", "b"] {
        assert_exit(
            &w.run(&[
                "generate",
                "--borrowers",
                "150",
                "--seed",
                "5",
                "--out",
                dir,
            ]),
            0,
        );
    }
    for f in ["schedule", "payments", "borrowers", "contacts", "truth"] {
        let a = std::fs::read(w.path(&format!("a/{f}.parquet"))).unwrap();
        let b = std::fs::read(w.path(&format!("b/{f}.parquet"))).unwrap();
        assert!(
            a == b,
            "{f}.parquet differs between two runs with the same seed"
        );
    }
    assert_exit(&run_strs(&w, &features_args("a", "f1.parquet")), 0);
    assert_exit(&run_strs(&w, &features_args("b", "f2.parquet")), 0);
    assert_eq!(
        std::fs::read(w.path("f1.parquet")).unwrap(),
        std::fs::read(w.path("f2.parquet")).unwrap()
    );
}

/// A small hand-made ledger with string ids and two loans for borrower "b".
fn tiny_ledger(w: &Workdir) {
    let s = |v: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let d = |v: Vec<&str>| -> ArrayRef {
        Arc::new(Date32Array::from(
            v.into_iter().map(day).collect::<Vec<_>>(),
        ))
    };
    let f = |v: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    w.parquet(
        "schedule.parquet",
        vec![
            ("borrower_id", s(vec!["a", "a", "a", "b", "b", "b"])),
            ("loan_id", s(vec!["a1", "a1", "a1", "b1", "b1", "b2"])),
            (
                "due_date",
                d(vec![
                    "2025-01-01",
                    "2025-02-01",
                    "2025-03-01",
                    "2025-01-15",
                    "2025-02-15",
                    "2025-02-20",
                ]),
            ),
            ("amount_due", f(vec![100.0, 100.0, 100.0, 50.0, 50.0, 30.0])),
            ("branch", s(vec!["x"; 6])),
        ],
    );
    w.parquet(
        "payments.parquet",
        vec![
            ("borrower_id", s(vec!["a", "a", "b", "b"])),
            (
                "loan_id",
                Arc::new(StringArray::from(vec![None, None, Some("b2"), None])),
            ),
            (
                "paid_date",
                d(vec!["2025-01-01", "2025-02-20", "2025-02-20", "2025-01-10"]),
            ),
            ("amount", f(vec![100.0, 100.0, 20.0, 100.0])),
        ],
    );
}

#[test]
fn hand_worked_ledger_with_string_ids_and_two_loans() {
    let w = Workdir::new();
    tiny_ledger(&w);
    let o = w.run(&[
        "features",
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-02-25",
        "--horizon-days",
        "10",
        "--out",
        "f.parquet",
    ]);
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("ignored columns not in the contract: branch"),
        "{}",
        stderr(&o)
    );
    let t = read_parquet(&w.path("f.parquet"));
    assert_eq!(
        t.schema()
            .field_with_name("borrower_id")
            .unwrap()
            .data_type(),
        &DataType::Utf8
    );
    let ids = t.column_by_name("borrower_id").unwrap().as_string::<i32>();
    assert_eq!(
        (0..t.num_rows()).map(|k| ids.value(k)).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    let col = |name: &str| {
        t.column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>()
            .clone()
    };
    // a: Jan paid on time, Feb paid 19 days late, Mar 1 due within the horizon.
    // b: 100 on Jan 10 covers b1 (Jan 15, Feb 15; b2 had not started); the
    // tagged 20 leaves 10 of b2 (due Feb 20) open: 5 days past due.
    assert_eq!(col("dpd").values().to_vec(), vec![0.0, 5.0]);
    assert_eq!(col("overdue_amount").values().to_vec(), vec![0.0, 10.0]);
    assert_eq!(col("max_days_late").values().to_vec(), vec![19.0, 5.0]);
    assert_eq!(col("n_loans").values().to_vec(), vec![1.0, 2.0]);
    assert_eq!(col("future_dues").values().to_vec(), vec![100.0, 0.0]);
    assert_eq!(col("on_time_streak").values().to_vec(), vec![0.0, 0.0]);
    // The tagged 20 is short of b2's regular 30: one partial payment.
    assert_eq!(col("partial_payments").values().to_vec(), vec![0.0, 1.0]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("f.summary.json")).unwrap()).unwrap();
    assert_eq!(summary["snapshots"][0]["borrowers"], 2);
    assert_eq!(
        t.num_rows() as u64,
        summary["snapshots"][0]["in_population"].as_u64().unwrap()
    );
}

#[test]
fn row_problems_go_to_the_rejects_file() {
    let w = Workdir::new();
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![
        Some(1),
        Some(1),
        None,
        Some(2),
        Some(3),
        Some(4),
        Some(1),
    ]));
    let due: ArrayRef = Arc::new(Date32Array::from(vec![
        day("2025-01-01"),
        day("2025-02-01"),
        day("2025-03-01"),
        day("1899-12-31"),
        day("2025-01-01"),
        day("2025-01-01"),
        day("2025-03-01"),
    ]));
    let amount: ArrayRef = Arc::new(Float64Array::from(vec![
        Some(100.0),
        Some(100.0),
        Some(100.0),
        Some(10.0),
        Some(f64::NAN),
        Some(-5.0),
        None,
    ]));
    w.parquet(
        "schedule.parquet",
        vec![
            ("borrower_id", ids),
            ("due_date", due),
            ("amount_due", amount),
        ],
    );
    w.parquet(
        "payments.parquet",
        vec![
            (
                "borrower_id",
                Arc::new(Int64Array::from(vec![1, 99])) as ArrayRef,
            ),
            (
                "paid_date",
                Arc::new(Date32Array::from(vec![
                    day("2025-01-01"),
                    day("2025-01-01"),
                ])),
            ),
            ("amount", Arc::new(Float64Array::from(vec![100.0, 5.0]))),
        ],
    );
    let base = [
        "features",
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-02-10",
    ];
    let o = w.run(&[&base[..], &["--out", "f.parquet"]].concat());
    assert_exit(&o, 0);
    let r = read_parquet(&w.path("f.rejects.parquet"));
    let reasons = r.column_by_name("reason").unwrap().as_string::<i32>();
    let rows = r
        .column_by_name("row_index")
        .unwrap()
        .as_primitive::<arrow::datatypes::UInt64Type>();
    let got: Vec<(u64, String)> = (0..r.num_rows())
        .map(|k| (rows.value(k), reasons.value(k).to_string()))
        .collect();
    let expect = [
        (2, "null or empty borrower_id"),
        (3, "due_date out of range"),
        (4, "amount_due is not a finite number"),
        (5, "amount_due is negative"),
        (6, "null amount_due"),
        (1, "borrower_id has no valid installment"),
    ];
    assert_eq!(got.len(), expect.len(), "{got:?}");
    for ((row, reason), (erow, ereason)) in got.iter().zip(expect) {
        assert_eq!(*row, erow);
        assert!(reason.starts_with(ereason), "{reason} vs {ereason}");
    }
    // Only the borrower id: the row's other values are personal data.
    let values = r.column_by_name("values").unwrap().as_string::<i32>();
    assert_eq!(values.value(3), r#"{"borrower_id":"4"}"#);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("f.summary.json")).unwrap()).unwrap();
    assert_eq!(summary["inputs"][0]["rows_rejected"], 5);
    assert_eq!(summary["inputs"][0]["rows_used"], 2);
    assert_eq!(summary["inputs"][1]["rows_rejected"], 1);

    // --strict: fatal, nothing written.
    let o = w.run(&[&base[..], &["--strict", "--out", "g.parquet"]].concat());
    assert_exit(&o, 65);
    assert!(stderr(&o).contains("--strict"), "{}", stderr(&o));
    assert!(!w.path("g.parquet").exists());
    assert!(!w.path("g.rejects.parquet").exists());
    assert!(!w.path("g.summary.json").exists());

    // A clean re-run removes the stale rejects file of an earlier run.
    tiny_ledger(&w);
    let o = w.run(&[
        "features",
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-02-10",
        "--out",
        "f.parquet",
    ]);
    assert_exit(&o, 0);
    assert!(!w.path("f.rejects.parquet").exists());
}

/// Runs features on the tiny ledger with one input replaced; expects a fatal
/// bad-input error mentioning every one of `needles`, and no output at all.
fn expect_bad_input(setup: impl FnOnce(&Workdir), schedule: &str, needles: &[&str]) {
    let w = Workdir::new();
    tiny_ledger(&w);
    setup(&w);
    let before = w.files();
    let o = w.run(&[
        "features",
        "--schedule",
        schedule,
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-02-10",
        "--out",
        "out.parquet",
    ]);
    assert_exit(&o, 65);
    let err = stderr(&o);
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(w.files(), before, "a failed run wrote files");
}

#[test]
fn rejects_missing_file() {
    expect_bad_input(|_| {}, "nope.parquet", &["nope.parquet", "cannot open"]);
}

#[test]
fn rejects_directory_as_file() {
    expect_bad_input(
        |w| std::fs::create_dir(w.path("dir.parquet")).unwrap(),
        "dir.parquet",
        &["dir.parquet", "not a regular file"],
    );
}

#[test]
fn rejects_missing_required_column() {
    expect_bad_input(
        |w| {
            w.parquet(
                "s2.parquet",
                vec![
                    (
                        "borrower_id",
                        Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
                    ),
                    ("due_date", Arc::new(Date32Array::from(vec![1]))),
                ],
            );
        },
        "s2.parquet",
        &["s2.parquet", "`amount_due`", "schedule"],
    );
}

#[test]
fn rejects_wrong_type() {
    expect_bad_input(
        |w| {
            w.parquet(
                "s3.parquet",
                vec![
                    (
                        "borrower_id",
                        Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
                    ),
                    ("due_date", Arc::new(StringArray::from(vec!["2025-01-01"]))),
                    ("amount_due", Arc::new(Float64Array::from(vec![1.0]))),
                ],
            );
        },
        "s3.parquet",
        &["s3.parquet", "`due_date`", "Utf8", "Date"],
    );
}

#[test]
fn rejects_unreadable_parquet() {
    expect_bad_input(
        |w| std::fs::write(w.path("junk.parquet"), b"PAR1 this is not parquet at all").unwrap(),
        "junk.parquet",
        &["junk.parquet", "not a readable Parquet file"],
    );
}

#[test]
fn rejects_truncated_parquet() {
    expect_bad_input(
        |w| {
            let bytes = std::fs::read(w.path("schedule.parquet")).unwrap();
            std::fs::write(w.path("cut.parquet"), &bytes[..bytes.len() / 2]).unwrap();
        },
        "cut.parquet",
        &["cut.parquet", "not a readable Parquet file"],
    );
}

#[test]
fn rejects_mismatched_id_types() {
    expect_bad_input(
        |w| {
            w.parquet(
                "s4.parquet",
                vec![
                    (
                        "borrower_id",
                        Arc::new(Int64Array::from(vec![1])) as ArrayRef,
                    ),
                    ("due_date", Arc::new(Date32Array::from(vec![1]))),
                    ("amount_due", Arc::new(Float64Array::from(vec![1.0]))),
                ],
            );
        },
        "s4.parquet",
        &["payments.parquet", "`borrower_id`", "string", "integer"],
    );
}

#[test]
fn accepts_lossless_casts() {
    // Integer amounts, Int32 ids, timestamps for dates, 0/1 flags.
    let w = Workdir::new();
    w.parquet(
        "s.parquet",
        vec![
            (
                "borrower_id",
                Arc::new(arrow::array::Int32Array::from(vec![7, 7])) as ArrayRef,
            ),
            (
                "due_date",
                Arc::new(arrow::array::TimestampMillisecondArray::from(vec![
                    i64::from(day("2025-01-01")) * 86_400_000 + 3_600_000,
                    i64::from(day("2025-02-01")) * 86_400_000,
                ])),
            ),
            (
                "amount_due",
                Arc::new(arrow::array::Int64Array::from(vec![100, 100])),
            ),
        ],
    );
    w.parquet(
        "p.parquet",
        vec![
            (
                "borrower_id",
                Arc::new(Int64Array::from(vec![7])) as ArrayRef,
            ),
            (
                "paid_date",
                Arc::new(Date32Array::from(vec![day("2025-01-01")])),
            ),
            (
                "amount",
                Arc::new(arrow::array::Int32Array::from(vec![100])),
            ),
        ],
    );
    w.parquet(
        "b.parquet",
        vec![
            (
                "borrower_id",
                Arc::new(Int64Array::from(vec![7])) as ArrayRef,
            ),
            ("hardship", Arc::new(arrow::array::Int8Array::from(vec![1]))),
            ("dispute", Arc::new(BooleanArray::from(vec![false]))),
        ],
    );
    let o = w.run(&[
        "features",
        "--schedule",
        "s.parquet",
        "--payments",
        "p.parquet",
        "--borrowers",
        "b.parquet",
        "--as-of",
        "2025-02-10",
        "--out",
        "f.parquet",
    ]);
    assert_exit(&o, 0);
    let t = read_parquet(&w.path("f.parquet"));
    assert_eq!(t.num_rows(), 1);
    assert_eq!(
        t.column_by_name("borrower_id").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(
        t.column_by_name("dpd")
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(0),
        9.0
    );
    assert!(t.column_by_name("hardship").unwrap().as_boolean().value(0));
}

#[test]
fn usage_errors_exit_64() {
    let w = Workdir::new();
    tiny_ledger(&w);
    let o = w.run(&[
        "features",
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-13-01",
        "--out",
        "f.parquet",
    ]);
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("2025-13-01"));
    let o = w.run(&[
        "features",
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-02-01",
        "--out",
        "payments.parquet",
    ]);
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("is one of the input files"));
    let o = w.run(&[
        "features",
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-02-01",
        "--horizon-days",
        "0",
        "--out",
        "f.parquet",
    ]);
    assert_exit(&o, 64);
    assert!(!w.path("f.parquet").exists());
    // No partitions is a usage error, not one partition.
    for args in [
        &["bench", "--partitions", "0", "--dir", "b"][..],
        &[
            "combine",
            "--partitions",
            "0",
            "--as-of",
            "2025-02-01",
            "--out",
            "o",
            "--strategy",
            "s.toml",
        ][..],
    ] {
        let o = w.run(args);
        assert_exit(&o, 64);
        assert!(stderr(&o).contains("--partitions"), "{}", stderr(&o));
    }
    assert!(!w.path("b").exists());
}

#[test]
fn sample_data_is_reproducible() {
    // data/README.md documents the command that wrote data/sample.
    let w = Workdir::new();
    assert_exit(
        &w.run(&[
            "generate",
            "--borrowers",
            "5000",
            "--seed",
            "42",
            "--bad-rows",
            "12",
            "--out",
            "regen",
        ]),
        0,
    );
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    for f in ["schedule", "payments", "borrowers", "contacts", "truth"] {
        let committed = std::fs::read(sample.join(format!("{f}.parquet"))).unwrap();
        let fresh = std::fs::read(w.path(&format!("regen/{f}.parquet"))).unwrap();
        assert!(
            committed == fresh,
            "data/sample/{f}.parquet is not what the documented command writes"
        );
    }
}

#[test]
fn given_labels_override_and_are_accounted_for() {
    let w = Workdir::new();
    tiny_ledger(&w);
    let s = |v: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let as_of = day("2025-02-25");
    w.parquet(
        "labels.parquet",
        vec![
            // a: overrides; b: duplicated (both rejected); zz: unknown borrower;
            // a at another date: valid but in no snapshot.
            ("borrower_id", s(vec!["a", "b", "b", "zz", "a"])),
            (
                "as_of",
                Arc::new(Date32Array::from(vec![
                    as_of,
                    as_of,
                    as_of,
                    as_of,
                    as_of - 1,
                ])),
            ),
            (
                "repaid",
                Arc::new(BooleanArray::from(vec![true, true, false, true, true])),
            ),
        ],
    );
    let o = w.run(&[
        "features",
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--labels",
        "labels.parquet",
        "--as-of",
        "2025-02-25",
        "--horizon-days",
        "10",
        "--data-end",
        "2025-03-31",
        "--out",
        "f.parquet",
    ]);
    assert_exit(&o, 0);
    let t = read_parquet(&w.path("f.parquet"));
    let src = t.column_by_name("label_source").unwrap().as_string::<i32>();
    let repaid = t.column_by_name("repaid").unwrap().as_boolean();
    // Rows: a (given: true, where the ledger says false: Mar 1 stays unpaid),
    // b (derived from the ledger: b2's 10 stays unpaid).
    assert_eq!((src.value(0), repaid.value(0)), ("given", true));
    assert_eq!((src.value(1), repaid.value(1)), ("ledger", false));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("f.summary.json")).unwrap()).unwrap();
    let labels = summary["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "labels")
        .unwrap()
        .clone();
    assert_eq!(labels["rows_read"], 5);
    assert_eq!(labels["rows_used"], 1);
    assert_eq!(labels["rows_rejected"], 2);
    assert_eq!(labels["rows_unmatched"], 2);
    assert_eq!(summary["snapshots"][0]["given_labels"], 1);
}

/// Runs features on the tiny ledger plus `extra` arguments; expects exit
/// `code`, a message with every one of `needles`, and no new files.
fn expect_fatal(setup: impl FnOnce(&Workdir), extra: &[&str], code: i32, needles: &[&str]) {
    let w = Workdir::new();
    tiny_ledger(&w);
    setup(&w);
    let before = w.files();
    let args = [
        &[
            "features",
            "--schedule",
            "schedule.parquet",
            "--payments",
            "payments.parquet",
            "--as-of",
            "2025-02-10",
        ][..],
        extra,
        &["--out", "out.parquet"],
    ]
    .concat();
    let o = w.run(&args);
    assert_exit(&o, code);
    let err = stderr(&o);
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
    assert_eq!(w.files(), before, "a failed run wrote files");
}

#[test]
fn rejects_missing_optional_file() {
    expect_fatal(
        |_| {},
        &["--contacts", "contacts.parquet"],
        65,
        &["contacts.parquet", "cannot open"],
    );
}

#[test]
fn rejects_unreadable_optional_file() {
    expect_fatal(
        |w| std::fs::write(w.path("b.parquet"), b"not parquet").unwrap(),
        &["--borrowers", "b.parquet"],
        65,
        &["b.parquet", "not a readable Parquet file"],
    );
}

#[test]
fn rejects_unknown_attribute() {
    expect_fatal(
        |w| {
            w.parquet(
                "b.parquet",
                vec![
                    (
                        "borrower_id",
                        Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
                    ),
                    ("income", Arc::new(Float64Array::from(vec![1.0]))),
                ],
            );
        },
        &["--borrowers", "b.parquet", "--attributes", "income,salary"],
        65,
        &["b.parquet", "`salary`"],
    );
}

#[test]
fn rejects_attribute_clashing_with_an_output_column() {
    for clash in ["dpd", "repaid", "income,income"] {
        expect_fatal(
            |w| {
                w.parquet(
                    "b.parquet",
                    vec![
                        (
                            "borrower_id",
                            Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
                        ),
                        ("income", Arc::new(Float64Array::from(vec![1.0]))),
                        ("dpd", Arc::new(Float64Array::from(vec![1.0]))),
                    ],
                );
            },
            &["--borrowers", "b.parquet", "--attributes", clash],
            64,
            &["--attributes", "two columns named"],
        );
    }
}

#[test]
fn rejects_mismatched_loan_id_types() {
    expect_fatal(
        |w| {
            w.parquet(
                "payments.parquet",
                vec![
                    (
                        "borrower_id",
                        Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
                    ),
                    ("loan_id", Arc::new(Int64Array::from(vec![1]))),
                    (
                        "paid_date",
                        Arc::new(Date32Array::from(vec![day("2025-01-01")])),
                    ),
                    ("amount", Arc::new(Float64Array::from(vec![1.0]))),
                ],
            );
        },
        &[],
        65,
        &["payments.parquet", "`loan_id`", "integer", "string"],
    );
}

#[test]
fn rejects_as_of_outside_the_accepted_dates() {
    expect_fatal(|_| {}, &["--as-of", "1850-01-01"], 64, &["1850-01-01"]);
}

#[test]
fn every_reject_reason_of_every_table() {
    let w = Workdir::new();
    tiny_ledger(&w);
    let s = |v: Vec<Option<&str>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let d = |v: Vec<Option<i32>>| -> ArrayRef { Arc::new(Date32Array::from(v)) };
    let f = |v: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    let ok = Some(day("2025-01-05"));
    w.parquet(
        "payments.parquet",
        vec![
            (
                "borrower_id",
                s(vec![
                    Some("a"),
                    Some("a"),
                    Some("b"),
                    Some("a"),
                    Some("a"),
                    Some("a"),
                ]),
            ),
            (
                "loan_id",
                s(vec![None, None, Some("a1"), None, None, Some("")]),
            ),
            (
                "paid_date",
                d(vec![ok, ok, ok, Some(day("2201-01-01")), ok, ok]),
            ),
            (
                "amount",
                f(vec![
                    Some(50.0),
                    Some(2e13),
                    Some(5.0),
                    Some(1.0),
                    Some(f64::INFINITY),
                    Some(1.0),
                ]),
            ),
        ],
    );
    let t = |h: i64| i64::from(day("2025-01-20")) * 86_400_000_000 + h * 3_600_000_000;
    w.parquet(
        "contacts.parquet",
        vec![
            (
                "borrower_id",
                s(vec![
                    Some("a"),
                    Some("a"),
                    Some("a"),
                    Some("a"),
                    Some("zz"),
                    Some("a"),
                    Some("a"),
                ]),
            ),
            (
                "contact_time",
                Arc::new(arrow::array::TimestampMicrosecondArray::from(vec![
                    Some(t(10)),
                    Some(t(11)),
                    Some(t(12)),
                    Some(t(13)),
                    Some(t(14)),
                    None,
                    Some(t(15)),
                ])),
            ),
            (
                "channel",
                s(vec![
                    Some("call"),
                    Some("fax"),
                    Some("sms"),
                    Some("call"),
                    Some("call"),
                    Some("call"),
                    None,
                ]),
            ),
            (
                "outcome",
                s(vec![
                    Some("promise_to_pay"),
                    Some("no_answer"),
                    Some("maybe"),
                    Some("promise_to_pay"),
                    Some("paid"),
                    Some("paid"),
                    Some("paid"),
                ]),
            ),
            (
                "promise_amount",
                f(vec![Some(100.0), None, None, Some(-1.0), None, None, None]),
            ),
            (
                "promise_date",
                d(vec![
                    Some(day("2025-01-25")),
                    None,
                    None,
                    Some(day("2025-01-25")),
                    None,
                    None,
                    None,
                ]),
            ),
        ],
    );
    w.parquet(
        "borrowers.parquet",
        vec![
            (
                "borrower_id",
                s(vec![Some("a"), Some("b"), Some("b"), None, Some("nobody")]),
            ),
            (
                "hardship",
                Arc::new(BooleanArray::from(vec![true, false, true, false, false])),
            ),
            ("segment", s(vec![Some("x"); 5])),
            ("score", f(vec![Some(1.0); 5])),
        ],
    );
    let o = w.run(&[
        "features",
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--contacts",
        "contacts.parquet",
        "--borrowers",
        "borrowers.parquet",
        "--as-of",
        "2025-02-10",
        "--out",
        "f.parquet",
    ]);
    assert_exit(&o, 0);
    let r = read_parquet(&w.path("f.rejects.parquet"));
    let col = |name: &str| r.column_by_name(name).unwrap().as_string::<i32>().clone();
    let (tables, columns, reasons) = (col("table"), col("column"), col("reason"));
    let rows = r
        .column_by_name("row_index")
        .unwrap()
        .as_primitive::<arrow::datatypes::UInt64Type>()
        .clone();
    let got: Vec<String> = (0..r.num_rows())
        .map(|k| {
            format!(
                "{} {} {} {}",
                tables.value(k),
                rows.value(k),
                columns.value(k),
                reasons.value(k)
            )
        })
        .collect();
    let expect = [
        "payments 1 amount amount is out of range",
        "payments 2 loan_id loan_id is not a loan of this borrower",
        "payments 3 paid_date paid_date out of range",
        "payments 4 amount amount is not a finite number",
        "payments 5 loan_id empty loan_id",
        "contacts 1 channel channel is not one of",
        "contacts 2 outcome outcome is not one of",
        "contacts 3 promise_amount promise_amount is negative",
        "contacts 4 borrower_id borrower_id has no valid installment",
        "contacts 5 contact_time null contact_time",
        "contacts 6 channel channel is not one of",
        // Rejects are in file row order within a table, whichever check found them.
        "borrowers 1 borrower_id borrower_id appears 2 times",
        "borrowers 2 borrower_id borrower_id appears 2 times",
        "borrowers 3 borrower_id null or empty borrower_id",
    ];
    assert_eq!(got.len(), expect.len(), "{got:#?}");
    for (g, e) in got.iter().zip(expect) {
        assert!(g.starts_with(e), "{g:?} does not start with {e:?}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("f.summary.json")).unwrap()).unwrap();
    let table = |name: &str| {
        summary["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == name)
            .unwrap()
            .clone()
    };
    let b = table("borrowers");
    assert_eq!(
        (
            b["rows_used"].as_u64(),
            b["rows_rejected"].as_u64(),
            b["rows_unmatched"].as_u64()
        ),
        (Some(1), Some(3), Some(1))
    );
    assert_eq!(
        b["ignored_columns"],
        serde_json::json!(["segment", "score"])
    );
    assert_eq!(table("contacts")["rows_used"], 1);
    assert_eq!(table("payments")["rows_used"], 1);
}
