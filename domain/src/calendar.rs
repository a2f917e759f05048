//! Working days: Monday to Friday, less the public holidays an administrator has entered, plus the
//! make-up working days (a Saturday or Sunday worked in exchange for a weekday off).
//!
//! Every deadline in Circular 17 Art. 7 and in the agencies' processing times is counted in working
//! days. Holidays (Tết, Hùng Kings' day, …) follow the lunar calendar and are announced each year, so
//! they are data handed to [`WorkingCalendar::new`], never dates written in the code.

use std::collections::BTreeSet;
use std::ops::Bound;

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The set of public holidays, with the rules for counting working days around them.
///
/// Build one per request (or cache it) from the `holiday` table; it is cheap to clone and query.
#[derive(Debug, Clone, Default)]
pub struct WorkingCalendar {
    holidays: BTreeSet<NaiveDate>,
    /// Weekend days declared working days.
    make_up_days: BTreeSet<NaiveDate>,
}

/// Whether `d` falls on Saturday or Sunday.
fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The day after `d`.
fn succ(d: NaiveDate) -> NaiveDate {
    d + Days::new(1)
}

impl WorkingCalendar {
    /// A calendar with these public holidays (duplicates and weekend dates are harmless).
    pub fn new(holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        WorkingCalendar {
            holidays: holidays.into_iter().collect(),
            make_up_days: BTreeSet::new(),
        }
    }

    /// This calendar with these make-up working days; a weekday among them changes nothing, and a
    /// date that is also a holiday stays a day off.
    pub fn with_make_up_days(mut self, days: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.make_up_days = days.into_iter().filter(|d| is_weekend(*d)).collect();
        self
    }

    /// Whether `d` is a weekend day declared a working day.
    pub fn is_make_up_day(&self, d: NaiveDate) -> bool {
        self.make_up_days.contains(&d)
    }

    /// Whether `d` is a public holiday in this calendar (whatever its weekday).
    pub fn is_holiday(&self, d: NaiveDate) -> bool {
        self.holidays.contains(&d)
    }

    /// The holidays, in date order, for display and for checks.
    pub fn holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.iter().copied()
    }

    /// Whether the post and the agencies work on `d`: Monday to Friday and not a holiday.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        (!is_weekend(d) || self.is_make_up_day(d)) && !self.is_holiday(d)
    }

    /// The first working day strictly after `d`.
    pub fn next_working_day(&self, d: NaiveDate) -> NaiveDate {
        let mut day = succ(d);
        while !self.is_working_day(day) {
            day = succ(day);
        }
        day
    }

    /// `d` itself if it is a working day, else the next one: where a receipt on a day off counts from.
    pub fn this_or_next_working_day(&self, d: NaiveDate) -> NaiveDate {
        if self.is_working_day(d) {
            d
        } else {
            self.next_working_day(d)
        }
    }

    /// J + n: the n-th working day strictly after `start`. With n = 0, `start` itself when it is a
    /// working day, otherwise the next working day.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        if n == 0 {
            return self.this_or_next_working_day(start);
        }
        let mut day = start;
        for _ in 0..n {
            day = self.next_working_day(day);
        }
        day
    }

    /// The number of working days in (`from`, `to`]: how many working days `to` lies after `from`.
    /// When `to` is before `from` the answer is the negative count of working days in (`to`, `from`],
    /// and 0 when they are equal, so `between(a, b) == -between(b, a)`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return -self.working_days_between(to, from);
        }
        let days = (to - from).num_days();
        let mut count = days / 7 * 5;
        // The remaining partial week, at most six days, just after `from`.
        let mut day = from;
        for _ in 0..days % 7 {
            day = succ(day);
            if !is_weekend(day) {
                count += 1;
            }
        }
        let holidays_on_weekdays = self
            .holidays
            .range((Bound::Excluded(from), Bound::Included(to)))
            .filter(|&&h| !is_weekend(h))
            .count();
        let make_up_days = self
            .make_up_days
            .range((Bound::Excluded(from), Bound::Included(to)))
            .filter(|&&m| !self.is_holiday(m))
            .count();
        // A BTreeSet range cannot hold more dates than the span, which fits in i64.
        count - i64::try_from(holidays_on_weekdays).unwrap_or(i64::MAX)
            + i64::try_from(make_up_days).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// Tết 2027 as an administrator would enter it: Fri 5 Feb to Thu 11 Feb 2027.
    fn tet_2027() -> WorkingCalendar {
        let start = d(2027, 2, 5);
        WorkingCalendar::new((0..7).map(|i| start + Days::new(i)))
    }

    #[test]
    fn a_make_up_saturday_is_a_working_day_and_moves_due_dates_earlier() {
        // Fri 1 Jan 2027 and Mon 4 Jan off; Sat 9 Jan 2027 worked instead.
        let cal = WorkingCalendar::new([d(2027, 1, 1)]).with_make_up_days([d(2027, 1, 9)]);
        assert!(cal.is_working_day(d(2027, 1, 9)));
        assert!(!cal.is_working_day(d(2027, 1, 10)));
        // J = Thu 7 Jan: J+2 is Sat 9 Jan (worked), not Mon 11 Jan.
        assert_eq!(cal.add_working_days(d(2027, 1, 7), 2), d(2027, 1, 9));
        assert_eq!(cal.working_days_between(d(2027, 1, 7), d(2027, 1, 11)), 3);
        assert_eq!(cal.working_days_between(d(2027, 1, 11), d(2027, 1, 7)), -3);
        // A weekday given as a make-up day changes nothing; a holiday on one stays off.
        let odd =
            WorkingCalendar::new([d(2027, 1, 9)]).with_make_up_days([d(2027, 1, 9), d(2027, 1, 6)]);
        assert!(!odd.is_working_day(d(2027, 1, 9)));
        assert_eq!(odd.working_days_between(d(2027, 1, 4), d(2027, 1, 11)), 5);
    }

    #[test]
    fn weekdays_and_weekends() {
        let cal = WorkingCalendar::default();
        // 2027-01-04 is a Monday.
        assert_eq!(d(2027, 1, 4).weekday(), Weekday::Mon);
        for i in 0..5 {
            assert!(cal.is_working_day(d(2027, 1, 4 + i)));
        }
        assert!(!cal.is_working_day(d(2027, 1, 9)));
        assert!(!cal.is_working_day(d(2027, 1, 10)));
    }

    #[test]
    fn holidays_are_not_working_days() {
        let cal = tet_2027();
        assert!(cal.is_working_day(d(2027, 2, 4)));
        for day in 5..=11 {
            assert!(!cal.is_working_day(d(2027, 2, day)), "{day}");
            assert!(cal.is_holiday(d(2027, 2, day)));
        }
        assert!(cal.is_working_day(d(2027, 2, 12)));
        assert_eq!(cal.holidays().count(), 7);
    }

    #[test]
    fn next_working_day_skips_weekend_and_tet() {
        let plain = WorkingCalendar::default();
        // Friday → Monday.
        assert_eq!(plain.next_working_day(d(2027, 1, 8)), d(2027, 1, 11));
        // Saturday → Monday; Monday → Tuesday (strictly after).
        assert_eq!(plain.next_working_day(d(2027, 1, 9)), d(2027, 1, 11));
        assert_eq!(plain.next_working_day(d(2027, 1, 11)), d(2027, 1, 12));
        let cal = tet_2027();
        // Thursday before Tết → Friday after Tết.
        assert_eq!(cal.next_working_day(d(2027, 2, 4)), d(2027, 2, 12));
        assert_eq!(cal.next_working_day(d(2027, 2, 7)), d(2027, 2, 12));
    }

    #[test]
    fn add_working_days_counts_j_plus_n() {
        let plain = WorkingCalendar::default();
        // J = Thursday 2027-01-07: J+1 Friday, J+2 Monday, J+4 Wednesday.
        assert_eq!(plain.add_working_days(d(2027, 1, 7), 1), d(2027, 1, 8));
        assert_eq!(plain.add_working_days(d(2027, 1, 7), 2), d(2027, 1, 11));
        assert_eq!(plain.add_working_days(d(2027, 1, 7), 4), d(2027, 1, 13));
        // J on a Saturday: J+1 is Monday.
        assert_eq!(plain.add_working_days(d(2027, 1, 9), 1), d(2027, 1, 11));
        // n = 0.
        assert_eq!(plain.add_working_days(d(2027, 1, 7), 0), d(2027, 1, 7));
        assert_eq!(plain.add_working_days(d(2027, 1, 9), 0), d(2027, 1, 11));

        let cal = tet_2027();
        // J = Wed 3 Feb: J+1 Thu 4, J+2 Fri 12 (Tết + weekend), J+3 Mon 15.
        assert_eq!(cal.add_working_days(d(2027, 2, 3), 1), d(2027, 2, 4));
        assert_eq!(cal.add_working_days(d(2027, 2, 3), 2), d(2027, 2, 12));
        assert_eq!(cal.add_working_days(d(2027, 2, 3), 3), d(2027, 2, 15));
        assert_eq!(cal.add_working_days(d(2027, 2, 8), 0), d(2027, 2, 12));
        // Ten working days from Mon 1 Feb: 2,3,4,12,15,16,17,18,19,22.
        assert_eq!(cal.add_working_days(d(2027, 2, 1), 10), d(2027, 2, 22));
    }

    #[test]
    fn working_days_between_matches_day_by_day_count() {
        let cal = tet_2027();
        assert_eq!(cal.working_days_between(d(2027, 2, 3), d(2027, 2, 12)), 2);
        assert_eq!(cal.working_days_between(d(2027, 2, 1), d(2027, 2, 22)), 10);
        assert_eq!(cal.working_days_between(d(2027, 2, 22), d(2027, 2, 1)), -10);
        assert_eq!(cal.working_days_between(d(2027, 2, 5), d(2027, 2, 5)), 0);
        // Friday to Saturday: nothing worked.
        assert_eq!(cal.working_days_between(d(2027, 1, 8), d(2027, 1, 9)), 0);

        // Brute force over every pair in a window around Tết, with a weekend holiday thrown in.
        let cal = WorkingCalendar::new(cal.holidays().chain([d(2027, 1, 16), d(2027, 3, 3)]));
        let start = d(2027, 1, 1);
        let days: Vec<NaiveDate> = (0..90).map(|i| start + Days::new(i)).collect();
        for &a in &days {
            for &b in &days {
                let (lo, hi, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
                let brute = days
                    .iter()
                    .filter(|&&x| x > lo && x <= hi && cal.is_working_day(x))
                    .count() as i64;
                assert_eq!(cal.working_days_between(a, b), sign * brute, "{a} {b}");
            }
        }
    }

    #[test]
    fn add_and_between_agree() {
        let cal = tet_2027();
        let start = d(2027, 1, 25);
        for i in 0..20 {
            let j = start + Days::new(i);
            for n in 1..15 {
                let due = cal.add_working_days(j, n);
                assert_eq!(cal.working_days_between(j, due), i64::from(n), "{j} +{n}");
                assert!(cal.is_working_day(due));
            }
        }
    }
}
