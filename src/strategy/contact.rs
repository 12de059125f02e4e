//! Contact-frequency limits: how many calls a borrower may still get, and when.
//!
//! The nightly run for as-of date T sees the contacts recorded up to the end
//! of T and plans the next day's work, so limits are evaluated for the action
//! day D = T + 1. Limits count voice calls (`call` contacts); other channels
//! are only bound by the contact window. Rule packs:
//!
//! - `cn`: no contact 22:00-08:00; at most 3 effective conversations
//!   (right-party calls) per borrower per day; at most 6 call attempts per
//!   day to an unanswered number.
//! - `us` (after Regulation F): at most 7 call attempts in 7 consecutive days;
//!   no call for 7 days after a conversation, the day of the conversation
//!   being the first of them; no contact before 08:00 or after 21:00.
//!
//! Custom limits take the same numbers from the strategy file.

use serde::Deserialize;

use crate::contract::{Channel, Contact};
use crate::dates::Day;

/// Limits on contacting one borrower.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactRules {
    /// First local hour contacts are allowed (inclusive), 0-23.
    pub window_start_hour: u8,
    /// Hour from which contacts are no longer allowed (exclusive), 1-24.
    pub window_end_hour: u8,
    /// Most call attempts per day.
    pub max_calls_per_day: Option<u32>,
    /// Most effective conversations (right-party calls) per day.
    pub max_conversations_per_day: Option<u32>,
    /// Most call attempts in any 7 consecutive days.
    pub max_calls_per_7_days: Option<u32>,
    /// Days without calls after a conversation, counting its own day.
    pub quiet_days_after_conversation: Option<u32>,
}

impl ContactRules {
    /// A named rule pack: `cn` or `us`.
    pub fn pack(name: &str) -> Option<Self> {
        match name {
            "cn" => Some(Self {
                window_start_hour: 8,
                window_end_hour: 22,
                max_calls_per_day: Some(6),
                max_conversations_per_day: Some(3),
                max_calls_per_7_days: None,
                quiet_days_after_conversation: None,
            }),
            "us" => Some(Self {
                window_start_hour: 8,
                window_end_hour: 21,
                max_calls_per_day: None,
                max_conversations_per_day: None,
                max_calls_per_7_days: Some(7),
                quiet_days_after_conversation: Some(7),
            }),
            _ => None,
        }
    }

    /// Checks the numbers; returns what is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.window_start_hour >= self.window_end_hour || self.window_end_hour > 24 {
            return Err(format!(
                "contact window {}:00-{}:00 is empty or beyond midnight",
                self.window_start_hour, self.window_end_hour
            ));
        }
        Ok(())
    }
}

/// A borrower's contact allowance on the action day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactStatus {
    /// Calls still allowed on the action day.
    pub calls_left_today: u32,
    /// The first day (on or after the action day) a call is allowed.
    pub next_call_date: Day,
    /// The action day itself.
    pub action_day: Day,
}

/// Evaluates `rules` for `day` from the borrower's `contacts` (sorted by time;
/// only those before `day` are used).
pub fn status(rules: &ContactRules, contacts: &[Contact], day: Day) -> ContactStatus {
    // The cuts are found from the end, walking memory backwards in order:
    // the nightly run's contacts all precede the action day, so the first
    // is found at once, and the second after the last week's contacts. (A
    // binary search jumps about a borrower's contacts, which are not in
    // the cache by now: it cost several times more.) `contacts` are sorted
    // by time, hence by day.
    let past = &contacts[..contacts
        .iter()
        .rposition(|c| c.day < day)
        .map_or(0, |i| i + 1)];
    // A limit on a day d (from `day` on) counts the calls on d and in the
    // 7 days up to d: of the past calls, only those after `day - 7` can
    // count towards any of them. The last conversation may be older.
    let recent = &past[past
        .iter()
        .rposition(|c| c.day <= day - 7)
        .map_or(0, |i| i + 1)..];
    let last_talk = last_conversation(past);
    let left_on = |d: Day| calls_left_on(rules, recent, last_talk, d);
    let calls_left_today = left_on(day);
    // Past data only shrinks with time, so within 31 days a call is allowed.
    let next_call_date = if calls_left_today > 0 {
        day
    } else {
        (day + 1..day + 31)
            .find(|&d| left_on(d) > 0)
            .unwrap_or(day + 31)
    };
    ContactStatus {
        calls_left_today,
        next_call_date,
        action_day: day,
    }
}

/// The day of the borrower's last conversation (right-party call) among `past`.
fn last_conversation(past: &[Contact]) -> Option<Day> {
    past.iter()
        .rev()
        .find(|c| c.channel == Channel::Call && c.outcome.is_right_party())
        .map(|c| c.day)
}

/// Calls allowed on day `d` under `rules`, given the `recent` contacts (those
/// that can count towards a limit on `d`) and the last conversation's day.
fn calls_left_on(rules: &ContactRules, recent: &[Contact], last_talk: Option<Day>, d: Day) -> u32 {
    let calls = || recent.iter().filter(|c| c.channel == Channel::Call);
    let mut left = u32::MAX;
    let on_day = calls().filter(|c| c.day == d).count() as u32;
    if let Some(m) = rules.max_calls_per_day {
        left = left.min(m.saturating_sub(on_day));
    }
    if let Some(m) = rules.max_conversations_per_day {
        let talks = calls()
            .filter(|c| c.day == d && c.outcome.is_right_party())
            .count() as u32;
        if talks >= m {
            left = 0;
        }
    }
    if let Some(m) = rules.max_calls_per_7_days {
        let recent = calls().filter(|c| c.day > d - 7 && c.day <= d).count() as u32;
        left = left.min(m.saturating_sub(recent));
    }
    if let Some(q) = rules.quiet_days_after_conversation {
        if last_talk.is_some_and(|t| d < t + q as Day) {
            left = 0;
        }
    }
    if left == u32::MAX {
        // No numeric limit: report the largest count a day can hold.
        left = u32::from(rules.window_end_hour - rules.window_start_hour) * 60;
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Outcome;
    use crate::dates::ymd;

    fn call(day: Day, outcome: Outcome) -> Contact {
        Contact::new(
            0,
            i64::from(day) * 86_400_000_000 + 36_000_000_000,
            day,
            Channel::Call,
            outcome,
            None,
            None,
        )
    }

    #[test]
    fn us_seven_calls_in_seven_days() {
        let us = ContactRules::pack("us").unwrap();
        let d = ymd(2025, 3, 10);
        // Six unanswered calls on Mar 4..Mar 9: one left on Mar 10.
        // (Contacts come sorted by time, as the ledger holds them.)
        let c: Vec<Contact> = (1..=6)
            .rev()
            .map(|k| call(d - k, Outcome::NoAnswer))
            .collect();
        assert_eq!(
            status(&us, &c, d),
            ContactStatus {
                calls_left_today: 1,
                next_call_date: d,
                action_day: d
            }
        );
        // Seven calls on Mar 3..Mar 9: the 7-day window of Mar 10 is
        // Mar 4..Mar 10, which holds six of them, so one call is left.
        let c: Vec<Contact> = (0..=6)
            .rev()
            .map(|k| call(d - 1 - k, Outcome::NoAnswer))
            .collect();
        assert_eq!(status(&us, &c, d).calls_left_today, 1);
        // Seven calls on Mar 4..Mar 9 (two on Mar 9): none left until Mar 11.
        let mut c: Vec<Contact> = (1..=6).map(|k| call(d - k, Outcome::NoAnswer)).collect();
        c.push(call(d - 1, Outcome::NoAnswer));
        c.sort_by_key(|x| x.time);
        let s = status(&us, &c, d);
        assert_eq!((s.calls_left_today, s.next_call_date), (0, d + 1));
    }

    #[test]
    fn us_no_call_for_seven_days_after_a_conversation() {
        let us = ContactRules::pack("us").unwrap();
        let talk = ymd(2025, 3, 3);
        let c = vec![call(talk, Outcome::RightParty)];
        // Mar 3 is day 1 of 7: calls are barred through Mar 9, allowed Mar 10.
        let s = status(&us, &c, talk + 1);
        assert_eq!((s.calls_left_today, s.next_call_date), (0, talk + 7));
        assert!(status(&us, &c, talk + 7).calls_left_today > 0);
    }

    #[test]
    fn cn_daily_limits_and_window() {
        let cn = ContactRules::pack("cn").unwrap();
        assert_eq!((cn.window_start_hour, cn.window_end_hour), (8, 22));
        let d = ymd(2025, 3, 10);
        // Yesterday's calls do not count against today.
        let c: Vec<Contact> = (0..6).map(|_| call(d - 1, Outcome::NoAnswer)).collect();
        assert_eq!(status(&cn, &c, d).calls_left_today, 6);
        assert!(ContactRules::pack("xx").is_none());
    }

    /// The definition, as first written: binary searches for the cuts and
    /// every day tried from the action day.
    fn status_by_definition(rules: &ContactRules, contacts: &[Contact], day: Day) -> ContactStatus {
        let past = &contacts[..contacts.partition_point(|c| c.day < day)];
        let recent = &past[past.partition_point(|c| c.day <= day - 7)..];
        let last_talk = last_conversation(past);
        let left_on = |d: Day| calls_left_on(rules, recent, last_talk, d);
        ContactStatus {
            calls_left_today: left_on(day),
            next_call_date: (day..day + 31)
                .find(|&d| left_on(d) > 0)
                .unwrap_or(day + 31),
            action_day: day,
        }
    }

    proptest::proptest! {
        #[test]
        fn status_is_its_definition(
            days in proptest::collection::vec((0i32..40, 0u8..4, 0u8..3), 0..30),
            limits in (
                proptest::option::of(0u32..8),
                proptest::option::of(0u32..4),
                proptest::option::of(0u32..10),
                proptest::option::of(0u32..12),
            ),
            day in 0i32..45,
        ) {
            let base = ymd(2025, 3, 1);
            let mut c: Vec<Contact> = days
                .iter()
                .map(|&(d, ch, oc)| {
                    let channel = [Channel::Call, Channel::Call, Channel::Sms, Channel::Letter][ch as usize];
                    let outcome = [Outcome::NoAnswer, Outcome::RightParty, Outcome::PromiseToPay][oc as usize];
                    let mut x = call(base + d, outcome);
                    x.channel = channel;
                    x
                })
                .collect();
            c.sort_by_key(|x| x.time);
            let rules = ContactRules {
                window_start_hour: 8,
                window_end_hour: 21,
                max_calls_per_day: limits.0,
                max_conversations_per_day: limits.1,
                max_calls_per_7_days: limits.2,
                quiet_days_after_conversation: limits.3,
            };
            let day = base + day;
            proptest::prop_assert_eq!(status(&rules, &c, day), status_by_definition(&rules, &c, day));
        }
    }

    #[test]
    fn rejects_an_empty_window() {
        let mut r = ContactRules::pack("cn").unwrap();
        r.window_end_hour = 8;
        assert!(r.check().is_err());
    }
}
