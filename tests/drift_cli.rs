//! Population drift in the nightly run, end to end: the manifest's `drift`
//! section on the committed sample, and a shifted population (generated
//! with `--profile stressed`) that warns, fails when a fail threshold is
//! configured, and then publishes nothing.
//!
//! The PSI values of the manifest are recomputed here from the model's
//! stored distributions and from what the night scored (the `score` column
//! of scored.parquet, and the feature table `dunning features` builds for
//! the same night), with a separate implementation: bins by counting the
//! edges below a value, shares floored at 1e-4.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray};
use common::*;
use serde_json::Value;

/// The documented share floor.
const FLOOR: f64 = 1e-4;

/// PSI of `values` against a stored distribution `{edges, shares}`:
/// bin i holds v when `edges[i-1] < v <= edges[i]`.
fn psi_of(dist: &Value, values: &[f64]) -> f64 {
    let edges: Vec<f64> = serde_json::from_value(dist["edges"].clone()).unwrap();
    let expected: Vec<f64> = serde_json::from_value(dist["shares"].clone()).unwrap();
    let mut counts = vec![0u64; edges.len() + 1];
    for &v in values {
        counts[edges.iter().filter(|&&e| e < v).count()] += 1;
    }
    let n = values.len() as f64;
    counts
        .iter()
        .zip(&expected)
        .map(|(&c, &e)| {
            let a = (c as f64 / n).max(FLOOR);
            let e = e.max(FLOOR);
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Summing ten terms in the same order as dunning, with `ln` of the same
/// arguments: the two agree to rounding, well within 1e-12.
fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() < 1e-12,
        "{what}: manifest {got}, recomputed {want}"
    );
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run(w: &Workdir, args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    w.run(&refs)
}

/// `dunning run` with the default model and strategy on the ledger in
/// `inputs` (a directory of the four tables), with `extra` appended.
fn night(inputs: &str, out: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "run".into(),
        "--model".into(),
        repo("models/default"),
        "--strategy".into(),
        repo("strategies/default.toml"),
    ];
    for t in ["schedule", "payments", "borrowers", "contacts"] {
        v.push(format!("--{t}"));
        v.push(format!("{inputs}/{t}.parquet"));
    }
    v.extend(["--as-of", "2025-12-31", "--out", out].map(String::from));
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn scores(dir: &Path) -> Vec<f64> {
    let t = read_parquet(&dir.join("scored.parquet"));
    let s = t
        .column_by_name("score")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int32Type>();
    s.values().iter().map(|&v| f64::from(v)).collect()
}

/// Every file of a directory tree with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        out.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path()).unwrap(),
        );
    }
    out
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The manifest's drift section is consistent with itself: counts add up
/// to the rows scored, shares are the counts over the rows, statuses follow
/// the thresholds, and the items are the score then the model's features.
fn check_section(d: &Value, model: &Value, scored: u64) {
    assert_eq!(d["rows"].as_u64(), Some(scored));
    assert_eq!(d["share_floor"].as_f64(), Some(FLOOR));
    let warn = d["thresholds"]["warn_above"].as_f64().unwrap();
    let fail = d["thresholds"]["fail_above"].as_f64();
    let mut items = vec![&d["score"]];
    items.extend(d["features"].as_array().unwrap());
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    let mut want = vec!["score"];
    want.extend(
        model["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap()),
    );
    assert_eq!(names, want);
    let mut worst = "ok";
    for i in items {
        let counts: Vec<u64> = serde_json::from_value(i["counts"].clone()).unwrap();
        assert_eq!(
            counts.iter().sum::<u64>() + i["missing"].as_u64().unwrap(),
            scored
        );
        let psi = i["psi"].as_f64().unwrap();
        let status = if fail.is_some_and(|f| psi > f) {
            "fail"
        } else if psi > warn {
            "warn"
        } else {
            "ok"
        };
        assert_eq!(i["status"], status, "{}", i["name"]);
        if status == "fail" || (status == "warn" && worst == "ok") {
            worst = status;
        }
    }
    assert_eq!(d["status"], worst);
}

#[test]
fn the_sample_night_records_its_drift_and_the_values_can_be_recomputed() {
    let w = Workdir::new();
    let o = run(&w, &night(&repo("data/sample"), "out", &[]));
    assert_exit(&o, 0);
    let dir = w.path("out/2025-12-31");
    let m = json(&dir.join("manifest.json"));
    let model = json(Path::new(&repo("models/default/model.json")));
    let d = &m["drift"];
    let scored = m["scored"].as_u64().unwrap();
    check_section(d, &model, scored);
    assert_eq!(d["thresholds"]["warn_above"].as_f64(), Some(0.1));
    assert!(
        d["thresholds"]["fail_above"].is_null(),
        "warn-only by default"
    );

    // The score's PSI from scored.parquet and the model's score distribution.
    let s = scores(&dir);
    assert_eq!(s.len() as u64, scored);
    assert_close(
        d["score"]["psi"].as_f64().unwrap(),
        psi_of(&model["score_distribution"], &s),
        "score",
    );

    // Each feature's CSI from the night's feature table (the same population).
    let mut args: Vec<String> = vec!["features".into()];
    for t in ["schedule", "payments", "borrowers", "contacts"] {
        args.push(format!("--{t}"));
        args.push(sample(t));
    }
    args.extend(
        [
            "--as-of",
            "2025-12-31",
            "--attributes",
            "income",
            "--out",
            "f.parquet",
        ]
        .map(String::from),
    );
    assert_exit(&run(&w, &args), 0);
    let f = read_parquet(&w.path("f.parquet"));
    assert_eq!(f.num_rows() as u64, scored, "the scored population");
    for (k, feature) in model["features"].as_array().unwrap().iter().enumerate() {
        let name = feature["name"].as_str().unwrap();
        let col = f.column_by_name(name).unwrap();
        let col = col.as_primitive::<arrow::datatypes::Float64Type>();
        assert_eq!(col.null_count(), 0);
        let item = &d["features"][k];
        assert_close(
            item["psi"].as_f64().unwrap(),
            psi_of(&feature["distribution"], col.values()),
            name,
        );
    }

    // The sample's night is the training population a month on: the score
    // and every feature are stable (PSI below 0.1) but one.
    // months_since_first_due warns (about 0.16): the generator originates
    // loans up to a month before its end date, so on 2025-12-31 no borrower
    // is new (its lowest bin, 0.39 months or less, holds about 10% of the
    // training rows but 2% tonight), and the whole book is older than in
    // the training snapshots (September to November). A real shift, which
    // the check is right to report.
    let aged = "months_since_first_due";
    let psi = |i: &Value| i["psi"].as_f64().unwrap();
    assert!(psi(&d["score"]) < 0.1, "{}", d["score"]);
    for f in d["features"].as_array().unwrap() {
        if f["name"] == aged {
            assert!((0.1..0.25).contains(&psi(f)), "{f}");
            assert!(f["actual"][0].as_f64().unwrap() < 0.05, "{f}");
            assert!(f["expected"][0].as_f64().unwrap() > 0.09, "{f}");
        } else {
            assert!(psi(f) < 0.1, "{f}");
        }
    }
    assert_eq!(d["status"], "warn");
    let stderr = stderr(&o);
    assert_eq!(stderr.matches("drift: PSI of").count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("drift: PSI of feature `{aged}` is 0.16")),
        "{stderr}"
    );
    assert!(stderr.contains("drift warn: score PSI 0.018"), "{stderr}");
}

#[test]
fn a_stressed_population_warns_and_fails_when_configured_publishing_nothing() {
    let w = Workdir::new();
    let g = w.run(&[
        "generate",
        "--borrowers",
        "3000",
        "--seed",
        "7",
        "--profile",
        "stressed",
        "--out",
        "stressed",
    ]);
    assert_exit(&g, 0);
    let inputs = w.path("stressed").display().to_string();
    let model = json(Path::new(&repo("models/default/model.json")));

    // Warn-only (the default): the night is published, each drifted item
    // is named on standard error, and the manifest records the drift.
    let o = run(&w, &night(&inputs, "out", &[]));
    assert_exit(&o, 0);
    let dir = w.path("out/2025-12-31");
    let m = json(&dir.join("manifest.json"));
    let d = m["drift"].clone();
    check_section(&d, &model, m["scored"].as_u64().unwrap());
    assert_eq!(d["status"], "warn");
    assert_close(
        d["score"]["psi"].as_f64().unwrap(),
        psi_of(&model["score_distribution"], &scores(&dir)),
        "score",
    );
    let items: Vec<Value> = std::iter::once(d["score"].clone())
        .chain(d["features"].as_array().unwrap().iter().cloned())
        .collect();
    let above = |x: f64| -> Vec<String> {
        items
            .iter()
            .filter(|i| i["psi"].as_f64().unwrap() > x)
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    };
    let warned = above(0.1);
    let failing = above(0.25);
    assert!(
        failing.contains(&"score".to_string()) && failing.contains(&"income".to_string()),
        "the stressed population moves the score and incomes: {failing:?}"
    );
    let err = stderr(&o);
    for name in &warned {
        let what = if name == "score" {
            "PSI of the score is".to_string()
        } else {
            format!("PSI of feature `{name}` is")
        };
        assert!(err.contains(&what), "{what} not in:\n{err}");
    }
    assert_eq!(err.matches("drift: PSI of").count(), warned.len(), "{err}");
    let published = snapshot(&dir);

    // With a fail threshold: exit 65 naming every item above it, and the
    // previous night's files stay as they were.
    let refused = |o: &std::process::Output, what: &str| {
        assert_exit(o, 65);
        let err = stderr(o);
        assert!(err.contains("population drift"), "{what}: {err}");
        for name in &failing {
            assert!(
                err.contains(&format!("{name} (")),
                "{what}: {name} not in {err}"
            );
        }
        assert_eq!(snapshot(&dir), published, "{what}: the night changed");
        assert_eq!(
            listing(&w.path("out")),
            [".2025-12-31.lock", "2025-12-31"],
            "{what}: something was left behind"
        );
    };
    let o = run(&w, &night(&inputs, "out", &["--drift-fail-above", "0.25"]));
    refused(&o, "flag");
    // The same from a config file, and with partitions in one process.
    std::fs::write(
        w.path("nightly.toml"),
        "drift_warn_above = 0.1\ndrift_fail_above = 0.25\n",
    )
    .unwrap();
    let o = run(&w, &night(&inputs, "out", &["--config", "nightly.toml"]));
    refused(&o, "config");
    let o = run(
        &w,
        &night(
            &inputs,
            "out",
            &["--drift-fail-above", "0.25", "--partitions", "3"],
        ),
    );
    refused(&o, "partitions");
    // A flag wins over the config: `off` publishes (with warnings).
    let o = run(
        &w,
        &night(
            &inputs,
            "out2",
            &["--config", "nightly.toml", "--drift-fail-above", "off"],
        ),
    );
    assert_exit(&o, 0);
    assert_eq!(json(&w.path("out2/2025-12-31/manifest.json"))["drift"], d);

    // Sharded: each partition publishes its share (drift is judged on the
    // whole night), and combine refuses to publish the night.
    for i in ["0", "1"] {
        let o = run(
            &w,
            &night(
                &inputs,
                "multi",
                &[
                    "--drift-fail-above",
                    "0.25",
                    "--partitions",
                    "2",
                    "--partition",
                    i,
                ],
            ),
        );
        assert_exit(&o, 0);
        let part = json(&w.path(&format!("multi/2025-12-31.part-{i}-of-2/manifest.json")));
        assert_eq!(
            part["drift"]["thresholds"]["fail_above"].as_f64(),
            Some(0.25)
        );
    }
    let combine = |extra: &[&str]| {
        let mut args = vec![
            "combine".to_string(),
            "--strategy".into(),
            repo("strategies/default.toml"),
        ];
        args.extend(
            [
                "--out",
                "multi",
                "--as-of",
                "2025-12-31",
                "--partitions",
                "2",
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        run(&w, &args)
    };
    let o = combine(&[]);
    assert_exit(&o, 65);
    for name in &failing {
        assert!(stderr(&o).contains(&format!("{name} (")), "{}", stderr(&o));
    }
    assert!(!w.path("multi/2025-12-31").exists());
    // Overriding the threshold at combine publishes; the summed counts give
    // exactly the single run's drift section.
    assert_exit(&combine(&["--drift-fail-above", "off"]), 0);
    assert_eq!(json(&w.path("multi/2025-12-31/manifest.json"))["drift"], d);
}

#[test]
fn rejects_bad_drift_thresholds() {
    let w = Workdir::new();
    let sample = repo("data/sample");
    for (extra, key) in [
        (vec!["--drift-fail-above", "sometimes"], "drift-fail-above"),
        (vec!["--drift-fail-above=-1"], "drift-fail-above"),
        (
            vec!["--drift-warn-above", "0.3", "--drift-fail-above", "0.2"],
            "drift_fail_above (0.2) is below drift_warn_above (0.3)",
        ),
        (vec!["--drift-warn-above", "0"], "drift_warn_above"),
    ] {
        let o = run(&w, &night(&sample, "out", &extra));
        assert_exit(&o, 64);
        assert!(stderr(&o).contains(key), "{extra:?}: {}", stderr(&o));
    }
    for (text, key) in [
        ("drift_fail_above = \"sometimes\"", "drift_fail_above"),
        ("drift_warn_above = -0.1", "drift_warn_above"),
        ("drift_fail_above = true", "drift_fail_above"),
    ] {
        std::fs::write(w.path("bad.toml"), text).unwrap();
        let o = run(&w, &night(&sample, "out", &["--config", "bad.toml"]));
        assert_exit(&o, 78);
        let err = stderr(&o);
        assert!(
            err.contains("bad.toml") && err.contains(key),
            "{text}: {err}"
        );
    }
    assert!(!w.path("out").exists());
}
