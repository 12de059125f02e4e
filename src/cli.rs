//! The command line: every argument of every command, with its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use dunning::dates::{self, Day};
use dunning::ledger::{DEFAULT_HORIZON_DAYS, DEFAULT_TOLERANCE};

/// dunning: score borrowers' repayment and assign collection treatments, nightly.
#[derive(Debug, Parser)]
#[command(name = "dunning", version, about, long_about = None)]
pub struct Cli {
    /// Only print warnings and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log format on standard error: text, or json (one object a line, for schedulers).
    #[arg(long, value_enum, global = true, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a synthetic ledger with known repayment probabilities (for tests and benchmarks).
    Generate(GenerateArgs),
    /// Build point-in-time features and labels, one row per borrower per as-of date.
    Features(FeaturesArgs),
    /// Train a repayment model and write models/NAME/model.json and model-card.md.
    Train(TrainArgs),
    /// Score tonight's population with a trained model.
    Score(ScoreArgs),
    /// The nightly job: features, scores and treatments into OUT/AS_OF/.
    Run(RunArgs),
    /// Merge the partitions of a night (run with --partition) into OUT/AS_OF/.
    Combine(CombineArgs),
    /// Time every stage of the nightly pipeline on a generated ledger.
    Bench(BenchArgs),
    /// Score past snapshots and compare with what happened: metrics, calibration, roll rates.
    Backtest(BacktestArgs),
    /// Two models on the same past snapshots: metrics side by side and the swap set.
    Compare(CompareArgs),
    /// What-if: a night's decisions under a new strategy against a baseline
    /// (moves, channel volumes against capacity, expected repayment by treatment).
    Simulate(SimulateArgs),
}

/// The past snapshots a backtest or comparison scores (`backtest`, `compare`).
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Installment schedule (Parquet).
    #[arg(long)]
    pub schedule: PathBuf,
    /// Payments (Parquet).
    #[arg(long)]
    pub payments: PathBuf,
    /// Borrower flags and attributes (Parquet).
    #[arg(long)]
    pub borrowers: Option<PathBuf>,
    /// Collection contacts (Parquet).
    #[arg(long)]
    pub contacts: Option<PathBuf>,
    /// As-of date T of a past snapshot (YYYY-MM-DD); repeat. T + H must be
    /// on or before the ledger's last payment date.
    #[arg(long = "as-of", value_parser = parse_day, required = true)]
    pub as_of: Vec<Day>,
    /// Horizon H in days: repaid means nothing overdue at T + H
    /// (default: the model's training horizon).
    #[arg(long)]
    pub horizon_days: Option<i32>,
    /// An installment counts as covered when at most this amount is unpaid.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE)]
    pub tolerance: f64,
    /// Fail instead of rejecting bad rows.
    #[arg(long)]
    pub strict: bool,
    /// Output directory for the JSON report (and its rejects file).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `dunning backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Model directory (or its model.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Also assign treatments with this strategy (TOML): repay rate by treatment.
    #[arg(long)]
    pub strategy: Option<PathBuf>,
    /// The snapshots.
    #[command(flatten)]
    pub snapshots: SnapshotArgs,
}

/// Arguments of `dunning compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Model directory (or model.json): give exactly two, A then B.
    #[arg(long = "model", required = true)]
    pub models: Vec<PathBuf>,
    /// The snapshots.
    #[command(flatten)]
    pub snapshots: SnapshotArgs,
}

/// Arguments of `dunning simulate`: a scored file (`--scored`) or a snapshot
/// of the ledger (`--model`, the tables, `--as-of`).
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The new strategy file (TOML).
    #[arg(long)]
    pub strategy: PathBuf,
    /// The baseline strategy file. Default with --scored: the decisions the
    /// night recorded in the scored file. Required with a snapshot.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// A nightly run's OUT/AS_OF/scored.parquet (or the OUT/AS_OF directory),
    /// re-decided under each strategy.
    #[arg(long, conflicts_with_all = ["model", "schedule", "payments", "borrowers", "contacts", "as_of", "tolerance", "strict"])]
    pub scored: Option<PathBuf>,
    /// Snapshot: model directory (or its model.json).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Snapshot: installment schedule (Parquet).
    #[arg(long)]
    pub schedule: Option<PathBuf>,
    /// Snapshot: payments (Parquet).
    #[arg(long)]
    pub payments: Option<PathBuf>,
    /// Snapshot: borrower flags and attributes (Parquet).
    #[arg(long)]
    pub borrowers: Option<PathBuf>,
    /// Snapshot: collection contacts (Parquet).
    #[arg(long)]
    pub contacts: Option<PathBuf>,
    /// Snapshot: the as-of date (YYYY-MM-DD).
    #[arg(long = "as-of", value_parser = parse_day)]
    pub as_of: Option<Day>,
    /// Snapshot: an installment counts as covered when at most this amount is unpaid.
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// Snapshot: fail instead of rejecting bad rows.
    #[arg(long)]
    pub strict: bool,
    /// Output directory: simulate.json and decisions.parquet.
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `dunning bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Borrowers to generate (about 24 ledger rows each).
    #[arg(long, default_value_t = 1_000_000)]
    pub borrowers: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Working directory: the ledger (reused when it has this size and
    /// seed), the model, the outputs and bench.json.
    #[arg(long, default_value = "bench")]
    pub dir: PathBuf,
    /// Timed runs per stage (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Stages to time, comma-separated (default: all): read, validate,
    /// features, train, score, strategy, write, run.
    #[arg(long, value_delimiter = ',')]
    pub stages: Option<Vec<String>>,
    /// Partitions of the end-to-end nightly run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub partitions: u32,
    /// Where to write the JSON report (default: DIR/bench.json).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Score with this model directory instead of training one first
    /// (ignored when the train stage is timed).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// Arguments of `dunning run`: each may instead come from `--config`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A nightly.toml with any of the keys below (flags given here win).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Model directory (or its model.json).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Strategy file (TOML).
    #[arg(long)]
    pub strategy: Option<PathBuf>,
    /// Installment schedule (Parquet).
    #[arg(long)]
    pub schedule: Option<PathBuf>,
    /// Payments (Parquet).
    #[arg(long)]
    pub payments: Option<PathBuf>,
    /// Borrower flags and attributes (Parquet).
    #[arg(long)]
    pub borrowers: Option<PathBuf>,
    /// Collection contacts (Parquet).
    #[arg(long)]
    pub contacts: Option<PathBuf>,
    /// The as-of date (YYYY-MM-DD).
    #[arg(long = "as-of")]
    pub as_of: Option<String>,
    /// An installment counts as covered when at most this amount is unpaid (default 0.01).
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// Fail instead of rejecting bad rows.
    #[arg(long)]
    pub strict: bool,
    /// Output root: files go to OUT/AS_OF/.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Split the borrowers into N partitions of borrower_id (id ranges when
    /// the schedule is stored in id order, a hash otherwise), scored three
    /// at a time (memory follows the partitions, not the whole ledger); the
    /// output is identical to an unpartitioned run's.
    #[arg(long)]
    pub partitions: Option<u32>,
    /// Score only partition I of --partitions N, into OUT/AS_OF.part-I-of-N/
    /// (one machine's share); `dunning combine` merges the partitions.
    #[arg(long)]
    pub partition: Option<u32>,
    /// Pseudonymized output.
    #[command(flatten)]
    pub pseudonym: PseudonymArgs,
    /// Drift thresholds.
    #[command(flatten)]
    pub drift: DriftArgs,
}

/// Population drift thresholds (`run` and `combine`): the PSI of the score
/// and of each feature against the model's training population.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Log a warning for each PSI above this (default 0.1).
    #[arg(long, value_name = "PSI")]
    pub drift_warn_above: Option<f64>,
    /// Fail the night (exit 65, nothing published) when a PSI is above
    /// this, e.g. 0.25; `off` (the default) only warns.
    #[arg(long, value_name = "PSI|off", value_parser = dunning::jobs::run::FailAbove::parse)]
    pub drift_fail_above: Option<dunning::jobs::run::FailAbove>,
}

/// Pseudonymized output, for files sent outside (`run` and `combine`).
#[derive(Debug, Args)]
pub struct PseudonymArgs {
    /// Write a keyed pseudonym (HMAC-SHA256 of the id, 64 lowercase hex
    /// digits) instead of each borrower_id, for files sent to an outside
    /// collection agency. The key comes from the environment variable
    /// DUNNING_PSEUDONYM_KEY or from --pseudonym-key-file (at least 16 bytes).
    #[arg(long)]
    pub pseudonymize_ids: bool,
    /// Read the pseudonym key from this file instead of DUNNING_PSEUDONYM_KEY
    /// (the key is never given on the command line).
    #[arg(long, value_name = "PATH")]
    pub pseudonym_key_file: Option<PathBuf>,
    /// Also write pseudonyms.parquet (borrower_id -> pseudonym) into the
    /// night's directory. It undoes the pseudonyms: keep it in-house.
    #[arg(long)]
    pub pseudonym_map: bool,
}

/// Arguments of `dunning combine`.
#[derive(Debug, Args)]
pub struct CombineArgs {
    /// The strategy file the partitions were run with.
    #[arg(long)]
    pub strategy: PathBuf,
    /// The output root the partitions were written to (OUT/AS_OF.part-I-of-N/).
    #[arg(long)]
    pub out: PathBuf,
    /// The as-of date (YYYY-MM-DD).
    #[arg(long = "as-of", value_parser = parse_day)]
    pub as_of: Day,
    /// The number of partitions.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub partitions: u32,
    /// Pseudonymized output.
    #[command(flatten)]
    pub pseudonym: PseudonymArgs,
    /// Drift thresholds in place of those the partitions were run with.
    #[command(flatten)]
    pub drift: DriftArgs,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (and a progress bar on a terminal).
    Text,
    /// One JSON object per line: ts, level, msg.
    Json,
}

/// Which transform the model applies to features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Binning {
    /// Standardized features (mean and std of the training part).
    None,
    /// A scorecard: monotonic weight-of-evidence bins.
    Woe,
}

/// Arguments of `dunning train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A feature table written by `dunning features` (instead of ledger inputs).
    #[arg(long, conflicts_with_all = ["schedule", "payments", "borrowers", "contacts", "labels", "as_of"])]
    pub features: Option<PathBuf>,
    /// Installment schedule (Parquet).
    #[arg(long, requires = "payments")]
    pub schedule: Option<PathBuf>,
    /// Payments (Parquet).
    #[arg(long, requires = "schedule")]
    pub payments: Option<PathBuf>,
    /// Borrower flags and attributes (Parquet).
    #[arg(long)]
    pub borrowers: Option<PathBuf>,
    /// Collection contacts (Parquet).
    #[arg(long)]
    pub contacts: Option<PathBuf>,
    /// Given labels (Parquet).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Snapshot dates of the training table (with ledger inputs); repeat.
    #[arg(long = "as-of", value_parser = parse_day)]
    pub as_of: Vec<Day>,
    /// Label horizon in days.
    #[arg(long, default_value_t = DEFAULT_HORIZON_DAYS)]
    pub horizon_days: i32,
    /// Numeric borrower columns to use as features (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub attributes: Vec<String>,
    /// Model directory to write, e.g. models/default.
    #[arg(long)]
    pub out: PathBuf,
    /// L2 penalty ALPHA: linfa minimizes the summed log loss + ALPHA/2 |w|^2,
    /// so ALPHA = 1/C of scikit-learn. Default 1 (scikit-learn's C = 1).
    #[arg(long = "l2", default_value_t = 1.0)]
    pub l2: f64,
    /// Share of borrowers held out for validation.
    #[arg(long, default_value_t = 0.2)]
    pub validation_share: f64,
    /// Validate on snapshots on or after this date instead (out of time).
    #[arg(long, value_parser = parse_day)]
    pub validate_as_of: Option<Day>,
    /// Seed of the borrower split.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Features to use (default: all).
    #[arg(long = "features-list", value_delimiter = ',')]
    pub features_list: Option<Vec<String>>,
    /// Feature transform: none (standardize) or woe (scorecard bins).
    #[arg(long, value_enum, default_value_t = Binning::None)]
    pub binning: Binning,
}

/// Arguments of `dunning score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Model directory (or its model.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Installment schedule (Parquet).
    #[arg(long)]
    pub schedule: PathBuf,
    /// Payments (Parquet).
    #[arg(long)]
    pub payments: PathBuf,
    /// Borrower flags and attributes (Parquet).
    #[arg(long)]
    pub borrowers: Option<PathBuf>,
    /// Collection contacts (Parquet).
    #[arg(long)]
    pub contacts: Option<PathBuf>,
    /// The as-of date (YYYY-MM-DD).
    #[arg(long = "as-of", value_parser = parse_day)]
    pub as_of: Day,
    /// An installment counts as covered when at most this amount is unpaid.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE)]
    pub tolerance: f64,
    /// Fail instead of rejecting bad rows.
    #[arg(long)]
    pub strict: bool,
    /// Output scored table (Parquet).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `dunning generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of borrowers.
    #[arg(long, default_value_t = 5000)]
    pub borrowers: u64,
    /// Random seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Last day of recorded payments and contacts (YYYY-MM-DD).
    #[arg(long, value_parser = parse_day, default_value = "2025-12-31")]
    pub end_date: Day,
    /// Output directory (schedule, payments, borrowers, contacts and truth .parquet).
    #[arg(long)]
    pub out: PathBuf,
    /// Append this many defective rows (NaN or negative amounts, dates out of
    /// range, unknown borrowers, loans or channels) for the contract to reject.
    #[arg(long, default_value_t = 0)]
    pub bad_rows: u64,
    /// The population: baseline (the sample's), or stressed (lower incomes,
    /// larger loans, more late payers: a shifted population for drift tests).
    #[arg(long, value_enum, default_value_t = Profile::Baseline)]
    pub profile: Profile,
}

/// Which population `dunning generate` draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// The documented latent model (the committed sample's population).
    Baseline,
    /// Lower ability and willingness, lower incomes, larger loans, more shocks.
    Stressed,
}

/// Arguments of `dunning features`.
#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Installment schedule (Parquet).
    #[arg(long)]
    pub schedule: PathBuf,
    /// Payments and reversals (Parquet).
    #[arg(long)]
    pub payments: PathBuf,
    /// Borrower flags and attributes (Parquet, optional).
    #[arg(long)]
    pub borrowers: Option<PathBuf>,
    /// Collection contacts (Parquet, optional): adds the contact features.
    #[arg(long)]
    pub contacts: Option<PathBuf>,
    /// Given labels (Parquet, optional): override the labels derived from the ledger.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// As-of date T of a snapshot (YYYY-MM-DD); repeat for several snapshots.
    #[arg(long = "as-of", value_parser = parse_day, required = true)]
    pub as_of: Vec<Day>,
    /// Label horizon H in days: repaid means nothing overdue at T + H.
    #[arg(long, default_value_t = DEFAULT_HORIZON_DAYS)]
    pub horizon_days: i32,
    /// An installment counts as covered when at most this amount is unpaid.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE)]
    pub tolerance: f64,
    /// Numeric columns of the borrowers table to add as features (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub attributes: Vec<String>,
    /// Last day of data, for labels (default: the latest payment date).
    #[arg(long, value_parser = parse_day)]
    pub data_end: Option<Day>,
    /// Fail instead of rejecting bad rows.
    #[arg(long)]
    pub strict: bool,
    /// Output feature table (Parquet); `<stem>.summary.json` and, when rows
    /// were rejected, `<stem>.rejects.parquet` are written beside it.
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_day(s: &str) -> Result<Day, String> {
    dates::parse(s).ok_or_else(|| format!("expected a date as YYYY-MM-DD, got {s:?}"))
}
