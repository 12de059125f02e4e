//! The five output tables: their Arrow schemas and the column buffers one
//! chunk of borrowers is written into.
//!
//! Values arrive here already simulated and sorted per borrower; this module
//! only appends them to plain vectors and turns those into `RecordBatch`es
//! (without copying the vectors). It does not simulate anything and does not
//! write files.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use crate::dates::Day;

/// The output tables, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Schedule,
    Payments,
    Borrowers,
    Contacts,
    Truth,
}

impl Table {
    /// All tables in output order.
    pub(crate) const ALL: [Table; 5] = [
        Table::Schedule,
        Table::Payments,
        Table::Borrowers,
        Table::Contacts,
        Table::Truth,
    ];

    /// The file name inside the output directory.
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            Table::Schedule => "schedule.parquet",
            Table::Payments => "payments.parquet",
            Table::Borrowers => "borrowers.parquet",
            Table::Contacts => "contacts.parquet",
            Table::Truth => "truth.parquet",
        }
    }

    /// The table's Arrow schema.
    pub(crate) fn schema(self) -> SchemaRef {
        let f = Field::new;
        let fields = match self {
            Table::Schedule => vec![
                f("borrower_id", DataType::Int64, false),
                f("loan_id", DataType::Int64, false),
                f("due_date", DataType::Date32, false),
                f("amount_due", DataType::Float64, false),
            ],
            Table::Payments => vec![
                f("borrower_id", DataType::Int64, false),
                f("loan_id", DataType::Int64, true),
                f("paid_date", DataType::Date32, false),
                f("amount", DataType::Float64, false),
            ],
            Table::Borrowers => vec![
                f("borrower_id", DataType::Int64, false),
                f("hardship", DataType::Boolean, false),
                f("dispute", DataType::Boolean, false),
                f("do_not_contact", DataType::Boolean, false),
                f("credit_limit", DataType::Float64, false),
                f("income", DataType::Float64, true),
                f("age", DataType::Int32, false),
            ],
            Table::Contacts => vec![
                f("borrower_id", DataType::Int64, false),
                f(
                    "contact_time",
                    DataType::Timestamp(TimeUnit::Microsecond, None),
                    false,
                ),
                f("channel", DataType::Utf8, false),
                f("outcome", DataType::Utf8, false),
                f("promise_amount", DataType::Float64, true),
                f("promise_date", DataType::Date32, true),
            ],
            Table::Truth => vec![
                f("borrower_id", DataType::Int64, false),
                f("p_repay", DataType::Float64, false),
                f("ability", DataType::Float64, false),
                f("willingness", DataType::Float64, false),
                f("ever_shock", DataType::Boolean, false),
                f("in_shock_at_end", DataType::Boolean, false),
            ],
        };
        Arc::new(Schema::new(fields))
    }
}

/// Contact channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Sms,
    Call,
    Visit,
    Letter,
    Email,
    App,
}

impl Channel {
    /// The value written to `contacts.channel`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Call => "call",
            Channel::Visit => "visit",
            Channel::Letter => "letter",
            Channel::Email => "email",
            Channel::App => "app",
        }
    }

    /// Whether the channel is a conversation (call or visit) rather than a message.
    pub(crate) fn is_voice(self) -> bool {
        matches!(self, Channel::Call | Channel::Visit)
    }
}

/// Contact outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    NoAnswer,
    RightParty,
    PromiseToPay,
    Refused,
    Paid,
    WrongParty,
}

impl Outcome {
    /// The value written to `contacts.outcome`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::NoAnswer => "no_answer",
            Outcome::RightParty => "right_party",
            Outcome::PromiseToPay => "promise_to_pay",
            Outcome::Refused => "refused",
            Outcome::Paid => "paid",
            Outcome::WrongParty => "wrong_party",
        }
    }
}

/// One contact, ready to append.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContactRow {
    /// Microseconds since 1970-01-01T00:00 (naive local time).
    pub time_us: i64,
    pub channel: Channel,
    pub outcome: Outcome,
    /// Promised cents and date, only for `PromiseToPay`.
    pub promise: Option<(i64, Day)>,
}

/// One borrower's static row plus truth row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BorrowerRow {
    pub id: i64,
    pub hardship: bool,
    pub dispute: bool,
    pub do_not_contact: bool,
    pub credit_limit: f64,
    pub income: Option<f64>,
    pub age: i32,
    pub p_repay: f64,
    pub ability: f64,
    pub willingness: f64,
    pub ever_shock: bool,
    pub in_shock_at_end: bool,
}

fn money(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// Column buffers for one chunk of borrowers.
#[derive(Debug, Default)]
pub(crate) struct ChunkColumns {
    s_borrower: Vec<i64>,
    s_loan: Vec<i64>,
    s_due: Vec<i32>,
    s_amount: Vec<f64>,

    p_borrower: Vec<i64>,
    p_loan: Vec<i64>,
    p_loan_valid: Vec<bool>,
    p_date: Vec<i32>,
    p_amount: Vec<f64>,

    b_borrower: Vec<i64>,
    b_hardship: Vec<bool>,
    b_dispute: Vec<bool>,
    b_dnc: Vec<bool>,
    b_limit: Vec<f64>,
    b_income: Vec<f64>,
    b_income_valid: Vec<bool>,
    b_age: Vec<i32>,
    t_p: Vec<f64>,
    t_ability: Vec<f64>,
    t_willingness: Vec<f64>,
    t_ever: Vec<bool>,
    t_end: Vec<bool>,

    c_borrower: Vec<i64>,
    c_time: Vec<i64>,
    c_channel: Vec<Channel>,
    c_outcome: Vec<Outcome>,
    c_amount: Vec<f64>,
    c_date: Vec<i32>,
    c_promise_valid: Vec<bool>,
}

impl ChunkColumns {
    /// Empty buffers sized for `borrowers` borrowers.
    pub(crate) fn with_capacity(borrowers: usize) -> Self {
        let rows = borrowers * 14;
        Self {
            s_borrower: Vec::with_capacity(rows),
            s_loan: Vec::with_capacity(rows),
            s_due: Vec::with_capacity(rows),
            s_amount: Vec::with_capacity(rows),
            p_borrower: Vec::with_capacity(rows),
            p_loan: Vec::with_capacity(rows),
            p_loan_valid: Vec::with_capacity(rows),
            p_date: Vec::with_capacity(rows),
            p_amount: Vec::with_capacity(rows),
            ..Self::default()
        }
    }

    /// Appends one installment.
    pub(crate) fn push_installment(&mut self, borrower: i64, loan: i64, due: Day, cents: i64) {
        self.s_borrower.push(borrower);
        self.s_loan.push(loan);
        self.s_due.push(due);
        self.s_amount.push(money(cents));
    }

    /// Appends one payment (`loan` None = borrower-level payment).
    pub(crate) fn push_payment(&mut self, borrower: i64, loan: Option<i64>, date: Day, cents: i64) {
        self.p_borrower.push(borrower);
        self.p_loan.push(loan.unwrap_or(0));
        self.p_loan_valid.push(loan.is_some());
        self.p_date.push(date);
        self.p_amount.push(money(cents));
    }

    /// Appends one borrower's attributes and truth.
    pub(crate) fn push_borrower(&mut self, r: &BorrowerRow) {
        self.b_borrower.push(r.id);
        self.b_hardship.push(r.hardship);
        self.b_dispute.push(r.dispute);
        self.b_dnc.push(r.do_not_contact);
        self.b_limit.push(r.credit_limit);
        self.b_income.push(r.income.unwrap_or(0.0));
        self.b_income_valid.push(r.income.is_some());
        self.b_age.push(r.age);
        self.t_p.push(r.p_repay);
        self.t_ability.push(r.ability);
        self.t_willingness.push(r.willingness);
        self.t_ever.push(r.ever_shock);
        self.t_end.push(r.in_shock_at_end);
    }

    /// Appends one contact.
    pub(crate) fn push_contact(&mut self, borrower: i64, c: &ContactRow) {
        self.c_borrower.push(borrower);
        self.c_time.push(c.time_us);
        self.c_channel.push(c.channel);
        self.c_outcome.push(c.outcome);
        let (cents, date) = c.promise.unwrap_or((0, 0));
        self.c_amount.push(money(cents));
        self.c_date.push(date);
        self.c_promise_valid.push(c.promise.is_some());
    }

    /// The chunk as one batch per table, in [`Table::ALL`] order.
    pub(crate) fn into_batches(self) -> [RecordBatch; 5] {
        fn batch(table: Table, columns: Vec<ArrayRef>) -> RecordBatch {
            // Invariant: every column vector of a table is pushed exactly once
            // per row and the array types are those of `Table::schema`.
            RecordBatch::try_new(table.schema(), columns).expect("columns match the table schema")
        }
        fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
            Some(NullBuffer::from(valid))
        }
        let schedule = batch(
            Table::Schedule,
            vec![
                Arc::new(Int64Array::from(self.s_borrower)),
                Arc::new(Int64Array::from(self.s_loan)),
                Arc::new(Date32Array::from(self.s_due)),
                Arc::new(Float64Array::from(self.s_amount)),
            ],
        );
        let payments = batch(
            Table::Payments,
            vec![
                Arc::new(Int64Array::from(self.p_borrower)),
                Arc::new(Int64Array::new(
                    self.p_loan.into(),
                    nulls(self.p_loan_valid),
                )),
                Arc::new(Date32Array::from(self.p_date)),
                Arc::new(Float64Array::from(self.p_amount)),
            ],
        );
        let borrowers = batch(
            Table::Borrowers,
            vec![
                Arc::new(Int64Array::from(self.b_borrower.clone())),
                Arc::new(BooleanArray::from(self.b_hardship)),
                Arc::new(BooleanArray::from(self.b_dispute)),
                Arc::new(BooleanArray::from(self.b_dnc)),
                Arc::new(Float64Array::from(self.b_limit)),
                Arc::new(Float64Array::new(
                    self.b_income.into(),
                    nulls(self.b_income_valid),
                )),
                Arc::new(Int32Array::from(self.b_age)),
            ],
        );
        let contacts = batch(
            Table::Contacts,
            vec![
                Arc::new(Int64Array::from(self.c_borrower)),
                Arc::new(TimestampMicrosecondArray::from(self.c_time)),
                Arc::new(StringArray::from_iter_values(
                    self.c_channel.iter().map(|c| c.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    self.c_outcome.iter().map(|o| o.as_str()),
                )),
                Arc::new(Float64Array::new(
                    self.c_amount.into(),
                    nulls(self.c_promise_valid.clone()),
                )),
                Arc::new(Date32Array::new(
                    self.c_date.into(),
                    nulls(self.c_promise_valid),
                )),
            ],
        );
        let truth = batch(
            Table::Truth,
            vec![
                Arc::new(Int64Array::from(self.b_borrower)),
                Arc::new(Float64Array::from(self.t_p)),
                Arc::new(Float64Array::from(self.t_ability)),
                Arc::new(Float64Array::from(self.t_willingness)),
                Arc::new(BooleanArray::from(self.t_ever)),
                Arc::new(BooleanArray::from(self.t_end)),
            ],
        );
        [schedule, payments, borrowers, contacts, truth]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    #[test]
    fn batches_carry_the_table_schemas_and_nulls() {
        let mut c = ChunkColumns::with_capacity(1);
        c.push_installment(1, 11, 100, 12_345);
        c.push_payment(1, None, 101, 500);
        c.push_payment(1, Some(11), 102, -500);
        c.push_borrower(&BorrowerRow {
            id: 1,
            hardship: false,
            dispute: false,
            do_not_contact: true,
            credit_limit: 5000.0,
            income: None,
            age: 30,
            p_repay: 0.9,
            ability: 0.1,
            willingness: -0.2,
            ever_shock: false,
            in_shock_at_end: false,
        });
        c.push_contact(
            1,
            &ContactRow {
                time_us: 86_400_000_000,
                channel: Channel::Call,
                outcome: Outcome::PromiseToPay,
                promise: Some((2_000, 5)),
            },
        );
        let batches = c.into_batches();
        for (table, b) in Table::ALL.iter().zip(&batches) {
            assert_eq!(b.schema(), table.schema(), "{table:?}");
        }
        let amount = batches[0].column(3).as_any().downcast_ref::<Float64Array>();
        assert_eq!(amount.map(|a| a.value(0)), Some(123.45));
        assert_eq!(batches[1].column(1).null_count(), 1);
        assert_eq!(batches[2].column(5).null_count(), 1);
        assert_eq!(batches[3].column(4).null_count(), 0);
    }
}
