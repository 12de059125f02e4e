//! Jobs: each command of the binary as one library function taking an
//! `*Options` struct, running the stages in data-flow order and writing the
//! outputs. Jobs return summaries; they never print.

pub mod features;
pub mod run;
pub mod score;
pub mod train;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::contract::Reject;
use crate::output::{self, tables};

/// `features.parquet` -> `features.<suffix>` beside it.
pub fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    out.with_file_name(format!("{stem}.{suffix}"))
}

/// Writes `<stem>.rejects.parquet` beside `out` when there are rejects, and
/// removes a stale one of an earlier run when there are none. Returns the
/// path written, if any.
pub fn write_rejects(out: &Path, rejects: &[Reject]) -> output::Result<Option<PathBuf>> {
    let path = sibling(out, "rejects.parquet");
    if rejects.is_empty() {
        output::remove_stale(&path)?;
        return Ok(None);
    }
    output::write_parquet(
        &path,
        tables::rejects_schema(),
        &[tables::rejects_table(rejects)],
    )?;
    Ok(Some(path))
}

/// Wall time per stage, for the log (never for output files).
#[derive(Debug)]
pub struct Stopwatch {
    last: Instant,
    /// Each stage and its duration, in order.
    pub laps: Vec<(&'static str, Duration)>,
}

impl Default for Stopwatch {
    fn default() -> Self {
        Self {
            last: Instant::now(),
            laps: Vec::new(),
        }
    }
}

impl Stopwatch {
    /// Ends the current stage, named `stage`.
    pub fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.laps.push((stage, now - self.last));
        self.last = now;
    }
}
