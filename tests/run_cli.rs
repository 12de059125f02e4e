//! `dunning run`, the nightly job, end to end on the committed sample.

mod common;

use std::collections::HashSet;

use arrow::array::AsArray;
use common::*;

fn nightly(w: &Workdir, strategy: &str, out: &str) -> std::process::Output {
    run_args(w, &nightly_args(strategy, out, &[]))
}

#[test]
fn nightly_run_writes_scores_treatments_and_a_manifest() {
    let w = Workdir::new();
    let strategy = repo("strategies/default.toml");
    assert_exit(&nightly(&w, &strategy, "out"), 0);
    let dir = w.path("out/2025-12-31");
    let first = std::fs::read(dir.join("scored.parquet")).unwrap();
    // A re-run of the same night gives the same bytes and leaves nothing
    // but the night's directory and its (unlocked) lock file.
    assert_exit(&nightly(&w, &strategy, "out"), 0);
    assert_eq!(first, std::fs::read(dir.join("scored.parquet")).unwrap());
    let top = listing(&w.path("out"));
    assert_eq!(top, [".2025-12-31.lock", "2025-12-31"]);

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
    std::fs::create_dir_all(w.path("out")).unwrap();
    // The lock a running night holds: an OS lock on out/.AS_OF.lock, here
    // taken by this test process.
    let lock_path = w.path("out/.2025-12-31.lock");
    std::fs::write(&lock_path, format!("{}\n", std::process::id())).unwrap();
    let held = std::fs::File::open(&lock_path).unwrap();
    held.try_lock().unwrap();
    let o = nightly(&w, &repo("strategies/default.toml"), "out");
    assert_exit(&o, 75);
    let err = stderr(&o);
    assert!(err.contains("another dunning run"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(!dir.exists(), "the refused run wrote nothing");
    // Once the holder is gone (as when a run crashes: the OS drops its lock),
    // the lock file left behind does not block the next run.
    drop(held);
    assert_exit(&nightly(&w, &repo("strategies/default.toml"), "out"), 0);
    assert!(dir.join("scored.parquet").exists());
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

/// The names in a directory, sorted.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every file of a directory with its bytes, by name.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_failure_at_any_write_leaves_the_previous_night_intact() {
    let w = Workdir::new();
    let strategy = repo("strategies/default.toml");
    assert_exit(&nightly(&w, &strategy, "out"), 0);
    let dir = w.path("out/2025-12-31");
    let before = snapshot(&dir);
    let names: Vec<&str> = before.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["manifest.json", "rejects.parquet", "scored.parquet"],
        "the sample has rejected rows, so the night has all three files"
    );
    // Tonight's re-run uses another strategy version (so it would write other
    // bytes) and fails just before each file's rename, or just before the
    // night's directory is published.
    let text = std::fs::read_to_string(&strategy).unwrap().replacen(
        "version = \"default-1\"",
        "version = \"default-2\"",
        1,
    );
    std::fs::write(w.path("s2.toml"), text).unwrap();
    let args = nightly_args("s2.toml", "out", &[]);
    for target in [
        "scored.parquet",
        "rejects.parquet",
        "manifest.json",
        "2025-12-31",
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_dunning"))
            .args(&args)
            .current_dir(w.root())
            .env(dunning::output::FAIL_BEFORE_RENAME, target)
            .output()
            .unwrap();
        assert_exit(&o, 74);
        assert!(stderr(&o).contains("injected failure"), "{}", stderr(&o));
        assert!(snapshot(&dir) == before, "{target}: previous night changed");
        let top = listing(&w.path("out"));
        assert_eq!(
            top,
            [".2025-12-31.lock", "2025-12-31"],
            "{target}: staging files left"
        );
    }
    // Without the injected failure the new night replaces the old as a whole.
    let o = run_args(&w, &args);
    assert_exit(&o, 0);
    let after = snapshot(&dir);
    assert_eq!(after.len(), 3);
    assert_ne!(after["scored.parquet"], before["scored.parquet"]);
    assert_eq!(after["rejects.parquet"], before["rejects.parquet"]);
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

/// The README's two set-up commands: the first fenced block after the intro.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block near the top of README.md");
    block.lines().map(str::to_string).collect()
}

#[test]
fn the_readme_main_job_writes_all_three_files_and_accounts_for_every_row() {
    let cmds = readme_commands();
    assert_eq!(cmds.len(), 2, "exactly two set-up commands: {cmds:?}");
    assert_eq!(cmds[1], "cargo test");
    let args: Vec<&str> = cmds[0]
        .strip_prefix("cargo run --release -- ")
        .expect("the first command runs the binary")
        .split_whitespace()
        .collect();
    assert_eq!(args[0], "run");
    // Run it as written, from a copy of the paths it names (relative to the
    // repository root), in a scratch directory.
    let w = Workdir::new();
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if a.starts_with("data/") || a.starts_with("models/") || a.starts_with("strategies/") {
                repo(a)
            } else {
                a.to_string()
            }
        })
        .collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = w.run(&refs);
    assert_exit(&o, 0);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    for part in [
        "validation AUC",
        "dpd bucket",
        "escalated",
        "out/2025-12-31/scored.parquet",
    ] {
        assert!(out.contains(part), "summary lacks {part:?}:\n{out}");
    }
    let dir = w.path("out/2025-12-31");
    let files = snapshot(&dir);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["manifest.json", "rejects.parquet", "scored.parquet"]
    );

    // Every input row is used, rejected (with its reason) or unmatched.
    let m: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let mut rejected = 0;
    for i in m["inputs"].as_array().unwrap() {
        let n = |k: &str| i[k].as_u64().unwrap();
        assert_eq!(n("rows"), n("used") + n("rejected") + n("unmatched"), "{i}");
        rejected += n("rejected");
    }
    assert_eq!(rejected, m["rejected"].as_u64().unwrap());
    let rj = read_parquet(&dir.join("rejects.parquet"));
    assert_eq!(rj.num_rows() as u64, rejected);
    // The sample's defects (data/README.md): 11 rejected, 1 unmatched.
    let count = |table: &str, key: &str| {
        m["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["table"] == table)
            .unwrap()[key]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        ["schedule", "payments", "contacts", "borrowers"].map(|t| count(t, "rejected")),
        [3, 4, 4, 0]
    );
    assert_eq!(count("borrowers", "unmatched"), 1);
    let reasons = rj.column_by_name("reason").unwrap().as_string::<i32>();
    let reasons: Vec<&str> = (0..rj.num_rows()).map(|k| reasons.value(k)).collect();
    for expected in [
        "amount_due is not a finite number",
        "amount_due is negative",
        "due_date out of range",
        "amount is not a finite number",
        "borrower_id has no valid installment",
        "loan_id is not a loan of this borrower",
        "paid_date out of range",
        "channel is not one of",
        "outcome is not one of",
        "promise_amount is negative",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "no reject says {expected:?}: {reasons:?}"
        );
    }
    // The population is accounted for too: every borrower with a valid
    // schedule is scored or outside the population.
    let scored = read_parquet(&dir.join("scored.parquet"));
    assert_eq!(scored.num_rows() as u64, m["scored"].as_u64().unwrap());
    assert_eq!(
        m["scored"].as_u64().unwrap() + m["outside_population"].as_u64().unwrap(),
        5000
    );
}

#[test]
fn band_counts_follow_the_strategy_s_own_cut_offs() {
    let w = Workdir::new();
    let cutoffs = [0.95, 0.85, 0.7, 0.5];
    let text = std::fs::read_to_string(repo("strategies/default.toml"))
        .unwrap()
        .replacen(
            "# band_cutoffs = [0.9, 0.75, 0.5, 0.25]",
            "band_cutoffs = [0.95, 0.85, 0.7, 0.5]",
            1,
        );
    std::fs::write(w.path("cut.toml"), text).unwrap();
    assert_exit(&nightly(&w, "cut.toml", "out"), 0);
    let dir = w.path("out/2025-12-31");
    let t = read_parquet(&dir.join("scored.parquet"));
    let p = t
        .column_by_name("p_repay")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    let mut expected = std::collections::BTreeMap::<String, u64>::new();
    for &v in p.values() {
        let band = cutoffs.iter().position(|&c| v >= c).unwrap_or(4);
        *expected
            .entry(["A", "B", "C", "D", "E"][band].into())
            .or_default() += 1;
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let got: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(m["by_band"].clone()).unwrap();
    assert_eq!(got, expected);
    // And they differ from the model's bands, so the test can tell the two apart.
    let model_bands = t.column_by_name("risk_band").unwrap().as_string::<i32>();
    let mut by_model = std::collections::BTreeMap::<String, u64>::new();
    for k in 0..t.num_rows() {
        *by_model.entry(model_bands.value(k).into()).or_default() += 1;
    }
    assert_ne!(got, by_model);
}

/// The nightly run's arguments on the sample, with `extra` appended.
fn nightly_args(strategy: &str, out: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "run",
        "--model",
        &repo("models/default"),
        "--strategy",
        strategy,
    ]
    .map(String::from)
    .to_vec();
    v.extend(sample_inputs());
    v.extend(["--as-of", "2025-12-31", "--out", out].map(String::from));
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run_args(w: &Workdir, args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    w.run(&refs)
}

/// manifest.json without what legitimately differs between runs.
fn manifest_facts(dir: &std::path::Path) -> serde_json::Value {
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let o = m.as_object_mut().unwrap();
    o.remove("stage_seconds");
    o.remove("outputs");
    o.remove("peak_rss_bytes");
    m
}

#[test]
fn partitioned_runs_give_exactly_the_single_run() {
    let w = Workdir::new();
    // A strategy whose capacity binds and with a challenger arm, so the
    // merge must apply capacity over the whole night, not per partition.
    let text = std::fs::read_to_string(repo("strategies/default.toml"))
        .unwrap()
        .replacen(
            "# [capacity]\n# escalated = 500\n# standard = 20000",
            "[capacity]\nescalated = 100\nstandard = 150",
            1,
        );
    assert!(text.contains("escalated = 100"));
    std::fs::write(w.path("cap.toml"), text).unwrap();

    assert_exit(&run_args(&w, &nightly_args("cap.toml", "single", &[])), 0);
    let single = snapshot(&w.path("single/2025-12-31"));
    let facts = manifest_facts(&w.path("single/2025-12-31"));
    assert!(
        facts["by_treatment"]["escalated"].as_u64().unwrap() == 100,
        "capacity binds: {}",
        facts["by_treatment"]
    );

    // One process, four partitions in turn.
    assert_exit(
        &run_args(&w, &nightly_args("cap.toml", "seq", &["--partitions", "4"])),
        0,
    );
    // Four separate runs (as on four machines), then combined.
    for i in 0..4 {
        let i = i.to_string();
        let o = run_args(
            &w,
            &nightly_args(
                "cap.toml",
                "multi",
                &["--partitions", "4", "--partition", &i],
            ),
        );
        assert_exit(&o, 0);
        let part = manifest_facts(&w.path(&format!("multi/2025-12-31.part-{i}-of-4")));
        assert_eq!(part["capacity_applied"], false);
        for input in part["inputs"].as_array().unwrap() {
            let n = |k: &str| input[k].as_u64().unwrap();
            assert_eq!(
                n("rows"),
                n("used") + n("rejected") + n("unmatched") + n("other_partitions")
            );
        }
    }
    // Before all partitions are there, combine refuses.
    let combine = |strategy: &str| {
        w.run(&[
            "combine",
            "--strategy",
            strategy,
            "--out",
            "multi",
            "--as-of",
            "2025-12-31",
            "--partitions",
            "4",
        ])
    };
    std::fs::rename(
        w.path("multi/2025-12-31.part-3-of-4"),
        w.path("multi/held-back"),
    )
    .unwrap();
    let o = combine("cap.toml");
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("part-3-of-4"), "{}", stderr(&o));
    std::fs::rename(
        w.path("multi/held-back"),
        w.path("multi/2025-12-31.part-3-of-4"),
    )
    .unwrap();
    // With another strategy file, it refuses too.
    let o = combine(&repo("strategies/default.toml"));
    assert_exit(&o, 78);
    assert!(!w.path("multi/2025-12-31").exists());
    assert_exit(&combine("cap.toml"), 0);

    for root in ["seq", "multi"] {
        let dir = w.path(&format!("{root}/2025-12-31"));
        let got = snapshot(&dir);
        for f in ["scored.parquet", "rejects.parquet"] {
            assert!(
                got[f] == single[f],
                "{root}/{f} differs from the single run's"
            );
        }
        assert_eq!(manifest_facts(&dir), facts, "{root} manifest");
    }
}
