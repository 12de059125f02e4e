//! The generator's latent model: borrower traits, loan products and their
//! contractual schedules, and the monthly income-shock chain.
//!
//! Every distribution parameter the generator uses lives here as a named
//! constant, documented in `docs/generator.md`; change one and the committed
//! sample data changes. This module draws a borrower and their loans; it does
//! not simulate payments or contacts (that is `simulate`) and builds no Arrow
//! columns (that is `columns`).

use super::calendar::add_months;
use super::rng::Draw;
use crate::dates::Day;

// ---- repayment propensity -------------------------------------------------

/// Intercept of the repayment logit.
pub(crate) const ALPHA: f64 = 2.3;
/// Logit loading on ability.
pub(crate) const B_ABILITY: f64 = 1.2;
/// Logit loading on willingness.
pub(crate) const B_WILLINGNESS: f64 = 1.3;
/// Logit shift for a borrower who disputes the debt.
pub(crate) const B_DISPUTE: f64 = -1.5;

// ---- borrower attributes ----------------------------------------------------

/// Median monthly income (currency units) of a borrower of average ability.
pub(crate) const INCOME_MEDIAN: f64 = 2500.0;
/// Loading of log income on ability.
pub(crate) const INCOME_ABILITY_LOADING: f64 = 0.35;
/// Standard deviation of the idiosyncratic part of log income.
pub(crate) const INCOME_NOISE_SD: f64 = 0.45;
/// Share of borrowers whose income is not reported (null in borrowers.parquet).
pub(crate) const P_INCOME_MISSING: f64 = 0.02;
/// Credit limit as a multiple of monthly income: uniform on this range.
pub(crate) const CREDIT_LIMIT_MULTIPLE: (f64, f64) = (1.0, 4.0);
/// Ages are uniform on this inclusive range.
pub(crate) const AGE_RANGE: (i32, i32) = (21, 70);
/// Share of borrowers disputing the debt.
pub(crate) const P_DISPUTE: f64 = 0.01;
/// Share of borrowers flagged do-not-contact (letters only).
pub(crate) const P_DO_NOT_CONTACT: f64 = 0.02;
/// Share of borrowers holding a second loan.
pub(crate) const P_SECOND_LOAN: f64 = 0.15;

// ---- income shocks ------------------------------------------------------------

/// Length of one step of the shock chain, in days.
pub(crate) const SHOCK_STEP_DAYS: i32 = 30;
/// Base monthly probability of entering a shock (ability 0).
pub(crate) const SHOCK_ENTRY_BASE: f64 = 0.03;
/// Entry probability is `SHOCK_ENTRY_BASE * exp(SHOCK_ENTRY_ABILITY * ability)`.
pub(crate) const SHOCK_ENTRY_ABILITY: f64 = -0.5;
/// Cap on the monthly entry probability.
pub(crate) const SHOCK_ENTRY_MAX: f64 = 0.25;
/// Monthly probability of leaving a shock (mean duration 1/exit = 3 months).
pub(crate) const SHOCK_EXIT: f64 = 1.0 / 3.0;
/// Payment probability multiplier while in a shock.
pub(crate) const SHOCK_PAY_FACTOR: f64 = 0.15;
/// A shock counts towards `hardship` if it overlaps the last this-many days.
pub(crate) const HARDSHIP_WINDOW_DAYS: i32 = 90;
/// Share of recent shocks that the borrower reports (becoming `hardship`).
pub(crate) const P_REPORT_HARDSHIP: f64 = 0.6;

// ---- population profiles --------------------------------------------------------

/// Stressed profile: mean of ability (baseline 0). Lower ability means lower
/// incomes, lower repayment propensity and more income shocks.
pub(crate) const STRESSED_ABILITY_MEAN: f64 = -0.75;
/// Stressed profile: mean of willingness (baseline 0): more late payers.
pub(crate) const STRESSED_WILLINGNESS_MEAN: f64 = -0.5;
/// Stressed profile: median monthly income at average ability (baseline 2500).
pub(crate) const STRESSED_INCOME_MEDIAN: f64 = 2000.0;
/// Stressed profile: each product's principal multiple of income is
/// multiplied by this (baseline 1): larger loans for the income.
pub(crate) const STRESSED_PRINCIPAL_SCALE: f64 = 1.5;
/// Stressed profile: base monthly shock entry probability (baseline 0.03).
pub(crate) const STRESSED_SHOCK_ENTRY_BASE: f64 = 0.06;

/// The parameters a population profile sets; everything else is the same
/// for every profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Params {
    /// Mean of ability *a*.
    pub ability_mean: f64,
    /// Mean of willingness *w*.
    pub willingness_mean: f64,
    /// Median monthly income of a borrower of average (0) ability.
    pub income_median: f64,
    /// Multiplies both ends of each product's principal multiple range.
    pub principal_scale: f64,
    /// Base monthly probability of entering a shock (ability 0).
    pub shock_entry_base: f64,
}

impl Params {
    /// The baseline population (the committed sample's).
    pub(crate) const BASELINE: Params = Params {
        ability_mean: 0.0,
        willingness_mean: 0.0,
        income_median: INCOME_MEDIAN,
        principal_scale: 1.0,
        shock_entry_base: SHOCK_ENTRY_BASE,
    };
    /// A stressed population: poorer, more indebted, later payers.
    pub(crate) const STRESSED: Params = Params {
        ability_mean: STRESSED_ABILITY_MEAN,
        willingness_mean: STRESSED_WILLINGNESS_MEAN,
        income_median: STRESSED_INCOME_MEDIAN,
        principal_scale: STRESSED_PRINCIPAL_SCALE,
        shock_entry_base: STRESSED_SHOCK_ENTRY_BASE,
    };
}

/// A standard normal draw moved to `mean`. A zero mean leaves the draw's
/// bits as they are (-0.0 + 0.0 would be 0.0), so the baseline's files do
/// not change.
fn shifted(z: f64, mean: f64) -> f64 {
    if mean == 0.0 {
        z
    } else {
        z + mean
    }
}

// ---- products -------------------------------------------------------------------

/// A loan product: how much, over how many installments, how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Product {
    /// Cash loan: 6, 12 or 24 monthly annuity installments.
    Cash,
    /// Buy now, pay later: 4 interest-free installments every 14 days.
    Bnpl,
    /// Larger instalment loan: 36 monthly annuity installments.
    Instalment,
}

/// Product mix (Cash, Bnpl, Instalment).
pub(crate) const PRODUCT_WEIGHTS: [f64; 3] = [0.5, 0.4, 0.1];
/// Cash-loan terms in months and their weights.
pub(crate) const CASH_TERMS: [(i32, f64); 3] = [(6, 0.4), (12, 0.4), (24, 0.2)];

impl Product {
    /// Principal as a multiple of monthly income: uniform on this range.
    pub(crate) fn principal_multiple(self) -> (f64, f64) {
        match self {
            Product::Cash => (0.5, 2.5),
            Product::Bnpl => (0.05, 0.3),
            Product::Instalment => (2.0, 6.0),
        }
    }

    /// Principal is rounded to a multiple of this many cents, and at least that.
    pub(crate) fn principal_step_cents(self) -> i64 {
        match self {
            Product::Cash => 1_000,
            Product::Bnpl => 100,
            Product::Instalment => 10_000,
        }
    }

    /// Nominal annual interest rate (monthly rate = annual / 12).
    pub(crate) fn annual_rate(self) -> f64 {
        match self {
            Product::Cash => 0.24,
            Product::Bnpl => 0.0,
            Product::Instalment => 0.15,
        }
    }
}

// ---- borrowers ---------------------------------------------------------------------

/// The latest and earliest origination dates for a given end date.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Horizon {
    /// The last day of the simulated history.
    pub end: Day,
    /// Earliest origination: end - 24 months.
    pub orig_lo: Day,
    /// Latest origination: end - 1 month.
    pub orig_hi: Day,
}

impl Horizon {
    /// The horizon ending on `end`.
    pub(crate) fn new(end: Day) -> Self {
        Self {
            end,
            orig_lo: add_months(end, -24),
            orig_hi: add_months(end, -1),
        }
    }
}

/// One borrower's latent traits and static attributes.
#[derive(Debug, Clone)]
pub(crate) struct Borrower {
    pub id: i64,
    pub ability: f64,
    pub willingness: f64,
    /// Monthly income in currency units, rounded to cents.
    pub income: f64,
    /// False when income is null in the output (it still drives the simulation).
    pub income_reported: bool,
    pub age: i32,
    pub credit_limit: f64,
    pub dispute: bool,
    pub do_not_contact: bool,
    /// Per-period probability of becoming fully current when not in a shock.
    pub p_repay: f64,
    /// sigmoid(willingness): drives contact outcomes.
    pub willing: f64,
}

/// The logistic function.
pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The true per-period repayment probability of a borrower.
pub(crate) fn p_repay(ability: f64, willingness: f64, dispute: bool) -> f64 {
    let shift = if dispute { B_DISPUTE } else { 0.0 };
    sigmoid(ALPHA + B_ABILITY * ability + B_WILLINGNESS * willingness + shift)
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Draws borrower `id`'s traits of the baseline population.
#[cfg(test)]
pub(crate) fn draw_borrower(id: i64, d: &mut Draw) -> Borrower {
    draw_borrower_in(id, d, &Params::BASELINE)
}

/// Draws borrower `id`'s traits (the first draws of its stream) in the
/// population `p`.
pub(crate) fn draw_borrower_in(id: i64, d: &mut Draw, p: &Params) -> Borrower {
    let ability = shifted(d.normal(), p.ability_mean);
    let willingness = shifted(d.normal(), p.willingness_mean);
    let log_income =
        p.income_median.ln() + INCOME_ABILITY_LOADING * ability + INCOME_NOISE_SD * d.normal();
    let income = round_cents(log_income.exp());
    let income_reported = !d.chance(P_INCOME_MISSING);
    let age = d.int(AGE_RANGE.0, AGE_RANGE.1);
    let multiple = d.uniform(CREDIT_LIMIT_MULTIPLE.0, CREDIT_LIMIT_MULTIPLE.1);
    let credit_limit = ((income * multiple / 100.0).round() * 100.0).max(100.0);
    let dispute = d.chance(P_DISPUTE);
    let do_not_contact = d.chance(P_DO_NOT_CONTACT);
    Borrower {
        id,
        ability,
        willingness,
        income,
        income_reported,
        age,
        credit_limit,
        dispute,
        do_not_contact,
        p_repay: p_repay(ability, willingness, dispute),
        willing: sigmoid(willingness),
    }
}

/// The origination dates of a borrower's one or two loans, ascending, the
/// second strictly after the first.
pub(crate) fn draw_originations(h: &Horizon, d: &mut Draw) -> (Day, Option<Day>) {
    let first = d.int(h.orig_lo, h.orig_hi);
    if !d.chance(P_SECOND_LOAN) {
        return (first, None);
    }
    let other = d.int(h.orig_lo, h.orig_hi);
    let (mut a, mut b) = (first.min(other), first.max(other));
    if a == b {
        // A tie: move whichever way stays inside the window.
        if b < h.orig_hi {
            b += 1;
        } else {
            a -= 1;
        }
    }
    (a, Some(b))
}

// ---- loans -------------------------------------------------------------------------------

/// A loan's contractual schedule. Vectors are reused across borrowers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Loan {
    pub loan_id: i64,
    pub origination: Day,
    /// Due dates, strictly increasing.
    pub due: Vec<Day>,
    /// Installment amounts in cents, all positive.
    pub amount: Vec<i64>,
    /// Running total of `amount`.
    pub cum_due: Vec<i64>,
    /// Principal in cents (the installments sum to at least this).
    pub principal: i64,
    pub product: Option<Product>,
}

/// Fills `loan` with a freshly drawn product and schedule (baseline).
#[cfg(test)]
pub(crate) fn draw_loan(
    loan_id: i64,
    origination: Day,
    income: f64,
    d: &mut Draw,
    loan: &mut Loan,
) {
    draw_loan_in(loan_id, origination, income, d, loan, &Params::BASELINE)
}

/// Fills `loan` with a freshly drawn product and schedule in population `p`.
pub(crate) fn draw_loan_in(
    loan_id: i64,
    origination: Day,
    income: f64,
    d: &mut Draw,
    loan: &mut Loan,
    p: &Params,
) {
    let product = match d.pick(&PRODUCT_WEIGHTS) {
        0 => Product::Cash,
        1 => Product::Bnpl,
        _ => Product::Instalment,
    };
    let n = match product {
        Product::Cash => CASH_TERMS[d.pick(&CASH_TERMS.map(|t| t.1))].0,
        Product::Bnpl => 4,
        Product::Instalment => 36,
    };
    let (lo, hi) = product.principal_multiple();
    let step = product.principal_step_cents();
    let scale = p.principal_scale;
    let raw = income * 100.0 * d.uniform(lo * scale, hi * scale);
    let principal = (((raw / step as f64).round() as i64) * step).max(step);

    loan.loan_id = loan_id;
    loan.origination = origination;
    loan.principal = principal;
    loan.product = Some(product);
    loan.due.clear();
    loan.amount.clear();
    loan.cum_due.clear();
    for k in 1..=n {
        loan.due.push(match product {
            Product::Bnpl => origination + 14 * k,
            _ => add_months(origination, k),
        });
    }
    installments(principal, product.annual_rate() / 12.0, n, &mut loan.amount);
    let mut cum = 0;
    for a in &loan.amount {
        cum += a;
        loan.cum_due.push(cum);
    }
}

/// Splits `principal` cents into `n` installments: an annuity at monthly rate
/// `r` (all installments equal except the last, which absorbs the rounding),
/// or equal parts with the remainder on the first when `r` is 0.
fn installments(principal: i64, r: f64, n: i32, out: &mut Vec<i64>) {
    let n = n.max(1);
    if r <= 0.0 {
        let base = principal / i64::from(n);
        let rem = principal - base * i64::from(n);
        out.push(base + rem);
        out.extend(std::iter::repeat_n(base, n as usize - 1));
        return;
    }
    let exact = principal as f64 * r / (1.0 - (1.0 + r).powi(-n));
    let each = exact.round() as i64;
    let total = (exact * f64::from(n)).round() as i64;
    out.extend(std::iter::repeat_n(each, n as usize - 1));
    out.push(total - each * i64::from(n - 1));
}

// ---- shocks ----------------------------------------------------------------------------------

/// A borrower's income-shock path: one state per 30-day step from `start`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShockPath {
    start: Day,
    states: Vec<bool>,
}

impl ShockPath {
    /// Simulates the baseline chain from `start` until it covers `until`.
    #[cfg(test)]
    pub(crate) fn simulate(&mut self, start: Day, until: Day, ability: f64, d: &mut Draw) {
        self.simulate_in(start, until, ability, d, &Params::BASELINE)
    }

    /// Simulates the chain from `start` (not in shock) until it covers
    /// `until`, with population `p`'s entry probability.
    pub(crate) fn simulate_in(
        &mut self,
        start: Day,
        until: Day,
        ability: f64,
        d: &mut Draw,
        p: &Params,
    ) {
        self.start = start;
        self.states.clear();
        let entry =
            (p.shock_entry_base * (SHOCK_ENTRY_ABILITY * ability).exp()).min(SHOCK_ENTRY_MAX);
        let steps = ((until - start).max(0) / SHOCK_STEP_DAYS + 1) as usize;
        let mut state = false;
        self.states.push(state);
        for _ in 1..steps {
            state = if state {
                !d.chance(SHOCK_EXIT)
            } else {
                d.chance(entry)
            };
            self.states.push(state);
        }
    }

    fn step(&self, t: Day) -> Option<usize> {
        if t < self.start {
            return None;
        }
        let s = ((t - self.start) / SHOCK_STEP_DAYS) as usize;
        Some(s.min(self.states.len().saturating_sub(1)))
    }

    /// Whether the borrower is in a shock on day `t`.
    pub(crate) fn in_shock(&self, t: Day) -> bool {
        self.step(t)
            .and_then(|s| self.states.get(s).copied())
            .unwrap_or(false)
    }

    /// Whether any step overlapping days `lo..=hi` is a shock.
    pub(crate) fn any_between(&self, lo: Day, hi: Day) -> bool {
        if lo > hi {
            return false;
        }
        let (Some(a), Some(b)) = (self.step(lo.max(self.start)), self.step(hi)) else {
            return false;
        };
        self.states[a..=b].iter().any(|&s| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::ymd;

    /// Area under the ROC curve of `scores` against `labels` (ties ignored:
    /// scores here are continuous).
    fn auc(scores: &[f64], labels: &[bool]) -> f64 {
        let mut idx: Vec<usize> = (0..scores.len()).collect();
        idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let (mut rank_sum, mut pos) = (0.0, 0.0);
        for (rank, &i) in idx.iter().enumerate() {
            if labels[i] {
                rank_sum += (rank + 1) as f64;
                pos += 1.0;
            }
        }
        let neg = scores.len() as f64 - pos;
        (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
    }

    #[test]
    fn p_repay_has_the_documented_mean_and_spread() {
        let n = 50_000;
        let (mut ps, mut labels) = (Vec::new(), Vec::new());
        for id in 1..=n {
            let mut d = Draw::for_borrower(11, id);
            let b = draw_borrower(id as i64, &mut d);
            ps.push(b.p_repay);
            labels.push(d.chance(b.p_repay));
        }
        let mean = ps.iter().sum::<f64>() / n as f64;
        assert!((0.79..=0.85).contains(&mean), "mean p_repay {mean}");
        // The oracle AUC on a single period's Bernoulli outcome, the ceiling
        // for a model of one-period repayment: about 0.855 for a logit with
        // standard deviation sqrt(1.2^2 + 1.3^2) = 1.77.
        let a = auc(&ps, &labels);
        assert!((0.83..=0.88).contains(&a), "oracle AUC {a}");
    }

    #[test]
    fn incomes_and_flags_are_plausible() {
        let n = 20_000;
        let mut incomes = Vec::new();
        let (mut missing, mut dispute, mut dnc) = (0, 0, 0);
        for id in 1..=n {
            let b = draw_borrower(id, &mut Draw::for_borrower(3, id as u64));
            assert!(b.income > 0.0 && b.credit_limit >= 100.0);
            assert!((21..=70).contains(&b.age));
            incomes.push(b.income);
            missing += usize::from(!b.income_reported);
            dispute += usize::from(b.dispute);
            dnc += usize::from(b.do_not_contact);
        }
        incomes.sort_by(f64::total_cmp);
        let median = incomes[incomes.len() / 2];
        assert!((2300.0..2700.0).contains(&median), "median income {median}");
        // Binomial standard errors are about 0.1 percentage point.
        assert!((0.014..0.026).contains(&(missing as f64 / n as f64)));
        assert!((0.006..0.014).contains(&(dispute as f64 / n as f64)));
        assert!((0.014..0.026).contains(&(dnc as f64 / n as f64)));
    }

    #[test]
    fn schedules_sum_to_principal_plus_bounded_interest() {
        let mut loan = Loan::default();
        for id in 1..=5_000u64 {
            let mut d = Draw::for_borrower(5, id);
            draw_loan(
                id as i64 * 10 + 1,
                ymd(2024, 1, 31),
                2500.0,
                &mut d,
                &mut loan,
            );
            let product = loan.product.expect("drawn");
            let total: i64 = loan.amount.iter().sum();
            assert_eq!(*loan.cum_due.last().expect("non-empty"), total);
            assert!(loan.amount.iter().all(|&a| a > 0));
            assert!(loan.due.windows(2).all(|w| w[0] < w[1]));
            assert!(loan.due[0] > loan.origination);
            let n = loan.due.len() as f64;
            let cap = loan.principal as f64 * (1.0 + product.annual_rate() * n / 12.0);
            assert!(total >= loan.principal && total as f64 <= cap, "{loan:?}");
            if product == Product::Bnpl {
                assert_eq!(total, loan.principal);
                assert_eq!(loan.due.len(), 4);
            }
        }
    }

    #[test]
    fn annuity_matches_a_hand_computed_value() {
        // 1000.00 over 12 months at 2% a month: 94.56 a month (standard
        // annuity tables give 94.5596), total 1134.72.
        let mut out = Vec::new();
        installments(100_000, 0.02, 12, &mut out);
        assert_eq!(out[0], 9456);
        assert_eq!(out.iter().sum::<i64>(), 113_472);
        out.clear();
        installments(1001, 0.0, 4, &mut out);
        assert_eq!(out, vec![251, 250, 250, 250]);
    }

    #[test]
    fn originations_stay_in_the_window_and_second_is_later() {
        let h = Horizon::new(ymd(2025, 12, 31));
        assert_eq!(h.orig_lo, ymd(2023, 12, 31));
        assert_eq!(h.orig_hi, ymd(2025, 11, 30));
        let mut second = 0;
        for id in 1..=20_000u64 {
            let (a, b) = draw_originations(&h, &mut Draw::for_borrower(9, id));
            assert!((h.orig_lo..=h.orig_hi).contains(&a));
            if let Some(b) = b {
                assert!(b > a && b <= h.orig_hi);
                second += 1;
            }
        }
        assert!((0.14..0.16).contains(&(second as f64 / 20_000.0)));
    }

    #[test]
    fn shock_chain_has_the_documented_duration() {
        let mut path = ShockPath::default();
        let (mut shocked_steps, mut spells) = (0usize, 0usize);
        for id in 1..=5_000u64 {
            let mut d = Draw::for_borrower(2, id);
            path.simulate(0, 30 * 120, 0.0, &mut d);
            assert!(!path.in_shock(0) && !path.in_shock(-5));
            shocked_steps += path.states.iter().filter(|&&s| s).count();
            spells += path.states.windows(2).filter(|w| !w[0] && w[1]).count();
        }
        let mean_duration = shocked_steps as f64 / spells as f64;
        assert!((2.7..3.3).contains(&mean_duration), "{mean_duration}");
        assert!(path.any_between(0, 30 * 120) == path.states.iter().any(|&s| s));
    }
}
