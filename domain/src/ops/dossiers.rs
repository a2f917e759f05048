//! Dossier use-cases of the foundation: a citizen's pickup request (or an agency's return-only dossier),
//! finding a dossier by its code, and cancellation. Reading a dossier with its legs and timeline, and
//! the masked tracking view, are in `dossier_record`.

use chrono::{DateTime, Utc};
use entity::enums::{
    DossierStatus, EventKind, EventSource, FeeExemption, LegDirection, LegStatus, Role, RouteClass,
    ServiceMode,
};
use entity::{agency, dossier, dossier_event, leg, procedure, webhook};
use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Expr, InsertStatement, Query, WithClause,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, EntityName, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    QueryFilter, QuerySelect, QueryTrait, SqlErr, Statement,
};
use serde::{Deserialize, Serialize};

use super::access::{Access, Actor};
use super::catalog::Catalog;
use super::idempotency::{self, IdempotencyClaim, Replay};
use super::validation::{Checker, spellings};
use super::{NewEvent, OpError, append_event};
use crate::codes::{hash_secret, new_access_token, new_dossier_code, normalize_dossier_code};
use crate::fees::{Fees, compute_fees};
use crate::lifecycle::{Action, initial_status, next_status};
use crate::route::{Place, route_class};
use crate::store::{Store, begin_write};
use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

use crate::batch_writer::{BatchWriter, QueuedWrite};

/// Longest accepted name, address line and document name, in characters.
pub const MAX_NAME: usize = 100;
pub const MAX_LINE: usize = 200;
pub const MAX_EMAIL: usize = 254;
pub const MAX_DOCUMENT_NAME: usize = 200;
pub const MAX_DOCUMENTS: usize = 50;
pub const MAX_COPIES: i64 = 20;
pub const MAX_NOTE: usize = 500;

/// A request as it arrived: everything optional, so that each missing or bad field can be named.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DossierRequest {
    pub procedure_code: Option<String>,
    pub agency_code: Option<String>,
    pub service_mode: Option<String>,
    pub applicant: Option<ApplicantRequest>,
    pub pickup_address: Option<AddressRequest>,
    pub return_address: Option<AddressRequest>,
    pub documents: Option<Vec<DocumentRequest>>,
    pub with_appointment: Option<bool>,
    pub fee_exemption: Option<String>,
    pub language: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApplicantRequest {
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub id_number: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AddressRequest {
    pub line: Option<String>,
    pub ward_code: Option<String>,
    pub province_code: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DocumentRequest {
    pub name: Option<String>,
    pub original: Option<bool>,
    pub copies: Option<i64>,
    /// The document's code on the procedure's list, instead of (or beside) its exact name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// A document as stored on the slip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlipDocument {
    pub name: String,
    pub original: bool,
    pub copies: i64,
    /// The document's code on the procedure's list, once matched to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// A checked address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line: String,
    pub ward_code: String,
    pub province_code: String,
}

/// The answer to a successful request, replayed as is for the same `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedDossier {
    pub code: String,
    pub status: DossierStatus,
    pub service_mode: ServiceMode,
    pub access_token: String,
    pub route_class: RouteClass,
    pub fees: Fees,
    pub created_at: DateTime<Utc>,
}

/// How a create request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    Created(CreatedDossier),
    /// The same `Idempotency-Key` and request came before: this is the first answer.
    Replayed(CreatedDossier),
}

/// Everything a valid request resolves to, ready to insert.
struct CheckedRequest {
    procedure: procedure::Model,
    agency: agency::Model,
    office_code: String,
    mode: ServiceMode,
    full_name: String,
    phone: String,
    email: Option<String>,
    id_number: String,
    pickup: Option<Address>,
    return_to: Option<Address>,
    documents: Vec<SlipDocument>,
    with_appointment: bool,
    exemption: FeeExemption,
    language: String,
    inbound_class: Option<RouteClass>,
    outbound_class: Option<RouteClass>,
    fees: Fees,
}

/// Registers a dossier: a citizen's pickup request (public), one made at a post office counter (postal
/// key: that office picks up), or a return-only dossier filed at an agency's desk (agency key, mode
/// `return`). Reference data is read outside the write transaction; the dossier, its legs, its first
/// timeline event and the idempotency record are written in one.
#[tracing::instrument(skip_all, fields(actor = %actor.audit_name()))]
pub async fn create_dossier(
    store: &Store,
    actor: &Actor,
    request: &DossierRequest,
    claim: Option<&IdempotencyClaim>,
) -> Result<CreateOutcome, OpError> {
    if let Some(claim) = claim
        && let Some(replay) = idempotency::find(&store.read, claim).await?
    {
        return replay_outcome(replay);
    }
    let catalog = store.catalog.get(&store.read).await?;
    let checked = check_request(&catalog, actor, request)?;
    let rows = new_dossier_rows(&catalog, checked, store.open_requests_per_phone);
    match &store.new_dossiers {
        Some(writer) => write_queued(writer, rows, actor.clone(), claim.cloned()).await,
        None => write_new_dossier(&store.write, &rows, actor, claim).await,
    }
}

/// The rows of a checked request, as of now, under a fresh access token.
fn new_dossier_rows(
    catalog: &Catalog,
    checked: CheckedRequest,
    open_requests_per_phone: u32,
) -> NewDossierRows {
    let now = crate::clock::now();
    let access_token = new_access_token();
    let status = initial_status(checked.mode);
    let (filed_at, result_due_at) = if checked.mode == ServiceMode::Return {
        let days = u32::try_from(checked.procedure.processing_days).unwrap_or(0);
        let due = crate::sla::result_due_date(catalog.calendar(), now, days);
        (Some(now), Some(crate::sla::end_of_local_day(due)))
    } else {
        (None, None)
    };
    let route = checked
        .inbound_class
        .or(checked.outbound_class)
        .unwrap_or(RouteClass::Local);
    let dossier = dossier_row(
        &checked,
        status,
        &access_token,
        (filed_at, result_due_at),
        route,
        now,
    );
    let mut legs = Vec::with_capacity(2);
    if let Some(class) = checked.inbound_class {
        legs.push(new_leg(LegDirection::Inbound, class, now));
    }
    if let Some(class) = checked.outbound_class {
        legs.push(new_leg(LegDirection::Outbound, class, now));
    }
    let kind = if checked.mode == ServiceMode::Return {
        EventKind::RegisteredAtDesk
    } else {
        EventKind::Requested
    };
    let first = NewEvent {
        at: now,
        kind,
        source: EventSource::Api,
        from_status: None,
        to_status: Some(status),
        leg: None,
        location: None,
        note: None,
    };
    let created = CreatedDossier {
        code: String::new(),
        status,
        service_mode: checked.mode,
        access_token,
        route_class: route,
        fees: checked.fees,
        created_at: now,
    };
    // Staff's return-only dossiers start at the agency; only pickup requests are counted.
    let phone_limit = (status == DossierStatus::PickupRequested).then_some(open_requests_per_phone);
    NewDossierRows {
        dossier,
        legs,
        first,
        created,
        phone_limit,
    }
}

/// The dossier's row, all but its code.
fn dossier_row(
    checked: &CheckedRequest,
    status: DossierStatus,
    access_token: &str,
    (filed_at, result_due_at): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    route: RouteClass,
    now: DateTime<Utc>,
) -> dossier::ActiveModel {
    dossier::ActiveModel {
        code: sea_orm::ActiveValue::NotSet,
        status: Set(status),
        service_mode: Set(checked.mode),
        procedure_code: Set(checked.procedure.code.clone()),
        agency_code: Set(checked.agency.code.clone()),
        office_code: Set(checked.office_code.clone()),
        applicant_full_name: Set(checked.full_name.clone()),
        applicant_phone: Set(checked.phone.clone()),
        applicant_email: Set(checked.email.clone()),
        applicant_id_number: Set(checked.id_number.clone()),
        pickup_line: Set(checked.pickup.as_ref().map(|a| a.line.clone())),
        pickup_ward_code: Set(checked.pickup.as_ref().map(|a| a.ward_code.clone())),
        pickup_province_code: Set(checked.pickup.as_ref().map(|a| a.province_code.clone())),
        return_line: Set(checked.return_to.as_ref().map(|a| a.line.clone())),
        return_ward_code: Set(checked.return_to.as_ref().map(|a| a.ward_code.clone())),
        return_province_code: Set(checked.return_to.as_ref().map(|a| a.province_code.clone())),
        documents: Set(serde_json::to_value(&checked.documents).unwrap_or_default()),
        with_appointment: Set(checked.with_appointment),
        fee_exemption: Set(checked.exemption),
        route_class: Set(route),
        postage_vnd: Set(checked.fees.postage_vnd),
        admin_fee_vnd: Set(checked.fees.admin_fee_vnd),
        total_vnd: Set(checked.fees.total_vnd),
        access_token_hash: Set(hash_secret(access_token)),
        filed_at: Set(filed_at),
        result_due_at: Set(result_due_at),
        national_dossier_no: Set(None),
        outcome: Set(None),
        language: Set(checked.language.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// What [`create_dossier`] writes, all but the dossier's code.
struct NewDossierRows {
    dossier: dossier::ActiveModel,
    legs: Vec<leg::ActiveModel>,
    first: NewEvent,
    created: CreatedDossier,
    /// Most open pickup requests of the applicant's phone, this one included; `None` for dossiers
    /// that are not pickup requests.
    phone_limit: Option<u32>,
}

/// The refusal of a pickup request over the phone's limit.
fn too_many_open_requests(limit: u32) -> OpError {
    OpError::TooMany {
        message: format!(
            "this phone number already has {limit} pickup requests the post has not collected yet; \
             a new one can be made once one of them is picked up or cancelled"
        ),
        retry_after_secs: 3600,
    }
}

/// Writes a new dossier under a fresh code with its legs, first event and idempotency record, in one
/// transaction.
async fn write_new_dossier(
    write: &DatabaseConnection,
    rows: &NewDossierRows,
    actor: &Actor,
    claim: Option<&IdempotencyClaim>,
) -> Result<CreateOutcome, OpError> {
    // A fresh random code collides with an existing one about never; retry a few times if it does.
    let alone = claim.is_none()
        && write.get_database_backend() == DbBackend::Postgres
        && !super::outbox::citizen_notice_kind(rows.first.kind, rows.first.leg);
    for _ in 0..5 {
        let code = new_dossier_code();
        let mut inserted = rows.dossier.clone();
        inserted.code = Set(code.clone());
        if alone {
            match insert_new_dossier_alone(
                write,
                &inserted,
                &rows.legs,
                actor,
                rows.first.clone(),
                rows.phone_limit,
            )
            .await
            {
                Ok(true) => {
                    tracing::info!(dossier.code = %code, dossier.status = %rows.created.status, "dossier registered");
                    return Ok(CreateOutcome::Created(CreatedDossier {
                        code,
                        ..rows.created.clone()
                    }));
                }
                Ok(false) => {}
                Err(err) if is_unique_violation(&err) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        if let Some(outcome) =
            write_in_transaction(write, rows, inserted, code, actor, claim).await?
        {
            return Ok(outcome);
        }
    }
    Err(OpError::Conflict(
        "could not allocate a dossier code; try again".into(),
    ))
}

/// One try of [`write_new_dossier`] in a transaction of its own, with the idempotency record:
/// `None` when the dossier's code is taken and another should be tried.
async fn write_in_transaction(
    write: &DatabaseConnection,
    rows: &NewDossierRows,
    inserted: dossier::ActiveModel,
    code: String,
    actor: &Actor,
    claim: Option<&IdempotencyClaim>,
) -> Result<Option<CreateOutcome>, OpError> {
    let txn = begin_write(write).await?;
    match insert_new_dossier(
        &txn,
        inserted,
        rows.legs.clone(),
        actor,
        rows.first.clone(),
        rows.phone_limit,
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => {
            txn.rollback().await?;
            return Err(too_many_open_requests(rows.phone_limit.unwrap_or_default()));
        }
        Err(err) if is_unique_violation(&err) => {
            txn.rollback().await?;
            return Ok(None);
        }
        Err(err) => return Err(err.into()),
    }
    let created = CreatedDossier {
        code,
        ..rows.created.clone()
    };
    if let Some(claim) = claim {
        let body = serde_json::to_string(&created).unwrap_or_default();
        if let Err(err) = idempotency::store(&txn, claim, 201, body).await {
            txn.rollback().await?;
            if is_unique_violation(&err) {
                // A concurrent request with the same key won the race: answer as it did.
                return match idempotency::find(write, claim).await? {
                    Some(replay) => replay_outcome(replay).map(Some),
                    None => Err(OpError::Conflict("the idempotency key is in use".into())),
                };
            }
            return Err(err.into());
        }
    }
    txn.commit().await?;
    tracing::info!(dossier.code = %created.code, dossier.status = %created.status, "dossier registered");
    Ok(Some(CreateOutcome::Created(created)))
}

/// A new dossier waiting for the SQLite writer ([`BatchWriter`]), and where its answer goes.
struct QueuedDossier {
    rows: NewDossierRows,
    actor: Actor,
    claim: Option<IdempotencyClaim>,
    answer: oneshot::Sender<Result<CreateOutcome, OpError>>,
    /// The answer once written in a batch, sent when the batch is committed.
    created: Option<CreatedDossier>,
}

/// Queues a dossier on the SQLite writer and waits until it is committed (or refused).
async fn write_queued(
    writer: &BatchWriter,
    rows: NewDossierRows,
    actor: Actor,
    claim: Option<IdempotencyClaim>,
) -> Result<CreateOutcome, OpError> {
    let failed = |what: &str| {
        OpError::Db(sea_orm::DbErr::Custom(format!(
            "the writer of new dossiers {what}"
        )))
    };
    let (answer, answered) = oneshot::channel();
    writer
        .queue(Box::new(QueuedDossier {
            rows,
            actor,
            claim,
            answer,
            created: None,
        }))
        .map_err(|_| failed("has stopped"))?;
    answered
        .await
        .map_err(|_| failed("failed before it answered"))?
}

impl QueuedWrite for QueuedDossier {
    fn write_in<'a>(
        &'a mut self,
        txn: &'a DatabaseTransaction,
    ) -> BoxFuture<'a, Result<(), sea_orm::DbErr>> {
        Box::pin(async move {
            self.created = Some(insert_one_of_batch(txn, self).await?);
            Ok(())
        })
    }

    fn committed(self: Box<Self>) {
        if let Some(created) = self.created {
            tracing::info!(dossier.code = %created.code, dossier.status = %created.status, "dossier registered");
            let _ = self.answer.send(Ok(CreateOutcome::Created(created)));
        }
    }

    fn write_alone(self: Box<Self>, write: &DatabaseConnection) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let outcome =
                write_new_dossier(write, &self.rows, &self.actor, self.claim.as_ref()).await;
            let _ = self.answer.send(outcome);
        })
    }
}

async fn insert_one_of_batch(
    txn: &DatabaseTransaction,
    job: &QueuedDossier,
) -> Result<CreatedDossier, sea_orm::DbErr> {
    let code = new_dossier_code();
    let mut inserted = job.rows.dossier.clone();
    inserted.code = Set(code.clone());
    let written = insert_new_dossier(
        txn,
        inserted,
        job.rows.legs.clone(),
        &job.actor,
        job.rows.first.clone(),
        job.rows.phone_limit,
    )
    .await?;
    if !written {
        // Over the phone's limit: the batch is written one by one, and this one refused.
        return Err(sea_orm::DbErr::Custom(
            "a pickup request over its phone's limit".into(),
        ));
    }
    let answer = CreatedDossier {
        code,
        ..job.rows.created.clone()
    };
    if let Some(claim) = &job.claim {
        let body = serde_json::to_string(&answer).unwrap_or_default();
        idempotency::store(txn, claim, 201, body).await?;
    }
    Ok(answer)
}

fn replay_outcome(replay: Replay) -> Result<CreateOutcome, OpError> {
    match replay {
        Replay::Same { body, .. } => serde_json::from_str(&body)
            .map(CreateOutcome::Replayed)
            .map_err(|err| {
                OpError::Db(sea_orm::DbErr::Custom(format!(
                    "stored answer unreadable: {err}"
                )))
            }),
        Replay::Mismatch => Err(OpError::Conflict(
            "this Idempotency-Key was already used with a different request".into(),
        )),
    }
}

/// Writes a new dossier, its legs (`dossier_id` not set) and its first timeline event with the
/// outbox rows it causes, inside `txn`. A unique violation means the dossier's code is taken. With a
/// `phone_limit`, the applicant phone's open pickup requests are counted first, in the same
/// transaction (on PostgreSQL under a lock on the phone, see [`new_dossier_statement`]; SQLite has
/// one writer): `false` when they are at the limit already, and nothing was written.
async fn insert_new_dossier(
    txn: &DatabaseTransaction,
    dossier: dossier::ActiveModel,
    legs: Vec<leg::ActiveModel>,
    actor: &Actor,
    first: NewEvent,
    phone_limit: Option<u32>,
) -> Result<bool, sea_orm::DbErr> {
    // On the busiest write most of the cost of a statement is its trip to the server (or to SQLite's
    // driver thread) and back: PostgreSQL writes everything in one statement, SQLite in three (the
    // phone's count inside the dossier's insert), and both read whether the agency has a webhook and
    // whether any outlet is on in the statement that writes the event.
    let event = if txn.get_database_backend() == DbBackend::Postgres {
        match insert_new_dossier_in_one_statement(txn, dossier, legs, actor, first, phone_limit)
            .await?
        {
            Some(written) => written,
            None => return Ok(false),
        }
    } else {
        let agency_code = active_value(&dossier.agency_code);
        let Some(dossier_id) = insert_dossier_within_limit(txn, &dossier, phone_limit).await?
        else {
            return Ok(false);
        };
        let legs: Vec<leg::ActiveModel> = legs
            .into_iter()
            .map(|mut l| {
                l.dossier_id = Set(dossier_id);
                l
            })
            .collect();
        if !legs.is_empty() {
            leg::Entity::insert_many(legs).exec(txn).await?;
        }
        let insert = first_event_insert(
            super::event_row(dossier_id, actor, first, crate::clock::now()),
            agency_code,
        );
        let row = txn
            .query_one_raw(DbBackend::Sqlite.build(&insert))
            .await?
            .ok_or(sea_orm::DbErr::RecordNotInserted)?;
        NewEventRow::read(&row)?
    };
    if super::outbox::causes_deliveries(&event.event, event.agency_has_webhook, event.outlets_on) {
        super::outbox::enqueue_for_event(txn, &event.event).await?;
    }
    Ok(true)
}

/// SQLite: the insert of a new dossier's first event, answering the stored row with whether the
/// agency has an active webhook and whether an outlet is on. (SQLite's placeholder is `?`: a `$1`
/// would be bound to the statement's first value, the dossier's id, and read as true.)
fn first_event_insert(
    event: dossier_event::ActiveModel,
    agency_code: String,
) -> sea_orm::sea_query::InsertStatement {
    let mut insert = dossier_event::Entity::insert(event).into_query();
    insert.returning(Query::returning().exprs([
        Expr::col(Asterisk),
        Expr::cust_with_expr(
            "? AS agency_has_webhook",
            Expr::exists(active_webhooks(agency_code)),
        ),
        Expr::cust_with_expr("? AS outlets_on", Expr::exists(outlets_on())),
    ]));
    insert
}

/// A new dossier's first event as its insert answered it, with what decides whether it causes
/// outbox rows (read by the same statement, so no later look-up is needed when it causes none).
struct NewEventRow {
    event: dossier_event::Model,
    agency_has_webhook: bool,
    outlets_on: bool,
}

impl NewEventRow {
    fn read(row: &sea_orm::QueryResult) -> Result<Self, sea_orm::DbErr> {
        Ok(Self {
            event: dossier_event::Model::from_query_result(row, "")?,
            agency_has_webhook: row.try_get("", "agency_has_webhook")?,
            outlets_on: row.try_get("", "outlets_on")?,
        })
    }
}

/// `SELECT 1` of the outlets (phone notices, the portal) a worker delivers to, for `EXISTS`.
fn outlets_on() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(entity::integration_state::Entity)
        .and_where(entity::integration_state::Column::Name.is_in([
            super::integrations::OUTLET_PHONE,
            super::integrations::OUTLET_PORTAL,
        ]))
        .and_where(entity::integration_state::Column::Value.eq("on"))
        .to_owned()
}

/// SQLite: inserts the dossier, with a `phone_limit` only while its applicant phone has fewer open
/// pickup requests, counted by the same statement (SQLite has one writer, so the count stands until
/// the transaction ends). Answers the new dossier's id, or `None` when the limit refused it.
async fn insert_dossier_within_limit(
    txn: &DatabaseTransaction,
    dossier: &dossier::ActiveModel,
    phone_limit: Option<u32>,
) -> Result<Option<i64>, sea_orm::DbErr> {
    let within_limit = phone_limit.map(|limit| {
        Expr::cust_with_values(
            format!(
                "(SELECT COUNT(*) FROM \"dossiers\" WHERE \"applicant_phone\" = ? AND {}) < ?",
                open_statuses_condition()
            ),
            [
                sea_orm::Value::from(active_value(&dossier.applicant_phone)),
                sea_orm::Value::from(i64::from(limit)),
            ],
        )
    });
    let insert = dossier_insert_where(dossier, within_limit.into_iter().collect())?;
    match txn
        .query_one_raw(txn.get_database_backend().build(&insert))
        .await?
    {
        Some(row) => Ok(Some(row.try_get("", dossier::Column::Id.as_str())?)),
        None => Ok(None),
    }
}

/// `INSERT INTO dossiers … SELECT <its values> WHERE <conditions> RETURNING id`: the dossier is
/// inserted only when every condition holds (both databases' new-dossier writes).
fn dossier_insert_where(
    dossier: &dossier::ActiveModel,
    conditions: Vec<Expr>,
) -> Result<InsertStatement, sea_orm::DbErr> {
    let (columns, mut rows) = row_values(std::slice::from_ref(dossier), None)?;
    let mut values = Query::select();
    values.exprs(rows.pop().unwrap_or_default());
    for condition in conditions {
        values.and_where(condition);
    }
    let mut insert = Query::insert();
    insert
        .into_table(dossier::Entity)
        .columns(columns)
        .select_from(values)
        .map_err(|e| sea_orm::DbErr::Custom(format!("building an insert: {e}")))?;
    insert.returning_col(dossier::Column::Id);
    Ok(insert)
}

/// `"dossiers"."status" IN ('pickup_requested', …)`: the statuses of an open pickup request, written
/// out as the partial index `dossiers_open_by_phone` names them. SQLite uses a partial index only
/// when the query repeats its condition, which bound parameters do not, and the count would read
/// every dossier.
fn open_statuses_condition() -> String {
    let open_statuses = crate::lifecycle::OPEN_PICKUP_STATUSES
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    format!("\"dossiers\".\"status\" IN ({open_statuses})")
}

/// The open pickup requests of an applicant phone, with the condition SQLite's count uses when it
/// writes a new dossier (PostgreSQL counts in `open_pickup_requests_locked`).
pub fn open_pickup_requests_of(phone: &str) -> sea_orm::Select<dossier::Entity> {
    dossier::Entity::find()
        .filter(dossier::Column::ApplicantPhone.eq(phone))
        .filter(Expr::cust(open_statuses_condition()))
}

/// The value of a set field (empty when not set).
fn active_value(value: &sea_orm::ActiveValue<String>) -> String {
    match value {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => v.clone(),
        sea_orm::ActiveValue::NotSet => String::new(),
    }
}

/// `SELECT 1` of the active webhooks of an agency, for `EXISTS`.
fn active_webhooks(agency_code: String) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(webhook::Entity)
        .and_where(webhook::Column::Active.eq(true))
        .and_where(webhook::Column::AgencyCode.eq(agency_code))
        .to_owned()
}

/// On PostgreSQL, a new dossier whose first event e-mails nobody is written by one statement with no
/// transaction around it (one statement is atomic on its own, and this spares the `BEGIN` and `COMMIT`
/// trips): the dossier is inserted only if its agency has no active webhook and no phone notices are
/// sent. `false` when the agency
/// has one (or phone notices are sent): nothing was written, and the caller writes the dossier in a
/// transaction with the outbox rows it causes.
async fn insert_new_dossier_alone(
    write: &DatabaseConnection,
    dossier: &dossier::ActiveModel,
    legs: &[leg::ActiveModel],
    actor: &Actor,
    first: NewEvent,
    phone_limit: Option<u32>,
) -> Result<bool, sea_orm::DbErr> {
    let statement = new_dossier_statement_cached(dossier, legs, actor, first, true, phone_limit)?;
    // Sent through sqlx itself: sea-orm would copy each of its eighty-odd values once more.
    let values = sea_query_sqlx::SqlxValues(
        statement
            .values
            .unwrap_or_else(|| sea_orm::Values(Vec::new())),
    );
    let mut conn = crate::store::postgres_connection(write).await?;
    let row = sea_orm::sqlx::query_with(sea_orm::sqlx::AssertSqlSafe(statement.sql), values)
        .fetch_optional(&mut *conn)
        .await
        .map_err(crate::store::query_error)?;
    Ok(row.is_some())
}

/// [`insert_new_dossier`]'s rows as one PostgreSQL statement ([`new_dossier_statement`]). Answers the
/// stored event, with whether the dossier's agency has an active webhook and whether an outlet is on;
/// `None` when the phone's limit refused the dossier.
async fn insert_new_dossier_in_one_statement(
    txn: &DatabaseTransaction,
    dossier: dossier::ActiveModel,
    legs: Vec<leg::ActiveModel>,
    actor: &Actor,
    first: NewEvent,
    phone_limit: Option<u32>,
) -> Result<Option<NewEventRow>, sea_orm::DbErr> {
    let statement =
        new_dossier_statement_cached(&dossier, &legs, actor, first, false, phone_limit)?;
    let Some(row) = txn.query_one_raw(statement).await? else {
        return if phone_limit.is_some() {
            Ok(None)
        } else {
            Err(sea_orm::DbErr::RecordNotInserted)
        };
    };
    Ok(Some(NewEventRow::read(&row)?))
}

/// A new dossier, its legs and its first event as one PostgreSQL statement of data-modifying CTEs: the
/// legs and the event are inserted from the dossier's row (so none when it is not inserted), and the
/// statement answers the stored event with whether the agency has an active webhook. With
/// `unless_hooked`, the dossier is inserted only if it has none. With `phone_limit`, only if its
/// applicant phone has fewer open pickup requests: `open_pickup_requests_locked` (a migration's
/// function) locks the phone until the statement's transaction ends and counts what was committed
/// by then, so concurrent requests for one phone are counted one after the other.
fn new_dossier_statement(
    dossier: &dossier::ActiveModel,
    legs: &[leg::ActiveModel],
    (actor, first, recorded_at): (&Actor, NewEvent, DateTime<Utc>),
    unless_hooked: bool,
    phone_limit: Option<u32>,
) -> Result<Statement, sea_orm::DbErr> {
    let hooks = active_webhooks(active_value(&dossier.agency_code));
    let mut conditions = Vec::new();
    if unless_hooked {
        conditions.push(sea_orm::sea_query::ExprTrait::not(Expr::exists(
            hooks.clone(),
        )));
        // Nor while the request's notice goes to the phone: that needs its outbox row written too.
        conditions.push(Expr::cust_with_values(
            "NOT EXISTS (SELECT 1 FROM integration_states WHERE name = $1 AND value = 'on')",
            [sea_orm::Value::from(
                super::integrations::OUTLET_PHONE.to_owned(),
            )],
        ));
    }
    if let Some(limit) = phone_limit {
        conditions.push(Expr::cust_with_values(
            "open_pickup_requests_locked($1) < $2",
            [
                sea_orm::Value::from(active_value(&dossier.applicant_phone)),
                sea_orm::Value::from(i64::from(limit)),
            ],
        ));
    }
    let new_dossier = dossier_insert_where(dossier, conditions)?;
    let source = Alias::new("new_dossier");
    let dossier_id = Expr::col((source.clone(), dossier::Column::Id));
    let event = super::event_row(0, actor, first, recorded_at);
    let mut new_event = insert_from(
        &[event],
        dossier_event::Column::DossierId,
        &dossier_id,
        &source,
    )?;
    new_event.returning_all();
    let mut parts = vec![("new_dossier", new_dossier), ("new_event", new_event)];
    if !legs.is_empty() {
        parts.push((
            "new_legs",
            insert_from(legs, leg::Column::DossierId, &dossier_id, &source)?,
        ));
    }
    let statement = with_inserts(parts).query(
        Query::select()
            .column(Asterisk)
            .expr_as(Expr::exists(hooks), Alias::new("agency_has_webhook"))
            .expr_as(Expr::exists(outlets_on()), Alias::new("outlets_on"))
            .from(Alias::new("new_event"))
            .to_owned(),
    );
    Ok(DbBackend::Postgres.build(&statement))
}

/// [`new_dossier_statement`] without building it: its SQL depends only on the number of legs and
/// the two switches, so sea-query writes it once per shape (the first time it is needed) and every
/// later request sends that text with its values, gathered in the order sea-query binds them
/// ([`new_dossier_values`]). Building the statement was a quarter of a pickup request's CPU time.
fn new_dossier_statement_cached(
    dossier: &dossier::ActiveModel,
    legs: &[leg::ActiveModel],
    actor: &Actor,
    first: NewEvent,
    unless_hooked: bool,
    phone_limit: Option<u32>,
) -> Result<Statement, sea_orm::DbErr> {
    /// Legs 0–2, `unless_hooked`, `phone_limit`: the text and how many values it binds.
    static SQL: [std::sync::OnceLock<(String, usize)>; 12] =
        [const { std::sync::OnceLock::new() }; 12];
    let shape =
        legs.len() * 4 + usize::from(unless_hooked) * 2 + usize::from(phone_limit.is_some());
    let event = (actor, first, crate::clock::now());
    let Some(cached) = SQL.get(shape) else {
        return new_dossier_statement(dossier, legs, event, unless_hooked, phone_limit);
    };
    if let Some((sql, bound)) = cached.get() {
        let values = new_dossier_values(dossier, legs, event.clone(), unless_hooked, phone_limit);
        // A row whose set columns differ from the first one's would not fit the text: build it.
        if values.len() == *bound {
            return Ok(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql.clone(),
                values,
            ));
        }
    }
    let statement = new_dossier_statement(dossier, legs, event, unless_hooked, phone_limit)?;
    let bound = statement.values.as_ref().map_or(0, |v| v.0.len());
    let _ = cached.set((statement.sql.clone(), bound));
    Ok(statement)
}

/// The values [`new_dossier_statement`] binds, in its placeholders' order: the dossier's row, the
/// conditions on it, the first event's row, each leg's row, then the answer's two sub-queries.
fn new_dossier_values(
    dossier: &dossier::ActiveModel,
    legs: &[leg::ActiveModel],
    (actor, first, recorded_at): (&Actor, NewEvent, DateTime<Utc>),
    unless_hooked: bool,
    phone_limit: Option<u32>,
) -> Vec<sea_orm::Value> {
    use sea_orm::Value;
    let agency_code = active_value(&dossier.agency_code);
    let active_webhooks = |values: &mut Vec<Value>| {
        values.extend([
            Value::from(1),
            Value::from(true),
            Value::from(agency_code.clone()),
        ]);
    };
    let mut values = Vec::with_capacity(80);
    set_values(dossier, None, &mut values);
    if unless_hooked {
        active_webhooks(&mut values);
        values.push(Value::from(super::integrations::OUTLET_PHONE.to_owned()));
    }
    if let Some(limit) = phone_limit {
        values.push(Value::from(active_value(&dossier.applicant_phone)));
        values.push(Value::from(i64::from(limit)));
    }
    let event = super::event_row(0, actor, first, recorded_at);
    set_values(&event, Some(dossier_event::Column::DossierId), &mut values);
    for leg in legs {
        set_values(leg, Some(leg::Column::DossierId), &mut values);
    }
    active_webhooks(&mut values);
    values.extend([
        Value::from(1),
        Value::from(super::integrations::OUTLET_PHONE.to_owned()),
        Value::from(super::integrations::OUTLET_PORTAL.to_owned()),
        Value::from("on".to_owned()),
    ]);
    values
}

/// The values of `row`'s set columns in column order, but `parent`'s (written as an expression).
fn set_values<A: ActiveModelTrait>(
    row: &A,
    parent: Option<<A::Entity as EntityTrait>::Column>,
    values: &mut Vec<sea_orm::Value>,
) {
    for c in <A::Entity as EntityTrait>::Column::iter() {
        if parent.is_some_and(|p| p.as_str() == c.as_str()) {
            continue;
        }
        if let Some(value) = row.get(c).into_value() {
            values.push(value);
        }
    }
}

/// A `WITH` clause of data-modifying CTEs, one per named insert.
fn with_inserts(parts: Vec<(&str, InsertStatement)>) -> WithClause {
    let mut with = WithClause::new();
    for (name, query) in parts {
        with.cte(
            CommonTableExpression::new()
                .query(query)
                .table_name(Alias::new(name))
                .to_owned(),
        );
    }
    with
}

/// `INSERT … SELECT` of `rows` (the columns set in the first), one `SELECT … FROM source` each, whose
/// `parent` column is the expression `parent_id`: nothing is inserted when `source` has no row.
fn insert_from<A: ActiveModelTrait>(
    rows: &[A],
    parent: <A::Entity as EntityTrait>::Column,
    parent_id: &Expr,
    source: &Alias,
) -> Result<InsertStatement, sea_orm::DbErr> {
    let (columns, rows) = row_values(rows, Some((parent, parent_id)))?;
    let mut selects = rows.into_iter().map(|values| {
        Query::select()
            .exprs(values)
            .from(source.clone())
            .to_owned()
    });
    let mut select = selects
        .next()
        .ok_or_else(|| sea_orm::DbErr::Custom("an insert of no rows".into()))?;
    for other in selects {
        select.union(sea_orm::sea_query::UnionType::All, other);
    }
    let mut insert = Query::insert();
    insert
        .into_table(A::Entity::default().table_ref())
        .columns(columns)
        .select_from(select)
        .map_err(|e| sea_orm::DbErr::Custom(format!("building an insert: {e}")))?;
    Ok(insert)
}

/// The columns of an insert, and its rows' values for them.
type RowValues<C> = (Vec<C>, Vec<Vec<Expr>>);

/// The columns set in the first of `rows` (and `parent`'s), and each row's values for them, `parent`'s
/// being the expression given with it.
fn row_values<A: ActiveModelTrait>(
    rows: &[A],
    parent: Option<(<A::Entity as EntityTrait>::Column, &Expr)>,
) -> Result<RowValues<<A::Entity as EntityTrait>::Column>, sea_orm::DbErr> {
    let parent_of = |c: &<A::Entity as EntityTrait>::Column| {
        parent
            .as_ref()
            .filter(|(p, _)| p.as_str() == c.as_str())
            .map(|(_, id)| *id)
    };
    let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter()
        .filter(|c| parent_of(c).is_some() || rows.first().is_some_and(|r| r.get(*c).is_set()))
        .collect();
    let mut values = Vec::with_capacity(rows.len());
    for row in rows {
        let mut row_values = Vec::with_capacity(columns.len());
        for c in &columns {
            if let Some(parent_id) = parent_of(c) {
                row_values.push(parent_id.clone());
            } else {
                let value = row.get(*c).into_value().ok_or_else(|| {
                    sea_orm::DbErr::Custom(format!("no value for {} in a row", c.as_str()))
                })?;
                row_values.push(Expr::value(value));
            }
        }
        values.push(row_values);
    }
    Ok((columns, values))
}

fn new_leg(direction: LegDirection, class: RouteClass, now: DateTime<Utc>) -> leg::ActiveModel {
    leg::ActiveModel {
        direction: Set(direction),
        route_class: Set(class),
        item_code: Set(None),
        status: Set(LegStatus::Planned),
        due_at: Set(None),
        delivered_at: Set(None),
        failed_attempts: Set(0),
        last_failed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// The documents of a slip as listed by the citizen: at least one, each named (or coded), an original
/// or copies.
pub(crate) fn check_documents(
    c: &mut Checker,
    documents: Option<&[DocumentRequest]>,
) -> Vec<SlipDocument> {
    check_documents_at(c, documents)
        .into_iter()
        .map(|(_, d)| d)
        .collect()
}

/// Matches a pickup request's documents to the procedure's published list: each must be on it (by
/// code, or by its exact name), since the post accepts only the documents a procedure lists (Decision
/// 45 Art. 6, 16); every required one must be there, each missing one named in its own detail.
/// Matched documents take the list's name and code.
fn match_procedure_list(
    c: &mut Checker,
    listed: &[entity::procedure_document::Model],
    documents: &mut [(usize, SlipDocument)],
) {
    let mut present = std::collections::HashSet::new();
    for (i, doc) in documents.iter_mut() {
        let found = match &doc.code {
            Some(code) => listed.iter().find(|l| &l.code == code),
            None => listed.iter().find(|l| l.name == doc.name),
        };
        match found {
            Some(l) => {
                present.insert(l.id);
                doc.name = l.name.clone();
                doc.code = Some(l.code.clone());
            }
            None => {
                let (field, what) = match &doc.code {
                    Some(code) => (format!("documents[{i}].code"), format!("`{code}`")),
                    None => (format!("documents[{i}].name"), format!("“{}”", doc.name)),
                };
                c.fail(
                    field,
                    format!(
                        "{what} is not on the procedure's published document list; the post accepts only the documents it lists"
                    ),
                );
            }
        }
    }
    if c.has_failed("documents") {
        // No list at all: that is the one thing to say.
        return;
    }
    for l in listed
        .iter()
        .filter(|l| l.required && !present.contains(&l.id))
    {
        c.fail(
            "documents",
            format!(
                "“{}” (code {}) is required by the procedure and missing",
                l.name, l.code
            ),
        );
    }
}

/// [`check_documents`], keeping each document's place in the request for error fields.
fn check_documents_at(
    c: &mut Checker,
    documents: Option<&[DocumentRequest]>,
) -> Vec<(usize, SlipDocument)> {
    match documents {
        None => {
            c.fail("documents", "is required: list the documents handed over");
            Vec::new()
        }
        Some([]) => {
            c.fail("documents", "must list at least one document");
            Vec::new()
        }
        Some(docs) if docs.len() > MAX_DOCUMENTS => {
            c.fail(
                "documents",
                format!("at most {MAX_DOCUMENTS} documents are allowed"),
            );
            Vec::new()
        }
        Some(docs) => {
            let mut out = Vec::with_capacity(docs.len());
            for (i, doc) in docs.iter().enumerate() {
                let code = doc
                    .code
                    .as_deref()
                    .map(str::trim)
                    .filter(|code| !code.is_empty())
                    .map(|code| code.chars().take(MAX_DOCUMENT_NAME).collect::<String>());
                let name = match (&code, doc.name.as_deref().map(str::trim)) {
                    // Named by code alone: the list's name is filled in when it is matched.
                    (Some(_), None | Some("")) => Some(String::new()),
                    _ => c.required_text(
                        &format!("documents[{i}].name"),
                        doc.name.as_deref(),
                        MAX_DOCUMENT_NAME,
                    ),
                };
                let original = doc.original.unwrap_or(false);
                let copies = doc.copies.unwrap_or(0);
                if !(0..=MAX_COPIES).contains(&copies) {
                    c.fail(
                        format!("documents[{i}].copies"),
                        format!("must be between 0 and {MAX_COPIES}"),
                    );
                    continue;
                }
                if !original && copies == 0 {
                    c.fail(
                        format!("documents[{i}]"),
                        "must be an original or at least one copy",
                    );
                    continue;
                }
                if let Some(name) = name {
                    out.push((
                        i,
                        SlipDocument {
                            name,
                            original,
                            copies,
                            code,
                        },
                    ));
                }
            }
            out
        }
    }
}

pub(crate) fn check_address(
    c: &mut Checker,
    field: &str,
    address: Option<&AddressRequest>,
) -> Option<Address> {
    let Some(address) = address else {
        c.fail(field, "is required");
        return None;
    };
    let line = c.required_text(&format!("{field}.line"), address.line.as_deref(), MAX_LINE);
    let (province, ward) = crate::divisions::check_place(
        c,
        &format!("{field}.province_code"),
        &format!("{field}.ward_code"),
        address.province_code.as_deref(),
        address.ward_code.as_deref(),
    );
    Some(Address {
        line: line?,
        ward_code: ward?,
        province_code: province?,
    })
}

fn check_request(
    catalog: &Catalog,
    actor: &Actor,
    request: &DossierRequest,
) -> Result<CheckedRequest, OpError> {
    let mut c = Checker::new();
    let choices = check_choices(&mut c, request);
    let applicant = check_applicant(&mut c, request);
    let (pickup, return_to) = check_addresses(&mut c, choices.mode, request);
    let documents = check_documents_at(&mut c, request.documents.as_deref());
    let (procedure, agency) = find_procedure_and_agency(&mut c, catalog, &choices);
    let office_code = check_who_registers(&mut c, actor, choices.mode, agency.as_ref())?;
    let documents = listed_documents(&mut c, catalog, procedure.as_ref(), choices.mode, documents);
    let office_code = find_serving_office(
        &mut c,
        catalog,
        office_code,
        pickup.as_ref(),
        return_to.as_ref(),
    );

    if let Err(errors) = c.finish() {
        return Err(OpError::Validation(errors));
    }
    let (
        Some(procedure),
        Some(agency),
        Some(mode),
        Some(full_name),
        Some(phone),
        Some(id_number),
        Some(office_code),
    ) = (
        procedure,
        agency,
        choices.mode,
        applicant.full_name,
        applicant.phone,
        applicant.id_number,
        office_code,
    )
    else {
        return Err(OpError::Validation(vec![]));
    };

    let (inbound_class, outbound_class) =
        route_classes(catalog, &agency, mode, pickup.as_ref(), return_to.as_ref());
    let fees = price(
        catalog,
        [inbound_class, outbound_class],
        choices.exemption,
        procedure.admin_fee_vnd,
    )?;
    let return_to = if mode == ServiceMode::Send {
        None
    } else {
        return_to
    };

    Ok(CheckedRequest {
        procedure,
        agency,
        office_code,
        mode,
        full_name,
        phone,
        email: applicant.email,
        id_number,
        pickup,
        return_to,
        documents,
        with_appointment: request.with_appointment.unwrap_or(false),
        exemption: choices.exemption,
        language: choices.language,
        inbound_class,
        outbound_class,
        fees,
    })
}

/// The documents of the slip. A dossier the post carries to the agency holds the procedure's listed
/// documents only, and all of its required ones (a `return` dossier was checked at the desk).
fn listed_documents(
    c: &mut Checker,
    catalog: &Catalog,
    procedure: Option<&procedure::Model>,
    mode: Option<ServiceMode>,
    mut documents: Vec<(usize, SlipDocument)>,
) -> Vec<SlipDocument> {
    if let Some(p) = procedure
        && mode != Some(ServiceMode::Return)
    {
        match_procedure_list(c, catalog.documents(&p.code), &mut documents);
    }
    documents.into_iter().map(|(_, d)| d).collect()
}

/// What a request chooses by code or spelling, each checked on its own.
struct RequestChoices {
    procedure_code: Option<String>,
    agency_code: Option<String>,
    mode: Option<ServiceMode>,
    exemption: FeeExemption,
    language: String,
}

fn check_choices(c: &mut Checker, request: &DossierRequest) -> RequestChoices {
    let procedure_code = c.required_text("procedure_code", request.procedure_code.as_deref(), 50);
    let agency_code = c.required_text("agency_code", request.agency_code.as_deref(), 50);
    let mode: Option<ServiceMode> = c.required_enum(
        "service_mode",
        request.service_mode.as_deref(),
        &spellings(ServiceMode::ALL, ServiceMode::as_str),
    );
    let exemption: FeeExemption = match request.fee_exemption.as_deref() {
        None => Some(FeeExemption::None),
        Some(v) => c.enum_value(
            "fee_exemption",
            v,
            &spellings(FeeExemption::ALL, FeeExemption::as_str),
        ),
    }
    .unwrap_or(FeeExemption::None);
    let language = match request.language.as_deref() {
        None => "vi".to_owned(),
        Some(l @ ("vi" | "en")) => l.to_owned(),
        Some(_) => {
            c.fail("language", "must be one of: vi, en");
            "vi".to_owned()
        }
    };
    RequestChoices {
        procedure_code,
        agency_code,
        mode,
        exemption,
        language,
    }
}

/// The applicant's fields as checked; `None` where one is missing or invalid.
struct CheckedApplicant {
    full_name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    id_number: Option<String>,
}

fn check_applicant(c: &mut Checker, request: &DossierRequest) -> CheckedApplicant {
    let applicant = request.applicant.clone().unwrap_or_default();
    let full_name = if request.applicant.is_none() {
        c.fail("applicant", "is required");
        None
    } else {
        c.required_text(
            "applicant.full_name",
            applicant.full_name.as_deref(),
            MAX_NAME,
        )
    };
    let phone = match applicant.phone.as_deref() {
        None if request.applicant.is_some() => {
            c.fail("applicant.phone", "is required");
            None
        }
        None => None,
        Some(p) => match crate::contact::normalize_phone(p) {
            Ok(p) => Some(p),
            Err(msg) => {
                c.fail("applicant.phone", msg);
                None
            }
        },
    };
    let email = match c.optional_text("applicant.email", applicant.email.as_deref(), MAX_EMAIL) {
        Some(e) => match crate::contact::validate_email(&e) {
            Ok(()) => Some(e),
            Err(msg) => {
                c.fail("applicant.email", msg);
                None
            }
        },
        None => None,
    };
    let id_number = match applicant.id_number.as_deref() {
        None if request.applicant.is_some() => {
            c.fail("applicant.id_number", "is required");
            None
        }
        None => None,
        Some(id) => match crate::contact::validate_id_number(id.trim()) {
            Ok(()) => Some(id.trim().to_owned()),
            Err(msg) => {
                c.fail("applicant.id_number", msg);
                None
            }
        },
    };
    CheckedApplicant {
        full_name,
        phone,
        email,
        id_number,
    }
}

/// The pickup address and the return address the service mode asks for.
fn check_addresses(
    c: &mut Checker,
    mode: Option<ServiceMode>,
    request: &DossierRequest,
) -> (Option<Address>, Option<Address>) {
    match mode {
        Some(ServiceMode::Send) => (
            check_address(c, "pickup_address", request.pickup_address.as_ref()),
            None,
        ),
        Some(ServiceMode::SendAndReturn) => {
            let pickup = check_address(c, "pickup_address", request.pickup_address.as_ref());
            let return_to = match request.return_address.as_ref() {
                Some(r) => check_address(c, "return_address", Some(r)),
                None => pickup.clone(),
            };
            (pickup, return_to)
        }
        Some(ServiceMode::Return) => {
            let return_to = match request
                .return_address
                .as_ref()
                .or(request.pickup_address.as_ref())
            {
                Some(r) if request.return_address.is_some() => {
                    check_address(c, "return_address", Some(r))
                }
                Some(r) => check_address(c, "pickup_address", Some(r)),
                None => check_address(c, "return_address", None),
            };
            (None, return_to)
        }
        None => (None, None),
    }
}

/// Reference data: the procedure, the agency, and that the agency handles the procedure.
fn find_procedure_and_agency(
    c: &mut Checker,
    catalog: &Catalog,
    choices: &RequestChoices,
) -> (Option<procedure::Model>, Option<agency::Model>) {
    let procedure = match &choices.procedure_code {
        Some(code) => {
            let found = catalog.procedure(code).cloned();
            if found.is_none() {
                c.fail(
                    "procedure_code",
                    format!("no procedure has the code `{code}`"),
                );
            }
            found
        }
        None => None,
    };
    let agency = match &choices.agency_code {
        Some(code) => {
            let found = catalog.agency(code).cloned();
            if found.is_none() {
                c.fail("agency_code", format!("no agency has the code `{code}`"));
            }
            found
        }
        None => None,
    };
    if let (Some(p), Some(a)) = (&procedure, &agency)
        && !catalog.handles(&a.code, &p.code)
    {
        c.fail(
            "procedure_code",
            format!("agency `{}` does not handle procedure `{}`", a.code, p.code),
        );
    }
    (procedure, agency)
}

/// Who may register which mode: `Forbidden` for an agency key out of its reach. A postal key's own
/// office serves the dossier it registers.
fn check_who_registers(
    c: &mut Checker,
    actor: &Actor,
    mode: Option<ServiceMode>,
    agency: Option<&agency::Model>,
) -> Result<Option<String>, OpError> {
    let mut office_code = None;
    match (actor, mode) {
        (Actor::Staff(key), Some(ServiceMode::Return))
            if key.role == Role::Agency
                && agency.is_some_and(|a| Some(&a.code) != key.agency_code.as_ref()) =>
        {
            return Err(OpError::Forbidden(
                "an agency key registers dossiers for its own agency only".into(),
            ));
        }
        (Actor::Staff(key), Some(ServiceMode::Return)) if key.role == Role::Agency => {}
        (Actor::Staff(key), Some(ServiceMode::Return)) if key.role == Role::Admin => {}
        (_, Some(ServiceMode::Return)) => {
            c.fail(
                "service_mode",
                "`return` dossiers are registered by the agency's desk, where the citizen filed in person",
            );
        }
        (Actor::Staff(key), Some(_)) if key.role == Role::Postal => {
            office_code = key.office_code.clone()
        }
        (Actor::Staff(key), Some(_)) if key.role == Role::Agency => {
            return Err(OpError::Forbidden(
                "an agency key registers `return` dossiers only; pickups are requested by citizens or post offices".into(),
            ));
        }
        _ => {}
    }
    Ok(office_code)
}

/// The post office that serves the dossier: the one chosen already, or the one serving the address
/// the post collects from (or, for a `return` dossier, delivers to).
fn find_serving_office(
    c: &mut Checker,
    catalog: &Catalog,
    mut office_code: Option<String>,
    pickup: Option<&Address>,
    return_to: Option<&Address>,
) -> Option<String> {
    let served = pickup.or(return_to);
    if office_code.is_none()
        && let Some(address) = served
    {
        office_code = catalog
            .serving_office(&address.province_code, &address.ward_code)
            .map(|o| o.code.clone());
        if office_code.is_none() {
            let field = if pickup.is_some() {
                "pickup_address.province_code"
            } else {
                "return_address.province_code"
            };
            c.fail(field, "no post office serves this province yet");
        }
    }
    office_code
}

/// The route classes of the parcels the dossier travels as: in from the pickup address, and back to
/// the return address unless the mode is `send`.
fn route_classes(
    catalog: &Catalog,
    agency: &agency::Model,
    mode: ServiceMode,
    pickup: Option<&Address>,
    return_to: Option<&Address>,
) -> (Option<RouteClass>, Option<RouteClass>) {
    let is_major = |p: &str| catalog.is_major_city(p);
    let agency_place = Place {
        province_code: &agency.province_code,
        ward_code: &agency.ward_code,
    };
    let inbound_class = pickup.map(|a| {
        route_class(
            Place {
                province_code: &a.province_code,
                ward_code: &a.ward_code,
            },
            agency_place,
            is_major,
        )
    });
    let outbound_class = return_to.filter(|_| mode != ServiceMode::Send).map(|a| {
        route_class(
            agency_place,
            Place {
                province_code: &a.province_code,
                ward_code: &a.ward_code,
            },
            is_major,
        )
    });
    (inbound_class, outbound_class)
}

/// The fees of the dossier's parcels and the procedure: refused when a route class has no tariff.
fn price(
    catalog: &Catalog,
    classes: [Option<RouteClass>; 2],
    exemption: FeeExemption,
    admin_fee_vnd: i64,
) -> Result<Fees, OpError> {
    let mut postage = Vec::with_capacity(2);
    for class in classes.into_iter().flatten() {
        match catalog.postage(class) {
            Some(p) => postage.push(p),
            None => {
                return Err(OpError::field(
                    "service_mode",
                    format!("no tariff is set for route class `{class}`; ask an administrator"),
                ));
            }
        }
    }
    Ok(compute_fees(&postage, exemption, admin_fee_vnd))
}

/// Finds a dossier by its code as typed (any case, dash optional).
pub async fn find_by_code(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<dossier::Model>, OpError> {
    let Some(code) = normalize_dossier_code(code) else {
        return Ok(None);
    };
    Ok(dossier::Entity::find()
        .filter(dossier::Column::Code.eq(code))
        .one(conn)
        .await?)
}

/// Finds a dossier by code inside a write transaction, locking its row (PostgreSQL) so that concurrent
/// transitions of one dossier happen one after the other. SQLite transactions are serialised already.
pub async fn find_by_code_for_update(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<dossier::Model>, OpError> {
    let Some(code) = normalize_dossier_code(code) else {
        return Ok(None);
    };
    let mut query = dossier::Entity::find().filter(dossier::Column::Code.eq(code));
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.one(conn).await?)
}

/// The post office does not need the applicant's identity number or e-mail to carry a dossier (the
/// identity check at delivery compares on the server): a postal key never receives them.
pub fn redact_for_post(dossier: &mut dossier::Model) {
    dossier.applicant_id_number = String::new();
    dossier.applicant_email = None;
}

/// Cancels a dossier before pickup, by its citizen or its post office (or an administrator).
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn cancel_dossier(
    store: &Store,
    actor: &Actor,
    code: &str,
    reason: Option<&str>,
) -> Result<dossier::Model, OpError> {
    let mut c = Checker::new();
    let reason = c.optional_text("reason", reason, MAX_NOTE);
    c.finish().map_err(OpError::Validation)?;
    match actor {
        Actor::Citizen { .. } => {}
        Actor::Staff(key) if matches!(key.role, Role::Postal | Role::Admin) => {}
        Actor::Staff(_) => {
            return Err(OpError::Forbidden(
                "only the citizen or the post office may cancel".into(),
            ));
        }
        Actor::Public | Actor::System => {
            return Err(OpError::Forbidden("credentials are required".into()));
        }
    }
    let txn = store.begin().await?;
    let dossier = find_by_code_for_update(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    if actor.may_access(&dossier) == Access::Denied {
        return Err(OpError::Forbidden("this dossier is not yours".into()));
    }
    let from = dossier.status;
    let to = next_status(dossier.service_mode, from, Action::Cancel)?;
    let now = crate::clock::now();
    let dossier_id = dossier.id;
    let mut active: dossier::ActiveModel = dossier.into();
    active.status = Set(to);
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    leg::Entity::update_many()
        .col_expr(
            leg::Column::Status,
            sea_orm::sea_query::Expr::value(LegStatus::Cancelled.as_str()),
        )
        .col_expr(leg::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(leg::Column::DossierId.eq(dossier_id))
        .exec(&txn)
        .await?;
    append_event(
        &txn,
        dossier_id,
        actor,
        NewEvent {
            at: now,
            kind: EventKind::Cancelled,
            source: EventSource::Api,
            from_status: Some(from),
            to_status: Some(to),
            leg: None,
            location: None,
            note: reason,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values gathered for the cached text of the new-dossier statement are exactly those
    /// sea-query binds, in its order, for every shape: with one leg or two, with and without each
    /// switch, with and without optional fields.
    #[test]
    fn the_new_dossier_statements_values_are_bound_as_sea_query_binds_them() {
        let mut dossier = <dossier::ActiveModel as ActiveModelTrait>::default();
        dossier.code = Set("HS-TEST".into());
        dossier.status = Set(DossierStatus::PickupRequested);
        dossier.service_mode = Set(ServiceMode::SendAndReturn);
        dossier.agency_code = Set("UBND-P-HOANKIEM".into());
        dossier.applicant_phone = Set("0912345678".into());
        dossier.applicant_email = Set(None);
        dossier.documents = Set(serde_json::json!([{"name": "to khai"}]));
        dossier.postage_vnd = Set(30_000);
        dossier.created_at = Set(crate::clock::now());
        let now = crate::clock::now();
        let legs = [
            new_leg(LegDirection::Inbound, RouteClass::Local, now),
            new_leg(LegDirection::Outbound, RouteClass::IntraProvince, now),
        ];
        let actor = Actor::Public;
        let first = NewEvent {
            at: now,
            kind: EventKind::Requested,
            source: EventSource::Api,
            from_status: None,
            to_status: Some(DossierStatus::PickupRequested),
            leg: None,
            location: None,
            note: Some("first".into()),
        };
        for count in 0..=2 {
            for unless_hooked in [false, true] {
                for phone_limit in [None, Some(5)] {
                    let event = (&actor, first.clone(), now);
                    let built = new_dossier_statement(
                        &dossier,
                        &legs[..count],
                        event,
                        unless_hooked,
                        phone_limit,
                    )
                    .expect("the statement builds");
                    let event = (&actor, first.clone(), now);
                    let gathered = new_dossier_values(
                        &dossier,
                        &legs[..count],
                        event,
                        unless_hooked,
                        phone_limit,
                    );
                    assert_eq!(
                        built.values.map(|v| v.0).unwrap_or_default(),
                        gathered,
                        "{count} legs, unless_hooked {unless_hooked}, phone_limit {phone_limit:?}: {}",
                        built.sql
                    );
                }
            }
        }
    }

    /// The flags of the first event's insert are read from their own sub-queries on SQLite: every
    /// placeholder of the statement is SQLite's `?`, one per bound value.
    #[test]
    fn the_first_events_flags_are_sub_queries_with_sqlites_placeholders() {
        let mut event = <dossier_event::ActiveModel as ActiveModelTrait>::default();
        event.dossier_id = Set(7);
        event.actor = Set("public".into());
        let statement =
            DbBackend::Sqlite.build(&first_event_insert(event, "UBND-P-HOANKIEM".into()));
        assert!(!statement.sql.contains('$'), "{}", statement.sql);
        let bound = statement.values.map_or(0, |v| v.0.len());
        assert_eq!(
            statement.sql.matches('?').count(),
            bound,
            "{}",
            statement.sql
        );
        assert!(
            statement.sql.contains("EXISTS(SELECT ? FROM \"webhooks\""),
            "{}",
            statement.sql
        );
        assert!(
            statement
                .sql
                .contains("EXISTS(SELECT ? FROM \"integration_states\""),
            "{}",
            statement.sql
        );
    }
}
