//! Fast civil-calendar arithmetic on [`Day`] numbers for the generator's hot path.
//!
//! The generator adds months to dates and asks for weekdays millions of times;
//! these pure integer routines (Howard Hinnant's `days_from_civil` /
//! `civil_from_days`) do that without going through chrono or returning
//! `Option`s. They are only called with dates the generator has already
//! range-checked (see `generate::validate`). This module does not parse or
//! format dates; `crate::dates` does that.

use crate::dates::Day;

/// The `(year, month 1-12, day 1-31)` of a day number.
pub(crate) fn civil(day: Day) -> (i32, u32, u32) {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = if m <= 2 { y + 1 } else { y };
    (y as i32, m as u32, d as u32)
}

/// The day number of a valid civil date.
pub(crate) fn day_of(y: i32, m: u32, d: u32) -> Day {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // [0, 11]
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    (era * 146_097 + doe - 719_468) as Day
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The number of days in month `m` (1-12) of year `y`.
pub(crate) fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// `day` moved by `months` calendar months, the day of month clamped to the
/// length of the target month (Jan 31 + 1 month = Feb 28 or 29).
pub(crate) fn add_months(day: Day, months: i32) -> Day {
    let (y, m, d) = civil(day);
    let index = y * 12 + (m as i32 - 1) + months;
    let (ty, tm) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    day_of(ty, tm, d.min(days_in_month(ty, tm)))
}

/// Day of the week, 0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday).
pub(crate) fn weekday(day: Day) -> u32 {
    (i64::from(day) + 3).rem_euclid(7) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::{self, ymd};
    use chrono::{Datelike, Months};

    #[test]
    fn civil_round_trips_and_matches_chrono() {
        for day in ymd(1899, 12, 1)..ymd(2101, 2, 1) {
            let (y, m, d) = civil(day);
            let n = dates::to_naive(day).expect("in chrono's range");
            assert_eq!((y, m, d), (n.year(), n.month(), n.day()), "day {day}");
            assert_eq!(day_of(y, m, d), day);
            assert_eq!(weekday(day), n.weekday().num_days_from_monday());
        }
    }

    #[test]
    fn add_months_clamps_like_chrono() {
        for day in ymd(2019, 1, 1)..ymd(2027, 1, 1) {
            let n = dates::to_naive(day).expect("in range");
            for k in [1, 2, 6, 12, 24, 36, -1, -24] {
                let want = if k >= 0 {
                    n.checked_add_months(Months::new(k as u32))
                } else {
                    n.checked_sub_months(Months::new((-k) as u32))
                }
                .expect("in range");
                assert_eq!(add_months(day, k), dates::from_naive(want), "{n} + {k}");
            }
        }
        assert_eq!(add_months(ymd(2024, 1, 31), 1), ymd(2024, 2, 29));
        assert_eq!(add_months(ymd(2025, 12, 31), -24), ymd(2023, 12, 31));
    }
}
