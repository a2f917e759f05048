//! Administrators' writes of reference data (API.md "Reference data"): agencies, procedures with their
//! document lists and the agencies that handle them, post offices with their S10 serial ranges,
//! tariffs and public holidays. Each write creates or replaces one record by its code (a route class
//! for tariffs, a date for holidays), checks every field first (one answer names every bad field),
//! and records who changed what, with the record before and after, in `admin_audit` in the same
//! transaction. After the commit the process's reference snapshot is dropped, so a new holiday or
//! tariff applies to the very next request.
//!
//! Nothing here deletes a record that dossiers refer to (records are kept at least 5 years); only a
//! holiday entered by mistake can be removed.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use entity::enums::{Role, RouteClass};
use entity::{
    admin_audit, agency, agency_procedure, holiday, item_code_range, post_office, procedure,
    procedure_document, tariff, working_day,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::Serialize;

use super::OpError;
use super::access::{Actor, StaffKey};
use super::validation::{Checker, spellings};
use crate::s10::MAX_SERIAL;
use crate::store::Store;

/// The largest amount of money accepted (VND): far above any fee or postage, far below overflow.
pub const MAX_VND: i64 = 1_000_000_000;
/// The longest processing time accepted, in working days.
pub const MAX_PROCESSING_DAYS: i64 = 365;
/// The most documents one procedure may list.
pub const MAX_DOCUMENTS: usize = 50;
/// The most agencies one procedure write may name.
pub const MAX_AGENCIES: usize = 1000;
/// The longest agency code.
pub const MAX_AGENCY_CODE: usize = 50;
/// The longest name of an agency, office or holiday.
pub const MAX_NAME: usize = 200;
/// The longest procedure name (the national database's names are long).
pub const MAX_PROCEDURE_NAME: usize = 500;
/// The longest document name.
pub const MAX_DOCUMENT_NAME: usize = 300;
/// The longest address.
pub const MAX_ADDRESS: usize = 300;
/// Holidays are accepted for these years.
pub const HOLIDAY_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;
/// The S10 service indicators' first letters the post uses (DOMAIN.md "Identifiers").
pub const SERVICE_INDICATOR_LETTERS: &str = "ECRLV";

/// What kind of reference record an audit row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Agency,
    Procedure,
    Office,
    Tariff,
    Holiday,
    WorkingDay,
}

impl Subject {
    pub const fn as_str(self) -> &'static str {
        match self {
            Subject::Agency => "agency",
            Subject::Procedure => "procedure",
            Subject::Office => "office",
            Subject::Tariff => "tariff",
            Subject::Holiday => "holiday",
            Subject::WorkingDay => "working_day",
        }
    }
}

/// What an administrator's write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Create,
    Replace,
    Delete,
}

impl Change {
    pub const fn as_str(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Replace => "replace",
            Change::Delete => "delete",
        }
    }
}

/// A record after a create-or-replace, and which of the two it was (the API answers 201 or 200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written<T> {
    pub record: T,
    pub created: bool,
}

// ---------------------------------------------------------------------------------------------
// Requests as they arrive (every field optional, so that a missing one is named, not a 400) and
// records as administrators see them (also what the audit trail stores before and after).
// ---------------------------------------------------------------------------------------------

/// An agency to create or replace.
#[derive(Debug, Clone, Default)]
pub struct AgencyRequest {
    pub code: Option<String>,
    pub name: Option<String>,
    pub identifier: Option<String>,
    pub province_code: Option<String>,
    pub ward_code: Option<String>,
    pub address: Option<String>,
    pub email: Option<String>,
    /// The unit code (`madonvi`) at the national public-service portal; the agency's code when absent.
    pub portal_unit_code: Option<String>,
}

/// An agency as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgencyView {
    pub code: String,
    pub name: String,
    pub identifier: Option<String>,
    pub province_code: String,
    pub ward_code: String,
    pub address: String,
    pub email: Option<String>,
    /// The unit code the national portal knows the agency by (its own code unless one was given).
    pub portal_unit_code: String,
}

impl From<agency::Model> for AgencyView {
    fn from(a: agency::Model) -> Self {
        Self {
            portal_unit_code: a.portal_unit_code.clone().unwrap_or_else(|| a.code.clone()),
            code: a.code,
            name: a.name,
            identifier: a.identifier,
            province_code: a.province_code,
            ward_code: a.ward_code,
            address: a.address,
            email: a.email,
        }
    }
}

/// One document of a procedure to write.
#[derive(Debug, Clone, Default)]
pub struct DocumentRequest {
    pub name: Option<String>,
    pub original_required: Option<bool>,
    /// Letters, digits, `.`, `-`, `_`; `<procedure>-<nn>` by position when absent.
    pub code: Option<String>,
    /// Whether a pickup request must include it; not required when absent.
    pub required: Option<bool>,
}

/// A procedure to create or replace: its document list and the agencies that handle it are replaced
/// with it.
#[derive(Debug, Clone, Default)]
pub struct ProcedureRequest {
    pub code: Option<String>,
    pub name: Option<String>,
    pub admin_fee_vnd: Option<i64>,
    pub processing_days: Option<i64>,
    pub documents: Option<Vec<DocumentRequest>>,
    pub agency_codes: Option<Vec<String>>,
}

/// A document on a procedure's list, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentView {
    pub name: String,
    pub original_required: bool,
    pub code: String,
    pub required: bool,
}

/// A procedure as stored, with its documents and the agencies that handle it (sorted by code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcedureView {
    pub code: String,
    pub name: String,
    pub admin_fee_vnd: i64,
    pub processing_days: i32,
    pub documents: Vec<DocumentView>,
    pub agency_codes: Vec<String>,
}

/// The S10 serials a post office allocates item codes from.
#[derive(Debug, Clone, Default)]
pub struct RangeRequest {
    pub service_indicator: Option<String>,
    pub first_serial: Option<i64>,
    pub last_serial: Option<i64>,
}

/// A post office to create or replace. With `item_code_range`, that range becomes the one the office
/// allocates from: the same range (same indicator and first serial) is resized in place; a new one
/// retires the office's others (an unused one is removed, a used one is closed and kept, so that its
/// serials are never handed out again).
#[derive(Debug, Clone, Default)]
pub struct OfficeRequest {
    pub code: Option<String>,
    pub name: Option<String>,
    pub province_code: Option<String>,
    pub ward_code: Option<String>,
    pub address: Option<String>,
    pub item_code_range: Option<RangeRequest>,
}

/// An S10 serial range as stored; past `last_serial`, `next_serial` means spent (or closed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeView {
    pub service_indicator: String,
    pub first_serial: i64,
    pub last_serial: i64,
    pub next_serial: i64,
}

impl From<item_code_range::Model> for RangeView {
    fn from(r: item_code_range::Model) -> Self {
        Self {
            service_indicator: r.service_indicator,
            first_serial: r.first_serial,
            last_serial: r.last_serial,
            next_serial: r.next_serial,
        }
    }
}

/// A post office as stored, with its serial ranges, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfficeView {
    pub code: String,
    pub name: String,
    pub province_code: String,
    pub ward_code: String,
    pub address: String,
    pub item_code_ranges: Vec<RangeView>,
}

/// The postage of one route class to set.
#[derive(Debug, Clone, Default)]
pub struct TariffRequest {
    pub route_class: Option<String>,
    pub postage_vnd: Option<i64>,
}

/// A tariff as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TariffView {
    pub route_class: RouteClass,
    pub postage_vnd: i64,
}

/// A public holiday to enter (lunar-calendar holidays are entered per year, like every other).
#[derive(Debug, Clone, Default)]
pub struct HolidayRequest {
    pub date: Option<String>,
    pub name: Option<String>,
}

/// A holiday as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HolidayView {
    pub date: NaiveDate,
    pub name: String,
}

impl From<holiday::Model> for HolidayView {
    fn from(h: holiday::Model) -> Self {
        Self {
            date: h.date,
            name: h.name,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field checks.
// ---------------------------------------------------------------------------------------------

/// The admin key behind the actor.
fn admin(actor: &Actor) -> Result<&StaffKey, OpError> {
    actor
        .staff_with_role(Role::Admin)
        .ok_or_else(|| OpError::Forbidden("reference data is managed with an admin key".into()))
}

/// An agency code: capital letters, digits, `-`, `.` and `_`, starting with a letter or digit.
pub fn check_agency_code(code: &str) -> Result<(), &'static str> {
    let ok_char = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-._".contains(&b);
    if code.len() < 2 {
        return Err("must be at least 2 characters");
    }
    if !code.bytes().all(ok_char) {
        return Err("may contain only capital letters A–Z, digits, `-`, `.` and `_`");
    }
    if !code.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("must start with a letter or a digit");
    }
    Ok(())
}

/// An agency's official identifier (mã định danh), e.g. `000.00.01.H29`: four groups of 3, 2, 2 and 3
/// capital letters or digits, separated by dots.
pub fn check_agency_identifier(id: &str) -> Result<(), &'static str> {
    let groups: Vec<&str> = id.split('.').collect();
    let shaped = groups.len() == 4
        && groups.iter().zip([3, 2, 2, 3]).all(|(g, n)| {
            g.len() == n
                && g.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        });
    if shaped {
        Ok(())
    } else {
        Err("must look like `000.00.01.H29` (groups of 3, 2, 2 and 3 capital letters or digits)")
    }
}

/// A procedure code of the National Administrative Procedure Database, e.g. `1.001193`.
pub fn check_procedure_code(code: &str) -> Result<(), &'static str> {
    let b = code.as_bytes();
    if b.len() == 8
        && b[1] == b'.'
        && b[0].is_ascii_digit()
        && b[2..].iter().all(u8::is_ascii_digit)
    {
        Ok(())
    } else {
        Err("must be a national procedure code: a digit, a dot and 6 digits, e.g. `1.001193`")
    }
}

/// A post office code: 6 digits, e.g. `100000`.
pub fn check_office_code(code: &str) -> Result<(), &'static str> {
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("must be a post office code of 6 digits, e.g. `100000`")
    }
}

/// A holiday's date: `YYYY-MM-DD`, a real day, in [`HOLIDAY_YEARS`].
pub fn parse_holiday_date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    let date = if s.len() == 10 {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    } else {
        None
    };
    let Some(date) = date else {
        return Err("must be a date `YYYY-MM-DD`, e.g. `2027-02-05`".to_owned());
    };
    if !HOLIDAY_YEARS.contains(&date.year()) {
        return Err(format!(
            "must be in the years {} to {}",
            HOLIDAY_YEARS.start(),
            HOLIDAY_YEARS.end()
        ));
    }
    Ok(date)
}

/// A required code, trimmed, checked by `rule`.
fn code_field(
    c: &mut Checker,
    field: &str,
    value: Option<&str>,
    max: usize,
    rule: fn(&str) -> Result<(), &'static str>,
) -> Option<String> {
    let value = c.required_text(field, value, max)?;
    match rule(&value) {
        Ok(()) => Some(value),
        Err(msg) => {
            c.fail(field, msg);
            None
        }
    }
}

/// A required whole amount of VND, 0 to [`MAX_VND`].
fn vnd_field(c: &mut Checker, field: &str, value: Option<i64>) -> Option<i64> {
    match value {
        None => {
            c.fail(field, "is required");
            None
        }
        Some(v) if v < 0 => {
            c.fail(field, "must not be negative");
            None
        }
        Some(v) if v > MAX_VND => {
            c.fail(field, format!("must be at most {MAX_VND} VND"));
            None
        }
        Some(v) => Some(v),
    }
}

/// The address fields every agency and office has.
struct Place {
    name: Option<String>,
    province_code: Option<String>,
    ward_code: Option<String>,
    address: Option<String>,
}

fn place_fields(
    c: &mut Checker,
    name: Option<&str>,
    province_code: Option<&str>,
    ward_code: Option<&str>,
    address: Option<&str>,
) -> Place {
    let name = c.required_text("name", name, MAX_NAME);
    let (province_code, ward_code) =
        crate::divisions::check_place(c, "province_code", "ward_code", province_code, ward_code);
    Place {
        name,
        province_code,
        ward_code,
        address: c.required_text("address", address, MAX_ADDRESS),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared steps.
// ---------------------------------------------------------------------------------------------

/// `query`, locking the rows it reads until the transaction ends (PostgreSQL; SQLite transactions
/// of this service already hold the write lock).
fn for_update<E: EntityTrait>(conn: &impl ConnectionTrait, query: Select<E>) -> Select<E> {
    if conn.get_database_backend() == DbBackend::Postgres {
        query.lock_exclusive()
    } else {
        query
    }
}

fn to_json(value: &impl Serialize) -> Result<serde_json::Value, DbErr> {
    serde_json::to_value(value).map_err(|e| DbErr::Custom(format!("audit record: {e}")))
}

/// Writes the audit row of one change (in the caller's transaction).
async fn record_audit(
    conn: &impl ConnectionTrait,
    key: &StaffKey,
    subject: Subject,
    code: &str,
    change: Change,
    before: Option<&impl Serialize>,
    after: Option<&impl Serialize>,
) -> Result<(), DbErr> {
    admin_audit::ActiveModel {
        at: Set(crate::clock::now()),
        api_key_id: Set(Some(key.key_id)),
        api_key_name: Set(key.name.clone()),
        entity: Set(subject.as_str().to_owned()),
        code: Set(code.to_owned()),
        action: Set(change.as_str().to_owned()),
        before: Set(before.map(to_json).transpose()?),
        after: Set(after.map(to_json).transpose()?),
        client_ip: Set(super::audit::client_ip()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    tracing::info!(
        admin.entity = subject.as_str(),
        admin.code = %code,
        admin.action = change.as_str(),
        api_key.id = key.key_id,
        "reference data changed"
    );
    Ok(())
}

/// Commits, then drops this process's reference snapshot so the change applies to the next request.
async fn commit(store: &Store, txn: sea_orm::DatabaseTransaction) -> Result<(), OpError> {
    txn.commit().await?;
    store.catalog.invalidate();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Agencies.
// ---------------------------------------------------------------------------------------------

/// Creates or replaces an agency by code (admin key only).
#[tracing::instrument(skip_all)]
pub async fn put_agency(
    store: &Store,
    actor: &Actor,
    request: &AgencyRequest,
) -> Result<Written<AgencyView>, OpError> {
    let key = admin(actor)?;
    let fields = check_agency(request)?;
    let code = fields.code.clone();
    let now = crate::clock::now();
    let txn = store.begin().await?;
    let existing = for_update(&txn, agency::Entity::find_by_id(code.clone()))
        .one(&txn)
        .await?;
    let active = agency::ActiveModel {
        created_at: Set(existing.as_ref().map_or(now, |e| e.created_at)),
        updated_at: Set(now),
        ..agency::ActiveModel::from(fields)
    };
    let before = existing.map(AgencyView::from);
    let saved: AgencyView = if before.is_some() {
        active.update(&txn).await?.into()
    } else {
        active.insert(&txn).await?.into()
    };
    commit_put(
        store,
        txn,
        key,
        Subject::Agency,
        &code,
        before.as_ref(),
        saved,
    )
    .await
}

/// The agency's fields as checked, all but its timestamps.
struct CheckedAgency {
    code: String,
    name: String,
    identifier: Option<String>,
    province_code: String,
    ward_code: String,
    address: String,
    email: Option<String>,
    portal_unit_code: Option<String>,
}

impl From<CheckedAgency> for agency::ActiveModel {
    fn from(a: CheckedAgency) -> Self {
        agency::ActiveModel {
            code: Set(a.code),
            name: Set(a.name),
            identifier: Set(a.identifier),
            province_code: Set(a.province_code),
            ward_code: Set(a.ward_code),
            address: Set(a.address),
            email: Set(a.email),
            portal_unit_code: Set(a.portal_unit_code),
            ..Default::default()
        }
    }
}

fn check_agency(request: &AgencyRequest) -> Result<CheckedAgency, OpError> {
    let mut c = Checker::new();
    let code = code_field(
        &mut c,
        "code",
        request.code.as_deref(),
        MAX_AGENCY_CODE,
        check_agency_code,
    );
    let place = place_fields(
        &mut c,
        request.name.as_deref(),
        request.province_code.as_deref(),
        request.ward_code.as_deref(),
        request.address.as_deref(),
    );
    let identifier = c.optional_text("identifier", request.identifier.as_deref(), 13);
    if let Some(id) = &identifier
        && let Err(msg) = check_agency_identifier(id)
    {
        c.fail("identifier", msg);
    }
    let email = c.optional_text("email", request.email.as_deref(), 254);
    if let Some(email) = &email
        && let Err(msg) = crate::contact::validate_email(email)
    {
        c.fail("email", msg);
    }
    let portal_unit_code =
        c.optional_text("portal_unit_code", request.portal_unit_code.as_deref(), 50);
    if let Some(unit) = &portal_unit_code
        && let Err(msg) = check_agency_code(unit)
    {
        c.fail("portal_unit_code", msg);
    }
    c.finish().map_err(OpError::Validation)?;
    let (Some(code), Some(name), Some(province_code), Some(ward_code), Some(address)) = (
        code,
        place.name,
        place.province_code,
        place.ward_code,
        place.address,
    ) else {
        return Err(OpError::Validation(vec![]));
    };
    Ok(CheckedAgency {
        code,
        name,
        identifier,
        province_code,
        ward_code,
        address,
        email,
        portal_unit_code,
    })
}

/// Writes the audit row of a creation or replacement, commits, and answers the saved record.
async fn commit_put<T: Serialize>(
    store: &Store,
    txn: sea_orm::DatabaseTransaction,
    key: &StaffKey,
    subject: Subject,
    code: &str,
    before: Option<&T>,
    saved: T,
) -> Result<Written<T>, OpError> {
    let change = if before.is_some() {
        Change::Replace
    } else {
        Change::Create
    };
    record_audit(&txn, key, subject, code, change, before, Some(&saved)).await?;
    commit(store, txn).await?;
    Ok(Written {
        record: saved,
        created: change == Change::Create,
    })
}

/// Every agency, by code (admin key only).
pub async fn list_agencies(
    conn: &impl ConnectionTrait,
    actor: &Actor,
) -> Result<Vec<AgencyView>, OpError> {
    admin(actor)?;
    Ok(super::reference::list_agencies(conn)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Procedures.
// ---------------------------------------------------------------------------------------------

/// Procedures with their documents and agencies; only `code` when given.
async fn procedure_views(
    conn: &impl ConnectionTrait,
    code: Option<&str>,
) -> Result<Vec<ProcedureView>, DbErr> {
    let mut procedures = procedure::Entity::find().order_by_asc(procedure::Column::Code);
    let mut documents = procedure_document::Entity::find()
        .order_by_asc(procedure_document::Column::ProcedureCode)
        .order_by_asc(procedure_document::Column::Position);
    let mut links = agency_procedure::Entity::find()
        .order_by_asc(agency_procedure::Column::ProcedureCode)
        .order_by_asc(agency_procedure::Column::AgencyCode);
    if let Some(code) = code {
        procedures = procedures.filter(procedure::Column::Code.eq(code));
        documents = documents.filter(procedure_document::Column::ProcedureCode.eq(code));
        links = links.filter(agency_procedure::Column::ProcedureCode.eq(code));
    }
    let mut docs_by: BTreeMap<String, Vec<DocumentView>> = BTreeMap::new();
    for d in documents.all(conn).await? {
        docs_by
            .entry(d.procedure_code)
            .or_default()
            .push(DocumentView {
                name: d.name,
                original_required: d.original_required,
                code: d.code,
                required: d.required,
            });
    }
    let mut agencies_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in links.all(conn).await? {
        agencies_by
            .entry(l.procedure_code)
            .or_default()
            .push(l.agency_code);
    }
    Ok(procedures
        .all(conn)
        .await?
        .into_iter()
        .map(|p| ProcedureView {
            documents: docs_by.remove(&p.code).unwrap_or_default(),
            agency_codes: agencies_by.remove(&p.code).unwrap_or_default(),
            code: p.code,
            name: p.name,
            admin_fee_vnd: p.admin_fee_vnd,
            processing_days: p.processing_days,
        })
        .collect())
}

/// Creates or replaces a procedure by code, with its document list and the agencies that handle it,
/// all in one transaction (admin key only).
#[tracing::instrument(skip_all)]
pub async fn put_procedure(
    store: &Store,
    actor: &Actor,
    request: &ProcedureRequest,
) -> Result<Written<ProcedureView>, OpError> {
    let key = admin(actor)?;
    let mut c = Checker::new();
    let fields = check_procedure_fields(&mut c, request);
    let documents = check_procedure_documents(&mut c, request, fields.code.as_deref());
    let mut agency_codes = check_agency_codes(&mut c, request);
    check_agencies_known(&mut c, &store.read, request, &agency_codes).await?;
    c.finish().map_err(OpError::Validation)?;
    let ProcedureFields {
        code: Some(code),
        name: Some(name),
        admin_fee_vnd: Some(admin_fee_vnd),
        processing_days: Some(processing_days),
    } = fields
    else {
        return Err(OpError::Validation(vec![]));
    };
    agency_codes.sort();
    let saved = ProcedureView {
        code,
        name,
        admin_fee_vnd,
        processing_days,
        documents,
        agency_codes,
    };

    let now = crate::clock::now();
    let txn = store.begin().await?;
    let before = write_procedure(&txn, &saved, now).await?;
    let code = saved.code.clone();
    commit_put(
        store,
        txn,
        key,
        Subject::Procedure,
        &code,
        before.as_ref(),
        saved,
    )
    .await
}

/// A procedure's own fields as checked; `None` where one is missing or invalid.
struct ProcedureFields {
    code: Option<String>,
    name: Option<String>,
    admin_fee_vnd: Option<i64>,
    processing_days: Option<i32>,
}

fn check_procedure_fields(c: &mut Checker, request: &ProcedureRequest) -> ProcedureFields {
    let code = code_field(c, "code", request.code.as_deref(), 8, check_procedure_code);
    let name = c.required_text("name", request.name.as_deref(), MAX_PROCEDURE_NAME);
    let admin_fee_vnd = vnd_field(c, "admin_fee_vnd", request.admin_fee_vnd);
    let processing_days = match request.processing_days {
        None => {
            c.fail("processing_days", "is required");
            None
        }
        Some(d) if !(1..=MAX_PROCESSING_DAYS).contains(&d) => {
            c.fail(
                "processing_days",
                format!("must be a whole number of working days from 1 to {MAX_PROCESSING_DAYS}"),
            );
            None
        }
        Some(d) => i32::try_from(d).ok(),
    };
    ProcedureFields {
        code,
        name,
        admin_fee_vnd,
        processing_days,
    }
}

/// The procedure's published document list, in order; a document without a code gets the one
/// derived from the procedure's `code` and its position.
fn check_procedure_documents(
    c: &mut Checker,
    request: &ProcedureRequest,
    code: Option<&str>,
) -> Vec<DocumentView> {
    let mut documents = Vec::new();
    match &request.documents {
        None => c.fail(
            "documents",
            "is required: the procedure's published document list",
        ),
        Some(list) if list.is_empty() => c.fail("documents", "must list at least one document"),
        Some(list) if list.len() > MAX_DOCUMENTS => c.fail(
            "documents",
            format!("must list at most {MAX_DOCUMENTS} documents"),
        ),
        Some(list) => {
            let mut seen = HashSet::new();
            let mut seen_codes = HashSet::new();
            for (i, doc) in list.iter().enumerate() {
                let doc_code = check_document_code(c, code, i, doc);
                if !doc_code.is_empty() && !seen_codes.insert(doc_code.clone()) {
                    c.fail(format!("documents[{i}].code"), "is listed twice");
                }
                let field = format!("documents[{i}].name");
                let name = c.required_text(&field, doc.name.as_deref(), MAX_DOCUMENT_NAME);
                if let Some(name) = &name
                    && !seen.insert(name.to_lowercase())
                {
                    c.fail(&field, "is listed twice");
                }
                let original = doc.original_required;
                if original.is_none() {
                    c.fail(
                        format!("documents[{i}].original_required"),
                        "is required: true when the original must be handed in",
                    );
                }
                if let (Some(name), Some(original_required)) = (name, original) {
                    documents.push(DocumentView {
                        name,
                        original_required,
                        code: doc_code,
                        required: doc.required.unwrap_or(false),
                    });
                }
            }
        }
    }
    documents
}

/// The code of the `i`-th document: as given, or derived from the procedure's code; empty when the
/// given one is invalid.
fn check_document_code(
    c: &mut Checker,
    procedure_code: Option<&str>,
    i: usize,
    doc: &DocumentRequest,
) -> String {
    match doc.code.as_deref().map(str::trim) {
        None | Some("") => super::seed::document_code(
            procedure_code.unwrap_or_default(),
            i32::try_from(i).unwrap_or_default(),
        ),
        Some(text)
            if text.len() <= 50
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
        {
            text.to_owned()
        }
        Some(_) => {
            c.fail(
                format!("documents[{i}].code"),
                "must be at most 50 letters, digits, `.`, `-` or `_`",
            );
            String::new()
        }
    }
}

/// The agencies that handle the procedure, each named once.
fn check_agency_codes(c: &mut Checker, request: &ProcedureRequest) -> Vec<String> {
    let mut agency_codes: Vec<String> = Vec::new();
    match &request.agency_codes {
        None => c.fail(
            "agency_codes",
            "is required: the agencies that handle the procedure (may be empty)",
        ),
        Some(list) if list.len() > MAX_AGENCIES => c.fail(
            "agency_codes",
            format!("must name at most {MAX_AGENCIES} agencies"),
        ),
        Some(list) => {
            for (i, code) in list.iter().enumerate() {
                let field = format!("agency_codes[{i}]");
                let Some(code) = c.required_text(&field, Some(code.as_str()), MAX_AGENCY_CODE)
                else {
                    continue;
                };
                if agency_codes.contains(&code) {
                    c.fail(&field, "is listed twice");
                } else {
                    agency_codes.push(code);
                }
            }
        }
    }
    agency_codes
}

/// Fails each listed agency that does not exist.
async fn check_agencies_known(
    c: &mut Checker,
    read: &impl ConnectionTrait,
    request: &ProcedureRequest,
    agency_codes: &[String],
) -> Result<(), DbErr> {
    if agency_codes.is_empty() {
        return Ok(());
    }
    // Agencies are never deleted, so a read outside the write transaction is as good as one inside
    // it (and the foreign key stands behind it).
    let known: HashSet<String> = agency::Entity::find()
        .select_only()
        .column(agency::Column::Code)
        .filter(agency::Column::Code.is_in(agency_codes.iter().cloned()))
        .into_tuple::<String>()
        .all(read)
        .await?
        .into_iter()
        .collect();
    if let Some(list) = &request.agency_codes {
        for (i, code) in list.iter().enumerate() {
            let field = format!("agency_codes[{i}]");
            if !c.has_failed(&field) && !known.contains(code.trim()) {
                c.fail(field, "is not a known agency");
            }
        }
    }
    Ok(())
}

/// Writes the procedure with its document list and the agencies that handle it, replacing what was
/// there; answers what was there before.
async fn write_procedure(
    txn: &sea_orm::DatabaseTransaction,
    saved: &ProcedureView,
    now: DateTime<Utc>,
) -> Result<Option<ProcedureView>, OpError> {
    let code = &saved.code;
    let existing = for_update(txn, procedure::Entity::find_by_id(code.clone()))
        .one(txn)
        .await?;
    let before = match &existing {
        Some(_) => procedure_views(txn, Some(code)).await?.into_iter().next(),
        None => None,
    };
    let active = procedure::ActiveModel {
        code: Set(code.clone()),
        name: Set(saved.name.clone()),
        admin_fee_vnd: Set(saved.admin_fee_vnd),
        processing_days: Set(saved.processing_days),
        created_at: Set(existing.as_ref().map_or(now, |e| e.created_at)),
        updated_at: Set(now),
    };
    if existing.is_some() {
        active.update(txn).await?;
        procedure_document::Entity::delete_many()
            .filter(procedure_document::Column::ProcedureCode.eq(code.as_str()))
            .exec(txn)
            .await?;
        agency_procedure::Entity::delete_many()
            .filter(agency_procedure::Column::ProcedureCode.eq(code.as_str()))
            .exec(txn)
            .await?;
    } else {
        active.insert(txn).await?;
    }
    procedure_document::Entity::insert_many(saved.documents.iter().zip(0..).map(
        |(d, position)| procedure_document::ActiveModel {
            procedure_code: Set(code.clone()),
            position: Set(position),
            name: Set(d.name.clone()),
            original_required: Set(d.original_required),
            code: Set(d.code.clone()),
            required: Set(d.required),
            ..Default::default()
        },
    ))
    .exec_without_returning(txn)
    .await?;
    if !saved.agency_codes.is_empty() {
        agency_procedure::Entity::insert_many(saved.agency_codes.iter().map(|a| {
            agency_procedure::ActiveModel {
                agency_code: Set(a.clone()),
                procedure_code: Set(code.clone()),
            }
        }))
        .exec_without_returning(txn)
        .await?;
    }
    Ok(before)
}

/// Every procedure with its documents and agencies, by code (admin key only).
pub async fn list_procedures(
    conn: &impl ConnectionTrait,
    actor: &Actor,
) -> Result<Vec<ProcedureView>, OpError> {
    admin(actor)?;
    Ok(procedure_views(conn, None).await?)
}

// ---------------------------------------------------------------------------------------------
// Post offices.
// ---------------------------------------------------------------------------------------------

/// A checked serial range.
struct Range {
    indicator: String,
    first: i64,
    last: i64,
}

fn range_fields(c: &mut Checker, request: &RangeRequest) -> Option<Range> {
    const F: &str = "item_code_range";
    let indicator = c.required_text(
        &format!("{F}.service_indicator"),
        request.service_indicator.as_deref(),
        2,
    );
    let indicator = indicator.and_then(|ind| {
        let b = ind.as_bytes();
        if b.len() == 2
            && b.iter().all(u8::is_ascii_uppercase)
            && SERVICE_INDICATOR_LETTERS.as_bytes().contains(&b[0])
        {
            Some(ind)
        } else {
            c.fail(
                format!("{F}.service_indicator"),
                "must be 2 capital letters starting with E (EMS), C (parcel), R (registered), \
                 L (express) or V (insured), e.g. `EB`",
            );
            None
        }
    });
    let mut serial = |field: &str, value: Option<i64>| match value {
        None => {
            c.fail(format!("{F}.{field}"), "is required");
            None
        }
        Some(v) if !(0..=i64::from(MAX_SERIAL)).contains(&v) => {
            c.fail(
                format!("{F}.{field}"),
                format!("must be a serial from 0 to {MAX_SERIAL} (8 digits)"),
            );
            None
        }
        Some(v) => Some(v),
    };
    let first = serial("first_serial", request.first_serial);
    let last = serial("last_serial", request.last_serial);
    if let (Some(first), Some(last)) = (first, last)
        && last < first
    {
        c.fail(format!("{F}.last_serial"), "must not be below first_serial");
        return None;
    }
    Some(Range {
        indicator: indicator?,
        first: first?,
        last: last?,
    })
}

async fn office_view(
    conn: &impl ConnectionTrait,
    office: post_office::Model,
) -> Result<OfficeView, DbErr> {
    let ranges = item_code_range::Entity::find()
        .filter(item_code_range::Column::OfficeCode.eq(office.code.as_str()))
        .order_by_asc(item_code_range::Column::Id)
        .all(conn)
        .await?;
    Ok(OfficeView {
        code: office.code,
        name: office.name,
        province_code: office.province_code,
        ward_code: office.ward_code,
        address: office.address,
        item_code_ranges: ranges.into_iter().map(Into::into).collect(),
    })
}

/// Makes `range` the one `office_code` allocates from; an overlap with another range of the same
/// indicator (of any office) is a validation failure added to `c`.
async fn set_office_range(
    conn: &impl ConnectionTrait,
    c: &mut Checker,
    office_code: &str,
    range: &Range,
) -> Result<(), DbErr> {
    let own = for_update(
        conn,
        item_code_range::Entity::find()
            .filter(item_code_range::Column::OfficeCode.eq(office_code))
            .order_by_asc(item_code_range::Column::Id),
    )
    .all(conn)
    .await?;
    let same = own
        .iter()
        .find(|r| r.service_indicator == range.indicator && r.first_serial == range.first);
    // Ranges that give way to the new one and so cannot collide with it: the resized range itself,
    // or this office's unused ranges, which are removed.
    let replaced: Vec<i64> = match same {
        Some(r) => vec![r.id],
        None => own
            .iter()
            .filter(|r| r.next_serial == r.first_serial)
            .map(|r| r.id)
            .collect(),
    };
    if let Some(other) = overlapping_range(conn, range, &replaced).await? {
        c.fail(
            "item_code_range.first_serial",
            format!(
                "overlaps the serials {}{:08}–{:08} of post office {}: item codes must never repeat",
                other.service_indicator, other.first_serial, other.last_serial, other.office_code
            ),
        );
        return Ok(());
    }
    match same {
        Some(r) => resize_range(conn, c, r, range).await,
        None => open_range(conn, office_code, range, replaced).await,
    }
}

/// A range of any office, other than `replaced`, that shares a serial with `range`.
async fn overlapping_range(
    conn: &impl ConnectionTrait,
    range: &Range,
    replaced: &[i64],
) -> Result<Option<item_code_range::Model>, DbErr> {
    let mut overlapping = item_code_range::Entity::find()
        .filter(item_code_range::Column::ServiceIndicator.eq(range.indicator.as_str()))
        .filter(item_code_range::Column::FirstSerial.lte(range.last))
        .filter(item_code_range::Column::LastSerial.gte(range.first));
    if !replaced.is_empty() {
        overlapping = overlapping.filter(item_code_range::Column::Id.is_not_in(replaced.to_vec()));
    }
    overlapping.one(conn).await
}

/// Moves the end of the office's range `r`, never below a serial it has issued.
async fn resize_range(
    conn: &impl ConnectionTrait,
    c: &mut Checker,
    r: &item_code_range::Model,
    range: &Range,
) -> Result<(), DbErr> {
    if range.last < r.next_serial - 1 {
        c.fail(
            "item_code_range.last_serial",
            format!(
                "serials up to {:08} of this range are already issued",
                r.next_serial - 1
            ),
        );
        return Ok(());
    }
    if range.last != r.last_serial {
        item_code_range::ActiveModel {
            id: sea_orm::ActiveValue::Unchanged(r.id),
            last_serial: Set(range.last),
            ..Default::default()
        }
        .update(conn)
        .await?;
    }
    Ok(())
}

/// Makes `range` the office's open range: its unused ranges (`replaced`) go, its used ones close.
async fn open_range(
    conn: &impl ConnectionTrait,
    office_code: &str,
    range: &Range,
    replaced: Vec<i64>,
) -> Result<(), DbErr> {
    if !replaced.is_empty() {
        item_code_range::Entity::delete_many()
            .filter(item_code_range::Column::Id.is_in(replaced))
            .exec(conn)
            .await?;
    }
    // Close the used ranges still open: their serials stay reserved, none is issued again.
    item_code_range::Entity::update_many()
        .col_expr(
            item_code_range::Column::NextSerial,
            Expr::col(item_code_range::Column::LastSerial).add(1),
        )
        .filter(item_code_range::Column::OfficeCode.eq(office_code))
        .filter(
            Expr::col(item_code_range::Column::NextSerial)
                .lte(Expr::col(item_code_range::Column::LastSerial)),
        )
        .exec(conn)
        .await?;
    item_code_range::ActiveModel {
        office_code: Set(office_code.to_owned()),
        service_indicator: Set(range.indicator.clone()),
        first_serial: Set(range.first),
        last_serial: Set(range.last),
        next_serial: Set(range.first),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Creates or replaces a post office by code, and with `item_code_range` sets the serials it
/// allocates item codes from (admin key only).
#[tracing::instrument(skip_all)]
pub async fn put_office(
    store: &Store,
    actor: &Actor,
    request: &OfficeRequest,
) -> Result<Written<OfficeView>, OpError> {
    let key = admin(actor)?;
    let (code, active, range) = check_office(request)?;
    let now = crate::clock::now();
    let txn = store.begin().await?;
    let existing = for_update(&txn, post_office::Entity::find_by_id(code.clone()))
        .one(&txn)
        .await?;
    let before = match existing.clone() {
        Some(office) => Some(office_view(&txn, office).await?),
        None => None,
    };
    let active = post_office::ActiveModel {
        created_at: Set(existing.as_ref().map_or(now, |e| e.created_at)),
        updated_at: Set(now),
        ..active
    };
    let office = if existing.is_some() {
        active.update(&txn).await?
    } else {
        active.insert(&txn).await?
    };
    if let Some(range) = &range {
        let mut c = Checker::new();
        set_office_range(&txn, &mut c, &code, range).await?;
        c.finish().map_err(OpError::Validation)?;
    }
    let saved = office_view(&txn, office).await?;
    commit_put(
        store,
        txn,
        key,
        Subject::Office,
        &code,
        before.as_ref(),
        saved,
    )
    .await
}

/// The office's code, its row as checked (all but its timestamps), and the serials it is to allocate
/// item codes from, if given.
fn check_office(
    request: &OfficeRequest,
) -> Result<(String, post_office::ActiveModel, Option<Range>), OpError> {
    let mut c = Checker::new();
    let code = code_field(
        &mut c,
        "code",
        request.code.as_deref(),
        6,
        check_office_code,
    );
    let place = place_fields(
        &mut c,
        request.name.as_deref(),
        request.province_code.as_deref(),
        request.ward_code.as_deref(),
        request.address.as_deref(),
    );
    let range = request
        .item_code_range
        .as_ref()
        .and_then(|r| range_fields(&mut c, r));
    c.finish().map_err(OpError::Validation)?;
    let (Some(code), Some(name), Some(province_code), Some(ward_code), Some(address)) = (
        code,
        place.name,
        place.province_code,
        place.ward_code,
        place.address,
    ) else {
        return Err(OpError::Validation(vec![]));
    };
    let active = post_office::ActiveModel {
        code: Set(code.clone()),
        name: Set(name),
        province_code: Set(province_code),
        ward_code: Set(ward_code),
        address: Set(address),
        ..Default::default()
    };
    Ok((code, active, range))
}

/// Every post office with its serial ranges, by code (admin key only).
pub async fn list_offices(
    conn: &impl ConnectionTrait,
    actor: &Actor,
) -> Result<Vec<OfficeView>, OpError> {
    admin(actor)?;
    let offices = super::reference::list_offices(conn).await?;
    let mut ranges: BTreeMap<String, Vec<RangeView>> = BTreeMap::new();
    for r in item_code_range::Entity::find()
        .order_by_asc(item_code_range::Column::Id)
        .all(conn)
        .await?
    {
        ranges
            .entry(r.office_code.clone())
            .or_default()
            .push(r.into());
    }
    Ok(offices
        .into_iter()
        .map(|o| OfficeView {
            item_code_ranges: ranges.remove(&o.code).unwrap_or_default(),
            code: o.code,
            name: o.name,
            province_code: o.province_code,
            ward_code: o.ward_code,
            address: o.address,
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Tariffs.
// ---------------------------------------------------------------------------------------------

/// Sets the postage of one route class (admin key only).
#[tracing::instrument(skip_all)]
pub async fn put_tariff(
    store: &Store,
    actor: &Actor,
    request: &TariffRequest,
) -> Result<Written<TariffView>, OpError> {
    let key = admin(actor)?;
    let mut c = Checker::new();
    let classes = spellings(RouteClass::ALL, RouteClass::as_str);
    let route_class: Option<RouteClass> =
        c.required_enum("route_class", request.route_class.as_deref(), &classes);
    let postage_vnd = vnd_field(&mut c, "postage_vnd", request.postage_vnd);
    c.finish().map_err(OpError::Validation)?;
    let (Some(route_class), Some(postage_vnd)) = (route_class, postage_vnd) else {
        return Err(OpError::Validation(vec![]));
    };

    let txn = store.begin().await?;
    let before = for_update(&txn, tariff::Entity::find_by_id(route_class))
        .one(&txn)
        .await?
        .map(|t| TariffView {
            route_class: t.route_class,
            postage_vnd: t.postage_vnd,
        });
    let active = tariff::ActiveModel {
        route_class: Set(route_class),
        postage_vnd: Set(postage_vnd),
        updated_at: Set(crate::clock::now()),
    };
    if before.is_some() {
        active.update(&txn).await?;
    } else {
        active.insert(&txn).await?;
    }
    let saved = TariffView {
        route_class,
        postage_vnd,
    };
    let change = if before.is_some() {
        Change::Replace
    } else {
        Change::Create
    };
    record_audit(
        &txn,
        key,
        Subject::Tariff,
        route_class.as_str(),
        change,
        before.as_ref(),
        Some(&saved),
    )
    .await?;
    commit(store, txn).await?;
    Ok(Written {
        record: saved,
        created: change == Change::Create,
    })
}

/// Every tariff, in route-class order (admin key only).
pub async fn list_tariffs(
    conn: &impl ConnectionTrait,
    actor: &Actor,
) -> Result<Vec<TariffView>, OpError> {
    admin(actor)?;
    let mut tariffs: Vec<TariffView> = tariff::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|t| TariffView {
            route_class: t.route_class,
            postage_vnd: t.postage_vnd,
        })
        .collect();
    tariffs.sort_by_key(|t| RouteClass::ALL.iter().position(|c| *c == t.route_class));
    Ok(tariffs)
}

// ---------------------------------------------------------------------------------------------
// Holidays.
// ---------------------------------------------------------------------------------------------

/// Enters (or renames) a public holiday (admin key only).
#[tracing::instrument(skip_all)]
pub async fn put_holiday(
    store: &Store,
    actor: &Actor,
    request: &HolidayRequest,
) -> Result<Written<HolidayView>, OpError> {
    let key = admin(actor)?;
    let (date, name) = check_calendar_day(request, false)?;

    let txn = store.begin().await?;
    let calendar_before = super::reference::working_calendar(&txn).await?;
    let before = for_update(&txn, holiday::Entity::find_by_id(date))
        .one(&txn)
        .await?
        .map(HolidayView::from);
    let active = holiday::ActiveModel {
        date: Set(date),
        name: Set(name),
    };
    let saved: HolidayView = if before.is_some() {
        active.update(&txn).await?.into()
    } else {
        active.insert(&txn).await?.into()
    };
    let change = if before.is_some() {
        Change::Replace
    } else {
        Change::Create
    };
    recompute_due_dates(&txn, actor, &calendar_before).await?;
    record_audit(
        &txn,
        key,
        Subject::Holiday,
        &date.to_string(),
        change,
        before.as_ref(),
        Some(&saved),
    )
    .await?;
    commit(store, txn).await?;
    Ok(Written {
        record: saved,
        created: change == Change::Create,
    })
}

/// The date and name of a calendar entry: a holiday, or with `weekend_only` a make-up working day,
/// which must fall on a Saturday or Sunday.
fn check_calendar_day(
    request: &HolidayRequest,
    weekend_only: bool,
) -> Result<(NaiveDate, String), OpError> {
    let mut c = Checker::new();
    let date = c
        .required_text("date", request.date.as_deref(), 10)
        .and_then(|d| match parse_holiday_date(&d) {
            Ok(date) if weekend_only && !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) => {
                c.fail(
                    "date",
                    format!(
                        "{date} is a {}, a working day anyway: a make-up working day is a Saturday or Sunday",
                        date.weekday()
                    ),
                );
                None
            }
            Ok(date) => Some(date),
            Err(msg) => {
                c.fail("date", msg);
                None
            }
        });
    let name = c.required_text("name", request.name.as_deref(), MAX_NAME);
    c.finish().map_err(OpError::Validation)?;
    match (date, name) {
        (Some(date), Some(name)) => Ok((date, name)),
        _ => Err(OpError::Validation(vec![])),
    }
}

/// Recounts the deadlines still running with the calendar as the caller's transaction now has it.
async fn recompute_due_dates(
    txn: &sea_orm::DatabaseTransaction,
    actor: &Actor,
    before: &crate::calendar::WorkingCalendar,
) -> Result<usize, OpError> {
    let after = super::reference::working_calendar(txn).await?;
    super::due_dates::recompute(txn, actor, before, &after, crate::clock::now()).await
}

/// Removes a holiday entered by mistake (admin key only); the deadlines still running are counted
/// again without it.
#[tracing::instrument(skip_all, fields(holiday.date = %date))]
pub async fn delete_holiday(
    store: &Store,
    actor: &Actor,
    date: NaiveDate,
) -> Result<HolidayView, OpError> {
    let key = admin(actor)?;
    let txn = store.begin().await?;
    let calendar_before = super::reference::working_calendar(&txn).await?;
    let before = for_update(&txn, holiday::Entity::find_by_id(date))
        .one(&txn)
        .await?
        .map(HolidayView::from)
        .ok_or(OpError::NotFound("holiday"))?;
    holiday::Entity::delete_by_id(date).exec(&txn).await?;
    recompute_due_dates(&txn, actor, &calendar_before).await?;
    record_audit(
        &txn,
        key,
        Subject::Holiday,
        &date.to_string(),
        Change::Delete,
        Some(&before),
        None::<&HolidayView>,
    )
    .await?;
    commit(store, txn).await?;
    Ok(before)
}

/// Enters (or renames) a make-up working day: a Saturday or Sunday worked in exchange for a weekday
/// off (admin key only). The deadlines still running are counted again with it.
#[tracing::instrument(skip_all)]
pub async fn put_working_day(
    store: &Store,
    actor: &Actor,
    request: &HolidayRequest,
) -> Result<Written<HolidayView>, OpError> {
    let key = admin(actor)?;
    let (date, name) = check_calendar_day(request, true)?;

    let txn = store.begin().await?;
    let calendar_before = super::reference::working_calendar(&txn).await?;
    let before = for_update(&txn, working_day::Entity::find_by_id(date))
        .one(&txn)
        .await?
        .map(|w| HolidayView {
            date: w.date,
            name: w.name,
        });
    let active = working_day::ActiveModel {
        date: Set(date),
        name: Set(name),
    };
    let saved = if before.is_some() {
        active.update(&txn).await?
    } else {
        active.insert(&txn).await?
    };
    let saved = HolidayView {
        date: saved.date,
        name: saved.name,
    };
    let change = if before.is_some() {
        Change::Replace
    } else {
        Change::Create
    };
    recompute_due_dates(&txn, actor, &calendar_before).await?;
    record_audit(
        &txn,
        key,
        Subject::WorkingDay,
        &date.to_string(),
        change,
        before.as_ref(),
        Some(&saved),
    )
    .await?;
    commit(store, txn).await?;
    Ok(Written {
        record: saved,
        created: change == Change::Create,
    })
}

/// Removes a make-up working day (admin key only); the deadlines still running are counted again
/// without it.
#[tracing::instrument(skip_all, fields(working_day.date = %date))]
pub async fn delete_working_day(
    store: &Store,
    actor: &Actor,
    date: NaiveDate,
) -> Result<HolidayView, OpError> {
    let key = admin(actor)?;
    let txn = store.begin().await?;
    let calendar_before = super::reference::working_calendar(&txn).await?;
    let before = for_update(&txn, working_day::Entity::find_by_id(date))
        .one(&txn)
        .await?
        .map(|w| HolidayView {
            date: w.date,
            name: w.name,
        })
        .ok_or(OpError::NotFound("working day"))?;
    working_day::Entity::delete_by_id(date).exec(&txn).await?;
    recompute_due_dates(&txn, actor, &calendar_before).await?;
    record_audit(
        &txn,
        key,
        Subject::WorkingDay,
        &date.to_string(),
        Change::Delete,
        Some(&before),
        None::<&HolidayView>,
    )
    .await?;
    commit(store, txn).await?;
    Ok(before)
}

/// Every make-up working day by date (admin key only).
pub async fn list_working_days(
    conn: &impl ConnectionTrait,
    actor: &Actor,
) -> Result<Vec<HolidayView>, OpError> {
    admin(actor)?;
    Ok(working_day::Entity::find()
        .order_by_asc(working_day::Column::Date)
        .all(conn)
        .await?
        .into_iter()
        .map(|w| HolidayView {
            date: w.date,
            name: w.name,
        })
        .collect())
}

/// Every holiday by date; only those of `year` when given (admin key only).
pub async fn list_holidays(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    year: Option<i32>,
) -> Result<Vec<HolidayView>, OpError> {
    admin(actor)?;
    let mut query = holiday::Entity::find().order_by_asc(holiday::Column::Date);
    if let Some(year) = year {
        // No holiday lies outside HOLIDAY_YEARS; and PostgreSQL refuses dates before 4713 BC.
        if !HOLIDAY_YEARS.contains(&year) {
            return Ok(vec![]);
        }
        let (Some(first), Some(last)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) else {
            return Ok(vec![]);
        };
        query = query.filter(holiday::Column::Date.between(first, last));
    }
    Ok(query.all(conn).await?.into_iter().map(Into::into).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agency_codes_are_capitals_digits_and_separators() {
        for ok in ["UBND-P-HOANKIEM", "SO-TP-HCM", "000.00.01.H29", "A1_B"] {
            assert_eq!(check_agency_code(ok), Ok(()), "{ok}");
        }
        for bad in ["A", "ubnd-p", "UBND P", "-UBND", "SỞ-TP", "UBND/P"] {
            assert!(check_agency_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn agency_identifiers_have_the_national_shape() {
        assert_eq!(check_agency_identifier("000.00.01.H29"), Ok(()));
        assert_eq!(check_agency_identifier("G01.05.10.H01"), Ok(()));
        for bad in [
            "000.00.01",
            "000.00.01.H2",
            "00.000.01.H29",
            "000.00.01.h29",
            "000-00-01-H29",
        ] {
            assert!(check_agency_identifier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn procedure_and_office_codes_follow_their_registers() {
        assert_eq!(check_procedure_code("1.001193"), Ok(()));
        assert_eq!(check_procedure_code("2.001263"), Ok(()));
        for bad in [
            "1001193",
            "1.00119",
            "1.0011930",
            "A.001193",
            "1,001193",
            "12.00119",
        ] {
            assert!(check_procedure_code(bad).is_err(), "{bad}");
        }
        assert_eq!(check_office_code("100000"), Ok(()));
        for bad in ["10000", "1000000", "10000A"] {
            assert!(check_office_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn holiday_dates_are_real_days_in_a_sane_year() {
        assert_eq!(
            parse_holiday_date("2027-02-05"),
            Ok(NaiveDate::from_ymd_opt(2027, 2, 5).expect("date"))
        );
        for bad in [
            "2027-02-30",
            "05/02/2027",
            "2027-2-5",
            "1999-12-31",
            "2101-01-01",
            "",
        ] {
            assert!(parse_holiday_date(bad).is_err(), "{bad}");
        }
    }
}
