//! Privacy: `--pseudonymize-ids` on the committed sample, and no personal
//! values in messages, logs or rejects.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use common::*;
use dunning::pseudonym::{PseudonymKey, KEY_ENV};

const KEY: &str = "correct horse battery staple 42";
const OTHER_KEY: &str = "another key, at least 16 bytes";

/// Runs `dunning` in `w` with `key` (or none) in the key variable, and debug
/// logs, so that every log line a run can print is checked.
fn dunning(w: &Workdir, args: &[String], key: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dunning"));
    c.args(args)
        .current_dir(w.root())
        .env("RUST_LOG", "debug")
        .env_remove(KEY_ENV);
    if let Some(k) = key {
        c.env(KEY_ENV, k);
    }
    c.output().expect("run dunning")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `dunning run` on the sample into `out`, with `extra` options.
fn nightly(out: &str, extra: &[&str]) -> Vec<String> {
    let mut v = args(&["run", "--model", &repo("models/default")]);
    v.extend(args(&["--strategy", &repo("strategies/default.toml")]));
    v.extend(sample_inputs());
    v.extend(args(&["--as-of", "2025-12-31", "--out", out]));
    v.extend(args(extra));
    v
}

fn strings(t: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let c = t.column_by_name(name).unwrap().as_string::<i32>();
    (0..c.len())
        .map(|k| c.is_valid(k).then(|| c.value(k).to_string()))
        .collect()
}

/// Every borrower id of the sample's input tables, as text.
fn sample_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for table in ["schedule", "payments", "borrowers", "contacts"] {
        let t = read_parquet(Path::new(&sample(table)));
        let c = t
            .column_by_name("borrower_id")
            .unwrap()
            .as_primitive::<arrow::datatypes::Int64Type>();
        ids.extend(c.iter().flatten().map(|v| v.to_string()));
    }
    ids
}

/// The borrower_id of each rejects row's `values` object.
fn reject_ids(rejects: &RecordBatch) -> Vec<Option<String>> {
    strings(rejects, "values")
        .into_iter()
        .map(|v| {
            let v: serde_json::Value = serde_json::from_str(&v.unwrap()).unwrap();
            let o = v.as_object().unwrap();
            assert_eq!(o.len(), 1, "only the borrower id: {v}");
            o["borrower_id"].as_str().map(str::to_string)
        })
        .collect()
}

fn is_pseudonym(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// The night's files by name, with their bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn pseudonymized_outputs_carry_no_original_id_and_decide_alike() {
    let w = Workdir::new();
    let key = PseudonymKey::new(KEY.as_bytes(), "test").unwrap();
    assert_exit(&dunning(&w, &nightly("plain", &[]), None), 0);
    let o = dunning(
        &w,
        &nightly("pseudo", &["--pseudonymize-ids", "--pseudonym-map"]),
        Some(KEY),
    );
    assert_exit(&o, 0);
    let err = stderr(&o);
    assert!(!err.contains(KEY), "the key is never logged");
    assert!(err.contains(&key.fingerprint()), "{err}");

    let originals = sample_ids();
    let dir = w.path("pseudo/2025-12-31");
    let scored = read_parquet(&dir.join("scored.parquet"));
    let ids: Vec<String> = strings(&scored, "borrower_id")
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert!(!ids.is_empty());
    for id in &ids {
        assert!(is_pseudonym(id), "{id}");
        assert!(!originals.contains(id), "an original id in scored.parquet");
    }
    assert!(ids.windows(2).all(|p| p[0] < p[1]), "sorted by pseudonym");
    // No other text column holds an id either.
    for f in scored.schema().fields() {
        if f.data_type() == &arrow::datatypes::DataType::Utf8 {
            for v in strings(&scored, f.name()).into_iter().flatten() {
                assert!(!originals.contains(&v), "{}: {v}", f.name());
            }
        }
    }

    // The same borrowers with the same decisions: each plain row has a
    // pseudonymized twin under HMAC(key, id).
    let plain = read_parquet(&w.path("plain/2025-12-31/scored.parquet"));
    assert_eq!(plain.num_rows(), scored.num_rows());
    let row_of: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(k, id)| (id.as_str(), k))
        .collect();
    let plain_ids = plain
        .column_by_name("borrower_id")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int64Type>();
    let (pt, st) = (strings(&plain, "treatment"), strings(&scored, "treatment"));
    let (pr, sr) = (
        strings(&plain, "treatment_rule"),
        strings(&scored, "treatment_rule"),
    );
    for k in 0..plain.num_rows() {
        let twin = row_of[key.pseudonym_of_int(plain_ids.value(k)).as_str()];
        assert_eq!((&pt[k], &pr[k]), (&st[twin], &sr[twin]));
    }

    // Rejects: the same rows, with the borrower id as a pseudonym (or null).
    let rejects = read_parquet(&dir.join("rejects.parquet"));
    let plain_rejects = read_parquet(&w.path("plain/2025-12-31/rejects.parquet"));
    assert_eq!(rejects.num_rows(), plain_rejects.num_rows());
    for (id, plain_id) in reject_ids(&rejects).iter().zip(reject_ids(&plain_rejects)) {
        assert_eq!(id.is_some(), plain_id.is_some());
        if let (Some(id), Some(plain_id)) = (id, plain_id) {
            assert!(is_pseudonym(id) && !originals.contains(id), "{id}");
            assert_eq!(id, &key.pseudonym(&plain_id));
        }
    }
    for name in ["table", "source_file", "column", "reason"] {
        for v in strings(&rejects, name).into_iter().flatten() {
            assert!(!originals.contains(&v), "rejects {name}: {v}");
        }
    }

    // The mapping file undoes the pseudonyms of both files, and nothing else.
    let map = read_parquet(&dir.join("pseudonyms.parquet"));
    let pairs: HashMap<String, String> = strings(&map, "pseudonym")
        .into_iter()
        .zip(strings(&map, "borrower_id"))
        .map(|(p, id)| (p.unwrap(), id.unwrap()))
        .collect();
    assert_eq!(pairs.len(), map.num_rows());
    for (p, id) in &pairs {
        assert_eq!(&key.pseudonym(id), p);
    }
    let mut written: BTreeSet<String> = ids.iter().cloned().collect();
    written.extend(reject_ids(&rejects).into_iter().flatten());
    assert_eq!(written, pairs.keys().cloned().collect());

    let m = manifest(&dir);
    assert_eq!(m["pseudonymized_ids"], true);
    assert_eq!(m["pseudonym_key_fingerprint"], key.fingerprint().as_str());
    assert!(m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o.as_str().unwrap().ends_with("pseudonyms.parquet")));
    let plain_m = manifest(&w.path("plain/2025-12-31"));
    assert_eq!(plain_m["pseudonymized_ids"], false);
    assert!(plain_m["pseudonym_key_fingerprint"].is_null());
    assert_eq!(
        m["by_bucket_and_treatment"],
        plain_m["by_bucket_and_treatment"]
    );
    for (name, bytes) in files(&dir) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(KEY), "{name} holds the key");
    }
    assert_eq!(
        footer_metadata(&dir.join("scored.parquet"))
            .get("dunning.pseudonym_key_fingerprint")
            .map(String::as_str),
        Some(key.fingerprint().as_str())
    );
}

#[test]
fn the_same_key_gives_the_same_bytes_and_another_key_other_pseudonyms() {
    let w = Workdir::new();
    let run = |out: &str, key: Option<&str>, extra: &[&str]| {
        let mut e = vec!["--pseudonymize-ids", "--pseudonym-map"];
        e.extend(extra);
        let o = dunning(&w, &nightly(out, &e), key);
        assert_exit(&o, 0);
        files(&w.path(&format!("{out}/2025-12-31")))
    };
    let first = run("a", Some(KEY), &[]);
    let again = run("b", Some(KEY), &[]);
    for f in ["scored.parquet", "rejects.parquet", "pseudonyms.parquet"] {
        assert!(first[f] == again[f], "{f} differs on a re-run");
    }
    // The key from a file (with its trailing newline) is the same key.
    std::fs::write(w.path("key.txt"), format!("{KEY}\n")).unwrap();
    let from_file = run("c", None, &["--pseudonym-key-file", "key.txt"]);
    assert!(first["scored.parquet"] == from_file["scored.parquet"]);

    run("d", Some(OTHER_KEY), &[]);
    let ids = |out: &str| -> BTreeSet<String> {
        let t = read_parquet(&w.path(&format!("{out}/2025-12-31/scored.parquet")));
        strings(&t, "borrower_id").into_iter().flatten().collect()
    };
    let (a, d) = (ids("a"), ids("d"));
    assert_eq!(a.len(), d.len());
    assert!(a.is_disjoint(&d), "another key gives other pseudonyms");
    assert_ne!(
        manifest(&w.path("a/2025-12-31"))["pseudonym_key_fingerprint"],
        manifest(&w.path("d/2025-12-31"))["pseudonym_key_fingerprint"]
    );
}

#[test]
fn a_missing_or_weak_key_is_a_configuration_error_and_writes_nothing() {
    let w = Workdir::new();
    std::fs::write(w.path("short.key"), "tooshort\n").unwrap();
    std::fs::write(w.path("good.key"), KEY).unwrap();
    let cases: [(Option<&str>, &[&str], &str); 5] = [
        (None, &[], KEY_ENV),
        (Some(""), &[], "empty"),
        (Some("fifteen-bytes!!"), &[], "at least 16"),
        (None, &["--pseudonym-key-file", "short.key"], "at least 16"),
        (None, &["--pseudonym-key-file", "absent.key"], "absent.key"),
    ];
    for (key, extra, says) in cases {
        let mut e = vec!["--pseudonymize-ids"];
        e.extend(extra);
        let o = dunning(&w, &nightly("out", &e), key);
        assert_exit(&o, 78);
        let err = stderr(&o);
        assert!(err.contains(says), "{key:?} {extra:?}: {err}");
        for secret in ["fifteen-bytes", "tooshort"] {
            assert!(!err.contains(secret), "the key is never shown: {err}");
        }
    }
    // Both the variable and a file: which one was meant cannot be told.
    let o = dunning(
        &w,
        &nightly(
            "out",
            &["--pseudonymize-ids", "--pseudonym-key-file", "good.key"],
        ),
        Some(KEY),
    );
    assert_exit(&o, 78);
    assert!(!w.path("out/2025-12-31").exists(), "nothing was written");

    // Options that need --pseudonymize-ids, and partition shares (which are
    // merged by the real ids), are command-line errors.
    for extra in [
        &["--pseudonym-map"][..],
        &["--pseudonym-key-file", "good.key"],
        &[
            "--pseudonymize-ids",
            "--partitions",
            "2",
            "--partition",
            "0",
        ],
    ] {
        let o = dunning(&w, &nightly("out", extra), Some(KEY));
        assert_exit(&o, 64);
    }
    assert!(!w.path("out/2025-12-31").exists());
    assert!(!w.path("out/2025-12-31.part-0-of-2").exists());
}

#[test]
fn partitioned_and_combined_pseudonymized_runs_give_the_single_run() {
    let w = Workdir::new();
    let flags = ["--pseudonymize-ids", "--pseudonym-map"];
    assert_exit(&dunning(&w, &nightly("single", &flags), Some(KEY)), 0);
    let mut e = flags.to_vec();
    e.extend(["--partitions", "2"]);
    assert_exit(&dunning(&w, &nightly("seq", &e), Some(KEY)), 0);
    // Shares run without pseudonyms, pseudonymized when combined.
    for i in ["0", "1"] {
        let o = dunning(
            &w,
            &nightly("multi", &["--partitions", "2", "--partition", i]),
            None,
        );
        assert_exit(&o, 0);
    }
    let mut c = args(&["combine", "--strategy", &repo("strategies/default.toml")]);
    c.extend(args(&[
        "--out",
        "multi",
        "--as-of",
        "2025-12-31",
        "--partitions",
        "2",
    ]));
    c.extend(args(&flags));
    assert_exit(&dunning(&w, &c, Some(KEY)), 0);

    let single = files(&w.path("single/2025-12-31"));
    for root in ["seq", "multi"] {
        let got = files(&w.path(&format!("{root}/2025-12-31")));
        for f in ["scored.parquet", "rejects.parquet", "pseudonyms.parquet"] {
            assert!(
                got[f] == single[f],
                "{root}/{f} differs from the single run's"
            );
        }
        let m = manifest(&w.path(&format!("{root}/2025-12-31")));
        assert_eq!(m["pseudonymized_ids"], true);
    }
}

#[test]
fn a_failed_pseudonymized_run_leaves_nothing_behind() {
    let w = Workdir::new();
    for target in ["pseudonyms.parquet", "scored.parquet", "2025-12-31"] {
        let o = Command::new(env!("CARGO_BIN_EXE_dunning"))
            .args(nightly("out", &["--pseudonymize-ids", "--pseudonym-map"]))
            .current_dir(w.root())
            .env(KEY_ENV, KEY)
            .env(dunning::output::FAIL_BEFORE_RENAME, target)
            .output()
            .unwrap();
        assert_exit(&o, 74);
        let mut left: Vec<String> = std::fs::read_dir(w.path("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".2025-12-31.lock"], "{target}");
    }
}

/// Values no message, log line or rejects file may show: each is in a
/// personal field of a rejected row below.
const PERSONAL: [&str; 8] = [
    "987654",     // a negative amount_due
    "31415926",   // an out-of-range payment amount
    "777001",     // a loan id that is not the borrower's
    "4242",       // a negative promise amount
    "5550123",    // a phone number typed into the channel
    "Jane Roe",   // a name typed into the outcome
    "1850",       // an out-of-range date
    "2387-04-01", // another
];

fn personal_ledger(w: &Workdir) {
    let ids = |v: Vec<i64>| Arc::new(Int64Array::from(v)) as ArrayRef;
    let days = |v: Vec<&str>| {
        Arc::new(Date32Array::from(
            v.into_iter().map(day).collect::<Vec<_>>(),
        )) as ArrayRef
    };
    let amounts = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
    w.parquet(
        "schedule.parquet",
        vec![
            ("borrower_id", ids(vec![1, 1, 2, 2, 3])),
            ("loan_id", ids(vec![11, 11, 21, 21, 31])),
            (
                "due_date",
                days(vec![
                    "2025-01-15",
                    "2025-02-15",
                    "2025-01-20",
                    "2387-04-01",
                    "2025-01-10",
                ]),
            ),
            (
                "amount_due",
                amounts(vec![100.0, 100.0, 250.0, 250.0, -987654.5]),
            ),
        ],
    );
    w.parquet(
        "payments.parquet",
        vec![
            ("borrower_id", ids(vec![1, 1, 2, 2])),
            ("loan_id", ids(vec![11, 11, 777001, 21])),
            (
                "paid_date",
                days(vec!["2025-01-15", "1850-06-01", "2025-01-20", "2025-01-21"]),
            ),
            ("amount", amounts(vec![100.0, 50.0, 250.0, 3.1415926e15])),
        ],
    );
    let micros = |d: &str| i64::from(day(d)) * 86_400_000_000 + 36_000_000_000;
    w.parquet(
        "contacts.parquet",
        vec![
            ("borrower_id", ids(vec![1, 2, 2])),
            (
                "contact_time",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    micros("2025-01-20"),
                    micros("2025-01-25"),
                    micros("2025-01-26"),
                ])),
            ),
            (
                "channel",
                Arc::new(StringArray::from(vec![
                    "call",
                    "phone 555-0123 / 5550123",
                    "sms",
                ])),
            ),
            (
                "outcome",
                Arc::new(StringArray::from(vec![
                    "promise_to_pay",
                    "no_answer",
                    "spoke to Jane Roe",
                ])),
            ),
            ("promise_amount", amounts(vec![-4242.0, 0.0, 0.0])),
            (
                "promise_date",
                days(vec!["2025-01-30", "2025-01-30", "2025-01-30"]),
            ),
        ],
    );
}

/// Every text cell of a table.
fn text_cells(t: &RecordBatch) -> Vec<String> {
    let mut out = Vec::new();
    for f in t.schema().fields() {
        if f.data_type() == &arrow::datatypes::DataType::Utf8 {
            out.extend(strings(t, f.name()).into_iter().flatten());
        }
    }
    out
}

#[test]
fn rejects_messages_and_logs_name_the_row_but_show_no_personal_values() {
    let w = Workdir::new();
    personal_ledger(&w);
    let base = args(&[
        "features",
        "--schedule",
        "schedule.parquet",
        "--payments",
        "payments.parquet",
        "--contacts",
        "contacts.parquet",
        "--as-of",
        "2025-02-01",
    ]);
    let mut a = base.clone();
    a.extend(args(&["--out", "f.parquet"]));
    let o = dunning(&w, &a, None);
    assert_exit(&o, 0);
    let rejects = read_parquet(&w.path("f.rejects.parquet"));
    let reasons: Vec<String> = strings(&rejects, "reason").into_iter().flatten().collect();
    let columns: Vec<String> = strings(&rejects, "column").into_iter().flatten().collect();
    // Each defect is rejected, and named by file, row and column...
    assert_eq!(rejects.num_rows(), 8, "{reasons:#?}");
    for col in [
        "due_date",
        "amount_due",
        "paid_date",
        "loan_id",
        "amount",
        "channel",
        "outcome",
        "promise_amount",
    ] {
        assert!(columns.iter().any(|c| c == col), "{col}: {columns:?}");
    }
    // ...but no reject shows a personal value, nor does the log.
    let cells = text_cells(&rejects);
    let err = stderr(&o);
    for v in PERSONAL {
        for c in &cells {
            assert!(!c.contains(v), "rejects.parquet shows {v:?}: {c}");
        }
        assert!(!err.contains(v), "the log shows {v:?}:\n{err}");
    }
    // The borrower id stays (it is how the lender finds the borrower).
    assert_eq!(
        reject_ids(&rejects)
            .into_iter()
            .flatten()
            .collect::<BTreeSet<_>>(),
        ["1", "2", "3"].map(String::from).into()
    );

    // --strict names the first reject in its error: still without values.
    let mut a = base;
    a.extend(args(&["--strict", "--out", "g.parquet"]));
    let o = dunning(&w, &a, None);
    assert_exit(&o, 65);
    let err = stderr(&o);
    assert!(
        err.contains("schedule.parquet: row index 3, column `due_date`"),
        "{err}"
    );
    for v in PERSONAL {
        assert!(!err.contains(v), "the error shows {v:?}:\n{err}");
    }
}

#[test]
fn a_config_file_names_the_key_file_but_never_holds_the_key() {
    let w = Workdir::new();
    std::fs::create_dir(w.path("conf")).unwrap();
    std::fs::write(w.path("conf/night.key"), KEY).unwrap();
    let mut config = std::fs::read_to_string(repo("data/nightly.toml")).unwrap();
    let data = repo("data");
    config = config
        .replace("\"../", &format!("\"{data}/../"))
        .replace("\"sample/", &format!("\"{data}/sample/"));
    // The key file is relative to the config file, like every path there.
    let good = format!("{config}pseudonymize_ids = true\npseudonym_key_file = \"night.key\"\n");
    std::fs::write(w.path("conf/good.toml"), good).unwrap();
    let o = dunning(
        &w,
        &args(&["run", "--config", "conf/good.toml", "--out", "cfg"]),
        None,
    );
    assert_exit(&o, 0);
    assert_exit(
        &dunning(&w, &nightly("flags", &["--pseudonymize-ids"]), Some(KEY)),
        0,
    );
    assert!(
        std::fs::read(w.path("cfg/2025-12-31/scored.parquet")).unwrap()
            == std::fs::read(w.path("flags/2025-12-31/scored.parquet")).unwrap()
    );
    // The key itself in the config is refused, and not repeated in the error.
    let bad = format!("{config}pseudonymize_ids = true\npseudonym_key = \"{KEY}\"\n");
    std::fs::write(w.path("conf/bad.toml"), bad).unwrap();
    let o = dunning(
        &w,
        &args(&["run", "--config", "conf/bad.toml", "--out", "bad"]),
        None,
    );
    assert_exit(&o, 78);
    let err = stderr(&o);
    // The key's line: after the example config and `pseudonymize_ids`.
    let line = config.lines().count() + 2;
    assert!(
        err.contains(&format!(
            "bad.toml: line {line}: unknown field `pseudonym_key`"
        )),
        "{err}"
    );
    assert!(!err.contains(KEY), "the key is never shown:\n{err}");
}
