//! Administrators' writes of reference data (admin key only; API.md "Reference data"): agencies,
//! procedures with their documents and agencies, post offices with their S10 serial range, tariffs and
//! holidays. `POST` creates or replaces one record by its code (201 when created, 200 when replaced),
//! `GET` of the same path lists them. Every write is audited and applies at once. Also the carrier's
//! records that could not be read, kept for administrators to see (`GET /carrier/unreadable`).

use domain::ops::access::Actor;
use domain::ops::admin::{
    AgencyRequest, AgencyView, DocumentRequest, HolidayRequest, HolidayView, OfficeRequest,
    OfficeView, ProcedureRequest, ProcedureView, RangeRequest, TariffRequest, TariffView, Written,
};
use entity::enums::Role;
use poem::web::Data;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::ApiTags;
use crate::auth::Caller;
use crate::checked::Required;
use crate::error::ApiError;
use crate::state::AppState;

/// An agency to create or replace (by `code`).
#[derive(Debug, Object)]
pub struct AdminAgencyIn {
    /// Capital letters, digits, `-`, `.`, `_`, e.g. `UBND-P-HOANKIEM`.
    #[oai(nullable)]
    pub code: Option<String>,
    #[oai(nullable)]
    pub name: Option<String>,
    /// The official identifier (mã định danh), e.g. `000.00.01.H29`.
    #[oai(nullable)]
    pub identifier: Option<String>,
    /// 2 digits, e.g. `01`.
    #[oai(nullable)]
    pub province_code: Option<String>,
    /// 5 digits, e.g. `00070`.
    #[oai(nullable)]
    pub ward_code: Option<String>,
    #[oai(nullable)]
    pub address: Option<String>,
    /// Where the agency is told about its dossiers.
    #[oai(nullable)]
    pub email: Option<String>,
    /// The unit code (`madonvi`) at the national public-service portal; the agency's code when absent.
    pub portal_unit_code: Option<String>,
}

/// An agency as stored.
#[derive(Debug, Object)]
pub struct AdminAgencyOut {
    pub code: String,
    pub name: String,
    #[oai(nullable)]
    pub identifier: Option<String>,
    pub province_code: String,
    pub province_name: String,
    pub ward_code: String,
    pub ward_name: String,
    pub address: String,
    #[oai(nullable)]
    pub email: Option<String>,
    /// The unit code the national portal knows the agency by.
    pub portal_unit_code: String,
}

impl From<AgencyView> for AdminAgencyOut {
    fn from(a: AgencyView) -> Self {
        Self {
            code: a.code,
            name: a.name,
            identifier: a.identifier,
            province_name: super::reference::province_name(&a.province_code),
            ward_name: super::reference::ward_name(&a.ward_code),
            province_code: a.province_code,
            ward_code: a.ward_code,
            address: a.address,
            email: a.email,
            portal_unit_code: a.portal_unit_code,
        }
    }
}

/// A document on a procedure's published list.
#[derive(Debug, Object)]
pub struct AdminDocumentIn {
    #[oai(nullable)]
    pub name: Option<String>,
    /// Whether the original must be handed in (otherwise a copy does).
    #[oai(nullable)]
    pub original_required: Option<bool>,
    /// The code requests may name it by (letters, digits, `.`, `-`, `_`); `<procedure>-<nn>` by
    /// position when absent.
    #[oai(nullable)]
    pub code: Option<String>,
    /// Whether every pickup request must include it; `false` when absent.
    #[oai(nullable)]
    pub required: Option<bool>,
}

/// A procedure to create or replace (by `code`); its documents and agencies are replaced with it.
#[derive(Debug, Object)]
pub struct AdminProcedureIn {
    /// The national code, a digit, a dot and 6 digits, e.g. `1.001193`.
    #[oai(nullable)]
    pub code: Option<String>,
    #[oai(nullable)]
    pub name: Option<String>,
    /// Integer VND, 0 when free.
    #[oai(nullable)]
    pub admin_fee_vnd: Option<i64>,
    /// Working days the agency has to rule, at least 1.
    #[oai(nullable)]
    pub processing_days: Option<i64>,
    /// The published document list, in order.
    #[oai(nullable)]
    pub documents: Option<Vec<AdminDocumentIn>>,
    /// The agencies that handle the procedure (may be empty).
    #[oai(nullable)]
    pub agency_codes: Option<Vec<String>>,
}

/// A document on a procedure's list.
#[derive(Debug, Object)]
pub struct AdminDocumentOut {
    pub name: String,
    pub original_required: bool,
    pub code: String,
    pub required: bool,
}

/// A procedure as stored.
#[derive(Debug, Object)]
pub struct AdminProcedureOut {
    pub code: String,
    pub name: String,
    pub admin_fee_vnd: i64,
    pub processing_days: i32,
    pub documents: Vec<AdminDocumentOut>,
    /// Sorted by code.
    pub agency_codes: Vec<String>,
}

impl From<ProcedureView> for AdminProcedureOut {
    fn from(p: ProcedureView) -> Self {
        Self {
            code: p.code,
            name: p.name,
            admin_fee_vnd: p.admin_fee_vnd,
            processing_days: p.processing_days,
            documents: p
                .documents
                .into_iter()
                .map(|d| AdminDocumentOut {
                    name: d.name,
                    original_required: d.original_required,
                    code: d.code,
                    required: d.required,
                })
                .collect(),
            agency_codes: p.agency_codes,
        }
    }
}

/// The S10 serials a post office allocates item codes from.
#[derive(Debug, Object)]
pub struct AdminRangeIn {
    /// 2 capital letters, e.g. `EB`.
    #[oai(nullable)]
    pub service_indicator: Option<String>,
    /// 0 to 99999999.
    #[oai(nullable)]
    pub first_serial: Option<i64>,
    /// At least `first_serial`, at most 99999999.
    #[oai(nullable)]
    pub last_serial: Option<i64>,
}

/// A post office to create or replace (by `code`).
#[derive(Debug, Object)]
pub struct AdminOfficeIn {
    /// 6 digits, e.g. `100000`.
    #[oai(nullable)]
    pub code: Option<String>,
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(nullable)]
    pub province_code: Option<String>,
    #[oai(nullable)]
    pub ward_code: Option<String>,
    #[oai(nullable)]
    pub address: Option<String>,
    /// The range to allocate from: the same range (indicator and first serial) is resized; another
    /// one replaces the office's current range, whose issued serials are never reused.
    #[oai(nullable)]
    pub item_code_range: Option<AdminRangeIn>,
}

/// An S10 serial range; `next_serial` past `last_serial` means spent or closed.
#[derive(Debug, Object)]
pub struct AdminRangeOut {
    pub service_indicator: String,
    pub first_serial: i64,
    pub last_serial: i64,
    pub next_serial: i64,
}

/// A post office as stored, with its serial ranges (oldest first).
#[derive(Debug, Object)]
pub struct AdminOfficeOut {
    pub code: String,
    pub name: String,
    pub province_code: String,
    pub province_name: String,
    pub ward_code: String,
    pub ward_name: String,
    pub address: String,
    pub item_code_ranges: Vec<AdminRangeOut>,
}

impl From<OfficeView> for AdminOfficeOut {
    fn from(o: OfficeView) -> Self {
        Self {
            code: o.code,
            name: o.name,
            province_name: super::reference::province_name(&o.province_code),
            ward_name: super::reference::ward_name(&o.ward_code),
            province_code: o.province_code,
            ward_code: o.ward_code,
            address: o.address,
            item_code_ranges: o
                .item_code_ranges
                .into_iter()
                .map(|r| AdminRangeOut {
                    service_indicator: r.service_indicator,
                    first_serial: r.first_serial,
                    last_serial: r.last_serial,
                    next_serial: r.next_serial,
                })
                .collect(),
        }
    }
}

/// The postage of one route class.
#[derive(Debug, Object)]
pub struct AdminTariffIn {
    /// `local` | `intra_province` | `inter_province_major` | `inter_province`.
    #[oai(validator(pattern = r"^(local|intra_province|inter_province_major|inter_province)$"))]
    pub route_class: Required<String>,
    /// Integer VND per leg, 0 to 1 000 000 000.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    pub postage_vnd: Required<i64>,
}

/// A tariff as stored.
#[derive(Debug, Object)]
pub struct AdminTariffOut {
    pub route_class: String,
    pub postage_vnd: i64,
}

impl From<TariffView> for AdminTariffOut {
    fn from(t: TariffView) -> Self {
        Self {
            route_class: t.route_class.as_str().to_owned(),
            postage_vnd: t.postage_vnd,
        }
    }
}

/// A public holiday (lunar-calendar holidays are entered for each year).
#[derive(Debug, Object)]
pub struct AdminHolidayIn {
    /// `YYYY-MM-DD`, a real day in the years 2000 to 2100. (The document leaves out 29 February,
    /// which the service takes in leap years.)
    #[oai(validator(
        pattern = r"^\s*(20[0-9]{2}|2100)-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)\s*$"
    ))]
    pub date: Required<String>,
    /// Up to 200 characters, not blank, no control characters.
    #[oai(validator(
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    ))]
    pub name: Required<String>,
}

/// A holiday's or working day's date in a path: `YYYY-MM-DD`, a real day in the years 2000 to 2100
/// (`domain::ops::admin::HOLIDAY_YEARS`); anything else is a 400.
#[derive(Debug, Clone, Copy)]
pub struct HolidayDate(pub chrono::NaiveDate);

impl poem_openapi::types::Type for HolidayDate {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        "string(date)".into()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        let mut schema = poem_openapi::registry::MetaSchema::new_with_format("string", "date");
        schema.pattern = Some(r"^(20[0-9]{2}|2100)-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)$".to_owned());
        poem_openapi::registry::MetaSchemaRef::Inline(Box::new(schema))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl poem_openapi::types::ParseFromParameter for HolidayDate {
    fn parse_from_parameter(value: &str) -> poem_openapi::types::ParseResult<Self> {
        domain::ops::admin::parse_holiday_date(value)
            .map(HolidayDate)
            .map_err(|msg| poem_openapi::types::ParseError::custom(format!("date {msg}")))
    }
}

/// A holiday as stored.
#[derive(Debug, Object)]
pub struct AdminHolidayOut {
    pub date: chrono::NaiveDate,
    pub name: String,
}

impl From<HolidayView> for AdminHolidayOut {
    fn from(h: HolidayView) -> Self {
        Self {
            date: h.date,
            name: h.name,
        }
    }
}

/// The answer to a create-or-replace.
#[derive(ApiResponse)]
pub enum WriteResponse<T: ParseFromJSON + ToJSON + Send + Sync> {
    /// Created.
    #[oai(status = 201)]
    Created(Json<T>),
    /// Replaced.
    #[oai(status = 200)]
    Replaced(Json<T>),
}

impl<T: ParseFromJSON + ToJSON + Send + Sync> WriteResponse<T> {
    fn from_written<V: Into<T>>(written: Written<V>) -> Self {
        if written.created {
            Self::Created(Json(written.record.into()))
        } else {
            Self::Replaced(Json(written.record.into()))
        }
    }
}

/// A record of the carrier's that could not be read: kept, and passed by the feed's cursor.
#[derive(Debug, Object)]
pub struct UnreadableCarrierRecordOut {
    pub id: i64,
    /// The carrier's id of the record, when that much could be read.
    #[oai(nullable)]
    pub carrier_event_id: Option<i64>,
    /// Why it could not be read.
    pub reason: String,
    /// The record's JSON as received, cut to 8 KiB (`raw_truncated`). It may hold a postman's notes.
    pub raw: String,
    pub raw_truncated: bool,
    /// `poll` (the feed).
    pub received_via: String,
    pub received_at: chrono::DateTime<chrono::FixedOffset>,
}

/// The carrier's unreadable records, newest first.
#[derive(Debug, Object)]
pub struct UnreadableCarrierRecordsOut {
    pub records: Vec<UnreadableCarrierRecordOut>,
}

/// The caller, when it holds an admin key.
fn require_admin(caller: &Caller) -> Result<&Actor, ApiError> {
    match &caller.0 {
        Actor::Public => Err(ApiError::unauthorized(
            "send an admin key: `Authorization: Bearer dk_…`",
        )),
        actor if actor.staff_with_role(Role::Admin).is_some() => Ok(actor),
        _ => Err(ApiError::forbidden("this needs an admin key")),
    }
}

pub struct AdminApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminApi {
    /// Create or replace an agency.
    #[oai(path = "/agencies", method = "post")]
    async fn put_agency(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<AdminAgencyIn>,
    ) -> Result<WriteResponse<AdminAgencyOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let b = body.0;
        let request = AgencyRequest {
            code: b.code,
            name: b.name,
            identifier: b.identifier,
            province_code: b.province_code,
            ward_code: b.ward_code,
            address: b.address,
            email: b.email,
            portal_unit_code: b.portal_unit_code,
        };
        let written = domain::ops::admin::put_agency(&state.store, actor, &request).await?;
        Ok(WriteResponse::from_written(written))
    }

    /// The carrier's tracking records that could not be read (an `eventTime` that is no time, a
    /// `statusCode` that is no number, …), newest first, at most 500. Each is kept once, with its raw
    /// JSON (cut to 8 KiB) and the reason, and the feed's cursor moves past it: nothing the carrier
    /// sends is lost, and none stops the feed. Take them up with the carrier; a corrected copy under
    /// the same id is stored as a tracking event. Admin key only: the raw JSON may hold personal data.
    #[oai(path = "/carrier/unreadable", method = "get")]
    async fn unreadable_carrier_records(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<Json<UnreadableCarrierRecordsOut>, ApiError> {
        require_admin(&caller)?;
        let records = domain::ops::carrier_ingest::list_unreadable(
            &state.store.read,
            domain::ops::carrier_ingest::MAX_UNREADABLE_LISTED,
        )
        .await?;
        Ok(Json(UnreadableCarrierRecordsOut {
            records: records
                .into_iter()
                .map(|r| UnreadableCarrierRecordOut {
                    id: r.id,
                    carrier_event_id: r.carrier_event_id,
                    reason: r.reason,
                    raw: r.raw,
                    raw_truncated: r.raw_truncated,
                    received_via: r.received_via,
                    received_at: super::local_time(r.received_at),
                })
                .collect(),
        }))
    }

    /// Every agency, by code.
    #[oai(path = "/agencies", method = "get")]
    async fn agencies(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<Json<Vec<AdminAgencyOut>>, ApiError> {
        let actor = require_admin(&caller)?;
        let list = domain::ops::admin::list_agencies(&state.store.read, actor).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Create or replace a procedure with its document list and the agencies that handle it.
    #[oai(path = "/procedures", method = "post")]
    async fn put_procedure(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<AdminProcedureIn>,
    ) -> Result<WriteResponse<AdminProcedureOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let b = body.0;
        let request = ProcedureRequest {
            code: b.code,
            name: b.name,
            admin_fee_vnd: b.admin_fee_vnd,
            processing_days: b.processing_days,
            documents: b.documents.map(|docs| {
                docs.into_iter()
                    .map(|d| DocumentRequest {
                        name: d.name,
                        original_required: d.original_required,
                        code: d.code,
                        required: d.required,
                    })
                    .collect()
            }),
            agency_codes: b.agency_codes,
        };
        let written = domain::ops::admin::put_procedure(&state.store, actor, &request).await?;
        Ok(WriteResponse::from_written(written))
    }

    /// Every procedure with its documents and agencies, by code.
    #[oai(path = "/procedures", method = "get")]
    async fn procedures(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<Json<Vec<AdminProcedureOut>>, ApiError> {
        let actor = require_admin(&caller)?;
        let list = domain::ops::admin::list_procedures(&state.store.read, actor).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Create or replace a post office, and set the S10 serial range it allocates item codes from.
    #[oai(path = "/offices", method = "post")]
    async fn put_office(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<AdminOfficeIn>,
    ) -> Result<WriteResponse<AdminOfficeOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let b = body.0;
        let request = OfficeRequest {
            code: b.code,
            name: b.name,
            province_code: b.province_code,
            ward_code: b.ward_code,
            address: b.address,
            item_code_range: b.item_code_range.map(|r| RangeRequest {
                service_indicator: r.service_indicator,
                first_serial: r.first_serial,
                last_serial: r.last_serial,
            }),
        };
        let written = domain::ops::admin::put_office(&state.store, actor, &request).await?;
        Ok(WriteResponse::from_written(written))
    }

    /// Every post office with its serial ranges, by code.
    #[oai(path = "/offices", method = "get")]
    async fn offices(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<Json<Vec<AdminOfficeOut>>, ApiError> {
        let actor = require_admin(&caller)?;
        let list = domain::ops::admin::list_offices(&state.store.read, actor).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Set the postage of one route class.
    #[oai(path = "/tariffs", method = "post")]
    async fn put_tariff(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<AdminTariffIn>,
    ) -> Result<WriteResponse<AdminTariffOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let request = TariffRequest {
            route_class: body.0.route_class.0,
            postage_vnd: body.0.postage_vnd.0,
        };
        let written = domain::ops::admin::put_tariff(&state.store, actor, &request).await?;
        Ok(WriteResponse::from_written(written))
    }

    /// Every tariff, by route class.
    #[oai(path = "/tariffs", method = "get")]
    async fn tariffs(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<Json<Vec<AdminTariffOut>>, ApiError> {
        let actor = require_admin(&caller)?;
        let list = domain::ops::admin::list_tariffs(&state.store.read, actor).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Enter (or rename) a public holiday; it counts as a non-working day from the next request on, and
    /// the deadlines still running are counted again with it (each moved date is on its timeline).
    #[oai(path = "/holidays", method = "post")]
    async fn put_holiday(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<AdminHolidayIn>,
    ) -> Result<WriteResponse<AdminHolidayOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let request = HolidayRequest {
            date: body.0.date.0,
            name: body.0.name.0,
        };
        let written = domain::ops::admin::put_holiday(&state.store, actor, &request).await?;
        Ok(WriteResponse::from_written(written))
    }

    /// Every holiday by date; `?year=2027` for one year's.
    #[oai(path = "/holidays", method = "get")]
    async fn holidays(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        year: Query<Option<i32>>,
    ) -> Result<Json<Vec<AdminHolidayOut>>, ApiError> {
        let actor = require_admin(&caller)?;
        let list = domain::ops::admin::list_holidays(&state.store.read, actor, year.0).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Remove a holiday entered by mistake; answers the removed entry. Deadlines still running are
    /// counted again without it; those already past stay.
    #[oai(path = "/holidays/:date", method = "delete")]
    async fn delete_holiday(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        date: Path<HolidayDate>,
    ) -> Result<Json<AdminHolidayOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let date = date.0.0;
        let removed = domain::ops::admin::delete_holiday(&state.store, actor, date).await?;
        Ok(Json(removed.into()))
    }

    /// Enter (or rename) a make-up working day: a Saturday or Sunday worked in exchange for a weekday
    /// off (a weekday is refused). The deadlines still running are counted again with it.
    #[oai(path = "/working-days", method = "post")]
    async fn put_working_day(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<AdminHolidayIn>,
    ) -> Result<WriteResponse<AdminHolidayOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let request = HolidayRequest {
            date: body.0.date.0,
            name: body.0.name.0,
        };
        let written = domain::ops::admin::put_working_day(&state.store, actor, &request).await?;
        Ok(WriteResponse::from_written(written))
    }

    /// Every make-up working day by date.
    #[oai(path = "/working-days", method = "get")]
    async fn working_days(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<Json<Vec<AdminHolidayOut>>, ApiError> {
        let actor = require_admin(&caller)?;
        let list = domain::ops::admin::list_working_days(&state.store.read, actor).await?;
        Ok(Json(list.into_iter().map(Into::into).collect()))
    }

    /// Remove a make-up working day; answers the removed entry. Deadlines still running are counted
    /// again without it.
    #[oai(path = "/working-days/:date", method = "delete")]
    async fn delete_working_day(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        date: Path<HolidayDate>,
    ) -> Result<Json<AdminHolidayOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let date = date.0.0;
        let removed = domain::ops::admin::delete_working_day(&state.store, actor, date).await?;
        Ok(Json(removed.into()))
    }
}
