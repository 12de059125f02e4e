//! Champion/challenger arms and daily capacity.
//!
//! A borrower's arm comes from a salted hash of its id: the same id and salt
//! give the same arm every night, and a share `s` of ids lands in the
//! challenger arm. Capacity caps how many borrowers a treatment may take in a
//! day; the excess with the lowest priority falls back one level.

use super::assign::Decision;
use super::{Strategy, Treatment};
use crate::hash::fnv1a64;

/// Which strategy matrix a borrower gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Arm {
    /// The running strategy.
    Champion,
    /// The trial strategy.
    Challenger,
}

impl Arm {
    /// The spelling in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Champion => "champion",
            Self::Challenger => "challenger",
        }
    }
}

/// FNV-1a 64 of `salt`, a separator, and `id`, mixed by SplitMix64's finalizer.
fn hash(salt: &str, id: &str) -> u64 {
    let mut z = fnv1a64(salt.bytes().chain([0u8]).chain(id.bytes()));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The arm of the borrower with id text `id`.
pub fn arm(strategy: &Strategy, id: &str) -> Arm {
    match &strategy.challenger {
        Some(c) if ((hash(&c.salt, id) >> 11) as f64 / (1u64 << 53) as f64) < c.share => {
            Arm::Challenger
        }
        _ => Arm::Champion,
    }
}

/// A borrower's capacity priority: overdue_amount x (1 - p_repay), the
/// expected overdue amount not repaid without action. Under capacity, the
/// borrowers with the lowest priority fall back first.
pub fn capacity_priority(overdue_amount: f64, p_repay: f64) -> f64 {
    overdue_amount * (1.0 - p_repay)
}

/// Demotes, per treatment from the firmest down, the lowest-priority
/// borrowers beyond the treatment's daily capacity by one level, in place.
/// `priority[i]` belongs to `treatments[i]` (default: overdue_amount x
/// (1 - p_repay)); ties go to the later borrower, so the result does not
/// depend on thread count or partitioning. Returns each demotion (index,
/// from, to) in the order made; a borrower may fall twice (escalated to
/// standard, then standard to soft).
pub fn capacity_demotions(
    strategy: &Strategy,
    treatments: &mut [Treatment],
    priority: &[f64],
) -> Vec<(usize, Treatment, Treatment)> {
    let mut out = Vec::new();
    for level in [Treatment::Escalated, Treatment::Standard] {
        let Some(cap) = strategy.capacity[level.index()] else {
            continue;
        };
        let mut members: Vec<usize> = (0..treatments.len())
            .filter(|&i| treatments[i] == level)
            .collect();
        if members.len() as u64 <= cap {
            continue;
        }
        // Highest priority first; the tail beyond the capacity falls back.
        members.sort_by(|&a, &b| priority[b].total_cmp(&priority[a]).then(a.cmp(&b)));
        let lower = Treatment::ALL[level.index() - 1];
        for &i in &members[cap as usize..] {
            treatments[i] = lower;
            out.push((i, level, lower));
        }
    }
    out
}

/// [`capacity_demotions`] applied to whole decisions: a demoted decision
/// takes the lower treatment's first channel and says so in its rule.
pub fn apply_capacity(strategy: &Strategy, decisions: &mut [Decision], priority: &[f64]) {
    let mut treatments: Vec<Treatment> = decisions.iter().map(|d| d.treatment).collect();
    for (i, from, to) in capacity_demotions(strategy, &mut treatments, priority) {
        let d = &mut decisions[i];
        d.treatment = to;
        d.channel = strategy.channels[to.index()][0];
        d.rule
            .push_str(&format!(";capacity:{}->{}", from.as_str(), to.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Channel;
    use std::path::Path;

    const DEFAULT: &str = include_str!("../../strategies/default.toml");

    fn with(extra: &str) -> Strategy {
        Strategy::parse(Path::new("s.toml"), &format!("{DEFAULT}\n{extra}")).unwrap()
    }

    const CHALLENGER: &str = r#"
[challenger]
share = 0.1
salt = "trial-2026-11"
[challenger.matrix]
current = ["soft", "soft", "soft", "soft", "soft"]
"1-29" = ["soft", "soft", "soft", "soft", "standard"]
"30-59" = ["standard", "standard", "standard", "standard", "escalated"]
"60-89" = ["standard", "standard", "standard", "escalated", "escalated"]
"90+" = ["escalated", "escalated", "escalated", "escalated", "escalated"]
"#;

    #[test]
    fn challenger_share_is_met_and_stable() {
        let s = with(CHALLENGER);
        let ids: Vec<String> = (0..100_000).map(|i| format!("B{i:07}")).collect();
        let n = ids
            .iter()
            .filter(|id| arm(&s, id) == Arm::Challenger)
            .count();
        let share = n as f64 / ids.len() as f64;
        assert!((share - 0.1).abs() < 0.01, "challenger share {share}");
        // Stable: the same ids give the same arms on another night (another parse).
        let again = with(CHALLENGER);
        assert!(ids
            .iter()
            .take(5000)
            .all(|id| arm(&s, id) == arm(&again, id)));
        // Without a challenger, everyone is champion.
        assert_eq!(arm(&with(""), "B1"), Arm::Champion);
    }

    #[test]
    fn the_challenger_arm_uses_the_challenger_matrix() {
        use crate::contract::Flags;
        use crate::strategy::{decide, BorrowerState};
        let s = with(CHALLENGER);
        let mut b = BorrowerState {
            dpd: 0,
            band: 4,
            days_to_next_due: None,
            flags: Flags::default(),
            contact: None,
            arm: Arm::Champion,
        };
        assert_eq!(decide(&s, &b).treatment, Treatment::Standard);
        b.arm = Arm::Challenger;
        let d = decide(&s, &b);
        assert_eq!(
            (d.treatment, d.rule.as_str()),
            (Treatment::Soft, "challenger:matrix:current/E")
        );
    }

    #[test]
    fn rejects_a_share_outside_zero_one() {
        let text = format!(
            "{DEFAULT}\n{}",
            CHALLENGER.replace("share = 0.1", "share = 1.5")
        );
        let e = Strategy::parse(Path::new("s.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("challenger.share") && e.contains("[0, 1]"),
            "{e}"
        );
    }

    fn decision(t: Treatment) -> Decision {
        Decision {
            treatment: t,
            channel: Channel::Visit,
            contact_allowed: true,
            offer_plan: false,
            human_review: false,
            calls_left_today: None,
            next_contact_date: None,
            rule: "matrix".into(),
        }
    }

    #[test]
    fn capacity_demotes_the_lowest_priority_one_level() {
        let s = with("[capacity]\nescalated = 2\nstandard = 2\n");
        let mut d: Vec<Decision> = (0..4).map(|_| decision(Treatment::Escalated)).collect();
        d.push(decision(Treatment::Standard));
        let priority = [5.0, 1.0, 9.0, 3.0, 7.0];
        apply_capacity(&s, &mut d, &priority);
        let t: Vec<Treatment> = d.iter().map(|x| x.treatment).collect();
        // Escalated keeps 0 and 2 (priorities 5, 9); 1 and 3 fall to standard.
        // Standard then holds 1, 3 and 4 (priorities 1, 3, 7): 1 falls to soft.
        use Treatment::*;
        assert_eq!(t, [Escalated, Soft, Escalated, Standard, Standard]);
        assert_eq!(
            d[1].rule,
            "matrix;capacity:escalated->standard;capacity:standard->soft"
        );
        assert_eq!(d[3].channel, Channel::Call);
    }
}
