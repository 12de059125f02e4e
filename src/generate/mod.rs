//! Synthetic repayment ledgers with a known latent truth.
//!
//! `generate` writes a complete, realistic input set for dunning — contractual
//! schedules, payments (with borrower-level payments, bounces and reversals),
//! borrower attributes and collection contacts — together with the latent
//! truth that produced them (`truth.parquet`: each borrower's true per-period
//! repayment probability, traits and shock history). It exists for unit and
//! integration tests, the committed sample data, and benchmarks up to tens of
//! millions of borrowers. It is **never** a source of production data, and
//! nothing in the nightly batch reads it.
//!
//! The output is a pure function of `(borrowers, seed, end_date, profile)`: each
//! borrower is simulated from its own random stream, so files are
//! byte-identical whatever the number of threads, and the first N borrowers
//! of a larger run are the same as those of a run of N.
//!
//! This module does not validate or read ledgers, and its contacts have no
//! causal effect on payments (there is no treatment effect to recover). The
//! latent model — every distribution and parameter, and exactly what
//! `p_repay` means — is documented in `docs/generator.md`.

mod calendar;
mod columns;
pub mod defects;
mod model;
mod rng;
mod simulate;

use std::path::PathBuf;

use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::dates::{self, Day};
use crate::output::{self, OutputError};
use columns::{ChunkColumns, Table};
use model::{Horizon, Params};
use simulate::Scratch;

/// The largest number of borrowers `generate` accepts.
pub const MAX_BORROWERS: u64 = 50_000_000;

/// The largest number of defective rows `generate` appends.
pub const MAX_BAD_ROWS: u64 = 1_000_000;

/// Borrowers per chunk: the unit of parallel work and one `RecordBatch` per
/// file. About 100k schedule rows per chunk: large enough to amortise the
/// per-batch overhead, small enough to balance across threads. The chunking
/// does not affect the bytes written (Parquet row groups are cut by
/// `output::ROW_GROUP_ROWS`, whatever the batches).
const CHUNK_BORROWERS: u64 = 8_192;

/// Errors raised by [`generate`].
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Writing an output file failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The options are out of range; the message names the option and value.
    #[error("invalid generate options: {0}")]
    InvalidOptions(String),
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, GenerateError>;

/// Which population to draw the borrowers from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Profile {
    /// The documented latent model as it is: the committed sample's
    /// population.
    #[default]
    Baseline,
    /// A shifted population, for drift tests: lower ability and
    /// willingness (more late payers, lower incomes), a lower income median,
    /// larger loans for the income and twice the income-shock rate (see
    /// `docs/generator.md`, Population profiles).
    Stressed,
}

impl Profile {
    fn params(self) -> &'static Params {
        match self {
            Profile::Baseline => &Params::BASELINE,
            Profile::Stressed => &Params::STRESSED,
        }
    }
}

/// What to generate and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of borrowers, 1 to [`MAX_BORROWERS`]; ids are `1..=borrowers`.
    pub borrowers: u64,
    /// Random seed; the same seed, borrowers and end date give the same bytes.
    pub seed: u64,
    /// The last day of the simulated history ("today" of the ledger): no
    /// payment or contact is dated after it. Between 2000-01-01 and 2100-12-31.
    pub end_date: Day,
    /// Directory the five Parquet files are written into (created if missing).
    pub out_dir: PathBuf,
    /// Defective rows appended after the clean ones (see [`defects`]); 0 for a
    /// clean ledger. At most [`MAX_BAD_ROWS`].
    pub bad_rows: u64,
    /// The population the borrowers are drawn from (default: baseline).
    pub profile: Profile,
}

impl GenerateOptions {
    /// Options with the default end date, 2025-12-31.
    pub fn new(borrowers: u64, seed: u64, out_dir: PathBuf) -> Self {
        Self {
            borrowers,
            seed,
            end_date: dates::ymd(2025, 12, 31),
            out_dir,
            bad_rows: 0,
            profile: Profile::Baseline,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenerateSummary {
    /// Borrowers generated (rows of borrowers.parquet and truth.parquet).
    pub borrowers: u64,
    /// Loans generated (one or two per borrower).
    pub loans: u64,
    /// Rows of schedule.parquet.
    pub schedule_rows: u64,
    /// Rows of payments.parquet.
    pub payment_rows: u64,
    /// Rows of contacts.parquet.
    pub contact_rows: u64,
    /// Defective rows appended (included in the row counts above).
    pub bad_rows: u64,
    /// The files written: schedule, payments, borrowers, contacts, truth.
    pub files: Vec<PathBuf>,
}

fn check(opts: &GenerateOptions) -> Result<Horizon> {
    if opts.borrowers == 0 || opts.borrowers > MAX_BORROWERS {
        return Err(GenerateError::InvalidOptions(format!(
            "borrowers: expected 1 to {MAX_BORROWERS}, got {}",
            opts.borrowers
        )));
    }
    if opts.bad_rows > MAX_BAD_ROWS {
        return Err(GenerateError::InvalidOptions(format!(
            "bad_rows: expected 0 to {MAX_BAD_ROWS}, got {}",
            opts.bad_rows
        )));
    }
    let (lo, hi) = (dates::ymd(2000, 1, 1), dates::ymd(2100, 12, 31));
    if !(lo..=hi).contains(&opts.end_date) {
        return Err(GenerateError::InvalidOptions(format!(
            "end_date: expected 2000-01-01 to 2100-12-31, got {}",
            dates::format(opts.end_date)
        )));
    }
    Ok(Horizon::new(opts.end_date))
}

/// One chunk of borrowers: a batch per table (in [`Table::ALL`] order) and
/// the number of loans in it.
struct Chunk {
    batches: [RecordBatch; 5],
    loans: u64,
}

/// Simulates borrowers `lo..hi` of population `p`.
fn build_chunk(lo: u64, hi: u64, seed: u64, horizon: &Horizon, p: &Params) -> Chunk {
    let mut scratch = Scratch::default();
    let mut cols = ChunkColumns::with_capacity((hi - lo) as usize);
    let mut loans = 0;
    for id in lo..hi {
        loans +=
            simulate::simulate_borrower_in(id, seed, horizon, p, &mut scratch, &mut cols) as u64;
    }
    Chunk {
        batches: cols.into_batches(),
        loans,
    }
}

/// Generates the synthetic ledger described in `docs/generator.md` and writes
/// `schedule`, `payments`, `borrowers`, `contacts` and `truth` `.parquet`
/// into `opts.out_dir`, each atomically.
///
/// Borrowers are simulated in parallel in fixed-size chunks and written in
/// borrower order. The whole output is held in memory before writing (about
/// 1.4 kB per borrower: 1.4 GB peak RSS for a million borrowers).
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    let horizon = check(opts)?;
    let n = opts.borrowers;
    let chunks: Vec<Chunk> = (0..n.div_ceil(CHUNK_BORROWERS))
        .into_par_iter()
        .map(|c| {
            let lo = 1 + c * CHUNK_BORROWERS;
            let hi = (lo + CHUNK_BORROWERS).min(n + 1);
            build_chunk(lo, hi, opts.seed, &horizon, opts.profile.params())
        })
        .collect();

    let loans = chunks.iter().map(|c| c.loans).sum();
    let mut tables: [Vec<RecordBatch>; 5] = Default::default();
    for chunk in chunks {
        for (table, batch) in tables.iter_mut().zip(chunk.batches) {
            table.push(batch);
        }
    }
    if opts.bad_rows > 0 {
        let plan = defects::plan(n, opts.seed, opts.bad_rows);
        for (table, batch) in tables
            .iter_mut()
            .zip(defects::batches(&plan, opts.end_date))
        {
            table.push(batch);
        }
    }
    let rows = |t: &[RecordBatch]| t.iter().map(|b| b.num_rows() as u64).sum();
    let [schedule_rows, payment_rows, _, contact_rows, _] = tables.each_ref().map(|t| rows(t));

    let files: Vec<PathBuf> = Table::ALL
        .iter()
        .map(|t| opts.out_dir.join(t.file_name()))
        .collect();
    // One file per task: each file's bytes depend only on its own batches.
    Table::ALL
        .into_par_iter()
        .zip(tables)
        .zip(files.par_iter())
        .try_for_each(|((table, batches), path)| {
            output::write_parquet(path, table.schema(), &batches)
        })?;

    Ok(GenerateSummary {
        borrowers: n,
        loans,
        schedule_rows,
        payment_rows,
        contact_rows,
        bad_rows: opts.bad_rows,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type, TimeUnit};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::collections::HashMap;
    use std::path::Path;

    const END: (i32, u32, u32) = (2025, 12, 31);

    fn opts(n: u64, seed: u64, dir: &Path) -> GenerateOptions {
        GenerateOptions::new(n, seed, dir.to_path_buf())
    }

    fn read(path: &Path) -> (arrow::datatypes::SchemaRef, Vec<RecordBatch>) {
        let file = std::fs::File::open(path).expect("output file exists");
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("valid parquet");
        let schema = builder.schema().clone();
        let batches = builder
            .build()
            .expect("reader")
            .collect::<std::result::Result<Vec<_>, _>>()
            .expect("readable batches");
        (schema, batches)
    }

    /// A whole column as options, across batches.
    fn col<T, F>(batches: &[RecordBatch], name: &str, get: F) -> Vec<Option<T>>
    where
        F: Fn(&dyn Array, usize) -> T,
    {
        let mut out = Vec::new();
        for b in batches {
            let a = b.column_by_name(name).expect("column present");
            for i in 0..a.len() {
                out.push(a.is_valid(i).then(|| get(a.as_ref(), i)));
            }
        }
        out
    }

    fn i64s(b: &[RecordBatch], name: &str) -> Vec<Option<i64>> {
        col(b, name, |a, i| a.as_primitive::<Int64Type>().value(i))
    }
    fn f64s(b: &[RecordBatch], name: &str) -> Vec<Option<f64>> {
        col(b, name, |a, i| a.as_primitive::<Float64Type>().value(i))
    }
    fn days(b: &[RecordBatch], name: &str) -> Vec<Option<i32>> {
        col(b, name, |a, i| a.as_primitive::<Date32Type>().value(i))
    }
    fn bools(b: &[RecordBatch], name: &str) -> Vec<bool> {
        col(b, name, |a, i| a.as_boolean().value(i))
            .into_iter()
            .map(|v| v.expect("non-null"))
            .collect()
    }
    fn strs(b: &[RecordBatch], name: &str) -> Vec<String> {
        col(b, name, |a, i| a.as_string::<i32>().value(i).to_string())
            .into_iter()
            .map(|v| v.expect("non-null"))
            .collect()
    }
    fn req<T>(v: Vec<Option<T>>) -> Vec<T> {
        v.into_iter().map(|x| x.expect("non-null")).collect()
    }

    /// Everything one run wrote, read back.
    struct Files {
        schedule: Vec<RecordBatch>,
        payments: Vec<RecordBatch>,
        borrowers: Vec<RecordBatch>,
        contacts: Vec<RecordBatch>,
        truth: Vec<RecordBatch>,
    }

    fn generate_and_read(n: u64, seed: u64) -> (GenerateSummary, Files) {
        let dir = tempfile::tempdir().expect("temp dir");
        let summary = generate(&opts(n, seed, dir.path())).expect("generate");
        let r = |name: &str| read(&dir.path().join(name)).1;
        let files = Files {
            schedule: r("schedule.parquet"),
            payments: r("payments.parquet"),
            borrowers: r("borrowers.parquet"),
            contacts: r("contacts.parquet"),
            truth: r("truth.parquet"),
        };
        (summary, files)
    }

    #[test]
    fn shared_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<GenerateOptions>();
        check::<GenerateSummary>();
        check::<GenerateError>();
    }

    #[test]
    fn rejects_zero_borrowers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = generate(&opts(0, 1, dir.path())).expect_err("0 borrowers");
        assert!(matches!(err, GenerateError::InvalidOptions(_)));
        assert!(err.to_string().contains("borrowers"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn rejects_too_many_borrowers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = generate(&opts(MAX_BORROWERS + 1, 1, dir.path())).expect_err("too many");
        assert!(err.to_string().contains("50000001"), "{err}");
    }

    #[test]
    fn rejects_end_date_out_of_range() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut o = opts(10, 1, dir.path());
        o.end_date = dates::ymd(1999, 12, 31);
        let err = generate(&o).expect_err("too early");
        assert!(err.to_string().contains("end_date") && err.to_string().contains("1999-12-31"));
        o.end_date = dates::ymd(2101, 1, 1);
        assert!(generate(&o).is_err());
    }

    #[test]
    fn rejects_an_unwritable_directory_with_an_output_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").expect("write");
        let err = generate(&opts(5, 1, &blocker)).expect_err("a file is not a directory");
        assert!(matches!(err, GenerateError::Output(_)), "{err}");
    }

    #[test]
    fn same_inputs_give_identical_bytes_whatever_the_thread_count() {
        // 9000 borrowers span two chunks.
        let run = |threads: usize| {
            let dir = tempfile::tempdir().expect("temp dir");
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let summary = pool
                .install(|| generate(&opts(9_000, 42, dir.path())))
                .expect("generate");
            let bytes: Vec<Vec<u8>> = summary
                .files
                .iter()
                .map(|f| std::fs::read(f).expect("read back"))
                .collect();
            (dir, bytes)
        };
        let (_a, one) = run(1);
        let (_b, two) = run(3);
        assert_eq!(one.len(), 5);
        assert!(one == two, "outputs differ between 1 and 3 threads");

        let dir = tempfile::tempdir().expect("temp dir");
        let other = generate(&opts(9_000, 43, dir.path())).expect("generate");
        assert_ne!(std::fs::read(&other.files[0]).expect("read"), one[0]);
    }

    #[test]
    fn a_smaller_run_is_a_prefix_of_a_larger_one() {
        let (_, small) = generate_and_read(50, 5);
        let (_, large) = generate_and_read(9_000, 5);
        let p_small = req(f64s(&small.truth, "p_repay"));
        let p_large = req(f64s(&large.truth, "p_repay"));
        assert_eq!(p_small[..], p_large[..50]);
        let ids = req(i64s(&large.schedule, "borrower_id"));
        let k = ids.partition_point(|&b| b <= 50);
        assert_eq!(
            req(f64s(&small.schedule, "amount_due")),
            req(f64s(&large.schedule, "amount_due"))[..k]
        );
    }

    #[test]
    fn files_have_exactly_the_documented_schemas() {
        let dir = tempfile::tempdir().expect("temp dir");
        let summary = generate(&opts(200, 3, dir.path())).expect("generate");
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        use DataType::{Boolean, Date32, Float64, Int32, Int64, Utf8};
        type Fields = Vec<(&'static str, DataType, bool)>;
        let expected: [(&str, Fields); 5] = [
            (
                "schedule.parquet",
                vec![
                    ("borrower_id", Int64, false),
                    ("loan_id", Int64, false),
                    ("due_date", Date32, false),
                    ("amount_due", Float64, false),
                ],
            ),
            (
                "payments.parquet",
                vec![
                    ("borrower_id", Int64, false),
                    ("loan_id", Int64, true),
                    ("paid_date", Date32, false),
                    ("amount", Float64, false),
                ],
            ),
            (
                "borrowers.parquet",
                vec![
                    ("borrower_id", Int64, false),
                    ("hardship", Boolean, false),
                    ("dispute", Boolean, false),
                    ("do_not_contact", Boolean, false),
                    ("credit_limit", Float64, false),
                    ("income", Float64, true),
                    ("age", Int32, false),
                ],
            ),
            (
                "contacts.parquet",
                vec![
                    ("borrower_id", Int64, false),
                    ("contact_time", ts, false),
                    ("channel", Utf8, false),
                    ("outcome", Utf8, false),
                    ("promise_amount", Float64, true),
                    ("promise_date", Date32, true),
                ],
            ),
            (
                "truth.parquet",
                vec![
                    ("borrower_id", Int64, false),
                    ("p_repay", Float64, false),
                    ("ability", Float64, false),
                    ("willingness", Float64, false),
                    ("ever_shock", Boolean, false),
                    ("in_shock_at_end", Boolean, false),
                ],
            ),
        ];
        let written: Vec<_> = summary
            .files
            .iter()
            .map(|f| f.file_name().map(|n| n.to_owned()))
            .collect();
        for (i, (name, fields)) in expected.iter().enumerate() {
            assert_eq!(written[i].as_deref(), Some(std::ffi::OsStr::new(name)));
            let (schema, _) = read(&dir.path().join(name));
            let got: Vec<_> = schema
                .fields()
                .iter()
                .map(|f| (f.name().as_str(), f.data_type().clone(), f.is_nullable()))
                .collect();
            assert_eq!(&got, fields, "{name}");
        }
    }

    #[test]
    fn schedules_are_complete_sorted_and_sum_sensibly() {
        let (summary, f) = generate_and_read(3_000, 7);
        let b = req(i64s(&f.schedule, "borrower_id"));
        let loan = req(i64s(&f.schedule, "loan_id"));
        let due = req(days(&f.schedule, "due_date"));
        let amount = req(f64s(&f.schedule, "amount_due"));
        assert_eq!(b.len() as u64, summary.schedule_rows);
        let mut per_loan: HashMap<i64, Vec<(i32, f64)>> = HashMap::new();
        for i in 0..b.len() {
            assert!(loan[i] / 10 == b[i] && (1..=2).contains(&(loan[i] % 10)));
            assert!(
                amount[i] > 0.0 && (amount[i] * 100.0 - (amount[i] * 100.0).round()).abs() < 1e-6
            );
            if i > 0 {
                assert!(
                    (b[i - 1], due[i - 1]) <= (b[i], due[i]),
                    "row {i} out of order"
                );
            }
            per_loan
                .entry(loan[i])
                .or_default()
                .push((due[i], amount[i]));
        }
        assert_eq!(per_loan.len() as u64, summary.loans);
        let borrowers: std::collections::HashSet<i64> = b.iter().copied().collect();
        assert_eq!(borrowers.len(), 3_000, "every borrower has a loan");
        let end = dates::ymd(END.0, END.1, END.2);
        let mut after_end = 0;
        for rows in per_loan.values() {
            assert!(
                [4, 6, 12, 24, 36].contains(&rows.len()),
                "{} installments",
                rows.len()
            );
            assert!(rows.windows(2).all(|w| w[0].0 < w[1].0));
            // Equal installments apart from rounding (annuity: the last; BNPL: the first).
            let typical = rows[1].1;
            let total: f64 = rows.iter().map(|r| r.1).sum();
            assert!((total - typical * rows.len() as f64).abs() < 0.01 * rows.len() as f64 + 0.04);
            let first_due = rows[0].0;
            assert!(first_due > dates::ymd(2023, 12, 31) && first_due <= dates::ymd(2026, 1, 31));
            after_end += usize::from(rows.last().is_some_and(|r| r.0 > end));
        }
        // Loans originate over 23 months and mostly run 6-36 months.
        assert!(
            after_end * 4 > per_loan.len(),
            "{after_end} of {} loans still running",
            per_loan.len()
        );
        let second = per_loan.keys().filter(|&&l| l % 10 == 2).count() as f64 / 3_000.0;
        assert!((0.12..0.18).contains(&second), "second-loan share {second}");
    }

    #[test]
    fn payments_are_dated_sorted_and_reversals_follow_their_payment() {
        let (summary, f) = generate_and_read(3_000, 11);
        let end = dates::ymd(END.0, END.1, END.2);
        let b = req(i64s(&f.payments, "borrower_id"));
        let loan = i64s(&f.payments, "loan_id");
        let date = req(days(&f.payments, "paid_date"));
        let amount = req(f64s(&f.payments, "amount"));
        assert_eq!(b.len() as u64, summary.payment_rows);
        let mut reversals = 0;
        for i in 0..b.len() {
            assert!(date[i] <= end);
            assert!(amount[i] != 0.0);
            if let Some(l) = loan[i] {
                assert_eq!(l / 10, b[i]);
            }
            if i > 0 {
                assert!(
                    (b[i - 1], date[i - 1]) <= (b[i], date[i]),
                    "row {i} out of order"
                );
            }
            if amount[i] < 0.0 {
                reversals += 1;
                let original = (0..i).rev().take_while(|&j| b[j] == b[i]).any(|j| {
                    loan[j] == loan[i]
                        && amount[j] >= -amount[i]
                        && (2..=7).contains(&(date[i] - date[j]))
                });
                assert!(original, "reversal at row {i} has no original payment");
            }
        }
        let n = b.len() as f64;
        let nulls = loan.iter().filter(|l| l.is_none()).count() as f64 / n;
        assert!((0.27..0.33).contains(&nulls), "null loan_id share {nulls}");
        let bounce = reversals as f64 / n;
        assert!((0.01..0.03).contains(&bounce), "reversal share {bounce}");
    }

    #[test]
    fn contacts_are_valid_and_promises_well_formed() {
        let (summary, f) = generate_and_read(3_000, 13);
        let end = dates::ymd(END.0, END.1, END.2);
        let b = req(i64s(&f.contacts, "borrower_id"));
        let time = req(col(&f.contacts, "contact_time", |a, i| {
            a.as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(i)
        }));
        let channel = strs(&f.contacts, "channel");
        let outcome = strs(&f.contacts, "outcome");
        let p_amount = f64s(&f.contacts, "promise_amount");
        let p_date = days(&f.contacts, "promise_date");
        assert_eq!(b.len() as u64, summary.contact_rows);
        let dnc: Vec<bool> = bools(&f.borrowers, "do_not_contact");
        let day_us = 86_400_000_000i64;
        let mut in_hours = 0;
        for i in 0..b.len() {
            let day = time[i].div_euclid(day_us) as i32;
            let hour = time[i].rem_euclid(day_us) / 3_600_000_000;
            assert!(day <= end);
            in_hours += usize::from((8..21).contains(&hour));
            assert!((7..=21).contains(&hour));
            assert!(
                ["sms", "call", "visit", "letter", "email", "app"].contains(&channel[i].as_str())
            );
            assert!([
                "no_answer",
                "right_party",
                "promise_to_pay",
                "refused",
                "paid",
                "wrong_party"
            ]
            .contains(&outcome[i].as_str()));
            let promise = outcome[i] == "promise_to_pay";
            assert_eq!(p_amount[i].is_some(), promise);
            assert_eq!(p_date[i].is_some(), promise);
            if let (Some(a), Some(d)) = (p_amount[i], p_date[i]) {
                assert!(a > 0.0 && (1..=10).contains(&(d - day)));
            }
            if dnc[(b[i] - 1) as usize] {
                assert_eq!(channel[i], "letter");
            }
            if i > 0 {
                assert!((b[i - 1], time[i - 1]) <= (b[i], time[i]));
            }
        }
        assert!(in_hours as f64 > 0.97 * b.len() as f64);
        for wanted in [
            "promise_to_pay",
            "paid",
            "right_party",
            "no_answer",
            "refused",
            "wrong_party",
        ] {
            assert!(outcome.iter().any(|o| o == wanted), "no {wanted} outcome");
        }
    }

    #[test]
    fn borrowers_and_truth_line_up_and_hardship_needs_a_shock() {
        let (_, f) = generate_and_read(5_000, 17);
        let ids = req(i64s(&f.borrowers, "borrower_id"));
        assert_eq!(ids, (1..=5_000).collect::<Vec<_>>());
        assert_eq!(req(i64s(&f.truth, "borrower_id")), ids);
        let hardship = bools(&f.borrowers, "hardship");
        let ever = bools(&f.truth, "ever_shock");
        let at_end = bools(&f.truth, "in_shock_at_end");
        for i in 0..ids.len() {
            assert!(
                !hardship[i] || ever[i],
                "borrower {} hardship without a shock",
                ids[i]
            );
            assert!(!at_end[i] || ever[i]);
        }
        let count = |v: &[bool]| v.iter().filter(|&&x| x).count();
        assert!(count(&hardship) > 0 && count(&hardship) < count(&ever));
        let income = f64s(&f.borrowers, "income");
        let missing = income.iter().filter(|x| x.is_none()).count() as f64 / 5_000.0;
        assert!(
            (0.01..0.03).contains(&missing),
            "income null share {missing}"
        );
        let ages = req(col(&f.borrowers, "age", |a, i| {
            a.as_primitive::<Int32Type>().value(i)
        }));
        assert!(ages.iter().all(|a| (21..=70).contains(a)));
    }

    #[test]
    fn borrowers_current_at_end_have_higher_p_repay() {
        let (_, f) = generate_and_read(5_000, 19);
        let end = dates::ymd(END.0, END.1, END.2);
        let mut due = vec![0.0; 5_000];
        let mut paid = vec![0.0; 5_000];
        let sb = req(i64s(&f.schedule, "borrower_id"));
        let sd = req(days(&f.schedule, "due_date"));
        let sa = req(f64s(&f.schedule, "amount_due"));
        for i in 0..sb.len() {
            if sd[i] <= end {
                due[(sb[i] - 1) as usize] += sa[i];
            }
        }
        let pb = req(i64s(&f.payments, "borrower_id"));
        let pa = req(f64s(&f.payments, "amount"));
        for i in 0..pb.len() {
            paid[(pb[i] - 1) as usize] += pa[i];
        }
        let p = req(f64s(&f.truth, "p_repay"));
        let (mut cur, mut cur_n, mut del, mut del_n) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..5_000 {
            if paid[i] >= due[i] - 0.005 {
                cur += p[i];
                cur_n += 1.0;
            } else {
                del += p[i];
                del_n += 1.0;
            }
        }
        let share_current = cur_n / 5_000.0;
        assert!(
            (0.6..0.92).contains(&share_current),
            "share current {share_current}"
        );
        let (cur, del) = (cur / cur_n, del / del_n);
        assert!(
            cur > del + 0.1,
            "mean p_repay current {cur} vs delinquent {del}"
        );
    }

    #[test]
    fn the_stressed_profile_shifts_the_population() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut o = opts(3_000, 23, dir.path());
        let base = generate(&o).expect("generate");
        let read_all = |files: &[PathBuf]| -> Vec<Vec<u8>> {
            files
                .iter()
                .map(|f| std::fs::read(f).expect("read"))
                .collect()
        };
        let base_bytes = read_all(&base.files);
        let base_truth = read(&dir.path().join("truth.parquet")).1;
        let base_borrowers = read(&dir.path().join("borrowers.parquet")).1;
        o.profile = Profile::Stressed;
        let stressed = generate(&o).expect("generate");
        let truth = read(&dir.path().join("truth.parquet")).1;
        let borrowers = read(&dir.path().join("borrowers.parquet")).1;
        let mean = |v: Vec<Option<f64>>| {
            let v = req(v);
            v.iter().sum::<f64>() / v.len() as f64
        };
        let median = |v: Vec<Option<f64>>| {
            let mut v: Vec<f64> = v.into_iter().flatten().collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        // p_repay: sigmoid(2.3 + 1.2a + 1.3w) at mean logit 2.3 (0.82 on
        // average) against 2.3 - 0.9 - 0.65 = 0.75 (about 0.64).
        let (p0, p1) = (
            mean(f64s(&base_truth, "p_repay")),
            mean(f64s(&truth, "p_repay")),
        );
        assert!(p0 - p1 > 0.12, "mean p_repay {p0} -> {p1}");
        // Median income: 2500 -> 2000 exp(0.35 * -0.75) = 1538.
        let (i0, i1) = (
            median(f64s(&base_borrowers, "income")),
            median(f64s(&borrowers, "income")),
        );
        assert!(i1 < 0.7 * i0, "median income {i0} -> {i1}");
        assert!(stressed.payment_rows != base.payment_rows);
        // Back to the baseline: the same bytes as before.
        o.profile = Profile::Baseline;
        let again = generate(&o).expect("generate");
        assert!(read_all(&again.files) == base_bytes);
    }

    /// Times a 1M-borrower run: `cargo test --release --lib generate -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn one_million_borrowers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let start = std::time::Instant::now();
        let summary = generate(&opts(1_000_000, 1, dir.path())).expect("generate");
        let elapsed = start.elapsed();
        let bytes: u64 = summary
            .files
            .iter()
            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .sum();
        eprintln!(
            "1M borrowers in {:.2}s, {} MB on disk: {}",
            elapsed.as_secs_f64(),
            bytes / 1_000_000,
            serde_json::to_string(&summary).unwrap_or_default()
        );
    }
}
