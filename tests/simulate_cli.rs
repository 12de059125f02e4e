//! `dunning simulate`, the strategy what-if, end to end on the committed
//! sample: a night's scored.parquet re-decided under other strategies must
//! give what a real night under those strategies gives, and a snapshot must
//! decide as `dunning run` does.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use common::*;
use dunning::report::simulate::report::SimulateReport;

const NIGHT: &str = "2025-12-31";

fn default_text() -> String {
    std::fs::read_to_string(repo("strategies/default.toml")).unwrap()
}

/// Writes `text` as `name` in the workdir; returns its path.
fn strategy(w: &Workdir, name: &str, text: &str) -> String {
    let path = w.path(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Runs the nightly job on the sample with `strategy` into `out`; returns
/// the night's scored.parquet.
fn night(w: &Workdir, strategy: &str, out: &str) -> PathBuf {
    let mut args: Vec<String> = [
        "run",
        "--model",
        &repo("models/default"),
        "--strategy",
        strategy,
    ]
    .map(String::from)
    .to_vec();
    args.extend(sample_inputs());
    args.extend(["--as-of", NIGHT, "--out", out].map(String::from));
    assert_exit(&run(w, &args), 0);
    w.path(&format!("{out}/{NIGHT}/scored.parquet"))
}

fn run(w: &Workdir, args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    w.run(&refs)
}

/// `dunning simulate --strategy NEW [--baseline OLD] --scored F --out OUT`.
fn simulate_scored(
    w: &Workdir,
    scored: &Path,
    new: &str,
    baseline: Option<&str>,
    out: &str,
) -> std::process::Output {
    let mut args: Vec<String> = ["simulate", "--strategy", new].map(String::from).to_vec();
    if let Some(b) = baseline {
        args.extend(["--baseline".into(), b.to_string()]);
    }
    args.extend(["--scored".into(), scored.display().to_string()]);
    args.extend(["--out".into(), out.to_string()]);
    run(w, &args)
}

/// The snapshot mode on the sample.
fn simulate_snapshot(
    w: &Workdir,
    new: &str,
    baseline: Option<&str>,
    out: &str,
) -> std::process::Output {
    let mut args: Vec<String> = [
        "simulate",
        "--strategy",
        new,
        "--model",
        &repo("models/default"),
    ]
    .map(String::from)
    .to_vec();
    if let Some(b) = baseline {
        args.extend(["--baseline".into(), b.to_string()]);
    }
    args.extend(sample_inputs());
    args.extend(["--as-of", NIGHT, "--out", out].map(String::from));
    run(w, &args)
}

/// simulate.json, read back into the library's type (unknown keys refused).
fn report(w: &Workdir, out: &str) -> SimulateReport {
    let text = std::fs::read_to_string(w.path(&format!("{out}/simulate.json"))).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn strings(b: &RecordBatch, name: &str) -> Vec<String> {
    let c = b
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    let c = c.as_string::<i32>();
    (0..c.len()).map(|k| c.value(k).to_string()).collect()
}

fn bools(b: &RecordBatch, name: &str) -> Vec<Option<bool>> {
    let c = b.column_by_name(name).unwrap().as_boolean();
    (0..c.len())
        .map(|k| (!c.is_null(k)).then(|| c.value(k)))
        .collect()
}

fn ids(b: &RecordBatch) -> Vec<i64> {
    b.column_by_name("borrower_id")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>()
        .values()
        .to_vec()
}

/// The new decisions of decisions.parquet equal the decisions of a real
/// night's scored.parquet, row by row.
fn assert_same_decisions(decisions: &RecordBatch, night: &RecordBatch, what: &str) {
    assert_eq!(ids(decisions), ids(night), "{what}: borrowers");
    for c in ["treatment", "channel", "treatment_rule", "arm"] {
        assert_eq!(strings(decisions, c), strings(night, c), "{what}: {c}");
    }
    for c in ["contact_allowed", "human_review"] {
        assert_eq!(bools(decisions, c), bools(night, c), "{what}: {c}");
    }
}

fn counts(by: &[String]) -> HashMap<String, u64> {
    let mut m = HashMap::new();
    for t in by {
        *m.entry(t.clone()).or_default() += 1;
    }
    m
}

#[test]
fn the_night_s_own_strategy_moves_nobody() {
    let w = Workdir::new();
    let default = repo("strategies/default.toml");
    let scored = night(&w, &default, "out");
    let t = read_parquet(&scored);
    let n = t.num_rows() as u64;

    // Baseline: the decisions the night recorded.
    let o = simulate_scored(&w, &scored, &default, None, "sim");
    assert_exit(&o, 0);
    let summary = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        summary.contains("0 of") && summary.contains("borrowers move"),
        "{summary}"
    );
    assert!(
        summary.contains("does not model"),
        "the uplift caveat is printed:\n{summary}"
    );
    let r = report(&w, "sim");
    assert_eq!(r.borrowers, n);
    assert_eq!(r.source.mode, "scored");
    assert_eq!(r.baseline.strategy.source, "recorded");
    assert!(!r.baseline.capacity_known);
    assert_eq!((r.moves.moved, r.moves.unchanged), (0, n));
    assert_eq!(r.moves.channel_changed, 0);
    for (i, row) in r.moves.matrix.iter().enumerate() {
        let total = row.new.total();
        let diagonal = [row.new.soft, row.new.standard, row.new.escalated][i];
        assert_eq!(total, diagonal, "off-diagonal moves in {row:?}");
    }
    let recorded = counts(&strings(&t, "treatment"));
    for (b, x) in r.baseline.treatments.iter().zip(&r.new.treatments) {
        let expected = recorded.get(&b.treatment).copied().unwrap_or(0);
        assert_eq!(
            (b.borrowers, x.borrowers),
            (expected, expected),
            "{}",
            b.treatment
        );
        assert_eq!(b.expected_repaying, x.expected_repaying);
    }
    assert!(r.note.contains("does not model the effect of a treatment"));
    // The only caveat: the recorded baseline's capacity is not in the file.
    assert_eq!(r.limitations.len(), 1, "{:?}", r.limitations);
    assert!(r.limitations[0].contains("capacity"), "{:?}", r.limitations);
    assert!(r.cells.iter().all(|c| c.moved == 0 && c.baseline == c.new));
    assert_eq!(r.cells.iter().map(|c| c.borrowers).sum::<u64>(), n);

    // The night's strategy file as the baseline: re-deciding the file gives
    // back every recorded decision, with no caveat at all.
    assert_exit(
        &simulate_scored(&w, &scored, &default, Some(&default), "sim2"),
        0,
    );
    let r = report(&w, "sim2");
    let a = r.baseline_vs_recorded.expect("agreement with --baseline");
    assert_eq!(
        (a.same_treatment, a.same_channel, a.same_rule),
        (n, n, n),
        "re-decided as recorded"
    );
    assert!(r.limitations.is_empty(), "{:?}", r.limitations);
    assert_eq!(r.moves.moved, 0);
    assert!(r.baseline.capacity_known);
    let d = read_parquet(&w.path("sim2/decisions.parquet"));
    assert_same_decisions(&d, &t, "default re-decided");
}

#[test]
fn a_band_moved_to_escalated_moves_exactly_its_borrowers() {
    let w = Workdir::new();
    let default = repo("strategies/default.toml");
    let scored = night(&w, &default, "out");
    // Current borrowers of band D: soft -> escalated.
    let text = default_text().replacen(
        "current = [\"soft\", \"soft\", \"soft\", \"soft\", \"standard\"]",
        "current = [\"soft\", \"soft\", \"soft\", \"escalated\", \"standard\"]",
        1,
    );
    assert!(text.contains("\"soft\", \"escalated\", \"standard\"]"));
    let new = strategy(
        &w,
        "d-escalated.toml",
        &text.replace("default-1", "d-escalated-1"),
    );
    assert_exit(&simulate_scored(&w, &scored, &new, None, "sim"), 0);
    let r = report(&w, "sim");

    // Who should move, from the night's own columns: current/D borrowers
    // whose soft treatment came from the matrix, not from the preventive
    // reminder or hardship (both keep them soft whatever the matrix says).
    let t = read_parquet(&scored);
    let (bucket, band, rule) = (
        strings(&t, "dpd_bucket"),
        strings(&t, "risk_band"),
        strings(&t, "treatment_rule"),
    );
    let movers: Vec<usize> = (0..t.num_rows())
        .filter(|&k| {
            bucket[k] == "current"
                && band[k] == "D"
                && !rule[k].contains("preventive")
                && !rule[k].contains("hardship")
        })
        .collect();
    assert!(
        movers.len() > 10,
        "the sample has current/D borrowers: {}",
        movers.len()
    );
    let m = movers.len() as u64;
    assert_eq!(
        (r.moves.moved, r.moves.to_firmer, r.moves.to_softer),
        (m, m, 0)
    );
    assert_eq!(r.moves.matrix[0].new.escalated, m);
    let total: u64 = r.moves.matrix.iter().map(|x| x.new.total()).sum();
    assert_eq!(total, r.borrowers, "the matrix adds up to the population");
    let soft = (&r.baseline.treatments[0], &r.new.treatments[0]);
    assert_eq!(soft.0.borrowers - soft.1.borrowers, m);
    let esc = (&r.baseline.treatments[2], &r.new.treatments[2]);
    assert_eq!(esc.1.borrowers - esc.0.borrowers, m);
    // Expected repayers move with them; the total does not change.
    let sum = |s: &dunning::report::simulate::StrategyOutcome| -> f64 {
        s.treatments.iter().map(|x| x.expected_repaying).sum()
    };
    assert!((sum(&r.baseline) - sum(&r.new)).abs() < 1e-9);
    let cell = r
        .cells
        .iter()
        .find(|c| c.bucket == "current" && c.band == "D")
        .unwrap();
    assert_eq!(cell.moved, m);
    assert_eq!(r.cells.iter().map(|c| c.moved).sum::<u64>(), m);

    let d = read_parquet(&w.path("sim/decisions.parquet"));
    let moved = bools(&d, "moved");
    let flagged: Vec<usize> = (0..d.num_rows())
        .filter(|&k| moved[k] == Some(true))
        .collect();
    assert_eq!(flagged, movers);
    // And what a real night under the new strategy decides.
    let real = read_parquet(&night(&w, &new, "real"));
    assert_same_decisions(&d, &real, "current/D escalated");
}

#[test]
fn a_binding_capacity_demotes_the_lowest_priority_as_the_night_would() {
    let w = Workdir::new();
    let default = repo("strategies/default.toml");
    let scored = night(&w, &default, "out");
    let t = read_parquet(&scored);
    let escalated = counts(&strings(&t, "treatment"))["escalated"];
    assert!(escalated > 20, "{escalated}");
    let cap = escalated / 2;
    // Half the escalations fit, and a challenger arm (decided from the ids).
    let text = default_text().replace("default-1", "cap-1").replacen(
        "# [capacity]\n# escalated = 500\n# standard = 20000",
        &format!("[capacity]\nescalated = {cap}"),
        1,
    ) + "\n[challenger]\nshare = 0.3\nsalt = \"what-if\"\n[challenger.matrix]\n\
           current = [\"soft\", \"soft\", \"soft\", \"soft\", \"soft\"]\n\
           \"1-29\" = [\"soft\", \"soft\", \"standard\", \"standard\", \"escalated\"]\n\
           \"30-59\" = [\"standard\", \"standard\", \"standard\", \"escalated\", \"escalated\"]\n\
           \"60-89\" = [\"standard\", \"standard\", \"escalated\", \"escalated\", \"escalated\"]\n\
           \"90+\" = [\"escalated\", \"escalated\", \"escalated\", \"escalated\", \"escalated\"]\n";
    let new = strategy(&w, "cap.toml", &text);
    assert_exit(
        &simulate_scored(&w, &scored, &new, Some(&default), "sim"),
        0,
    );
    let r = report(&w, "sim");
    let e = &r.new.treatments[2];
    assert_eq!(e.capacity, Some(cap));
    assert_eq!(e.borrowers, cap, "escalated is full");
    assert_eq!(e.over_by, Some(e.demand - cap));
    assert_eq!(e.demoted_out, e.demand - cap);
    assert_eq!(r.new.treatments[1].demoted_in, e.demoted_out);
    assert_eq!(r.new.demoted_by_capacity, e.demoted_out);
    assert!(r.new.challenger > 0 && r.new.champion > 0);
    assert_eq!(r.new.champion + r.new.challenger, r.borrowers);
    assert_eq!(
        r.baseline.treatments[2].over_by,
        Some(0),
        "no limit in the default"
    );
    // The escalated channel volumes are the capacity.
    let visits: u64 = r
        .new
        .channels
        .iter()
        .filter(|c| c.treatment == "escalated")
        .map(|c| c.borrowers)
        .sum();
    assert_eq!(visits, cap);

    // The demoted are those with the lowest priority overdue x (1 - p).
    let d = read_parquet(&w.path("sim/decisions.parquet"));
    let rule = strings(&d, "treatment_rule");
    let p = d
        .column_by_name("p_repay")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    let o = d
        .column_by_name("overdue_amount")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    let treatment = strings(&d, "treatment");
    let priority = |k: usize| o.value(k) * (1.0 - p.value(k));
    let demoted = (0..d.num_rows()).filter(|&k| rule[k].contains("capacity:escalated->standard"));
    let kept = (0..d.num_rows()).filter(|&k| treatment[k] == "escalated");
    let lowest_kept = kept.map(priority).fold(f64::INFINITY, f64::min);
    let highest_demoted = demoted.map(priority).fold(f64::NEG_INFINITY, f64::max);
    assert!(
        highest_demoted <= lowest_kept,
        "{highest_demoted} > {lowest_kept}"
    );

    // Exactly what a real night under the new strategy decides, arms included.
    let real = read_parquet(&night(&w, &new, "real"));
    assert_same_decisions(&d, &real, "capacity and challenger");
}

#[test]
fn the_snapshot_decides_as_the_nightly_run_does() {
    let w = Workdir::new();
    let default = repo("strategies/default.toml");
    let scored = night(&w, &default, "out");
    let t = read_parquet(&scored);
    let text = default_text().replace("default-1", "tight-1").replacen(
        "# [capacity]\n# escalated = 500\n# standard = 20000",
        "[capacity]\nescalated = 100\nstandard = 150",
        1,
    );
    let tight = strategy(&w, "tight.toml", &text);
    assert_exit(&simulate_snapshot(&w, &tight, Some(&default), "snap"), 0);
    let r = report(&w, "snap");
    assert_eq!(r.source.mode, "snapshot");
    assert_eq!(r.borrowers as usize, t.num_rows());
    assert!(r.limitations.is_empty());
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(w.path(&format!("out/{NIGHT}/manifest.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(r.source.rejected_input_rows, manifest["rejected"].as_u64());
    let d = read_parquet(&w.path("snap/decisions.parquet"));
    // The baseline side is the night under the default strategy ...
    assert_eq!(ids(&d), ids(&t));
    assert_eq!(strings(&d, "baseline_treatment"), strings(&t, "treatment"));
    assert_eq!(strings(&d, "baseline_channel"), strings(&t, "channel"));
    assert_eq!(strings(&d, "baseline_rule"), strings(&t, "treatment_rule"));
    // ... and the new side the night under the tight one.
    let real = read_parquet(&night(&w, &tight, "real"));
    assert_same_decisions(&d, &real, "snapshot under capacity");
    assert_eq!(r.new.treatments[2].borrowers, 100);
    assert_eq!(r.new.treatments[1].borrowers, 150);

    // The same what-if from the night's scored file gives the same report
    // but for where the borrowers came from.
    assert_exit(
        &simulate_scored(&w, &scored, &tight, Some(&default), "from-file"),
        0,
    );
    let f = report(&w, "from-file");
    assert_eq!(
        (f.moves.clone(), f.cells.clone()),
        (r.moves.clone(), r.cells.clone())
    );
    assert_eq!(f.new.treatments, r.new.treatments);
    assert_eq!(f.new.channels, r.new.channels);

    // Deterministic: a second run gives the same bytes.
    let first = (
        std::fs::read(w.path("snap/simulate.json")).unwrap(),
        std::fs::read(w.path("snap/decisions.parquet")).unwrap(),
    );
    assert_exit(&simulate_snapshot(&w, &tight, Some(&default), "snap"), 0);
    assert_eq!(
        std::fs::read(w.path("snap/simulate.json")).unwrap(),
        first.0
    );
    assert_eq!(
        std::fs::read(w.path("snap/decisions.parquet")).unwrap(),
        first.1
    );
}

#[test]
fn decisions_parquet_matches_its_documented_schema() {
    let w = Workdir::new();
    let default = repo("strategies/default.toml");
    let scored = night(&w, &default, "out");
    assert_exit(&simulate_scored(&w, &scored, &default, None, "sim"), 0);
    let d = read_parquet(&w.path("sim/decisions.parquet"));
    let doc = std::fs::read_to_string(repo("docs/output-contract.md")).unwrap();
    let start = doc.find("<!-- table:decisions -->").expect("documented");
    let end = start + doc[start..].find("<!-- end -->").unwrap();
    let documented: Vec<(String, String, bool)> = doc[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let c: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                c[1].trim_matches('`').to_string(),
                c[2].to_string(),
                c[3] == "yes",
            )
        })
        .collect();
    let schema = d.schema();
    let written: Vec<(String, String, bool)> = schema
        .fields()
        .iter()
        .map(|f| {
            (
                f.name().clone(),
                format!("{:?}", f.data_type()),
                f.is_nullable(),
            )
        })
        .collect();
    assert_eq!(written.len(), documented.len(), "{written:?}");
    for (w, d) in written.iter().zip(&documented) {
        assert_eq!(w.0, d.0);
        assert!(
            d.1.split(" or ").any(|t| t == w.1),
            "{}: {} vs {}",
            w.0,
            w.1,
            d.1
        );
        assert_eq!(w.2, d.2, "{} nullability", w.0);
    }
}

#[test]
fn bad_inputs_give_the_documented_exit_codes() {
    let w = Workdir::new();
    let default = repo("strategies/default.toml");

    // A missing scored file: bad input, naming it.
    let o = simulate_scored(&w, &w.path("nowhere/scored.parquet"), &default, None, "sim");
    assert_exit(&o, 65);
    assert!(
        stderr(&o).contains("nowhere/scored.parquet"),
        "{}",
        stderr(&o)
    );
    assert!(!w.path("sim").exists(), "nothing written");

    let scored = night(&w, &default, "out");
    // A missing or broken strategy: bad configuration, naming the file.
    let o = simulate_scored(&w, &scored, "missing.toml", None, "sim");
    assert_exit(&o, 78);
    assert!(stderr(&o).contains("missing.toml"), "{}", stderr(&o));
    let broken = strategy(
        &w,
        "broken.toml",
        &default_text().replacen("\"90+\" = [\"escalated\"", "\"90+\" = [\"arrest\"", 1),
    );
    let o = simulate_scored(&w, &scored, &default, Some(&broken), "sim");
    assert_exit(&o, 78);
    assert!(
        stderr(&o).contains("broken.toml, line") && stderr(&o).contains("arrest"),
        "{}",
        stderr(&o)
    );
    // A strategy without the model's bands.
    let bands = strategy(
        &w,
        "bands.toml",
        &default_text().replacen(
            "bands = [\"A\", \"B\", \"C\", \"D\", \"E\"]",
            "bands = [\"A\", \"B\", \"C\", \"D\", \"X\"]",
            1,
        ),
    );
    let o = simulate_scored(&w, &scored, &bands, None, "sim");
    assert_exit(&o, 78);
    assert!(
        stderr(&o).contains("bands.toml") && stderr(&o).contains("\"E\""),
        "{}",
        stderr(&o)
    );

    // A `dunning score` file has no decisions to start from.
    let mut args: Vec<String> = ["score", "--model", &repo("models/default")]
        .map(String::from)
        .to_vec();
    args.extend(sample_inputs());
    args.extend(["--as-of", NIGHT, "--out", "plain.parquet"].map(String::from));
    assert_exit(&run(&w, &args), 0);
    let o = simulate_scored(&w, &w.path("plain.parquet"), &default, None, "sim");
    assert_exit(&o, 65);
    assert!(
        stderr(&o).contains("plain.parquet") && stderr(&o).contains("`treatment`"),
        "{}",
        stderr(&o)
    );
    // Not a Parquet file.
    std::fs::write(w.path("junk.parquet"), b"not parquet").unwrap();
    let o = simulate_scored(&w, &w.path("junk.parquet"), &default, None, "sim");
    assert_exit(&o, 65);
    assert!(stderr(&o).contains("junk.parquet"), "{}", stderr(&o));

    // A snapshot needs a baseline; neither source is a usage error.
    let o = simulate_snapshot(&w, &default, None, "sim");
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("--baseline"), "{}", stderr(&o));
    let o = run(
        &w,
        &["simulate", "--strategy", &default, "--out", "sim"].map(String::from),
    );
    assert_exit(&o, 64);
    assert!(stderr(&o).contains("--scored"), "{}", stderr(&o));
    let o = run(
        &w,
        &[
            "simulate",
            "--strategy",
            &default,
            "--scored",
            &scored.display().to_string(),
            "--as-of",
            NIGHT,
            "--out",
            "sim",
        ]
        .map(String::from),
    );
    assert_exit(&o, 64);
    assert!(!w.path("sim").exists(), "no failure wrote anything");
}

#[test]
fn refuses_partition_shares_and_pseudonymized_files() {
    let w = Workdir::new();
    let default = repo("strategies/default.toml");
    let mut args: Vec<String> = [
        "run",
        "--model",
        &repo("models/default"),
        "--strategy",
        &default,
    ]
    .map(String::from)
    .to_vec();
    args.extend(sample_inputs());
    args.extend(
        [
            "--as-of",
            NIGHT,
            "--out",
            "parts",
            "--partitions",
            "2",
            "--partition",
            "0",
        ]
        .map(String::from),
    );
    assert_exit(&run(&w, &args), 0);
    let share = w.path(&format!("parts/{NIGHT}.part-0-of-2/scored.parquet"));
    let o = simulate_scored(&w, &share, &default, None, "sim");
    assert_exit(&o, 65);
    assert!(
        stderr(&o).contains("partition") && stderr(&o).contains("dunning combine"),
        "{}",
        stderr(&o)
    );

    let mut args: Vec<String> = [
        "run",
        "--model",
        &repo("models/default"),
        "--strategy",
        &default,
    ]
    .map(String::from)
    .to_vec();
    args.extend(sample_inputs());
    args.extend(["--as-of", NIGHT, "--out", "agency", "--pseudonymize-ids"].map(String::from));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dunning"))
        .args(&args)
        .current_dir(w.root())
        .env("DUNNING_PSEUDONYM_KEY", "a test key of enough bytes")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    // The night's directory is accepted for its scored.parquet.
    let o = simulate_scored(
        &w,
        &w.path(&format!("agency/{NIGHT}")),
        &default,
        None,
        "sim",
    );
    assert_exit(&o, 65);
    assert!(stderr(&o).contains("pseudonyms"), "{}", stderr(&o));
    assert!(!w.path("sim").exists());
}
