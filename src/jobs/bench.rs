//! `dunning bench`: times every stage of the nightly pipeline on a generated
//! ledger, against the floor of merely reading the input columns.
//!
//! Data generation and the building of the training table are outside the
//! timed code. Each stage runs `runs` times and reports its median wall time,
//! rows per second and peak RSS (the process's high-water mark during the
//! stage, reset before it; Linux only). The whole nightly run is timed as a
//! separate process (`dunning run`), as a scheduler would start it, and its
//! peak RSS comes from its manifest. The report is a table for people and
//! the same numbers as JSON. This module measures; it changes nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::contract::{self, read, InputPaths, LoadOptions};
use crate::dates::{self, Day};
use crate::error::{Error, Result};
use crate::generate::{self, GenerateOptions};
use crate::jobs::{peak_rss_bytes, reset_peak_rss, Stopwatch};
use crate::ledger::SnapshotOptions;
use crate::model::fit::FitOptions;
use crate::model::train::{self as mtrain, TrainOptions};
use crate::model::{Scaling, Transform};
use crate::output::{self, tables};
use crate::strategy::Strategy;

/// The default strategy, compiled in so the bench needs no files.
const DEFAULT_STRATEGY: &str = include_str!("../../strategies/default.toml");

/// The stages a bench can time.
pub const STAGES: [&str; 8] = [
    "read", "validate", "features", "train", "score", "strategy", "write", "run",
];

/// Options of [`bench()`].
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Borrowers to generate.
    pub borrowers: u64,
    /// Generator seed.
    pub seed: u64,
    /// Where the ledger, model and outputs go (a ledger of the same size and
    /// seed already there is reused).
    pub dir: PathBuf,
    /// Timed repetitions of each stage (the median is reported).
    pub runs: usize,
    /// Stages to time (a subset of [`STAGES`]).
    pub stages: Vec<String>,
    /// Partitions of the end-to-end nightly run.
    pub partitions: u32,
    /// The dunning binary for the end-to-end run (default: this executable).
    pub binary: Option<PathBuf>,
    /// A trained model to score with instead of training one (unless the
    /// train stage is timed): saves the training at large sizes.
    pub model: Option<PathBuf>,
}

/// One stage's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct StageResult {
    /// Stage name.
    pub stage: String,
    /// What it does.
    pub what: String,
    /// Wall time of each run, seconds.
    pub seconds: Vec<f64>,
    /// Median wall time, seconds.
    pub median_seconds: f64,
    /// Rows the stage processes (input rows, training rows or scored rows).
    pub rows: u64,
    /// Rows per second at the median.
    pub rows_per_second: f64,
    /// Peak RSS during the stage, bytes (max over runs).
    pub peak_rss_bytes: Option<u64>,
    /// Median over the read floor's median (None when the floor was not timed).
    pub x_floor: Option<f64>,
}

/// The bench report.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The machine: CPU model, cores, memory, kernel.
    pub machine: Machine,
    /// dunning version.
    pub dunning_version: String,
    /// Borrowers in the ledger.
    pub borrowers: u64,
    /// Rows of the four input tables.
    pub input_rows: u64,
    /// Bytes of the four input files.
    pub input_bytes: u64,
    /// Seconds to generate the ledger (0 when reused).
    pub generate_seconds: f64,
    /// Repetitions per stage.
    pub runs: usize,
    /// Partitions of the end-to-end run.
    pub partitions: u32,
    /// Every stage timed, in pipeline order.
    pub stages: Vec<StageResult>,
}

/// The machine the bench ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// Total memory, bytes.
    pub memory_bytes: u64,
    /// Kernel release.
    pub kernel: String,
}

impl Machine {
    fn probe() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| "unknown".into(), |s| s.trim().to_string());
        let memory_bytes = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024);
        Self {
            cpu,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        }
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// Times `f` once, with the peak RSS during it.
fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64, Option<u64>)> {
    reset_peak_rss();
    let t = Instant::now();
    let v = f()?;
    Ok((v, t.elapsed().as_secs_f64(), peak_rss_bytes()))
}

/// The ledger of `opts` in `opts.dir/ledger`, generated unless already there.
fn ledger(opts: &BenchOptions) -> Result<(InputPaths, f64)> {
    let dir = opts.dir.join("ledger");
    let stamp = dir.join("generated.json");
    let want = format!(
        "{{\"borrowers\": {}, \"seed\": {}, \"version\": \"{}\"}}\n",
        opts.borrowers,
        opts.seed,
        env!("CARGO_PKG_VERSION")
    );
    let inputs = InputPaths::in_dir(&dir);
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return Ok((inputs, 0.0));
    }
    let t = Instant::now();
    generate::generate(&GenerateOptions::new(
        opts.borrowers,
        opts.seed,
        dir.clone(),
    ))?;
    let secs = t.elapsed().as_secs_f64();
    output::write_text(&stamp, &want)?;
    Ok((InputPaths::in_dir(&dir), secs))
}

/// Runs the bench; `progress` hears each stage as it is timed.
pub fn bench(opts: &BenchOptions, mut progress: impl FnMut(&str)) -> Result<BenchReport> {
    if opts.runs == 0 {
        return Err(Error::Usage("--runs must be at least 1".into()));
    }
    for s in &opts.stages {
        if !STAGES.contains(&s.as_str()) {
            return Err(Error::Usage(format!(
                "unknown stage {s:?}; stages are {}",
                STAGES.join(", ")
            )));
        }
    }
    let wants = |s: &str| opts.stages.iter().any(|x| x == s);
    progress("generate");
    let (inputs, generate_seconds) = ledger(opts)?;
    let files: Vec<(&Path, &'static contract::TableSpec)> = [
        (Some(inputs.schedule.as_path()), &contract::SCHEDULE),
        (Some(inputs.payments.as_path()), &contract::PAYMENTS),
        (inputs.borrowers.as_deref(), &contract::BORROWERS),
        (inputs.contacts.as_deref(), &contract::CONTACTS),
    ]
    .into_iter()
    .filter_map(|(p, s)| p.map(|p| (p, s)))
    .collect();
    let input_bytes = files
        .iter()
        .map(|(p, _)| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    // The generator's ledger ends on 2025-12-31: tonight is its last day,
    // and the training snapshots are the three month-ends with labels.
    let tonight: Day = dates::ymd(2025, 12, 31);
    let training_days = vec![
        dates::ymd(2025, 9, 30),
        dates::ymd(2025, 10, 31),
        dates::ymd(2025, 11, 30),
    ];

    let mut results: Vec<StageResult> = Vec::new();
    let mut record = |stage: &str, what: &str, runs: Vec<(f64, Option<u64>)>, rows: u64| {
        let seconds: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let m = median(&seconds);
        results.push(StageResult {
            stage: stage.into(),
            what: what.into(),
            median_seconds: m,
            rows,
            rows_per_second: if m > 0.0 { rows as f64 / m } else { 0.0 },
            peak_rss_bytes: runs.iter().filter_map(|r| r.1).max(),
            seconds,
            x_floor: None,
        });
    };

    // Read floor: decode the contract's columns of every file, nothing else.
    let mut input_rows = 0;
    if wants("read") {
        progress("read");
        let mut runs = Vec::new();
        for _ in 0..opts.runs {
            let (rows, secs, rss) = timed(|| {
                let mut rows = 0;
                for (path, spec) in &files {
                    rows += read::read_table(path, spec, None, None)?.rows as u64;
                }
                Ok(rows)
            })?;
            input_rows = rows;
            runs.push((secs, rss));
        }
        record(
            "read",
            "decode the needed columns of the four files (the floor)",
            runs,
            input_rows,
        );
    }

    // The model the scoring stages use: trained here (timed as "train") or,
    // when train is not asked for, trained once untimed; none for a bench of
    // the read floor alone.
    let model_dir = match (&opts.model, wants("train")) {
        (Some(m), false) => m.clone(),
        _ => opts.dir.join("model"),
    };
    let strategy_path = opts.dir.join("strategy.toml");
    let strategy = Strategy::parse(&strategy_path, DEFAULT_STRATEGY)?;
    output::write_text(&strategy_path, DEFAULT_STRATEGY)?;
    if opts.stages.iter().any(|s| s != "read") && (opts.model.is_none() || wants("train")) {
        let table = {
            progress("training table");
            crate::jobs::train::ledger_table(
                &inputs,
                &SnapshotOptions {
                    as_of: training_days,
                    horizon_days: crate::ledger::DEFAULT_HORIZON_DAYS,
                    tolerance: crate::ledger::DEFAULT_TOLERANCE,
                },
                &LoadOptions::default(),
                None,
            )?
        };
        let topts = TrainOptions {
            name: "bench".into(),
            version: "bench@1".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            fit: FitOptions::default(),
            validation_share: 0.2,
            validate_as_of: None,
            seed: 42,
            features: None,
            transform: Transform::Standardize,
            scaling: Scaling::default(),
        };
        let train_runs = if wants("train") { opts.runs } else { 1 };
        let mut runs = Vec::new();
        let mut model = None;
        for _ in 0..train_runs {
            progress("train");
            let (m, secs, rss) = timed(|| Ok(mtrain::train(&table, &topts)?))?;
            model = Some(m);
            runs.push((secs, rss));
        }
        let training_rows = table.rows() as u64;
        drop(table);
        if wants("train") {
            record(
                "train",
                "fit the logistic regression (linfa-logistic) on every feature",
                runs,
                training_rows,
            );
        }
        let model = model.expect("trained at least once");
        output::write_json(&model_dir.join("model.json"), &model)?;
    }

    // validate, features, score: the stages of load_and_score, each timed
    // by its stopwatch lap with the peak RSS of the lap.
    let mut laps: Vec<Vec<(f64, Option<u64>)>> = vec![Vec::new(); 5];
    let mut scored_rows = 0;
    let mut loaded_rows = 0;
    let in_process = ["validate", "features", "score", "strategy", "write"];
    if in_process.iter().any(|s| wants(s)) {
        for _ in 0..opts.runs {
            progress("validate, features, score, strategy, write");
            let peaks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let sink = peaks.clone();
            let mut clock = Stopwatch::observed(Some(Box::new(move |_, d: Duration| {
                sink.lock()
                    .expect("no panic while holding the lock")
                    .push((d.as_secs_f64(), peak_rss_bytes()));
                reset_peak_rss();
            })));
            reset_peak_rss();
            let s = crate::jobs::score::load_and_score(
                &model_dir,
                &inputs,
                tonight,
                crate::ledger::DEFAULT_TOLERANCE,
                LoadOptions::default(),
                &mut clock,
            )?;
            let decided = crate::jobs::run::decide_all(&strategy, &s, tonight);
            clock.lap("strategy")?;
            let batch = tables::run_table(
                &s.ledger,
                &s.features,
                &s.model,
                &s.rows,
                &s.model_sha256,
                &strategy,
                &decided.decisions,
                &decided.arms,
                &decided.next_due,
                "bench",
            );
            output::write_parquet(
                &opts.dir.join("bench-scored.parquet"),
                batch.schema(),
                &[batch],
            )?;
            clock.lap("write")?;
            scored_rows = s.rows.len() as u64;
            loaded_rows = s.ledger.reports.iter().map(|r| r.rows_read).sum();
            drop(s);
            drop(clock);
            let peaks = peaks.lock().expect("no panic while holding the lock");
            for (k, lap) in peaks.iter().enumerate().take(5) {
                laps[k].push(*lap);
            }
        }
    }
    let what = [
        "read and validate every row (contract), the rejects",
        "FIFO waterfall replay and features at the as-of date",
        "score the population (rayon)",
        "assign treatments (matrix, overlays, contact limits)",
        "build and write scored.parquet",
    ];
    let rows = [
        loaded_rows,
        loaded_rows,
        scored_rows,
        scored_rows,
        scored_rows,
    ];
    for (k, stage) in in_process.iter().enumerate() {
        if wants(stage) {
            record(stage, what[k], std::mem::take(&mut laps[k]), rows[k]);
        }
    }
    if input_rows == 0 {
        input_rows = loaded_rows;
    }

    // The whole nightly run, as its own process.
    if wants("run") {
        let exe = match &opts.binary {
            Some(b) => b.clone(),
            None => std::env::current_exe()
                .map_err(|e| Error::Usage(format!("cannot find the dunning binary to run: {e}")))?,
        };
        let mut runs = Vec::new();
        for _ in 0..opts.runs {
            progress("run");
            let out = opts.dir.join("out");
            let mut cmd = std::process::Command::new(&exe);
            cmd.arg("--quiet")
                .arg("run")
                .arg("--model")
                .arg(&model_dir)
                .arg("--strategy")
                .arg(&strategy_path)
                .arg("--schedule")
                .arg(&inputs.schedule)
                .arg("--payments")
                .arg(&inputs.payments)
                .arg("--as-of")
                .arg(dates::format(tonight))
                .arg("--out")
                .arg(&out)
                .arg("--partitions")
                .arg(opts.partitions.to_string());
            if let Some(b) = &inputs.borrowers {
                cmd.arg("--borrowers").arg(b);
            }
            if let Some(c) = &inputs.contacts {
                cmd.arg("--contacts").arg(c);
            }
            let t = Instant::now();
            let o = cmd
                .output()
                .map_err(|e| Error::Usage(format!("cannot start {}: {e}", exe.display())))?;
            let secs = t.elapsed().as_secs_f64();
            if !o.status.success() {
                return Err(Error::Internal(format!(
                    "the nightly run failed ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                )));
            }
            let manifest = out.join(dates::format(tonight)).join("manifest.json");
            let m: serde_json::Value = std::fs::read_to_string(&manifest)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            runs.push((secs, m["peak_rss_bytes"].as_u64()));
        }
        record(
            "run",
            "the whole nightly run (`dunning run`, its own process), end to end",
            runs,
            input_rows,
        );
    }

    results.sort_by_key(|r| STAGES.iter().position(|s| *s == r.stage));
    let floor = results
        .iter()
        .find(|r| r.stage == "read")
        .map(|r| r.median_seconds);
    for r in &mut results {
        r.x_floor = floor.map(|f| r.median_seconds / f);
    }
    Ok(BenchReport {
        machine: Machine::probe(),
        dunning_version: env!("CARGO_PKG_VERSION").into(),
        borrowers: opts.borrowers,
        input_rows,
        input_bytes,
        generate_seconds,
        runs: opts.runs,
        partitions: opts.partitions,
        stages: results,
    })
}

impl BenchReport {
    /// The report as a table for people.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "dunning {} bench: {} borrowers, {} input rows ({:.0} MB of Parquet), {} run(s) per stage, median wall time",
            self.dunning_version,
            self.borrowers,
            self.input_rows,
            self.input_bytes as f64 / 1e6,
            self.runs
        );
        let _ = writeln!(
            out,
            "machine: {}, {} CPUs, {:.0} GiB, Linux {}; nightly run with {} partition(s)\n",
            m.cpu,
            m.cpus,
            m.memory_bytes as f64 / (1u64 << 30) as f64,
            m.kernel,
            self.partitions
        );
        let _ = writeln!(
            out,
            "| {:<9} | {:>9} | {:>12} | {:>13} | {:>13} | {:>7} |",
            "stage", "seconds", "rows", "rows/s", "peak RSS MiB", "x floor"
        );
        let _ = writeln!(
            out,
            "|{}|{}|{}|{}|{}|{}|",
            "-".repeat(11),
            "-".repeat(11),
            "-".repeat(14),
            "-".repeat(15),
            "-".repeat(15),
            "-".repeat(9)
        );
        for r in &self.stages {
            let rss = r.peak_rss_bytes.map_or_else(
                || "-".to_string(),
                |b| format!("{:.0}", b as f64 / (1u64 << 20) as f64),
            );
            let x = r
                .x_floor
                .map_or_else(|| "-".to_string(), |x| format!("{x:.2}"));
            let _ = writeln!(
                out,
                "| {:<9} | {:>9.3} | {:>12} | {:>13.0} | {:>13} | {:>7} |",
                r.stage, r.median_seconds, r.rows, r.rows_per_second, rss, x
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_bench_reports_every_stage() {
        let dir = tempfile::tempdir().unwrap();
        let opts = BenchOptions {
            borrowers: 300,
            seed: 3,
            dir: dir.path().to_path_buf(),
            runs: 1,
            // "run" needs the binary, which unit tests do not have.
            stages: STAGES
                .iter()
                .filter(|s| **s != "run")
                .map(|s| s.to_string())
                .collect(),
            partitions: 1,
            binary: None,
            model: None,
        };
        let r = bench(&opts, |_| {}).unwrap();
        let names: Vec<&str> = r.stages.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(
            names,
            ["read", "validate", "features", "train", "score", "strategy", "write"]
        );
        assert!(r
            .stages
            .iter()
            .all(|s| s.rows > 0 && s.median_seconds > 0.0));
        assert_eq!(r.stages[0].x_floor, Some(1.0));
        assert!(r.table().contains("| features"));
        // A second bench reuses the ledger.
        let again = bench(&opts, |_| {}).unwrap();
        assert_eq!(again.generate_seconds, 0.0);
        assert_eq!(again.input_rows, r.input_rows);
    }
}
