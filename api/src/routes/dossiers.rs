//! Dossiers: a citizen's pickup request, the whole dossier for those entitled, the masked public
//! tracking view, and cancellation before pickup.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use domain::ops::dossier_record::DossierRecord;
use domain::ops::dossiers::{
    AddressRequest, ApplicantRequest, CreateOutcome, CreatedDossier, DocumentRequest,
    DossierRequest,
};
use domain::ops::idempotency::IdempotencyClaim;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path},
    payload::Json,
};

use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::checked::{Optional, Required};
use crate::direct_json::DirectJson;
use crate::error::ApiError;
use crate::optional_json::OptionalJson;
use crate::state::AppState;
use crate::views::{TrackOut, purpose_of, track_out};

/// The applicant, as on the slip.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ApplicantIn {
    /// Up to 100 characters, not blank, no control characters.
    #[oai(validator(
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    ))]
    pub full_name: Required<String>,
    /// A Vietnamese mobile or landline: `0` or `+84`, then 9 or 10 digits (the first not `0`),
    /// with spaces, dots or dashes between digits allowed. Stored as `0…`.
    #[oai(validator(pattern = r"^(\+8[ .-]*4|8[ .-]*4|0)[ .-]*[1-9]([ .-]*[0-9]){8,9}$"))]
    pub phone: Required<String>,
    /// Optional; blank counts as absent. A plain ASCII address with a dotted domain (at most 64
    /// characters before the `@`).
    #[oai(validator(
        max_length = 254,
        pattern = r"^\s*$|^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$"
    ))]
    pub email: Optional<String>,
    /// A 12-digit CCCD or a 9-digit CMND.
    #[oai(validator(pattern = r"^([0-9]{9}|[0-9]{12})$"))]
    pub id_number: Required<String>,
}

/// An address: a line, a ward and a province (two-level local government since 2025). The ward
/// must lie in the province.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct AddressIn {
    /// Up to 200 characters, not blank, no control characters.
    #[oai(validator(
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    ))]
    pub line: Required<String>,
    /// 5 digits.
    #[oai(validator(pattern = r"^[0-9]{5}$"))]
    pub ward_code: Required<String>,
    /// 2 digits, e.g. `01` Hà Nội, `79` TP. Hồ Chí Minh.
    #[oai(validator(pattern = r"^[0-9]{2}$"))]
    pub province_code: Required<String>,
}

/// A document handed over.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct DocumentIn {
    /// The document's exact name on the procedure's list (or give its `code`).
    #[oai(validator(max_length = 200))]
    pub name: Optional<String>,
    /// The document's code on the procedure's list (`GET /api/v1/procedures`).
    #[oai(nullable)]
    pub code: Option<String>,
    /// Whether the original is included.
    #[oai(nullable)]
    pub original: Option<bool>,
    /// Number of copies included, 0 to 20; with no original, at least 1.
    #[oai(validator(minimum(value = "0"), maximum(value = "20")))]
    pub copies: Optional<i64>,
}

/// A pickup request (or, with an agency key and mode `return`, a dossier filed at the desk).
///
/// The document states each field's own rules; the rest depends on the reference data and on other
/// fields (the procedure must be the agency's, the documents on its list, the ward in the province,
/// a post office serving it) and is answered 422 `validation_failed` naming the field.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct CreateDossierIn {
    /// The national procedure code.
    #[oai(validator(max_length = 50))]
    pub procedure_code: Required<String>,
    #[oai(validator(max_length = 50))]
    pub agency_code: Required<String>,
    /// `send` | `return` | `send_and_return`.
    #[oai(validator(pattern = r"^(send|return|send_and_return)$"))]
    pub service_mode: Required<String>,
    pub applicant: Required<ApplicantIn>,
    /// Required for `send` and `send_and_return`.
    #[oai(nullable)]
    pub pickup_address: Option<AddressIn>,
    /// Defaults to the pickup address; required for `return`.
    #[oai(nullable)]
    pub return_address: Option<AddressIn>,
    /// At least one, at most 50.
    #[oai(validator(min_items = 1, max_items = 50))]
    pub documents: Required<Vec<DocumentIn>>,
    /// Whether the agency gives an appointment slip (doubles the delivery time).
    #[oai(nullable)]
    pub with_appointment: Option<bool>,
    /// `none` | `revolutionary` | `heroic_mother` (free) | `war_invalid` | `hero` (50%).
    #[oai(validator(pattern = r"^(none|revolutionary|heroic_mother|war_invalid|hero)$"))]
    pub fee_exemption: Optional<String>,
    /// `vi` (default) or `en`, for messages to the citizen.
    #[oai(validator(pattern = r"^(vi|en)$"))]
    pub language: Optional<String>,
}

impl From<&AddressIn> for AddressRequest {
    fn from(a: &AddressIn) -> Self {
        AddressRequest {
            line: a.line.0.clone(),
            ward_code: a.ward_code.0.clone(),
            province_code: a.province_code.0.clone(),
        }
    }
}

impl From<&CreateDossierIn> for DossierRequest {
    fn from(body: &CreateDossierIn) -> Self {
        DossierRequest {
            procedure_code: body.procedure_code.0.clone(),
            agency_code: body.agency_code.0.clone(),
            service_mode: body.service_mode.0.clone(),
            applicant: body.applicant.as_ref().map(|a| ApplicantRequest {
                full_name: a.full_name.0.clone(),
                phone: a.phone.0.clone(),
                email: a.email.0.clone(),
                id_number: a.id_number.0.clone(),
            }),
            pickup_address: body.pickup_address.as_ref().map(AddressRequest::from),
            return_address: body.return_address.as_ref().map(AddressRequest::from),
            documents: body.documents.as_ref().map(|docs| {
                docs.iter()
                    .map(|d| DocumentRequest {
                        name: d.name.0.clone(),
                        original: d.original,
                        copies: d.copies.0,
                        code: d.code.clone(),
                    })
                    .collect()
            }),
            with_appointment: body.with_appointment,
            fee_exemption: body.fee_exemption.0.clone(),
            language: body.language.0.clone(),
        }
    }
}

/// Money owed, integer VND.
#[derive(Debug, Clone, Object)]
pub struct FeesOut {
    pub postage_vnd: i64,
    pub admin_fee_vnd: i64,
    /// What the dossier's pickup collects: postage and the fee collected on the agency's behalf.
    pub total_vnd: i64,
    /// The postage of the supplements sent by post (one inbound leg each, exemptions applied),
    /// collected at their own pickups; not part of `total_vnd`.
    pub supplement_postage_vnd: i64,
}

impl From<domain::fees::Fees> for FeesOut {
    fn from(f: domain::fees::Fees) -> Self {
        FeesOut {
            postage_vnd: f.postage_vnd,
            admin_fee_vnd: f.admin_fee_vnd,
            total_vnd: f.total_vnd,
            supplement_postage_vnd: 0,
        }
    }
}

/// A registered dossier. Keep `access_token`: it opens the dossier and is shown only here.
#[derive(Debug, Clone, Object)]
pub struct DossierCreatedOut {
    pub code: String,
    pub status: String,
    pub service_mode: String,
    pub access_token: String,
    /// The public tracking page.
    pub tracking_url: String,
    pub route_class: String,
    pub fees: FeesOut,
    pub created_at: DateTime<FixedOffset>,
}

#[derive(ApiResponse)]
enum CreateResponse {
    /// Registered (or the first answer to this `Idempotency-Key`).
    #[oai(status = 201)]
    Created(Json<DossierCreatedOut>),
}

/// The applicant's personal data (shown to the citizen and entitled staff only). A postal key never
/// receives the e-mail (null) or the identity number (left out).
#[derive(Debug, Clone, Object)]
pub struct ApplicantOut {
    pub full_name: String,
    pub phone: String,
    #[oai(nullable)]
    pub email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub id_number: Option<String>,
}

/// An address.
#[derive(Debug, Clone, Object)]
pub struct AddressOut {
    pub line: String,
    pub ward_code: String,
    /// The ward's or commune's official name (the 2025 map).
    pub ward_name: String,
    pub province_code: String,
    /// The province's official name (the 2025 map).
    pub province_name: String,
}

impl AddressOut {
    /// An address with the official names beside its codes.
    pub fn new(line: String, ward_code: String, province_code: String) -> Self {
        Self {
            line,
            ward_name: domain::divisions::ward_name(&ward_code)
                .unwrap_or_default()
                .to_owned(),
            province_name: domain::divisions::province_name(&province_code)
                .unwrap_or_default()
                .to_owned(),
            ward_code,
            province_code,
        }
    }
}

/// A document on the slip.
#[derive(Debug, Clone, Object)]
pub struct DocumentOut {
    pub name: String,
    pub original: bool,
    pub copies: i64,
}

/// A parcel of the dossier.
#[derive(Debug, Clone, Object)]
pub struct LegOut {
    /// `inbound` (to the agency) or `outbound` (the result, home).
    pub direction: String,
    /// `dossier`, `result` or `supplement`.
    pub purpose: String,
    #[oai(nullable)]
    pub item_code: Option<String>,
    pub status: String,
    pub route_class: String,
    #[oai(nullable)]
    pub due_at: Option<DateTime<FixedOffset>>,
    #[oai(nullable)]
    pub delivered_at: Option<DateTime<FixedOffset>>,
    pub failed_attempts: i32,
    /// For a delivered result: whether the recipient's identity was checked (Decision 45 Art. 10).
    /// `false` for a delivery the carrier reported, until the office confirms who signed.
    #[oai(nullable)]
    pub identity_confirmed: Option<bool>,
    /// A supplement's parcel: the date of its booked pickup (`status` `pickup_scheduled`, or
    /// `pickup_failed` after a booked call).
    #[oai(nullable)]
    pub pickup_date: Option<NaiveDate>,
    /// A supplement's parcel: `morning` | `afternoon` of its booked pickup.
    #[oai(nullable)]
    pub pickup_window: Option<String>,
}

/// A parcel as the API shows it to those who may see the whole dossier.
pub(crate) fn leg_out(l: entity::leg::Model) -> LegOut {
    LegOut {
        purpose: purpose_of(&l).to_owned(),
        direction: l.direction.to_string(),
        item_code: l.item_code,
        status: l.status.to_string(),
        route_class: l.route_class.to_string(),
        due_at: l.due_at.map(local_time),
        delivered_at: l.delivered_at.map(local_time),
        failed_attempts: l.failed_attempts,
        identity_confirmed: l.identity_confirmed,
        pickup_date: l.pickup_date,
        pickup_window: l.pickup_window.map(|w| w.to_string()),
    }
}

/// A timeline entry.
#[derive(Debug, Clone, Object)]
pub struct TimelineOut {
    pub at: DateTime<FixedOffset>,
    pub kind: String,
    /// The dossier's status after the event.
    #[oai(nullable)]
    pub status: Option<String>,
    /// `api` | `scan` | `carrier` | `system`.
    pub source: String,
    pub actor: String,
    #[oai(nullable)]
    pub location: Option<String>,
    #[oai(nullable)]
    pub note: Option<String>,
}

/// The whole dossier.
#[derive(Debug, Clone, Object)]
pub struct DossierOut {
    pub code: String,
    pub status: String,
    pub service_mode: String,
    pub procedure_code: String,
    pub agency_code: String,
    pub agency_name: String,
    pub office_code: String,
    pub applicant: ApplicantOut,
    #[oai(nullable)]
    pub pickup_address: Option<AddressOut>,
    #[oai(nullable)]
    pub return_address: Option<AddressOut>,
    pub documents: Vec<DocumentOut>,
    pub with_appointment: bool,
    pub fee_exemption: String,
    pub fees: FeesOut,
    pub route_class: String,
    /// The legal filing time: when the handover record to the agency was signed.
    #[oai(nullable)]
    pub filed_at: Option<DateTime<FixedOffset>>,
    /// The agency's deadline.
    #[oai(nullable)]
    pub result_due_at: Option<DateTime<FixedOffset>>,
    pub overdue: bool,
    /// While the agency waits for supplements: the documents it asked for.
    pub missing_documents: Vec<String>,
    #[oai(nullable)]
    pub national_dossier_no: Option<String>,
    #[oai(nullable)]
    pub outcome: Option<String>,
    pub language: String,
    pub legs: Vec<LegOut>,
    pub timeline: Vec<TimelineOut>,
    /// Lost, damaged or delayed parcels, oldest first (Decision 45 Art. 14).
    pub incidents: Vec<IncidentOut>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
}

/// An incident of one of the dossier's parcels.
#[derive(Debug, Clone, Object)]
pub struct IncidentOut {
    pub id: i64,
    /// `lost` | `damaged` | `delayed`.
    pub kind: String,
    /// `inbound` | `outbound`.
    pub leg: String,
    #[oai(nullable)]
    pub note: Option<String>,
    /// What the post paid the citizen.
    pub compensation_vnd: i64,
    pub created_at: DateTime<FixedOffset>,
}

/// An incident as the API shows it.
pub fn incident_out(i: entity::incident::Model) -> IncidentOut {
    IncidentOut {
        id: i.id,
        kind: i.kind.to_string(),
        leg: i.leg.to_string(),
        note: i.note,
        compensation_vnd: i.compensation_vnd,
        created_at: local_time(i.created_at),
    }
}

/// Supplementary documents the citizen sends by post.
#[derive(Debug, Clone, Object)]
pub struct SupplementIn {
    /// The documents handed over, as on a pickup request.
    #[oai(nullable)]
    pub documents: Option<Vec<DocumentIn>>,
    /// Where to collect them; `null` collects at the dossier's pickup address.
    #[oai(nullable)]
    pub pickup_address: Option<AddressIn>,
}

#[derive(ApiResponse)]
enum SupplementResponse {
    /// The supplement's parcel is on the post office's pickup worklist.
    #[oai(status = 201)]
    Created(Json<DossierOut>),
}

/// Why a dossier is cancelled.
#[derive(Debug, Clone, Object, serde::Deserialize)]
pub struct CancelIn {
    #[oai(nullable)]
    pub reason: Option<String>,
}

fn address(
    line: &Option<String>,
    ward: &Option<String>,
    province: &Option<String>,
) -> Option<AddressOut> {
    Some(AddressOut::new(
        line.clone()?,
        ward.clone()?,
        province.clone()?,
    ))
}

pub(crate) fn dossier_out(record: DossierRecord, now: DateTime<Utc>) -> DossierOut {
    let overdue = record.overdue(now);
    let documents = record
        .documents()
        .into_iter()
        .map(|d| DocumentOut {
            name: d.name,
            original: d.original,
            copies: d.copies,
        })
        .collect();
    let supplement_postage_vnd = record
        .supplements
        .iter()
        .filter_map(|s| s.postage_vnd)
        .sum();
    let missing_documents = record.missing_documents();
    let d = record.dossier;
    DossierOut {
        pickup_address: address(&d.pickup_line, &d.pickup_ward_code, &d.pickup_province_code),
        return_address: address(&d.return_line, &d.return_ward_code, &d.return_province_code),
        code: d.code,
        status: d.status.to_string(),
        service_mode: d.service_mode.to_string(),
        procedure_code: d.procedure_code,
        agency_code: d.agency_code,
        agency_name: record.agency_name,
        office_code: d.office_code,
        applicant: ApplicantOut {
            full_name: d.applicant_full_name,
            phone: d.applicant_phone,
            email: d.applicant_email,
            // Empty when redacted for a postal key (`view_dossier`).
            id_number: Some(d.applicant_id_number).filter(|n| !n.is_empty()),
        },
        documents,
        with_appointment: d.with_appointment,
        fee_exemption: d.fee_exemption.to_string(),
        fees: FeesOut {
            postage_vnd: d.postage_vnd,
            admin_fee_vnd: d.admin_fee_vnd,
            total_vnd: d.total_vnd,
            supplement_postage_vnd,
        },
        route_class: d.route_class.to_string(),
        filed_at: d.filed_at.map(local_time),
        result_due_at: d.result_due_at.map(local_time),
        overdue,
        missing_documents,
        national_dossier_no: d.national_dossier_no,
        outcome: d.outcome,
        language: d.language,
        legs: record.legs.into_iter().map(leg_out).collect(),
        timeline: record
            .timeline
            .into_iter()
            .map(|e| TimelineOut {
                at: local_time(e.at),
                kind: e.kind.to_string(),
                status: e.to_status.map(|s| s.to_string()),
                source: e.source.to_string(),
                actor: e.actor,
                location: e.location,
                note: e.note,
            })
            .collect(),
        incidents: record.incidents.into_iter().map(incident_out).collect(),
        created_at: local_time(d.created_at),
        updated_at: local_time(d.updated_at),
    }
}

fn created_out(created: CreatedDossier, base_url: &str) -> DossierCreatedOut {
    DossierCreatedOut {
        tracking_url: format!("{base_url}/t/{}", created.code),
        code: created.code,
        status: created.status.to_string(),
        service_mode: created.service_mode.to_string(),
        access_token: created.access_token,
        route_class: created.route_class.to_string(),
        fees: created.fees.into(),
        created_at: local_time(created.created_at),
    }
}

/// Longest accepted `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 200;

pub struct DossierApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Dossiers")]
impl DossierApi {
    /// Request a pickup (public). With an agency key and mode `return`, register a dossier filed at the
    /// desk. The same `Idempotency-Key` with the same body gives the same answer and no second dossier.
    #[oai(path = "/dossiers", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        #[oai(
            name = "Idempotency-Key",
            validator(
                max_length = 200,
                pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
            )
        )]
        idempotency_key: Header<Option<String>>,
        body: Json<CreateDossierIn>,
    ) -> Result<CreateResponse, ApiError> {
        let request = DossierRequest::from(&body.0);
        let claim = match idempotency_key.0.as_deref().map(str::trim) {
            None => None,
            Some(key)
                if key.is_empty()
                    || key.chars().count() > MAX_IDEMPOTENCY_KEY
                    || key.chars().any(char::is_control) =>
            {
                return Err(ApiError::bad_request(format!(
                    "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters"
                )));
            }
            Some(key) => {
                let canonical = serde_json::to_vec(&body.0).map_err(|e| ApiError::internal(&e))?;
                let caller_id = caller
                    .0
                    .key_id()
                    .map_or_else(|| "public".to_owned(), |id| format!("key{id}"));
                Some(IdempotencyClaim::new(
                    "create_dossier",
                    &caller_id,
                    key,
                    &canonical,
                ))
            }
        };
        let outcome = domain::ops::dossiers::create_dossier(
            &state.store,
            &caller.0,
            &request,
            claim.as_ref(),
        )
        .await?;
        let created = match outcome {
            CreateOutcome::Created(c) | CreateOutcome::Replayed(c) => c,
        };
        Ok(CreateResponse::Created(Json(created_out(
            created,
            &state.public_base_url,
        ))))
    }

    /// The whole dossier, for its citizen (access token) or staff who may see it.
    #[oai(path = "/dossiers/:code", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
    ) -> Result<Json<DossierOut>, ApiError> {
        if caller.0 == domain::ops::access::Actor::Public {
            return Err(ApiError::unauthorized(
                "send the dossier's access token or a staff key: `Authorization: Bearer …`",
            ));
        }
        let record =
            domain::ops::dossier_record::view_dossier(&state.store.read, &caller.0, &code.0)
                .await?;
        Ok(Json(dossier_out(record, Utc::now())))
    }

    /// The public, masked tracking view, by dossier code or by a parcel's item code.
    #[oai(path = "/track/:code", method = "get")]
    async fn track(
        &self,
        state: Data<&AppState>,
        code: Path<String>,
    ) -> Result<DirectJson<TrackOut>, ApiError> {
        if let Some(view) = state.track_cache.get(&code.0) {
            return Ok(DirectJson(TrackOut::clone(&view)));
        }
        let mark = state.track_cache.mark();
        let track = domain::ops::dossier_record::track_public(&state.store, &code.0).await?;
        let view = track_out(track);
        // A copy for the cache only where there is one (SQLite).
        if mark.is_some() {
            state
                .track_cache
                .put(&code.0, mark, std::sync::Arc::new(view.clone()));
        }
        Ok(DirectJson(view))
    }

    /// Send the documents the agency asked for by post (the citizen, with the access token): a new
    /// inbound parcel with `purpose: "supplement"` goes on the post office's pickup worklist.
    #[oai(path = "/dossiers/:code/supplement", method = "post")]
    async fn supplement(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: Json<SupplementIn>,
    ) -> Result<SupplementResponse, ApiError> {
        if caller.0 == domain::ops::access::Actor::Public {
            return Err(ApiError::unauthorized(
                "send the dossier's access token: `Authorization: Bearer dt_…`",
            ));
        }
        let body = body.0;
        let request = domain::ops::supplements::SupplementRequest {
            documents: body.documents.map(|docs| {
                docs.into_iter()
                    .map(|d| DocumentRequest {
                        name: d.name.0,
                        original: d.original,
                        copies: d.copies.0,
                        code: d.code,
                    })
                    .collect()
            }),
            pickup_address: body.pickup_address.map(|a| AddressRequest {
                line: a.line.0,
                ward_code: a.ward_code.0,
                province_code: a.province_code.0,
            }),
        };
        domain::ops::supplements::submit_supplement(&state.store, &caller.0, &code.0, &request)
            .await?;
        let record =
            domain::ops::dossier_record::view_dossier(&state.store.read, &caller.0, &code.0)
                .await?;
        Ok(SupplementResponse::Created(Json(dossier_out(
            record,
            Utc::now(),
        ))))
    }

    /// Cancel before pickup: the citizen (access token) or the post office.
    #[oai(path = "/dossiers/:code/cancel", method = "post")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: OptionalJson<CancelIn>,
    ) -> Result<Json<DossierOut>, ApiError> {
        if caller.0 == domain::ops::access::Actor::Public {
            return Err(ApiError::unauthorized(
                "send the dossier's access token or a postal key",
            ));
        }
        let reason = body.0.and_then(|b| b.reason);
        domain::ops::dossiers::cancel_dossier(&state.store, &caller.0, &code.0, reason.as_deref())
            .await?;
        let record =
            domain::ops::dossier_record::view_dossier(&state.store.read, &caller.0, &code.0)
                .await?;
        Ok(Json(dossier_out(record, Utc::now())))
    }
}
