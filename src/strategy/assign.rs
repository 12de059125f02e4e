//! Assigning one borrower's treatment: the matrix, then the overlays.
//!
//! Order (each step that changes something names itself in the rule):
//! 1. `matrix:BUCKET/BAND` (or `challenger:matrix:...` in the challenger
//!    arm): the treatment of the borrower's bucket and band;
//! 2. `preventive`: at dpd 0 with an installment due within N days, a soft
//!    reminder on the preventive channel;
//! 3. `dispute`: collection paused, `contact_allowed = false` (the treatment
//!    is kept for the record);
//! 4. `hardship`: at most soft, and `offer_plan = true`;
//! 5. `do_not_contact`: only a letter;
//! 6. `contact_limit`: a call when the borrower's calls are used up (see
//!    [`super::contact`]) is not allowed today; `next_contact_date` says when;
//! 7. `human_review`: the channel needs a person to confirm.
//!
//! Capacity is applied over all decisions afterwards
//! ([`super::arms::apply_capacity`]).

use super::arms::Arm;
use super::contact::ContactStatus;
use super::{Strategy, Treatment};
use crate::contract::{Channel, Flags};
use crate::dates::Day;

/// What the strategy needs to know about one borrower.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BorrowerState {
    /// Days past due.
    pub dpd: i64,
    /// Index of the borrower's risk band in the strategy's bands.
    pub band: usize,
    /// Days until the next installment falls due, if any.
    pub days_to_next_due: Option<i64>,
    /// Flags from the borrowers table.
    pub flags: Flags,
    /// Call allowance on the action day, when the strategy has contact limits.
    pub contact: Option<ContactStatus>,
    /// The borrower's arm (see [`super::arms::arm`]).
    pub arm: Arm,
}

/// The decision for one borrower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Treatment.
    pub treatment: Treatment,
    /// Channel.
    pub channel: Channel,
    /// Whether the borrower may be contacted at all.
    pub contact_allowed: bool,
    /// Whether to offer a flexible repayment plan.
    pub offer_plan: bool,
    /// Whether a person must confirm before action.
    pub human_review: bool,
    /// Calls still allowed on the action day (with contact limits).
    pub calls_left_today: Option<u32>,
    /// The first day the assigned contact may happen (with contact limits).
    pub next_contact_date: Option<Day>,
    /// The rules that made the decision, in order, separated by `;`.
    pub rule: String,
}

/// Applies the strategy to one borrower.
pub fn decide(s: &Strategy, b: &BorrowerState) -> Decision {
    let bucket = s.bucket(b.dpd);
    let band = b.band.min(s.bands.len() - 1);
    let (matrix, arm) = match (&s.challenger, b.arm) {
        (Some(c), Arm::Challenger) => (&c.matrix, "challenger:"),
        _ => (&s.matrix, ""),
    };
    let treatment = matrix[bucket][band];
    let mut d = Decision {
        treatment,
        channel: s.channels[treatment.index()][0],
        contact_allowed: true,
        offer_plan: false,
        human_review: false,
        calls_left_today: b.contact.map(|c| c.calls_left_today),
        next_contact_date: None,
        rule: {
            // Built by hand, with room for the overlays (this runs once per
            // borrower; `format!` cost more than the rest of the decision).
            let (bucket, band) = (&s.buckets[bucket].name, &s.bands[band]);
            let mut r = String::with_capacity(arm.len() + bucket.len() + band.len() + 40);
            r.push_str(arm);
            r.push_str("matrix:");
            r.push_str(bucket);
            r.push('/');
            r.push_str(band);
            r
        },
    };
    if let (Some(p), Some(days)) = (s.preventive, b.days_to_next_due) {
        if b.dpd == 0 && (0..=i64::from(p.days_before_due)).contains(&days) {
            d.treatment = Treatment::Soft;
            d.channel = p.channel;
            d.rule.push_str(";preventive");
        }
    }
    if b.flags.dispute {
        d.contact_allowed = false;
        d.rule.push_str(";dispute");
    }
    if b.flags.hardship {
        if d.treatment > Treatment::Soft {
            d.treatment = Treatment::Soft;
            d.channel = s.channels[Treatment::Soft.index()][0];
        }
        d.offer_plan = true;
        d.rule.push_str(";hardship");
    }
    if b.flags.do_not_contact {
        d.channel = Channel::Letter;
        d.rule.push_str(";do_not_contact");
    }
    if let Some(c) = b.contact {
        d.next_contact_date = Some(if d.channel == Channel::Call {
            c.next_call_date
        } else {
            c.action_day
        });
        if d.channel == Channel::Call && c.calls_left_today == 0 {
            d.contact_allowed = false;
            d.rule.push_str(";contact_limit");
        }
    }
    if s.human_review.contains(&d.channel) {
        d.human_review = true;
        d.rule.push_str(";human_review");
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn strategy() -> Strategy {
        Strategy::parse(
            Path::new("default.toml"),
            include_str!("../../strategies/default.toml"),
        )
        .unwrap()
    }

    fn state(dpd: i64, band: usize) -> BorrowerState {
        BorrowerState {
            dpd,
            band,
            days_to_next_due: None,
            flags: Flags::default(),
            contact: None,
            arm: Arm::Champion,
        }
    }

    #[test]
    fn matrix_follows_tiered_collection() {
        let s = strategy();
        let d = decide(&s, &state(10, 0));
        assert_eq!(
            (d.treatment, d.channel, d.rule.as_str()),
            (Treatment::Soft, Channel::Sms, "matrix:1-29/A")
        );
        let d = decide(&s, &state(45, 3));
        assert_eq!(
            (d.treatment, d.channel),
            (Treatment::Escalated, Channel::Visit)
        );
        let d = decide(&s, &state(200, 0));
        assert_eq!(d.treatment, Treatment::Escalated);
        assert!(d.contact_allowed && !d.offer_plan && !d.human_review);
    }

    #[test]
    fn preventive_reminder_before_the_due_date() {
        let s = strategy();
        let mut b = state(0, 4); // current, worst band: matrix says standard
        b.days_to_next_due = Some(2);
        let d = decide(&s, &b);
        assert_eq!(
            (d.treatment, d.channel, d.rule.as_str()),
            (Treatment::Soft, Channel::Sms, "matrix:current/E;preventive")
        );
        b.days_to_next_due = Some(4);
        assert_eq!(decide(&s, &b).treatment, Treatment::Standard);
        // Overdue borrowers get no preventive reminder.
        let mut o = state(5, 4);
        o.days_to_next_due = Some(1);
        assert!(!decide(&s, &o).rule.contains("preventive"));
    }

    #[test]
    fn dispute_pauses_collection_but_keeps_the_treatment() {
        let s = strategy();
        let mut b = state(100, 2);
        b.flags.dispute = true;
        let d = decide(&s, &b);
        assert_eq!(d.treatment, Treatment::Escalated);
        assert!(!d.contact_allowed);
        assert!(d.rule.contains(";dispute"));
    }

    #[test]
    fn hardship_caps_at_soft_and_offers_a_plan() {
        let s = strategy();
        let mut b = state(100, 2);
        b.flags.hardship = true;
        let d = decide(&s, &b);
        assert_eq!((d.treatment, d.channel), (Treatment::Soft, Channel::Sms));
        assert!(d.offer_plan && d.rule.ends_with(";hardship"));
    }

    #[test]
    fn do_not_contact_means_only_a_letter_under_human_review() {
        let s = strategy();
        let mut b = state(10, 0);
        b.flags.do_not_contact = true;
        let d = decide(&s, &b);
        assert_eq!(d.channel, Channel::Letter);
        assert!(d.human_review);
        assert_eq!(d.rule, "matrix:1-29/A;do_not_contact;human_review");
    }

    #[test]
    fn calls_used_up_pause_a_call_until_the_next_allowed_day() {
        let s = strategy();
        let mut b = state(45, 0); // 30-59, band A: a call
        b.contact = Some(ContactStatus {
            calls_left_today: 0,
            next_call_date: 20_100,
            action_day: 20_090,
        });
        let d = decide(&s, &b);
        assert_eq!(d.channel, Channel::Call);
        assert!(!d.contact_allowed);
        assert_eq!(
            (d.calls_left_today, d.next_contact_date),
            (Some(0), Some(20_100))
        );
        assert!(d.rule.ends_with(";contact_limit"));
        // An sms is not bound by call limits.
        let mut b = state(10, 0);
        b.contact = Some(ContactStatus {
            calls_left_today: 0,
            next_call_date: 20_100,
            action_day: 20_090,
        });
        let d = decide(&s, &b);
        assert!(d.contact_allowed);
        assert_eq!(d.next_contact_date, Some(20_090));
    }

    #[test]
    fn overlays_apply_in_the_documented_order() {
        let s = strategy();
        let mut b = state(120, 4);
        b.flags = Flags {
            hardship: true,
            dispute: true,
            do_not_contact: true,
        };
        let d = decide(&s, &b);
        assert_eq!(
            d.rule,
            "matrix:90+/E;dispute;hardship;do_not_contact;human_review"
        );
        assert_eq!((d.treatment, d.channel), (Treatment::Soft, Channel::Letter));
        assert!(!d.contact_allowed && d.offer_plan && d.human_review);
    }
}
