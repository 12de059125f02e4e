//! Calendar dates as Arrow stores them: whole days since 1970-01-01 (`Date32`).
//!
//! dunning does all its date arithmetic on these day numbers; this module only
//! converts between them, text and chrono. It knows nothing of the ledger.

use chrono::{Datelike, NaiveDate};

/// Days since 1970-01-01, the unit of Arrow's `Date32`.
pub type Day = i32;

const EPOCH_CE_DAYS: i32 = 719_163; // NaiveDate::from_ymd(1970,1,1).num_days_from_ce()

/// The day number of a chrono date.
pub fn from_naive(d: NaiveDate) -> Day {
    d.num_days_from_ce() - EPOCH_CE_DAYS
}

/// The chrono date of a day number (None when out of chrono's range).
pub fn to_naive(day: Day) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(day.checked_add(EPOCH_CE_DAYS)?)
}

/// Parses an ISO date `YYYY-MM-DD`.
pub fn parse(text: &str) -> Option<Day> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .map(from_naive)
}

/// Formats a day number as `YYYY-MM-DD` (or the raw number when out of range).
pub fn format(day: Day) -> String {
    match to_naive(day) {
        Some(d) => d.format("%Y-%m-%d").to_string(),
        None => format!("day {day}"),
    }
}

/// The day number of a calendar date; panics on an invalid date (for constants and tests).
pub fn ymd(y: i32, m: u32, d: u32) -> Day {
    from_naive(NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_round_trip() {
        assert_eq!(ymd(1970, 1, 1), 0);
        assert_eq!(ymd(1970, 1, 2), 1);
        assert_eq!(ymd(2000, 3, 1), 11_017);
        assert_eq!(parse("2025-11-30"), Some(ymd(2025, 11, 30)));
        assert_eq!(format(ymd(2024, 2, 29)), "2024-02-29");
        assert_eq!(parse("2025-02-30"), None);
        assert_eq!(parse("yesterday"), None);
    }
}
