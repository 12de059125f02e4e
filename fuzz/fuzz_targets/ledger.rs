//! cargo-fuzz target over the whole input path: the bytes of one Parquet
//! input file (standing for one of the four tables, the others valid)
//! through the input contract, point-in-time features and scoring. See
//! `../harness.rs` for the input layout and the property, and the README's
//! Development section for how to run it.
//!
//! A panic that gets out of the library, or an internal error, aborts (a
//! crash for libFuzzer). Panics the library contains (the Parquet decoder's,
//! reported as an unreadable file) are not crashes: the first at each place
//! is printed, so that a long run lists them. Set
//! `DUNNING_FUZZ_ABORT_ON_PANIC=1` to make every panic, contained or not, a
//! crash (to collect inputs for regression tests).
#![no_main]

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

static HARNESS: OnceLock<harness::Harness> = OnceLock::new();
/// The places of the panics seen so far.
static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
/// The latest panic, to report if it gets out of the library.
static LAST: Mutex<String> = Mutex::new(String::new());

/// Replaces libFuzzer's panic hook (which aborts on every panic, even one
/// that is caught) with one that records the panic, unless asked not to.
fn install_panic_hook() {
    if std::env::var_os("DUNNING_FUZZ_ABORT_ON_PANIC").is_some() {
        return;
    }
    panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "an unknown place".into());
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let first = SEEN
            .lock()
            .map(|mut s| s.get_or_insert_with(HashSet::new).insert(place.clone()))
            .unwrap_or(false);
        if first {
            eprintln!("dunning-fuzz: panic at {place}: {message}");
        }
        if let Ok(mut last) = LAST.lock() {
            *last = format!("{place}: {message}");
        }
    }));
}

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// libFuzzer ends the process with `exit`, which drops no Rust value: the
/// harness's temporary directory is removed here instead.
extern "C" fn remove_work_dir() {
    if let Some(h) = HARNESS.get() {
        let _ = std::fs::remove_dir_all(h.dir());
    }
}

fuzz_target!(
    init: {
        install_panic_hook();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let h = harness::Harness::new(&root.join("seeds/ledger"), &root.join("../models/default"))
            .expect("fuzz harness: the seed corpus and the default model");
        let _ = HARNESS.set(h);
        // SAFETY: registers a plain function with the C runtime, once.
        unsafe { atexit(remove_work_dir) };
    },
    |data: &[u8]| {
        let h = HARNESS.get().expect("initialized");
        match panic::catch_unwind(AssertUnwindSafe(|| h.run(data))) {
            Err(_) => {
                let last = LAST.lock().map(|s| s.clone()).unwrap_or_default();
                eprintln!("dunning-fuzz: a panic got out of the library: {last}");
                std::process::abort();
            }
            Ok(result) => {
                if let Err(finding) = harness::check(&result) {
                    eprintln!("dunning-fuzz: {finding}");
                    std::process::abort();
                }
            }
        }
    }
);
