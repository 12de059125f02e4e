//! The `dunning` binary: parses the command line, runs one library job, and
//! maps its error to an exit code. All the work is in the library.

mod cli;

// The batch allocates and frees large column buffers, table after table and
// partition after partition. With the system allocator, or with mimalloc's
// default of returning freed pages to the OS after 10 ms, a third or more of
// the run was the kernel faulting in and zeroing fresh pages (sys time 92 s
// of a 160 s run at 10M borrowers). mimalloc with purging off reuses them:
// the same run took 94 s. The cost is that RSS stays at its peak, which is
// what the memory budget is about anyway (see README, Performance).
// mimalloc is built without transparent huge pages (`no_thp` in Cargo.toml):
// with them, each fresh 2 MiB region is zeroed on its first touch, and on
// the reference VM the kernel time of a 1M run swung between 0.4 and 2 s
// from one run to the next; with 4 KiB pages it is about 0.5 s, and the
// run's peak RSS is 30 MiB lower.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (position 15 of `mi_option_e` in
/// mimalloc.h, v2 and v3); -1 means freed memory is never purged.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

use std::process::ExitCode;

use std::io::{IsTerminal, Write};

use clap::Parser;
use log::{info, warn};

use cli::{
    BenchArgs, Binning, Cli, CombineArgs, Command, FeaturesArgs, GenerateArgs, LogFormat, RunArgs,
    ScoreArgs, SimulateArgs, TrainArgs,
};
use dunning::contract::{InputPaths, LoadOptions};
use dunning::generate::{self, GenerateOptions};
use dunning::jobs::features::{self, FeaturesOptions};
use dunning::jobs::run::{self, RunConfig};
use dunning::jobs::score::{self, ScoreOptions};
use dunning::jobs::train::{self, TrainInput, TrainJobOptions};
use dunning::ledger::{SnapshotOptions, DEFAULT_TOLERANCE};
use dunning::model::fit::FitOptions;
use dunning::model::train::TrainOptions;
use dunning::model::{Scaling, Transform};
use dunning::ErrorKind;

fn main() -> ExitCode {
    // SAFETY: mi_option_set stores one integer option in mimalloc's option
    // table; it is called before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(ErrorKind::Usage.exit_code())
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let level = if cli.quiet { "warn" } else { "info" };
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level));
    logger.format_target(false);
    if cli.log_format == LogFormat::Json {
        logger.format(|buf, record| {
            let ts = buf.timestamp_millis().to_string();
            let line = serde_json::json!({"ts": ts, "level": record.level().as_str(), "msg": record.args().to_string()});
            writeln!(buf, "{line}")
        });
    }
    logger.init();
    // A progress bar only for people: a terminal, text logs, not --quiet.
    let bar = !cli.quiet && cli.log_format == LogFormat::Text && std::io::stderr().is_terminal();
    // A panic is a bug: report it as an internal failure (exit 70), not as
    // Rust's default 101, so the scheduler sees the documented code.
    let quiet = cli.quiet;
    match std::panic::catch_unwind(|| run(cli.command, bar, quiet)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            log::error!("{e:#}");
            ExitCode::from(e.kind().exit_code())
        }
        Err(_) => {
            log::error!(
                "internal error: dunning panicked (a bug; please report it with the log above)"
            );
            ExitCode::from(ErrorKind::Internal.exit_code())
        }
    }
}

fn run(command: Command, bar: bool, quiet: bool) -> dunning::Result<()> {
    // Jobs that check for a stop at their stage boundaries stop cleanly on
    // SIGTERM/SIGINT; the others keep the default action (die at once).
    if matches!(
        command,
        Command::Features(_)
            | Command::Score(_)
            | Command::Run(_)
            | Command::Combine(_)
            | Command::Simulate(_)
    ) {
        dunning::jobs::interrupt::install()
            .map_err(|e| dunning::Error::Internal(format!("installing signal handlers: {e}")))?;
    }
    match command {
        Command::Generate(args) => run_generate(args),
        Command::Features(args) => run_features(args),
        Command::Train(args) => run_train(args),
        Command::Score(args) => run_score(args),
        Command::Run(args) => run_nightly(args, bar, quiet),
        Command::Combine(args) => run_combine(args, quiet),
        Command::Bench(args) => run_bench(args),
        Command::Backtest(args) => run_backtest(args, quiet),
        Command::Compare(args) => run_compare(args, quiet),
        Command::Simulate(args) => run_simulate(args, quiet),
    }
}

fn run_generate(args: GenerateArgs) -> dunning::Result<()> {
    let mut opts = GenerateOptions::new(args.borrowers, args.seed, args.out);
    opts.end_date = args.end_date;
    opts.bad_rows = args.bad_rows;
    opts.profile = match args.profile {
        cli::Profile::Baseline => generate::Profile::Baseline,
        cli::Profile::Stressed => generate::Profile::Stressed,
    };
    let s = generate::generate(&opts)?;
    info!(
        "generated {} borrowers, {} loans, {} installments, {} payments, {} contacts ({} defective rows) in {}",
        s.borrowers,
        s.loans,
        s.schedule_rows,
        s.payment_rows,
        s.contact_rows,
        s.bad_rows,
        opts.out_dir.display()
    );
    Ok(())
}

fn run_features(args: FeaturesArgs) -> dunning::Result<()> {
    let opts = FeaturesOptions {
        inputs: InputPaths {
            schedule: args.schedule,
            payments: args.payments,
            borrowers: args.borrowers,
            contacts: args.contacts,
            labels: args.labels,
        },
        snapshots: SnapshotOptions {
            as_of: args.as_of,
            horizon_days: args.horizon_days,
            tolerance: args.tolerance,
        },
        load: LoadOptions {
            attributes: args.attributes,
            strict: args.strict,
            ..LoadOptions::default()
        },
        data_end: args.data_end,
        out: args.out,
    };
    let s = features::run(&opts)?;
    for t in &s.inputs {
        if !t.ignored_columns.is_empty() {
            info!(
                "{}: ignored columns not in the contract: {}",
                t.file,
                t.ignored_columns.join(", ")
            );
        }
        info!(
            "{} ({}): {} rows read, {} used, {} rejected, {} unmatched",
            t.table, t.file, t.rows_read, t.rows_used, t.rows_rejected, t.rows_unmatched
        );
    }
    if let Some(r) = &s.rejects_file {
        warn!("{} rows rejected; see {r}", s.rows_rejected);
    }
    for c in &s.snapshots {
        info!(
            "as of {}: {} borrowers, {} in population, {} outside, {} labelled ({} repaid)",
            c.as_of, c.borrowers, c.in_population, c.outside_population, c.labelled, c.repaid
        );
    }
    info!(
        "wrote {} rows x {} features to {} ({})",
        s.rows_written,
        s.features.len(),
        s.output,
        stages(&s.timings)
    );
    Ok(())
}

fn run_train(args: TrainArgs) -> dunning::Result<()> {
    let input = match (args.features, args.schedule, args.payments) {
        (Some(f), _, _) => TrainInput::Features(f),
        (None, Some(schedule), Some(payments)) => TrainInput::Ledger {
            inputs: InputPaths {
                schedule,
                payments,
                borrowers: args.borrowers,
                contacts: args.contacts,
                labels: args.labels,
            },
            snapshots: SnapshotOptions {
                as_of: args.as_of,
                horizon_days: args.horizon_days,
                tolerance: DEFAULT_TOLERANCE,
            },
            load: LoadOptions {
                attributes: args.attributes,
                strict: false,
                ..LoadOptions::default()
            },
            data_end: None,
        },
        _ => {
            return Err(dunning::Error::Usage(
                "give --features F, or --schedule F --payments F with --as-of".into(),
            ))
        }
    };
    let opts = TrainJobOptions {
        input,
        out_dir: args.out,
        train: TrainOptions {
            name: String::new(),
            version: String::new(),
            created_at: String::new(),
            fit: FitOptions {
                alpha: args.l2,
                ..FitOptions::default()
            },
            validation_share: args.validation_share,
            validate_as_of: args.validate_as_of,
            seed: args.seed,
            features: args.features_list,
            transform: match args.binning {
                Binning::None => Transform::Standardize,
                Binning::Woe => Transform::Woe,
            },
            scaling: Scaling::default(),
        },
    };
    let t = std::time::Instant::now();
    let m = train::run(&opts)?;
    for e in &m.excluded_features {
        warn!("feature `{}` left out: {}", e.name, e.reason);
    }
    info!(
        "trained {} on {} rows ({} features) in {:.2}s; validation on {} rows: AUC {:.4}, KS {:.4}, Brier {:.4}; wrote {}",
        m.version,
        m.training.train_rows,
        m.features.len(),
        t.elapsed().as_secs_f64(),
        m.training.validation_rows,
        m.validation.auc,
        m.validation.ks,
        m.validation.brier,
        opts.out_dir.display()
    );
    Ok(())
}

fn run_score(args: ScoreArgs) -> dunning::Result<()> {
    let opts = ScoreOptions {
        model: args.model,
        inputs: InputPaths {
            schedule: args.schedule,
            payments: args.payments,
            borrowers: args.borrowers,
            contacts: args.contacts,
            labels: None,
        },
        as_of: args.as_of,
        tolerance: args.tolerance,
        strict: args.strict,
        out: args.out,
    };
    let s = score::run(&opts)?;
    if s.rejected > 0 {
        warn!(
            "{} input rows rejected; see the rejects file beside the output",
            s.rejected
        );
    }
    info!(
        "scored {} borrowers ({} outside the population) with {} into {} ({})",
        s.rows,
        s.outside_population,
        s.model_version,
        opts.out.display(),
        stages(&s.timings)
    );
    Ok(())
}

/// "stage 1.23s, stage 0.45s" for the log.
fn stages(timings: &[(&str, std::time::Duration)]) -> String {
    let parts: Vec<String> = timings
        .iter()
        .map(|(n, d)| format!("{n} {:.2}s", d.as_secs_f64()))
        .collect();
    parts.join(", ")
}

fn run_nightly(args: RunArgs, bar: bool, quiet: bool) -> dunning::Result<()> {
    let file = match &args.config {
        Some(path) => RunConfig::load(path)?,
        None => RunConfig::default(),
    };
    let flags = RunConfig {
        model: args.model,
        strategy: args.strategy,
        schedule: args.schedule,
        payments: args.payments,
        borrowers: args.borrowers,
        contacts: args.contacts,
        as_of: args.as_of,
        out: args.out,
        tolerance: args.tolerance,
        strict: args.strict.then_some(true),
        partitions: args.partitions,
        partition: args.partition,
        pseudonymize_ids: args.pseudonym.pseudonymize_ids.then_some(true),
        pseudonym_key_file: args.pseudonym.pseudonym_key_file,
        pseudonym_map: args.pseudonym.pseudonym_map.then_some(true),
        drift_warn_above: args.drift.drift_warn_above,
        drift_fail_above: args.drift.drift_fail_above,
    };
    let opts = flags.merge(file)?;
    let observer: dunning::jobs::Observer = if bar {
        // Each partition goes through every stage, then the merge writes.
        let stages = run::STAGES.len() as u64;
        let total = match (opts.partitions, opts.partition) {
            (n, None) if n > 1 => stages * u64::from(n) + 1,
            _ => stages,
        };
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb.set_message(run::STAGES[0]);
        Box::new(move |stage, _| {
            pb.inc(1);
            let next = run::STAGES
                .iter()
                .position(|s| *s == stage)
                .and_then(|i| run::STAGES.get(i + 1));
            match next {
                _ if pb.position() >= total => pb.finish_and_clear(),
                Some(n) => pb.set_message(*n),
                None => pb.set_message(run::STAGES[0]),
            }
        })
    } else {
        Box::new(|stage, d| info!("{stage}: done in {:.2}s", d.as_secs_f64()))
    };
    let m = run::run_observed(&opts, Some(observer))?;
    if m.rejected > 0 {
        let dir = match &m.partition {
            Some(p) => run::partition_dir(&opts.out, opts.as_of, p.index, p.count),
            None => opts.out.join(&m.as_of),
        };
        warn!(
            "{} input rows rejected; see {}",
            m.rejected,
            dir.join(run::REJECTS).display()
        );
    }
    log_pseudonyms(&m);
    log_drift(&m);
    info!("run {} as of {}: done", m.run_id, m.as_of);
    // The summary is the command's output (stdout); logs stay on stderr.
    if !quiet {
        print!("{}", m.summary());
    }
    Ok(())
}

fn run_combine(args: CombineArgs, quiet: bool) -> dunning::Result<()> {
    let opts = run::CombineOptions {
        strategy: args.strategy,
        out: args.out,
        as_of: args.as_of,
        partitions: args.partitions,
        pseudonym: run::PseudonymOptions::from_flags(
            args.pseudonym.pseudonymize_ids,
            args.pseudonym.pseudonym_key_file,
            args.pseudonym.pseudonym_map,
        )?,
        drift: run::DriftOverride {
            warn_above: args.drift.drift_warn_above,
            fail_above: args.drift.drift_fail_above,
        },
    };
    let m = run::combine(&opts)?;
    log_pseudonyms(&m);
    log_drift(&m);
    info!(
        "run {} as of {}: {} partitions combined",
        m.run_id, m.as_of, opts.partitions
    );
    if !quiet {
        print!("{}", m.summary());
    }
    Ok(())
}

/// Says that the night's ids are pseudonyms, and with which key (by its
/// fingerprint; the key itself is never logged).
fn log_pseudonyms(m: &run::Manifest) {
    if let Some(f) = &m.pseudonym_key_fingerprint {
        info!("borrower ids pseudonymized (key fingerprint {f})");
    }
}

/// The night's population drift: one warning for each PSI above the warning
/// threshold (a partition's share is only judged when combined).
fn log_drift(m: &run::Manifest) {
    let Some(d) = &m.drift else { return };
    if m.partition.is_some() {
        info!("drift is judged on the whole night, when the partitions are combined");
        return;
    }
    for i in d.drifted() {
        let what = if i.name == "score" {
            "the score".to_string()
        } else {
            format!("feature `{}`", i.name)
        };
        warn!(
            "drift: PSI of {what} is {:.3}, above the warning threshold {}",
            i.psi, d.thresholds.warn_above
        );
    }
    info!(
        "drift {}: score PSI {:.3}, {} of {} features above {}",
        d.status.as_str(),
        d.score.psi,
        d.features
            .iter()
            .filter(|f| f.psi > d.thresholds.warn_above)
            .count(),
        d.features.len(),
        d.thresholds.warn_above
    );
}

fn run_bench(args: BenchArgs) -> dunning::Result<()> {
    use dunning::jobs::bench;
    let opts = bench::BenchOptions {
        borrowers: args.borrowers,
        seed: args.seed,
        dir: args.dir.clone(),
        runs: args.runs,
        stages: args
            .stages
            .unwrap_or_else(|| bench::STAGES.iter().map(|s| s.to_string()).collect()),
        partitions: args.partitions,
        binary: None,
        model: args.model,
    };
    let report = bench::bench(&opts, |stage| info!("bench: {stage}"))?;
    let json = args.json.unwrap_or_else(|| args.dir.join("bench.json"));
    dunning::output::write_json(&json, &report)?;
    print!("{}", report.table());
    println!("\nJSON: {}", json.display());
    Ok(())
}

fn snapshot_inputs(
    args: cli::SnapshotArgs,
) -> (dunning::jobs::backtest::SnapshotInputs, std::path::PathBuf) {
    let inputs = dunning::jobs::backtest::SnapshotInputs {
        inputs: InputPaths {
            schedule: args.schedule,
            payments: args.payments,
            borrowers: args.borrowers,
            contacts: args.contacts,
            labels: None,
        },
        as_of: args.as_of,
        horizon_days: args.horizon_days,
        tolerance: args.tolerance,
        strict: args.strict,
    };
    (inputs, args.out)
}

fn run_backtest(args: cli::BacktestArgs, quiet: bool) -> dunning::Result<()> {
    use dunning::jobs::backtest;
    let (snapshots, out) = snapshot_inputs(args.snapshots);
    let opts = backtest::BacktestOptions {
        model: args.model,
        strategy: args.strategy,
        snapshots,
        out,
    };
    let report = backtest::backtest(&opts)?;
    warn_rejected(&report.setup);
    if !quiet {
        print!("{}", report.summary());
    }
    info!(
        "wrote {} and {}",
        opts.out.join(backtest::BACKTEST).display(),
        opts.out.join(backtest::BACKTEST_HTML).display()
    );
    Ok(())
}

/// Warns of the input rows a backtest or comparison rejected, and where they are.
fn warn_rejected(setup: &dunning::report::backtest::Setup) {
    if setup.rejected > 0 {
        warn!(
            "{} input rows rejected; see {}",
            setup.rejected,
            setup.rejects_file.as_deref().unwrap_or("the rejects file")
        );
    }
}

fn run_compare(args: cli::CompareArgs, quiet: bool) -> dunning::Result<()> {
    use dunning::jobs::backtest;
    let [a, b] = <[std::path::PathBuf; 2]>::try_from(args.models).map_err(|m| {
        dunning::Error::Usage(format!(
            "compare needs exactly two --model options (A and B), got {}",
            m.len()
        ))
    })?;
    let (snapshots, out) = snapshot_inputs(args.snapshots);
    let opts = backtest::CompareOptions {
        a,
        b,
        snapshots,
        out,
    };
    let report = backtest::compare(&opts)?;
    warn_rejected(&report.setup);
    if !quiet {
        print!("{}", report.summary());
    }
    info!(
        "wrote {} and {}",
        opts.out.join(backtest::COMPARE).display(),
        opts.out.join(backtest::COMPARE_HTML).display()
    );
    Ok(())
}

fn run_simulate(args: SimulateArgs, quiet: bool) -> dunning::Result<()> {
    use dunning::jobs::simulate::{self, SimulateOptions, SimulateSource};
    let source = match args.scored {
        Some(path) => SimulateSource::Scored(path),
        None => match (args.model, args.schedule, args.payments, args.as_of) {
            (Some(model), Some(schedule), Some(payments), Some(as_of)) => {
                SimulateSource::Snapshot {
                    model,
                    inputs: InputPaths {
                        schedule,
                        payments,
                        borrowers: args.borrowers,
                        contacts: args.contacts,
                        labels: None,
                    },
                    as_of,
                    tolerance: args.tolerance.unwrap_or(DEFAULT_TOLERANCE),
                    strict: args.strict,
                }
            }
            _ => return Err(dunning::Error::Usage(
                "give --scored OUT/AS_OF/scored.parquet, or a snapshot: --model M --schedule F \
                     --payments F [--borrowers F] [--contacts F] --as-of DATE"
                    .into(),
            )),
        },
    };
    let opts = SimulateOptions {
        strategy: args.strategy,
        baseline: args.baseline,
        source,
        out: args.out,
    };
    let report = simulate::simulate(&opts)?;
    if let Some(n) = report.source.rejected_input_rows.filter(|&n| n > 0) {
        warn!("{n} input rows rejected (not written: simulate writes no rejects file; `dunning run` does)");
    }
    // Without --quiet the summary lists them.
    if quiet {
        for l in &report.limitations {
            warn!("limitation: {l}");
        }
    }
    info!(
        "simulate as of {}: {} of {} borrowers move; wrote {} and {}",
        report.as_of,
        report.moves.moved,
        report.borrowers,
        opts.out.join(simulate::SIMULATE_JSON).display(),
        opts.out.join(simulate::DECISIONS).display()
    );
    if !quiet {
        print!("{}", report.summary());
    }
    Ok(())
}
