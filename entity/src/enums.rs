//! The closed vocabularies of the dossier store, mapped to text columns so that SQLite and PostgreSQL
//! hold the same readable values that API.md fixes. Rust code names a value through these enums,
//! never by a string typed by hand.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Declares a text-backed enum with its API spelling, `ALL`, `as_str` and `FromStr`.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name {
            $(
                #[sea_orm(string_value = $text)]
                #[serde(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used in the API and in the database.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }
    };
}

/// A string that is not one of an enum's spellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a valid {}", self.value, self.kind)
    }
}

impl std::error::Error for UnknownValue {}

text_enum! {
    /// Where a dossier is in its journey (API.md "Status values").
    DossierStatus {
        PickupRequested => "pickup_requested",
        PickupScheduled => "pickup_scheduled",
        PickupFailed => "pickup_failed",
        PickedUp => "picked_up",
        InTransit => "in_transit",
        ReceivedByAgency => "received_by_agency",
        Processing => "processing",
        SupplementRequested => "supplement_requested",
        Rejected => "rejected",
        AwaitingResult => "awaiting_result",
        ResultReady => "result_ready",
        ResultWithPost => "result_with_post",
        OutForDelivery => "out_for_delivery",
        DeliveryFailed => "delivery_failed",
        Delivered => "delivered",
        ReturnedToAgency => "returned_to_agency",
        CollectedInPerson => "collected_in_person",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// Which legs the post carries (Decision 45 Art. 5).
    ServiceMode {
        Send => "send",
        Return => "return",
        SendAndReturn => "send_and_return",
    }
}

text_enum! {
    /// The Circular 17 Art. 7 route classes that set postage and delivery time.
    RouteClass {
        Local => "local",
        IntraProvince => "intra_province",
        InterProvinceMajor => "inter_province_major",
        InterProvince => "inter_province",
    }
}

text_enum! {
    /// Postage exemptions (Decision 45 Art. 12).
    FeeExemption {
        None => "none",
        Revolutionary => "revolutionary",
        HeroicMother => "heroic_mother",
        WarInvalid => "war_invalid",
        Hero => "hero",
    }
}

text_enum! {
    /// The two parcels of a dossier: to the agency and back home.
    LegDirection {
        Inbound => "inbound",
        Outbound => "outbound",
    }
}

text_enum! {
    /// Why a parcel travels, where a dossier has more than one going the same way. A leg without one
    /// is its direction's own parcel: the dossier inbound, the result outbound.
    LegPurpose {
        Supplement => "supplement",
    }
}

text_enum! {
    /// Where a parcel is, as the post sees it. `pickup_scheduled` and `pickup_failed` are a
    /// supplement's parcel before its pickup (booked; the postman came and could not collect it): a
    /// dossier's own first parcel stays `planned` then, its pickup's stage being the dossier's status.
    LegStatus {
        Planned => "planned",
        PickupScheduled => "pickup_scheduled",
        PickupFailed => "pickup_failed",
        PickedUp => "picked_up",
        InTransit => "in_transit",
        HandedOver => "handed_over",
        OutForDelivery => "out_for_delivery",
        DeliveryFailed => "delivery_failed",
        Delivered => "delivered",
        Returned => "returned",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// Who or what reported a timeline event.
    EventSource {
        Api => "api",
        Scan => "scan",
        Carrier => "carrier",
        System => "system",
    }
}

text_enum! {
    /// What happened, as the timeline names it.
    EventKind {
        Requested => "requested",
        RegisteredAtDesk => "registered_at_desk",
        PickupScheduled => "pickup_scheduled",
        PickupFailed => "pickup_failed",
        PickedUp => "picked_up",
        AcceptedAtOffice => "accepted_at_office",
        Departed => "departed",
        Arrived => "arrived",
        ReceivedByAgency => "received_by_agency",
        Accepted => "accepted",
        SupplementRequested => "supplement_requested",
        Rejected => "rejected",
        ResultReady => "result_ready",
        HandedToPost => "handed_to_post",
        OutForDelivery => "out_for_delivery",
        DeliveryFailed => "delivery_failed",
        Delivered => "delivered",
        ReturnedToAgency => "returned_to_agency",
        CollectedInPerson => "collected_in_person",
        Cancelled => "cancelled",
        Overdue => "overdue",
        HandoverCreated => "handover_created",
        Incident => "incident",
        IdentityConfirmed => "identity_confirmed",
        SupplementSubmitted => "supplement_submitted",
        DueDateMoved => "due_date_moved",
    }
}

text_enum! {
    /// What an API key may do.
    Role {
        Admin => "admin",
        Postal => "postal",
        Agency => "agency",
    }
}

text_enum! {
    /// The life of an outbox row.
    OutboxStatus {
        Pending => "pending",
        Done => "done",
        Failed => "failed",
    }
}

text_enum! {
    /// How one attempt at a webhook delivery ended: `delivered` (2xx), `failed` (another status,
    /// retried), `gone` (410: the webhook was disabled at once), `timeout` (no answer in time),
    /// `unreachable` (connection refused, DNS, TLS…), `refused` (not connected to: the receiver's
    /// address is not public).
    WebhookAttemptOutcome {
        Delivered => "delivered",
        Failed => "failed",
        Gone => "gone",
        Timeout => "timeout",
        Unreachable => "unreachable",
        Refused => "refused",
    }
}

text_enum! {
    /// The half-day a postman will call for a pickup.
    PickupWindow {
        Morning => "morning",
        Afternoon => "afternoon",
    }
}

text_enum! {
    /// Which way a handover record (Biên bản giao nhận) moves dossiers: the post hands dossiers to the
    /// agency's desk (Decision 45 Art. 7), or the agency hands results to the post (Art. 9).
    HandoverDirection {
        ToAgency => "to_agency",
        ToPost => "to_post",
    }
}

text_enum! {
    /// A handover record is drafted by one side and becomes binding when the other side signs it.
    HandoverStatus {
        Pending => "pending",
        Confirmed => "confirmed",
    }
}

text_enum! {
    /// What a handheld or offline scanner reports about a parcel.
    ScanEvent {
        AcceptedAtOffice => "accepted_at_office",
        Departed => "departed",
        Arrived => "arrived",
        OutForDelivery => "out_for_delivery",
        DeliveryFailed => "delivery_failed",
        Delivered => "delivered",
    }
}

text_enum! {
    /// What went wrong with a parcel (Decision 45 Art. 14).
    IncidentKind {
        Lost => "lost",
        Damaged => "damaged",
        Delayed => "delayed",
    }
}

text_enum! {
    /// Where a citizen's complaint stands.
    ComplaintStatus {
        Open => "open",
        Answered => "answered",
    }
}

text_enum! {
    /// How a delivery attempt of a result ended.
    DeliveryOutcome {
        Delivered => "delivered",
        Failed => "failed",
    }
}
