//! Stopping a job cleanly on SIGTERM or SIGINT.
//!
//! A scheduler stops a job with SIGTERM, a person with Ctrl-C (SIGINT).
//! Dying on the spot would leave the night's staging directory and
//! temporary files behind. Instead, [`install`] sets handlers that only
//! record the signal, and jobs call [`check`] at every stage boundary
//! ([`crate::jobs::Stopwatch::lap`]) and in their long loops, so a job stops
//! within seconds by returning [`Error::Interrupted`]: unwinding it drops the
//! staging directory and temporary files, the previous night's output stays
//! as it was, and the binary exits with 128 + the signal number (143 for
//! SIGTERM, 130 for SIGINT), the shell's convention. A second signal ends
//! the process at once with the same code, as the default action would.
//!
//! Tests stop a run at a chosen point with the environment variable
//! `DUNNING_PAUSE_AFTER=STAGE`: after that stage, the job says so on stderr
//! and waits (at most a minute) for a signal.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// The signal that asked the job to stop, 0 while none did.
static SIGNAL: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// The environment variable that pauses a job after a stage (tests only).
pub const PAUSE_AFTER: &str = "DUNNING_PAUSE_AFTER";

/// Signals that stop a job.
#[cfg(unix)]
const SIGNALS: [i32; 2] = [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT];

/// Makes SIGTERM and SIGINT stop jobs at their next [`check`] instead of
/// killing the process; a second signal still kills it (exit 128 +
/// signal). Call once, early in `main`.
pub fn install() -> std::io::Result<()> {
    let signal = SIGNAL.get_or_init(|| Arc::new(AtomicUsize::new(0)));
    // Set by the first stopping signal, of either kind.
    let seen = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for sig in SIGNALS {
        // Registered first, so it runs before `seen` is set: it exits only
        // on the second signal.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&seen))?;
        signal_hook::flag::register(sig, Arc::clone(&seen))?;
        signal_hook::flag::register_usize(sig, Arc::clone(signal), sig as usize)?;
    }
    Ok(())
}

/// The signal received, if any.
pub fn received() -> Option<i32> {
    let s = SIGNAL.get()?.load(Ordering::Relaxed);
    (s != 0).then_some(s as i32)
}

/// Err([`Error::Interrupted`]) once a stopping signal has arrived.
pub fn check() -> Result<()> {
    match received() {
        Some(signal) => Err(Error::Interrupted(signal)),
        None => Ok(()),
    }
}

/// A stage boundary: pauses there when [`PAUSE_AFTER`] names `stage`, then
/// [`check`]s.
pub fn boundary(stage: &str) -> Result<()> {
    if std::env::var_os(PAUSE_AFTER).is_some_and(|v| v == stage) {
        eprintln!("dunning: paused after {stage} ({PAUSE_AFTER})");
        let until = Instant::now() + Duration::from_secs(60);
        while received().is_none() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    check()
}
