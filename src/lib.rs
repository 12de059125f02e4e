//! dunning: the nightly collections batch of a consumer lender.
//!
//! Parquet in, Parquet out. The modules follow the data flow, and data flows
//! one way:
//!
//! 1. [`contract`]: read the input tables, check them against the input
//!    contract, reject bad rows with reasons, and group what is left by
//!    borrower into a [`contract::Ledger`].
//! 2. [`ledger`]: replay each borrower's FIFO payment waterfall through time
//!    and read point-in-time features at each as-of date.
//! 3. [`labels`]: choose each snapshot's population and attach the label
//!    (repaid within the horizon).
//! 4. [`model`]: fit and validate the repayment model (linfa-logistic), and
//!    store it as model.json.
//! 5. [`scoring`]: apply a model to a snapshot: probability, score, band,
//!    reason codes.
//! 6. [`strategy`]: turn each scored borrower into a treatment (matrix and
//!    overlays from a checked TOML strategy).
//! 7. [`output`]: lay results out as the documented output tables and write
//!    them atomically.
//! 8. [`report`]: backtests, model comparison, drift, strategy what-if and
//!    the HTML validation report, read from what the stages above produce.
//!
//! [`jobs`] runs these stages for each command; [`generate`] writes synthetic
//! ledgers with a known truth for tests and benchmarks; [`pseudonym`] turns
//! borrower ids into keyed pseudonyms for files sent outside; [`error`]
//! classifies failures into exit codes; [`par`] puts large vectors
//! together in parallel.
//!
//! ```
//! use dunning::contract::{self, InputPaths, LoadOptions};
//! use dunning::dates::ymd;
//! use dunning::generate::{generate, GenerateOptions};
//! use dunning::labels;
//! use dunning::ledger::{self, SnapshotOptions};
//!
//! let dir = tempfile::tempdir()?;
//! generate(&GenerateOptions::new(200, 7, dir.path().to_path_buf()))?;
//! let ledger = contract::load(&InputPaths::in_dir(dir.path()), &LoadOptions::default())?;
//! let snapshot = SnapshotOptions { as_of: vec![ymd(2025, 11, 30)], horizon_days: 30, tolerance: 0.01 };
//! let features = ledger::build(&ledger, &snapshot, ledger::Keep::Population)?;
//! let labeled = labels::attach(&features, None, ledger.last_payment);
//! let counts = &labeled.counts[0];
//! assert_eq!(counts.in_population + counts.outside_population, 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod contract;
pub mod dates;
pub mod error;
pub mod generate;
pub mod hash;
pub mod jobs;
pub mod labels;
pub mod ledger;
pub mod model;
pub mod output;
pub mod par;
pub mod pseudonym;
pub mod report;
pub mod scoring;
pub mod strategy;

pub use error::{Error, ErrorKind, Result};
