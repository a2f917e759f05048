//! The post office's work on a dossier (Decision 45 Art. 6 and 10; Circular 17 Art. 5): the office's
//! pickup worklist, booking a pickup, recording a pickup (the dossier slip, the inbound parcel's S10
//! item code and its due date) or a failed one, and delivering the result — the recipient's identity
//! document, failed notices, and the return to the agency after the second notice.
//!
//! Every change locks the dossier row, asks [`crate::lifecycle::next_status`], and writes its timeline
//! event in the same transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Days, NaiveDate, SubsecRound, TimeDelta, Utc};
use entity::enums::{
    DeliveryOutcome, DossierStatus, EventKind, EventSource, LegDirection, LegPurpose, LegStatus,
    PickupWindow, Role,
};
use entity::{delivery_attempt, dossier, leg, pickup_appointment, pickup_slip};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::access::{Actor, StaffKey, ensure_access};
use super::dossiers::{MAX_NAME, MAX_NOTE, find_by_code_for_update};
use super::item_codes::{allocate_item_code, item_code_taken};
use super::validation::{Checker, spellings};
use super::{NewEvent, OpError, append_event};
use crate::delivery::{NoticeRefusal, normalize_identity_document, plan_failed_notice};
use crate::lifecycle::{Action, InvalidTransition, next_status};
use crate::s10::ItemCode;
use crate::sla::{leg_due_at, local_date};
use crate::store::Store;

/// The statuses of the pickup worklist when no status is asked for: the pickups still to be made
/// (the list the phone limit counts, too).
pub use crate::lifecycle::OPEN_PICKUP_STATUSES;

/// The statuses of a supplement's parcel still to be picked up (see
/// [`super::supplements::pickup_stage`]).
pub const SUPPLEMENT_PICKUP: &[LegStatus] = &[
    LegStatus::Planned,
    LegStatus::PickupScheduled,
    LegStatus::PickupFailed,
];

/// The longest worklist answered at once: a day's work of a large office.
pub const MAX_WORKLIST: u64 = 500;

/// How far ahead a pickup may be booked, in days.
pub const MAX_BOOKING_DAYS_AHEAD: u64 = 60;

/// How far in the future a handheld's clock may run: a time up to this far ahead is taken as now,
/// anything later is refused as a mistake.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// The key of a post office's staff, or why the caller may not do postal work.
pub fn postal_key(actor: &Actor) -> Result<&StaffKey, OpError> {
    match actor.staff_with_role(Role::Postal) {
        Some(key) if key.office_code.is_some() => Ok(key),
        Some(_) => Err(OpError::Forbidden(
            "this postal key is not bound to a post office".into(),
        )),
        None => Err(OpError::Forbidden(
            "this is post office work: use a postal key".into(),
        )),
    }
}

/// One leg (parcel) of a dossier.
pub(crate) async fn find_leg(
    conn: &impl ConnectionTrait,
    dossier_id: i64,
    direction: LegDirection,
) -> Result<Option<leg::Model>, OpError> {
    Ok(leg::Entity::find()
        .filter(leg::Column::DossierId.eq(dossier_id))
        .filter(leg::Column::Direction.eq(direction))
        .filter(leg::Column::Purpose.is_null())
        .one(conn)
        .await?)
}

/// Dossiers by id, locked (PostgreSQL) in id order so that two transactions locking overlapping sets
/// never wait on each other in a cycle.
pub(crate) async fn lock_dossiers_by_id(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<dossier::Model>, OpError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let mut query = dossier::Entity::find()
        .filter(super::bulk::id_in(backend, dossier::Column::Id, ids)?)
        .order_by_asc(dossier::Column::Id);
    if backend == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.all(conn).await?)
}

/// Reads a time given by a person or a device: RFC 3339 with an offset, not in the future beyond
/// [`CLOCK_SKEW`] (a handheld's clock running a little fast is kept as given, so that the order of its
/// scans survives).
pub(crate) fn check_at(
    c: &mut Checker,
    field: &str,
    value: Option<&str>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let value = value?.trim();
    match DateTime::parse_from_rfc3339(value) {
        Ok(t) => {
            let t = t.with_timezone(&Utc).trunc_subsecs(6);
            if t > now + CLOCK_SKEW {
                c.fail(field, "must not be in the future");
                None
            } else {
                Some(t)
            }
        }
        Err(_) => {
            c.fail(
                field,
                "must be an RFC 3339 time with its offset, e.g. 2026-11-24T09:30:00+07:00",
            );
            None
        }
    }
}

/// Refuses a time a person or a device gives for a parcel's event that comes before the post took
/// the parcel in (its pickup, or the signing of the result's handover to the post), beyond
/// [`CLOCK_SKEW`]: nothing can happen to a parcel before it exists, and a delivery dated before it
/// would show a late result as delivered on time in the reports.
pub(crate) fn check_not_before_start(leg: &leg::Model, at: DateTime<Utc>) -> Result<(), OpError> {
    match leg.started_at {
        Some(start) if at < start - CLOCK_SKEW => Err(OpError::field(
            "at",
            format!(
                "is before the post took this parcel in ({}); an event of the parcel cannot come \
                 before it",
                crate::sla::to_local(start).to_rfc3339()
            ),
        )),
        _ => Ok(()),
    }
}

/// Writes a dossier's new status.
pub(crate) async fn set_status(
    conn: &impl ConnectionTrait,
    dossier: dossier::Model,
    to: DossierStatus,
    now: DateTime<Utc>,
) -> Result<dossier::Model, OpError> {
    let mut active: dossier::ActiveModel = dossier.into();
    active.status = Set(to);
    active.updated_at = Set(now);
    Ok(active.update(conn).await?)
}

/// A dossier waiting for pickup, with its booked appointment if any.
#[derive(Debug, Clone)]
pub struct PickupItem {
    pub dossier: dossier::Model,
    /// The booked pickup: the dossier's, or for a supplement its parcel's.
    pub appointment: Option<pickup_appointment::Model>,
    /// For a supplement waiting for its pickup: what to collect, where, and for how much.
    pub supplement: Option<entity::supplement::Model>,
    /// For a supplement: its parcel, whose status is the pickup's stage.
    pub parcel: Option<leg::Model>,
}

impl PickupItem {
    /// Where this pickup stands, in a first pickup's words (`pickup_requested`, `pickup_scheduled`,
    /// `pickup_failed`): the dossier's status, or for a supplement its parcel's stage.
    pub fn pickup_status(&self) -> DossierStatus {
        self.parcel
            .as_ref()
            .and_then(|p| super::supplements::pickup_stage(p.status))
            .unwrap_or(self.dossier.status)
    }
}

/// The office's pickup worklist, oldest request first: the dossiers in `status` (or, by default, all
/// still to be picked up) of the caller's post office.
pub async fn list_pickups(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    status: Option<DossierStatus>,
) -> Result<Vec<PickupItem>, OpError> {
    Ok(list_pickups_page(conn, actor, status, None, MAX_WORKLIST)
        .await?
        .items)
}

/// Where a page of the pickup worklist ends: the last request's creation time and id (requests are
/// listed by both, so a page always goes on right after the previous one, whatever changed since).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PickupCursor {
    created_at: DateTime<Utc>,
    id: i64,
}

impl PickupCursor {
    /// The cursor as text, for a link.
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.created_at.timestamp_nanos_opt().unwrap_or_default(),
            self.id
        )
    }

    /// A cursor given back by a client; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let (nanos, id) = text.split_once('_')?;
        Some(Self {
            created_at: DateTime::from_timestamp_nanos(nanos.parse().ok()?),
            id: id.parse().ok()?,
        })
    }
}

/// A page of the pickup worklist, and the cursor of the next one when there is more.
#[derive(Debug, Clone)]
pub struct PickupPage {
    pub items: Vec<PickupItem>,
    pub next: Option<PickupCursor>,
}

/// The office's pickup worklist, oldest first, `limit` requests (1 to [`MAX_WORKLIST`]) after
/// `after`. Every request of the office is on some page.
pub async fn list_pickups_page(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    status: Option<DossierStatus>,
    after: Option<PickupCursor>,
    limit: u64,
) -> Result<PickupPage, OpError> {
    let key = postal_key(actor)?;
    let limit = limit.clamp(1, MAX_WORKLIST);
    let which = worklist_filter(status);
    let (dossiers, next) = read_page(conn, key, which, after, limit).await?;
    let mut appointments = appointments_of(conn, &dossiers).await?;
    let mut supplements = pending_supplements(conn, &dossiers).await?;
    let items = dossiers
        .into_iter()
        .map(|dossier| match supplements.remove(&dossier.id) {
            // The first pickup's booking is history: the supplement's own counts.
            Some((supplement, parcel)) => PickupItem {
                appointment: parcel_appointment(&parcel),
                supplement: Some(supplement),
                parcel: Some(parcel),
                dossier,
            },
            None => PickupItem {
                appointment: appointments.remove(&dossier.id),
                supplement: None,
                parcel: None,
                dossier,
            },
        })
        .collect();
    Ok(PickupPage { items, next })
}

/// Which dossiers the worklist shows for `status`. A supplement waiting for its pickup is listed under
/// the stage of its parcel, in a first pickup's words (requested, scheduled, failed), and all of them
/// under `supplement_requested`: its parcel is collected like a dossier's.
fn worklist_filter(status: Option<DossierStatus>) -> Condition {
    let (statuses, stages): (Vec<DossierStatus>, Vec<LegStatus>) = match status {
        Some(DossierStatus::SupplementRequested) => (Vec::new(), SUPPLEMENT_PICKUP.to_vec()),
        Some(s) => (
            vec![s],
            SUPPLEMENT_PICKUP
                .iter()
                .copied()
                .filter(|l| super::supplements::pickup_stage(*l) == Some(s))
                .collect(),
        ),
        None => (OPEN_PICKUP_STATUSES.to_vec(), SUPPLEMENT_PICKUP.to_vec()),
    };
    let mut which = Condition::any().add(dossier::Column::Status.is_in(statuses));
    if !stages.is_empty() {
        which = which.add(
            Condition::all()
                .add(dossier::Column::Status.eq(DossierStatus::SupplementRequested))
                .add(
                    dossier::Column::Id.in_subquery(
                        Query::select()
                            .column(leg::Column::DossierId)
                            .from(leg::Entity)
                            .and_where(leg::Column::Purpose.eq(LegPurpose::Supplement))
                            .and_where(leg::Column::Status.is_in(stages))
                            .to_owned(),
                    ),
                ),
        );
    }
    which
}

/// One page of the office's worklist, oldest first, after `after`; and the cursor of the next page
/// when there is one.
async fn read_page(
    conn: &impl ConnectionTrait,
    key: &StaffKey,
    which: Condition,
    after: Option<PickupCursor>,
    limit: u64,
) -> Result<(Vec<dossier::Model>, Option<PickupCursor>), OpError> {
    let mut query = dossier::Entity::find()
        .filter(dossier::Column::OfficeCode.eq(key.office_code.clone()))
        .filter(which);
    if let Some(after) = after {
        query = query.filter(
            Condition::any()
                .add(dossier::Column::CreatedAt.gt(after.created_at))
                .add(
                    Condition::all()
                        .add(dossier::Column::CreatedAt.eq(after.created_at))
                        .add(dossier::Column::Id.gt(after.id)),
                ),
        );
    }
    let mut dossiers = query
        .order_by_asc(dossier::Column::CreatedAt)
        .order_by_asc(dossier::Column::Id)
        .limit(limit + 1)
        .all(conn)
        .await?;
    let next = if dossiers.len() as u64 > limit {
        dossiers.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        dossiers.last().map(|d| PickupCursor {
            created_at: d.created_at,
            id: d.id,
        })
    } else {
        None
    };
    Ok((dossiers, next))
}

/// The booked pickups of `dossiers`, by dossier id.
async fn appointments_of(
    conn: &impl ConnectionTrait,
    dossiers: &[dossier::Model],
) -> Result<HashMap<i64, pickup_appointment::Model>, OpError> {
    if dossiers.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(pickup_appointment::Entity::find()
        .filter(pickup_appointment::Column::DossierId.is_in(dossiers.iter().map(|d| d.id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|a| (a.dossier_id, a))
        .collect())
}

/// The supplement each of `dossiers` waiting for one has on its way to pickup, and its parcel.
async fn pending_supplements(
    conn: &impl ConnectionTrait,
    dossiers: &[dossier::Model],
) -> Result<HashMap<i64, (entity::supplement::Model, leg::Model)>, OpError> {
    let mut supplements = HashMap::new();
    for d in dossiers
        .iter()
        .filter(|d| d.status == DossierStatus::SupplementRequested)
    {
        if let Some(pending) = super::supplements::pending_parcel(conn, d.id).await? {
            supplements.insert(d.id, pending);
        }
    }
    Ok(supplements)
}

/// A supplement parcel's booking, shaped like a dossier's appointment.
fn parcel_appointment(parcel: &leg::Model) -> Option<pickup_appointment::Model> {
    match (parcel.pickup_date, parcel.pickup_window) {
        (Some(date), Some(pickup_window)) => Some(pickup_appointment::Model {
            dossier_id: parcel.dossier_id,
            date,
            pickup_window,
            updated_at: parcel.updated_at,
        }),
        _ => None,
    }
}

/// A pickup booking as it arrived.
#[derive(Debug, Clone, Default)]
pub struct ScheduleRequest {
    /// `YYYY-MM-DD`, today or later (local date).
    pub date: Option<String>,
    /// `morning` or `afternoon`.
    pub window: Option<String>,
}

/// Books (or moves) the pickup of a dossier to a date and half-day; while the dossier waits for a
/// supplement, the pickup of the supplement's parcel ([`super::supplements::schedule_pickup`]).
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn schedule_pickup(
    store: &Store,
    actor: &Actor,
    code: &str,
    request: &ScheduleRequest,
) -> Result<dossier::Model, OpError> {
    postal_key(actor)?;
    let now = crate::clock::now();
    let (date, window) = check_booking(request, local_date(now))?;

    let txn = store.begin().await?;
    let dossier = find_by_code_for_update(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    ensure_access(actor, &dossier)?;
    if dossier.status == DossierStatus::SupplementRequested {
        let updated =
            super::supplements::schedule_pickup(&txn, actor, dossier, date, window).await?;
        txn.commit().await?;
        return Ok(updated);
    }
    let updated = book_pickup(&txn, actor, dossier, (date, window), now).await?;
    txn.commit().await?;
    Ok(updated)
}

/// The booked date (from `today` to [`MAX_BOOKING_DAYS_AHEAD`] days ahead) and half-day.
fn check_booking(
    request: &ScheduleRequest,
    today: NaiveDate,
) -> Result<(NaiveDate, PickupWindow), OpError> {
    let mut c = Checker::new();
    let date = match c.required_text("date", request.date.as_deref(), 10) {
        Some(text) => match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) if d < today => {
                c.fail(
                    "date",
                    format!("must not be in the past (today is {today})"),
                );
                None
            }
            Ok(d) if d > today + Days::new(MAX_BOOKING_DAYS_AHEAD) => {
                c.fail(
                    "date",
                    format!("must be within {MAX_BOOKING_DAYS_AHEAD} days from today"),
                );
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                c.fail("date", "must be a date written YYYY-MM-DD");
                None
            }
        },
        None => None,
    };
    let window: Option<PickupWindow> = c.required_enum(
        "window",
        request.window.as_deref(),
        &spellings(PickupWindow::ALL, PickupWindow::as_str),
    );
    c.finish().map_err(OpError::Validation)?;
    let (Some(date), Some(window)) = (date, window) else {
        return Err(OpError::Validation(vec![]));
    };
    Ok((date, window))
}

/// The dossier's pickup is booked: its status moves on, the appointment is written (or moved) and the
/// timeline tells when.
async fn book_pickup(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    dossier: dossier::Model,
    (date, window): (NaiveDate, PickupWindow),
    now: DateTime<Utc>,
) -> Result<dossier::Model, OpError> {
    let from = dossier.status;
    let to = next_status(dossier.service_mode, from, Action::SchedulePickup)?;
    let dossier_id = dossier.id;
    let updated = set_status(txn, dossier, to, now).await?;
    pickup_appointment::Entity::insert(pickup_appointment::ActiveModel {
        dossier_id: Set(dossier_id),
        date: Set(date),
        pickup_window: Set(window),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(pickup_appointment::Column::DossierId)
            .update_columns([
                pickup_appointment::Column::Date,
                pickup_appointment::Column::PickupWindow,
                pickup_appointment::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(txn)
    .await?;
    append_event(
        txn,
        dossier_id,
        actor,
        NewEvent {
            at: now,
            kind: EventKind::PickupScheduled,
            source: EventSource::Api,
            from_status: Some(from),
            to_status: Some(to),
            leg: Some(LegDirection::Inbound),
            location: None,
            note: Some(format!("{date} {window}")),
        },
    )
    .await?;
    Ok(updated)
}

/// A pickup as the postal worker records it.
#[derive(Debug, Clone, Default)]
pub struct PickupRequest {
    /// Must be `true`: the documents were checked against the procedure's list (Art. 6).
    pub documents_checked: Option<bool>,
    /// Must equal the dossier's total: postage and any fee collected on the agency's behalf.
    pub fee_collected_vnd: Option<i64>,
    /// The S10 code on the parcel, typed or scanned; `None` allocates one from the office's range.
    pub item_code: Option<String>,
}

/// A recorded pickup: the dossier and its signed slip (none for a supplement's parcel, whose pickup
/// is kept with the supplement).
#[derive(Debug, Clone)]
pub struct PickupRecorded {
    pub dossier: dossier::Model,
    pub slip: Option<pickup_slip::Model>,
}

/// Records a pickup: the documents checked and the fee collected, the dossier slip (J = the local date
/// of the pickup), the inbound parcel's item code (given and validated, or allocated) and its due date
/// J + n working days by route class (Circular 17 Art. 7).
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn record_pickup(
    store: &Store,
    actor: &Actor,
    code: &str,
    request: &PickupRequest,
) -> Result<PickupRecorded, OpError> {
    let key = postal_key(actor)?;
    let given = check_pickup(request)?;

    let txn = store.begin().await?;
    let dossier = find_by_code_for_update(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    ensure_access(actor, &dossier)?;
    let fee = request.fee_collected_vnd.unwrap_or_default();
    if dossier.status == DossierStatus::SupplementRequested {
        let office = key.office_code.clone();
        let updated =
            super::supplements::record_pickup(&txn, actor, dossier, fee, given, office).await?;
        txn.commit().await?;
        return Ok(PickupRecorded {
            dossier: updated,
            slip: None,
        });
    }
    let from = dossier.status;
    let to = next_status(dossier.service_mode, from, Action::RecordPickup)?;
    check_total(&dossier, fee)?;
    let leg = find_leg(&txn, dossier.id, LegDirection::Inbound)
        .await?
        .ok_or(OpError::NotFound("inbound parcel"))?;
    let item_code = label_parcel(&txn, &dossier, given).await?;
    let now = start_inbound_parcel(&txn, &dossier, &leg, &item_code).await?;
    let slip = write_slip(&txn, actor, key, &dossier, &leg, &item_code, fee, now).await?;

    let dossier_id = dossier.id;
    let updated = set_status(&txn, dossier, to, now).await?;
    append_event(
        &txn,
        dossier_id,
        actor,
        NewEvent {
            at: now,
            kind: EventKind::PickedUp,
            source: EventSource::Api,
            from_status: Some(from),
            to_status: Some(to),
            leg: Some(LegDirection::Inbound),
            location: key.office_code.clone(),
            note: Some(format!("item {item_code}; {fee} VND collected")),
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(dossier.code = %updated.code, item.code = %item_code, "picked up");
    Ok(PickupRecorded {
        dossier: updated,
        slip: Some(slip),
    })
}

/// The documents were checked, the fee is given, and the item code of a label stuck by hand (if any)
/// is well-formed.
fn check_pickup(request: &PickupRequest) -> Result<Option<ItemCode>, OpError> {
    let mut c = Checker::new();
    match request.documents_checked {
        Some(true) => {}
        Some(false) => c.fail(
            "documents_checked",
            "must be true: check the documents against the procedure's list with the citizen before taking the dossier",
        ),
        None => c.fail("documents_checked", "is required"),
    }
    if request.fee_collected_vnd.is_none() {
        c.fail("fee_collected_vnd", "is required (0 when nothing is owed)");
    }
    let given = match request.item_code.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match ItemCode::parse(text) {
            Ok(code) => Some(code),
            Err(err) => {
                c.fail("item_code", err.to_string());
                None
            }
        },
    };
    c.finish().map_err(OpError::Validation)?;
    Ok(given)
}

/// The fee collected is the dossier's total, no more, no less.
fn check_total(dossier: &dossier::Model, fee: i64) -> Result<(), OpError> {
    if fee != dossier.total_vnd {
        return Err(OpError::field(
            "fee_collected_vnd",
            format!(
                "must be {} VND, the dossier's total (postage and fees)",
                dossier.total_vnd
            ),
        ));
    }
    Ok(())
}

/// The parcel's item code: the one given unless another parcel carries it, or the office's next.
async fn label_parcel(
    txn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    given: Option<ItemCode>,
) -> Result<ItemCode, OpError> {
    match given {
        Some(code) => {
            if item_code_taken(txn, &code).await? {
                return Err(OpError::Conflict(format!(
                    "item code {code} is already on another parcel"
                )));
            }
            Ok(code)
        }
        None => allocate_item_code(txn, &dossier.office_code).await,
    }
}

/// The inbound parcel sets off: item code, `picked_up`, due date, and its carrier order; answers the
/// time it left.
async fn start_inbound_parcel(
    txn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    leg: &leg::Model,
    item_code: &ItemCode,
) -> Result<DateTime<Utc>, OpError> {
    let calendar = super::reference::working_calendar(txn).await?;
    let now = crate::clock::now();
    let due_at = leg_due_at(&calendar, leg.route_class, dossier.with_appointment, now);

    let mut leg_update: leg::ActiveModel = leg.clone().into();
    leg_update.item_code = Set(Some(item_code.as_str().to_owned()));
    leg_update.status = Set(LegStatus::PickedUp);
    leg_update.due_at = Set(Some(due_at));
    leg_update.started_at = Set(Some(now));
    leg_update.updated_at = Set(now);
    leg_update.update(txn).await?;
    super::carrier_orders::enqueue_order(
        txn,
        dossier,
        leg.id,
        LegDirection::Inbound,
        item_code.as_str(),
    )
    .await?;
    Ok(now)
}

/// The pickup slip the citizen keeps.
#[expect(
    clippy::too_many_arguments,
    reason = "one slip's sources: who, which dossier and parcel, what was collected and when"
)]
async fn write_slip(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    key: &StaffKey,
    dossier: &dossier::Model,
    leg: &leg::Model,
    item_code: &ItemCode,
    fee: i64,
    now: DateTime<Utc>,
) -> Result<pickup_slip::Model, OpError> {
    Ok(pickup_slip::ActiveModel {
        dossier_id: Set(dossier.id),
        leg_id: Set(leg.id),
        item_code: Set(item_code.as_str().to_owned()),
        j_date: Set(local_date(now)),
        picked_up_at: Set(now),
        documents_checked: Set(true),
        fee_collected_vnd: Set(fee),
        documents: Set(dossier.documents.clone()),
        office_code: Set(key.office_code.clone().unwrap_or_default()),
        actor: Set(actor.audit_name()),
        api_key_id: Set(actor.key_id()),
        ..Default::default()
    }
    .insert(txn)
    .await?)
}

/// Records that the postal worker came but could not collect the dossier; while the dossier waits for
/// a supplement, its parcel ([`super::supplements::record_pickup_failure`]).
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn record_pickup_failure(
    store: &Store,
    actor: &Actor,
    code: &str,
    reason: Option<&str>,
) -> Result<dossier::Model, OpError> {
    postal_key(actor)?;
    let mut c = Checker::new();
    let reason = c.required_text("reason", reason, MAX_NOTE);
    c.finish().map_err(OpError::Validation)?;

    let txn = store.begin().await?;
    let dossier = find_by_code_for_update(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    ensure_access(actor, &dossier)?;
    if dossier.status == DossierStatus::SupplementRequested {
        let updated =
            super::supplements::record_pickup_failure(&txn, actor, dossier, reason).await?;
        txn.commit().await?;
        return Ok(updated);
    }
    let from = dossier.status;
    let to = next_status(dossier.service_mode, from, Action::RecordPickupFailure)?;
    let now = crate::clock::now();
    let dossier_id = dossier.id;
    let updated = set_status(&txn, dossier, to, now).await?;
    append_event(
        &txn,
        dossier_id,
        actor,
        NewEvent {
            at: now,
            kind: EventKind::PickupFailed,
            source: EventSource::Api,
            from_status: Some(from),
            to_status: Some(to),
            leg: Some(LegDirection::Inbound),
            location: None,
            note: reason,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// The person who signs for a result.
#[derive(Debug, Clone, Default)]
pub struct RecipientRequest {
    pub full_name: Option<String>,
    /// CCCD (12 digits), CMND (9 digits) or passport (a letter and 7–8 digits).
    pub id_number: Option<String>,
    /// Signing for the citizen with a written authorisation.
    pub proxy: Option<bool>,
    /// A proxy's written authorisation: its number and date. Required when `proxy` is true.
    pub authorization_ref: Option<String>,
}

/// The longest authorisation reference kept.
pub const MAX_AUTHORIZATION_REF: usize = 200;

/// A recipient whose fields are well-formed; [`CheckedRecipient::may_sign_for`] then checks them
/// against the dossier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRecipient {
    pub full_name: String,
    /// In canonical form ([`normalize_identity_document`]).
    pub id_number: String,
    pub proxy: bool,
    /// Set for a proxy only.
    pub authorization_ref: Option<String>,
}

impl CheckedRecipient {
    /// Who may receive a result (Decision 45 Art. 10): the applicant, whose identity document must be
    /// the one on the dossier (compared in canonical form), or a proxy with a written authorisation.
    /// The refusal names `{field}.id_number`.
    pub fn may_sign_for(&self, field: &str, dossier: &dossier::Model) -> Result<(), OpError> {
        if self.proxy {
            return Ok(());
        }
        let applicant = normalize_identity_document(&dossier.applicant_id_number)
            .unwrap_or_else(|_| dossier.applicant_id_number.trim().to_ascii_uppercase());
        if self.id_number == applicant {
            Ok(())
        } else {
            Err(OpError::field(
                format!("{field}.id_number"),
                "is not the applicant's identity document: the result goes to the applicant, or to a \
                 proxy (`proxy: true`) with a written authorisation (`authorization_ref`)",
            ))
        }
    }
}

/// Checks the form of a recipient object given as `field` (`recipient`, `scans[3].recipient`…):
/// name, identity document, and a proxy's authorisation. `None` (with the failures noted in `c`) when
/// something is missing or malformed.
pub fn check_recipient(
    c: &mut Checker,
    field: &str,
    recipient: Option<&RecipientRequest>,
) -> Option<CheckedRecipient> {
    let Some(r) = recipient else {
        c.fail(
            field,
            "is required: who signed for the result, with the identity document shown",
        );
        return None;
    };
    let name = c.required_text(
        &format!("{field}.full_name"),
        r.full_name.as_deref(),
        MAX_NAME,
    );
    let id = match r.id_number.as_deref() {
        None => {
            c.fail(format!("{field}.id_number"), "is required");
            None
        }
        Some(id) => match normalize_identity_document(id) {
            Ok(id) => Some(id),
            Err(msg) => {
                c.fail(format!("{field}.id_number"), msg);
                None
            }
        },
    };
    let proxy = r.proxy.unwrap_or(false);
    let authorization_ref = if proxy {
        let reference = c.optional_text(
            &format!("{field}.authorization_ref"),
            r.authorization_ref.as_deref(),
            MAX_AUTHORIZATION_REF,
        );
        if reference.is_none() && !c.has_failed(&format!("{field}.authorization_ref")) {
            c.fail(
                format!("{field}.authorization_ref"),
                "is required for a proxy: the number and date of the written authorisation",
            );
        }
        reference
    } else {
        None
    };
    match (name, id) {
        (Some(full_name), Some(id_number)) if !proxy || authorization_ref.is_some() => {
            Some(CheckedRecipient {
                full_name,
                id_number,
                proxy,
                authorization_ref,
            })
        }
        _ => None,
    }
}

/// What the postman must collect at the door when delivering `dossier`'s result (Decision 45 Art.
/// 11): in `return` mode the citizen did not pay at a pickup, so the outbound postage (after any
/// exemption) is collected at delivery; in the other modes everything was paid at pickup.
pub fn postage_due_at_delivery(dossier: &dossier::Model) -> i64 {
    match dossier.service_mode {
        entity::enums::ServiceMode::Return => dossier.postage_vnd,
        _ => 0,
    }
}

/// Checks the fee a postman says was collected at the door on delivering `dossier`'s result (absent
/// means 0) against [`postage_due_at_delivery`], and gives the amount to record. One rule for the
/// delivery endpoint and a handheld's `delivered` scan; the refusal names `fee_collected_vnd`.
pub fn check_fee_at_door(dossier: &dossier::Model, collected: Option<i64>) -> Result<i64, OpError> {
    let due = postage_due_at_delivery(dossier);
    let collected = collected.unwrap_or(0);
    if collected == due {
        return Ok(collected);
    }
    Err(OpError::field(
        "fee_collected_vnd",
        if due == 0 {
            "must be 0: the postage of this dossier was paid at pickup".to_owned()
        } else {
            format!(
                "must be {due} VND, the postage of the result collected at the door \
                 (`return` mode)"
            )
        },
    ))
}

/// A delivery attempt as the postman records it.
#[derive(Debug, Clone, Default)]
pub struct DeliveryRequest {
    /// `delivered` or `failed`.
    pub outcome: Option<String>,
    /// Why it failed (required then): bad address, moved, nobody home, refused.
    pub reason: Option<String>,
    /// Required when delivered.
    pub recipient: Option<RecipientRequest>,
    /// When the attempt was made (RFC 3339), for attempts recorded after the fact; now by default.
    pub at: Option<String>,
    /// Collected at the door when delivered: must equal [`postage_due_at_delivery`]; absent means 0.
    pub fee_collected_vnd: Option<i64>,
}

/// Records a delivery attempt of the result. Delivered: the recipient must be the applicant (same
/// identity document) or a proxy with a written authorisation, the fee collected must be what is due
/// at the door ([`postage_due_at_delivery`]); the recipient, the authorisation and the fee are stored
/// and the dossier is `delivered`. Failed: a notice is counted on the parcel; the second notice, at
/// least two working days after the first, sends the result back to the agency
/// (`returned_to_agency`), and one sooner is refused, saying from when it may be made.
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn record_delivery(
    store: &Store,
    actor: &Actor,
    code: &str,
    request: &DeliveryRequest,
) -> Result<dossier::Model, OpError> {
    postal_key(actor)?;
    let now = crate::clock::now();
    let checked = check_delivery(request, now)?;

    let txn = store.begin().await?;
    let dossier = find_by_code_for_update(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    ensure_access(actor, &dossier)?;
    let (from, mode, dossier_id) = (dossier.status, dossier.service_mode, dossier.id);
    let action = match checked.outcome {
        DeliveryOutcome::Delivered => Action::RecordDelivery,
        DeliveryOutcome::Failed => Action::RecordDeliveryFailure,
    };
    let Some(leg) = find_leg(&txn, dossier_id, LegDirection::Outbound).await? else {
        // No result travels home in this mode: the lifecycle has the words for it.
        return Err(InvalidTransition { mode, from, action }.into());
    };
    check_not_before_start(&leg, checked.at)?;
    let mut leg_update: leg::ActiveModel = leg.clone().into();
    leg_update.updated_at = Set(now);
    let attempt = match checked.outcome {
        DeliveryOutcome::Delivered => delivered(
            &dossier,
            &checked,
            request.fee_collected_vnd,
            &mut leg_update,
        )?,
        DeliveryOutcome::Failed => failed(&txn, &dossier, &leg, &checked, &mut leg_update).await?,
    };
    leg_update.update(&txn).await?;
    insert_attempt(
        &txn,
        actor,
        dossier_id,
        leg.id,
        checked,
        attempt.fee_collected,
        now,
    )
    .await?;
    let to = attempt.to;
    let updated = set_status(&txn, dossier, to, now).await?;
    for event in attempt.events {
        append_event(&txn, dossier_id, actor, event).await?;
    }
    txn.commit().await?;
    tracing::info!(dossier.code = %updated.code, dossier.status = %to, "delivery attempt recorded");
    Ok(updated)
}

/// A delivery attempt whose fields are valid.
struct CheckedDelivery {
    outcome: DeliveryOutcome,
    at: DateTime<Utc>,
    reason: Option<String>,
    recipient: Option<CheckedRecipient>,
}

/// The outcome, its time (now when not given), a failure's reason and a delivery's recipient.
fn check_delivery(
    request: &DeliveryRequest,
    now: DateTime<Utc>,
) -> Result<CheckedDelivery, OpError> {
    let mut c = Checker::new();
    let outcome: Option<DeliveryOutcome> = c.required_enum(
        "outcome",
        request.outcome.as_deref(),
        &spellings(DeliveryOutcome::ALL, DeliveryOutcome::as_str),
    );
    let at = check_at(&mut c, "at", request.at.as_deref(), now).unwrap_or(now);
    let reason = c.optional_text("reason", request.reason.as_deref(), MAX_NOTE);
    let mut recipient = None;
    match outcome {
        Some(DeliveryOutcome::Delivered) => {
            recipient = check_recipient(&mut c, "recipient", request.recipient.as_ref());
            if request.fee_collected_vnd.is_some_and(|f| f < 0) {
                c.fail("fee_collected_vnd", "must not be negative");
            }
        }
        Some(DeliveryOutcome::Failed) if reason.is_none() && !c.has_failed("reason") => c.fail(
            "reason",
            "is required for a failed delivery: bad address, moved, recipient not found, refused…",
        ),
        Some(DeliveryOutcome::Failed) | None => {}
    }
    c.finish().map_err(OpError::Validation)?;
    let Some(outcome) = outcome else {
        return Err(OpError::Validation(vec![]));
    };
    Ok(CheckedDelivery {
        outcome,
        at,
        reason,
        recipient,
    })
}

/// What an attempt does to the dossier: its new status, its timeline events and the fee collected.
struct AttemptPlan {
    to: DossierStatus,
    events: Vec<NewEvent>,
    fee_collected: Option<i64>,
}

/// A delivery: the recipient may sign for the dossier, the postage due at the door is collected, the
/// parcel is delivered with the identity checked.
fn delivered(
    dossier: &dossier::Model,
    checked: &CheckedDelivery,
    fee_collected_vnd: Option<i64>,
    leg_update: &mut leg::ActiveModel,
) -> Result<AttemptPlan, OpError> {
    let (from, at) = (dossier.status, checked.at);
    let to = next_status(dossier.service_mode, from, Action::RecordDelivery)?;
    if let Some(r) = &checked.recipient {
        r.may_sign_for("recipient", dossier)?;
    }
    let fee_collected = Some(check_fee_at_door(dossier, fee_collected_vnd)?);
    let proxy = checked.recipient.as_ref().is_some_and(|r| r.proxy);
    let event = NewEvent {
        at,
        kind: EventKind::Delivered,
        source: EventSource::Api,
        from_status: Some(from),
        to_status: Some(to),
        leg: Some(LegDirection::Outbound),
        location: None,
        note: proxy.then(|| "signed for by a proxy with a written authorisation".into()),
    };
    leg_update.status = Set(LegStatus::Delivered);
    leg_update.delivered_at = Set(Some(at));
    leg_update.identity_confirmed = Set(Some(true));
    Ok(AttemptPlan {
        to,
        events: vec![event],
        fee_collected,
    })
}

/// A failed delivery counts a notice ([`plan_failed_notice`]); the last one returns the parcel.
async fn failed(
    txn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    leg: &leg::Model,
    checked: &CheckedDelivery,
    leg_update: &mut leg::ActiveModel,
) -> Result<AttemptPlan, OpError> {
    let (from, at) = (dossier.status, checked.at);
    let calendar = super::reference::working_calendar(txn).await?;
    let plan = plan_failed_notice(
        &calendar,
        dossier.service_mode,
        from,
        leg.failed_attempts,
        leg.last_failed_at,
        at,
    )
    .map_err(notice_error)?;
    let mut events = Vec::with_capacity(2);
    events.push(NewEvent {
        at,
        kind: EventKind::DeliveryFailed,
        source: EventSource::Api,
        from_status: Some(from),
        to_status: Some(plan.after_notice),
        leg: Some(LegDirection::Outbound),
        location: None,
        note: Some(format!(
            "notice {}: {}",
            plan.notices,
            checked.reason.as_deref().unwrap_or_default()
        )),
    });
    leg_update.failed_attempts = Set(plan.notices);
    leg_update.last_failed_at = Set(Some(at));
    leg_update.status = Set(LegStatus::DeliveryFailed);
    let to = match plan.returned {
        Some(returned) => {
            events.push(return_event(
                at,
                EventSource::Api,
                plan.after_notice,
                returned,
                plan.notices,
            ));
            leg_update.status = Set(LegStatus::Returned);
            returned
        }
        None => plan.after_notice,
    };
    Ok(AttemptPlan {
        to,
        events,
        fee_collected: None,
    })
}

/// The attempt as the receipt and the reports read it.
async fn insert_attempt(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    dossier_id: i64,
    leg_id: i64,
    checked: CheckedDelivery,
    fee_collected: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), OpError> {
    let (recipient_full_name, recipient_id_number, proxy, authorization_ref) =
        match checked.recipient {
            Some(r) => (
                Some(r.full_name),
                Some(r.id_number),
                r.proxy,
                r.authorization_ref,
            ),
            None => (None, None, false, None),
        };
    delivery_attempt::ActiveModel {
        dossier_id: Set(dossier_id),
        leg_id: Set(leg_id),
        outcome: Set(checked.outcome),
        at: Set(checked.at),
        reason: Set(checked.reason),
        recipient_full_name: Set(recipient_full_name),
        recipient_id_number: Set(recipient_id_number),
        proxy: Set(proxy),
        authorization_ref: Set(authorization_ref),
        fee_collected_vnd: Set(fee_collected),
        source: Set(EventSource::Api),
        actor: Set(actor.audit_name()),
        api_key_id: Set(actor.key_id()),
        recorded_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The timeline entry of a result going back to the agency after its failed notices.
pub(crate) fn return_event(
    at: DateTime<Utc>,
    source: EventSource,
    from: DossierStatus,
    to: DossierStatus,
    notices: i32,
) -> NewEvent {
    NewEvent {
        at,
        kind: EventKind::ReturnedToAgency,
        source,
        from_status: Some(from),
        to_status: Some(to),
        leg: Some(LegDirection::Outbound),
        location: None,
        note: Some(format!(
            "{notices} failed-delivery notices at least two working days apart (Circular 17 Art. 5.2h)"
        )),
    }
}

/// The answer to a failed notice that cannot be counted.
pub(crate) fn notice_error(refusal: NoticeRefusal) -> OpError {
    match refusal {
        NoticeRefusal::Transition(t) => OpError::InvalidTransition(t),
        refusal @ NoticeRefusal::TooSoon { .. } => OpError::TransitionRefused(refusal.to_string()),
        refusal @ NoticeRefusal::BeforePrevious { .. } => OpError::field("at", refusal.to_string()),
    }
}

/// Which parcels of the dossiers `ids` have an item code, by dossier id, in the parcels' order.
pub async fn legs_with_codes(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<BTreeMap<i64, Vec<(LegDirection, bool)>>, OpError> {
    let mut out: BTreeMap<i64, Vec<(LegDirection, bool)>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for leg in leg::Entity::find()
        .filter(leg::Column::DossierId.is_in(ids.iter().copied()))
        .order_by_asc(leg::Column::Id)
        .all(conn)
        .await?
    {
        out.entry(leg.dossier_id)
            .or_default()
            .push((leg.direction, leg.item_code.is_some()));
    }
    Ok(out)
}

/// The inbound parcel's item code of each of the dossiers `ids` that has one, by dossier id.
pub async fn inbound_item_codes(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<BTreeMap<i64, String>, OpError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(leg::Entity::find()
        .filter(leg::Column::DossierId.is_in(ids.iter().copied()))
        .filter(leg::Column::Direction.eq(LegDirection::Inbound))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|l| l.item_code.map(|c| (l.dossier_id, c)))
        .collect())
}
