//! Handover records (Biên bản giao nhận hồ sơ, Decision 45 Art. 7 and 9): one side lists the dossiers
//! it hands over, the other side signs.
//!
//! - `to_agency`: drafted by a post office for its dossiers picked up or in transit to one agency;
//!   signed by that agency. Signing is the legal filing time of every dossier on it (Art. 7.4): each
//!   becomes `received_by_agency` with `filed_at` and its result due date (the procedure's processing
//!   days, in working days, from the desk receipt date).
//! - `to_post`: drafted by an agency for its results ready to travel home; signed by the post office of
//!   those dossiers. Each becomes `result_with_post`, its outbound parcel gets an item code from the
//!   office's range and a due date J + n by route class.
//!
//! A dossier is on at most one open (pending) record: checked under the dossier row locks, and enforced
//! by the schema (`handover_items.open_dossier_id` is UNIQUE and cleared on signing).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::enums::{
    DossierStatus, EventKind, EventSource, HandoverDirection, HandoverStatus, LegDirection,
    LegPurpose, LegStatus, Role,
};
use entity::{agency, dossier, handover_item, handover_record, leg, procedure};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::access::{Actor, StaffKey};
use super::dossiers::is_unique_violation;
use super::item_codes::allocate_item_code;
use super::postal::lock_dossiers_by_id;
use super::validation::{Checker, spellings};
use super::{NewEvent, OpError, append_event};
use crate::calendar::WorkingCalendar;
use crate::codes::normalize_dossier_code;
use crate::lifecycle::{Action, next_status};
use crate::sla::{end_of_local_day, leg_due_at, local_date, result_due_date};
use crate::store::Store;

/// The most dossiers one record may list: a full bag.
pub const MAX_DOSSIERS_PER_RECORD: usize = 500;

/// The prefix of record numbers (Biên bản giao nhận).
pub const NUMBER_PREFIX: &str = "BBGN";

/// A record as drafted.
#[derive(Debug, Clone, Default)]
pub struct HandoverRequest {
    /// `to_agency` or `to_post`.
    pub direction: Option<String>,
    pub agency_code: Option<String>,
    pub dossier_codes: Option<Vec<String>>,
}

/// A dossier on a record.
#[derive(Debug, Clone)]
pub struct HandoverLine {
    pub dossier_code: String,
    pub item_code: Option<String>,
    pub status: DossierStatus,
    /// The procedure's fee collected on the agency's behalf at pickup and handed over with the
    /// dossier (Decision 45 Art. 7.1); 0 on a record of results to the post, which carries no fees.
    pub admin_fee_vnd: i64,
}

/// A record with its lines, in the order they were listed.
#[derive(Debug, Clone)]
pub struct HandoverView {
    pub record: handover_record::Model,
    pub lines: Vec<HandoverLine>,
}

impl HandoverView {
    /// The fees handed over with the dossiers on the record.
    pub fn admin_fee_total_vnd(&self) -> i64 {
        self.lines.iter().map(|l| l.admin_fee_vnd).sum()
    }
}

/// The lifecycle action a record performs on each of its dossiers when signed.
pub fn action_of(direction: HandoverDirection) -> Action {
    match direction {
        HandoverDirection::ToAgency => Action::ReceiveAtAgency,
        HandoverDirection::ToPost => Action::HandOverToPost,
    }
}

/// The action a record performs on one dossier: a dossier waiting for its supplement is received back
/// into processing when the desk signs for the supplement's parcel.
fn action_for(direction: HandoverDirection, status: DossierStatus) -> Action {
    match (direction, status) {
        (HandoverDirection::ToAgency, DossierStatus::SupplementRequested) => {
            Action::ReceiveSupplement
        }
        _ => action_of(direction),
    }
}

/// Keeps, per dossier, the parcel a record carries: of a dossier's parcels in one direction, the one
/// still on its way (a supplement's, after the dossier's own was handed over).
fn by_dossier_moving_first(legs: Vec<leg::Model>) -> HashMap<i64, leg::Model> {
    let mut out: HashMap<i64, leg::Model> = HashMap::new();
    for l in legs {
        let moving = super::supplements::ON_ITS_WAY.contains(&l.status);
        match out.get(&l.dossier_id) {
            Some(kept) if !moving || super::supplements::ON_ITS_WAY.contains(&kept.status) => {}
            _ => {
                out.insert(l.dossier_id, l);
            }
        }
    }
    out
}

/// The staff key that may draft a record in `direction`.
fn drafting_key(actor: &Actor, direction: HandoverDirection) -> Result<&StaffKey, OpError> {
    let (role, who) = match direction {
        HandoverDirection::ToAgency => (Role::Postal, "the post office"),
        HandoverDirection::ToPost => (Role::Agency, "the agency"),
    };
    actor.staff_with_role(role).ok_or_else(|| {
        OpError::Forbidden(format!(
            "a `{direction}` record is drafted by {who} that hands the dossiers over"
        ))
    })
}

/// Drafts a handover record listing `dossier_codes`, answered with status `pending`.
#[tracing::instrument(skip_all)]
pub async fn create_handover(
    store: &Store,
    actor: &Actor,
    request: &HandoverRequest,
) -> Result<HandoverView, OpError> {
    let mut c = Checker::new();
    let (direction, agency_code, codes) = check_handover_request(&mut c, request);
    if let Some(direction) = direction {
        check_drafter(actor, direction, agency_code.as_ref())?;
    }
    if let Some(code) = &agency_code
        && agency::Entity::find_by_id(code.clone())
            .one(&store.read)
            .await?
            .is_none()
    {
        c.fail("agency_code", format!("no agency has the code `{code}`"));
    }
    let (Some(direction), Some(agency_code)) = (direction, agency_code) else {
        c.finish().map_err(OpError::Validation)?;
        return Err(OpError::Validation(vec![]));
    };
    if codes.is_empty() || c.has_failed("agency_code") || c.has_failed("dossier_codes") {
        c.finish().map_err(OpError::Validation)?;
        return Err(OpError::Validation(vec![]));
    }
    let key = drafting_key(actor, direction)?;

    let txn = store.begin().await?;
    let dossiers = lock_listed_dossiers(&txn, &codes).await?;
    let listed = check_listed(&mut c, actor, &dossiers, &codes, &agency_code)?;
    c.finish().map_err(OpError::Validation)?;
    check_moves(&txn, direction, &listed).await?;
    let office_code = office_of_record(direction, key, &listed)?;
    check_not_on_open_record(&txn, &listed).await?;

    let now = crate::clock::now();
    let record =
        insert_numbered_record(&txn, actor, direction, &agency_code, &office_code, now).await?;
    insert_items(&txn, direction, &record, &listed).await?;
    let leg = leg_of(direction);
    for d in &listed {
        append_event(
            &txn,
            d.id,
            actor,
            NewEvent {
                at: now,
                kind: EventKind::HandoverCreated,
                source: EventSource::Api,
                from_status: None,
                to_status: None,
                leg: Some(leg),
                location: None,
                note: Some(format!("handover record {}", record.number)),
            },
        )
        .await?;
    }
    let view = load_view(&txn, record).await?;
    txn.commit().await?;
    tracing::info!(
        handover.number = %view.record.number,
        handover.dossiers = view.lines.len(),
        "handover drafted"
    );
    Ok(view)
}

/// The direction, the agency, and the well-formed dossier codes of a draft, with their position in
/// the request, so that every error names its entry.
fn check_handover_request(
    c: &mut Checker,
    request: &HandoverRequest,
) -> (
    Option<HandoverDirection>,
    Option<String>,
    Vec<(usize, String)>,
) {
    let direction: Option<HandoverDirection> = c.required_enum(
        "direction",
        request.direction.as_deref(),
        &spellings(HandoverDirection::ALL, HandoverDirection::as_str),
    );
    let agency_code = c.required_text("agency_code", request.agency_code.as_deref(), 50);
    let mut codes: Vec<(usize, String)> = Vec::new();
    match request.dossier_codes.as_deref() {
        None | Some([]) => c.fail("dossier_codes", "list at least one dossier"),
        Some(list) if list.len() > MAX_DOSSIERS_PER_RECORD => c.fail(
            "dossier_codes",
            format!("a record lists at most {MAX_DOSSIERS_PER_RECORD} dossiers"),
        ),
        Some(list) => {
            let mut seen = HashSet::new();
            for (i, raw) in list.iter().enumerate() {
                match normalize_dossier_code(raw) {
                    Some(code) if !seen.insert(code.clone()) => {
                        c.fail(format!("dossier_codes[{i}]"), "is listed twice")
                    }
                    Some(code) => codes.push((i, code)),
                    None => c.fail(format!("dossier_codes[{i}]"), "is not a dossier code"),
                }
            }
        }
    }
    (direction, agency_code, codes)
}

/// Whether the actor may draft a record in this direction for this agency.
fn check_drafter(
    actor: &Actor,
    direction: HandoverDirection,
    agency_code: Option<&String>,
) -> Result<(), OpError> {
    let key = drafting_key(actor, direction)?;
    if direction == HandoverDirection::ToPost
        && agency_code.is_some()
        && key.agency_code.as_ref() != agency_code
    {
        return Err(OpError::Forbidden(
            "an agency key hands over its own agency's results only".into(),
        ));
    }
    if direction == HandoverDirection::ToAgency && key.office_code.is_none() {
        return Err(OpError::Forbidden(
            "this postal key is not bound to a post office".into(),
        ));
    }
    Ok(())
}

/// The listed dossiers that exist, locked for the rest of the transaction.
async fn lock_listed_dossiers(
    txn: &DatabaseTransaction,
    codes: &[(usize, String)],
) -> Result<Vec<dossier::Model>, OpError> {
    let ids: Vec<i64> = dossier::Entity::find()
        .select_only()
        .column(dossier::Column::Id)
        .filter(dossier::Column::Code.is_in(codes.iter().map(|(_, code)| code.clone())))
        .into_tuple()
        .all(txn)
        .await?;
    lock_dossiers_by_id(txn, &ids).await
}

/// The listed dossiers in the order of the request: each must exist, be the actor's to hand over,
/// and be filed with the record's agency.
fn check_listed<'a>(
    c: &mut Checker,
    actor: &Actor,
    dossiers: &'a [dossier::Model],
    codes: &[(usize, String)],
    agency_code: &str,
) -> Result<Vec<&'a dossier::Model>, OpError> {
    let by_code: HashMap<&str, &dossier::Model> =
        dossiers.iter().map(|d| (d.code.as_str(), d)).collect();
    let mut listed: Vec<&dossier::Model> = Vec::with_capacity(codes.len());
    for (i, code) in codes {
        let Some(d) = by_code.get(code.as_str()).copied() else {
            c.fail(format!("dossier_codes[{i}]"), "no such dossier");
            continue;
        };
        super::access::ensure_access(actor, d)?;
        if d.agency_code != agency_code {
            c.fail(
                format!("dossier_codes[{i}]"),
                format!(
                    "is filed with agency `{}`, not `{agency_code}`",
                    d.agency_code
                ),
            );
            continue;
        }
        listed.push(d);
    }
    Ok(listed)
}

/// Whether each listed dossier may move when the record is confirmed; a supplement only once it
/// has been picked up.
async fn check_moves(
    txn: &DatabaseTransaction,
    direction: HandoverDirection,
    listed: &[&dossier::Model],
) -> Result<(), OpError> {
    for d in listed {
        let action = action_for(direction, d.status);
        next_status(d.service_mode, d.status, action)?;
        if action == Action::ReceiveSupplement {
            let moving = super::supplements::pending_parcel(txn, d.id)
                .await?
                .is_some_and(|(_, l)| super::supplements::ON_ITS_WAY.contains(&l.status));
            if !moving {
                return Err(OpError::TransitionRefused(format!(
                    "dossier {} waits for its supplement, which has not been picked up yet",
                    d.code
                )));
            }
        }
    }
    Ok(())
}

/// The post office on the record: the drafting office's, or the one office that serves every listed
/// dossier.
fn office_of_record(
    direction: HandoverDirection,
    key: &StaffKey,
    listed: &[&dossier::Model],
) -> Result<String, OpError> {
    Ok(match direction {
        HandoverDirection::ToAgency => key.office_code.clone().unwrap_or_default(),
        HandoverDirection::ToPost => {
            let offices: HashSet<&str> = listed.iter().map(|d| d.office_code.as_str()).collect();
            if offices.len() > 1 {
                let mut offices: Vec<&str> = offices.into_iter().collect();
                offices.sort_unstable();
                return Err(OpError::field(
                    "dossier_codes",
                    format!(
                        "the dossiers are served by different post offices ({}): draft one record per office",
                        offices.join(", ")
                    ),
                ));
            }
            listed
                .first()
                .map(|d| d.office_code.clone())
                .unwrap_or_default()
        }
    })
}

/// Refuses a dossier that is on an open record already.
async fn check_not_on_open_record(
    txn: &DatabaseTransaction,
    listed: &[&dossier::Model],
) -> Result<(), OpError> {
    let open = handover_item::Entity::find()
        .filter(handover_item::Column::OpenDossierId.is_in(listed.iter().map(|d| d.id)))
        .find_also_related(handover_record::Entity)
        .all(txn)
        .await?;
    if let Some((item, record)) = open.first() {
        let code = listed
            .iter()
            .find(|d| d.id == item.dossier_id)
            .map(|d| d.code.as_str())
            .unwrap_or_default();
        return Err(OpError::Conflict(format!(
            "dossier {code} is already on the open handover record {}",
            record.as_ref().map(|r| r.number.as_str()).unwrap_or("?")
        )));
    }
    Ok(())
}

/// The record's lines, with the item code of each dossier's inbound parcel when it goes to the
/// agency.
async fn insert_items(
    txn: &DatabaseTransaction,
    direction: HandoverDirection,
    record: &handover_record::Model,
    listed: &[&dossier::Model],
) -> Result<(), OpError> {
    let item_codes: HashMap<i64, String> = match direction {
        HandoverDirection::ToAgency => by_dossier_moving_first(
            leg::Entity::find()
                .filter(leg::Column::DossierId.is_in(listed.iter().map(|d| d.id)))
                .filter(leg::Column::Direction.eq(LegDirection::Inbound))
                .all(txn)
                .await?,
        )
        .into_values()
        .filter_map(|l| l.item_code.map(|c| (l.dossier_id, c)))
        .collect(),
        HandoverDirection::ToPost => HashMap::new(),
    };
    let items = listed.iter().map(|d| handover_item::ActiveModel {
        handover_id: Set(record.id),
        dossier_id: Set(d.id),
        open_dossier_id: Set(Some(d.id)),
        item_code: Set(item_codes.get(&d.id).cloned()),
        ..Default::default()
    });
    handover_item::Entity::insert_many(items)
        .exec_without_returning(txn)
        .await
        .map_err(|err| {
            if is_unique_violation(&err) {
                OpError::Conflict(
                    "a listed dossier was put on another open handover record meanwhile".into(),
                )
            } else {
                err.into()
            }
        })?;
    Ok(())
}

/// The parcel a record concerns.
fn leg_of(direction: HandoverDirection) -> LegDirection {
    match direction {
        HandoverDirection::ToAgency => LegDirection::Inbound,
        HandoverDirection::ToPost => LegDirection::Outbound,
    }
}

/// Inserts the record under the next free number `BBGN-{office}-{YYMMDD}-{seq}` of the office's day.
/// Two offices' clerks drafting at the same instant may pick the same number: the UNIQUE index refuses
/// the second, whose savepoint is rolled back and which takes the next number.
async fn insert_numbered_record(
    txn: &DatabaseTransaction,
    actor: &Actor,
    direction: HandoverDirection,
    agency_code: &str,
    office_code: &str,
    now: DateTime<Utc>,
) -> Result<handover_record::Model, OpError> {
    let prefix = format!(
        "{NUMBER_PREFIX}-{office_code}-{}-",
        local_date(now).format("%y%m%d")
    );
    let mut seq = handover_record::Entity::find()
        .filter(handover_record::Column::Number.starts_with(prefix.as_str()))
        .count(txn)
        .await?;
    for _ in 0..20 {
        seq += 1;
        let savepoint = txn.begin().await?;
        let inserted = handover_record::ActiveModel {
            number: Set(format!("{prefix}{seq:03}")),
            direction: Set(direction),
            status: Set(HandoverStatus::Pending),
            agency_code: Set(agency_code.to_owned()),
            office_code: Set(office_code.to_owned()),
            created_by: Set(actor.audit_name()),
            created_by_key_id: Set(actor.key_id()),
            created_at: Set(now),
            confirmed_by: Set(None),
            confirmed_by_key_id: Set(None),
            confirmed_at: Set(None),
            ..Default::default()
        }
        .insert(&savepoint)
        .await;
        match inserted {
            Ok(record) => {
                savepoint.commit().await?;
                return Ok(record);
            }
            Err(err) if is_unique_violation(&err) => savepoint.rollback().await?,
            Err(err) => return Err(err.into()),
        }
    }
    Err(OpError::Conflict(
        "could not number the handover record; try again".into(),
    ))
}

/// Reads a record with its lines.
async fn load_view(
    conn: &impl ConnectionTrait,
    record: handover_record::Model,
) -> Result<HandoverView, OpError> {
    let rows = handover_item::Entity::find()
        .filter(handover_item::Column::HandoverId.eq(record.id))
        .order_by_asc(handover_item::Column::Id)
        .find_also_related(dossier::Entity)
        .all(conn)
        .await?;
    let carries_fees = record.direction == HandoverDirection::ToAgency;
    let supplements = if carries_fees {
        supplement_parcels(conn, &rows).await?
    } else {
        HashSet::new()
    };
    let lines = rows
        .into_iter()
        .filter_map(|(item, d)| {
            // A supplement's parcel carries only the missing papers: its pickup collected postage,
            // and the admin fee went to the agency with the dossier itself.
            let fees = carries_fees
                && !item
                    .item_code
                    .as_ref()
                    .is_some_and(|code| supplements.contains(code));
            d.map(|d| HandoverLine {
                dossier_code: d.code,
                item_code: item.item_code,
                status: d.status,
                admin_fee_vnd: if fees { d.admin_fee_vnd } else { 0 },
            })
        })
        .collect();
    Ok(HandoverView { record, lines })
}

/// The item codes, among a record's lines, of supplements' parcels.
async fn supplement_parcels(
    conn: &impl ConnectionTrait,
    rows: &[(handover_item::Model, Option<dossier::Model>)],
) -> Result<HashSet<String>, OpError> {
    let codes: Vec<String> = rows
        .iter()
        .filter_map(|(item, _)| item.item_code.clone())
        .collect();
    if codes.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(leg::Entity::find()
        .select_only()
        .column(leg::Column::ItemCode)
        .filter(leg::Column::ItemCode.is_in(codes))
        .filter(leg::Column::Purpose.eq(LegPurpose::Supplement))
        .into_tuple::<Option<String>>()
        .all(conn)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// Whether `actor` is a party to `record` (or an administrator), who may read it.
fn is_party(actor: &Actor, record: &handover_record::Model) -> bool {
    match actor {
        Actor::Staff(key) => match key.role {
            Role::Admin => true,
            Role::Postal => key.office_code.as_deref() == Some(record.office_code.as_str()),
            Role::Agency => key.agency_code.as_deref() == Some(record.agency_code.as_str()),
        },
        Actor::System => true,
        Actor::Public | Actor::Citizen { .. } => false,
    }
}

/// A record, for either side of it.
pub async fn view_handover(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: i64,
) -> Result<HandoverView, OpError> {
    let record = handover_record::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(OpError::NotFound("handover record"))?;
    if !is_party(actor, &record) {
        return Err(OpError::Forbidden(
            "this handover record is between other parties".into(),
        ));
    }
    load_view(conn, record).await
}

/// The receiving side signs a record: the agency of a `to_agency` record, the post office of a
/// `to_post` one. Every dossier on it moves in the same transaction, or none does.
#[tracing::instrument(skip_all, fields(handover.id = id))]
pub async fn confirm_handover(
    store: &Store,
    actor: &Actor,
    id: i64,
) -> Result<HandoverView, OpError> {
    let txn = store.begin().await?;
    let record = lock_record_to_sign(&txn, actor, id).await?;
    let items = handover_item::Entity::find()
        .filter(handover_item::Column::HandoverId.eq(record.id))
        .all(&txn)
        .await?;
    let ids: Vec<i64> = items.iter().map(|i| i.dossier_id).collect();
    let dossiers = lock_dossiers_by_id(&txn, &ids).await?;
    let mut moves = Vec::with_capacity(dossiers.len());
    for d in dossiers {
        let to = next_status(
            d.service_mode,
            d.status,
            action_for(record.direction, d.status),
        )?;
        moves.push((d, to));
    }
    let direction = leg_of(record.direction);
    let legs: HashMap<i64, leg::Model> = by_dossier_moving_first(
        leg::Entity::find()
            .filter(leg::Column::DossierId.is_in(ids.iter().copied()))
            .filter(leg::Column::Direction.eq(direction))
            .all(&txn)
            .await?,
    );
    let calendar = super::reference::working_calendar(&txn).await?;
    let now = crate::clock::now();
    let processing_days = processing_days_of(&txn, record.direction, &moves).await?;
    let signing = Signing {
        record: &record,
        actor,
        calendar: &calendar,
        processing_days: &processing_days,
        now,
    };
    for (d, to) in moves {
        let leg = legs.get(&d.id).cloned();
        signing.move_dossier(&txn, d, leg, to).await?;
    }
    let record = close_record(&txn, actor, record, now).await?;
    let view = load_view(&txn, record).await?;
    txn.commit().await?;
    tracing::info!(handover.number = %view.record.number, "handover signed");
    Ok(view)
}

/// The record, locked, once the actor is found to be its receiving side and it is not signed yet.
async fn lock_record_to_sign(
    txn: &DatabaseTransaction,
    actor: &Actor,
    id: i64,
) -> Result<handover_record::Model, OpError> {
    let mut query = handover_record::Entity::find_by_id(id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    let record = query
        .one(txn)
        .await?
        .ok_or(OpError::NotFound("handover record"))?;
    let signer = match record.direction {
        HandoverDirection::ToAgency => actor
            .staff_with_role(Role::Agency)
            .filter(|k| k.agency_code.as_deref() == Some(record.agency_code.as_str())),
        HandoverDirection::ToPost => actor
            .staff_with_role(Role::Postal)
            .filter(|k| k.office_code.as_deref() == Some(record.office_code.as_str())),
    };
    if signer.is_none() {
        let who = match record.direction {
            HandoverDirection::ToAgency => format!("agency {}", record.agency_code),
            HandoverDirection::ToPost => format!("post office {}", record.office_code),
        };
        return Err(OpError::Forbidden(format!(
            "the receiving side signs this record: a key of {who}"
        )));
    }
    if record.status != HandoverStatus::Pending {
        return Err(OpError::Conflict(format!(
            "handover record {} is already signed",
            record.number
        )));
    }
    Ok(record)
}

/// The processing days of the moving dossiers' procedures, for the agency's result deadline (none
/// are needed for results handed to the post).
async fn processing_days_of(
    txn: &DatabaseTransaction,
    direction: HandoverDirection,
    moves: &[(dossier::Model, DossierStatus)],
) -> Result<HashMap<String, i32>, OpError> {
    Ok(match direction {
        HandoverDirection::ToAgency => procedure::Entity::find()
            .filter(
                procedure::Column::Code.is_in(moves.iter().map(|(d, _)| d.procedure_code.clone())),
            )
            .all(txn)
            .await?
            .into_iter()
            .map(|p| (p.code, p.processing_days))
            .collect(),
        HandoverDirection::ToPost => HashMap::new(),
    })
}

/// What every dossier of a record being signed shares.
struct Signing<'a> {
    record: &'a handover_record::Model,
    actor: &'a Actor,
    calendar: &'a WorkingCalendar,
    processing_days: &'a HashMap<String, i32>,
    now: DateTime<Utc>,
}

impl Signing<'_> {
    /// Moves one dossier of the record and its parcel, and notes it on the timeline.
    async fn move_dossier(
        &self,
        txn: &DatabaseTransaction,
        d: dossier::Model,
        leg: Option<leg::Model>,
        to: DossierStatus,
    ) -> Result<(), OpError> {
        let (record, now) = (self.record, self.now);
        let from = d.status;
        let dossier_id = d.id;
        let mut leg_update: Option<leg::ActiveModel> = leg.clone().map(Into::into);
        let mut note = format!("handover record {}", record.number);
        let mut active: dossier::ActiveModel = d.clone().into();
        match record.direction {
            HandoverDirection::ToAgency => {
                self.receive_at_agency(txn, &d, &mut active, leg_update.as_mut(), &mut note)
                    .await?;
            }
            HandoverDirection::ToPost => {
                let Some(leg) = &leg else {
                    return Err(OpError::NotFound("outbound parcel"));
                };
                self.hand_to_post(txn, &d, leg, leg_update.as_mut(), &mut note)
                    .await?;
            }
        }
        if let Some(mut l) = leg_update {
            l.updated_at = Set(now);
            l.update(txn).await?;
        }
        active.status = Set(to);
        active.updated_at = Set(now);
        active.update(txn).await?;
        let kind = match record.direction {
            HandoverDirection::ToAgency => EventKind::ReceivedByAgency,
            HandoverDirection::ToPost => EventKind::HandedToPost,
        };
        append_event(
            txn,
            dossier_id,
            self.actor,
            NewEvent {
                at: now,
                kind,
                source: EventSource::Api,
                from_status: Some(from),
                to_status: Some(to),
                leg: Some(leg_of(record.direction)),
                location: None,
                note: Some(note),
            },
        )
        .await?;
        Ok(())
    }

    /// The agency received the dossier: its filing time (or its supplement's) and result deadline,
    /// and its inbound parcel handed over.
    async fn receive_at_agency(
        &self,
        txn: &DatabaseTransaction,
        d: &dossier::Model,
        active: &mut dossier::ActiveModel,
        leg_update: Option<&mut leg::ActiveModel>,
        note: &mut String,
    ) -> Result<(), OpError> {
        let now = self.now;
        let days = self
            .processing_days
            .get(&d.procedure_code)
            .and_then(|n| u32::try_from(*n).ok())
            .unwrap_or(0);
        let due = result_due_date(self.calendar, now, days);
        if d.status == DossierStatus::SupplementRequested {
            // The dossier's filing time stays; the processing time counts anew from the
            // supplement's filing, and a deadline missed before no longer stands.
            super::supplements::mark_filed(txn, d.id, now).await?;
            active.result_overdue_raised_at = Set(None);
            *note = format!("supplement received; {note}");
        } else {
            active.filed_at = Set(Some(now));
        }
        active.result_due_at = Set(Some(end_of_local_day(due)));
        if let Some(l) = leg_update {
            l.status = Set(LegStatus::HandedOver);
            l.delivered_at = Set(Some(now));
        }
        note.push_str(&format!("; result due {due}"));
        Ok(())
    }

    /// The post took the result: its parcel gets an item code, a deadline and a carrier order.
    async fn hand_to_post(
        &self,
        txn: &DatabaseTransaction,
        d: &dossier::Model,
        leg: &leg::Model,
        leg_update: Option<&mut leg::ActiveModel>,
        note: &mut String,
    ) -> Result<(), OpError> {
        let (record, now) = (self.record, self.now);
        let code = allocate_item_code(txn, &record.office_code).await?;
        if let Some(l) = leg_update {
            l.item_code = Set(Some(code.as_str().to_owned()));
            l.status = Set(LegStatus::PickedUp);
            l.started_at = Set(Some(now));
            l.due_at = Set(Some(leg_due_at(
                self.calendar,
                leg.route_class,
                d.with_appointment,
                now,
            )));
        }
        handover_item::Entity::update_many()
            .col_expr(
                handover_item::Column::ItemCode,
                Expr::value(code.as_str().to_owned()),
            )
            .filter(handover_item::Column::HandoverId.eq(record.id))
            .filter(handover_item::Column::DossierId.eq(d.id))
            .exec(txn)
            .await?;
        super::carrier_orders::enqueue_order(
            txn,
            d,
            leg.id,
            leg_of(record.direction),
            code.as_str(),
        )
        .await?;
        note.push_str(&format!("; item {code}"));
        Ok(())
    }
}

/// Closes the signed record: its dossiers are free for other records, and it names its signer.
async fn close_record(
    txn: &DatabaseTransaction,
    actor: &Actor,
    record: handover_record::Model,
    now: DateTime<Utc>,
) -> Result<handover_record::Model, OpError> {
    handover_item::Entity::update_many()
        .col_expr(
            handover_item::Column::OpenDossierId,
            Expr::value(Option::<i64>::None),
        )
        .filter(handover_item::Column::HandoverId.eq(record.id))
        .exec(txn)
        .await?;
    let mut signed: handover_record::ActiveModel = record.into();
    signed.status = Set(HandoverStatus::Confirmed);
    signed.confirmed_at = Set(Some(now));
    signed.confirmed_by = Set(Some(actor.audit_name()));
    signed.confirmed_by_key_id = Set(actor.key_id());
    Ok(signed.update(txn).await?)
}

/// The latest handover records (at most 100, newest first) a staff key's office or agency is party to;
/// every record for an administrator.
pub async fn recent_records(
    conn: &impl ConnectionTrait,
    key: &StaffKey,
) -> Result<Vec<handover_record::Model>, OpError> {
    let query = handover_record::Entity::find()
        .order_by_desc(handover_record::Column::Id)
        .limit(100);
    let query = match key.role {
        Role::Postal => query.filter(
            handover_record::Column::OfficeCode.eq(key.office_code.clone().unwrap_or_default()),
        ),
        Role::Agency => query.filter(
            handover_record::Column::AgencyCode.eq(key.agency_code.clone().unwrap_or_default()),
        ),
        Role::Admin => query,
    };
    Ok(query.all(conn).await?)
}

/// Which of the dossiers `ids` are already on an open (unsigned) record.
pub async fn on_open_records(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashSet<i64>, OpError> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(handover_item::Entity::find()
        .filter(handover_item::Column::OpenDossierId.is_in(ids.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .map(|i| i.dossier_id)
        .collect())
}

/// The procedure code of each of the dossiers `codes`, by dossier code (for a record's printout).
pub async fn procedure_codes(
    conn: &impl ConnectionTrait,
    codes: Vec<String>,
) -> Result<HashMap<String, String>, OpError> {
    Ok(dossier::Entity::find()
        .select_only()
        .column(dossier::Column::Code)
        .column(dossier::Column::ProcedureCode)
        .filter(dossier::Column::Code.is_in(codes))
        .into_tuple::<(String, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}
