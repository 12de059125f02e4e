//! The FIFO payment waterfall of one borrower, replayed through time.
//!
//! Payments are applied in date order to the oldest open installment: within
//! their loan when they carry a loan_id, otherwise across all of the
//! borrower's loans. A loan takes part from its estimated start (its first due
//! date minus one installment interval, or the first payment tagged to it), so
//! nothing is allocated to a loan that did not exist yet. What a tagged
//! payment leaves after its loan's whole schedule flows on to the borrower's
//! other loans, oldest first; money beyond every open installment is held as
//! credit and applied when a new loan starts. A reversal (negative amount)
//! takes back the most recent allocations first: credit, then the latest-due
//! covered installments (of its loan, when tagged).
//!
//! An installment is *covered* once its unpaid remainder is within the
//! tolerance; `covered_on` is the date it last became covered. This module
//! only keeps the account state; features are read from it in
//! [`super::features`].

use crate::contract::{Installment, Payment};
use crate::dates::Day;

/// Installments of a single-installment loan are assumed to fall due this many
/// days after the loan started (a monthly cycle).
pub const DEFAULT_INTERVAL_DAYS: Day = 30;

/// `covered_on` of an installment that needed no payment (amount within tolerance).
pub const ALWAYS_COVERED: Day = Day::MIN;

/// One loan of the borrower.
#[derive(Debug, Clone)]
pub struct Loan {
    /// Range of its installments in the borrower's installment slice.
    pub range: std::ops::Range<usize>,
    /// Estimated start (first due date minus one installment interval).
    pub start: Day,
    /// Whether the loan has started (takes part in allocation and features).
    pub active: bool,
    /// Median installment amount: the loan's regular installment.
    pub regular: f64,
    frontier: usize,
}

/// The account state of one borrower as of the last `advance`.
#[derive(Debug, Clone)]
pub struct Waterfall<'a> {
    /// The borrower's installments, sorted by (loan, due date).
    pub installments: &'a [Installment],
    /// Unpaid remainder of each installment.
    pub remaining: Vec<f64>,
    /// Date each installment last became covered, if it is covered.
    pub covered_on: Vec<Option<Day>>,
    /// The borrower's loans, in installment order.
    pub loans: Vec<Loan>,
    /// Borrower-level money not yet allocated to any installment.
    pub credit: f64,
    /// Reversals that found nothing to take back.
    pub excess_reversal: f64,
    payments: &'a [Payment],
    next_payment: usize,
    tolerance: f64,
}

/// The median amount of `xs` (0 for none). A loan's few installments are
/// sorted in a buffer on the stack (this runs once per loan per borrower).
fn median_amount(xs: &[Installment]) -> f64 {
    let mut stack = [0.0f64; 64];
    let mut heap = Vec::new();
    let v: &mut [f64] = if xs.len() <= stack.len() {
        let v = &mut stack[..xs.len()];
        for (d, x) in v.iter_mut().zip(xs) {
            *d = x.amount;
        }
        v
    } else {
        heap.extend(xs.iter().map(|x| x.amount));
        &mut heap
    };
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The vectors of a dropped [`Waterfall`], kept for the next one built on
/// the same thread.
type Buffers = (Vec<f64>, Vec<Option<Day>>, Vec<Loan>);

thread_local! {
    /// Borrowers are replayed one after another on each thread: reusing
    /// the last one's vectors saves three allocations per borrower.
    static SPARE: std::cell::RefCell<Option<Buffers>> = const { std::cell::RefCell::new(None) };
}

impl Drop for Waterfall<'_> {
    fn drop(&mut self) {
        let buffers = (
            std::mem::take(&mut self.remaining),
            std::mem::take(&mut self.covered_on),
            std::mem::take(&mut self.loans),
        );
        // A thread being torn down has no slot left; the buffers are then freed.
        let _ = SPARE.try_with(|s| {
            if let Ok(mut slot) = s.try_borrow_mut() {
                *slot = Some(buffers);
            }
        });
    }
}

impl<'a> Waterfall<'a> {
    /// A fresh account before any payment. `installments` must be sorted by
    /// (loan, due date) and `payments` by date (money in before reversals on a day).
    pub fn new(installments: &'a [Installment], payments: &'a [Payment], tolerance: f64) -> Self {
        let (mut remaining, mut covered_on, mut loans) = SPARE
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut slot| slot.take()))
            .ok()
            .flatten()
            .unwrap_or_default();
        loans.clear();
        let mut i = 0;
        while i < installments.len() {
            let loan = installments[i].loan;
            let mut j = i;
            while j < installments.len() && installments[j].loan == loan {
                j += 1;
            }
            let first = installments[i].due;
            let interval = installments[i..j]
                .iter()
                .map(|x| x.due - first)
                .find(|&d| d > 0)
                .unwrap_or(DEFAULT_INTERVAL_DAYS);
            loans.push(Loan {
                range: i..j,
                start: first.saturating_sub(interval),
                active: false,
                regular: median_amount(&installments[i..j]),
                frontier: i,
            });
            i = j;
        }
        remaining.clear();
        remaining.extend(installments.iter().map(|x| x.amount));
        covered_on.clear();
        covered_on.extend(
            remaining
                .iter()
                .map(|&r| (r <= tolerance).then_some(ALWAYS_COVERED)),
        );
        let mut w = Self {
            installments,
            remaining,
            covered_on,
            loans,
            credit: 0.0,
            excess_reversal: 0.0,
            payments,
            next_payment: 0,
            tolerance,
        };
        for l in 0..w.loans.len() {
            w.skip_paid(l);
        }
        w
    }

    /// Applies every loan start and payment dated on or before `day`. Days
    /// must not decrease from one call to the next.
    pub fn advance(&mut self, day: Day) {
        loop {
            let next_pay = self
                .payments
                .get(self.next_payment)
                .map(|p| p.date)
                .filter(|&d| d <= day);
            let next_start = self
                .loans
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.active && l.start <= day)
                .min_by_key(|(i, l)| (l.start, *i))
                .map(|(i, l)| (l.start, i));
            match (next_pay, next_start) {
                (_, Some((start, l))) if next_pay.is_none_or(|p| start <= p) => {
                    self.activate(l, start)
                }
                (Some(_), _) => {
                    let p = self.payments[self.next_payment];
                    self.next_payment += 1;
                    self.apply(p);
                }
                _ => break,
            }
        }
    }

    /// Payments applied so far.
    pub fn applied_payments(&self) -> &'a [Payment] {
        &self.payments[..self.next_payment]
    }

    fn activate(&mut self, l: usize, day: Day) {
        self.loans[l].active = true;
        let credit = std::mem::take(&mut self.credit);
        if credit > 0.0 {
            self.allocate_any(credit, day);
        }
    }

    fn apply(&mut self, p: Payment) {
        let loan = p.loan.and_then(|key| {
            self.loans
                .iter()
                .position(|l| self.installments[l.range.start].loan == key)
        });
        match (loan, p.amount >= 0.0) {
            (Some(l), true) => {
                // Money paid into a loan shows that the loan exists: it starts
                // now if its estimated start is later.
                if !self.loans[l].active {
                    self.loans[l].start = p.date;
                    self.activate(l, p.date);
                }
                let left = self.allocate_loan(l, p.amount, p.date);
                if left > 0.0 {
                    self.allocate_any(left, p.date);
                }
            }
            (None, true) => self.allocate_any(p.amount, p.date),
            (Some(l), false) => self.reverse_loan(l, -p.amount),
            (None, false) => self.reverse_any(-p.amount),
        }
    }

    /// Moves loan `l`'s frontier past fully paid installments.
    fn skip_paid(&mut self, l: usize) {
        let end = self.loans[l].range.end;
        let mut f = self.loans[l].frontier;
        while f < end && self.remaining[f] <= 0.0 {
            f += 1;
        }
        self.loans[l].frontier = f;
    }

    /// Pays into installment `i`; returns what is left of `amount`.
    fn pay_into(&mut self, i: usize, amount: f64, day: Day) -> f64 {
        let take = amount.min(self.remaining[i]);
        self.remaining[i] -= take;
        if self.remaining[i] <= self.tolerance && self.covered_on[i].is_none() {
            self.covered_on[i] = Some(day);
        }
        amount - take
    }

    /// Allocates within loan `l`, oldest first; returns the unallocated rest.
    fn allocate_loan(&mut self, l: usize, mut amount: f64, day: Day) -> f64 {
        while amount > 0.0 && self.loans[l].frontier < self.loans[l].range.end {
            let f = self.loans[l].frontier;
            amount = self.pay_into(f, amount, day);
            self.skip_paid(l);
        }
        amount
    }

    /// Allocates across active loans to the oldest open installment; the rest becomes credit.
    fn allocate_any(&mut self, mut amount: f64, day: Day) {
        while amount > 0.0 {
            let oldest = self
                .loans
                .iter()
                .enumerate()
                .filter(|(_, l)| l.active && l.frontier < l.range.end)
                .min_by_key(|(i, l)| (self.installments[l.frontier].due, *i))
                .map(|(i, _)| i);
            let Some(l) = oldest else { break };
            let f = self.loans[l].frontier;
            amount = self.pay_into(f, amount, day);
            self.skip_paid(l);
        }
        self.credit += amount.max(0.0);
    }

    /// The most recently due installment of loan `l` that holds money, if any.
    fn last_paid(&self, l: usize) -> Option<usize> {
        let loan = &self.loans[l];
        (loan.range.start
            ..loan
                .frontier
                .min(loan.range.end)
                .saturating_add(1)
                .min(loan.range.end))
            .rev()
            .find(|&i| self.remaining[i] < self.installments[i].amount)
    }

    /// Takes back `amount` from installment `i`; returns what is left to take.
    fn unpay(&mut self, l: usize, i: usize, amount: f64) -> f64 {
        let paid = self.installments[i].amount - self.remaining[i];
        let take = amount.min(paid);
        self.remaining[i] += take;
        if self.remaining[i] > self.tolerance {
            self.covered_on[i] = None;
        }
        if self.remaining[i] > 0.0 {
            self.loans[l].frontier = self.loans[l].frontier.min(i);
        }
        amount - take
    }

    fn reverse_loan(&mut self, l: usize, mut amount: f64) {
        let from_credit = amount.min(self.credit);
        self.credit -= from_credit;
        amount -= from_credit;
        while amount > 0.0 {
            let Some(i) = self.last_paid(l) else { break };
            amount = self.unpay(l, i, amount);
        }
        self.excess_reversal += amount.max(0.0);
    }

    fn reverse_any(&mut self, mut amount: f64) {
        let from_credit = amount.min(self.credit);
        self.credit -= from_credit;
        amount -= from_credit;
        while amount > 0.0 {
            let newest = (0..self.loans.len())
                .filter_map(|l| self.last_paid(l).map(|i| (self.installments[i].due, l, i)))
                .max();
            let Some((_, l, i)) = newest else { break };
            amount = self.unpay(l, i, amount);
        }
        self.excess_reversal += amount.max(0.0);
    }

    /// Whether installment `i` belongs to a loan that has started.
    pub fn is_active(&self, i: usize) -> bool {
        self.loans.iter().any(|l| l.active && l.range.contains(&i))
    }

    /// Indices of installments of started loans.
    pub fn active_installments(&self) -> impl Iterator<Item = usize> + '_ {
        self.loans
            .iter()
            .filter(|l| l.active)
            .flat_map(|l| l.range.clone())
    }

    /// Whether installment `i` is covered.
    pub fn is_covered(&self, i: usize) -> bool {
        self.remaining[i] <= self.tolerance
    }

    /// Overdue amount at the end of `day`: the unpaid remainders of
    /// uncovered installments of started loans due before `day`.
    pub fn overdue(&self, day: Day) -> f64 {
        self.active_installments()
            .filter(|&i| self.installments[i].due < day && !self.is_covered(i))
            .map(|i| self.remaining[i])
            .sum()
    }

    /// Days past due at the end of `day`: `day` minus the due date of the oldest
    /// uncovered installment of a started loan, or 0 when none is due before `day`.
    pub fn dpd(&self, day: Day) -> i32 {
        self.active_installments()
            .filter(|&i| !self.is_covered(i))
            .map(|i| day - self.installments[i].due)
            .max()
            .unwrap_or(0)
            .max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::ymd;

    fn inst(loan: u32, due: Day, amount: f64) -> Installment {
        Installment {
            borrower: 0,
            loan,
            due,
            amount,
        }
    }
    fn pay(loan: Option<u32>, date: Day, amount: f64) -> Payment {
        Payment {
            borrower: 0,
            loan,
            date,
            amount,
        }
    }
    const TOL: f64 = 0.01;

    fn d(m: u32, day: u32) -> Day {
        ymd(2025, m, day)
    }

    /// Three monthly installments of 100 due Feb 1, Mar 1, Apr 1 (the loan starts Jan 4).
    fn three() -> Vec<Installment> {
        vec![
            inst(7, d(2, 1), 100.0),
            inst(7, d(3, 1), 100.0),
            inst(7, d(4, 1), 100.0),
        ]
    }

    #[test]
    fn on_time_payments_keep_dpd_zero() {
        let s = three();
        let p = vec![pay(None, d(2, 1), 100.0), pay(None, d(2, 28), 100.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(3, 15));
        assert_eq!(w.dpd(d(3, 15)), 0);
        assert_eq!(w.overdue(d(3, 15)), 0.0);
        assert_eq!(w.covered_on, vec![Some(d(2, 1)), Some(d(2, 28)), None]);
    }

    #[test]
    fn late_payment_counts_days_from_oldest_unpaid() {
        let s = three();
        let p = vec![pay(None, d(3, 10), 100.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(3, 5));
        // Feb 1 and Mar 1 unpaid: oldest is Feb 1, 32 days before Mar 5.
        assert_eq!(w.dpd(d(3, 5)), 32);
        assert_eq!(w.overdue(d(3, 5)), 200.0);
        w.advance(d(3, 12));
        // The payment covers Feb 1 (late by 37 days); Mar 1 is now the oldest unpaid.
        assert_eq!(w.covered_on[0], Some(d(3, 10)));
        assert_eq!(w.dpd(d(3, 12)), 11);
        assert_eq!(w.overdue(d(3, 12)), 100.0);
    }

    #[test]
    fn partial_payment_leaves_installment_open() {
        let s = three();
        let p = vec![pay(None, d(2, 1), 60.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(2, 11));
        assert_eq!(w.dpd(d(2, 11)), 10);
        assert!((w.overdue(d(2, 11)) - 40.0).abs() < 1e-9);
        assert_eq!(w.covered_on[0], None);
    }

    #[test]
    fn tolerance_covers_a_cent_short() {
        let s = three();
        let p = vec![pay(None, d(2, 1), 99.995)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(2, 20));
        assert_eq!(w.dpd(d(2, 20)), 0);
        assert_eq!(w.overdue(d(2, 20)), 0.0);
        // The next payment first fills the half cent, then the next installment.
        let p2 = vec![pay(None, d(2, 1), 99.995), pay(None, d(3, 1), 100.0)];
        let mut w = Waterfall::new(&s, &p2, TOL);
        w.advance(d(3, 1));
        assert!((w.remaining[1] - 0.005).abs() < 1e-9);
        assert_eq!(w.covered_on[1], Some(d(3, 1)));
    }

    #[test]
    fn overpayment_covers_the_next_installment() {
        let s = three();
        let p = vec![pay(None, d(2, 1), 150.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(3, 2));
        // Feb covered, Mar half paid: due Mar 1, so 1 day past due with 50 overdue.
        assert_eq!(w.dpd(d(3, 2)), 1);
        assert!((w.overdue(d(3, 2)) - 50.0).abs() < 1e-9);
        // Paying beyond the whole schedule leaves credit.
        let p = vec![pay(None, d(2, 1), 350.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(5, 1));
        assert_eq!(w.dpd(d(5, 1)), 0);
        assert!((w.credit - 50.0).abs() < 1e-9);
        assert_eq!(w.covered_on, vec![Some(d(2, 1)); 3]);
    }

    #[test]
    fn reversal_uncovers_the_latest_installment() {
        let s = three();
        let p = vec![
            pay(None, d(2, 1), 100.0),
            pay(None, d(3, 1), 100.0),
            pay(None, d(3, 5), -100.0),
        ];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(3, 4));
        assert_eq!(w.dpd(d(3, 4)), 0);
        w.advance(d(3, 6));
        // The bounced payment un-covers March, not February.
        assert_eq!(w.covered_on[0], Some(d(2, 1)));
        assert_eq!(w.covered_on[1], None);
        assert_eq!(w.dpd(d(3, 6)), 5);
        assert_eq!(w.overdue(d(3, 6)), 100.0);
    }

    #[test]
    fn reversal_beyond_payments_is_counted_not_negative() {
        let s = three();
        let p = vec![pay(None, d(2, 1), 50.0), pay(None, d(2, 3), -80.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(2, 5));
        assert_eq!(w.remaining[0], 100.0);
        assert!((w.excess_reversal - 30.0).abs() < 1e-9);
    }

    #[test]
    fn payment_before_any_due_date_prepays_the_first_installment() {
        let s = three();
        // The loan starts Jan 4 (Feb 1 minus the 28-day interval to Mar 1); paid Jan 10.
        let p = vec![pay(None, d(1, 10), 100.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(1, 20));
        assert_eq!(w.covered_on[0], Some(d(1, 10)));
        assert_eq!(w.dpd(d(2, 10)), 0);
        // Paid even before the estimated start: held as credit, applied at the start.
        let p = vec![pay(None, ymd(2024, 12, 20), 100.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(ymd(2024, 12, 25));
        assert!(!w.loans[0].active);
        assert_eq!(w.credit, 100.0);
        w.advance(d(1, 3));
        assert!(!w.loans[0].active);
        w.advance(d(1, 4));
        assert!(w.loans[0].active);
        assert_eq!(w.credit, 0.0);
        assert_eq!(w.covered_on[0], Some(d(1, 4)));
    }

    #[test]
    fn installment_due_on_the_as_of_date_is_not_yet_overdue() {
        let s = three();
        let p = vec![pay(None, d(2, 1), 100.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(3, 1));
        assert_eq!(w.dpd(d(3, 1)), 0);
        assert_eq!(w.overdue(d(3, 1)), 0.0);
        w.advance(d(3, 2));
        assert_eq!(w.dpd(d(3, 2)), 1);
    }

    #[test]
    fn two_loans_tagged_and_untagged_payments() {
        // Loan 1: due Feb 1, Mar 1 (100 each). Loan 2: due Feb 15, Mar 15 (50 each).
        let mut s = vec![
            inst(1, d(2, 1), 100.0),
            inst(1, d(3, 1), 100.0),
            inst(2, d(2, 15), 50.0),
            inst(2, d(3, 15), 50.0),
        ];
        s.sort_by_key(|x| (x.loan, x.due));
        // A payment tagged to loan 2 pays loan 2 even though loan 1 is older.
        let p = vec![pay(Some(2), d(2, 10), 50.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(2, 20));
        assert_eq!(w.covered_on[2], Some(d(2, 10)));
        assert_eq!(w.dpd(d(2, 20)), 19); // loan 1's Feb 1 is open
                                         // An untagged payment goes to the oldest open installment across loans.
        let p = vec![pay(None, d(2, 20), 120.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(2, 20));
        assert_eq!(w.covered_on[0], Some(d(2, 20))); // loan 1 Feb 1: 100
        assert!((w.remaining[2] - 30.0).abs() < 1e-9); // loan 2 Feb 15 got 20
        assert_eq!(w.remaining[1], 100.0); // loan 1 Mar 1 untouched
        assert_eq!(w.dpd(d(2, 20)), 5);
        assert!((w.overdue(d(2, 20)) - 30.0).abs() < 1e-9);
    }

    #[test]
    fn a_tagged_overpayment_flows_on_to_the_other_loans() {
        // Loan 1: 100 due Feb 1. Loan 2: 80 due Jun 1 and Jul 1 (starts May 2).
        let s = vec![
            inst(1, d(2, 1), 100.0),
            inst(2, d(6, 1), 80.0),
            inst(2, d(7, 1), 80.0),
        ];
        let p = vec![pay(Some(1), d(2, 1), 180.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(2, 1));
        assert!((w.credit - 80.0).abs() < 1e-9);
        w.advance(d(7, 10));
        // The 80 went to loan 2's June installment when loan 2 started.
        assert_eq!(w.remaining[1], 0.0);
        assert_eq!(w.overdue(d(7, 10)), 80.0);
    }

    #[test]
    fn a_tagged_reversal_takes_credit_before_installments() {
        let s = vec![inst(1, d(2, 1), 100.0)];
        let p = vec![pay(None, d(2, 1), 150.0), pay(Some(1), d(2, 5), -100.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(2, 10));
        // Net 50 paid: 50 of the installment is open again.
        assert_eq!(w.credit, 0.0);
        assert!((w.remaining[0] - 50.0).abs() < 1e-9);
        assert_eq!(w.dpd(d(2, 10)), 9);
    }

    #[test]
    fn only_money_in_starts_a_loan_early() {
        let s = vec![
            inst(1, d(2, 1), 100.0),
            inst(2, d(6, 1), 80.0),
            inst(2, d(7, 1), 80.0),
        ];
        // A reversal tagged to loan 2 before its start does not start it.
        let p = vec![pay(Some(2), d(3, 1), -10.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(3, 15));
        assert!(!w.loans[1].active);
        // A payment tagged to it does, on the payment date.
        let p = vec![pay(Some(2), d(3, 1), 10.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(3, 15));
        assert!(w.loans[1].active);
        assert_eq!(w.loans[1].start, d(3, 1));
    }

    #[test]
    fn a_loan_not_yet_started_takes_no_money() {
        // Loan 1 is due Feb 1 only; loan 2 starts much later (first due Jun 1).
        let s = vec![
            inst(1, d(2, 1), 100.0),
            inst(2, d(6, 1), 80.0),
            inst(2, d(7, 1), 80.0),
        ];
        let p = vec![pay(None, d(2, 1), 130.0)];
        let mut w = Waterfall::new(&s, &p, TOL);
        w.advance(d(3, 1));
        assert!(!w.loans[1].active);
        assert!((w.credit - 30.0).abs() < 1e-9);
        assert_eq!(w.active_installments().count(), 1);
        // Once loan 2 starts (May 2), the credit goes to its first installment.
        w.advance(d(5, 10));
        assert!(w.loans[1].active);
        assert!((w.remaining[1] - 50.0).abs() < 1e-9);
    }
}
