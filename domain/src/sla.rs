//! Deadlines: the Circular 17 Art. 7 delivery times of each leg, and the agency's result due date,
//! all counted in working days in Vietnam's time zone (Asia/Ho_Chi_Minh, UTC+07:00).
//!
//! Instants are stored in UTC; a due date is a local calendar date, met if the thing is done by
//! 23:59:59 local time that day.

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use entity::enums::RouteClass;

use crate::calendar::WorkingCalendar;

/// Vietnam's UTC offset in seconds. Asia/Ho_Chi_Minh has kept +07:00, without daylight saving, since 1975.
pub const VN_UTC_OFFSET_SECONDS: i32 = 7 * 3600;

/// Vietnam's offset as a chrono value.
const VN_OFFSET: FixedOffset = match FixedOffset::east_opt(VN_UTC_OFFSET_SECONDS) {
    Some(offset) => offset,
    None => panic!("+07:00 is a valid UTC offset"),
};

/// The hour (local) from which a paper dossier at a one-stop desk counts as received the next working
/// day (Decree 61 Art. 18, carried into Decree 118).
pub const DESK_CUTOFF_HOUR: u32 = 15;

/// How many working days after J (the date on the slip) a leg must arrive, per Circular 17 Art. 7:
/// the first figure for an ordinary send or return, the second when the citizen holds an appointment slip.
pub const fn transit_days(class: RouteClass, with_appointment: bool) -> u32 {
    let base = match class {
        RouteClass::Local => 1,
        RouteClass::IntraProvince => 2,
        RouteClass::InterProvinceMajor => 3,
        RouteClass::InterProvince => 4,
    };
    if with_appointment { base * 2 } else { base }
}

/// The date a leg posted on `j` must arrive by: J + [`transit_days`] working days.
pub fn leg_due_date(
    cal: &WorkingCalendar,
    class: RouteClass,
    with_appointment: bool,
    j: NaiveDate,
) -> NaiveDate {
    cal.add_working_days(j, transit_days(class, with_appointment))
}

/// The instant a leg posted at `posted_at` is due: the end of its due date, local time.
pub fn leg_due_at(
    cal: &WorkingCalendar,
    class: RouteClass,
    with_appointment: bool,
    posted_at: DateTime<Utc>,
) -> DateTime<Utc> {
    end_of_local_day(leg_due_date(
        cal,
        class,
        with_appointment,
        local_date(posted_at),
    ))
}

/// The calendar date of an instant in Vietnam: what a slip or a receipt would show.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    to_local(t).date_naive()
}

/// 23:59:59 local time on `d`, as UTC: the last instant at which a due date `d` is still met.
pub fn end_of_local_day(d: NaiveDate) -> DateTime<Utc> {
    let next_midnight_local = (d + Days::new(1)).and_time(NaiveTime::MIN);
    let next_midnight_utc =
        next_midnight_local - TimeDelta::seconds(i64::from(VN_UTC_OFFSET_SECONDS));
    (next_midnight_utc - TimeDelta::seconds(1)).and_utc()
}

/// Whether something done at `done_at` met the due date `due`: done on or before that local date.
///
/// Compares dates rather than instants, so the fraction of a second after 23:59:59 is still on time.
pub fn is_on_time(done_at: DateTime<Utc>, due: NaiveDate) -> bool {
    local_date(done_at) <= due
}

/// An instant in Vietnam's local time (+07:00), for display and for slips.
pub fn to_local(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&VN_OFFSET)
}

/// The working day a paper receipt at the desk at `t` counts from: the same local date when that is a
/// working day and the time is before 15:00 local, otherwise the next working day.
pub fn desk_receipt_date(cal: &WorkingCalendar, t: DateTime<Utc>) -> NaiveDate {
    let local = to_local(t);
    let date = local.date_naive();
    if cal.is_working_day(date) && local.hour() < DESK_CUTOFF_HOUR {
        date
    } else {
        cal.next_working_day(date)
    }
}

/// The agency's result due date: `processing_days` working days after the desk receipt date of the
/// filing time (the signing of the handover record, Decision 45 Art. 7.4). Zero means a same-day result.
pub fn result_due_date(
    cal: &WorkingCalendar,
    filed_at: DateTime<Utc>,
    processing_days: u32,
) -> NaiveDate {
    cal.add_working_days(desk_receipt_date(cal, filed_at), processing_days)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::{Datelike, TimeZone};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// A local (+07:00) wall-clock time, as UTC.
    fn vn(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        VN_OFFSET
            .with_ymd_and_hms(y, m, day, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Hùng Kings' day 2027 as data: Friday 16 April 2027, making a long weekend.
    fn cal() -> WorkingCalendar {
        WorkingCalendar::new([d(2027, 4, 16)])
    }

    #[test]
    fn transit_days_table() {
        use RouteClass::*;
        let table = [
            (Local, 1, 2),
            (IntraProvince, 2, 4),
            (InterProvinceMajor, 3, 6),
            (InterProvince, 4, 8),
        ];
        for (class, plain, appt) in table {
            assert_eq!(transit_days(class, false), plain, "{class}");
            assert_eq!(transit_days(class, true), appt, "{class}");
        }
        assert_eq!(RouteClass::ALL.len(), table.len());
    }

    #[test]
    fn leg_due_dates_over_a_weekend_and_a_holiday() {
        use RouteClass::*;
        let cal = cal();
        assert_eq!(d(2027, 4, 14).weekday(), chrono::Weekday::Wed);
        // J = Wed 14 Apr 2027. Working days after it: Thu 15, Mon 19, Tue 20, Wed 21, Thu 22,
        // Fri 23, Mon 26, Tue 27 (Fri 16 is the holiday; 17–18 and 24–25 are weekends).
        let j = d(2027, 4, 14);
        let cases = [
            (Local, false, d(2027, 4, 15)),
            (Local, true, d(2027, 4, 19)),
            (IntraProvince, false, d(2027, 4, 19)),
            (IntraProvince, true, d(2027, 4, 21)),
            (InterProvinceMajor, false, d(2027, 4, 20)),
            (InterProvinceMajor, true, d(2027, 4, 23)),
            (InterProvince, false, d(2027, 4, 21)),
            (InterProvince, true, d(2027, 4, 27)),
        ];
        for (class, appt, due) in cases {
            assert_eq!(leg_due_date(&cal, class, appt, j), due, "{class} {appt}");
        }
        // Without the holiday everything would be one day earlier or equal.
        let plain = WorkingCalendar::default();
        assert_eq!(leg_due_date(&plain, Local, true, j), d(2027, 4, 16));
        // J on a Saturday: J+1 is Monday.
        assert_eq!(
            leg_due_date(&cal, Local, false, d(2027, 4, 10)),
            d(2027, 4, 12)
        );
    }

    #[test]
    fn leg_due_at_uses_local_date_of_posting() {
        let cal = cal();
        // 23:30 local on Wed 14 Apr is 16:30 UTC the same day; 00:30 local Thu 15 is 17:30 UTC Wed.
        let late_wed = vn(2027, 4, 14, 23, 30);
        let early_thu = vn(2027, 4, 15, 0, 30);
        assert_eq!(late_wed.date_naive(), early_thu.date_naive());
        assert_eq!(
            leg_due_at(&cal, RouteClass::Local, false, late_wed),
            end_of_local_day(d(2027, 4, 15))
        );
        assert_eq!(
            leg_due_at(&cal, RouteClass::Local, false, early_thu),
            end_of_local_day(d(2027, 4, 19))
        );
    }

    #[test]
    fn local_dates_and_day_ends() {
        let t = Utc.with_ymd_and_hms(2027, 4, 14, 16, 59, 59).unwrap();
        assert_eq!(local_date(t), d(2027, 4, 14));
        assert_eq!(local_date(t + TimeDelta::seconds(1)), d(2027, 4, 15));
        assert_eq!(end_of_local_day(d(2027, 4, 14)), t);
        assert_eq!(to_local(t).to_rfc3339(), "2027-04-14T23:59:59+07:00");
        assert!(is_on_time(t, d(2027, 4, 14)));
        assert!(is_on_time(t + TimeDelta::milliseconds(500), d(2027, 4, 14)));
        assert!(!is_on_time(t + TimeDelta::seconds(1), d(2027, 4, 14)));
    }

    #[test]
    fn fixed_offset_agrees_with_the_tz_database() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let mut t = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2035, 1, 1, 0, 0, 0).unwrap();
        while t < end {
            assert_eq!(local_date(t), t.with_timezone(&tz).date_naive(), "{t}");
            t += TimeDelta::hours(7 * 24 + 5);
        }
    }

    #[test]
    fn desk_cutoff_at_three_pm() {
        let cal = cal();
        // Wed 14 Apr 2027.
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 4, 14, 14, 59)),
            d(2027, 4, 14)
        );
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 4, 14, 15, 0)),
            d(2027, 4, 15)
        );
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 4, 14, 8, 0)),
            d(2027, 4, 14)
        );
        // Thu 15 after 15:00 → Fri 16 is the holiday → Mon 19.
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 4, 15, 15, 0)),
            d(2027, 4, 19)
        );
        // On the holiday morning or a Saturday morning → Monday.
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 4, 16, 9, 0)),
            d(2027, 4, 19)
        );
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 4, 17, 9, 0)),
            d(2027, 4, 19)
        );
        // 01:00 local Thursday is still Wednesday in UTC; the local date wins.
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 4, 15, 1, 0)),
            d(2027, 4, 15)
        );
    }

    #[test]
    fn result_due_dates() {
        let cal = cal();
        // Filed Wed 14 Apr 14:59, 3 working days → Thu 15, Mon 19, Tue 20.
        assert_eq!(
            result_due_date(&cal, vn(2027, 4, 14, 14, 59), 3),
            d(2027, 4, 20)
        );
        // Filed at 15:00 counts from Thu 15 → Mon 19, Tue 20, Wed 21.
        assert_eq!(
            result_due_date(&cal, vn(2027, 4, 14, 15, 0), 3),
            d(2027, 4, 21)
        );
        // Same-day result.
        assert_eq!(
            result_due_date(&cal, vn(2027, 4, 14, 10, 0), 0),
            d(2027, 4, 14)
        );
        assert_eq!(
            result_due_date(&cal, vn(2027, 4, 14, 16, 0), 0),
            d(2027, 4, 15)
        );
    }
}
