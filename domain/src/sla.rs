//! Deadlines: the Circular 17 Art. 7 delivery times of each leg, and the agency's result due date,
//! all counted in working days in Vietnam's time zone (Asia/Ho_Chi_Minh, UTC+07:00).
//!
//! Instants are stored in UTC; a due date is a local calendar date, met if the thing is done by
//! 23:59:59 local time that day.

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Utc};
use entity::enums::{DossierStatus, LegStatus, RouteClass};

use crate::calendar::WorkingCalendar;

/// Vietnam's UTC offset in seconds. Asia/Ho_Chi_Minh has kept +07:00, without daylight saving, since 1975.
pub const VN_UTC_OFFSET_SECONDS: i32 = 7 * 3600;

/// Vietnam's offset as a chrono value.
const VN_OFFSET: FixedOffset = match FixedOffset::east_opt(VN_UTC_OFFSET_SECONDS) {
    Some(offset) => offset,
    None => panic!("+07:00 is a valid UTC offset"),
};

/// The hour (local) after which a paper dossier at a one-stop desk counts as received the next working
/// day (Decree 61 Art. 18, carried into Decree 118).
pub const DESK_CUTOFF_HOUR: u32 = 15;

/// The desk's cut-off as a local time, 15:00:00: received at it is still received that day; any
/// instant after it (15:00:00.001 included) counts from the next working day.
pub const DESK_CUTOFF: NaiveTime = match NaiveTime::from_hms_opt(DESK_CUTOFF_HOUR, 0, 0) {
    Some(t) => t,
    None => panic!("15:00:00 is a valid time"),
};

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
/// working day and the time is not after 15:00:00 local ([`DESK_CUTOFF`]), otherwise the next working
/// day ("received after 15:00").
pub fn desk_receipt_date(cal: &WorkingCalendar, t: DateTime<Utc>) -> NaiveDate {
    let local = to_local(t);
    let date = local.date_naive();
    if cal.is_working_day(date) && local.time() <= DESK_CUTOFF {
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

/// The statuses in which the agency's result deadline runs: the dossier is at the desk and its result
/// (or written refusal) is not ready yet. Outside them a passed `result_due_at` is not overdue. The
/// clock stops while the agency waits for supplements (`supplement_requested`): processing time
/// counts from a complete dossier, and starts anew when the supplement is filed.
pub const RESULT_CLOCK_STATUSES: &[DossierStatus] = &[
    DossierStatus::ReceivedByAgency,
    DossierStatus::Processing,
    DossierStatus::AwaitingResult,
];

/// The parcel statuses in which a delivery deadline can still be missed: not yet delivered, handed over,
/// returned or cancelled.
pub const LEG_OPEN_STATUSES: &[LegStatus] = &[
    LegStatus::Planned,
    LegStatus::PickupScheduled,
    LegStatus::PickupFailed,
    LegStatus::PickedUp,
    LegStatus::InTransit,
    LegStatus::OutForDelivery,
    LegStatus::DeliveryFailed,
];

/// Whether the agency's result deadline `due` has passed at `now` with the result not ready.
pub fn result_overdue(
    status: DossierStatus,
    due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    RESULT_CLOCK_STATUSES.contains(&status) && due.is_some_and(|due| due < now)
}

/// Whether a parcel's delivery deadline `due` has passed at `now` with the parcel still on its way.
pub fn leg_overdue(status: LegStatus, due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    LEG_OPEN_STATUSES.contains(&status) && due.is_some_and(|due| due < now)
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
            desk_receipt_date(&cal, vn(2027, 4, 14, 15, 1)),
            d(2027, 4, 15)
        );
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 4, 14, 8, 0)),
            d(2027, 4, 14)
        );
        // Thu 15 after 15:00 → Fri 16 is the holiday → Mon 19.
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 4, 15, 15, 1)),
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

    /// A local (+07:00) wall-clock time to the second, as UTC.
    fn vn_s(y: i32, m: u32, day: u32, h: u32, min: u32, sec: u32) -> DateTime<Utc> {
        VN_OFFSET
            .with_ymd_and_hms(y, m, day, h, min, sec)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn received_at_three_pm_sharp_is_still_that_day() {
        let cal = cal();
        // Wed 14 Apr 2027: "after 15:00" moves to Thu 15; 15:00:00 itself is not after it.
        assert_eq!(
            desk_receipt_date(&cal, vn_s(2027, 4, 14, 14, 59, 59)),
            d(2027, 4, 14)
        );
        assert_eq!(
            desk_receipt_date(&cal, vn_s(2027, 4, 14, 15, 0, 0)),
            d(2027, 4, 14)
        );
        assert_eq!(
            desk_receipt_date(&cal, vn_s(2027, 4, 14, 15, 0, 1)),
            d(2027, 4, 15)
        );
        // A fraction of a second after 15:00:00 is after it too.
        assert_eq!(
            desk_receipt_date(
                &cal,
                vn_s(2027, 4, 14, 15, 0, 0) + TimeDelta::milliseconds(1)
            ),
            d(2027, 4, 15)
        );
        // Thu 15 at 15:00:01 → Fri 16 is the holiday → Mon 19; at 15:00:00 still Thu 15.
        assert_eq!(
            desk_receipt_date(&cal, vn_s(2027, 4, 15, 15, 0, 0)),
            d(2027, 4, 15)
        );
        assert_eq!(
            desk_receipt_date(&cal, vn_s(2027, 4, 15, 15, 0, 1)),
            d(2027, 4, 19)
        );
        // The result due date follows: 3 working days from Wed 14 → Tue 20, from Thu 15 → Wed 21.
        assert_eq!(
            result_due_date(&cal, vn_s(2027, 4, 14, 15, 0, 0), 3),
            d(2027, 4, 20)
        );
        assert_eq!(
            result_due_date(&cal, vn_s(2027, 4, 14, 15, 0, 1), 3),
            d(2027, 4, 21)
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
        // Filed after 15:00 counts from Thu 15 → Mon 19, Tue 20, Wed 21.
        assert_eq!(
            result_due_date(&cal, vn(2027, 4, 14, 15, 1), 3),
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

    /// Tết 2027 entered as data: Fri 5 Feb to Thu 11 Feb 2027, a whole week off between two weekends.
    fn tet_2027() -> WorkingCalendar {
        WorkingCalendar::new((0..7).map(|i| d(2027, 2, 5) + Days::new(i)))
    }

    #[test]
    fn leg_due_dates_step_over_a_tet_week_for_every_route_class() {
        use RouteClass::*;
        let cal = tet_2027();
        // J = Wed 3 Feb 2027. Its working days after: Thu 4 (J+1), then past Tết and two weekends Fri 12
        // (J+2), Mon 15, Tue 16 (J+4), Wed 17, Thu 18 (J+6), Fri 19, Mon 22 (J+8).
        let j = d(2027, 2, 3);
        assert_eq!(j.weekday(), chrono::Weekday::Wed);
        let cases = [
            (Local, false, d(2027, 2, 4)),
            (Local, true, d(2027, 2, 12)),
            (IntraProvince, false, d(2027, 2, 12)),
            (IntraProvince, true, d(2027, 2, 16)),
            (InterProvinceMajor, false, d(2027, 2, 15)),
            (InterProvinceMajor, true, d(2027, 2, 18)),
            (InterProvince, false, d(2027, 2, 16)),
            (InterProvince, true, d(2027, 2, 22)),
        ];
        for (class, appt, due) in cases {
            assert_eq!(leg_due_date(&cal, class, appt, j), due, "{class} {appt}");
            // Posted at any hour of J, the parcel is due at the end of that local day.
            for hour in [0, 8, 15, 23] {
                assert_eq!(
                    leg_due_at(&cal, class, appt, vn(2027, 2, 3, hour, 30)),
                    end_of_local_day(due),
                    "{class} {appt} {hour}h"
                );
            }
        }
        // Posted during Tết (J on a holiday), the count starts after the holiday week.
        assert_eq!(
            leg_due_date(&cal, Local, false, d(2027, 2, 8)),
            d(2027, 2, 12)
        );
        assert_eq!(
            leg_due_date(&cal, InterProvince, true, d(2027, 2, 6)),
            d(2027, 2, 23)
        );
    }

    #[test]
    fn the_desk_cutoff_before_tet_moves_a_receipt_past_the_whole_week() {
        let cal = tet_2027();
        // Thu 4 Feb, the last working day before Tết.
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 2, 4, 14, 59)),
            d(2027, 2, 4)
        );
        assert_eq!(
            desk_receipt_date(&cal, vn(2027, 2, 4, 15, 1)),
            d(2027, 2, 12)
        );
        // One working day of processing: Fri 12 before the cut-off, Mon 15 after it.
        assert_eq!(
            result_due_date(&cal, vn(2027, 2, 4, 14, 59), 1),
            d(2027, 2, 12)
        );
        assert_eq!(
            result_due_date(&cal, vn(2027, 2, 4, 15, 1), 1),
            d(2027, 2, 15)
        );
        // Ten working days from a receipt on Tết's eve after 15:00: 15,16,17,18,19,22,23,24,25,26.
        assert_eq!(
            result_due_date(&cal, vn(2027, 2, 4, 16, 0), 10),
            d(2027, 2, 26)
        );
    }

    #[test]
    fn open_and_done_parcel_statuses_cover_every_status_once() {
        let done = [
            LegStatus::Delivered,
            LegStatus::HandedOver,
            LegStatus::Returned,
            LegStatus::Cancelled,
        ];
        for &status in LegStatus::ALL {
            assert_ne!(
                LEG_OPEN_STATUSES.contains(&status),
                done.contains(&status),
                "{status}"
            );
        }
    }

    #[test]
    fn a_deadline_is_missed_only_after_its_last_instant() {
        let due = end_of_local_day(d(2027, 2, 12));
        let open = LegStatus::InTransit;
        assert!(!leg_overdue(open, Some(due), due));
        assert!(leg_overdue(
            open,
            Some(due),
            due + TimeDelta::microseconds(1)
        ));
        assert!(!leg_overdue(open, None, due + TimeDelta::days(30)));
        assert!(!leg_overdue(
            LegStatus::Delivered,
            Some(due),
            due + TimeDelta::days(1)
        ));
        let at_desk = DossierStatus::Processing;
        assert!(!result_overdue(at_desk, Some(due), due));
        assert!(result_overdue(
            at_desk,
            Some(due),
            due + TimeDelta::seconds(1)
        ));
        assert!(!result_overdue(
            DossierStatus::ResultReady,
            Some(due),
            due + TimeDelta::days(1)
        ));
    }

    /// The dossier views' `overdue` flag and the overdue sweep ask the same question: for every status of
    /// the dossier and of its parcel, with the deadlines passed or not, they answer alike.
    #[test]
    fn the_dossier_views_overdue_flag_agrees_with_the_sweeps_predicates() {
        use crate::ops::dossier_record::DossierRecord;
        use entity::enums::{FeeExemption, LegDirection, ServiceMode};
        let now = vn(2027, 2, 15, 9, 0);
        let past = Some(now - TimeDelta::hours(1));
        let future = Some(now + TimeDelta::hours(1));
        let dossier = |status, result_due_at| entity::dossier::Model {
            id: 1,
            code: "ABCD-EFGH".into(),
            status,
            service_mode: ServiceMode::SendAndReturn,
            procedure_code: "1.001612".into(),
            agency_code: "A".into(),
            office_code: "O".into(),
            applicant_full_name: String::new(),
            applicant_phone: String::new(),
            applicant_email: None,
            applicant_id_number: String::new(),
            pickup_line: None,
            pickup_ward_code: None,
            pickup_province_code: None,
            return_line: None,
            return_ward_code: None,
            return_province_code: None,
            documents: serde_json::json!([]),
            with_appointment: false,
            fee_exemption: FeeExemption::None,
            route_class: RouteClass::Local,
            postage_vnd: 0,
            admin_fee_vnd: 0,
            total_vnd: 0,
            access_token_hash: String::new(),
            filed_at: None,
            result_due_at,
            result_overdue_raised_at: None,
            national_dossier_no: None,
            outcome: None,
            language: "vi".into(),
            created_at: now,
            updated_at: now,
        };
        let leg = |status, due_at| entity::leg::Model {
            id: 1,
            dossier_id: 1,
            direction: LegDirection::Inbound,
            route_class: RouteClass::Local,
            item_code: None,
            status,
            started_at: None,
            due_at,
            delivered_at: None,
            failed_attempts: 0,
            last_failed_at: None,
            overdue_raised_at: None,
            identity_confirmed: None,
            purpose: None,
            pickup_date: None,
            pickup_window: None,
            created_at: now,
            updated_at: now,
        };
        let mut checked = 0;
        for &status in DossierStatus::ALL {
            for result_due in [None, past, future] {
                for &leg_status in LegStatus::ALL {
                    for leg_due in [None, past, future] {
                        let record = DossierRecord {
                            dossier: dossier(status, result_due),
                            agency_name: String::new(),
                            legs: vec![leg(leg_status, leg_due)],
                            timeline: vec![],
                            incidents: vec![],
                            supplements: vec![],
                        };
                        let sweep = result_overdue(status, result_due, now)
                            || leg_overdue(leg_status, leg_due, now);
                        assert_eq!(
                            record.overdue(now),
                            sweep,
                            "{status} {result_due:?} {leg_status} {leg_due:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000);
    }
}
