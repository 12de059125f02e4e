//! Simulating one borrower forward through time: payments against each loan's
//! schedule, income shocks, bounced payments, and collection contacts.
//!
//! A borrower is simulated from its own random stream (see `rng`) in a fixed
//! order of draws: traits, originations, loans, shock path, payments loan by
//! loan, contacts. The rows are sorted by date and appended to a
//! [`ChunkColumns`]. Contacts are drawn *given* the payment path (a promise is
//! kept when the simulated borrower was going to pay anyway); they do not
//! change payments, so this generator has no treatment effect. Parameters are
//! documented in `docs/generator.md`.

use super::calendar::weekday;
use super::columns::{BorrowerRow, Channel, ChunkColumns, ContactRow, Outcome};
use super::model::{
    draw_borrower_in, draw_loan_in, draw_originations, Borrower, Horizon, Loan, Params, ShockPath,
    HARDSHIP_WINDOW_DAYS, P_REPORT_HARDSHIP, SHOCK_PAY_FACTOR,
};
use super::rng::Draw;
use crate::dates::Day;

// ---- payments -----------------------------------------------------------------

/// Weights of the payment lag relative to the due date, for lags -5..=5 days:
/// 25 % early, 25 % on the day, 50 % up to five days late.
pub(crate) const PAY_LAG_WEIGHTS: [f64; 11] = [
    0.02, 0.03, 0.04, 0.06, 0.10, 0.25, 0.18, 0.12, 0.09, 0.06, 0.05,
];
/// The earliest a payment is made before its due date (days).
pub(crate) const MAX_EARLY_DAYS: i32 = 5;
/// When a borrower who was already behind cures, the probability that the
/// cure is a catch-up payment during the period rather than at the due date.
pub(crate) const P_MID_PERIOD_CURE: f64 = 0.35;
/// After a miss: probability of a partial payment of the installment.
pub(crate) const P_PARTIAL: f64 = 0.30;
/// A partial payment is this share (uniform) of the installment.
pub(crate) const PARTIAL_SHARE: (f64, f64) = (0.3, 0.8);
/// After a miss with no partial payment, for a borrower already behind:
/// probability of a catch-up payment that reduces (but does not clear) arrears.
pub(crate) const P_CATCH_UP: f64 = 0.35;
/// A catch-up payment is this share (uniform) of the amount owed.
pub(crate) const CATCH_UP_SHARE: (f64, f64) = (0.2, 0.7);
/// After the last installment, a borrower still behind gets one more chance
/// to cure every this-many days.
pub(crate) const POST_MATURITY_PERIOD_DAYS: i32 = 30;
/// Share of payments recorded without a loan_id (borrower-level payments).
pub(crate) const P_NULL_LOAN_ID: f64 = 0.30;
/// Share of payments that bounce.
pub(crate) const P_BOUNCE: f64 = 0.02;
/// A bounce is reversed this many days (inclusive range) after the payment...
pub(crate) const REVERSAL_DELAY: (i32, i32) = (2, 7);
/// ...and re-presented (paid again, successfully) this many days after the reversal.
pub(crate) const REPRESENT_DELAY: (i32, i32) = (1, 3);

// ---- contacts -------------------------------------------------------------------

/// Probability of a preventive reminder before an installment (contactable borrowers).
pub(crate) const P_REMINDER: f64 = 0.25;
/// A reminder is sent this many days (inclusive range) before the due date.
pub(crate) const REMINDER_LEAD: (i32, i32) = (1, 3);
/// Reminder channel weights: sms, app, email.
pub(crate) const REMINDER_CHANNELS: [(Channel, f64); 3] = [
    (Channel::Sms, 0.5),
    (Channel::App, 0.3),
    (Channel::Email, 0.2),
];
/// Overdue contacts start at this many days past due.
pub(crate) const FIRST_CONTACT_DPD: i32 = 5;
/// Channel weights while 1-30 days past due.
pub(crate) const CHANNELS_EARLY: [(Channel, f64); 4] = [
    (Channel::Call, 0.75),
    (Channel::Sms, 0.15),
    (Channel::App, 0.05),
    (Channel::Email, 0.05),
];
/// Channel weights while 31-60 days past due.
pub(crate) const CHANNELS_MID: [(Channel, f64); 3] = [
    (Channel::Call, 0.80),
    (Channel::Sms, 0.12),
    (Channel::Email, 0.08),
];
/// Channel weights beyond 60 days past due.
pub(crate) const CHANNELS_LATE: [(Channel, f64); 3] = [
    (Channel::Call, 0.45),
    (Channel::Visit, 0.20),
    (Channel::Letter, 0.35),
];
/// Days between overdue contacts (inclusive ranges) up to 60, up to 90, and
/// beyond 90 days past due.
pub(crate) const CONTACT_GAPS: [(i32, i32); 3] = [(2, 5), (4, 8), (7, 14)];
/// Do-not-contact borrowers get letters from this many days past due...
pub(crate) const DNC_FIRST_LETTER_DPD: i32 = 10;
/// ...every this many days (inclusive range).
pub(crate) const DNC_LETTER_GAP: (i32, i32) = (14, 21);
/// Right-party probability of a call is `base + slope * sigmoid(willingness)`.
pub(crate) const CALL_RIGHT_PARTY: (f64, f64) = (0.25, 0.35);
/// Right-party probability of a visit is `base + slope * sigmoid(willingness)`.
pub(crate) const VISIT_RIGHT_PARTY: (f64, f64) = (0.45, 0.35);
/// Wrong-party probability of a call and a visit.
pub(crate) const WRONG_PARTY_VOICE: (f64, f64) = (0.06, 0.03);
/// Wrong-party (bad number / address) probability of a message.
pub(crate) const WRONG_PARTY_MESSAGE: f64 = 0.02;
/// A message gets a response (right_party) with `base + slope * sigmoid(willingness)`.
pub(crate) const MESSAGE_RESPONSE: (f64, f64) = (0.10, 0.30);
/// A promise covers payments up to this many days after the contact.
pub(crate) const PROMISE_HORIZON_DAYS: i32 = 10;
/// Promise probability (right party reached, a payment is coming within the
/// horizon): `base + slope * sigmoid(willingness)`.
pub(crate) const PROMISE_KEPT: (f64, f64) = (0.30, 0.45);
/// Promise probability when no payment is coming (a promise that will be broken).
pub(crate) const PROMISE_BROKEN: (f64, f64) = (0.08, 0.22);
/// Promise probabilities are multiplied by this for disputing borrowers.
pub(crate) const DISPUTE_PROMISE_FACTOR: f64 = 0.5;
/// Refusal probability (right party, no promise):
/// `base + slope * (1 - sigmoid(willingness))`, plus `DISPUTE_REFUSAL` if disputing.
pub(crate) const REFUSAL: (f64, f64) = (0.10, 0.25);
/// Extra refusal probability for disputing borrowers.
pub(crate) const DISPUTE_REFUSAL: f64 = 0.40;

const DAY_US: i64 = 86_400 * 1_000_000;

/// A payment row before sorting (`loan` None = written with a null loan_id).
#[derive(Debug, Clone, Copy)]
struct PaymentRow {
    date: Day,
    loan: Option<i64>,
    cents: i64,
}

/// A loan's schedule plus its signed cash flows (payments, reversals,
/// re-presentations) sorted by date, with running totals.
#[derive(Debug, Default)]
struct LoanSim {
    loan: Loan,
    flows: Vec<(Day, i64)>,
    /// `prefix[k]` = sum of the first `k` flows.
    prefix: Vec<i64>,
}

impl LoanSim {
    fn paid_by(&self, t: Day) -> i64 {
        self.prefix[self.flows.partition_point(|f| f.0 <= t)]
    }

    /// Days past due on day `t`: age of the oldest installment not covered.
    fn dpd(&self, t: Day) -> i32 {
        let paid = self.paid_by(t);
        let i = self.loan.cum_due.partition_point(|&c| c <= paid);
        match self.loan.due.get(i) {
            Some(&due) if due < t => t - due,
            _ => 0,
        }
    }

    /// Cents past due on day `t`.
    fn arrears(&self, t: Day) -> i64 {
        let k = self.loan.due.partition_point(|&d| d < t);
        if k == 0 {
            return 0;
        }
        (self.loan.cum_due[k - 1] - self.paid_by(t)).max(0)
    }
}

/// Reusable per-thread buffers for simulating borrowers one after another.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    loans: Vec<LoanSim>,
    shock: ShockPath,
    payments: Vec<PaymentRow>,
    /// Positive payments that did not bounce, sorted by date.
    effective: Vec<(Day, i64)>,
    installments: Vec<(Day, i64, i64)>,
    candidates: Vec<Day>,
    contacts: Vec<ContactRow>,
}

/// The borrower's ledger as contacts see it.
struct Ledger<'a> {
    loans: &'a [LoanSim],
    effective: &'a [(Day, i64)],
}

impl Ledger<'_> {
    fn dpd(&self, t: Day) -> i32 {
        self.loans.iter().map(|l| l.dpd(t)).max().unwrap_or(0)
    }

    fn arrears(&self, t: Day) -> i64 {
        self.loans.iter().map(|l| l.arrears(t)).sum()
    }

    fn paid_on(&self, t: Day) -> bool {
        let k = self.effective.partition_point(|p| p.0 < t);
        self.effective.get(k).is_some_and(|p| p.0 == t)
    }

    /// The day of the first successful payment of at least `cents` in
    /// `t+1 ..= t+days`.
    fn next_payment_of(&self, t: Day, days: i32, cents: i64) -> Option<Day> {
        let k = self.effective.partition_point(|p| p.0 <= t);
        self.effective[k..]
            .iter()
            .take_while(|p| p.0 <= t + days)
            .find(|p| p.1 >= cents)
            .map(|p| p.0)
    }
}

/// Simulates borrower `id` of the baseline population.
#[cfg(test)]
pub(crate) fn simulate_borrower(
    id: u64,
    seed: u64,
    h: &Horizon,
    s: &mut Scratch,
    out: &mut ChunkColumns,
) -> usize {
    simulate_borrower_in(id, seed, h, &Params::BASELINE, s, out)
}

/// Simulates borrower `id` of population `p`, appends all its rows to
/// `out`, and returns its number of loans.
pub(crate) fn simulate_borrower_in(
    id: u64,
    seed: u64,
    h: &Horizon,
    p: &Params,
    s: &mut Scratch,
    out: &mut ChunkColumns,
) -> usize {
    let mut d = Draw::for_borrower(seed, id);
    let b = draw_borrower_in(id as i64, &mut d, p);
    let (first, second) = draw_originations(h, &mut d);
    let n_loans = if second.is_some() { 2 } else { 1 };
    if s.loans.len() < 2 {
        s.loans.resize_with(2, LoanSim::default);
    }
    for (k, orig) in [Some(first), second].into_iter().flatten().enumerate() {
        let loan_id = id as i64 * 10 + k as i64 + 1;
        draw_loan_in(loan_id, orig, b.income, &mut d, &mut s.loans[k].loan, p);
    }
    let loans = &mut s.loans[..n_loans];

    s.shock.simulate_in(first, h.end + 60, b.ability, &mut d, p);
    let recent_shock = s.shock.any_between(h.end - HARDSHIP_WINDOW_DAYS + 1, h.end);
    let reported = d.chance(P_REPORT_HARDSHIP);

    s.payments.clear();
    s.effective.clear();
    for ls in loans.iter_mut() {
        simulate_payments(
            ls,
            &b,
            &s.shock,
            h.end,
            &mut d,
            &mut s.payments,
            &mut s.effective,
        );
    }
    s.effective.sort_by_key(|p| p.0);

    s.contacts.clear();
    let ledger = Ledger {
        loans,
        effective: &s.effective,
    };
    reminders(&b, h, &ledger, &mut d, &mut s.contacts);
    overdue_contacts(&b, h, &ledger, &mut d, &mut s.candidates, &mut s.contacts);

    emit(&b, h, s, n_loans, recent_shock && reported, out);
    n_loans
}

/// Sorts the borrower's rows and appends them to `out`.
fn emit(
    b: &Borrower,
    h: &Horizon,
    s: &mut Scratch,
    n_loans: usize,
    hardship: bool,
    out: &mut ChunkColumns,
) {
    let first = s.loans[0].loan.origination;
    out.push_borrower(&BorrowerRow {
        id: b.id,
        hardship,
        dispute: b.dispute,
        do_not_contact: b.do_not_contact,
        credit_limit: b.credit_limit,
        income: b.income_reported.then_some(b.income),
        age: b.age,
        p_repay: b.p_repay,
        ability: b.ability,
        willingness: b.willingness,
        ever_shock: s.shock.any_between(first, h.end),
        in_shock_at_end: s.shock.in_shock(h.end),
    });

    s.installments.clear();
    for ls in &s.loans[..n_loans] {
        let l = &ls.loan;
        for (&due, &cents) in l.due.iter().zip(&l.amount) {
            s.installments.push((due, l.loan_id, cents));
        }
    }
    s.installments.sort_unstable();
    for &(due, loan, cents) in &s.installments {
        out.push_installment(b.id, loan, due, cents);
    }

    s.payments.sort_by_key(|p| p.date); // stable: ties keep simulation order
    for p in s.payments.iter().filter(|p| p.date <= h.end) {
        out.push_payment(b.id, p.loan, p.date, p.cents);
    }

    s.contacts.sort_by_key(|c| c.time_us); // stable
    for c in &s.contacts {
        out.push_contact(b.id, c);
    }
}

fn lag(d: &mut Draw) -> i32 {
    d.pick(&PAY_LAG_WEIGHTS) as i32 - MAX_EARLY_DAYS
}

/// Walks one loan's periods, deciding each period's payments, then sorts the
/// loan's flows and builds their running totals.
fn simulate_payments(
    ls: &mut LoanSim,
    b: &Borrower,
    shock: &ShockPath,
    end: Day,
    d: &mut Draw,
    payments: &mut Vec<PaymentRow>,
    effective: &mut Vec<(Day, i64)>,
) {
    ls.flows.clear();
    let loan = &ls.loan;
    let n = loan.due.len();
    let (Some(&last_due), Some(&total)) = (loan.due.last(), loan.cum_due.last()) else {
        return;
    };
    let mut paid = 0i64;
    for i in 0.. {
        let (day, installment, cum_due, gap) = if i < n {
            let gap = loan
                .due
                .get(i + 1)
                .map_or(POST_MATURITY_PERIOD_DAYS, |&next| next - loan.due[i]);
            (loan.due[i], loan.amount[i], loan.cum_due[i], gap)
        } else {
            let k = (i - n + 1) as i32;
            (
                last_due + POST_MATURITY_PERIOD_DAYS * k,
                0,
                total,
                POST_MATURITY_PERIOD_DAYS,
            )
        };
        if day - MAX_EARLY_DAYS > end {
            break;
        }
        let owed = cum_due - paid;
        if owed <= 0 {
            if i >= n {
                break;
            }
            continue;
        }
        let behind = owed - installment > 0;
        // Mid-period payments land at least 6 days before the next due date,
        // so they never overtake the next period's earliest payment.
        let mid_period = |d: &mut Draw| d.int(1, (gap - MAX_EARLY_DAYS - 1).max(1));
        let p = if shock.in_shock(day) {
            b.p_repay * SHOCK_PAY_FACTOR
        } else {
            b.p_repay
        };
        let payment = if d.chance(p) {
            let date = if behind && d.chance(P_MID_PERIOD_CURE) {
                day + mid_period(d)
            } else {
                day + lag(d)
            };
            Some((date, owed))
        } else if installment > 0 && d.chance(P_PARTIAL) {
            let share = d.uniform(PARTIAL_SHARE.0, PARTIAL_SHARE.1);
            Some((day + lag(d), (installment as f64 * share).round() as i64))
                .filter(|&(_, c)| c < owed)
        } else if behind && d.chance(P_CATCH_UP) {
            let share = d.uniform(CATCH_UP_SHARE.0, CATCH_UP_SHARE.1);
            Some((day + mid_period(d), (owed as f64 * share).round() as i64))
                .filter(|&(_, c)| c < owed)
        } else {
            None
        };
        if let Some((date, cents)) = payment.filter(|&(_, c)| c > 0) {
            paid += cents;
            record(
                loan.loan_id,
                date,
                cents,
                d,
                payments,
                &mut ls.flows,
                effective,
            );
        }
    }
    ls.flows.sort_by_key(|f| f.0);
    ls.prefix.clear();
    ls.prefix.push(0);
    let mut run = 0;
    for f in &ls.flows {
        run += f.1;
        ls.prefix.push(run);
    }
}

/// Records a payment, and when it bounces its reversal and re-presentation.
fn record(
    loan_id: i64,
    date: Day,
    cents: i64,
    d: &mut Draw,
    payments: &mut Vec<PaymentRow>,
    flows: &mut Vec<(Day, i64)>,
    effective: &mut Vec<(Day, i64)>,
) {
    let loan = (!d.chance(P_NULL_LOAN_ID)).then_some(loan_id);
    payments.push(PaymentRow { date, loan, cents });
    flows.push((date, cents));
    if d.chance(P_BOUNCE) {
        let reversed = date + d.int(REVERSAL_DELAY.0, REVERSAL_DELAY.1);
        let again = reversed + d.int(REPRESENT_DELAY.0, REPRESENT_DELAY.1);
        payments.push(PaymentRow {
            date: reversed,
            loan,
            cents: -cents,
        });
        payments.push(PaymentRow {
            date: again,
            loan,
            cents,
        });
        flows.push((reversed, -cents));
        flows.push((again, cents));
        effective.push((again, cents));
    } else {
        effective.push((date, cents));
    }
}

fn pick_channel<const N: usize>(d: &mut Draw, table: &[(Channel, f64); N]) -> Channel {
    table[d.pick(&table.map(|c| c.1))].0
}

/// Preventive reminders a few days before some due dates, for borrowers who
/// are contactable and current on that day.
fn reminders(b: &Borrower, h: &Horizon, ledger: &Ledger, d: &mut Draw, out: &mut Vec<ContactRow>) {
    if b.do_not_contact {
        return;
    }
    for ls in ledger.loans {
        for &due in &ls.loan.due {
            if due - REMINDER_LEAD.0 > h.end {
                break;
            }
            if !d.chance(P_REMINDER) {
                continue;
            }
            let t = due - d.int(REMINDER_LEAD.0, REMINDER_LEAD.1);
            let channel = pick_channel(d, &REMINDER_CHANNELS);
            if t > h.end || t <= ls.loan.origination || ledger.dpd(t) > 0 {
                continue;
            }
            out.push(contact(b, ledger, channel, t, d));
        }
    }
}

/// The day a contact planned for `t` actually happens: no calls or visits on
/// Sundays, no letters at weekends.
fn working_day(channel: Channel, t: Day) -> Day {
    match (channel, weekday(t)) {
        (Channel::Call | Channel::Visit, 6) => t + 1,
        (Channel::Letter, 5) => t + 2,
        (Channel::Letter, 6) => t + 1,
        _ => t,
    }
}

/// Collection contacts while the borrower is past due.
fn overdue_contacts(
    b: &Borrower,
    h: &Horizon,
    ledger: &Ledger,
    d: &mut Draw,
    candidates: &mut Vec<Day>,
    out: &mut Vec<ContactRow>,
) {
    // Days past due can only turn positive the day after a due date or on
    // the day of a reversal.
    candidates.clear();
    for ls in ledger.loans {
        candidates.extend(ls.loan.due.iter().map(|&due| due + 1));
        candidates.extend(ls.flows.iter().filter(|f| f.1 < 0).map(|f| f.0));
    }
    candidates.retain(|&c| c <= h.end);
    candidates.sort_unstable();
    candidates.dedup();
    let Some(&start) = candidates.first() else {
        return;
    };
    let (mut t, mut next) = (start, 0usize);
    while t <= h.end {
        let dpd = ledger.dpd(t);
        if dpd == 0 {
            next += candidates[next..].partition_point(|&c| c <= t);
            match candidates.get(next) {
                Some(&c) => t = c,
                None => break,
            }
            continue;
        }
        let first_dpd = if b.do_not_contact {
            DNC_FIRST_LETTER_DPD
        } else {
            FIRST_CONTACT_DPD
        };
        if dpd < first_dpd {
            t += first_dpd - dpd;
            continue;
        }
        let channel = if b.do_not_contact {
            Channel::Letter
        } else if dpd <= 30 {
            pick_channel(d, &CHANNELS_EARLY)
        } else if dpd <= 60 {
            pick_channel(d, &CHANNELS_MID)
        } else {
            pick_channel(d, &CHANNELS_LATE)
        };
        let day = working_day(channel, t);
        if day != t {
            t = day; // look again on the working day (the borrower may have paid)
            continue;
        }
        out.push(contact(b, ledger, channel, t, d));
        let gap = if b.do_not_contact {
            DNC_LETTER_GAP
        } else if dpd <= 60 {
            CONTACT_GAPS[0]
        } else if dpd <= 90 {
            CONTACT_GAPS[1]
        } else {
            CONTACT_GAPS[2]
        };
        t += d.int(gap.0, gap.1);
    }
}

/// Time of day in seconds: calls 08:00-20:59 (1 % at 07h, 1 % at 21h),
/// visits 09-18h, letters 08-16h, messages 09-19h.
fn time_of_day(channel: Channel, d: &mut Draw) -> i64 {
    let hour = match channel {
        Channel::Call => {
            let u = d.unit();
            if u < 0.01 {
                7
            } else if u < 0.02 {
                21
            } else {
                d.int(8, 20)
            }
        }
        Channel::Visit => d.int(9, 18),
        Channel::Letter => d.int(8, 16),
        Channel::Sms | Channel::App | Channel::Email => d.int(9, 19),
    };
    i64::from(hour) * 3600 + i64::from(d.int(0, 59)) * 60 + i64::from(d.int(0, 59))
}

/// A promise amount: whole currency units (cents only below one unit).
fn promise_cents(cents: i64) -> i64 {
    if cents >= 100 {
        cents / 100 * 100
    } else {
        cents.max(1)
    }
}

/// One contact on day `t` with its outcome drawn from the latent state.
fn contact(b: &Borrower, ledger: &Ledger, channel: Channel, t: Day, d: &mut Draw) -> ContactRow {
    let time_us = i64::from(t) * DAY_US + time_of_day(channel, d) * 1_000_000;
    let (outcome, promise) = outcome(b, ledger, channel, t, d);
    ContactRow {
        time_us,
        channel,
        outcome,
        promise,
    }
}

fn outcome(
    b: &Borrower,
    ledger: &Ledger,
    channel: Channel,
    t: Day,
    d: &mut Draw,
) -> (Outcome, Option<(i64, Day)>) {
    if ledger.paid_on(t) {
        return (Outcome::Paid, None);
    }
    let u = d.unit();
    if !channel.is_voice() {
        let respond = MESSAGE_RESPONSE.0 + MESSAGE_RESPONSE.1 * b.willing;
        let o = if u < WRONG_PARTY_MESSAGE {
            Outcome::WrongParty
        } else if u < WRONG_PARTY_MESSAGE + respond {
            Outcome::RightParty
        } else {
            Outcome::NoAnswer
        };
        return (o, None);
    }
    let ((base, slope), wrong) = match channel {
        Channel::Visit => (VISIT_RIGHT_PARTY, WRONG_PARTY_VOICE.1),
        _ => (CALL_RIGHT_PARTY, WRONG_PARTY_VOICE.0),
    };
    let right = base + slope * b.willing;
    if u >= right {
        let o = if u < right + wrong {
            Outcome::WrongParty
        } else {
            Outcome::NoAnswer
        };
        return (o, None);
    }
    // A promise is for the amount past due. It is kept when a payment at
    // least that large arrives within the horizon (in practice a cure, whose
    // odds are p_repay), so keeping rates follow p_repay.
    let dispute = if b.dispute {
        DISPUTE_PROMISE_FACTOR
    } else {
        1.0
    };
    let amount = promise_cents(ledger.arrears(t).max(1));
    let (chance, by) = match ledger.next_payment_of(t, PROMISE_HORIZON_DAYS, amount) {
        Some(day) => (
            PROMISE_KEPT.0 + PROMISE_KEPT.1 * b.willing,
            (day + d.int(0, 2)).min(t + PROMISE_HORIZON_DAYS),
        ),
        None => (
            PROMISE_BROKEN.0 + PROMISE_BROKEN.1 * b.willing,
            t + d.int(1, PROMISE_HORIZON_DAYS),
        ),
    };
    if d.chance(chance * dispute) {
        return (Outcome::PromiseToPay, Some((amount, by)));
    }
    let refuse =
        REFUSAL.0 + REFUSAL.1 * (1.0 - b.willing) + if b.dispute { DISPUTE_REFUSAL } else { 0.0 };
    let o = if d.chance(refuse) {
        Outcome::Refused
    } else {
        Outcome::RightParty
    };
    (o, None)
}

#[cfg(test)]
mod tests {
    use super::super::model::draw_borrower;
    use super::*;
    use crate::dates::ymd;

    #[test]
    fn lag_weights_sum_to_one_and_cover_minus_five_to_five() {
        assert_eq!(PAY_LAG_WEIGHTS.len() as i32, 2 * MAX_EARLY_DAYS + 1);
        assert!((PAY_LAG_WEIGHTS.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn payments_never_exceed_the_schedule_per_loan() {
        let h = Horizon::new(ymd(2025, 12, 31));
        let mut s = Scratch::default();
        let mut out = ChunkColumns::with_capacity(1);
        for id in 1..=3_000 {
            let n = simulate_borrower(id, 1, &h, &mut s, &mut out);
            for ls in &s.loans[..n] {
                let total = *ls.loan.cum_due.last().expect("non-empty schedule");
                assert!(*ls.prefix.last().expect("has 0") <= total);
                // Running totals never go negative: reversals follow their payment.
                assert!(ls.prefix.iter().all(|&p| p >= 0));
            }
        }
    }

    #[test]
    fn cure_rate_per_period_is_close_to_p_repay_outside_shocks() {
        // For each borrower-period outside a shock with something owed, was
        // the loan fully paid up to this installment by the next due date - 6?
        let h = Horizon::new(ymd(2025, 12, 31));
        let mut s = Scratch::default();
        let mut out = ChunkColumns::with_capacity(1);
        let (mut cured, mut expected, mut periods) = (0.0, 0.0, 0.0);
        for id in 1..=4_000 {
            simulate_borrower(id, 4, &h, &mut s, &mut out);
            let mut d = Draw::for_borrower(4, id);
            let b = draw_borrower(id as i64, &mut d);
            let ls = &s.loans[0];
            let l = &ls.loan;
            for i in 0..l.due.len().saturating_sub(1) {
                let (due, next) = (l.due[i], l.due[i + 1]);
                if next > h.end || s.shock.in_shock(due) || ls.paid_by(due - 6) >= l.cum_due[i] {
                    continue;
                }
                periods += 1.0;
                expected += b.p_repay;
                if ls.paid_by(next - MAX_EARLY_DAYS - 1) >= l.cum_due[i] {
                    cured += 1.0;
                }
            }
        }
        // Bounced cures are re-presented up to 10 days later and can miss the
        // window, and shocks are checked at the due date only: allow 3 points.
        let (rate, want) = (cured / periods, expected / periods);
        assert!(periods > 10_000.0);
        assert!(
            (rate - want).abs() < 0.03,
            "cure rate {rate} vs mean p {want}"
        );
    }

    #[test]
    fn promises_are_kept_more_often_by_better_payers() {
        let h = Horizon::new(ymd(2025, 12, 31));
        let mut s = Scratch::default();
        let (mut kept_p, mut kept_n, mut broken_p, mut broken_n) = (0.0, 0.0, 0.0, 0.0);
        let mut sink = ChunkColumns::with_capacity(1);
        for id in 1..=6_000 {
            simulate_borrower(id, 8, &h, &mut s, &mut sink);
            let p = draw_borrower(id as i64, &mut Draw::for_borrower(8, id)).p_repay;
            for c in &s.contacts {
                let Some((cents, by)) = c.promise else {
                    continue;
                };
                assert_eq!(c.outcome, Outcome::PromiseToPay);
                let t = (c.time_us.div_euclid(DAY_US)) as Day;
                assert!((1..=PROMISE_HORIZON_DAYS).contains(&(by - t)));
                let kept = s
                    .effective
                    .iter()
                    .any(|&(day, a)| day > t && day <= by && a >= cents);
                if kept {
                    kept_p += p;
                    kept_n += 1.0;
                } else {
                    broken_p += p;
                    broken_n += 1.0;
                }
            }
        }
        assert!(
            kept_n > 100.0 && broken_n > 100.0,
            "{kept_n} kept, {broken_n} broken"
        );
        assert!(
            kept_p / kept_n > broken_p / broken_n + 0.03,
            "kept {} broken {}",
            kept_p / kept_n,
            broken_p / broken_n
        );
    }

    #[test]
    fn do_not_contact_borrowers_only_get_letters_on_weekdays() {
        let h = Horizon::new(ymd(2025, 12, 31));
        let mut s = Scratch::default();
        let mut sink = ChunkColumns::with_capacity(1);
        let mut letters = 0;
        for id in 1..=20_000 {
            let b = draw_borrower(id as i64, &mut Draw::for_borrower(2, id));
            if !b.do_not_contact {
                continue;
            }
            simulate_borrower(id, 2, &h, &mut s, &mut sink);
            for c in &s.contacts {
                assert_eq!(c.channel, Channel::Letter);
                assert!(weekday(c.time_us.div_euclid(DAY_US) as Day) < 5);
                letters += 1;
            }
        }
        assert!(letters > 0);
    }

    /// Prints the calibration figures quoted in docs/generator.md:
    /// `cargo test --release --lib generate::simulate::tests::calibration_report -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn calibration_report() {
        use std::collections::BTreeMap;
        let h = Horizon::new(ymd(2025, 12, 31));
        let mut s = Scratch::default();
        let mut sink = ChunkColumns::with_capacity(1);
        let n = 100_000u64;
        let (mut due, mut rows, mut contacts, mut promises, mut kept) = (0, 0, 0, 0, 0);
        let (mut ever, mut at_end, mut recent, mut p_sum) = (0, 0, 0, 0.0);
        let mut per_borrower = Vec::new();
        let (mut channels, mut outcomes) = (BTreeMap::new(), BTreeMap::new());
        let mut dpd_buckets = [0usize; 6];
        let (mut current_at_end, mut one_period) = (Vec::new(), Vec::new());
        for id in 1..=n {
            let loans = simulate_borrower(id, 1, &h, &mut s, &mut sink);
            let mut d = Draw::for_borrower(1, id);
            let b = draw_borrower(id as i64, &mut d);
            let ledger = Ledger {
                loans: &s.loans[..loans],
                effective: &s.effective,
            };
            for ls in ledger.loans {
                due += ls.loan.due.iter().filter(|&&x| x <= h.end).count();
            }
            rows += s.payments.iter().filter(|p| p.date <= h.end).count();
            contacts += s.contacts.len();
            per_borrower.push(s.contacts.len());
            for c in &s.contacts {
                *channels.entry(c.channel.as_str()).or_insert(0) += 1;
                *outcomes.entry(c.outcome.as_str()).or_insert(0) += 1;
                if let Some((cents, by)) = c.promise {
                    let t = c.time_us.div_euclid(DAY_US) as Day;
                    promises += 1;
                    kept += usize::from(ledger.next_payment_of(t, by - t, cents).is_some());
                }
            }
            let dpd = ledger.dpd(h.end + 1);
            dpd_buckets[match dpd {
                0 => 0,
                1..=30 => 1,
                31..=60 => 2,
                61..=90 => 3,
                91..=180 => 4,
                _ => 5,
            }] += 1;
            current_at_end.push((b.p_repay, dpd == 0));
            one_period.push((b.p_repay, d.chance(b.p_repay)));
            p_sum += b.p_repay;
            ever += usize::from(s.shock.any_between(s.loans[0].loan.origination, h.end));
            at_end += usize::from(s.shock.in_shock(h.end));
            recent += usize::from(s.shock.any_between(h.end - 89, h.end));
        }
        let auc = |mut v: Vec<(f64, bool)>| {
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (mut rank_sum, mut pos) = (0.0, 0.0);
            for (r, x) in v.iter().enumerate() {
                if x.1 {
                    rank_sum += (r + 1) as f64;
                    pos += 1.0;
                }
            }
            let neg = v.len() as f64 - pos;
            (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
        };
        let per = |x: usize| x as f64 / n as f64;
        per_borrower.sort_unstable();
        let q = |f: f64| per_borrower[((n as f64 - 1.0) * f) as usize];
        eprintln!("borrowers {n}, mean p_repay {:.3}", p_sum / n as f64);
        eprintln!("installments due by end per borrower {:.2}", per(due));
        eprintln!("payment rows per borrower {:.2}", per(rows));
        eprintln!(
            "contacts per borrower {:.2} (median {}, p90 {}, p99 {})",
            per(contacts),
            q(0.5),
            q(0.9),
            q(0.99)
        );
        eprintln!("channels {channels:?}");
        eprintln!("outcomes {outcomes:?}");
        eprintln!("promises kept {:.3}", kept as f64 / promises as f64);
        eprintln!("dpd at end 0 / 1-30 / 31-60 / 61-90 / 91-180 / >180: {dpd_buckets:?}");
        eprintln!(
            "shock: ever {:.3}, last 90 days {:.3}, at end {:.3}",
            per(ever),
            per(recent),
            per(at_end)
        );
        eprintln!(
            "AUC of p_repay: current at end {:.3}, one period {:.3}",
            auc(current_at_end),
            auc(one_period)
        );
    }
}
