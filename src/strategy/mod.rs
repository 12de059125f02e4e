//! The collection strategy: from a scored borrower to a treatment.
//!
//! A strategy is a versioned TOML file (`strategies/default.toml` is the
//! documented default) that a collections manager edits: DPD buckets, risk
//! bands, a bucket x band matrix of treatments with their channels,
//! preventive reminders, and who needs a human review. [`config`] reads and
//! checks it once into a [`Strategy`]; [`assign`] applies it to one borrower,
//! matrix first, then the overlays in their documented order. Scores come
//! from [`crate::scoring`]; this module neither scores nor writes files.

pub mod arms;
pub mod assign;
pub mod config;
pub mod contact;

pub use assign::{decide, BorrowerState, Decision};
pub use config::{Bucket, Strategy, StrategyError};

use serde::{Deserialize, Serialize};

/// Collection treatments, from the softest to the firmest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    /// Reminders: sms or app message.
    Soft,
    /// A collector's call.
    Standard,
    /// Field visit or legal letter.
    Escalated,
}

impl Treatment {
    /// All treatments, softest first.
    pub const ALL: [Treatment; 3] = [Self::Soft, Self::Standard, Self::Escalated];
    /// The spelling in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Soft => "soft",
            Self::Standard => "standard",
            Self::Escalated => "escalated",
        }
    }
    /// Parses the spelling in files.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
    /// Position, softest first.
    pub fn index(self) -> usize {
        self as usize
    }
}
