//! `dunning train` and `dunning score` end to end on the committed sample.

mod common;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int32Type};
use common::*;
use dunning::model::Model;

fn train(w: &Workdir, out: &str, extra: &[&str]) -> std::process::Output {
    let (s, p, b, c) = (
        sample("schedule"),
        sample("payments"),
        sample("borrowers"),
        sample("contacts"),
    );
    let mut args = vec![
        "train",
        "--schedule",
        &s,
        "--payments",
        &p,
        "--borrowers",
        &b,
        "--contacts",
        &c,
        "--as-of",
        "2025-09-30",
        "--as-of",
        "2025-10-31",
        "--as-of",
        "2025-11-30",
        "--attributes",
        "income",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    w.run(&args)
}

fn score(w: &Workdir, model: &str, out: &str, threads: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dunning"))
        .args(["score", "--model", model])
        .args(sample_inputs())
        .args(["--as-of", "2025-12-31", "--out", out])
        .current_dir(w.root())
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap()
}

#[test]
fn train_then_score_on_the_sample() {
    let w = Workdir::new();
    assert_exit(&train(&w, "models/m", &[]), 0);
    let model = Model::load(&w.path("models/m/model.json")).unwrap();
    assert!(w.path("models/m/model-card.md").exists());
    // model.json round-trips through serde.
    let again: Model = serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
    assert_eq!(again, model);
    assert!(model.validation.auc > 0.7, "AUC {}", model.validation.auc);
    assert_eq!(model.bands.len(), 5);

    // Same seed: same coefficients.
    assert_exit(&train(&w, "models/m2", &[]), 0);
    let m2 = Model::load(&w.path("models/m2/model.json")).unwrap();
    for (a, b) in model.features.iter().zip(&m2.features) {
        assert_eq!(a.name, b.name);
        assert!((a.coefficient - b.coefficient).abs() < 1e-9);
    }

    // Scores: identical for 1, 2 and 8 threads, and on re-running.
    for (t, out) in [
        ("1", "s1.parquet"),
        ("2", "s2.parquet"),
        ("8", "s8.parquet"),
    ] {
        assert_exit(&score(&w, "models/m", out, t), 0);
    }
    let s1 = std::fs::read(w.path("s1.parquet")).unwrap();
    assert_eq!(s1, std::fs::read(w.path("s2.parquet")).unwrap());
    assert_eq!(s1, std::fs::read(w.path("s8.parquet")).unwrap());

    let t = read_parquet(&w.path("s1.parquet"));
    let schema = t.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "borrower_id",
            "as_of",
            "p_repay",
            "score",
            "risk_band",
            "dpd",
            "dpd_bucket",
            "overdue_amount",
            "reason_1",
            "reason_2",
            "reason_3",
            "model_version"
        ]
    );
    assert_eq!(
        t.schema().field_with_name("score").unwrap().data_type(),
        &DataType::Int32
    );
    let meta = footer_metadata(&w.path("s1.parquet"));
    assert_eq!(
        meta.get("dunning.model_name").map(String::as_str),
        Some("m")
    );
    assert_eq!(
        meta.get("dunning.as_of").map(String::as_str),
        Some("2025-12-31")
    );
    assert_eq!(meta.get("dunning.model_sha256").map(String::len), Some(64));
    let p = t
        .column_by_name("p_repay")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert!(p.values().iter().all(|v| (0.0..=1.0).contains(v)));
    let ids = t
        .column_by_name("borrower_id")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    assert!(
        ids.values().windows(2).all(|w| w[0] < w[1]),
        "sorted by borrower_id"
    );
    // Reason codes: features that lower the score, known to the model.
    let r1 = t.column_by_name("reason_1").unwrap().as_string::<i32>();
    let known: Vec<&str> = model.features.iter().map(|f| f.name.as_str()).collect();
    assert!((0..r1.len())
        .filter(|&k| r1.is_valid(k))
        .all(|k| known.contains(&r1.value(k))));
    assert!(r1.null_count() < r1.len());
    // Higher scores, higher p_repay; score = offset + factor * ln(odds).
    let s = t
        .column_by_name("score")
        .unwrap()
        .as_primitive::<Int32Type>();
    for k in 0..t.num_rows() {
        let odds = p.value(k) / (1.0 - p.value(k));
        assert!(
            (f64::from(s.value(k)) - (model.scaling.offset + model.scaling.factor * odds.ln()))
                .abs()
                <= 0.5 + 1e-9
        );
    }
}

#[test]
fn woe_scorecard_trains_and_scores() {
    let w = Workdir::new();
    assert_exit(&train(&w, "models/woe", &["--binning", "woe"]), 0);
    let model = Model::load(&w.path("models/woe/model.json")).unwrap();
    assert!(model.features.iter().all(|f| f.woe.is_some()));
    assert!(model.validation.auc > 0.7, "AUC {}", model.validation.auc);
    assert_exit(&score(&w, "models/woe", "s.parquet", "2"), 0);
}

/// Expects `dunning score` with `model` to fail with exit 78, mentioning `needle`, writing nothing.
fn expect_bad_model(setup: impl FnOnce(&Workdir), needle: &str) {
    let w = Workdir::new();
    setup(&w);
    let o = score(&w, "models/x", "out.parquet", "2");
    assert_exit(&o, 78);
    assert!(
        stderr(&o).contains(needle),
        "expected {needle:?} in {}",
        stderr(&o)
    );
    assert!(!w.path("out.parquet").exists());
}

#[test]
fn rejects_missing_model() {
    expect_bad_model(|_| {}, "cannot read the model");
}

#[test]
fn rejects_corrupt_model() {
    expect_bad_model(
        |w| {
            std::fs::create_dir_all(w.path("models/x")).unwrap();
            std::fs::write(
                w.path("models/x/model.json"),
                "{\"format_version\": 1, \"name\": ",
            )
            .unwrap();
        },
        "not a valid model.json",
    );
}

#[test]
fn rejects_future_format_version() {
    expect_bad_model(
        |w| {
            assert_exit(&train(w, "models/x", &[]), 0);
            let p = w.path("models/x/model.json");
            let text = std::fs::read_to_string(&p).unwrap().replacen(
                "\"format_version\": 1",
                "\"format_version\": 99",
                1,
            );
            std::fs::write(&p, text).unwrap();
        },
        "format version 99",
    );
}

#[test]
fn rejects_model_whose_features_the_inputs_lack() {
    expect_bad_model(
        |w| {
            assert_exit(&train(w, "models/x", &[]), 0);
            let p = w.path("models/x/model.json");
            let text = std::fs::read_to_string(&p).unwrap().replacen(
                "\"name\": \"dpd\"",
                "\"name\": \"shoe_size\"",
                1,
            );
            std::fs::write(&p, text).unwrap();
        },
        "shoe_size",
    );
}

#[test]
fn committed_default_model_scores_the_sample() {
    // `dunning score` with the committed model on the sample.
    let w = Workdir::new();
    let model = repo("models/default");
    assert_exit(&score(&w, &model, "scored.parquet", "2"), 0);
    let t = read_parquet(&w.path("scored.parquet"));
    assert!(t.num_rows() > 1000);
}

#[test]
fn trains_from_a_feature_table() {
    let w = Workdir::new();
    let (s, p, b, c) = (
        sample("schedule"),
        sample("payments"),
        sample("borrowers"),
        sample("contacts"),
    );
    let o = w.run(&[
        "features",
        "--schedule",
        &s,
        "--payments",
        &p,
        "--borrowers",
        &b,
        "--contacts",
        &c,
        "--as-of",
        "2025-10-31",
        "--as-of",
        "2025-11-30",
        "--out",
        "f.parquet",
    ]);
    assert_exit(&o, 0);
    let o = w.run(&[
        "train",
        "--features",
        "f.parquet",
        "--validate-as-of",
        "2025-11-30",
        "--out",
        "models/ft",
    ]);
    assert_exit(&o, 0);
    let m = Model::load(&w.path("models/ft/model.json")).unwrap();
    assert_eq!(m.training.horizon_days, Some(30));
    assert!(m.training.split.starts_with("out of time"));
    assert_eq!(m.training.as_of, ["2025-10-31", "2025-11-30"]);
    assert!(m.validation.auc > 0.7);
    // Flags and keys are not features.
    assert!(m
        .features
        .iter()
        .all(|f| !["hardship", "repaid", "as_of"].contains(&f.name.as_str())));
}

/// Acceptance: on a freshly generated population (another seed than the
/// training one), the model ranks within 0.02 AUC of the true probabilities,
/// and its deciles are calibrated within 0.08.
#[test]
fn ranks_close_to_the_truth_on_new_borrowers() {
    let w = Workdir::new();
    for (seed, dir) in [("7", "a"), ("8", "b")] {
        assert_exit(
            &w.run(&[
                "generate",
                "--borrowers",
                "12000",
                "--seed",
                seed,
                "--out",
                dir,
            ]),
            0,
        );
    }
    let o = w.run(&[
        "train",
        "--schedule",
        "a/schedule.parquet",
        "--payments",
        "a/payments.parquet",
        "--contacts",
        "a/contacts.parquet",
        "--as-of",
        "2025-09-30",
        "--as-of",
        "2025-10-31",
        "--as-of",
        "2025-11-30",
        "--binning",
        "woe",
        "--out",
        "m",
    ]);
    assert_exit(&o, 0);
    let o = w.run(&[
        "score",
        "--model",
        "m",
        "--schedule",
        "b/schedule.parquet",
        "--payments",
        "b/payments.parquet",
        "--contacts",
        "b/contacts.parquet",
        "--as-of",
        "2025-11-30",
        "--out",
        "s.parquet",
    ]);
    assert_exit(&o, 0);
    let o = w.run(&[
        "features",
        "--schedule",
        "b/schedule.parquet",
        "--payments",
        "b/payments.parquet",
        "--as-of",
        "2025-11-30",
        "--out",
        "f.parquet",
    ]);
    assert_exit(&o, 0);
    let ids = |t: &arrow::array::RecordBatch| {
        t.column_by_name("borrower_id")
            .unwrap()
            .as_primitive::<arrow::datatypes::Int64Type>()
            .values()
            .to_vec()
    };
    let s = read_parquet(&w.path("s.parquet"));
    let f = read_parquet(&w.path("f.parquet"));
    let truth = read_parquet(&w.path("b/truth.parquet"));
    assert_eq!(ids(&s), ids(&f), "same population");
    let y: Vec<bool> = (0..f.num_rows())
        .map(|k| f.column_by_name("repaid").unwrap().as_boolean().value(k))
        .collect();
    let p = s
        .column_by_name("p_repay")
        .unwrap()
        .as_primitive::<Float64Type>()
        .values()
        .to_vec();
    let truth_ids = ids(&truth);
    let truth_p = truth
        .column_by_name("p_repay")
        .unwrap()
        .as_primitive::<Float64Type>();
    let pt: Vec<f64> = ids(&s)
        .iter()
        .map(|id| truth_p.value(truth_ids.binary_search(id).unwrap()))
        .collect();
    let m = dunning::model::metrics::evaluate(&p, &y).unwrap();
    let t = dunning::model::metrics::auc(&pt, &y).unwrap();
    assert!(
        (m.auc - t).abs() <= 0.02,
        "model AUC {} vs truth AUC {t}",
        m.auc
    );
    let worst = m
        .calibration
        .iter()
        .map(|b| (b.mean_predicted - b.observed_rate).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 0.08, "calibration off by {worst} in a decile");
}

#[test]
fn rejects_model_needing_an_attribute_without_a_borrowers_table() {
    // models/default uses `income`: scoring without --borrowers is a model/input mismatch.
    let w = Workdir::new();
    let model = repo("models/default");
    let (s, p, c) = (sample("schedule"), sample("payments"), sample("contacts"));
    let o = w.run(&[
        "score",
        "--model",
        &model,
        "--schedule",
        &s,
        "--payments",
        &p,
        "--contacts",
        &c,
        "--as-of",
        "2025-12-31",
        "--out",
        "out.parquet",
    ]);
    assert_exit(&o, 78);
    assert!(
        stderr(&o).contains("income") && stderr(&o).contains("--borrowers"),
        "{}",
        stderr(&o)
    );
    assert!(!w.path("out.parquet").exists());
}
