//! What an outbox row is, below the modules that write rows (`outbox` for e-mails and webhooks,
//! `integrations` for phone notices and portal calls, `carrier_orders`, `period_reports`, `webhooks`):
//! the kinds of delivery, spelled as `outbox.kind`, and a new pending row of one kind.

use chrono::{DateTime, Utc};
use entity::enums::OutboxStatus;
use entity::outbox;
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};

/// What an outbox row delivers; the spelling of `outbox.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// One e-mail to one recipient ([`super::outbox::EmailPayload`]).
    Email,
    /// One signed POST to one agency webhook ([`super::outbox::WebhookPayload`]).
    Webhook,
    /// One parcel's order at the carrier ([`super::carrier_orders::CarrierOrderPayload`]).
    CarrierOrder,
    /// One citizen notice to the applicant's phone, by Zalo ZNS or else by SMS
    /// ([`super::integrations::PhoneNoticePayload`]).
    PhoneNotice,
    /// One call to the national public-service portal ([`super::integrations::PortalCallPayload`]);
    /// a dossier's calls go in order.
    PortalCall,
}

impl DeliveryKind {
    /// The spelling in `outbox.kind`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Email => "email",
            DeliveryKind::Webhook => "webhook",
            DeliveryKind::CarrierOrder => "carrier_order",
            DeliveryKind::PhoneNotice => "phone_notice",
            DeliveryKind::PortalCall => "portal_call",
        }
    }

    /// Reads `outbox.kind`; `None` for a kind this version does not deliver.
    pub fn parse(s: &str) -> Option<Self> {
        [
            DeliveryKind::Email,
            DeliveryKind::Webhook,
            DeliveryKind::CarrierOrder,
            DeliveryKind::PhoneNotice,
            DeliveryKind::PortalCall,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A new pending row.
pub(crate) fn pending_row(
    kind: DeliveryKind,
    dossier_id: i64,
    payload: serde_json::Value,
    now: DateTime<Utc>,
) -> outbox::ActiveModel {
    outbox::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        dossier_id: Set(Some(dossier_id)),
        payload: Set(payload),
        status: Set(OutboxStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        locked_by: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        done_at: Set(None),
        ..Default::default()
    }
}
