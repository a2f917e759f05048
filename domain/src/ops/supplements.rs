//! Supplements by post: when the agency finds a dossier incomplete it names the missing documents
//! (the `supplement_requested` verdict); the citizen sends them by post like the dossier itself. The
//! supplement travels as a second inbound parcel (purpose `supplement`): it is on the office's pickup
//! worklist, picked up (collecting the postage of one inbound leg, exemptions applied), handed over on
//! a `to_agency` record and, when the desk signs, the dossier is back in `processing` with its result
//! due date counted anew from that filing (the agency's clock stood still meanwhile).
//!
//! Before its pickup the parcel goes through the stages of a first pickup, with the same rules
//! (the lifecycle's, asked with the stage in the dossier status's words: [`pickup_stage`]): requested
//! (leg `planned`), booked (`pickup_scheduled`, the date and half-day on the leg), failed
//! (`pickup_failed`, booked again from there). The stage lives on the parcel, not on the dossier,
//! whose status stays `supplement_requested` all along, so the agency's clock stays stopped.

use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{
    DossierStatus, EventKind, EventSource, LegDirection, LegPurpose, LegStatus, PickupWindow,
    RouteClass,
};
use entity::{dossier, leg, procedure_document, supplement};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};

use super::access::Actor;
use super::catalog::Catalog;
use super::dossiers::{
    Address, AddressRequest, DocumentRequest, SlipDocument, check_address, check_documents,
    find_by_code_for_update,
};
use super::validation::Checker;
use super::{NewEvent, OpError, append_event};
use crate::lifecycle::{Action, InvalidTransition, next_status};
use crate::route::{Place, route_class};
use crate::store::Store;

/// The statuses of a supplement parcel between its pickup and the desk.
pub const ON_ITS_WAY: &[LegStatus] = &[LegStatus::PickedUp, LegStatus::InTransit];

/// Writes the agency's request for `missing` documents (in the verdict's transaction).
pub(crate) async fn record_request(
    conn: &impl ConnectionTrait,
    dossier_id: i64,
    missing: &[String],
    now: DateTime<Utc>,
) -> Result<(), OpError> {
    supplement::ActiveModel {
        dossier_id: Set(dossier_id),
        requested_at: Set(now),
        missing_documents: Set(serde_json::to_value(missing).unwrap_or_default()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// A dossier's supplements, oldest first.
pub async fn list_for_dossier(
    conn: &impl ConnectionTrait,
    dossier_id: i64,
) -> Result<Vec<supplement::Model>, OpError> {
    Ok(supplement::Entity::find()
        .filter(supplement::Column::DossierId.eq(dossier_id))
        .order_by_asc(supplement::Column::Id)
        .all(conn)
        .await?)
}

/// The supplement the agency is waiting for: the latest one not yet filed.
async fn open_request(
    conn: &impl ConnectionTrait,
    dossier_id: i64,
) -> Result<Option<supplement::Model>, OpError> {
    Ok(supplement::Entity::find()
        .filter(supplement::Column::DossierId.eq(dossier_id))
        .filter(supplement::Column::FiledAt.is_null())
        .order_by_desc(supplement::Column::Id)
        .one(conn)
        .await?)
}

/// The documents a supplement request names.
pub fn missing_documents(s: &supplement::Model) -> Vec<String> {
    serde_json::from_value(s.missing_documents.clone()).unwrap_or_default()
}

/// The documents the citizen sends with a supplement.
pub fn sent_documents(s: &supplement::Model) -> Vec<SlipDocument> {
    s.documents
        .clone()
        .and_then(|d| serde_json::from_value(d).ok())
        .unwrap_or_default()
}

/// A supplement as the citizen sends it.
#[derive(Debug, Clone, Default)]
pub struct SupplementRequest {
    pub documents: Option<Vec<DocumentRequest>>,
    /// Where to collect it; `None` collects at the dossier's pickup address.
    pub pickup_address: Option<AddressRequest>,
}

/// The citizen sends the missing documents by post: a new inbound parcel (purpose `supplement`) goes
/// on the office's pickup worklist, priced as one inbound leg with the dossier's exemption.
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn submit_supplement(
    store: &Store,
    actor: &Actor,
    code: &str,
    request: &SupplementRequest,
) -> Result<dossier::Model, OpError> {
    if !matches!(actor, Actor::Citizen { .. }) {
        return Err(OpError::Forbidden(
            "supplements are sent by the citizen, with the dossier's access token".into(),
        ));
    }
    let (documents, given) = check_supplement(request)?;
    let catalog = store.catalog.get(&store.read).await?;

    let txn = store.begin().await?;
    let (dossier, open) = find_open_request(&txn, actor, code).await?;
    let mut documents = documents;
    match_procedure_list(
        catalog.documents(&dossier.procedure_code),
        &dossier.procedure_code,
        &mut documents,
    )?;
    let address = collect_from(given, &dossier)?;
    let (class, postage) = price(&catalog, &dossier, &address)?;
    let now = crate::clock::now();
    let leg = insert_parcel(&txn, &dossier, class, now).await?;
    let mut active: supplement::ActiveModel = open.into();
    active.submitted_at = Set(Some(now));
    active.documents = Set(Some(serde_json::to_value(&documents).unwrap_or_default()));
    active.pickup_line = Set(Some(address.line));
    active.pickup_ward_code = Set(Some(address.ward_code));
    active.pickup_province_code = Set(Some(address.province_code));
    active.postage_vnd = Set(Some(postage));
    active.leg_id = Set(Some(leg.id));
    active.update(&txn).await?;
    let updated = note_submitted(&txn, actor, &dossier, documents.len(), postage, now).await?;
    txn.commit().await?;
    Ok(updated)
}

/// The documents sent and the address to collect them from, when one is given.
fn check_supplement(
    request: &SupplementRequest,
) -> Result<(Vec<SlipDocument>, Option<Address>), OpError> {
    let mut c = Checker::new();
    let documents = check_documents(&mut c, request.documents.as_deref());
    let given = request
        .pickup_address
        .as_ref()
        .and_then(|a| check_address(&mut c, "pickup_address", Some(a)));
    c.finish().map_err(OpError::Validation)?;
    Ok((documents, given))
}

/// Matches a supplement's documents to the procedure's published list, like the dossier's own: each
/// must be on it (by code, or by its exact name), since the post accepts only the documents a
/// procedure lists (Decision 45 Art. 6, 16); matched documents take the list's name and code. The
/// procedure's required documents are not asked for: a supplement carries only the missing ones.
/// Each document off the list is named in its own detail (field `documents`).
fn match_procedure_list(
    listed: &[procedure_document::Model],
    procedure_code: &str,
    documents: &mut [SlipDocument],
) -> Result<(), OpError> {
    let mut c = Checker::new();
    for (i, doc) in documents.iter_mut().enumerate() {
        let found = match &doc.code {
            Some(code) => listed.iter().find(|l| &l.code == code),
            None => listed.iter().find(|l| l.name == doc.name),
        };
        match found {
            Some(l) => {
                doc.name = l.name.clone();
                doc.code = Some(l.code.clone());
            }
            None => {
                let what = match &doc.code {
                    Some(code) => format!("the document coded `{code}`"),
                    None => format!("“{}”", doc.name),
                };
                c.fail(
                    "documents",
                    format!(
                        "documents[{i}]: {what} is not on the published document list of procedure \
                         {procedure_code}; the post accepts only the documents it lists"
                    ),
                );
            }
        }
    }
    c.finish().map_err(OpError::Validation)
}

/// The dossier, locked, waiting for a supplement, and the agency's request not answered yet.
async fn find_open_request(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    code: &str,
) -> Result<(dossier::Model, supplement::Model), OpError> {
    let dossier = find_by_code_for_update(txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    super::access::ensure_access(actor, &dossier)?;
    if dossier.status != DossierStatus::SupplementRequested {
        return Err(InvalidTransition {
            mode: dossier.service_mode,
            from: dossier.status,
            action: Action::ReceiveSupplement,
        }
        .into());
    }
    let Some(open) = open_request(txn, dossier.id).await? else {
        return Err(OpError::TransitionRefused(
            "the agency named no documents to supplement".into(),
        ));
    };
    if open.submitted_at.is_some() {
        return Err(OpError::Conflict(
            "the supplement is already on its way; follow its parcel on the dossier".into(),
        ));
    }
    Ok((dossier, open))
}

/// Where the parcel is collected: the address given, else the dossier's pickup address.
fn collect_from(given: Option<Address>, dossier: &dossier::Model) -> Result<Address, OpError> {
    match given {
        Some(a) => Ok(a),
        None => match (
            &dossier.pickup_line,
            &dossier.pickup_ward_code,
            &dossier.pickup_province_code,
        ) {
            (Some(line), Some(ward), Some(province)) => Ok(Address {
                line: line.clone(),
                ward_code: ward.clone(),
                province_code: province.clone(),
            }),
            _ => Err(OpError::field(
                "pickup_address",
                "is required: the dossier has no pickup address to collect from",
            )),
        },
    }
}

/// The route class from `address` to the agency and the postage of one inbound leg on it, the
/// dossier's exemption applied.
fn price(
    catalog: &Catalog,
    dossier: &dossier::Model,
    address: &Address,
) -> Result<(RouteClass, i64), OpError> {
    let Some(agency) = catalog.agency(&dossier.agency_code) else {
        return Err(OpError::NotFound("agency"));
    };
    let class: RouteClass = route_class(
        Place {
            province_code: &address.province_code,
            ward_code: &address.ward_code,
        },
        Place {
            province_code: &agency.province_code,
            ward_code: &agency.ward_code,
        },
        |p| catalog.is_major_city(p),
    );
    let Some(postage) = catalog.postage(class) else {
        return Err(OpError::Conflict(format!(
            "no tariff is set for route class `{class}`; ask an administrator"
        )));
    };
    Ok((
        class,
        crate::fees::apply_exemption(postage, dossier.fee_exemption),
    ))
}

/// The supplement's parcel: a second inbound leg, planned.
async fn insert_parcel(
    txn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    class: RouteClass,
    now: DateTime<Utc>,
) -> Result<leg::Model, OpError> {
    Ok(leg::ActiveModel {
        dossier_id: Set(dossier.id),
        direction: Set(LegDirection::Inbound),
        route_class: Set(class),
        item_code: Set(None),
        status: Set(LegStatus::Planned),
        due_at: Set(None),
        delivered_at: Set(None),
        failed_attempts: Set(0),
        last_failed_at: Set(None),
        purpose: Set(Some(LegPurpose::Supplement)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?)
}

/// The dossier is touched and its timeline tells what is to be collected, at what postage.
async fn note_submitted(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    dossier: &dossier::Model,
    documents: usize,
    postage: i64,
    now: DateTime<Utc>,
) -> Result<dossier::Model, OpError> {
    let mut touched: dossier::ActiveModel = dossier.clone().into();
    touched.updated_at = Set(now);
    let updated = touched.update(txn).await?;
    append_event(
        txn,
        dossier.id,
        actor,
        NewEvent {
            at: now,
            kind: EventKind::SupplementSubmitted,
            source: EventSource::Api,
            from_status: None,
            to_status: None,
            leg: Some(LegDirection::Inbound),
            location: None,
            note: Some(format!(
                "{documents} document(s) to collect; {postage} VND postage"
            )),
        },
    )
    .await?;
    Ok(updated)
}

/// The supplement parcel of a dossier waiting for the agency, with its supplement row: the latest
/// submitted one not yet filed.
pub(crate) async fn pending_parcel(
    conn: &impl ConnectionTrait,
    dossier_id: i64,
) -> Result<Option<(supplement::Model, leg::Model)>, OpError> {
    let Some(open) = open_request(conn, dossier_id).await? else {
        return Ok(None);
    };
    let Some(leg_id) = open.leg_id else {
        return Ok(None);
    };
    let leg = leg::Entity::find_by_id(leg_id).one(conn).await?;
    Ok(leg.map(|l| (open, l)))
}

/// The stage of a supplement's parcel before its pickup, in the words of a first pickup's dossier
/// status: `planned` is `pickup_requested`, then `pickup_scheduled` and `pickup_failed`. `None` once
/// it is picked up (or for any other parcel status).
pub fn pickup_stage(status: LegStatus) -> Option<DossierStatus> {
    match status {
        LegStatus::Planned => Some(DossierStatus::PickupRequested),
        LegStatus::PickupScheduled => Some(DossierStatus::PickupScheduled),
        LegStatus::PickupFailed => Some(DossierStatus::PickupFailed),
        _ => None,
    }
}

/// The parcel status of a stage [`pickup_stage`] names, or the one after the pickup.
fn parcel_status(stage: DossierStatus) -> Option<LegStatus> {
    match stage {
        DossierStatus::PickupRequested => Some(LegStatus::Planned),
        DossierStatus::PickupScheduled => Some(LegStatus::PickupScheduled),
        DossierStatus::PickupFailed => Some(LegStatus::PickupFailed),
        DossierStatus::PickedUp => Some(LegStatus::PickedUp),
        _ => None,
    }
}

/// Whether a supplement's parcel in `status` allows `action` (book, fail or record its pickup):
/// exactly when a first pickup at the same stage would, in the dossier's service mode.
pub fn parcel_allows(dossier: &dossier::Model, status: LegStatus, action: Action) -> bool {
    next_pickup_status(dossier, status, action).is_some()
}

/// The parcel's status after `action`, as a first pickup at the same stage would move.
fn next_pickup_status(
    dossier: &dossier::Model,
    status: LegStatus,
    action: Action,
) -> Option<LegStatus> {
    let stage = pickup_stage(status)?;
    next_status(dossier.service_mode, stage, action)
        .ok()
        .and_then(parcel_status)
}

/// The supplement's parcel waiting for its pickup, moved by `action`: refused as the lifecycle
/// refuses it for a first pickup (`invalid_transition`, from the dossier's status) when no parcel
/// waits or its stage does not allow it.
async fn parcel_for(
    txn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    action: Action,
) -> Result<(supplement::Model, leg::Model, LegStatus), OpError> {
    let invalid = || {
        OpError::from(InvalidTransition {
            mode: dossier.service_mode,
            from: dossier.status,
            action,
        })
    };
    let (open, parcel) = pending_parcel(txn, dossier.id).await?.ok_or_else(invalid)?;
    let to = next_pickup_status(dossier, parcel.status, action).ok_or_else(invalid)?;
    Ok((open, parcel, to))
}

/// Books (or moves) the pickup of a supplement's parcel (in the caller's transaction, the dossier
/// locked), by the first pickup's rules: the parcel is `pickup_scheduled` with its date and half-day;
/// the dossier stays `supplement_requested`. The timeline event is the first pickup's, on the inbound
/// leg, so it reaches whoever a first pickup's booking reaches.
pub(crate) async fn schedule_pickup(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    dossier: dossier::Model,
    date: NaiveDate,
    window: PickupWindow,
) -> Result<dossier::Model, OpError> {
    let (_, parcel, to) = parcel_for(txn, &dossier, Action::SchedulePickup).await?;
    let now = crate::clock::now();
    let mut leg_update: leg::ActiveModel = parcel.into();
    leg_update.status = Set(to);
    leg_update.pickup_date = Set(Some(date));
    leg_update.pickup_window = Set(Some(window));
    leg_update.updated_at = Set(now);
    leg_update.update(txn).await?;
    touch_with_event(
        txn,
        actor,
        dossier,
        NewEvent {
            at: now,
            kind: EventKind::PickupScheduled,
            source: EventSource::Api,
            from_status: None,
            to_status: None,
            leg: Some(LegDirection::Inbound),
            location: None,
            note: Some(format!("supplement: {date} {window}")),
        },
    )
    .await
}

/// Records that the postman came for a supplement's parcel and could not collect it (in the caller's
/// transaction, the dossier locked), by the first pickup's rules: the parcel is `pickup_failed` and
/// may be booked again; the dossier stays `supplement_requested`.
pub(crate) async fn record_pickup_failure(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    dossier: dossier::Model,
    reason: Option<String>,
) -> Result<dossier::Model, OpError> {
    let (_, parcel, to) = parcel_for(txn, &dossier, Action::RecordPickupFailure).await?;
    let now = crate::clock::now();
    let mut leg_update: leg::ActiveModel = parcel.into();
    leg_update.status = Set(to);
    leg_update.updated_at = Set(now);
    leg_update.update(txn).await?;
    touch_with_event(
        txn,
        actor,
        dossier,
        NewEvent {
            at: now,
            kind: EventKind::PickupFailed,
            source: EventSource::Api,
            from_status: None,
            to_status: None,
            leg: Some(LegDirection::Inbound),
            location: None,
            note: Some(format!("supplement: {}", reason.unwrap_or_default())),
        },
    )
    .await
}

/// Marks the dossier changed (its status unchanged) and appends `event` to its timeline.
async fn touch_with_event(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    dossier: dossier::Model,
    event: NewEvent,
) -> Result<dossier::Model, OpError> {
    let dossier_id = dossier.id;
    let mut touched: dossier::ActiveModel = dossier.into();
    touched.updated_at = Set(event.at);
    let updated = touched.update(txn).await?;
    append_event(txn, dossier_id, actor, event).await?;
    Ok(updated)
}

/// Records the pickup of a supplement parcel (in the caller's transaction, the dossier locked), from
/// any stage a first pickup may be recorded from: the fee must be its postage; the parcel gets its
/// item code, its due date and its carrier order; the dossier's status stays `supplement_requested`
/// until the desk signs for it.
pub(crate) async fn record_pickup(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    dossier: dossier::Model,
    fee: i64,
    given: Option<crate::s10::ItemCode>,
    office_code: Option<String>,
) -> Result<dossier::Model, OpError> {
    let (open, parcel, to) = parcel_for(txn, &dossier, Action::RecordPickup).await?;
    check_postage(&open, fee)?;
    let item_code = label(txn, &dossier, given).await?;
    let (parcel, now) = start_parcel(txn, parcel, &item_code, to).await?;
    order_parcel(txn, &dossier, &parcel, &item_code).await?;
    let mut row: supplement::ActiveModel = open.into();
    row.picked_up_at = Set(Some(now));
    row.fee_collected_vnd = Set(Some(fee));
    row.update(txn).await?;
    let dossier_id = dossier.id;
    let mut touched: dossier::ActiveModel = dossier.into();
    touched.updated_at = Set(now);
    let updated = touched.update(txn).await?;
    append_event(
        txn,
        dossier_id,
        actor,
        NewEvent {
            at: now,
            kind: EventKind::PickedUp,
            source: EventSource::Api,
            from_status: None,
            to_status: None,
            leg: Some(LegDirection::Inbound),
            location: office_code,
            note: Some(format!("supplement: item {item_code}; {fee} VND collected")),
        },
    )
    .await?;
    tracing::info!(dossier.code = %updated.code, item.code = %item_code, "supplement picked up");
    Ok(updated)
}

/// The fee collected is the postage of the supplement's parcel, no more, no less.
fn check_postage(open: &supplement::Model, fee: i64) -> Result<(), OpError> {
    let postage = open.postage_vnd.unwrap_or_default();
    if fee != postage {
        return Err(OpError::field(
            "fee_collected_vnd",
            format!("must be {postage} VND, the postage of the supplement's parcel"),
        ));
    }
    Ok(())
}

/// The parcel's item code: the one on the label the postman stuck, unless another parcel carries it,
/// or the next of the office's range.
async fn label(
    txn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    given: Option<crate::s10::ItemCode>,
) -> Result<crate::s10::ItemCode, OpError> {
    match given {
        Some(code) => {
            let taken = leg::Entity::find()
                .filter(leg::Column::ItemCode.eq(code.as_str()))
                .one(txn)
                .await?
                .is_some();
            if taken {
                return Err(OpError::Conflict(format!(
                    "item code {code} is already on another parcel"
                )));
            }
            Ok(code)
        }
        None => super::item_codes::allocate_item_code(txn, &dossier.office_code).await,
    }
}

/// The parcel sets off: its item code, status `to` and due date; answers it and the time it left.
async fn start_parcel(
    txn: &impl ConnectionTrait,
    parcel: leg::Model,
    item_code: &crate::s10::ItemCode,
    to: LegStatus,
) -> Result<(leg::Model, DateTime<Utc>), OpError> {
    let calendar = super::reference::working_calendar(txn).await?;
    let now = crate::clock::now();
    let due_at = crate::sla::leg_due_at(&calendar, parcel.route_class, false, now);
    let mut leg_update: leg::ActiveModel = parcel.into();
    leg_update.item_code = Set(Some(item_code.as_str().to_owned()));
    leg_update.status = Set(to);
    leg_update.due_at = Set(Some(due_at));
    leg_update.started_at = Set(Some(now));
    leg_update.updated_at = Set(now);
    Ok((leg_update.update(txn).await?, now))
}

/// A full parcel: its carrier order goes out from the outbox like the first inbound parcel's, under
/// a number of its own.
async fn order_parcel(
    txn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    parcel: &leg::Model,
    item_code: &crate::s10::ItemCode,
) -> Result<(), OpError> {
    let inbound_parcel = leg::Entity::find()
        .filter(leg::Column::DossierId.eq(dossier.id))
        .filter(leg::Column::Direction.eq(LegDirection::Inbound))
        .filter(leg::Column::Id.lte(parcel.id))
        .count(txn)
        .await?;
    super::carrier_orders::enqueue_numbered_order(
        txn,
        dossier,
        super::carrier_orders::supplement_order_number(&dossier.code, inbound_parcel),
        parcel.id,
        item_code.as_str(),
    )
    .await?;
    Ok(())
}

/// Marks the supplement filed at the desk (in the handover's transaction) and returns its parcel.
pub(crate) async fn mark_filed(
    conn: &impl ConnectionTrait,
    dossier_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<leg::Model>, OpError> {
    let Some((open, parcel)) = pending_parcel(conn, dossier_id).await? else {
        return Ok(None);
    };
    let mut row: supplement::ActiveModel = open.into();
    row.filed_at = Set(Some(now));
    row.update(conn).await?;
    Ok(Some(parcel))
}

/// What an accept or a refusal ruled while the agency waits for a supplement (`supplement_requested`)
/// does to that supplement, in the verdict's transaction (the dossier locked):
/// - a parcel picked up and not yet signed for at the desk would be stranded (its handover could never
///   be signed): the ruling is refused until the desk signs for it;
/// - a parcel the post has not collected yet is closed (`cancelled`): off the office's worklist, no
///   postage owed;
/// - an acceptance means the missing papers reached the desk: the supplement counts as filed now, from
///   which the processing time counts anew (as [`mark_filed`] does on a handover).
///
/// Answers what the timeline should say about the parcel, when anything happened to one.
pub(crate) async fn close_on_verdict(
    conn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    accepted: bool,
    now: DateTime<Utc>,
) -> Result<Option<String>, OpError> {
    let Some(open) = open_request(conn, dossier.id).await? else {
        return Ok(None);
    };
    let parcel = match open.leg_id {
        Some(id) => leg::Entity::find_by_id(id).one(conn).await?,
        None => None,
    };
    let mut note = None;
    let mut changed = false;
    let mut row: supplement::ActiveModel = open.into();
    if let Some(parcel) = parcel {
        if ON_ITS_WAY.contains(&parcel.status) {
            return Err(OpError::TransitionRefused(format!(
                "the supplement of dossier {} was picked up (item {}) and is on its way to the desk: \
                 sign for it on its handover record first, then rule on the dossier",
                dossier.code,
                parcel.item_code.as_deref().unwrap_or("without a code")
            )));
        }
        if pickup_stage(parcel.status).is_some() {
            let mut closed: leg::ActiveModel = parcel.into();
            closed.status = Set(LegStatus::Cancelled);
            closed.updated_at = Set(now);
            closed.update(conn).await?;
            row.postage_vnd = Set(Some(0));
            changed = true;
            note = Some(
                "the supplement's pickup is closed: it was not collected, nothing is owed for it"
                    .to_owned(),
            );
        }
    }
    if accepted {
        row.filed_at = Set(Some(now));
        changed = true;
    }
    if changed {
        row.update(conn).await?;
    }
    Ok(note)
}
