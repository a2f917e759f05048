//! Delivering a result to the citizen (Decision 45 Art. 10; Circular 17 Art. 5.2): who may sign for
//! it, and the failed-delivery rule — after at least two notices, at least two working days apart,
//! the result goes back to the agency (Art. 5.2h), and not before.
//!
//! Pure rules: the working calendar and the times come from the caller, the status moves from
//! [`crate::lifecycle::next_status`].

use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{DossierStatus, ServiceMode};

use crate::calendar::WorkingCalendar;
use crate::lifecycle::{Action, InvalidTransition, next_status};
use crate::sla::local_date;

/// How many failed notices send a result back to the agency.
pub const NOTICES_BEFORE_RETURN: i32 = 2;

/// The least number of working days between two notices.
pub const NOTICE_SPACING_WORKING_DAYS: u32 = 2;

/// What recording one more failed notice does to a dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticePlan {
    /// The status after the notice itself: `delivery_failed` (unchanged when it was already there).
    pub after_notice: DossierStatus,
    /// Set when this notice is the last one the law asks for: the status the result then moves to.
    pub returned: Option<DossierStatus>,
    /// Notices counted on the parcel once this one is.
    pub notices: i32,
}

/// Why a failed notice cannot be counted now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeRefusal {
    /// The dossier's status does not take a failed delivery.
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
    /// Less than two working days after the previous notice.
    #[error(
        "the previous failed-delivery notice was left on {previous}; the next attempt may be made from \
         {earliest} (at least {NOTICE_SPACING_WORKING_DAYS} working days later, Circular 17 Art. 5.2h)"
    )]
    TooSoon {
        /// Local date of the previous notice.
        previous: NaiveDate,
        /// The first local date on which the next notice counts.
        earliest: NaiveDate,
    },
    /// The attempt is dated before the previous notice: notices are counted in the order they were left.
    #[error("the attempt is dated before the previous failed-delivery notice ({previous})")]
    BeforePrevious {
        /// When the previous notice was left.
        previous: DateTime<Utc>,
    },
}

/// The first local date on which a notice following one left at `previous` counts.
pub fn earliest_next_notice(cal: &WorkingCalendar, previous: DateTime<Utc>) -> NaiveDate {
    cal.add_working_days(local_date(previous), NOTICE_SPACING_WORKING_DAYS)
}

/// Plans recording a failed delivery attempt made at `at` on a dossier in `status`, whose outbound
/// parcel already carries `notices` notices, the last one left at `last_notice_at`.
///
/// The first notice moves the dossier to `delivery_failed`. A later one must come at least
/// [`NOTICE_SPACING_WORKING_DAYS`] working days after the previous (counted on local dates, so an
/// attempt on Monday allows the next on Wednesday, and one on Friday the next on Tuesday); the one that
/// makes [`NOTICES_BEFORE_RETURN`] also returns the result to the agency.
pub fn plan_failed_notice(
    cal: &WorkingCalendar,
    mode: ServiceMode,
    status: DossierStatus,
    notices: i32,
    last_notice_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<NoticePlan, NoticeRefusal> {
    if notices > 0
        && let Some(previous) = last_notice_at
    {
        if at < previous {
            return Err(NoticeRefusal::BeforePrevious { previous });
        }
        let earliest = earliest_next_notice(cal, previous);
        if local_date(at) < earliest {
            return Err(NoticeRefusal::TooSoon {
                previous: local_date(previous),
                earliest,
            });
        }
    }
    let notices = notices.saturating_add(1);
    let after_notice = if status == DossierStatus::DeliveryFailed && notices > 1 {
        // The postman came back without scanning "out for delivery": the notice still counts.
        status
    } else {
        next_status(mode, status, Action::RecordDeliveryFailure)?
    };
    let returned = if notices >= NOTICES_BEFORE_RETURN {
        Some(next_status(mode, after_notice, Action::ReturnToAgency)?)
    } else {
        None
    };
    Ok(NoticePlan {
        after_notice,
        returned,
        notices,
    })
}

/// Checks the number of the identity document a recipient shows (Decision 45 Art. 10): a 12-digit CCCD,
/// a 9-digit CMND, or a Vietnamese passport number (one letter and 7 or 8 digits). Returns it in
/// canonical form (trimmed, letter uppercase).
pub fn normalize_identity_document(s: &str) -> Result<String, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Err("the identity document number is empty");
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.len() {
            9 | 12 => Ok(s.to_owned()),
            _ => Err(
                "an identity card number has 12 digits (CCCD) or 9 digits (CMND); a passport number is a letter and 7 or 8 digits",
            ),
        };
    }
    let bytes = s.as_bytes();
    let passport = bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && matches!(bytes.len(), 8 | 9)
        && bytes[1..].iter().all(u8::is_ascii_digit);
    if passport {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(
            "use the number of a CCCD (12 digits), a CMND (9 digits) or a passport (a letter and 7 or 8 digits)",
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::{FixedOffset, TimeZone};
    use entity::enums::DossierStatus as S;
    use entity::enums::ServiceMode as M;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// A local (+07:00) wall-clock time, as UTC.
    fn vn(y: i32, m: u32, day: u32, h: u32) -> DateTime<Utc> {
        FixedOffset::east_opt(7 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, day, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Hùng Kings' day 2027 as data: Friday 16 April 2027.
    fn cal() -> WorkingCalendar {
        WorkingCalendar::new([d(2027, 4, 16)])
    }

    #[test]
    fn the_first_notice_moves_to_delivery_failed_only() {
        let at = vn(2027, 4, 12, 10);
        for from in [S::ResultWithPost, S::OutForDelivery] {
            let plan = plan_failed_notice(&cal(), M::SendAndReturn, from, 0, None, at).unwrap();
            assert_eq!(
                plan,
                NoticePlan {
                    after_notice: S::DeliveryFailed,
                    returned: None,
                    notices: 1
                }
            );
        }
    }

    #[test]
    fn the_second_notice_two_working_days_later_returns_the_result() {
        // Monday 12 April 10:00, then Wednesday 14 April 08:00: two working days apart.
        let first = vn(2027, 4, 12, 10);
        let second = vn(2027, 4, 14, 8);
        for from in [S::OutForDelivery, S::DeliveryFailed] {
            let plan = plan_failed_notice(&cal(), M::Return, from, 1, Some(first), second).unwrap();
            assert_eq!(plan.after_notice, S::DeliveryFailed);
            assert_eq!(plan.returned, Some(S::ReturnedToAgency));
            assert_eq!(plan.notices, 2);
        }
    }

    #[test]
    fn a_second_notice_too_soon_is_refused_with_the_earliest_date() {
        let first = vn(2027, 4, 12, 10);
        // Tuesday is only one working day later, even late in the evening.
        let err = plan_failed_notice(
            &cal(),
            M::Return,
            S::OutForDelivery,
            1,
            Some(first),
            vn(2027, 4, 13, 22),
        )
        .unwrap_err();
        assert_eq!(
            err,
            NoticeRefusal::TooSoon {
                previous: d(2027, 4, 12),
                earliest: d(2027, 4, 14)
            }
        );
        assert!(err.to_string().contains("2027-04-14"), "{err}");
        // The same day is too soon too.
        assert!(matches!(
            plan_failed_notice(
                &cal(),
                M::Return,
                S::DeliveryFailed,
                1,
                Some(first),
                vn(2027, 4, 12, 16)
            ),
            Err(NoticeRefusal::TooSoon { .. })
        ));
    }

    #[test]
    fn spacing_skips_weekends_and_holidays() {
        // Thursday 15 April: Friday 16 is Hùng Kings' day, so the next working days are Mon 19 and
        // Tue 20; a notice on Monday is too soon, Tuesday counts.
        let first = vn(2027, 4, 15, 9);
        assert_eq!(earliest_next_notice(&cal(), first), d(2027, 4, 20));
        assert!(matches!(
            plan_failed_notice(
                &cal(),
                M::Return,
                S::DeliveryFailed,
                1,
                Some(first),
                vn(2027, 4, 19, 17)
            ),
            Err(NoticeRefusal::TooSoon { .. })
        ));
        let plan = plan_failed_notice(
            &cal(),
            M::Return,
            S::DeliveryFailed,
            1,
            Some(first),
            vn(2027, 4, 20, 8),
        )
        .unwrap();
        assert_eq!(plan.returned, Some(S::ReturnedToAgency));
        // Without the holiday, Monday would have been enough.
        assert_eq!(
            earliest_next_notice(&WorkingCalendar::default(), first),
            d(2027, 4, 19)
        );
        // A notice left on a Saturday counts from the working days after it: Mon, Tue.
        assert_eq!(
            earliest_next_notice(&cal(), vn(2027, 4, 24, 9)),
            d(2027, 4, 27)
        );
    }

    #[test]
    fn local_dates_decide_not_utc_dates() {
        // 06:00 local Wednesday 14 April is still Tuesday 13 in UTC; the local date counts.
        let first = vn(2027, 4, 12, 10);
        let plan = plan_failed_notice(
            &cal(),
            M::Return,
            S::DeliveryFailed,
            1,
            Some(first),
            vn(2027, 4, 14, 6),
        )
        .unwrap();
        assert_eq!(plan.notices, 2);
    }

    #[test]
    fn an_attempt_dated_before_the_previous_notice_is_refused() {
        let first = vn(2027, 4, 14, 10);
        assert_eq!(
            plan_failed_notice(
                &cal(),
                M::Return,
                S::DeliveryFailed,
                1,
                Some(first),
                vn(2027, 4, 12, 10)
            ),
            Err(NoticeRefusal::BeforePrevious { previous: first })
        );
    }

    #[test]
    fn statuses_that_take_no_failed_delivery_are_refused_by_the_lifecycle() {
        let at = vn(2027, 4, 12, 10);
        for from in [
            S::Delivered,
            S::ReturnedToAgency,
            S::ResultReady,
            S::InTransit,
        ] {
            assert!(matches!(
                plan_failed_notice(&cal(), M::SendAndReturn, from, 0, None, at),
                Err(NoticeRefusal::Transition(_))
            ));
        }
        // Mode `send` has no return leg at all.
        assert!(matches!(
            plan_failed_notice(&cal(), M::Send, S::ResultWithPost, 0, None, at),
            Err(NoticeRefusal::Transition(_))
        ));
        // A dossier already in delivery_failed without a counted notice must go out again first.
        assert!(matches!(
            plan_failed_notice(&cal(), M::Return, S::DeliveryFailed, 0, None, at),
            Err(NoticeRefusal::Transition(_))
        ));
    }

    #[test]
    fn identity_documents() {
        assert_eq!(
            normalize_identity_document(" 001090012345 ").unwrap(),
            "001090012345"
        );
        assert_eq!(
            normalize_identity_document("012345678").unwrap(),
            "012345678"
        );
        assert_eq!(normalize_identity_document("c1234567").unwrap(), "C1234567");
        assert_eq!(
            normalize_identity_document("B12345678").unwrap(),
            "B12345678"
        );
        for bad in [
            "",
            "1234567890",
            "0010900123456",
            "C123456",
            "C123456789",
            "CC1234567",
            "Đ1234567",
            "12345678A",
        ] {
            assert!(normalize_identity_document(bad).is_err(), "{bad:?}");
        }
    }
}
