//! What a VNPost status code means here: the one table from the carrier's numeric codes (DOMAIN.md) to
//! this system's scan events. A code that maps to a scan event goes through the same path as a
//! handheld scan ([`crate::ops::scans`]), so the timeline and the audit are the same whatever the
//! source; the others are kept with the carrier event (shown to staff) and move nothing.
//!
//! Public sources disagree on some codes; a change of meaning is one row here.

use entity::enums::ScanEvent;

/// What this system does with one carrier status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierEffect {
    /// Recorded like a scan of this event.
    Scan(ScanEvent),
    /// Kept and shown with the carrier event; the dossier's timeline is written by other means
    /// (pickup is recorded by the postman's own call) or the code has no meaning for a dossier.
    KeptOnly,
}

/// One row of the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarrierCode {
    /// VNPost's `statusCode`.
    pub code: i64,
    /// What DOMAIN.md calls it.
    pub name: &'static str,
    /// What it does here.
    pub effect: CarrierEffect,
}

use CarrierEffect::{KeptOnly, Scan};

/// Every code DOMAIN.md lists, exactly once.
pub const CARRIER_CODES: &[CarrierCode] = &[
    code(1, "created", KeptOnly),
    code(2, "sent to postman", KeptOnly),
    code(5, "pickup failed", KeptOnly),
    code(6, "picked up", KeptOnly),
    code(
        7,
        "received at post office",
        Scan(ScanEvent::AcceptedAtOffice),
    ),
    code(10, "in transit", Scan(ScanEvent::Departed)),
    code(12, "delivering", Scan(ScanEvent::OutForDelivery)),
    code(14, "delivered", Scan(ScanEvent::Delivered)),
    code(15, "delivery failed", Scan(ScanEvent::DeliveryFailed)),
    code(19, "completed", KeptOnly),
    code(22, "delivery cancelled", KeptOnly),
];

const fn code(code: i64, name: &'static str, effect: CarrierEffect) -> CarrierCode {
    CarrierCode { code, name, effect }
}

/// The row of a code, or `None` for a code this system does not know (kept and shown, never fatal).
pub fn carrier_code(code: i64) -> Option<CarrierCode> {
    CARRIER_CODES.iter().copied().find(|c| c.code == code)
}

/// What a code does here; unknown codes are kept only.
pub fn carrier_effect(code: i64) -> CarrierEffect {
    carrier_code(code).map_or(KeptOnly, |c| c.effect)
}

/// The scan event a code stands for, if any.
pub fn scan_event_of(code: i64) -> Option<ScanEvent> {
    match carrier_effect(code) {
        Scan(event) => Some(event),
        KeptOnly => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_listed_code_has_exactly_one_row() {
        let codes: BTreeSet<i64> = CARRIER_CODES.iter().map(|c| c.code).collect();
        assert_eq!(codes.len(), CARRIER_CODES.len());
        assert_eq!(
            codes.into_iter().collect::<Vec<_>>(),
            vec![1, 2, 5, 6, 7, 10, 12, 14, 15, 19, 22]
        );
    }

    #[test]
    fn the_domain_mapping() {
        let expect = [
            (7, Some(ScanEvent::AcceptedAtOffice)),
            (10, Some(ScanEvent::Departed)),
            (12, Some(ScanEvent::OutForDelivery)),
            (14, Some(ScanEvent::Delivered)),
            (15, Some(ScanEvent::DeliveryFailed)),
            (1, None),
            (2, None),
            (5, None),
            (6, None),
            (19, None),
            (22, None),
        ];
        for (code, event) in expect {
            assert_eq!(scan_event_of(code), event, "code {code}");
        }
    }

    #[test]
    fn unknown_codes_are_kept_never_fatal() {
        for code in [0, -1, 3, 99, i64::MAX, i64::MIN] {
            assert_eq!(carrier_code(code), None);
            assert_eq!(carrier_effect(code), CarrierEffect::KeptOnly);
            assert_eq!(scan_event_of(code), None);
        }
    }
}
