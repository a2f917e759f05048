//! The outside systems of INTEGRATIONS.md as the outbox sees them: phone notices (Zalo ZNS, falling
//! back to SMS) and calls to the national public-service portal, written as outbox rows in the
//! transaction of the change that causes them, and the small state these integrations keep in the
//! database (`integration_states`).
//!
//! - **Outlets.** A worker that can deliver phone notices or portal calls declares so when it starts
//!   ([`declare_outlets`]); rows of an outlet are written only while it is declared, so a service with
//!   no SMS, ZNS or portal configured never piles up work nobody will do. The last worker started
//!   decides; every worker of one deployment is meant to share one configuration.
//! - **Phone notices.** One row per citizen notice when the applicant gave a phone: the row is the one
//!   message of that notice on the phone channel, whether it goes by ZNS or, when ZNS refuses the
//!   phone, by SMS. The payload names the notice only; the phone number and the dossier's facts are
//!   read when it is sent, so personal data never sits in the outbox.
//! - **Portal calls.** `DongBoHoSoMC` once, when the dossier is filed, then `CapNhatTienDoHoSoMC` on each
//!   later change the portal has a code for. Workers send a dossier's calls in the order they were
//!   written (see [`super::outbox::claim_batch_of`]).
//! - **Zalo tokens.** Zalo's refresh token rotates on every use; the latest one is kept here, with the
//!   access token it came with, so a restart or another worker goes on from it.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::enums::{DossierStatus, EventKind, LegDirection};
use entity::{agency, dossier, dossier_event, integration_state, outbox, procedure};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::outbox_rows::{DeliveryKind, pending_row};
use crate::notify::{PhoneTopic, portal_status};

/// The name of the phone outlet's flag.
pub const OUTLET_PHONE: &str = "outlets.phone";
/// The name of the portal outlet's flag.
pub const OUTLET_PORTAL: &str = "outlets.portal";
/// The name of Zalo's token state.
pub const ZALO_TOKENS: &str = "zalo.tokens";

/// Which outside systems the workers deliver to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outlets {
    /// ZNS or SMS (or both) is configured.
    pub phone: bool,
    /// The national portal is configured.
    pub portal: bool,
}

/// The outlets declared by the last worker started; none when no worker declared any.
pub async fn outlets(conn: &impl ConnectionTrait) -> Result<Outlets, DbErr> {
    let rows: Vec<(String, String)> = integration_state::Entity::find()
        .select_only()
        .column(integration_state::Column::Name)
        .column(integration_state::Column::Value)
        .filter(integration_state::Column::Name.is_in([OUTLET_PHONE, OUTLET_PORTAL]))
        .into_tuple()
        .all(conn)
        .await?;
    let on = |name: &str| rows.iter().any(|(n, v)| n == name && v == "on");
    Ok(Outlets {
        phone: on(OUTLET_PHONE),
        portal: on(OUTLET_PORTAL),
    })
}

/// Records which outlets this deployment's workers deliver to.
pub async fn declare_outlets(conn: &impl ConnectionTrait, outlets: Outlets) -> Result<(), DbErr> {
    let flag = |on: bool| if on { "on" } else { "off" };
    put_state(conn, OUTLET_PHONE, flag(outlets.phone)).await?;
    put_state(conn, OUTLET_PORTAL, flag(outlets.portal)).await
}

/// A stored value.
pub async fn get_state(conn: &impl ConnectionTrait, name: &str) -> Result<Option<String>, DbErr> {
    Ok(integration_state::Entity::find_by_id(name)
        .one(conn)
        .await?
        .map(|s| s.value))
}

/// A stored value, its row locked until `txn` ends (on PostgreSQL), so that one worker at a time
/// changes it; an empty row is made first when there is none, so that there is a row to lock.
pub async fn lock_state(txn: &impl ConnectionTrait, name: &str) -> Result<Option<String>, DbErr> {
    if get_state(txn, name).await?.is_none() {
        integration_state::Entity::insert(integration_state::ActiveModel {
            name: Set(name.to_owned()),
            value: Set(String::new()),
            updated_at: Set(crate::clock::now()),
        })
        .on_conflict_do_nothing()
        .exec(txn)
        .await?;
    }
    Ok(integration_state::Entity::find_by_id(name)
        .lock_exclusive()
        .one(txn)
        .await?
        .map(|r| r.value))
}

/// The dossier an outlet's row names, read when the row is sent: its facts (the applicant's phone
/// and name among them) never sit in the outbox.
pub async fn dossier_to_send(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<dossier::Model>, DbErr> {
    dossier::Entity::find_by_id(id).one(conn).await
}

/// The agency a portal call reports for.
pub async fn agency_to_send(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<agency::Model>, DbErr> {
    agency::Entity::find_by_id(code.to_owned()).one(conn).await
}

/// The procedure a portal call names.
pub async fn procedure_to_send(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<procedure::Model>, DbErr> {
    procedure::Entity::find_by_id(code.to_owned())
        .one(conn)
        .await
}

/// Stores a value, replacing the one before.
pub async fn put_state(conn: &impl ConnectionTrait, name: &str, value: &str) -> Result<(), DbErr> {
    integration_state::Entity::insert(integration_state::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(value.to_owned()),
        updated_at: Set(crate::clock::now()),
    })
    .on_conflict(
        OnConflict::column(integration_state::Column::Name)
            .update_columns([
                integration_state::Column::Value,
                integration_state::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The payload of a `phone_notice` row: which notice, nothing personal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNoticePayload {
    /// The timeline event the notice tells of; none for a notice without one (a complaint's answer).
    pub event_id: Option<i64>,
    pub topic: PhoneTopic,
    /// Set once ZNS refused the phone (no Zalo account, …): the following attempts go straight to SMS,
    /// so the notice reaches the phone once and never by both channels.
    #[serde(default)]
    pub zns_refused: bool,
}

/// The portal's two services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PortalService {
    /// The dossier, once, when it is filed.
    DongBoHoSoMC,
    /// A later change of its status.
    CapNhatTienDoHoSoMC,
}

impl PortalService {
    /// The `service` field of the call.
    pub const fn as_str(self) -> &'static str {
        match self {
            PortalService::DongBoHoSoMC => "DongBoHoSoMC",
            PortalService::CapNhatTienDoHoSoMC => "CapNhatTienDoHoSoMC",
        }
    }
}

/// The payload of a `portal_call` row: the change as it was when it happened; the dossier's other
/// facts (the applicant's name among them) are read when the call is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalCallPayload {
    pub event_id: i64,
    pub service: PortalService,
    pub status: DossierStatus,
    /// `TrangThaiHoSo`.
    pub portal_status: i32,
    /// When the change happened (`ThoiDiemXuLy`).
    pub at: DateTime<Utc>,
}

/// The phone notice an event sends the citizen, if any (INTEGRATIONS.md "Which notices go where").
pub fn phone_topic(kind: EventKind, leg: Option<LegDirection>) -> Option<PhoneTopic> {
    let homebound = leg != Some(LegDirection::Inbound);
    let status = match kind {
        EventKind::Requested => DossierStatus::PickupRequested,
        EventKind::PickedUp if leg != Some(LegDirection::Outbound) => DossierStatus::PickedUp,
        EventKind::ReceivedByAgency => DossierStatus::ReceivedByAgency,
        EventKind::SupplementRequested => DossierStatus::SupplementRequested,
        EventKind::ResultReady => DossierStatus::ResultReady,
        EventKind::OutForDelivery if homebound => DossierStatus::OutForDelivery,
        EventKind::DeliveryFailed if homebound => DossierStatus::DeliveryFailed,
        EventKind::Delivered if homebound => DossierStatus::Delivered,
        EventKind::ReturnedToAgency => DossierStatus::ReturnedToAgency,
        EventKind::Incident => return Some(PhoneTopic::Incident),
        _ => return None,
    };
    Some(PhoneTopic::Status(status))
}

/// Whether `event` moved its dossier, or is an incident (which moves nothing by nature): whether it
/// may tell the citizen something new (see [`super::outbox::tells_citizen`]).
pub(crate) fn moved_or_incident(event: &dossier_event::Model) -> bool {
    event.to_status.is_some() || event.kind == EventKind::Incident
}

/// The phone notice `event` causes, if any: none for a report that only joined the timeline.
fn phone_topic_of(event: &dossier_event::Model) -> Option<PhoneTopic> {
    moved_or_incident(event)
        .then(|| phone_topic(event.kind, event.leg))
        .flatten()
}

/// Whether an event may cause a phone notice or a portal call (before the outlets are known).
pub fn may_reach_outlets(event: &dossier_event::Model) -> bool {
    phone_topic_of(event).is_some() || event.to_status.is_some_and(|s| portal_status(s).is_some())
}

/// Rows per bulk statement, well under both databases' limits on bound parameters.
const CHUNK: usize = 500;

/// The most pickup requests confirmed to one phone in a day. Anyone can request a pickup for any
/// phone number and cancel it with the token they get back: without a ceiling, a loop of requests
/// and cancellations would text a stranger's phone as often as the public write limit allows, at
/// the operator's cost. Past it the request is still made and answered (with its tracking link);
/// only the phone's confirmation is left out, and every later notice of the dossier goes as usual.
pub const REQUEST_CONFIRMATIONS_PER_PHONE_PER_DAY: u64 = 3;

/// Whether the pickup request `dossier` is confirmed by phone: fewer than
/// [`REQUEST_CONFIRMATIONS_PER_PHONE_PER_DAY`] requests for its phone, open or not, were made in the
/// day before it (index `dossiers_phone_created`).
async fn may_confirm_by_phone(
    conn: &impl ConnectionTrait,
    dossier: &dossier::Model,
) -> Result<bool, DbErr> {
    use sea_orm::PaginatorTrait;
    let since = dossier.created_at - chrono::TimeDelta::days(1);
    let earlier = requests_for_phone_since(&dossier.applicant_phone, since, dossier.id)
        .count(conn)
        .await?;
    Ok(earlier < REQUEST_CONFIRMATIONS_PER_PHONE_PER_DAY)
}

/// The requests for `phone` made from `since` on, before the dossier `before_id`.
pub fn requests_for_phone_since(
    phone: &str,
    since: DateTime<Utc>,
    before_id: i64,
) -> sea_orm::Select<dossier::Entity> {
    dossier::Entity::find()
        .filter(dossier::Column::ApplicantPhone.eq(phone))
        .filter(dossier::Column::CreatedAt.gte(since))
        .filter(dossier::Column::Id.lt(before_id))
}

/// The phone-notice and portal-call rows of `events`, in their order, for the outlets declared.
pub(crate) async fn rows_for_events(
    conn: &impl ConnectionTrait,
    events: &[dossier_event::Model],
    dossiers: &HashMap<i64, dossier::Model>,
    outlets: Outlets,
    now: DateTime<Utc>,
) -> Result<Vec<outbox::ActiveModel>, DbErr> {
    let mut rows = Vec::new();
    // Dossiers the portal already knows: their filing call is written.
    let mut synced = if outlets.portal {
        synced_with_portal(conn, events).await?
    } else {
        HashSet::new()
    };
    for event in events {
        let Some(dossier) = dossiers.get(&event.dossier_id) else {
            continue;
        };
        if outlets.phone
            && !dossier.applicant_phone.trim().is_empty()
            && let Some(topic) = phone_topic_of(event)
            && (event.kind != EventKind::Requested || may_confirm_by_phone(conn, dossier).await?)
        {
            rows.push(pending_row(
                DeliveryKind::PhoneNotice,
                dossier.id,
                to_json(&PhoneNoticePayload {
                    event_id: Some(event.id),
                    topic,
                    zns_refused: false,
                })?,
                now,
            ));
        }
        if outlets.portal
            && let Some(status) = event.to_status
            && let Some(code) = portal_status(status)
        {
            let service = if synced.contains(&dossier.id) {
                PortalService::CapNhatTienDoHoSoMC
            } else if status == DossierStatus::ReceivedByAgency {
                PortalService::DongBoHoSoMC
            } else {
                // The portal never heard of this dossier (not filed through the post): nothing to update.
                continue;
            };
            synced.insert(dossier.id);
            rows.push(pending_row(
                DeliveryKind::PortalCall,
                dossier.id,
                to_json(&PortalCallPayload {
                    event_id: event.id,
                    service,
                    status,
                    portal_status: code,
                    at: event.at,
                })?,
                now,
            ));
        }
    }
    Ok(rows)
}

/// Those of the events' dossiers whose filing call to the portal is written already.
async fn synced_with_portal(
    conn: &impl ConnectionTrait,
    events: &[dossier_event::Model],
) -> Result<HashSet<i64>, DbErr> {
    let mut synced: HashSet<i64> = HashSet::new();
    let ids: Vec<i64> = events
        .iter()
        .filter(|e| e.to_status.is_some_and(|s| portal_status(s).is_some()))
        .map(|e| e.dossier_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for chunk in ids.chunks(CHUNK) {
        synced.extend(
            outbox::Entity::find()
                .select_only()
                .column(outbox::Column::DossierId)
                .filter(outbox::Column::Kind.eq(DeliveryKind::PortalCall.as_str()))
                .filter(outbox::Column::DossierId.is_in(chunk.iter().copied()))
                .into_tuple::<Option<i64>>()
                .all(conn)
                .await?
                .into_iter()
                .flatten(),
        );
    }
    Ok(synced)
}

/// The phone notice of a message no event stands for (a complaint's answer), when the phone outlet is
/// declared and the applicant gave a phone.
pub(crate) async fn phone_notice_row(
    conn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    topic: PhoneTopic,
    now: DateTime<Utc>,
) -> Result<Option<outbox::ActiveModel>, DbErr> {
    if dossier.applicant_phone.trim().is_empty() || !outlets(conn).await?.phone {
        return Ok(None);
    }
    Ok(Some(pending_row(
        DeliveryKind::PhoneNotice,
        dossier.id,
        to_json(&PhoneNoticePayload {
            event_id: None,
            topic,
            zns_refused: false,
        })?,
        now,
    )))
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, DbErr> {
    serde_json::to_value(value).map_err(|e| DbErr::Custom(format!("outbox payload: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citizen_notices_reach_the_phone_and_the_inbound_parcel_only_when_picked_up() {
        use EventKind as K;
        use LegDirection::{Inbound, Outbound};
        let status = |s| Some(PhoneTopic::Status(s));
        assert_eq!(
            phone_topic(K::Requested, None),
            status(DossierStatus::PickupRequested)
        );
        assert_eq!(
            phone_topic(K::PickedUp, Some(Inbound)),
            status(DossierStatus::PickedUp)
        );
        assert_eq!(phone_topic(K::Delivered, Some(Inbound)), None);
        assert_eq!(
            phone_topic(K::Delivered, Some(Outbound)),
            status(DossierStatus::Delivered)
        );
        assert_eq!(
            phone_topic(K::Incident, Some(Inbound)),
            Some(PhoneTopic::Incident)
        );
        assert_eq!(phone_topic(K::Departed, Some(Inbound)), None);
        assert_eq!(phone_topic(K::Accepted, None), None);
    }

    #[test]
    fn payloads_round_trip_and_old_rows_read_without_the_refusal_flag() {
        let p: PhoneNoticePayload = serde_json::from_value(serde_json::json!({
            "event_id": 7, "topic": {"topic": "status", "status": "result_ready"}
        }))
        .expect("payload");
        assert_eq!(p.topic, PhoneTopic::Status(DossierStatus::ResultReady));
        assert!(!p.zns_refused);
        let json = serde_json::to_value(PortalService::DongBoHoSoMC).expect("json");
        assert_eq!(json, "DongBoHoSoMC");
    }
}
