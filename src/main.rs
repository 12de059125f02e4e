//! The `dunning` binary: parses the command line, runs one library job, and
//! maps its error to an exit code. All the work is in the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use log::{info, warn};

use cli::{Cli, Command, FeaturesArgs, GenerateArgs};
use dunning::contract::{InputPaths, LoadOptions};
use dunning::generate::{self, GenerateOptions};
use dunning::jobs::features::{self, FeaturesOptions};
use dunning::ledger::SnapshotOptions;
use dunning::ErrorKind;

fn main() -> ExitCode {
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
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_target(false)
        .init();
    // A panic is a bug: report it as an internal failure (exit 70), not as
    // Rust's default 101, so the scheduler sees the documented code.
    match std::panic::catch_unwind(|| run(cli.command)) {
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

fn run(command: Command) -> dunning::Result<()> {
    match command {
        Command::Generate(args) => run_generate(args),
        Command::Features(args) => run_features(args),
    }
}

fn run_generate(args: GenerateArgs) -> dunning::Result<()> {
    let mut opts = GenerateOptions::new(args.borrowers, args.seed, args.out);
    opts.end_date = args.end_date;
    let s = generate::generate(&opts)?;
    info!(
        "generated {} borrowers, {} loans, {} installments, {} payments, {} contacts in {}",
        s.borrowers,
        s.loans,
        s.schedule_rows,
        s.payment_rows,
        s.contact_rows,
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
    let stages: Vec<String> = s
        .timings
        .iter()
        .map(|(n, d)| format!("{n} {:.2}s", d.as_secs_f64()))
        .collect();
    info!(
        "wrote {} rows x {} features to {} ({})",
        s.rows_written,
        s.features.len(),
        s.output,
        stages.join(", ")
    );
    Ok(())
}
