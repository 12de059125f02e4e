//! Strategy what-if: what a strategy change does to one night's decisions
//! before it goes live.
//!
//! The same borrowers are decided twice, under a baseline strategy and under
//! a new one (see [`crate::jobs::simulate`] for where the borrowers come
//! from: a nightly run's scored.parquet, re-decided by [`scored`], or a
//! snapshot of the ledger, decided as `dunning run` decides). [`compare`]
//! then counts, for a manager:
//!
//! - the moves: baseline treatment x new treatment;
//! - per strategy, the treatment mix; the channel volumes; each treatment's
//!   capacity (demand, capacity, used, over by, demoted in and out); and the
//!   expected repayment by treatment: the count, the expected number of
//!   borrowers repaying (the sum of p_repay) and the expected overdue amount
//!   recovered (the sum of p_repay x overdue_amount);
//! - per DPD bucket x risk band (the new strategy's), the treatment mix under
//!   each strategy and how many borrowers move.
//!
//! The expected repayment uses the model's p_repay, which is the same under
//! both strategies: the model was fitted on what happened under the
//! treatments of the past and does not model a treatment's effect (there is
//! no uplift model). The totals are therefore equal under both strategies;
//! only their split by treatment changes. The report says so in its `note`.
//!
//! This module counts; it neither decides (that is [`crate::strategy`]) nor
//! reads or writes files (that is [`scored`] and the job).

pub mod report;
pub mod scored;

use serde::{Deserialize, Serialize};

use crate::contract::Channel;
use crate::strategy::arms::{apply_capacity, Arm};
use crate::strategy::{Decision, Strategy, Treatment};

/// What every strategy decides on and the report sums, for one borrower.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Borrower {
    /// The model's probability of repaying within the horizon.
    pub p_repay: f64,
    /// Amount overdue at the as-of date.
    pub overdue_amount: f64,
    /// Days past due at the as-of date.
    pub dpd: i64,
}

/// One borrower's decision under one strategy, capacity applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The treatment.
    pub treatment: Treatment,
    /// The treatment before capacity fallbacks.
    pub before_capacity: Treatment,
    /// The channel.
    pub channel: Channel,
    /// Whether the borrower may be contacted (None: cannot be evaluated from
    /// the data at hand, see [`scored`]).
    pub contact_allowed: Option<bool>,
    /// Whether a person must confirm the decision.
    pub human_review: bool,
    /// Whether a repayment plan is offered.
    pub offer_plan: bool,
    /// The borrower's arm.
    pub arm: Arm,
    /// The rules that made the decision, as in scored.parquet's treatment_rule.
    pub rule: String,
}

/// Applies the strategy's capacity to a night's `decisions` (in the night's
/// borrower order, with each row's capacity `priority`) and returns the
/// outcomes, each remembering its treatment before capacity.
pub fn outcomes(
    strategy: &Strategy,
    mut decisions: Vec<Decision>,
    arms: &[Arm],
    priority: &[f64],
) -> Vec<Outcome> {
    let before: Vec<Treatment> = decisions.iter().map(|d| d.treatment).collect();
    apply_capacity(strategy, &mut decisions, priority);
    decisions
        .into_iter()
        .zip(before)
        .zip(arms)
        .map(|((d, before_capacity), &arm)| Outcome::new(d, before_capacity, arm))
        .collect()
}

impl Outcome {
    /// The outcome of a decision (capacity applied) made in `arm`.
    pub fn new(d: Decision, before_capacity: Treatment, arm: Arm) -> Self {
        Self {
            treatment: d.treatment,
            before_capacity,
            channel: d.channel,
            contact_allowed: Some(d.contact_allowed),
            human_review: d.human_review,
            offer_plan: d.offer_plan,
            arm,
            rule: d.rule,
        }
    }
}

/// Which strategy a side of the comparison is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyInfo {
    /// `file`: decided here under a strategy file; `recorded`: the decisions
    /// recorded in the scored file, as the night made them.
    pub source: String,
    /// The strategy file (null for recorded decisions).
    pub path: Option<String>,
    /// The strategy's version.
    pub version: String,
    /// sha256 of the strategy file (for recorded decisions, the manifest's,
    /// when the night's manifest.json is beside the scored file).
    pub sha256: Option<String>,
}

/// One side of the comparison: a strategy and its outcomes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Which strategy.
    pub info: StrategyInfo,
    /// Daily capacity by [`Treatment::index`] (None: not known, for
    /// recorded decisions).
    pub capacity: Option<[Option<u64>; 3]>,
    /// One outcome per borrower, in the borrowers' order.
    pub outcomes: Vec<Outcome>,
}

impl Plan {
    /// A plan decided under a strategy file.
    pub fn from_strategy(
        strategy: &Strategy,
        path: &std::path::Path,
        sha256: &str,
        outcomes: Vec<Outcome>,
    ) -> Self {
        Self {
            info: StrategyInfo {
                source: "file".into(),
                path: Some(path.display().to_string()),
                version: strategy.version.clone(),
                sha256: Some(sha256.to_string()),
            },
            capacity: Some(strategy.capacity),
            outcomes,
        }
    }
}

/// Counts by treatment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreatmentCounts {
    /// Soft.
    pub soft: u64,
    /// Standard.
    pub standard: u64,
    /// Escalated.
    pub escalated: u64,
}

impl TreatmentCounts {
    fn add(&mut self, t: Treatment) {
        *self.get_mut(t) += 1;
    }
    fn get_mut(&mut self, t: Treatment) -> &mut u64 {
        match t {
            Treatment::Soft => &mut self.soft,
            Treatment::Standard => &mut self.standard,
            Treatment::Escalated => &mut self.escalated,
        }
    }
    /// The count of `t`.
    pub fn get(&self, t: Treatment) -> u64 {
        match t {
            Treatment::Soft => self.soft,
            Treatment::Standard => self.standard,
            Treatment::Escalated => self.escalated,
        }
    }
    /// The sum over treatments.
    pub fn total(&self) -> u64 {
        self.soft + self.standard + self.escalated
    }
}

/// One treatment under one strategy: mix, capacity and expected repayment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreatmentRow {
    /// soft, standard or escalated.
    pub treatment: String,
    /// Borrowers assigned the treatment (capacity applied).
    pub borrowers: u64,
    /// borrowers / population (0 for an empty population).
    pub share: f64,
    /// Borrowers the strategy gave the treatment before capacity.
    pub before_capacity: u64,
    /// Borrowers the treatment had to take when its capacity was applied:
    /// before_capacity + demoted_in.
    pub demand: u64,
    /// The daily capacity (null: no limit, or not known when
    /// `capacity_known` is false).
    pub capacity: Option<u64>,
    /// demand beyond the capacity (0 without a limit; null when not known).
    pub over_by: Option<u64>,
    /// Borrowers that fell into this treatment from the next firmer one.
    pub demoted_in: u64,
    /// Borrowers that fell out of it to the next softer one.
    pub demoted_out: u64,
    /// Expected borrowers repaying: the sum of their p_repay.
    pub expected_repaying: f64,
    /// expected_repaying / borrowers (null without borrowers).
    pub expected_repay_rate: Option<f64>,
    /// The sum of their overdue_amount.
    pub overdue_amount: f64,
    /// Expected overdue amount recovered: the sum of p_repay x overdue_amount.
    pub expected_overdue_recovered: f64,
}

/// Borrowers on one channel of one treatment under one strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRow {
    /// The treatment.
    pub treatment: String,
    /// The channel assigned (the treatment's first channel, or an overlay's:
    /// preventive reminder, do-not-contact letter).
    pub channel: String,
    /// Borrowers.
    pub borrowers: u64,
    /// Of them, those who may be contacted (null when some cannot be evaluated).
    pub contact_allowed: Option<u64>,
    /// Of them, those whose decision needs human review.
    pub human_review: u64,
}

/// Everything counted for one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyOutcome {
    /// Which strategy.
    pub strategy: StrategyInfo,
    /// Whether the capacities are known (false for recorded decisions: the
    /// scored file does not record the strategy's capacity).
    pub capacity_known: bool,
    /// soft, standard, escalated, in that order.
    pub treatments: Vec<TreatmentRow>,
    /// Channel volumes, by treatment (softest first) then channel (contract
    /// order); only channels with borrowers.
    pub channels: Vec<ChannelRow>,
    /// Borrowers demoted by capacity (each counted once, however far it fell).
    pub demoted_by_capacity: u64,
    /// Borrowers who may be contacted (null when some cannot be evaluated).
    pub contact_allowed: Option<u64>,
    /// Decisions needing human review.
    pub human_review: u64,
    /// Borrowers offered a repayment plan.
    pub offer_plan: u64,
    /// Borrowers in the champion arm.
    pub champion: u64,
    /// Borrowers in the challenger arm.
    pub challenger: u64,
}

/// The borrowers of one baseline treatment, by their new treatment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveRow {
    /// The baseline treatment.
    pub baseline: String,
    /// Their treatments under the new strategy.
    pub new: TreatmentCounts,
}

/// The transition matrix baseline x new and its totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moves {
    /// One row per baseline treatment, softest first.
    pub matrix: Vec<MoveRow>,
    /// Borrowers whose treatment is the same.
    pub unchanged: u64,
    /// Borrowers whose treatment changes.
    pub moved: u64,
    /// Of them, to a firmer treatment.
    pub to_firmer: u64,
    /// Of them, to a softer treatment.
    pub to_softer: u64,
    /// Borrowers whose channel changes (whether or not the treatment does).
    pub channel_changed: u64,
}

/// One DPD bucket x risk band cell of the new strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cell {
    /// The new strategy's DPD bucket.
    pub bucket: String,
    /// The new strategy's risk band.
    pub band: String,
    /// Borrowers in the cell.
    pub borrowers: u64,
    /// Their treatments under the baseline.
    pub baseline: TreatmentCounts,
    /// Their treatments under the new strategy.
    pub new: TreatmentCounts,
    /// Borrowers of the cell whose treatment changes.
    pub moved: u64,
}

/// The comparison of two plans on the same borrowers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// Borrowers compared.
    pub borrowers: u64,
    /// The baseline's counts.
    pub baseline: StrategyOutcome,
    /// The new strategy's counts.
    pub new: StrategyOutcome,
    /// Who moves between treatments.
    pub moves: Moves,
    /// Per bucket x band of the new strategy, in bucket then band order.
    pub cells: Vec<Cell>,
}

/// What the expected repayment is and is not, written into every report.
pub const UPLIFT_NOTE: &str = "Expected repayment uses the model's p_repay, which \
does not model the effect of a treatment (there is no uplift model): a borrower's \
p_repay is the same under both strategies, so the totals are equal and only their \
split by treatment changes. It shows where the expected repayers and the overdue \
money go, not how much more a firmer treatment would recover.";

/// Compares the `baseline` and `new` plans of `borrowers` (all in the same
/// order). `cell[i]` is borrower i's (bucket, band) under `new_strategy`.
pub fn compare(
    borrowers: &[Borrower],
    cell: &[(usize, usize)],
    new_strategy: &Strategy,
    baseline: &Plan,
    new: &Plan,
) -> Comparison {
    assert!(
        baseline.outcomes.len() == borrowers.len()
            && new.outcomes.len() == borrowers.len()
            && cell.len() == borrowers.len(),
        "one outcome and one cell per borrower"
    );
    let mut matrix = [TreatmentCounts::default(); 3];
    let (mut to_firmer, mut to_softer, mut channel_changed) = (0, 0, 0);
    let bands = new_strategy.bands.len();
    let mut cells: Vec<Cell> = new_strategy
        .buckets
        .iter()
        .flat_map(|b| {
            new_strategy.bands.iter().map(|band| Cell {
                bucket: b.name.clone(),
                band: band.clone(),
                borrowers: 0,
                baseline: TreatmentCounts::default(),
                new: TreatmentCounts::default(),
                moved: 0,
            })
        })
        .collect();
    for ((b, n), &(bucket, band)) in baseline.outcomes.iter().zip(&new.outcomes).zip(cell) {
        matrix[b.treatment.index()].add(n.treatment);
        if n.treatment > b.treatment {
            to_firmer += 1;
        } else if n.treatment < b.treatment {
            to_softer += 1;
        }
        if n.channel != b.channel {
            channel_changed += 1;
        }
        let c = &mut cells[bucket * bands + band];
        c.borrowers += 1;
        c.baseline.add(b.treatment);
        c.new.add(n.treatment);
        if n.treatment != b.treatment {
            c.moved += 1;
        }
    }
    let moved = to_firmer + to_softer;
    Comparison {
        borrowers: borrowers.len() as u64,
        baseline: summarize(borrowers, baseline),
        new: summarize(borrowers, new),
        moves: Moves {
            matrix: Treatment::ALL
                .iter()
                .map(|t| MoveRow {
                    baseline: t.as_str().into(),
                    new: matrix[t.index()],
                })
                .collect(),
            unchanged: borrowers.len() as u64 - moved,
            moved,
            to_firmer,
            to_softer,
            channel_changed,
        },
        cells,
    }
}

/// Sums `Some` counts; None as soon as one is None.
fn add_known(acc: &mut Option<u64>, v: Option<bool>) {
    *acc = match (*acc, v) {
        (Some(a), Some(v)) => Some(a + u64::from(v)),
        _ => None,
    };
}

/// One strategy's counts over `borrowers`.
pub fn summarize(borrowers: &[Borrower], plan: &Plan) -> StrategyOutcome {
    let n = borrowers.len() as u64;
    let mut rows: Vec<TreatmentRow> = Treatment::ALL
        .iter()
        .map(|t| TreatmentRow {
            treatment: t.as_str().into(),
            borrowers: 0,
            share: 0.0,
            before_capacity: 0,
            demand: 0,
            capacity: plan.capacity.and_then(|c| c[t.index()]),
            over_by: None,
            demoted_in: 0,
            demoted_out: 0,
            expected_repaying: 0.0,
            expected_repay_rate: None,
            overdue_amount: 0.0,
            expected_overdue_recovered: 0.0,
        })
        .collect();
    // (treatment, channel) -> (borrowers, contact allowed, human review)
    let mut channels = [[(0u64, Some(0u64), 0u64); Channel::ALL.len()]; 3];
    let mut out = StrategyOutcome {
        strategy: plan.info.clone(),
        capacity_known: plan.capacity.is_some(),
        treatments: Vec::new(),
        channels: Vec::new(),
        demoted_by_capacity: 0,
        contact_allowed: Some(0),
        human_review: 0,
        offer_plan: 0,
        champion: 0,
        challenger: 0,
    };
    for (b, o) in borrowers.iter().zip(&plan.outcomes) {
        let r = &mut rows[o.treatment.index()];
        r.borrowers += 1;
        r.expected_repaying += b.p_repay;
        r.overdue_amount += b.overdue_amount;
        r.expected_overdue_recovered += b.p_repay * b.overdue_amount;
        rows[o.before_capacity.index()].before_capacity += 1;
        // A borrower demoted from `before` to `treatment` passed through
        // every level in between: out of each level above the last, into
        // each level below the first.
        for t in Treatment::ALL {
            if t < o.before_capacity && t >= o.treatment {
                rows[t.index()].demoted_in += 1;
            }
            if t <= o.before_capacity && t > o.treatment {
                rows[t.index()].demoted_out += 1;
            }
        }
        if o.treatment != o.before_capacity {
            out.demoted_by_capacity += 1;
        }
        let ch = Channel::ALL
            .iter()
            .position(|&c| c == o.channel)
            .expect("a channel of the contract");
        let c = &mut channels[o.treatment.index()][ch];
        c.0 += 1;
        add_known(&mut c.1, o.contact_allowed);
        c.2 += u64::from(o.human_review);
        add_known(&mut out.contact_allowed, o.contact_allowed);
        out.human_review += u64::from(o.human_review);
        out.offer_plan += u64::from(o.offer_plan);
        match o.arm {
            Arm::Champion => out.champion += 1,
            Arm::Challenger => out.challenger += 1,
        }
    }
    for r in &mut rows {
        r.share = if n == 0 {
            0.0
        } else {
            r.borrowers as f64 / n as f64
        };
        r.demand = r.before_capacity + r.demoted_in;
        r.over_by = match (plan.capacity.is_some(), r.capacity) {
            (false, _) => None,
            (true, None) => Some(0),
            (true, Some(cap)) => Some(r.demand.saturating_sub(cap)),
        };
        r.expected_repay_rate = (r.borrowers > 0).then(|| r.expected_repaying / r.borrowers as f64);
    }
    out.treatments = rows;
    for t in Treatment::ALL {
        for (k, c) in Channel::ALL.iter().enumerate() {
            let (borrowers, contact_allowed, human_review) = channels[t.index()][k];
            if borrowers > 0 {
                out.channels.push(ChannelRow {
                    treatment: t.as_str().into(),
                    channel: c.as_str().into(),
                    borrowers,
                    contact_allowed,
                    human_review,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Flags;
    use crate::strategy::arms::capacity_priority;
    use crate::strategy::{decide, BorrowerState};
    use std::path::Path;

    /// Two buckets (current, 1+) x two bands (A, B); no overlays but a
    /// preventive sms. Current: A soft, B standard; 1+: A standard, B escalated.
    const OLD: &str = r#"
version = "old"
bands = ["A", "B"]
[[buckets]]
name = "current"
max_dpd = 0
[[buckets]]
name = "1+"
min_dpd = 1
[treatments.soft]
channels = ["sms"]
[treatments.standard]
channels = ["call"]
[treatments.escalated]
channels = ["visit"]
[matrix]
current = ["soft", "standard"]
"1+" = ["standard", "escalated"]
[preventive]
days_before_due = 3
channel = "sms"
"#;

    /// The same, but 1+/A is escalated and escalated has room for one borrower.
    fn new_text() -> String {
        OLD.replace("version = \"old\"", "version = \"new\"")
            .replace(
                "\"1+\" = [\"standard\", \"escalated\"]",
                "\"1+\" = [\"escalated\", \"escalated\"]",
            )
            + "[capacity]\nescalated = 1\n"
    }

    fn strategy(text: &str) -> Strategy {
        Strategy::parse(Path::new("s.toml"), text).unwrap()
    }

    /// Five borrowers: (dpd, band, p_repay, overdue_amount, days to next due).
    const PEOPLE: [(i64, usize, f64, f64, Option<i64>); 5] = [
        (0, 0, 0.9, 0.0, None),    // 0: current/A
        (0, 1, 0.6, 0.0, Some(2)), // 1: current/B, due in 2 days: preventive
        (10, 0, 0.7, 100.0, None), // 2: 1+/A
        (40, 0, 0.5, 200.0, None), // 3: 1+/A
        (95, 1, 0.2, 500.0, None), // 4: 1+/B
    ];

    fn plan(s: &Strategy) -> Plan {
        let mut decisions = Vec::new();
        let mut priority = Vec::new();
        for &(dpd, band, p, overdue, days) in &PEOPLE {
            decisions.push(decide(
                s,
                &BorrowerState {
                    dpd,
                    band,
                    days_to_next_due: days,
                    flags: Flags::default(),
                    contact: None,
                    arm: Arm::Champion,
                },
            ));
            priority.push(capacity_priority(overdue, p));
        }
        let arms = vec![Arm::Champion; PEOPLE.len()];
        Plan::from_strategy(
            s,
            Path::new("s.toml"),
            "sha",
            outcomes(s, decisions, &arms, &priority),
        )
    }

    fn borrowers() -> Vec<Borrower> {
        PEOPLE
            .iter()
            .map(|&(dpd, _, p_repay, overdue_amount, _)| Borrower {
                p_repay,
                overdue_amount,
                dpd,
            })
            .collect()
    }

    fn counts(soft: u64, standard: u64, escalated: u64) -> TreatmentCounts {
        TreatmentCounts {
            soft,
            standard,
            escalated,
        }
    }

    #[test]
    fn moves_volumes_and_expected_repayment_by_hand() {
        let (old, new) = (strategy(OLD), strategy(&new_text()));
        let b = borrowers();
        let cell: Vec<(usize, usize)> = PEOPLE
            .iter()
            .map(|&(dpd, band, ..)| (new.bucket(dpd), band))
            .collect();
        let c = compare(&b, &cell, &new, &plan(&old), &plan(&new));
        // Old: 0 soft (matrix), 1 soft (preventive overrides current/B
        // standard), 2 standard, 3 standard, 4 escalated: 2 / 2 / 1.
        // New before capacity: 0 soft, 1 soft, 2, 3, 4 escalated (3 > 1 room).
        // Priorities overdue x (1 - p): 2: 100 x 0.3 = 30, 3: 200 x 0.5 =
        // 100, 4: 500 x 0.8 = 400. Escalated keeps 4; 3 and 2 fall to
        // standard. New: soft 0, 1; standard 2, 3; escalated 4: 2 / 2 / 1,
        // the same mix, and nobody moves treatment.
        assert_eq!(c.borrowers, 5);
        assert_eq!(c.moves.matrix[0].new, counts(2, 0, 0));
        assert_eq!(c.moves.matrix[1].new, counts(0, 2, 0));
        assert_eq!(c.moves.matrix[2].new, counts(0, 0, 1));
        assert_eq!((c.moves.moved, c.moves.unchanged), (0, 5));
        let esc = &c.new.treatments[2];
        assert_eq!(
            (esc.before_capacity, esc.demand, esc.capacity, esc.over_by),
            (3, 3, Some(1), Some(2))
        );
        assert_eq!((esc.borrowers, esc.demoted_out, esc.demoted_in), (1, 2, 0));
        let std = &c.new.treatments[1];
        assert_eq!(
            (std.before_capacity, std.demand, std.demoted_in, std.over_by),
            (0, 2, 2, Some(0))
        );
        assert_eq!(c.new.demoted_by_capacity, 2);
        assert_eq!(c.baseline.demoted_by_capacity, 0);
        // Rule text of a demoted borrower says so.
        // Expected repayment under the new plan: soft p 0.9 + 0.6 = 1.5, no
        // overdue; standard 0.7 + 0.5 = 1.2, overdue 300, recovered
        // 0.7 x 100 + 0.5 x 200 = 170; escalated 0.2, 500, 100.
        let tol = 1e-12; // sums of a few doubles
        let soft = &c.new.treatments[0];
        assert!((soft.expected_repaying - 1.5).abs() < tol);
        assert!((soft.expected_repay_rate.unwrap() - 0.75).abs() < tol);
        assert!((std.expected_repaying - 1.2).abs() < tol);
        assert!((std.expected_overdue_recovered - 170.0).abs() < tol);
        assert_eq!(std.overdue_amount, 300.0);
        assert!((esc.expected_overdue_recovered - 100.0).abs() < tol);
        assert!((esc.share - 0.2).abs() < tol);
        // Channels: sms 2 (soft), call 2 (standard), visit 1 (escalated).
        let ch: Vec<(&str, &str, u64)> = c
            .new
            .channels
            .iter()
            .map(|r| (r.treatment.as_str(), r.channel.as_str(), r.borrowers))
            .collect();
        assert_eq!(
            ch,
            [
                ("soft", "sms", 2),
                ("standard", "call", 2),
                ("escalated", "visit", 1)
            ]
        );
        assert_eq!(c.new.contact_allowed, Some(5));
        // Cells (new strategy): current/A 1, current/B 1, 1+/A 2, 1+/B 1.
        let cells: Vec<(&str, &str, u64, u64)> = c
            .cells
            .iter()
            .map(|x| (x.bucket.as_str(), x.band.as_str(), x.borrowers, x.moved))
            .collect();
        assert_eq!(
            cells,
            [
                ("current", "A", 1, 0),
                ("current", "B", 1, 0),
                ("1+", "A", 2, 0),
                ("1+", "B", 1, 0)
            ]
        );
        // The baseline has no capacity: over_by 0, not unknown.
        assert_eq!(c.baseline.treatments[2].over_by, Some(0));
    }

    #[test]
    fn a_larger_capacity_moves_borrowers_up() {
        // With room for 2 escalations, borrower 3 (priority 100) stays
        // escalated: standard -> escalated for 3; borrower 2 (30) falls back
        // to standard, as in the baseline.
        let old = strategy(OLD);
        let new = strategy(&new_text().replace("escalated = 1", "escalated = 2"));
        let b = borrowers();
        let cell: Vec<(usize, usize)> = PEOPLE
            .iter()
            .map(|&(dpd, band, ..)| (new.bucket(dpd), band))
            .collect();
        let (pb, pn) = (plan(&old), plan(&new));
        let c = compare(&b, &cell, &new, &pb, &pn);
        assert_eq!(c.moves.matrix[1].new, counts(0, 1, 1));
        assert_eq!(
            (c.moves.moved, c.moves.to_firmer, c.moves.to_softer),
            (1, 1, 0)
        );
        assert_eq!(c.moves.channel_changed, 1);
        assert_eq!(c.cells[2].baseline, counts(0, 2, 0));
        assert_eq!(c.cells[2].new, counts(0, 1, 1));
        assert_eq!(c.cells[2].moved, 1);
        assert_eq!(
            pn.outcomes[2].rule,
            "matrix:1+/A;capacity:escalated->standard"
        );
        // Every count adds up to the population.
        for s in [&c.baseline, &c.new] {
            assert_eq!(s.treatments.iter().map(|r| r.borrowers).sum::<u64>(), 5);
            assert_eq!(s.channels.iter().map(|r| r.borrowers).sum::<u64>(), 5);
        }
        let moved: u64 = c.moves.matrix.iter().map(|r| r.new.total()).sum();
        assert_eq!(moved, 5);
        // The expected repayers are the same in total under both strategies.
        let total =
            |s: &StrategyOutcome| -> f64 { s.treatments.iter().map(|r| r.expected_repaying).sum() };
        assert!((total(&c.baseline) - total(&c.new)).abs() < 1e-12);
    }

    #[test]
    fn a_borrower_falling_two_levels_passes_through_standard() {
        let s = strategy(&new_text().replace("escalated = 1", "escalated = 0\nstandard = 0"));
        let p = plan(&s);
        let c = summarize(&borrowers(), &p);
        // Before capacity: 2 soft, 0 standard, 3 escalated. All 3 fall to
        // standard (demand 3, room 0), then all 3 on to soft.
        let (so, st, es) = (&c.treatments[0], &c.treatments[1], &c.treatments[2]);
        assert_eq!((es.demand, es.demoted_out, es.over_by), (3, 3, Some(3)));
        assert_eq!(
            (st.demand, st.demoted_in, st.demoted_out, st.borrowers),
            (3, 3, 3, 0)
        );
        assert_eq!((so.demand, so.demoted_in, so.borrowers), (5, 3, 5));
        assert_eq!(c.demoted_by_capacity, 3);
        assert!(p.outcomes[4]
            .rule
            .ends_with(";capacity:escalated->standard;capacity:standard->soft"));
    }

    #[test]
    fn unknown_contact_and_capacity_stay_unknown() {
        let s = strategy(OLD);
        let mut p = plan(&s);
        p.capacity = None;
        p.outcomes[3].contact_allowed = None;
        let c = summarize(&borrowers(), &p);
        assert!(!c.capacity_known);
        assert!(c
            .treatments
            .iter()
            .all(|r| r.over_by.is_none() && r.capacity.is_none()));
        assert_eq!(c.contact_allowed, None);
        let call = c.channels.iter().find(|r| r.channel == "call").unwrap();
        assert_eq!((call.borrowers, call.contact_allowed), (2, None));
        let sms = c.channels.iter().find(|r| r.channel == "sms").unwrap();
        assert_eq!(sms.contact_allowed, Some(2));
    }

    #[test]
    fn an_empty_population_gives_zeros() {
        let s = strategy(OLD);
        let p = Plan::from_strategy(&s, Path::new("s.toml"), "sha", Vec::new());
        let c = compare(&[], &[], &s, &p, &p);
        assert_eq!(c.borrowers, 0);
        assert!(c
            .new
            .treatments
            .iter()
            .all(|r| r.share == 0.0 && r.expected_repay_rate.is_none()));
        assert_eq!(c.cells.len(), 4);
    }

    #[test]
    fn the_comparison_round_trips_through_json() {
        let (old, new) = (strategy(OLD), strategy(&new_text()));
        let cell: Vec<(usize, usize)> = PEOPLE
            .iter()
            .map(|&(dpd, band, ..)| (new.bucket(dpd), band))
            .collect();
        let c = compare(&borrowers(), &cell, &new, &plan(&old), &plan(&new));
        let text = serde_json::to_string(&c).unwrap();
        let back: Comparison = serde_json::from_str(&text).unwrap();
        assert_eq!(back, c);
    }
}
