//! Deliveries nobody verified (Decision 45 Art. 10): a result the carrier reports delivered has not
//! been checked against the applicant's identity document or a proxy's authorisation. It is an
//! exception for the office to settle — listed by [`list_exceptions`] until [`confirm_identity`]
//! records who signed, checked exactly like a delivery at the door — never a silent completion.

use chrono::{DateTime, Utc};
use entity::enums::{DeliveryOutcome, EventKind, EventSource, LegDirection, LegStatus, Role};
use entity::{delivery_attempt, dossier, leg};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};

use super::access::{Actor, ensure_access};
use super::dossiers::find_by_code_for_update;
use super::postal::{CheckedRecipient, RecipientRequest, check_recipient, find_leg};
use super::validation::Checker;
use super::{NewEvent, OpError, append_event};
use crate::store::Store;

/// The most exceptions answered at once.
pub const MAX_EXCEPTIONS: u64 = 500;

/// A dossier whose result was reported delivered without the recipient's identity being checked.
#[derive(Debug, Clone)]
pub struct DeliveryException {
    pub dossier: dossier::Model,
    pub item_code: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Who may see and settle exceptions: an office's postal staff (their office's dossiers) and
/// administrators (all). `Some(office)` restricts to that office.
fn exceptions_scope(actor: &Actor) -> Result<Option<String>, OpError> {
    if actor.staff_with_role(Role::Admin).is_some() {
        return Ok(None);
    }
    match actor.staff_with_role(Role::Postal) {
        Some(key) => match &key.office_code {
            Some(office) => Ok(Some(office.clone())),
            None => Err(OpError::Forbidden(
                "this postal key is not bound to a post office".into(),
            )),
        },
        None => Err(OpError::Forbidden(
            "exceptions are settled by post office staff or administrators".into(),
        )),
    }
}

/// The deliveries waiting for an identity check, oldest delivery first: the caller's office's for a
/// postal key, every office's for an administrator.
pub async fn list_exceptions(
    conn: &impl ConnectionTrait,
    actor: &Actor,
) -> Result<Vec<DeliveryException>, OpError> {
    let office = exceptions_scope(actor)?;
    let mut query = leg::Entity::find()
        .join(JoinType::InnerJoin, leg::Relation::Dossier.def())
        .filter(leg::Column::Direction.eq(LegDirection::Outbound))
        .filter(leg::Column::Status.eq(LegStatus::Delivered))
        .filter(leg::Column::IdentityConfirmed.eq(false))
        .order_by_asc(leg::Column::DeliveredAt)
        .order_by_asc(leg::Column::Id)
        .limit(MAX_EXCEPTIONS);
    if let Some(office) = office {
        query = query.filter(dossier::Column::OfficeCode.eq(office));
    }
    let legs = query.all(conn).await?;
    let dossiers: std::collections::HashMap<i64, dossier::Model> = if legs.is_empty() {
        Default::default()
    } else {
        dossier::Entity::find()
            .filter(dossier::Column::Id.is_in(legs.iter().map(|l| l.dossier_id)))
            .all(conn)
            .await?
            .into_iter()
            .map(|d| (d.id, d))
            .collect()
    };
    Ok(legs
        .into_iter()
        .filter_map(|l| {
            dossiers.get(&l.dossier_id).map(|d| DeliveryException {
                dossier: d.clone(),
                item_code: l.item_code,
                delivered_at: l.delivered_at,
            })
        })
        .collect())
}

/// Settles a delivery exception: records who signed for the result, checked like a delivery at the
/// door (the applicant's own identity document, or a proxy with a written authorisation). The
/// delivery's record gets the recipient, the parcel is marked confirmed, and the timeline says so.
/// Refused (nothing stored) when the fields do not hold, or when the result has no unverified delivery.
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn confirm_identity(
    store: &Store,
    actor: &Actor,
    code: &str,
    recipient: Option<&RecipientRequest>,
) -> Result<dossier::Model, OpError> {
    let office = exceptions_scope(actor)?;
    let recipient = check_signer(recipient)?;
    let txn = store.begin().await?;
    let (dossier, leg) = find_unchecked_delivery(&txn, actor, office.as_deref(), code).await?;
    recipient.may_sign_for("recipient", &dossier)?;
    let now = crate::clock::now();
    let proxy = recipient.proxy;
    record_signer(&txn, actor, &dossier, &leg, recipient, now).await?;
    mark_confirmed(&txn, actor, &dossier, leg, proxy, now).await?;
    txn.commit().await?;
    Ok(dossier)
}

/// Who signed, well-formed.
fn check_signer(recipient: Option<&RecipientRequest>) -> Result<CheckedRecipient, OpError> {
    let mut c = Checker::new();
    let recipient = check_recipient(&mut c, "recipient", recipient);
    c.finish().map_err(OpError::Validation)?;
    recipient.ok_or(OpError::Validation(vec![]))
}

/// The dossier, locked, and its result's parcel delivered without an identity check.
async fn find_unchecked_delivery(
    txn: &DatabaseTransaction,
    actor: &Actor,
    office: Option<&str>,
    code: &str,
) -> Result<(dossier::Model, leg::Model), OpError> {
    let dossier = find_by_code_for_update(txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    if office.is_some() {
        ensure_access(actor, &dossier)?;
    }
    let leg = find_leg(txn, dossier.id, LegDirection::Outbound)
        .await?
        .filter(|l| l.status == LegStatus::Delivered && l.identity_confirmed == Some(false))
        .ok_or_else(|| {
            OpError::TransitionRefused(
                "this dossier has no delivery waiting for an identity check".into(),
            )
        })?;
    Ok((dossier, leg))
}

/// Writes who signed on the delivery's attempt, or stores the attempt when the carrier's report
/// left none.
async fn record_signer(
    txn: &DatabaseTransaction,
    actor: &Actor,
    dossier: &dossier::Model,
    leg: &leg::Model,
    recipient: CheckedRecipient,
    now: DateTime<Utc>,
) -> Result<(), OpError> {
    let attempt = delivery_attempt::Entity::find()
        .filter(delivery_attempt::Column::LegId.eq(leg.id))
        .filter(delivery_attempt::Column::Outcome.eq(DeliveryOutcome::Delivered))
        .order_by_desc(delivery_attempt::Column::At)
        .order_by_desc(delivery_attempt::Column::Id)
        .one(txn)
        .await?;
    match attempt {
        Some(attempt) => {
            let mut update: delivery_attempt::ActiveModel = attempt.into();
            update.recipient_full_name = Set(Some(recipient.full_name));
            update.recipient_id_number = Set(Some(recipient.id_number));
            update.proxy = Set(recipient.proxy);
            update.authorization_ref = Set(recipient.authorization_ref);
            update.update(txn).await?;
        }
        None => {
            delivery_attempt::ActiveModel {
                dossier_id: Set(dossier.id),
                leg_id: Set(leg.id),
                outcome: Set(DeliveryOutcome::Delivered),
                at: Set(leg.delivered_at.unwrap_or(now)),
                reason: Set(None),
                recipient_full_name: Set(Some(recipient.full_name)),
                recipient_id_number: Set(Some(recipient.id_number)),
                proxy: Set(recipient.proxy),
                authorization_ref: Set(recipient.authorization_ref),
                fee_collected_vnd: Set(None),
                source: Set(EventSource::Api),
                actor: Set(actor.audit_name()),
                api_key_id: Set(actor.key_id()),
                recorded_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
        }
    }
    Ok(())
}

/// The parcel's delivery is confirmed, and the timeline says who was checked.
async fn mark_confirmed(
    txn: &DatabaseTransaction,
    actor: &Actor,
    dossier: &dossier::Model,
    leg: leg::Model,
    proxy: bool,
    now: DateTime<Utc>,
) -> Result<(), OpError> {
    let mut leg_update: leg::ActiveModel = leg.into();
    leg_update.identity_confirmed = Set(Some(true));
    leg_update.updated_at = Set(now);
    leg_update.update(txn).await?;
    append_event(
        txn,
        dossier.id,
        actor,
        NewEvent {
            at: now,
            kind: EventKind::IdentityConfirmed,
            source: EventSource::Api,
            from_status: None,
            to_status: None,
            leg: Some(LegDirection::Outbound),
            location: None,
            note: Some(if proxy {
                "the recipient of the carrier's delivery was checked: a proxy with a written authorisation".into()
            } else {
                "the recipient of the carrier's delivery was checked: the applicant".into()
            }),
        },
    )
    .await?;
    Ok(())
}
