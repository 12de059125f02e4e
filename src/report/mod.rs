//! Reports for the people who defend the model and change the strategy:
//! backtests of past snapshots against what the ledger later showed, model
//! comparison, population drift (PSI of the score, CSI of each feature),
//! strategy what-if, and the offline HTML validation report with its JSON.
//!
//! This is the last stage of the data flow: it reads what the earlier stages
//! produce (features, labels, models, scores, decisions) and never feeds
//! back into them. It does not fit models or assign treatments itself; it
//! calls [`crate::model`], [`crate::scoring`] and [`crate::strategy`] for
//! that, and [`crate::output`] to write files atomically.

pub mod backtest;
pub mod compare;
pub mod curves;
pub mod drift;
pub mod evaluation;
pub mod html;
pub mod page;
pub mod plot;
pub mod rollrate;
pub mod simulate;
pub mod validation;
