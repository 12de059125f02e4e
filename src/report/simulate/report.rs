//! What `dunning simulate` writes: simulate.json (the [`SimulateReport`]),
//! decisions.parquet (one row per borrower, both decisions side by side), and
//! the summary it prints.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use super::{Borrower, Cell, Comparison, Moves, Plan, StrategyOutcome, TreatmentRow};
use crate::strategy::{Strategy, Treatment};

/// Where the borrowers came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// `scored` (a night's scored.parquet, re-decided) or `snapshot` (the
    /// ledger, scored and decided as `dunning run` does).
    pub mode: String,
    /// The scored file (scored mode).
    pub scored: Option<String>,
    /// Its sha256 (scored mode).
    pub scored_sha256: Option<String>,
    /// The night's run id (scored mode).
    pub run_id: Option<String>,
    /// The night's strategy version (scored mode).
    pub recorded_strategy: Option<String>,
    /// The night's strategy file's sha256, from its manifest.json (scored
    /// mode, when the manifest is beside the file).
    pub recorded_strategy_sha256: Option<String>,
    /// The model's version.
    pub model: String,
    /// The model's directory or model.json (snapshot mode).
    pub model_path: Option<String>,
    /// sha256 of model.json (snapshot mode).
    pub model_sha256: Option<String>,
    /// The input tables, `table=path` (snapshot mode).
    pub inputs: Vec<String>,
    /// Input rows rejected by the contract (snapshot mode).
    pub rejected_input_rows: Option<u64>,
}

/// How far the re-decided baseline agrees with what the night recorded
/// (scored mode with `--baseline`): with the night's own strategy file, a
/// check that the scored file was re-decided faithfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    /// Borrowers compared.
    pub borrowers: u64,
    /// With the recorded treatment.
    pub same_treatment: u64,
    /// With the recorded channel.
    pub same_channel: u64,
    /// With the recorded treatment_rule.
    pub same_rule: u64,
}

impl Agreement {
    /// Compares a re-decided plan with the recorded one.
    pub fn of(redecided: &Plan, recorded: &Plan) -> Self {
        let pairs = || redecided.outcomes.iter().zip(&recorded.outcomes);
        let count = |f: &dyn Fn(&super::Outcome, &super::Outcome) -> bool| {
            pairs().filter(|(a, b)| f(a, b)).count() as u64
        };
        Self {
            borrowers: redecided.outcomes.len() as u64,
            same_treatment: count(&|a, b| a.treatment == b.treatment),
            same_channel: count(&|a, b| a.channel == b.channel),
            same_rule: count(&|a, b| a.rule == b.rule),
        }
    }
}

/// simulate.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulateReport {
    /// The binary's version.
    pub dunning_version: String,
    /// The night, YYYY-MM-DD.
    pub as_of: String,
    /// Where the borrowers came from.
    pub source: Source,
    /// Borrowers compared.
    pub borrowers: u64,
    /// What the expected repayment means ([`super::UPLIFT_NOTE`]).
    pub note: String,
    /// What could not be evaluated exactly, and how it was treated (empty
    /// in snapshot mode).
    pub limitations: Vec<String>,
    /// Re-decided baseline against the night's record (scored mode with
    /// `--baseline`; null otherwise).
    pub baseline_vs_recorded: Option<Agreement>,
    /// The baseline's counts.
    pub baseline: StrategyOutcome,
    /// The new strategy's counts.
    pub new: StrategyOutcome,
    /// Who moves between treatments.
    pub moves: Moves,
    /// Per bucket x band of the new strategy.
    pub cells: Vec<Cell>,
}

impl SimulateReport {
    /// The report of a comparison.
    pub fn new(
        as_of: String,
        source: Source,
        limitations: Vec<String>,
        baseline_vs_recorded: Option<Agreement>,
        c: Comparison,
    ) -> Self {
        Self {
            dunning_version: env!("CARGO_PKG_VERSION").into(),
            as_of,
            source,
            borrowers: c.borrowers,
            note: super::UPLIFT_NOTE.into(),
            limitations,
            baseline_vs_recorded,
            baseline: c.baseline,
            new: c.new,
            moves: c.moves,
            cells: c.cells,
        }
    }

    /// A summary for people: the two strategies, the treatment mix, the
    /// moves, capacity, expected repayment by treatment, and the caveats.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let name = |s: &StrategyOutcome| match &s.strategy.path {
            Some(p) => format!("{} ({p})", s.strategy.version),
            None => format!("{} (as recorded in the scored file)", s.strategy.version),
        };
        let from = match (&self.source.scored, &self.source.model_path) {
            (Some(f), _) => format!("scored file {f}"),
            (None, Some(m)) => format!("snapshot of the ledger scored with {m}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "dunning simulate as of {}: {} borrowers, {from}",
            self.as_of, self.borrowers
        );
        let _ = writeln!(out, "baseline: {}", name(&self.baseline));
        let _ = writeln!(out, "new:      {}\n", name(&self.new));

        let _ = writeln!(
            out,
            "{:<12}{:>12}{:>12}{:>10}",
            "treatment", "baseline", "new", "change"
        );
        for (b, n) in self.baseline.treatments.iter().zip(&self.new.treatments) {
            let _ = writeln!(
                out,
                "{:<12}{:>12}{:>12}{:>+10}",
                b.treatment,
                b.borrowers,
                n.borrowers,
                n.borrowers as i64 - b.borrowers as i64
            );
        }

        let _ = writeln!(out, "\nmoves (rows: baseline, columns: new)");
        let _ = writeln!(
            out,
            "{:<12}{:>12}{:>12}{:>12}",
            "", "soft", "standard", "escalated"
        );
        for r in &self.moves.matrix {
            let _ = writeln!(
                out,
                "{:<12}{:>12}{:>12}{:>12}",
                r.baseline, r.new.soft, r.new.standard, r.new.escalated
            );
        }
        let m = &self.moves;
        let _ = writeln!(
            out,
            "{} of {} borrowers move: {} to a firmer treatment, {} to a softer one; {} change channel",
            m.moved, self.borrowers, m.to_firmer, m.to_softer, m.channel_changed
        );

        let _ = writeln!(out, "\ncapacity");
        let _ = writeln!(
            out,
            "{:<10}{:<12}{:>10}{:>10}{:>10}{:>10}{:>10}",
            "strategy", "treatment", "demand", "capacity", "used", "over by", "demoted"
        );
        for (label, s) in [("baseline", &self.baseline), ("new", &self.new)] {
            for r in s.treatments.iter().skip(1) {
                let cap = match (s.capacity_known, r.capacity) {
                    (false, _) => "unknown".to_string(),
                    (true, None) => "none".to_string(),
                    (true, Some(c)) => c.to_string(),
                };
                let over = r.over_by.map_or("?".into(), |o| o.to_string());
                let _ = writeln!(
                    out,
                    "{:<10}{:<12}{:>10}{:>10}{:>10}{:>10}{:>10}",
                    label, r.treatment, r.demand, cap, r.borrowers, over, r.demoted_out
                );
            }
        }

        let _ = writeln!(
            out,
            "\nexpected repayment by treatment (model p_repay; the treatment's effect is not modelled)"
        );
        let _ = writeln!(
            out,
            "{:<10}{:<12}{:>10}{:>12}{:>8}{:>16}{:>16}",
            "strategy", "treatment", "borrowers", "repaying", "rate", "overdue", "recovered"
        );
        for (label, s) in [("baseline", &self.baseline), ("new", &self.new)] {
            for r in &s.treatments {
                let _ = writeln!(out, "{}", repay_line(label, r));
            }
        }
        let _ = writeln!(out, "\nnote: {}", self.note);
        if let Some(a) = &self.baseline_vs_recorded {
            let _ = writeln!(
                out,
                "\nthe re-decided baseline agrees with the night's record for {} of {} borrowers' treatments ({} channels, {} rules)",
                a.same_treatment, a.borrowers, a.same_channel, a.same_rule
            );
        }
        for l in &self.limitations {
            let _ = writeln!(out, "limitation: {l}");
        }
        out
    }
}

fn repay_line(label: &str, r: &TreatmentRow) -> String {
    format!(
        "{:<10}{:<12}{:>10}{:>12.1}{:>8}{:>16.2}{:>16.2}",
        label,
        r.treatment,
        r.borrowers,
        r.expected_repaying,
        r.expected_repay_rate
            .map_or("-".into(), |x| format!("{:.3}", x)),
        r.overdue_amount,
        r.expected_overdue_recovered
    )
}

/// decisions.parquet: one row per borrower, in the source's order (by
/// borrower_id), with both decisions. `ids` is the borrower_id column;
/// `cell` each borrower's (bucket, band) under `new_strategy`.
pub fn decisions_table(
    ids: ArrayRef,
    borrowers: &[Borrower],
    cell: &[(usize, usize)],
    new_strategy: &Strategy,
    baseline: &Plan,
    new: &Plan,
    as_of: &str,
) -> RecordBatch {
    let text = |f: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values((0..borrowers.len()).map(f)))
    };
    let (b, n) = (&baseline.outcomes, &new.outcomes);
    let t = |t: Treatment| t.as_str().to_string();
    let columns: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new("borrower_id", ids.data_type().clone(), false),
            ids.clone(),
        ),
        (
            Field::new("p_repay", DataType::Float64, false),
            Arc::new(Float64Array::from_iter_values(
                borrowers.iter().map(|x| x.p_repay),
            )),
        ),
        (
            Field::new("dpd", DataType::Int32, false),
            Arc::new(Int32Array::from_iter_values(
                borrowers
                    .iter()
                    .map(|x| x.dpd.clamp(0, i64::from(i32::MAX)) as i32),
            )),
        ),
        (
            Field::new("overdue_amount", DataType::Float64, false),
            Arc::new(Float64Array::from_iter_values(
                borrowers.iter().map(|x| x.overdue_amount),
            )),
        ),
        (
            Field::new("dpd_bucket", DataType::Utf8, false),
            text(&|k| new_strategy.buckets[cell[k].0].name.clone()),
        ),
        (
            Field::new("risk_band", DataType::Utf8, false),
            text(&|k| new_strategy.bands[cell[k].1].clone()),
        ),
        (
            Field::new("baseline_treatment", DataType::Utf8, false),
            text(&|k| t(b[k].treatment)),
        ),
        (
            Field::new("baseline_channel", DataType::Utf8, false),
            text(&|k| b[k].channel.as_str().to_string()),
        ),
        (
            Field::new("baseline_rule", DataType::Utf8, false),
            text(&|k| b[k].rule.clone()),
        ),
        (
            Field::new("treatment", DataType::Utf8, false),
            text(&|k| t(n[k].treatment)),
        ),
        (
            Field::new("channel", DataType::Utf8, false),
            text(&|k| n[k].channel.as_str().to_string()),
        ),
        (
            Field::new("treatment_rule", DataType::Utf8, false),
            text(&|k| n[k].rule.clone()),
        ),
        (
            Field::new("contact_allowed", DataType::Boolean, true),
            Arc::new(BooleanArray::from_iter(n.iter().map(|o| o.contact_allowed))),
        ),
        (
            Field::new("human_review", DataType::Boolean, false),
            Arc::new(BooleanArray::from_iter(
                n.iter().map(|o| Some(o.human_review)),
            )),
        ),
        (
            Field::new("arm", DataType::Utf8, false),
            text(&|k| n[k].arm.as_str().to_string()),
        ),
        (
            Field::new("moved", DataType::Boolean, false),
            Arc::new(BooleanArray::from_iter(
                b.iter()
                    .zip(n)
                    .map(|(x, y)| Some(x.treatment != y.treatment)),
            )),
        ),
    ];
    let mut meta = HashMap::new();
    meta.insert("dunning.as_of".to_string(), as_of.to_string());
    meta.insert(
        "dunning.baseline_strategy_version".to_string(),
        baseline.info.version.clone(),
    );
    meta.insert(
        "dunning.strategy_version".to_string(),
        new.info.version.clone(),
    );
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    RecordBatch::try_new(Arc::new(Schema::new_with_metadata(fields, meta)), arrays)
        .expect("columns are built to the schema")
}
