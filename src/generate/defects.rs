//! Defective rows appended to a generated ledger (`generate --bad-rows N`).
//!
//! A real ledger export carries a few rows a careful contract must refuse: a
//! NaN amount, a date from another century, a payment for a borrower the
//! schedule does not know, a channel nobody configured. This module makes
//! such rows, deterministically from the seed, so the sample data and the
//! tests exercise the reject path and the row accounting end to end.
//!
//! Each defective row is *appended* as one extra batch per table: the rows of
//! a clean run are unchanged (same values, same order), and every defective
//! row is one the contract rejects or counts as unmatched without touching a
//! valid row (no duplicated keys, which would reject the original row too).
//! It does not simulate anything and does not write files.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::record_batch::RecordBatch;

use super::columns::Table;
use crate::dates::{self, Day};
use crate::hash::splitmix64;

/// One kind of defect: the table it lands in and what the contract says of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// schedule: `amount_due` is NaN.
    ScheduleNanAmount,
    /// schedule: `amount_due` is negative.
    ScheduleNegativeAmount,
    /// schedule: `due_date` in 2301 (out of range).
    ScheduleDateOutOfRange,
    /// payments: `amount` is +infinity.
    PaymentInfiniteAmount,
    /// payments: a borrower with no installment in the schedule.
    PaymentUnknownBorrower,
    /// payments: a `loan_id` that is not a loan of this borrower.
    PaymentForeignLoan,
    /// payments: `paid_date` in 1850 (out of range).
    PaymentDateOutOfRange,
    /// contacts: a channel outside the contract (`fax`).
    ContactUnknownChannel,
    /// contacts: an outcome outside the contract (`maybe`).
    ContactUnknownOutcome,
    /// contacts: a negative `promise_amount`.
    ContactNegativePromise,
    /// contacts: a borrower with no installment in the schedule.
    ContactUnknownBorrower,
    /// borrowers: a borrower with no installment in the schedule (counted as
    /// unmatched, not rejected).
    BorrowerUnknown,
}

impl Defect {
    /// Every defect, in the order `--bad-rows` cycles through them.
    pub const ALL: [Defect; 12] = [
        Defect::ScheduleNanAmount,
        Defect::PaymentInfiniteAmount,
        Defect::ContactUnknownChannel,
        Defect::BorrowerUnknown,
        Defect::PaymentUnknownBorrower,
        Defect::ScheduleNegativeAmount,
        Defect::ContactUnknownOutcome,
        Defect::PaymentForeignLoan,
        Defect::ScheduleDateOutOfRange,
        Defect::ContactNegativePromise,
        Defect::PaymentDateOutOfRange,
        Defect::ContactUnknownBorrower,
    ];

    /// The contract table the defective row is appended to.
    pub fn table(self) -> &'static str {
        use Defect::*;
        match self {
            ScheduleNanAmount | ScheduleNegativeAmount | ScheduleDateOutOfRange => "schedule",
            PaymentInfiniteAmount
            | PaymentUnknownBorrower
            | PaymentForeignLoan
            | PaymentDateOutOfRange => "payments",
            ContactUnknownChannel
            | ContactUnknownOutcome
            | ContactNegativePromise
            | ContactUnknownBorrower => "contacts",
            BorrowerUnknown => "borrowers",
        }
    }

    /// Whether the contract rejects the row (true) or counts it as unmatched.
    pub fn is_rejected(self) -> bool {
        self != Defect::BorrowerUnknown
    }
}

/// The `k`-th defect of a run of `count`: its kind, and the borrower it names
/// (an existing one, `1..=borrowers`, drawn from the seed; for the "unknown
/// borrower" kinds, an id past the last borrower).
pub fn plan(borrowers: u64, seed: u64, count: u64) -> Vec<(Defect, i64)> {
    (0..count)
        .map(|k| {
            let kind = Defect::ALL[(k % Defect::ALL.len() as u64) as usize];
            let existing = 1 + splitmix64(seed ^ 0xBAD0_0000_0000_0000 ^ k) % borrowers;
            let id = match kind {
                Defect::PaymentUnknownBorrower
                | Defect::ContactUnknownBorrower
                | Defect::BorrowerUnknown => borrowers + 1 + k,
                _ => existing,
            };
            (kind, id as i64)
        })
        .collect()
}

/// The defective rows of `plan` as one batch per table, in [`Table::ALL`]
/// order (the truth table gets none); `end` is the ledger's last day.
pub(crate) fn batches(plan: &[(Defect, i64)], end: Day) -> [RecordBatch; 5] {
    let mut s = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut p = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut b = Vec::new();
    let mut c = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let noon = |d: Day| i64::from(d) * 86_400_000_000 + 12 * 3_600_000_000;
    for (k, &(kind, id)) in plan.iter().enumerate() {
        // A first loan's id is `borrower * 10 + 1`; `* 10 + 9` is never used.
        let (loan, foreign_loan) = (id * 10 + 1, id * 10 + 9);
        let day = end - 3 - (k as Day % 20);
        use Defect::*;
        match kind {
            ScheduleNanAmount => push4(&mut s, id, loan, end + 31, f64::NAN),
            ScheduleNegativeAmount => push4(&mut s, id, loan, end + 31, -125.0),
            ScheduleDateOutOfRange => push4(&mut s, id, loan, dates::ymd(2301, 1, 1), 125.0),
            PaymentInfiniteAmount => push4(&mut p, id, loan, day, f64::INFINITY),
            PaymentUnknownBorrower => push4(&mut p, id, loan, day, 40.0),
            PaymentForeignLoan => push4(&mut p, id, foreign_loan, day, 40.0),
            PaymentDateOutOfRange => push4(&mut p, id, loan, dates::ymd(1850, 6, 30), 40.0),
            ContactUnknownChannel => {
                push6(&mut c, id, noon(day), "fax", "no_answer", None);
            }
            ContactUnknownOutcome => {
                push6(&mut c, id, noon(day), "call", "maybe", None);
            }
            ContactNegativePromise => {
                push6(
                    &mut c,
                    id,
                    noon(day),
                    "call",
                    "promise_to_pay",
                    Some((-60.0, day + 7)),
                );
            }
            ContactUnknownBorrower => {
                push6(&mut c, id, noon(day), "sms", "no_answer", None);
            }
            BorrowerUnknown => b.push(id),
        }
    }
    let batch = |t: Table, cols: Vec<ArrayRef>| {
        // Invariant: the arrays are built in the order and types of the schema.
        RecordBatch::try_new(t.schema(), cols).expect("defect columns match the table schema")
    };
    let n_b = b.len();
    [
        batch(
            Table::Schedule,
            vec![
                Arc::new(Int64Array::from(s.0)),
                Arc::new(Int64Array::from(s.1)),
                Arc::new(Date32Array::from(s.2)),
                Arc::new(Float64Array::from(s.3)),
            ],
        ),
        batch(
            Table::Payments,
            vec![
                Arc::new(Int64Array::from(p.0)),
                Arc::new(Int64Array::from(p.1)),
                Arc::new(Date32Array::from(p.2)),
                Arc::new(Float64Array::from(p.3)),
            ],
        ),
        batch(
            Table::Borrowers,
            vec![
                Arc::new(Int64Array::from(b)),
                Arc::new(BooleanArray::from(vec![false; n_b])),
                Arc::new(BooleanArray::from(vec![false; n_b])),
                Arc::new(BooleanArray::from(vec![false; n_b])),
                Arc::new(Float64Array::from(vec![1000.0; n_b])),
                Arc::new(Float64Array::from(vec![Some(2500.0); n_b])),
                Arc::new(Int32Array::from(vec![40; n_b])),
            ],
        ),
        batch(
            Table::Contacts,
            vec![
                Arc::new(Int64Array::from(c.0)),
                Arc::new(TimestampMicrosecondArray::from(c.1)),
                Arc::new(StringArray::from(c.2)),
                Arc::new(StringArray::from(c.3)),
                Arc::new(Float64Array::from(c.4)),
                Arc::new(Date32Array::from(c.5)),
            ],
        ),
        RecordBatch::new_empty(Table::Truth.schema()),
    ]
}

type Four<A, B> = (Vec<i64>, Vec<A>, Vec<Day>, Vec<B>);

fn push4(v: &mut Four<i64, f64>, id: i64, loan: i64, day: Day, amount: f64) {
    v.0.push(id);
    v.1.push(loan);
    v.2.push(day);
    v.3.push(amount);
}

type Six = (
    Vec<i64>,
    Vec<i64>,
    Vec<&'static str>,
    Vec<&'static str>,
    Vec<Option<f64>>,
    Vec<Option<Day>>,
);

fn push6(
    v: &mut Six,
    id: i64,
    time: i64,
    channel: &'static str,
    outcome: &'static str,
    promise: Option<(f64, Day)>,
) {
    v.0.push(id);
    v.1.push(time);
    v.2.push(channel);
    v.3.push(outcome);
    v.4.push(promise.map(|p| p.0));
    v.5.push(promise.map(|p| p.1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_cycles_through_every_kind_and_names_valid_borrowers() {
        let plan = plan(100, 7, 24);
        for (k, kind) in Defect::ALL.iter().enumerate() {
            assert_eq!(plan[k].0, *kind);
            assert_eq!(plan[k + 12].0, *kind);
        }
        for &(kind, id) in &plan {
            let unknown = matches!(
                kind,
                Defect::PaymentUnknownBorrower
                    | Defect::ContactUnknownBorrower
                    | Defect::BorrowerUnknown
            );
            assert_eq!(id > 100, unknown, "{kind:?} names borrower {id}");
            assert!(id >= 1);
        }
        assert_eq!(plan, super::plan(100, 7, 24), "deterministic");
    }

    #[test]
    fn batches_hold_each_row_in_its_table() {
        let plan = plan(50, 1, 12);
        let [s, p, b, c, t] = batches(&plan, dates::ymd(2025, 12, 31));
        assert_eq!(
            (s.num_rows(), p.num_rows(), b.num_rows(), c.num_rows()),
            (3, 4, 1, 4)
        );
        assert_eq!(t.num_rows(), 0);
        let in_table = |name| plan.iter().filter(|d| d.0.table() == name).count();
        assert_eq!(
            [s, p, b, c].map(|x| x.num_rows()),
            ["schedule", "payments", "borrowers", "contacts"].map(in_table)
        );
    }
}
