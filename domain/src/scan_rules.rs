//! What a parcel scan means for its dossier: the one table from (scan event, leg) to the timeline kind
//! and the lifecycle action, if any. A scan that maps to no action only joins the timeline.
//!
//! Carriers' and scanners' vocabularies drift; keeping the mapping in one tested table means a new
//! event is one row here, never a branch somewhere in a handler.

use entity::enums::{EventKind, LegDirection, ScanEvent};

use crate::lifecycle::Action;

/// One row of the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanRule {
    /// What the scanner reported.
    pub event: ScanEvent,
    /// Which parcel of the dossier was scanned.
    pub leg: LegDirection,
    /// The timeline entry it writes.
    pub kind: EventKind,
    /// The lifecycle action it asks for; `None` records it on the timeline only.
    pub action: Option<Action>,
}

use EventKind as K;
use LegDirection::{Inbound, Outbound};
use ScanEvent as E;

/// Every (event, leg) pair, exactly once.
pub const SCAN_RULES: &[ScanRule] = &[
    rule(E::AcceptedAtOffice, Inbound, K::AcceptedAtOffice, None),
    rule(
        E::Departed,
        Inbound,
        K::Departed,
        Some(Action::ScanInTransit),
    ),
    rule(E::Arrived, Inbound, K::Arrived, Some(Action::ScanInTransit)),
    rule(E::OutForDelivery, Inbound, K::OutForDelivery, None),
    rule(E::DeliveryFailed, Inbound, K::DeliveryFailed, None),
    rule(E::Delivered, Inbound, K::Delivered, None),
    rule(E::AcceptedAtOffice, Outbound, K::AcceptedAtOffice, None),
    rule(E::Departed, Outbound, K::Departed, None),
    rule(E::Arrived, Outbound, K::Arrived, None),
    rule(
        E::OutForDelivery,
        Outbound,
        K::OutForDelivery,
        Some(Action::StartDelivery),
    ),
    rule(
        E::DeliveryFailed,
        Outbound,
        K::DeliveryFailed,
        Some(Action::RecordDeliveryFailure),
    ),
    rule(
        E::Delivered,
        Outbound,
        K::Delivered,
        Some(Action::RecordDelivery),
    ),
];

const fn rule(
    event: ScanEvent,
    leg: LegDirection,
    kind: EventKind,
    action: Option<Action>,
) -> ScanRule {
    ScanRule {
        event,
        leg,
        kind,
        action,
    }
}

/// The rule for a scan of `event` on the `leg` parcel.
pub fn scan_rule(event: ScanEvent, leg: LegDirection) -> ScanRule {
    SCAN_RULES
        .iter()
        .copied()
        .find(|r| r.event == event && r.leg == leg)
        // Every pair is in the table (tested below); a timeline-only fallback keeps this total.
        .unwrap_or(ScanRule {
            event,
            leg,
            kind: K::Arrived,
            action: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_event_and_leg_has_exactly_one_rule() {
        let mut seen = BTreeSet::new();
        for r in SCAN_RULES {
            assert!(
                seen.insert((r.event, r.leg)),
                "{:?} {:?} twice",
                r.event,
                r.leg
            );
        }
        assert_eq!(seen.len(), ScanEvent::ALL.len() * LegDirection::ALL.len());
        for &event in ScanEvent::ALL {
            for &leg in LegDirection::ALL {
                let r = scan_rule(event, leg);
                assert_eq!((r.event, r.leg), (event, leg));
                assert_eq!(r.kind.as_str(), event.as_str(), "kinds echo the event");
            }
        }
    }

    #[test]
    fn the_brief_mapping() {
        use Action as A;
        let expect = [
            (E::AcceptedAtOffice, Inbound, None),
            (E::Departed, Inbound, Some(A::ScanInTransit)),
            (E::Arrived, Inbound, Some(A::ScanInTransit)),
            (E::OutForDelivery, Outbound, Some(A::StartDelivery)),
            (E::DeliveryFailed, Outbound, Some(A::RecordDeliveryFailure)),
            (E::Delivered, Outbound, Some(A::RecordDelivery)),
            (E::Departed, Outbound, None),
            (E::Delivered, Inbound, None),
        ];
        for (event, leg, action) in expect {
            assert_eq!(scan_rule(event, leg).action, action, "{event} {leg}");
        }
    }
}
