//! The dossier lifecycle: which action moves a dossier from which status to which, in which service mode.
//!
//! This is the one place where dossier transitions are decided. Everything that changes a dossier's
//! status (API, scans, carrier feeds, the worker) asks [`next_status`] first. Rules that depend on more
//! than the status — such as "two failed notices, two working days apart, before returning to the
//! agency" — are checked by the caller before it asks.

use entity::enums::{DossierStatus, ServiceMode};

/// The statuses of a pickup request the post has not collected yet: requested, scheduled, or tried
/// and failed. An applicant phone's open requests are counted in them (`ops::dossiers`), and the
/// pickup worklist shows them when no status is asked for (`ops::postal` uses this list).
pub const OPEN_PICKUP_STATUSES: &[DossierStatus] = &[
    DossierStatus::PickupRequested,
    DossierStatus::PickupScheduled,
    DossierStatus::PickupFailed,
];

/// Something that happens to a dossier and may move it to another status.
///
/// Each action is named after what a person or a carrier does, so that the timeline and the
/// permission checks can speak the same language as the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The post books a time to collect the dossier at the citizen's address.
    SchedulePickup,
    /// The postal worker came but could not collect the dossier.
    RecordPickupFailure,
    /// The postal worker collected and sealed the dossier (the dossier slip is signed).
    RecordPickup,
    /// The citizen or the post withdraws the request before pickup.
    Cancel,
    /// A scan on the way to the agency.
    ScanInTransit,
    /// The one-stop desk signed the handover record: the legal filing time (Decision 45 Art. 7.4).
    ReceiveAtAgency,
    /// The agency accepted the dossier for processing.
    Accept,
    /// The agency asked for supplementary documents.
    RequestSupplement,
    /// The one-stop desk signed the handover record of the supplement the citizen sent by post: the
    /// dossier is complete and back in processing.
    ReceiveSupplement,
    /// The agency refused the dossier, with reasons.
    Reject,
    /// The agency has the result (or the written refusal) ready.
    RecordResult,
    /// The agency handed the sealed result to the post (Art. 9).
    HandOverToPost,
    /// The postman set out to deliver the result.
    StartDelivery,
    /// A delivery attempt failed and a notice was left.
    RecordDeliveryFailure,
    /// The citizen (or a proxy) received the result and signed for it.
    RecordDelivery,
    /// After the failed notices, the result goes back to the agency (Circular 17 Art. 5.2h).
    ReturnToAgency,
    /// The citizen collected the result at the desk (mode `send`).
    MarkCollected,
}

impl Action {
    /// Every action, in declaration order, so that tests and documentation can enumerate them.
    pub const ALL: &'static [Action] = &[
        Action::SchedulePickup,
        Action::RecordPickupFailure,
        Action::RecordPickup,
        Action::Cancel,
        Action::ScanInTransit,
        Action::ReceiveAtAgency,
        Action::Accept,
        Action::RequestSupplement,
        Action::ReceiveSupplement,
        Action::Reject,
        Action::RecordResult,
        Action::HandOverToPost,
        Action::StartDelivery,
        Action::RecordDeliveryFailure,
        Action::RecordDelivery,
        Action::ReturnToAgency,
        Action::MarkCollected,
    ];

    /// The snake_case name used in error messages, logs and timelines.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::SchedulePickup => "schedule_pickup",
            Action::RecordPickupFailure => "record_pickup_failure",
            Action::RecordPickup => "record_pickup",
            Action::Cancel => "cancel",
            Action::ScanInTransit => "scan_in_transit",
            Action::ReceiveAtAgency => "receive_at_agency",
            Action::Accept => "accept",
            Action::RequestSupplement => "request_supplement",
            Action::ReceiveSupplement => "receive_supplement",
            Action::Reject => "reject",
            Action::RecordResult => "record_result",
            Action::HandOverToPost => "hand_over_to_post",
            Action::StartDelivery => "start_delivery",
            Action::RecordDeliveryFailure => "record_delivery_failure",
            Action::RecordDelivery => "record_delivery",
            Action::ReturnToAgency => "return_to_agency",
            Action::MarkCollected => "mark_collected",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action that the lifecycle does not allow from a status in a service mode.
///
/// Carries all three inputs so that the caller can answer with a precise `409`/`422` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a dossier in status `{from}` (service mode `{mode}`)")]
pub struct InvalidTransition {
    /// The dossier's service mode.
    pub mode: ServiceMode,
    /// The dossier's current status.
    pub from: DossierStatus,
    /// The action that was refused.
    pub action: Action,
}

use DossierStatus as S;
use ServiceMode as M;

/// The modes that carry the dossier to the agency.
const SENDING: &[ServiceMode] = &[M::Send, M::SendAndReturn];
/// The modes that carry the result home.
const RETURNING: &[ServiceMode] = &[M::Return, M::SendAndReturn];

/// One row of the transition table.
struct Rule {
    action: Action,
    modes: &'static [ServiceMode],
    from: &'static [DossierStatus],
    to: DossierStatus,
}

/// The whole lifecycle, one row per (action, modes, from-statuses) → to-status.
const TRANSITIONS: &[Rule] = &[
    Rule {
        action: Action::SchedulePickup,
        modes: SENDING,
        from: &[S::PickupRequested, S::PickupScheduled, S::PickupFailed],
        to: S::PickupScheduled,
    },
    Rule {
        action: Action::RecordPickupFailure,
        modes: SENDING,
        from: &[S::PickupRequested, S::PickupScheduled],
        to: S::PickupFailed,
    },
    Rule {
        action: Action::RecordPickup,
        modes: SENDING,
        from: &[S::PickupRequested, S::PickupScheduled, S::PickupFailed],
        to: S::PickedUp,
    },
    Rule {
        action: Action::Cancel,
        modes: SENDING,
        from: &[S::PickupRequested, S::PickupScheduled, S::PickupFailed],
        to: S::Cancelled,
    },
    Rule {
        action: Action::ScanInTransit,
        modes: SENDING,
        from: &[S::PickedUp, S::InTransit],
        to: S::InTransit,
    },
    Rule {
        action: Action::ReceiveAtAgency,
        modes: SENDING,
        from: &[S::PickedUp, S::InTransit],
        to: S::ReceivedByAgency,
    },
    Rule {
        action: Action::Accept,
        modes: SENDING,
        from: &[S::ReceivedByAgency, S::SupplementRequested],
        to: S::Processing,
    },
    Rule {
        action: Action::RequestSupplement,
        modes: SENDING,
        from: &[S::ReceivedByAgency, S::Processing],
        to: S::SupplementRequested,
    },
    Rule {
        action: Action::ReceiveSupplement,
        modes: SENDING,
        from: &[S::SupplementRequested],
        to: S::Processing,
    },
    Rule {
        action: Action::Reject,
        modes: SENDING,
        from: &[S::ReceivedByAgency, S::Processing, S::SupplementRequested],
        to: S::Rejected,
    },
    Rule {
        action: Action::RecordResult,
        modes: SENDING,
        from: &[S::Processing, S::Rejected],
        to: S::ResultReady,
    },
    Rule {
        action: Action::RecordResult,
        modes: &[M::Return],
        from: &[S::AwaitingResult],
        to: S::ResultReady,
    },
    Rule {
        action: Action::HandOverToPost,
        modes: RETURNING,
        from: &[S::ResultReady],
        to: S::ResultWithPost,
    },
    Rule {
        action: Action::StartDelivery,
        modes: RETURNING,
        from: &[S::ResultWithPost, S::DeliveryFailed],
        to: S::OutForDelivery,
    },
    Rule {
        action: Action::RecordDeliveryFailure,
        modes: RETURNING,
        from: &[S::ResultWithPost, S::OutForDelivery],
        to: S::DeliveryFailed,
    },
    Rule {
        action: Action::RecordDelivery,
        modes: RETURNING,
        from: &[S::ResultWithPost, S::OutForDelivery, S::DeliveryFailed],
        to: S::Delivered,
    },
    Rule {
        action: Action::ReturnToAgency,
        modes: RETURNING,
        from: &[S::DeliveryFailed],
        to: S::ReturnedToAgency,
    },
    Rule {
        action: Action::MarkCollected,
        modes: &[M::Send],
        from: &[S::ResultReady],
        to: S::CollectedInPerson,
    },
];

/// The status a dossier moves to when `action` happens in status `from`, or why it cannot.
///
/// Callers must persist the returned status together with the timeline event, in one transaction.
pub fn next_status(
    mode: ServiceMode,
    from: DossierStatus,
    action: Action,
) -> Result<DossierStatus, InvalidTransition> {
    TRANSITIONS
        .iter()
        .find(|r| r.action == action && r.modes.contains(&mode) && r.from.contains(&from))
        .map(|r| r.to)
        .ok_or(InvalidTransition { mode, from, action })
}

/// Whether `action` is allowed now; handy for showing only the buttons that would work.
pub fn is_allowed(mode: ServiceMode, from: DossierStatus, action: Action) -> bool {
    next_status(mode, from, action).is_ok()
}

/// The actions allowed from `from` in `mode`, in [`Action::ALL`] order.
pub fn allowed_actions(mode: ServiceMode, from: DossierStatus) -> Vec<Action> {
    Action::ALL
        .iter()
        .copied()
        .filter(|&a| is_allowed(mode, from, a))
        .collect()
}

/// The status a new dossier starts in: a pickup request when the post carries it to the agency,
/// or waiting for the agency's result when the citizen filed in person (`return`).
pub fn initial_status(mode: ServiceMode) -> DossierStatus {
    match mode {
        M::Send | M::SendAndReturn => S::PickupRequested,
        M::Return => S::AwaitingResult,
    }
}

/// Whether nothing more can happen to a dossier; terminal dossiers are kept but no longer tracked.
pub fn is_terminal(status: DossierStatus) -> bool {
    matches!(
        status,
        S::Delivered | S::ReturnedToAgency | S::CollectedInPerson | S::Cancelled
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::collections::{BTreeSet, HashMap};

    /// The allowed triples, written out by hand from the brief, independently of `TRANSITIONS`.
    fn expected() -> HashMap<(ServiceMode, DossierStatus, Action), DossierStatus> {
        use Action as A;
        let mut m = HashMap::new();
        let both_send = [M::Send, M::SendAndReturn];
        let both_ret = [M::Return, M::SendAndReturn];
        let mut add = |modes: &[ServiceMode], from: &[S], a: A, to: S| {
            for &mo in modes {
                for &f in from {
                    assert!(m.insert((mo, f, a), to).is_none(), "duplicate {mo} {f} {a}");
                }
            }
        };
        add(
            &both_send,
            &[S::PickupRequested],
            A::SchedulePickup,
            S::PickupScheduled,
        );
        add(
            &both_send,
            &[S::PickupScheduled],
            A::SchedulePickup,
            S::PickupScheduled,
        );
        add(
            &both_send,
            &[S::PickupFailed],
            A::SchedulePickup,
            S::PickupScheduled,
        );
        add(
            &both_send,
            &[S::PickupRequested],
            A::RecordPickupFailure,
            S::PickupFailed,
        );
        add(
            &both_send,
            &[S::PickupScheduled],
            A::RecordPickupFailure,
            S::PickupFailed,
        );
        add(
            &both_send,
            &[S::PickupRequested],
            A::RecordPickup,
            S::PickedUp,
        );
        add(
            &both_send,
            &[S::PickupScheduled],
            A::RecordPickup,
            S::PickedUp,
        );
        add(&both_send, &[S::PickupFailed], A::RecordPickup, S::PickedUp);
        add(&both_send, &[S::PickupRequested], A::Cancel, S::Cancelled);
        add(&both_send, &[S::PickupScheduled], A::Cancel, S::Cancelled);
        add(&both_send, &[S::PickupFailed], A::Cancel, S::Cancelled);
        add(&both_send, &[S::PickedUp], A::ScanInTransit, S::InTransit);
        add(&both_send, &[S::InTransit], A::ScanInTransit, S::InTransit);
        add(
            &both_send,
            &[S::PickedUp],
            A::ReceiveAtAgency,
            S::ReceivedByAgency,
        );
        add(
            &both_send,
            &[S::InTransit],
            A::ReceiveAtAgency,
            S::ReceivedByAgency,
        );
        add(&both_send, &[S::ReceivedByAgency], A::Accept, S::Processing);
        add(
            &both_send,
            &[S::SupplementRequested],
            A::Accept,
            S::Processing,
        );
        add(
            &both_send,
            &[S::ReceivedByAgency],
            A::RequestSupplement,
            S::SupplementRequested,
        );
        add(
            &both_send,
            &[S::Processing],
            A::RequestSupplement,
            S::SupplementRequested,
        );
        add(
            &both_send,
            &[S::SupplementRequested],
            A::ReceiveSupplement,
            S::Processing,
        );
        add(&both_send, &[S::ReceivedByAgency], A::Reject, S::Rejected);
        add(&both_send, &[S::Processing], A::Reject, S::Rejected);
        add(
            &both_send,
            &[S::SupplementRequested],
            A::Reject,
            S::Rejected,
        );
        add(
            &both_send,
            &[S::Processing],
            A::RecordResult,
            S::ResultReady,
        );
        add(&both_send, &[S::Rejected], A::RecordResult, S::ResultReady);
        add(
            &[M::Return],
            &[S::AwaitingResult],
            A::RecordResult,
            S::ResultReady,
        );
        add(
            &both_ret,
            &[S::ResultReady],
            A::HandOverToPost,
            S::ResultWithPost,
        );
        add(
            &both_ret,
            &[S::ResultWithPost],
            A::StartDelivery,
            S::OutForDelivery,
        );
        add(
            &both_ret,
            &[S::DeliveryFailed],
            A::StartDelivery,
            S::OutForDelivery,
        );
        add(
            &both_ret,
            &[S::ResultWithPost],
            A::RecordDeliveryFailure,
            S::DeliveryFailed,
        );
        add(
            &both_ret,
            &[S::OutForDelivery],
            A::RecordDeliveryFailure,
            S::DeliveryFailed,
        );
        add(
            &both_ret,
            &[S::ResultWithPost],
            A::RecordDelivery,
            S::Delivered,
        );
        add(
            &both_ret,
            &[S::OutForDelivery],
            A::RecordDelivery,
            S::Delivered,
        );
        add(
            &both_ret,
            &[S::DeliveryFailed],
            A::RecordDelivery,
            S::Delivered,
        );
        add(
            &both_ret,
            &[S::DeliveryFailed],
            A::ReturnToAgency,
            S::ReturnedToAgency,
        );
        add(
            &[M::Send],
            &[S::ResultReady],
            A::MarkCollected,
            S::CollectedInPerson,
        );
        m
    }

    #[test]
    fn every_triple_matches_the_hand_written_list() {
        let exp = expected();
        let mut allowed = 0;
        for &mode in ServiceMode::ALL {
            for &from in DossierStatus::ALL {
                for &action in Action::ALL {
                    let got = next_status(mode, from, action);
                    match exp.get(&(mode, from, action)) {
                        Some(&to) => {
                            allowed += 1;
                            assert_eq!(got, Ok(to), "{mode} {from} {action}");
                        }
                        None => assert_eq!(
                            got,
                            Err(InvalidTransition { mode, from, action }),
                            "{mode} {from} {action} should be refused"
                        ),
                    }
                }
            }
        }
        assert_eq!(allowed, exp.len());
    }

    #[test]
    fn every_non_initial_status_is_reachable() {
        let mut reached: BTreeSet<DossierStatus> = BTreeSet::new();
        for &mode in ServiceMode::ALL {
            let mut seen = BTreeSet::from([initial_status(mode)]);
            let mut todo = vec![initial_status(mode)];
            while let Some(s) = todo.pop() {
                for &a in Action::ALL {
                    if let Ok(t) = next_status(mode, s, a)
                        && seen.insert(t)
                    {
                        todo.push(t);
                    }
                }
            }
            reached.extend(seen);
        }
        for &s in DossierStatus::ALL {
            assert!(reached.contains(&s), "{s} is unreachable");
        }
    }

    #[test]
    fn terminal_statuses_have_no_way_out() {
        for &mode in ServiceMode::ALL {
            for &s in DossierStatus::ALL {
                if is_terminal(s) {
                    assert!(allowed_actions(mode, s).is_empty(), "{mode} {s}");
                }
            }
        }
        let terminal: Vec<_> = DossierStatus::ALL
            .iter()
            .copied()
            .filter(|&s| is_terminal(s))
            .collect();
        assert_eq!(
            terminal,
            [
                S::Delivered,
                S::ReturnedToAgency,
                S::CollectedInPerson,
                S::Cancelled
            ]
        );
    }

    #[test]
    fn initial_statuses() {
        assert_eq!(initial_status(M::Send), S::PickupRequested);
        assert_eq!(initial_status(M::SendAndReturn), S::PickupRequested);
        assert_eq!(initial_status(M::Return), S::AwaitingResult);
    }

    #[test]
    fn action_names_are_unique_snake_case() {
        let names: BTreeSet<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), Action::ALL.len());
        for n in names {
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{n}");
        }
    }

    #[test]
    fn error_message_names_everything() {
        let e = next_status(M::Return, S::PickupRequested, Action::Cancel).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("cancel") && msg.contains("pickup_requested") && msg.contains("return")
        );
    }
}
