//! The crate's top-level error and its classification into exit codes.
//!
//! Each stage has its own error enum; this one wraps them so the binary can
//! report the cause chain and pick the exit code from [`Error::kind`].

use crate::contract::ContractError;
use crate::generate::GenerateError;
use crate::ledger::FeatureError;
use crate::model::ModelError;
use crate::output::OutputError;
use crate::pseudonym::PseudonymError;
use crate::report::drift::DriftError;
use crate::report::simulate::scored::ScoredError;
use crate::strategy::StrategyError;

/// What kind of failure an error is; each maps to a distinct exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line asked for something impossible (exit 64).
    Usage,
    /// An input file is missing, unreadable or violates the contract (exit 65).
    BadInput,
    /// A config, strategy or model file is wrong (exit 78).
    BadConfig,
    /// Writing an output failed (disk full, permissions) (exit 74).
    Output,
    /// A bug or an unexpected internal state (exit 70).
    Internal,
    /// Another run holds the output directory; try again later (exit 75).
    Busy,
    /// Stopped by this signal (SIGTERM, SIGINT) before finishing; nothing
    /// was published (exit 128 + signal: 143, 130).
    Interrupted(i32),
}

impl ErrorKind {
    /// The process exit code (BSD sysexits conventions).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage => 64,
            ErrorKind::BadInput => 65,
            ErrorKind::Internal => 70,
            ErrorKind::Output => 74,
            ErrorKind::Busy => 75,
            ErrorKind::BadConfig => 78,
            ErrorKind::Interrupted(signal) => u8::try_from(128 + signal).unwrap_or(128),
        }
    }
}

/// Any error of a dunning job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input contract violation.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// Invalid snapshot options.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// Failed to write an output.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Synthetic data generation failed.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// Training, loading or applying a model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The strategy file is wrong.
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    /// No usable pseudonym key.
    #[error(transparent)]
    Pseudonym(#[from] PseudonymError),
    /// Tonight's population drifted beyond the fail threshold, or drift
    /// counts that do not add up.
    #[error(transparent)]
    Drift(#[from] DriftError),
    /// A scored file that `dunning simulate` cannot re-decide.
    #[error(transparent)]
    Scored(#[from] ScoredError),
    /// Options that conflict with each other.
    #[error("{0}")]
    Usage(String),
    /// A config file is wrong.
    #[error("{0}")]
    Config(String),
    /// Another run is writing the same output directory.
    #[error("{0}")]
    Busy(String),
    /// A bug: an invariant of dunning's own data did not hold.
    #[error("internal error: {0}")]
    Internal(String),
    /// A signal asked the job to stop; it stopped without publishing.
    #[error("stopped by signal {0} before finishing; nothing was published")]
    Interrupted(i32),
}

impl Error {
    /// Classifies the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Contract(_) | Error::Scored(_) => ErrorKind::BadInput,
            Error::Features(FeatureError::NonFinite { .. }) => ErrorKind::Internal,
            Error::Features(_) | Error::Usage(_) => ErrorKind::Usage,
            Error::Busy(_) => ErrorKind::Busy,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Interrupted(signal) => ErrorKind::Interrupted(*signal),
            Error::Config(_) => ErrorKind::BadConfig,
            Error::Output(_) => ErrorKind::Output,
            Error::Generate(GenerateError::InvalidOptions(_)) => ErrorKind::Usage,
            Error::Generate(GenerateError::Output(_)) => ErrorKind::Output,
            Error::Strategy(_) | Error::Pseudonym(_) => ErrorKind::BadConfig,
            // Tonight's population is not the one the model was trained
            // on: the input is the problem, as for other bad input (65).
            Error::Drift(DriftError::Exceeded { .. }) => ErrorKind::BadInput,
            Error::Drift(DriftError::Mismatch(_)) => ErrorKind::BadConfig,
            Error::Drift(DriftError::Shape(_)) => ErrorKind::Internal,
            Error::Model(m) => match m {
                ModelError::Read { .. }
                | ModelError::Corrupt { .. }
                | ModelError::FormatVersion { .. }
                | ModelError::FeatureMismatch { .. }
                | ModelError::Mismatch { .. } => ErrorKind::BadConfig,
                ModelError::Training(_) => ErrorKind::BadInput,
                ModelError::Options(_) => ErrorKind::Usage,
                ModelError::Solver(_) => ErrorKind::Internal,
            },
        }
    }
}

/// Result alias for jobs.
pub type Result<T> = std::result::Result<T, Error>;
