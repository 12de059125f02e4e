//! `dunning run` stopped by SIGTERM or SIGINT at several points, and
//! writing onto a full disk: the run stops within seconds with the
//! documented exit code, leaves no staging directory or temporary file, and
//! the previous night's output stays byte for byte as it was.
//! `DUNNING_PAUSE_AFTER=STAGE` holds a run after a stage until the signal
//! arrives, so the signal lands exactly there.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn run_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["run", "--model", &repo("models/default")]
        .map(String::from)
        .to_vec();
    v.extend(["--strategy".into(), repo("strategies/default.toml")]);
    v.extend(sample_inputs());
    v.extend(["--as-of", "2025-12-31", "--out"].map(String::from));
    v.push(out.display().to_string());
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Every file under `dir` (recursively) with its size and a hash of its
/// bytes (directories: None). Lock files hold the pid of the last run that
/// locked the night, so only their presence counts.
fn tree(dir: &Path) -> BTreeMap<String, Option<(usize, u64)>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            let name = p.strip_prefix(dir).unwrap().display().to_string();
            let lock = name.ends_with(".lock");
            let file = (!p.is_dir() && !lock).then(|| {
                let bytes = std::fs::read(&p).unwrap();
                let mut h = std::hash::DefaultHasher::new();
                std::hash::Hash::hash(&bytes, &mut h);
                (bytes.len(), std::hash::Hasher::finish(&h))
            });
            out.insert(name, file);
        }
    }
    out
}

/// Starts a run that pauses after `stage`, sends `signal` (a `kill` name)
/// once it is there, and returns its exit code and how long it took to
/// stop after the signal.
fn interrupt_at(
    out: &Path,
    stage: &str,
    signal: &str,
    extra: &[&str],
) -> (Option<i32>, Duration, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dunning"))
        .args(run_args(out, extra))
        .env("DUNNING_PAUSE_AFTER", stage)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dunning");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let want = format!("paused after {stage}");
    loop {
        match lines.next() {
            Some(Ok(l)) => {
                log.push_str(&l);
                log.push('\n');
                if l.contains(&want) {
                    break;
                }
            }
            _ => {
                let _ = child.kill();
                panic!("the run ended without pausing after {stage}:\n{log}");
            }
        }
    }
    let sent = Instant::now();
    let pid = child.id().to_string();
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(kill.success(), "kill -{signal} {pid}");
    // Drain stderr so the child never blocks on a full pipe.
    let reader =
        std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if sent.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the run did not stop within 30 s of SIG{signal} after {stage}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stopped = sent.elapsed();
    log.push_str(&reader.join().unwrap());
    (status.code(), stopped, log)
}

/// Runs last night into `out`: the output a failed run must leave as it
/// was. Returns its [`tree`].
fn last_night(w: &Workdir, out: &Path) -> BTreeMap<String, Option<(usize, u64)>> {
    let args = run_args(out, &["--quiet"]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_exit(&w.run(&refs), 0);
    let before = tree(out);
    assert!(
        before.contains_key("2025-12-31/scored.parquet"),
        "{:?}",
        before.keys()
    );
    before
}

#[test]
fn a_signal_at_any_stage_stops_the_run_and_keeps_the_previous_night() {
    let w = Workdir::new();
    let out = w.path("out");
    // Last night's output, which an interrupted run must not touch.
    let before = last_night(&w, &out);

    let cases: [(&str, &str, &[&str]); 6] = [
        ("read and validate", "TERM", &[]),
        ("features", "INT", &[]),
        ("strategy", "TERM", &[]),
        // The scored file is written in the staging directory by now.
        ("write", "TERM", &[]),
        ("publish", "INT", &[]),
        // Partitioned: the merged night, before it is published.
        ("publish", "TERM", &["--partitions", "3"]),
    ];
    for (stage, signal, extra) in cases {
        let (code, stopped, log) = interrupt_at(&out, stage, signal, extra);
        let want = if signal == "TERM" { 143 } else { 130 };
        assert_eq!(
            code,
            Some(want),
            "SIG{signal} after {stage} {extra:?}:\n{log}"
        );
        assert!(
            stopped < Duration::from_secs(10),
            "SIG{signal} after {stage}: stopped only after {stopped:?}"
        );
        assert!(log.contains("nothing was published"), "{log}");
        assert!(!log.contains("panicked"), "{log}");
        // Nothing new: no staging directory, no temporary file, and the
        // previous night byte for byte.
        assert_eq!(tree(&out), before, "SIG{signal} after {stage} {extra:?}");
    }
}

#[test]
fn a_full_disk_fails_the_write_cleanly() {
    let w = Workdir::new();
    let out = w.path("out");
    let before = last_night(&w, &out);
    // A file-size limit (RLIMIT_FSIZE; `ulimit -f` counts 512-byte blocks
    // in sh) of 16 KiB makes the write of
    // scored.parquet fail as on a full disk. SIGXFSZ is ignored, as a
    // filling disk sends none: write() returns an error instead.
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_dunning").to_string())
        .chain(run_args(&out, &[]))
        .map(|a| format!("'{a}'"))
        .collect();
    let script = format!("trap '' XFSZ; ulimit -f 32; exec {}", quoted.join(" "));
    let o = Command::new("sh").args(["-c", &script]).output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(74), "{err}");
    assert!(
        err.contains("scored.parquet") || err.contains("2025-12-31"),
        "{err}"
    );
    assert!(err.to_lowercase().contains("file too large"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(tree(&out), before);
}
