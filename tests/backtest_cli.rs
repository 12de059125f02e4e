//! `dunning backtest`, `dunning compare` and train's `report.json`, end to
//! end: on the committed sample with the default model, on a small
//! generated ledger, and on a hand-made ledger whose roll rates are worked
//! out by hand.

mod common;

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array};
use common::*;
use dunning::report::backtest::{Analysis, BacktestReport};
use dunning::report::compare::CompareReport;
use dunning::report::validation::ValidationReport;

/// Sample as-of dates whose 30-day horizon ends within the ledger (it ends
/// 2025-12-31): one the default model was trained on, one before.
const SAMPLE_DATES: [&str; 2] = ["2025-08-31", "2025-11-30"];

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `dunning backtest` on the sample with `extra` arguments.
fn backtest_sample(w: &Workdir, model: &str, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = vec!["backtest".into(), "--model".into(), model.into()];
    args.extend(sample_inputs());
    for d in SAMPLE_DATES {
        args.extend(["--as-of".into(), d.into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    w.run(&strs(&args))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The report types deny unknown fields: this pins the schema.
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Counts that must add up within one analysis.
fn check_counts(a: &Analysis, with_treatments: bool) {
    assert_eq!(a.borrowers, a.in_population + a.outside_population);
    let e = &a.evaluation;
    assert_eq!(e.count, a.in_population);
    assert_eq!(e.by_band.iter().map(|b| b.count).sum::<u64>(), e.count);
    assert_eq!(e.by_band.iter().map(|b| b.repaid).sum::<u64>(), e.repaid);
    let h = &e.score_histogram;
    assert_eq!(h.repaid.iter().sum::<u64>(), e.repaid);
    assert_eq!(h.not_repaid.iter().sum::<u64>(), e.count - e.repaid);
    assert_eq!(a.roll_rates.total(), e.count);
    // Current at T + H is exactly "nothing overdue at T + H", the label.
    let current: u64 = a.roll_rates.counts.iter().map(|row| row[0]).sum();
    assert_eq!(current, e.repaid);
    if let Some(m) = &e.metrics {
        assert_eq!((m.count, m.repaid), (e.count, e.repaid));
        assert_eq!(m.calibration.iter().map(|c| c.count).sum::<u64>(), e.count);
    }
    match &a.by_treatment {
        Some(t) => {
            assert!(with_treatments);
            assert_eq!(t.iter().map(|r| r.count).sum::<u64>(), e.count);
            assert_eq!(t.iter().map(|r| r.repaid).sum::<u64>(), e.repaid);
        }
        None => assert!(!with_treatments),
    }
}

#[test]
fn backtests_the_default_model_on_the_sample() {
    let w = Workdir::new();
    let model = repo("models/default");
    let strategy = repo("strategies/default.toml");
    let o = backtest_sample(&w, &model, &["--strategy", &strategy, "--out", "bt"]);
    assert_exit(&o, 0);
    let stdout = String::from_utf8_lossy(&o.stdout);
    for needle in ["2025-08-31", "2025-11-30", "overall", "escalated", "90+"] {
        assert!(stdout.contains(needle), "{needle:?} not in\n{stdout}");
    }
    let r: BacktestReport = read_json(&w.path("bt/backtest.json"));
    assert_eq!(r.kind, "backtest");
    assert_eq!(r.setup.horizon_days, 30, "the model's training horizon");
    assert_eq!(r.setup.data_end, "2025-12-31");
    assert_eq!(r.strategy.as_ref().unwrap().version, "default-1");
    let dates: Vec<&str> = r.snapshots.iter().map(|s| s.as_of.as_str()).collect();
    assert_eq!(dates, SAMPLE_DATES);
    assert_eq!(r.snapshots[1].horizon_end, "2025-12-30");
    for s in &r.snapshots {
        check_counts(&s.analysis, true);
        // Every borrower of the sample has a schedule from the start.
        assert_eq!(s.analysis.borrowers, 5000);
    }
    check_counts(&r.overall, true);
    // Per-snapshot counts add up to the pooled counts.
    let sum = |f: fn(&Analysis) -> u64| r.snapshots.iter().map(|s| f(&s.analysis)).sum::<u64>();
    assert_eq!(sum(|a| a.in_population), r.overall.in_population);
    assert_eq!(sum(|a| a.outside_population), r.overall.outside_population);
    assert_eq!(sum(|a| a.borrowers), r.overall.borrowers);
    assert_eq!(sum(|a| a.evaluation.repaid), r.overall.evaluation.repaid);
    for i in 0..5 {
        for j in 0..5 {
            let cell: u64 = r
                .snapshots
                .iter()
                .map(|s| s.analysis.roll_rates.counts[i][j])
                .sum();
            assert_eq!(cell, r.overall.roll_rates.counts[i][j]);
        }
    }
    // The default model ranks well on its own generator's ledger.
    for a in r.snapshots.iter().map(|s| &s.analysis).chain([&r.overall]) {
        let m = a.evaluation.metrics.as_ref().unwrap();
        assert!(m.auc > 0.75, "AUC {}", m.auc);
        assert!((m.gini - (2.0 * m.auc - 1.0)).abs() < 1e-12);
        assert!(a.evaluation.roc.len() >= 2 && a.evaluation.roc.len() <= 200);
        assert_eq!(a.evaluation.roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(a.evaluation.roc.last(), Some(&(1.0, 1.0)));
    }
    // Escalated borrowers repaid least, soft ones most.
    let t = r.overall.by_treatment.as_ref().unwrap();
    let rate = |name: &str| {
        t.iter()
            .find(|x| x.name == name)
            .and_then(|x| x.repay_rate)
            .unwrap()
    };
    assert!(rate("soft") > rate("standard") && rate("standard") > rate("escalated"));
    // The sample's defective rows are rejected and accounted for.
    assert_eq!(r.setup.rejected, 11);
    assert!(w.path("bt/backtest.rejects.parquet").exists());
    for i in &r.setup.inputs {
        assert_eq!(
            i.rows_read,
            i.rows_used + i.rows_rejected + i.rows_unmatched
        );
    }
    // A standardized model has no WoE bins.
    assert!(r.woe_bins.is_empty());

    // The same inputs give the same bytes.
    let first = std::fs::read(w.path("bt/backtest.json")).unwrap();
    let o = backtest_sample(&w, &model, &["--strategy", &strategy, "--out", "bt"]);
    assert_exit(&o, 0);
    let second = std::fs::read(w.path("bt/backtest.json")).unwrap();
    assert!(first == second, "backtest.json differs between two runs");
}

/// The default model with its risk bands replaced by three others.
fn three_band_model(w: &Workdir) -> String {
    let text = std::fs::read_to_string(repo("models/default/model.json")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    m["bands"] = serde_json::json!([
        {"band": "high", "min_score": 540},
        {"band": "mid", "min_score": 500},
        {"band": "low", "min_score": null}
    ]);
    m["version"] = "three-bands".into();
    std::fs::create_dir_all(w.path("three")).unwrap();
    std::fs::write(w.path("three/model.json"), m.to_string()).unwrap();
    "three".into()
}

#[test]
fn compares_two_models_with_different_bands() {
    let w = Workdir::new();
    let b = three_band_model(&w);
    let mut args: Vec<String> = vec![
        "compare".into(),
        "--model".into(),
        repo("models/default"),
        "--model".into(),
        b,
    ];
    args.extend(sample_inputs());
    for d in SAMPLE_DATES {
        args.extend(["--as-of".into(), d.into()]);
    }
    args.extend(["--out".into(), "cmp".into()]);
    let o = w.run(&strs(&args));
    assert_exit(&o, 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("swap set"));
    let r: CompareReport = read_json(&w.path("cmp/compare.json"));
    assert_eq!(r.kind, "compare");
    assert_eq!(r.b.version, "three-bands");
    assert_eq!(r.snapshots.len(), 2);
    for c in r
        .snapshots
        .iter()
        .map(|s| &s.comparison)
        .chain([&r.overall])
    {
        // The same scores under both: the same metrics, other bands.
        let (a, b) = (c.a.metrics.as_ref().unwrap(), c.b.metrics.as_ref().unwrap());
        assert_eq!(a.auc, b.auc);
        assert!(a.auc > 0.75);
        let swap = &c.swap;
        assert_eq!(swap.rows, ["A", "B", "C", "D", "E"]);
        assert_eq!(swap.cols, ["high", "mid", "low"]);
        assert_eq!(swap.counts.len(), 5);
        assert!(swap.counts.iter().all(|r| r.len() == 3));
        assert_eq!(swap.counts.iter().flatten().sum::<u64>(), c.count);
        assert_eq!(swap.repaid.iter().flatten().sum::<u64>(), c.repaid);
        assert_eq!(swap.same_band, None);
        // Band A starts at 543 >= 540: all of A is "high".
        assert_eq!(swap.counts[0][1] + swap.counts[0][2], 0);
    }
    let n: u64 = r.snapshots.iter().map(|s| s.comparison.count).sum();
    assert_eq!(n, r.overall.count);
}

#[test]
fn backtests_a_generated_ledger_without_a_strategy() {
    let w = Workdir::new();
    let o = w.run(&[
        "generate",
        "--borrowers",
        "300",
        "--seed",
        "5",
        "--out",
        "gen",
    ]);
    assert_exit(&o, 0);
    let model = repo("models/default");
    let o = w.run(&[
        "backtest",
        "--model",
        &model,
        "--schedule",
        "gen/schedule.parquet",
        "--payments",
        "gen/payments.parquet",
        "--borrowers",
        "gen/borrowers.parquet",
        "--contacts",
        "gen/contacts.parquet",
        "--as-of",
        "2025-10-31",
        "--as-of",
        "2025-09-30",
        "--as-of",
        "2025-10-31",
        "--horizon-days",
        "45",
        "--out",
        "bt",
    ]);
    assert_exit(&o, 0);
    let r: BacktestReport = read_json(&w.path("bt/backtest.json"));
    assert!(r.strategy.is_none());
    assert_eq!(r.setup.horizon_days, 45);
    assert_eq!(r.setup.rejected, 0);
    assert!(!w.path("bt/backtest.rejects.parquet").exists());
    // Sorted and deduplicated.
    let dates: Vec<&str> = r.snapshots.iter().map(|s| s.as_of.as_str()).collect();
    assert_eq!(dates, ["2025-09-30", "2025-10-31"]);
    assert_eq!(r.snapshots[0].horizon_end, "2025-11-14");
    for s in &r.snapshots {
        check_counts(&s.analysis, false);
        assert_eq!(s.analysis.borrowers, 300);
    }
    check_counts(&r.overall, false);
    let pooled: u64 = r.snapshots.iter().map(|s| s.analysis.in_population).sum();
    assert_eq!(pooled, r.overall.in_population);
}

/// A hand-made ledger of six borrowers (ids 1-6), monthly installments of
/// 100, as of 2025-03-31 with a 30-day horizon (T + H = 2025-04-30):
///
/// | id | due dates           | payments                 | dpd at T | dpd at T+H | repaid |
/// |----|---------------------|--------------------------|----------|------------|--------|
/// | 1  | 03-15 04-15 05-15   | each on its due date     | 0        | 0          | yes    |
/// | 2  | 02-15 03-15 04-15   | 02-15 only               | 16       | 46         | no     |
/// | 3  | 02-15 03-15 04-15   | 300 on 04-20             | 44       | 0          | yes    |
/// | 4  | 01-01 ... 04-01     | none                     | 89       | 119        | no     |
/// | 5  | 2024-12-01 ... 03-01| none                     | 120      | 150        | no     |
/// | 6  | 01-15               | 01-15                    | 0        | 0          | outside|
///
/// Borrower 6 owes nothing and has nothing due in (T, T+H]: outside the
/// population. The ledger ends on borrower 1's last payment, 2025-05-15.
fn hand_ledger(w: &Workdir) {
    let i = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
    let d = |v: Vec<&str>| -> ArrayRef {
        Arc::new(Date32Array::from(
            v.into_iter().map(day).collect::<Vec<_>>(),
        ))
    };
    let f = |v: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    let schedule: Vec<(i64, &str)> = vec![
        (1, "2025-03-15"),
        (1, "2025-04-15"),
        (1, "2025-05-15"),
        (2, "2025-02-15"),
        (2, "2025-03-15"),
        (2, "2025-04-15"),
        (3, "2025-02-15"),
        (3, "2025-03-15"),
        (3, "2025-04-15"),
        (4, "2025-01-01"),
        (4, "2025-02-01"),
        (4, "2025-03-01"),
        (4, "2025-04-01"),
        (5, "2024-12-01"),
        (5, "2025-01-01"),
        (5, "2025-02-01"),
        (5, "2025-03-01"),
        (6, "2025-01-15"),
    ];
    let n = schedule.len();
    w.parquet(
        "schedule.parquet",
        vec![
            ("borrower_id", i(schedule.iter().map(|r| r.0).collect())),
            ("loan_id", i(schedule.iter().map(|r| r.0 * 10).collect())),
            ("due_date", d(schedule.iter().map(|r| r.1).collect())),
            ("amount_due", f(vec![100.0; n])),
        ],
    );
    let payments: Vec<(i64, &str, f64)> = vec![
        (1, "2025-03-15", 100.0),
        (1, "2025-04-15", 100.0),
        (1, "2025-05-15", 100.0),
        (2, "2025-02-15", 100.0),
        (3, "2025-04-20", 300.0),
        (6, "2025-01-15", 100.0),
    ];
    w.parquet(
        "payments.parquet",
        vec![
            ("borrower_id", i(payments.iter().map(|r| r.0).collect())),
            ("paid_date", d(payments.iter().map(|r| r.1).collect())),
            ("amount", f(payments.iter().map(|r| r.2).collect())),
        ],
    );
}

/// The default model reduced to its `dpd` feature (the hand-made ledger has
/// no borrowers or contacts table).
fn dpd_model(w: &Workdir) -> String {
    let text = std::fs::read_to_string(repo("models/default/model.json")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let dpd = m["features"][0].clone();
    assert_eq!(dpd["name"], "dpd");
    m["features"] = serde_json::json!([dpd]);
    m["version"] = "dpd-only".into();
    std::fs::create_dir_all(w.path("dpd")).unwrap();
    std::fs::write(w.path("dpd/model.json"), m.to_string()).unwrap();
    "dpd".into()
}

fn hand_backtest(w: &Workdir, as_of: &str, extra: &[&str]) -> std::process::Output {
    let model = dpd_model(w);
    let mut args = vec![
        "backtest",
        "--model",
        &model,
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        as_of,
        "--out",
        "bt",
    ];
    args.extend_from_slice(extra);
    w.run(&args)
}

#[test]
fn roll_rates_of_a_hand_made_ledger() {
    let w = Workdir::new();
    hand_ledger(&w);
    let strategy = repo("strategies/default.toml");
    let o = hand_backtest(&w, "2025-03-31", &["--strategy", &strategy]);
    assert_exit(&o, 0);
    let r: BacktestReport = read_json(&w.path("bt/backtest.json"));
    assert_eq!(r.setup.data_end, "2025-05-15");
    let a = &r.snapshots[0].analysis;
    assert_eq!(
        (a.borrowers, a.in_population, a.outside_population),
        (6, 5, 1)
    );
    // Buckets at T -> at T + H, from the table above:
    // 1 current -> current, 2 1-29 -> 30-59, 3 30-59 -> current,
    // 4 60-89 -> 90+, 5 90+ -> 90+.
    assert_eq!(
        a.roll_rates.counts,
        vec![
            vec![1, 0, 0, 0, 0],
            vec![0, 0, 1, 0, 0],
            vec![1, 0, 0, 0, 0],
            vec![0, 0, 0, 0, 1],
            vec![0, 0, 0, 0, 1],
        ]
    );
    let cure: Vec<Option<f64>> = a.roll_rates.by_bucket.iter().map(|b| b.cure_rate).collect();
    assert_eq!(cure, [None, Some(0.0), Some(1.0), Some(0.0), Some(0.0)]);
    let e = &a.evaluation;
    assert_eq!((e.count, e.repaid), (5, 2));
    // The dpd-only model ranks by dpd (lower dpd, higher p). Repaid: dpd 0
    // and 44; not repaid: 16, 89, 120. Pairs won: 0 beats all three, 44
    // beats 89 and 120 but not 16: AUC 5/6.
    let m = e.metrics.as_ref().unwrap();
    assert!((m.auc - 5.0 / 6.0).abs() < 1e-12, "AUC {}", m.auc);
    let t = a.by_treatment.as_ref().unwrap();
    assert_eq!(t.iter().map(|r| r.count).sum::<u64>(), 5);
    assert_eq!(t.iter().map(|r| r.repaid).sum::<u64>(), 2);
    // The matrix escalates 90+ whatever the band: borrower 5 (120 dpd at T).
    let escalated = t.iter().find(|r| r.name == "escalated").unwrap();
    assert!(escalated.count >= 1);
}

#[test]
fn rejects_a_snapshot_whose_horizon_is_past_the_ledger() {
    let w = Workdir::new();
    hand_ledger(&w);
    // 2025-04-20 + 30 = 2025-05-20, after the last payment 2025-05-15.
    let o = hand_backtest(&w, "2025-04-20", &[]);
    assert_exit(&o, 64);
    let e = stderr(&o);
    assert!(
        e.contains("2025-04-20") && e.contains("2025-05-15") && e.contains("2025-04-15"),
        "{e}"
    );
    assert!(!w.path("bt").exists(), "nothing written");
    // The last date that fits works.
    assert_exit(&hand_backtest(&w, "2025-04-15", &[]), 0);
}

#[test]
fn bad_arguments_give_the_documented_exit_codes() {
    let w = Workdir::new();
    hand_ledger(&w);
    // A missing model: 78, naming the file.
    let o = w.run(&[
        "backtest",
        "--model",
        "nowhere",
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-03-31",
        "--out",
        "bt",
    ]);
    assert_exit(&o, 78);
    assert!(
        stderr(&o).contains("nowhere: cannot read the model"),
        "{}",
        stderr(&o)
    );
    // A broken strategy: 78, naming the file.
    std::fs::write(w.path("bad.toml"), "version = 3\n").unwrap();
    let o = hand_backtest(&w, "2025-03-31", &["--strategy", "bad.toml"]);
    assert_exit(&o, 78);
    assert!(stderr(&o).contains("bad.toml"), "{}", stderr(&o));
    // A missing input file: 65, naming it.
    let model = dpd_model(&w);
    let o = w.run(&[
        "backtest",
        "--model",
        &model,
        "--schedule",
        "missing.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-03-31",
        "--out",
        "bt",
    ]);
    assert_exit(&o, 65);
    assert!(stderr(&o).contains("missing.parquet"), "{}", stderr(&o));
    // A model needing features the inputs lack (the default model needs
    // contacts and income): 78, naming the model.
    let default = repo("models/default");
    let o = w.run(&[
        "backtest",
        "--model",
        &default,
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-03-31",
        "--out",
        "bt",
    ]);
    assert_exit(&o, 78);
    assert!(stderr(&o).contains("model.json"), "{}", stderr(&o));
    // Usage: no --as-of, a malformed date, a bad horizon, one --model for compare.
    let o = w.run(&[
        "backtest",
        "--model",
        &model,
        "--schedule",
        "schedule.parquet",
    ]);
    assert_exit(&o, 64);
    assert_exit(&hand_backtest(&w, "2025-13-01", &[]), 64);
    assert_exit(
        &hand_backtest(&w, "2025-03-31", &["--horizon-days", "0"]),
        64,
    );
    let o = w.run(&[
        "compare",
        "--model",
        &model,
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--as-of",
        "2025-03-31",
        "--out",
        "cmp",
    ]);
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("exactly two"), "{}", stderr(&o));
    assert!(!w.path("bt").exists() && !w.path("cmp").exists());
}

/// `dunning train` writes report.json beside model.json: the validation
/// rows' evaluation, naming model.json by its sha256.
#[test]
fn train_writes_the_validation_report() {
    let w = Workdir::new();
    let o = w.run(&[
        "generate",
        "--borrowers",
        "600",
        "--seed",
        "9",
        "--out",
        "gen",
    ]);
    assert_exit(&o, 0);
    let o = w.run(&[
        "train",
        "--schedule",
        "gen/schedule.parquet",
        "--payments",
        "gen/payments.parquet",
        "--as-of",
        "2025-10-31",
        "--as-of",
        "2025-11-30",
        "--binning",
        "woe",
        "--out",
        "models/w",
    ]);
    assert_exit(&o, 0);
    let model = dunning::model::Model::load(&w.path("models/w/model.json")).unwrap();
    let r: ValidationReport = read_json(&w.path("models/w/report.json"));
    assert_eq!(r.kind, "validation");
    let bytes = std::fs::read(w.path("models/w/model.json")).unwrap();
    let sha = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(r.model.sha256, sha);
    assert_eq!(r.model.version, model.version);
    // The same rows as model.json's validation metrics.
    assert_eq!(r.evaluation.metrics.as_ref(), Some(&model.validation));
    assert_eq!(r.evaluation.count, model.training.validation_rows);
    // A WoE model: one bin table per feature, shares summing to 1.
    assert_eq!(r.woe_bins.len(), model.features.len());
    for f in &r.woe_bins {
        let total: f64 = f.bins.iter().map(|b| b.share).sum();
        assert!((total - 1.0).abs() < 1e-9, "{}: {total}", f.feature);
    }
}

/// models/default/report.json and report.html are what `dunning train`
/// writes for the committed model: retraining with the README's command (and
/// the committed model's creation time) gives model.json's exact bytes, and
/// its report and page are the committed ones. `DUNNING_BLESS=1` rewrites
/// them.
#[test]
fn default_model_report_is_current() {
    use dunning::contract::{InputPaths, LoadOptions};
    use dunning::jobs::train::{run, TrainInput, TrainJobOptions};
    use dunning::ledger::{SnapshotOptions, DEFAULT_TOLERANCE};
    use dunning::model::fit::FitOptions;
    use dunning::model::train::TrainOptions;
    use dunning::model::{Model, Scaling, Transform};
    let committed_model = std::fs::read(repo("models/default/model.json")).unwrap();
    let committed = Model::load(std::path::Path::new(&repo("models/default/model.json"))).unwrap();
    let w = Workdir::new();
    let out = w.path("default");
    let path = |t: &str| std::path::PathBuf::from(sample(t));
    let opts = TrainJobOptions {
        input: TrainInput::Ledger {
            inputs: InputPaths {
                schedule: path("schedule"),
                payments: path("payments"),
                borrowers: Some(path("borrowers")),
                contacts: Some(path("contacts")),
                labels: None,
            },
            snapshots: SnapshotOptions {
                as_of: ["2025-09-30", "2025-10-31", "2025-11-30"]
                    .iter()
                    .map(|d| day(d))
                    .collect(),
                horizon_days: 30,
                tolerance: DEFAULT_TOLERANCE,
            },
            load: LoadOptions {
                attributes: vec!["income".into()],
                strict: false,
                ..LoadOptions::default()
            },
            data_end: None,
        },
        out_dir: out.clone(),
        train: TrainOptions {
            name: committed.name.clone(),
            version: committed.version.clone(),
            created_at: committed.created_at.clone(),
            fit: FitOptions::default(),
            validation_share: 0.2,
            validate_as_of: None,
            seed: 42,
            features: None,
            transform: Transform::Standardize,
            scaling: Scaling::default(),
        },
    };
    run(&opts).unwrap();
    let model = std::fs::read(out.join("model.json")).unwrap();
    assert!(
        model == committed_model,
        "retraining no longer gives models/default/model.json; retrain it (README) and bless"
    );
    for file in ["report.json", "report.html"] {
        let report = std::fs::read_to_string(out.join(file)).unwrap();
        let dest = repo(&format!("models/default/{file}"));
        if std::env::var_os("DUNNING_BLESS").is_some() {
            std::fs::write(&dest, &report).unwrap();
        }
        let want = std::fs::read_to_string(&dest).unwrap_or_default();
        assert!(
            report == want,
            "models/default/{file} is stale: DUNNING_BLESS=1 cargo test --test backtest_cli"
        );
    }
}
