//! `dunning run`, the nightly job, end to end on the committed sample.

mod common;

use std::collections::HashSet;

use arrow::array::AsArray;
use common::*;

fn nightly(w: &Workdir, strategy: &str, out: &str) -> std::process::Output {
    let (s, p, b, c) = (
        sample("schedule"),
        sample("payments"),
        sample("borrowers"),
        sample("contacts"),
    );
    let model = repo("models/default");
    w.run(&[
        "run",
        "--model",
        &model,
        "--strategy",
        strategy,
        "--schedule",
        &s,
        "--payments",
        &p,
        "--borrowers",
        &b,
        "--contacts",
        &c,
        "--as-of",
        "2025-12-31",
        "--out",
        out,
    ])
}

#[test]
fn nightly_run_writes_scores_treatments_and_a_manifest() {
    let w = Workdir::new();
    let strategy = repo("strategies/default.toml");
    assert_exit(&nightly(&w, &strategy, "out"), 0);
    let dir = w.path("out/2025-12-31");
    let first = std::fs::read(dir.join("scored.parquet")).unwrap();
    // A re-run of the same night gives the same bytes, and leaves no lock.
    assert_exit(&nightly(&w, &strategy, "out"), 0);
    assert_eq!(first, std::fs::read(dir.join("scored.parquet")).unwrap());
    assert!(!dir.join(".dunning.lock").exists());

    let t = read_parquet(&dir.join("scored.parquet"));
    let ids = t
        .column_by_name("borrower_id")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    let unique: HashSet<i64> = ids.values().iter().copied().collect();
    assert_eq!(unique.len(), t.num_rows(), "every borrower once");
    let treatment = t.column_by_name("treatment").unwrap().as_string::<i32>();
    assert!(
        (0..t.num_rows()).all(|k| ["soft", "standard", "escalated"].contains(&treatment.value(k)))
    );
    let arm = t.column_by_name("arm").unwrap().as_string::<i32>();
    assert!(
        (0..t.num_rows()).all(|k| arm.value(k) == "champion"),
        "no challenger in the default strategy"
    );

    // Disputed borrowers are never contactable.
    let borrowers = read_parquet(std::path::Path::new(&repo("data/sample/borrowers.parquet")));
    let bid = borrowers
        .column_by_name("borrower_id")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    let dispute = borrowers.column_by_name("dispute").unwrap().as_boolean();
    let disputed: HashSet<i64> = (0..borrowers.num_rows())
        .filter(|&k| dispute.value(k))
        .map(|k| bid.value(k))
        .collect();
    let allowed = t.column_by_name("contact_allowed").unwrap().as_boolean();
    let rule = t
        .column_by_name("treatment_rule")
        .unwrap()
        .as_string::<i32>();
    let mut seen_dispute = 0;
    for k in 0..t.num_rows() {
        if disputed.contains(&ids.value(k)) {
            seen_dispute += 1;
            assert!(!allowed.value(k) && rule.value(k).contains("dispute"));
        }
    }
    assert!(
        seen_dispute > 0,
        "the sample has disputed borrowers in the population"
    );

    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["status"], "ok");
    assert_eq!(m["scored"].as_u64().unwrap() as usize, t.num_rows());
    assert_eq!(m["run_id"].as_str().unwrap().len(), 16);
    let run_id = t.column_by_name("run_id").unwrap().as_string::<i32>();
    assert_eq!(run_id.value(0), m["run_id"].as_str().unwrap());
    let by_treatment: u64 = m["by_treatment"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_treatment as usize, t.num_rows());
    assert_eq!(m["inputs"].as_array().unwrap().len(), 4);
    assert_eq!(m["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn a_second_run_on_the_same_directory_refuses() {
    let w = Workdir::new();
    let dir = w.path("out/2025-12-31");
    std::fs::create_dir_all(&dir).unwrap();
    // A lock held by a live process (this test).
    std::fs::write(
        dir.join(".dunning.lock"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    let o = nightly(&w, &repo("strategies/default.toml"), "out");
    assert_exit(&o, 75);
    assert!(stderr(&o).contains("another dunning run"), "{}", stderr(&o));
    assert!(!dir.join("scored.parquet").exists());
    // A stale lock (no such process) is taken over.
    std::fs::write(dir.join(".dunning.lock"), "4000000000\n").unwrap();
    assert_exit(&nightly(&w, &repo("strategies/default.toml"), "out"), 0);
    assert!(dir.join("scored.parquet").exists() && !dir.join(".dunning.lock").exists());
}

#[test]
fn rejects_a_broken_strategy() {
    let w = Workdir::new();
    let text = std::fs::read_to_string(repo("strategies/default.toml"))
        .unwrap()
        .replacen("min_dpd = 30", "min_dpd = 31", 1);
    std::fs::write(w.path("s.toml"), text).unwrap();
    let o = nightly(&w, "s.toml", "out");
    assert_exit(&o, 78);
    assert!(
        stderr(&o).contains("s.toml, line") && stderr(&o).contains("gap"),
        "{}",
        stderr(&o)
    );
    assert!(!w.path("out/2025-12-31/scored.parquet").exists());
}

#[test]
fn config_file_with_flags_winning() {
    let w = Workdir::new();
    // The example config runs the sample; --out overrides its `out`.
    let o = w.run(&[
        "run",
        "--config",
        &repo("data/nightly.toml"),
        "--out",
        "here",
    ]);
    assert_exit(&o, 0);
    assert!(w.path("here/2025-12-31/scored.parquet").exists());
    // Same bytes as the all-flags run.
    assert_exit(&nightly(&w, &repo("strategies/default.toml"), "flags"), 0);
    assert_eq!(
        std::fs::read(w.path("here/2025-12-31/scored.parquet")).unwrap(),
        std::fs::read(w.path("flags/2025-12-31/scored.parquet")).unwrap()
    );
    // Unknown keys and missing required keys are errors.
    std::fs::write(w.path("bad.toml"), "modle = \"x\"\n").unwrap();
    let o = w.run(&["run", "--config", "bad.toml"]);
    assert_exit(&o, 78);
    assert!(
        stderr(&o).contains("bad.toml") && stderr(&o).contains("modle"),
        "{}",
        stderr(&o)
    );
    std::fs::write(w.path("partial.toml"), "as_of = \"2025-12-31\"\n").unwrap();
    let o = w.run(&["run", "--config", "partial.toml"]);
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("--model"), "{}", stderr(&o));
}

#[test]
fn a_failure_before_the_rename_leaves_the_previous_night_intact() {
    let w = Workdir::new();
    let strategy = repo("strategies/default.toml");
    assert_exit(&nightly(&w, &strategy, "out"), 0);
    let dir = w.path("out/2025-12-31");
    let before = std::fs::read(dir.join("scored.parquet")).unwrap();
    let manifest = std::fs::read(dir.join("manifest.json")).unwrap();
    // Tonight's re-run uses another strategy version (so it would write other
    // bytes) and fails just before renaming scored.parquet into place.
    let text = std::fs::read_to_string(&strategy).unwrap().replacen(
        "version = \"default-1\"",
        "version = \"default-2\"",
        1,
    );
    std::fs::write(w.path("s2.toml"), text).unwrap();
    let (s, p, b, c) = (
        sample("schedule"),
        sample("payments"),
        sample("borrowers"),
        sample("contacts"),
    );
    let model = repo("models/default");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dunning"))
        .args([
            "run",
            "--model",
            &model,
            "--strategy",
            "s2.toml",
            "--schedule",
            &s,
            "--payments",
            &p,
            "--borrowers",
            &b,
            "--contacts",
            &c,
            "--as-of",
            "2025-12-31",
            "--out",
            "out",
        ])
        .current_dir(w.root())
        .env(dunning::output::FAIL_BEFORE_RENAME, "scored.parquet")
        .output()
        .unwrap();
    assert_exit(&o, 74);
    assert!(stderr(&o).contains("injected failure"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(dir.join("scored.parquet")).unwrap(),
        before,
        "previous night's scores intact"
    );
    assert_eq!(
        std::fs::read(dir.join("manifest.json")).unwrap(),
        manifest,
        "previous manifest intact"
    );
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary or lock files left: {leftovers:?}"
    );
}

#[test]
fn json_logs_for_schedulers() {
    let w = Workdir::new();
    let o = w.run(&[
        "--log-format",
        "json",
        "run",
        "--config",
        &repo("data/nightly.toml"),
        "--out",
        "out",
    ]);
    assert_exit(&o, 0);
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() >= 5, "{err}");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
        assert!(
            v["level"].is_string() && v["msg"].is_string() && v["ts"].is_string(),
            "{l}"
        );
    }
    assert!(
        err.contains("\"msg\":\"write: done in"),
        "every stage is reported: {err}"
    );
}
