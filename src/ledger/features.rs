//! The feature catalogue and the point-in-time feature kernels.
//!
//! Every feature is read from a borrower's [`Waterfall`] replayed to the end of
//! the as-of day T, from the payments and contacts dated on or before T, and
//! from the contractual schedule of loans that had started by T. The catalogue
//! ([`LEDGER_FEATURES`], [`CONTACT_FEATURES`]) is the single source of the
//! names, definitions and no-history values that `docs/features.md` documents.
//! No feature is ever NaN or infinite: every ratio has a documented fallback.

use super::waterfall::{Waterfall, ALWAYS_COVERED};
use crate::contract::{Contact, Payment};
use crate::dates::Day;

/// One feature: its column name, exact definition and value without history.
#[derive(Debug, Clone, Copy)]
pub struct FeatureDef {
    /// Column name in the feature table.
    pub name: &'static str,
    /// Exact definition.
    pub definition: &'static str,
    /// Value when the borrower has no relevant history.
    pub no_history: &'static str,
}

const fn f(name: &'static str, definition: &'static str, no_history: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        definition,
        no_history,
    }
}

/// Look-back windows of the lateness counts, in days (3, 6 and 12 months), by due date.
pub const WINDOWS: [(&str, Day); 4] = [("3m", 90), ("6m", 180), ("12m", 365), ("all", Day::MAX)];
/// Lateness thresholds of the lateness counts: (suffix, minimum days late).
pub const THRESHOLDS: [(&str, i32); 3] = [("gt0", 1), ("ge30", 30), ("ge60", 60)];

/// Features from the schedule and payments, in column order.
pub const LEDGER_FEATURES: &[FeatureDef] = &[
    f("dpd", "Days past due: T minus the due date of the oldest uncovered installment due before T; 0 when none.", "0"),
    f("overdue_amount", "Sum of the unpaid remainders of uncovered installments due before T.", "0"),
    f("future_dues", "Sum of the unpaid remainders of installments due on or after T (the outstanding contractual dues, net of prepayments).", "0"),
    f("installments_due", "Number of installments due on or before T.", "0"),
    f("late_gt0_3m", "Installments due in (T-90, T] that were or are late by at least 1 day (see days late).", "0"),
    f("late_gt0_6m", "As late_gt0_3m over (T-180, T].", "0"),
    f("late_gt0_12m", "As late_gt0_3m over (T-365, T].", "0"),
    f("late_gt0_all", "As late_gt0_3m over all installments due on or before T.", "0"),
    f("late_ge30_3m", "Installments due in (T-90, T] late by 30 days or more.", "0"),
    f("late_ge30_6m", "As late_ge30_3m over (T-180, T].", "0"),
    f("late_ge30_12m", "As late_ge30_3m over (T-365, T].", "0"),
    f("late_ge30_all", "As late_ge30_3m over all installments due on or before T.", "0"),
    f("late_ge60_3m", "Installments due in (T-90, T] late by 60 days or more.", "0"),
    f("late_ge60_6m", "As late_ge60_3m over (T-180, T].", "0"),
    f("late_ge60_12m", "As late_ge60_3m over (T-365, T].", "0"),
    f("late_ge60_all", "As late_ge60_3m over all installments due on or before T.", "0"),
    f("max_days_late", "Largest days late over installments due on or before T.", "0"),
    f("mean_days_late", "Mean days late over installments due on or before T.", "0"),
    f("share_paid", "Amount paid towards installments due on or before T divided by their total amount due.", "1 (nothing due yet)"),
    f("payments_count", "Number of payments (amount > 0) dated on or before T.", "0"),
    f("days_since_last_payment", "T minus the date of the last payment (amount > 0) on or before T.", "T minus the start of the borrower's first loan (days on book), at least 0"),
    f("last_payment_ratio", "Amount of the last payment (amount > 0) divided by the regular installment.", "0"),
    f("paid_30d_ratio", "Net amount paid (payments minus reversals) dated in (T-30, T], divided by the regular installment.", "0"),
    f("regular_installment", "Sum over started loans of each loan's median installment amount.", "0"),
    f("overdue_ratio", "overdue_amount divided by the regular installment.", "0"),
    f("on_time_streak", "Consecutive most recent installments due on or before T that were covered by their due date (an uncovered installment due on T itself neither counts nor breaks the streak).", "0"),
    f("partial_payments", "Payments (amount > 0) on or before T smaller than the regular installment (of their loan, for tagged payments) by more than the tolerance.", "0"),
    f("reversals", "Reversals (amount < 0) dated on or before T.", "0"),
    f("n_loans", "Loans that had started by T.", "0"),
    f("months_since_first_due", "(T minus the earliest due date of the started loans) / 30.4375, at least 0.", "0"),
];

/// Features from the contacts table (present only when one is given), in column order.
pub const CONTACT_FEATURES: &[FeatureDef] = &[
    f("contacts_7d", "Contacts (any channel and outcome) on days in (T-7, T].", "0"),
    f("contacts_30d", "Contacts on days in (T-30, T].", "0"),
    f("right_party_rate", "Right-party contacts (right_party, promise_to_pay, refused, paid) divided by all contacts on or before T.", "0"),
    f("promises_made", "promise_to_pay contacts on or before T.", "0"),
    f("promises_broken", "Promises whose promise date (contact day + 7 when missing) is before T and for which the net payments from the contact day to the promise date fell short of the promised amount (of any amount above the tolerance when none was given) by more than the tolerance.", "0"),
];

/// Days from an installment's due date to the day it was covered; for an
/// installment still uncovered at T, days from its due date to T. Never negative.
fn days_late(w: &Waterfall, i: usize, t: Day) -> i32 {
    let due = w.installments[i].due;
    match w.covered_on[i] {
        Some(ALWAYS_COVERED) => 0,
        Some(c) if w.is_covered(i) => (c - due).max(0),
        _ => (t - due).max(0),
    }
}

fn ratio(num: f64, den: f64, tolerance: f64) -> f64 {
    if den > tolerance {
        num / den
    } else {
        0.0
    }
}

/// Appends the [`LEDGER_FEATURES`] at the end of day `t` to `out`. The
/// waterfall must have been advanced to `t`.
pub fn ledger_features(w: &Waterfall, t: Day, tolerance: f64, out: &mut Vec<f64>) {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let (due_idx, late) = &mut *s;
        ledger_features_in(w, t, tolerance, out, due_idx, late);
    });
}

thread_local! {
    /// [`ledger_features`]'s two index vectors, reused from one borrower to
    /// the next on a thread (no allocation per borrower).
    static SCRATCH: std::cell::RefCell<(Vec<usize>, Vec<i32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

fn ledger_features_in(
    w: &Waterfall,
    t: Day,
    tolerance: f64,
    out: &mut Vec<f64>,
    due_idx: &mut Vec<usize>,
    late: &mut Vec<i32>,
) {
    let start = out.len();
    // One pass over the started loans' installments, in their order (so
    // each sum adds the same terms in the same order as
    // `Waterfall::overdue` and the others would): what is due by T, the
    // future and overdue remainders, days past due and the first due date.
    due_idx.clear();
    // Sums start at -0.0, as `Iterator::sum` of floats does (an empty sum
    // is -0.0), so that the features are the same bits as before.
    let (mut future, mut overdue, mut dpd, mut first_due) = (-0.0, -0.0, 0, None::<Day>);
    for i in w.active_installments() {
        let due = w.installments[i].due;
        let covered = w.is_covered(i);
        if due <= t {
            due_idx.push(i);
        }
        if due >= t {
            future += w.remaining[i];
        }
        if due < t && !covered {
            overdue += w.remaining[i];
        }
        if !covered {
            dpd = dpd.max(t - due);
        }
        first_due = Some(first_due.map_or(due, |f| f.min(due)));
    }
    debug_assert_eq!(overdue.to_bits(), w.overdue(t).to_bits());
    debug_assert_eq!(dpd.max(0), w.dpd(t));
    due_idx.sort_by_key(|&i| (w.installments[i].due, w.installments[i].loan));
    late.clear();
    late.extend(due_idx.iter().map(|&i| days_late(w, i, t)));
    let (due_idx, late) = (&due_idx[..], &late[..]);

    out.push(f64::from(dpd.max(0)));
    out.push(overdue);
    out.push(future);
    out.push(due_idx.len() as f64);
    // The lateness counts, threshold by window, in one pass.
    let mut counts = [[0u32; WINDOWS.len()]; THRESHOLDS.len()];
    for (&i, &l) in due_idx.iter().zip(late) {
        let due = w.installments[i].due;
        for (row, (_, min_late)) in counts.iter_mut().zip(THRESHOLDS) {
            if l < min_late {
                continue;
            }
            for (n, (_, window)) in row.iter_mut().zip(WINDOWS) {
                if window == Day::MAX || due > t - window {
                    *n += 1;
                }
            }
        }
    }
    out.extend(counts.iter().flatten().map(|&n| f64::from(n)));
    out.push(f64::from(late.iter().copied().max().unwrap_or(0)));
    out.push(if late.is_empty() {
        0.0
    } else {
        late.iter().map(|&l| f64::from(l)).sum::<f64>() / late.len() as f64
    });
    let due_total: f64 = due_idx.iter().map(|&i| w.installments[i].amount).sum();
    let paid_total: f64 = due_idx
        .iter()
        .map(|&i| w.installments[i].amount - w.remaining[i])
        .sum();
    out.push(if due_total > tolerance {
        (paid_total / due_total).clamp(0.0, 1.0)
    } else {
        1.0
    });

    let payments = w.applied_payments();
    let regular: f64 = w.loans.iter().filter(|l| l.active).map(|l| l.regular).sum();
    let first_start = w.loans.iter().filter(|l| l.active).map(|l| l.start).min();
    let loan_regular = |p: &Payment| {
        p.loan
            .and_then(|key| {
                w.loans
                    .iter()
                    .find(|l| w.installments[l.range.start].loan == key)
            })
            .map_or(regular, |l| l.regular)
    };
    // One pass over the payments applied: counts, the last 30 days' net
    // amount (added in payment order) and the partial payments.
    let (mut paid_count, mut reversals, mut partial, mut paid_30d) = (0usize, 0usize, 0usize, -0.0);
    let mut last = None;
    for p in payments {
        if p.amount > 0.0 {
            paid_count += 1;
            last = Some(p);
            if p.amount < loan_regular(p) - tolerance {
                partial += 1;
            }
        } else if p.amount < 0.0 {
            reversals += 1;
        }
        if p.date > t - 30 {
            paid_30d += p.amount;
        }
    }
    out.push(paid_count as f64);
    out.push(match (last, first_start) {
        (Some(p), _) => f64::from(t - p.date),
        (None, Some(s)) => f64::from((t - s).max(0)),
        (None, None) => 0.0,
    });
    out.push(last.map_or(0.0, |p| ratio(p.amount, regular, tolerance)));
    out.push(ratio(paid_30d, regular, tolerance));
    out.push(regular);
    out.push(ratio(overdue, regular, tolerance));

    let mut streak = 0usize;
    for (k, &i) in due_idx.iter().enumerate().rev() {
        if !w.is_covered(i) && w.installments[i].due == t {
            continue;
        }
        if w.is_covered(i) && late[k] == 0 {
            streak += 1;
        } else {
            break;
        }
    }
    out.push(streak as f64);
    out.push(partial as f64);
    out.push(reversals as f64);
    out.push(w.loans.iter().filter(|l| l.active).count() as f64);
    out.push(first_due.map_or(0.0, |d| (f64::from(t - d) / 30.4375).max(0.0)));
    debug_assert_eq!(out.len() - start, LEDGER_FEATURES.len());
}

/// Appends the [`CONTACT_FEATURES`] at the end of day `t` to `out`.
/// `contacts` and `payments` are the borrower's, sorted by time.
pub fn contact_features(
    contacts: &[Contact],
    payments: &[Payment],
    t: Day,
    tolerance: f64,
    out: &mut Vec<f64>,
) {
    let known = &contacts[..contacts.partition_point(|c| c.day <= t)];
    let is_promise = |c: &&Contact| c.outcome == crate::contract::Outcome::PromiseToPay;
    // The counts in one pass.
    let (mut last_7, mut last_30, mut rpc, mut promises) = (0usize, 0usize, 0usize, 0usize);
    for c in known {
        last_7 += usize::from(c.day > t - 7);
        last_30 += usize::from(c.day > t - 30);
        rpc += usize::from(c.outcome.is_right_party());
        promises += usize::from(is_promise(&c));
    }
    out.push(last_7 as f64);
    out.push(last_30 as f64);
    out.push(ratio(rpc as f64, known.len() as f64, 0.0));
    out.push(promises as f64);
    let broken = known
        .iter()
        .filter(is_promise)
        .filter(|c| {
            let deadline = c.promise_date().unwrap_or(c.day + 7);
            if deadline >= t {
                return false; // not yet due: neither kept nor broken at T
            }
            let paid: f64 = payments
                .iter()
                .filter(|p| p.date >= c.day && p.date <= deadline)
                .map(|p| p.amount)
                .sum();
            match c.promise_amount() {
                Some(a) => paid < a - tolerance,
                None => paid <= tolerance,
            }
        })
        .count();
    out.push(broken as f64);
    debug_assert_eq!(CONTACT_FEATURES.len(), 5);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Channel, Installment, Outcome};
    use crate::dates::ymd;

    fn inst(due: Day, amount: f64) -> Installment {
        Installment {
            borrower: 0,
            loan: 1,
            due,
            amount,
        }
    }
    fn pay(date: Day, amount: f64) -> Payment {
        Payment {
            borrower: 0,
            loan: None,
            date,
            amount,
        }
    }
    fn value(name: &str, v: &[f64]) -> f64 {
        v[LEDGER_FEATURES.iter().position(|f| f.name == name).unwrap()]
    }

    #[test]
    fn catalogue_names_are_unique() {
        let mut names: Vec<_> = LEDGER_FEATURES
            .iter()
            .chain(CONTACT_FEATURES)
            .map(|f| f.name)
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        let expected = THRESHOLDS.len() * WINDOWS.len();
        assert_eq!(
            LEDGER_FEATURES
                .iter()
                .filter(|f| f.name.starts_with("late_"))
                .count(),
            expected
        );
    }

    #[test]
    fn hand_worked_history() {
        // Monthly 100 due Jan 1 .. May 1 2025. Jan paid on time, Feb paid 35 days
        // late (Mar 8), Mar paid in part (40 on Mar 8 is the rest of the Mar 8
        // payment), nothing after. As of Apr 15.
        let s: Vec<_> = (1..=5).map(|m| inst(ymd(2025, m, 1), 100.0)).collect();
        let p = vec![pay(ymd(2025, 1, 1), 100.0), pay(ymd(2025, 3, 8), 140.0)];
        let t = ymd(2025, 4, 15);
        let mut w = Waterfall::new(&s, &p, 0.01);
        w.advance(t);
        let mut v = Vec::new();
        ledger_features(&w, t, 0.01, &mut v);
        assert_eq!(v.len(), LEDGER_FEATURES.len());
        // Oldest uncovered: Mar 1 (60 left) -> 45 days; Apr 1 also open.
        assert_eq!(value("dpd", &v), 45.0);
        assert!((value("overdue_amount", &v) - 160.0).abs() < 1e-9);
        assert_eq!(value("future_dues", &v), 100.0);
        assert_eq!(value("installments_due", &v), 4.0);
        // Days late: Jan 0, Feb 35, Mar 45 (open), Apr 14 (open).
        assert_eq!(value("late_gt0_all", &v), 3.0);
        assert_eq!(value("late_ge30_all", &v), 2.0);
        assert_eq!(value("late_ge60_all", &v), 0.0);
        assert_eq!(value("late_gt0_3m", &v), 3.0); // Feb 1 .. Apr 1 are within 90 days
        assert_eq!(value("max_days_late", &v), 45.0);
        assert!((value("mean_days_late", &v) - (0.0 + 35.0 + 45.0 + 14.0) / 4.0).abs() < 1e-9);
        assert!((value("share_paid", &v) - 240.0 / 400.0).abs() < 1e-9);
        assert_eq!(value("payments_count", &v), 2.0);
        assert_eq!(value("days_since_last_payment", &v), 38.0);
        assert!((value("last_payment_ratio", &v) - 1.4).abs() < 1e-9);
        assert_eq!(value("paid_30d_ratio", &v), 0.0);
        assert_eq!(value("regular_installment", &v), 100.0);
        assert!((value("overdue_ratio", &v) - 1.6).abs() < 1e-9);
        assert_eq!(value("on_time_streak", &v), 0.0);
        assert_eq!(value("partial_payments", &v), 0.0);
        assert_eq!(value("reversals", &v), 0.0);
        assert_eq!(value("n_loans", &v), 1.0);
        assert!((value("months_since_first_due", &v) - 104.0 / 30.4375).abs() < 1e-9);
        assert!(v.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn windows_are_half_open_by_due_date() {
        // Late installments due exactly T-90 (outside 3m) and T-89 (inside).
        let t = ymd(2025, 6, 30);
        let s = vec![inst(t - 90, 100.0), inst(t - 89, 100.0)];
        let p = vec![pay(t - 20, 200.0)];
        let mut w = Waterfall::new(&s, &p, 0.01);
        w.advance(t);
        let mut v = Vec::new();
        ledger_features(&w, t, 0.01, &mut v);
        assert_eq!(value("late_gt0_3m", &v), 1.0);
        assert_eq!(value("late_gt0_6m", &v), 2.0);
        // Days late 70 and 69: both at least 60.
        assert_eq!(value("late_ge60_3m", &v), 1.0);
        assert_eq!(value("late_ge60_all", &v), 2.0);
        assert_eq!(value("max_days_late", &v), 70.0);
    }

    #[test]
    fn no_history_values() {
        // A loan whose first installment is due after T but which has started.
        let s = vec![inst(ymd(2025, 5, 1), 100.0), inst(ymd(2025, 6, 1), 100.0)];
        let t = ymd(2025, 4, 15);
        let mut w = Waterfall::new(&s, &[], 0.01);
        w.advance(t);
        let mut v = Vec::new();
        ledger_features(&w, t, 0.01, &mut v);
        assert_eq!(value("share_paid", &v), 1.0);
        assert_eq!(value("dpd", &v), 0.0);
        assert_eq!(value("future_dues", &v), 200.0);
        // Started Mar 31 (May 1 minus the 31-day interval to Jun 1): 15 days on book.
        assert_eq!(value("days_since_last_payment", &v), 15.0);
        assert_eq!(value("months_since_first_due", &v), 0.0);
        assert!(v.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn streak_skips_an_installment_due_today() {
        let s: Vec<_> = (1..=3).map(|m| inst(ymd(2025, m, 1), 100.0)).collect();
        let p = vec![pay(ymd(2025, 1, 1), 100.0), pay(ymd(2025, 1, 30), 100.0)];
        let t = ymd(2025, 3, 1);
        let mut w = Waterfall::new(&s, &p, 0.01);
        w.advance(t);
        let mut v = Vec::new();
        ledger_features(&w, t, 0.01, &mut v);
        assert_eq!(value("on_time_streak", &v), 2.0);
        assert_eq!(value("dpd", &v), 0.0);
    }

    #[test]
    fn promises_kept_and_broken() {
        let c = |day: Day, outcome, amount, date| {
            Contact::new(
                0,
                i64::from(day) * 86_400_000_000 + 10 * 3_600_000_000,
                day,
                Channel::Call,
                outcome,
                amount,
                date,
            )
        };
        let d = |m, x| ymd(2025, m, x);
        let contacts = vec![
            c(d(3, 1), Outcome::PromiseToPay, Some(100.0), Some(d(3, 5))), // kept
            c(d(3, 10), Outcome::PromiseToPay, Some(100.0), Some(d(3, 12))), // broken (paid 50)
            c(d(3, 20), Outcome::NoAnswer, None, None),
            c(d(3, 28), Outcome::PromiseToPay, None, Some(d(4, 5))), // pending at T
        ];
        let payments = vec![pay(d(3, 4), 100.0), pay(d(3, 11), 50.0)];
        let mut v = Vec::new();
        contact_features(&contacts, &payments, d(3, 30), 0.01, &mut v);
        assert_eq!(v, vec![1.0, 4.0, 0.75, 3.0, 1.0]);
        // A contact after T is not seen.
        let mut v2 = Vec::new();
        contact_features(&contacts, &payments, d(3, 15), 0.01, &mut v2);
        assert_eq!(v2, vec![1.0, 2.0, 1.0, 2.0, 1.0]);
    }
}

#[cfg(test)]
mod docs {
    use super::*;

    fn table() -> String {
        let mut s = String::from("| feature | definition | without history |\n|---|---|---|\n");
        for (group, defs) in [("ledger", LEDGER_FEATURES), ("contacts", CONTACT_FEATURES)] {
            for f in defs {
                s.push_str(&format!(
                    "| `{}` | {} ({group}) | {} |\n",
                    f.name, f.definition, f.no_history
                ));
            }
        }
        s
    }

    /// docs/features.md carries the catalogue verbatim; `DUNNING_BLESS=1`
    /// rewrites it from the code.
    #[test]
    fn docs_list_every_feature() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/features.md");
        let text = std::fs::read_to_string(&path).expect("docs/features.md");
        let begin = text.find("<!-- features:begin").expect("begin marker");
        let begin = begin + text[begin..].find('\n').expect("marker line") + 1;
        let end = text.find("<!-- features:end -->").expect("end marker");
        if std::env::var_os("DUNNING_BLESS").is_some() {
            let new = format!("{}{}{}", &text[..begin], table(), &text[end..]);
            std::fs::write(&path, new).expect("write docs");
            return;
        }
        assert_eq!(
            &text[begin..end],
            table(),
            "docs/features.md is stale: run DUNNING_BLESS=1 cargo test docs_list"
        );
    }
}
