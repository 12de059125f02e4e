//! Stage timings of `dunning features` against the floor of merely reading
//! the input columns, on a generated ledger.
//!
//! `cargo bench --bench pipeline` generates `DUNNING_BENCH_BORROWERS`
//! borrowers (default 200,000) into a temporary directory, or uses the ledger
//! in `DUNNING_BENCH_DIR`, and prints the median wall time of
//! `DUNNING_BENCH_RUNS` runs (default 3) per stage, with rows per second.
//! Data generation is outside the timed code.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dunning::contract::{self, read, InputPaths, LoadOptions};
use dunning::dates::ymd;
use dunning::generate::{generate, GenerateOptions};
use dunning::jobs::features::{self, FeaturesOptions};
use dunning::ledger::{self, SnapshotOptions};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing and
    // runs this once on a tiny ledger as a smoke test.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let runs = if smoke {
        1
    } else {
        env_usize("DUNNING_BENCH_RUNS", 3)
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = match std::env::var_os("DUNNING_BENCH_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let n = if smoke {
                500
            } else {
                env_usize("DUNNING_BENCH_BORROWERS", 200_000)
            };
            let opts = GenerateOptions::new(n as u64, 1, tmp.path().to_path_buf());
            generate(&opts).expect("generate");
            tmp.path().to_path_buf()
        }
    };
    let inputs = InputPaths::in_dir(&dir);
    let snapshots = SnapshotOptions {
        as_of: vec![ymd(2025, 11, 30)],
        horizon_days: 30,
        tolerance: 0.01,
    };
    let ledger = contract::load(&inputs, &LoadOptions::default()).expect("load");
    let rows: usize = ledger.reports.iter().map(|r| r.rows_read as usize).sum();
    let borrowers = ledger.borrower_count();
    drop(ledger);

    let time = |f: &mut dyn FnMut()| {
        median(
            (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed()
                })
                .collect(),
        )
    };
    let read_floor = time(&mut || {
        let mut files = vec![
            (&inputs.schedule, &contract::SCHEDULE),
            (&inputs.payments, &contract::PAYMENTS),
        ];
        if let Some(p) = &inputs.borrowers {
            files.push((p, &contract::BORROWERS));
        }
        if let Some(p) = &inputs.contacts {
            files.push((p, &contract::CONTACTS));
        }
        for (path, spec) in files {
            std::hint::black_box(read::read_table(path, spec, None).expect("read"));
        }
    });
    let load = time(&mut || {
        std::hint::black_box(contract::load(&inputs, &LoadOptions::default()).expect("load"));
    });
    let ledger = contract::load(&inputs, &LoadOptions::default()).expect("load");
    let build = time(&mut || {
        std::hint::black_box(ledger::build(&ledger, &snapshots).expect("build"));
    });
    drop(ledger);
    let out = tempfile::tempdir().expect("temp dir");
    let opts = FeaturesOptions {
        inputs: inputs.clone(),
        snapshots,
        load: LoadOptions::default(),
        data_end: None,
        out: out.path().join("features.parquet"),
    };
    let whole = time(&mut || {
        features::run(&opts).expect("features");
    });

    println!("ledger: {borrowers} borrowers, {rows} input rows, {runs} run(s), median wall time");
    println!(
        "{:<28} {:>10} {:>16} {:>10}",
        "stage", "seconds", "input rows/s", "x floor"
    );
    for (name, d) in [
        ("read columns (floor)", read_floor),
        ("read + validate", load),
        ("features (kernel only)", build),
        ("features job, end to end", whole),
    ] {
        let s = d.as_secs_f64();
        println!(
            "{name:<28} {s:>10.3} {:>16.0} {:>10.2}",
            rows as f64 / s,
            s / read_floor.as_secs_f64()
        );
    }
}
