//! The fuzz harness of the whole input path, shared by the cargo-fuzz target
//! (`fuzz/fuzz_targets/ledger.rs`) and the normal test suite
//! (`tests/fuzz.rs` runs it on every seed of the corpus), so that both
//! check the same property on the same code.
//!
//! An input is one selector byte followed by the bytes of one Parquet file.
//! The selector's bits 0-1 say which table the file stands for (schedule,
//! payments, borrowers, contacts; see [`TABLES`]); the other three tables are
//! the small valid files of the seed corpus (`fuzz/seeds/ledger/*-valid`).
//! Bits 2-3 choose a borrower partition (none, 0 of 2, 1 of 2, 2 of 3) and
//! bit 4 `--strict`.
//!
//! The harness runs what `dunning run` runs before its strategy: the
//! partition scheme from the schedule's footer, the input contract (read and
//! validate), point-in-time features and scoring with the default model
//! ([`dunning::jobs::score::load_and_score`]). The property ([`check`]): the
//! run succeeds, or fails with a typed error that is not an internal one (a
//! bug, exit 70). A panic must not get out of the library: the library
//! contains panics of the Parquet decoder itself and reports them as bad input.
//!
//! It does not judge the outputs: the other tests do.

use std::path::{Path, PathBuf};

use dunning::contract::{self, InputPaths, Partition};
use dunning::error::{Error, ErrorKind};
use dunning::jobs::{score::load_and_score, Stopwatch};

/// The tables an input can stand for, by the selector's bits 0-1.
pub const TABLES: [&str; 4] = ["schedule", "payments", "borrowers", "contacts"];

/// The as-of date of every run: the sample ledger's last day.
pub const AS_OF: &str = "2025-12-31";

/// One decoded fuzz input.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Index into [`TABLES`] of the table the bytes stand for.
    pub table: usize,
    /// `(index, count)` of the borrower partition to load, if any.
    pub partition: Option<(u32, u32)>,
    /// Whether any rejected row is fatal.
    pub strict: bool,
    /// The Parquet file's bytes.
    pub bytes: &'a [u8],
}

impl<'a> Input<'a> {
    /// Splits a fuzz input into its selector and file; None when empty.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&selector, bytes) = data.split_first()?;
        Some(Self {
            table: usize::from(selector & 3),
            partition: match (selector >> 2) & 3 {
                0 => None,
                1 => Some((0, 2)),
                2 => Some((1, 2)),
                _ => Some((2, 3)),
            },
            strict: selector & 16 != 0,
            bytes,
        })
    }

    /// The selector byte of an input for `table`, with options.
    pub fn selector(table: usize, partition: Option<(u32, u32)>, strict: bool) -> u8 {
        let p = match partition {
            None => 0,
            Some((0, 2)) => 1,
            Some((1, 2)) => 2,
            Some(_) => 3,
        };
        (table as u8 & 3) | (p << 2) | (u8::from(strict) << 4)
    }
}

/// A working directory holding the valid tables and the input under test.
pub struct Harness {
    dir: tempfile::TempDir,
    model: PathBuf,
}

impl Harness {
    /// Copies the valid table of each kind from the seed corpus `seeds`
    /// (`<table>-valid`, selector byte first) into a temporary directory;
    /// runs will score with the model at `model`.
    pub fn new(seeds: &Path, model: &Path) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("dunning-fuzz").tempdir()?;
        for table in TABLES {
            let seed = std::fs::read(seeds.join(format!("{table}-valid")))?;
            let bytes = seed.get(1..).unwrap_or_default();
            std::fs::write(dir.path().join(format!("{table}.parquet")), bytes)?;
        }
        Ok(Self {
            dir,
            model: model.to_path_buf(),
        })
    }

    /// The working directory (removed when the harness is dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the input path on one fuzz input; returns the number of
    /// borrowers scored. An empty input does nothing.
    pub fn run(&self, data: &[u8]) -> Result<usize, Error> {
        let Some(input) = Input::parse(data) else {
            return Ok(0);
        };
        let fuzzed = self.dir.path().join("input.parquet");
        std::fs::write(&fuzzed, input.bytes).map_err(|e| {
            Error::Internal(format!(
                "fuzz harness: cannot write {}: {e}",
                fuzzed.display()
            ))
        })?;
        let path = |t: usize| {
            if t == input.table {
                fuzzed.clone()
            } else {
                self.dir.path().join(format!("{}.parquet", TABLES[t]))
            }
        };
        let inputs = InputPaths {
            schedule: path(0),
            payments: path(1),
            borrowers: Some(path(2)),
            contacts: Some(path(3)),
            labels: None,
        };
        let partition = match input.partition {
            None => None,
            Some((index, count)) => Some(Partition {
                index,
                count,
                scheme: contract::partition_scheme(&inputs.schedule, count)?,
            }),
        };
        let as_of = dunning::dates::parse(AS_OF).expect("AS_OF is a date");
        let scored = load_and_score(
            &self.model,
            &inputs,
            as_of,
            dunning::ledger::DEFAULT_TOLERANCE,
            contract::LoadOptions {
                strict: input.strict,
                partition,
                ..Default::default()
            },
            &mut Stopwatch::default(),
        )?;
        Ok(scored.rows.len())
    }
}

/// The fuzz property: success, or a typed error that is not a bug.
pub fn check(result: &Result<usize, Error>) -> Result<(), String> {
    match result {
        Err(e) if e.kind() == ErrorKind::Internal => Err(format!("internal error (exit 70): {e}")),
        _ => Ok(()),
    }
}
