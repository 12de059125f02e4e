//! Jobs: each command of the binary as one library function taking an
//! `*Options` struct, running the stages in data-flow order and writing the
//! outputs. Jobs return summaries; they never print.

pub mod backtest;
pub mod bench;
pub mod features;
pub mod interrupt;
pub mod run;
pub mod score;
pub mod simulate;
pub mod train;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::contract::Reject;
use crate::output::{self, tables};

/// This process's peak resident set size in bytes since it started or since
/// the last [`reset_peak_rss`] (Linux `VmHWM`; None elsewhere).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak RSS to the current RSS (Linux: `5` to
/// `/proc/self/clear_refs`), so [`peak_rss_bytes`] measures what follows.
/// Returns false where that is not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

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

/// Called as each stage of a job ends, with its name and wall time: how the
/// binary shows progress (jobs never print).
pub type Observer = Box<dyn FnMut(&'static str, Duration) + Send>;

/// Wall time per stage, for the log and the manifest (never for data files).
pub struct Stopwatch {
    last: Instant,
    /// Each stage and its duration, in order.
    pub laps: Vec<(&'static str, Duration)>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Stopwatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stopwatch")
            .field("laps", &self.laps)
            .finish_non_exhaustive()
    }
}

impl Default for Stopwatch {
    fn default() -> Self {
        Self {
            last: Instant::now(),
            laps: Vec::new(),
            observer: None,
        }
    }
}

impl Stopwatch {
    /// A stopwatch that reports each lap to `observer`.
    pub fn observed(observer: Option<Observer>) -> Self {
        Self {
            observer,
            ..Self::default()
        }
    }

    /// Takes the observer away (to share it between partitions scored at
    /// the same time); laps are then only recorded.
    pub fn take_observer(&mut self) -> Option<Observer> {
        self.observer.take()
    }

    /// Gives the stopwatch an observer (back), and starts the next lap now
    /// (the time in between was lapped by other stopwatches).
    pub fn set_observer(&mut self, observer: Option<Observer>) {
        self.observer = observer;
        self.last = Instant::now();
    }

    /// Ends the current stage, named `stage`: a boundary where a job stops
    /// when asked to (Err([`crate::Error::Interrupted`]), see [`interrupt`]).
    pub fn lap(&mut self, stage: &'static str) -> crate::Result<()> {
        let now = Instant::now();
        let d = now - self.last;
        self.laps.push((stage, d));
        self.last = now;
        if let Some(o) = self.observer.as_mut() {
            o(stage, d);
        }
        interrupt::boundary(stage)
    }
}
