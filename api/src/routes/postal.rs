//! Postal operations (role `postal`, API.md "Postal operations"): the office's pickup worklist,
//! scheduling and recording pickups, failed pickups, deliveries of results, and parcel scans from
//! handheld and offline scanners.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use domain::ops::OpError;
use domain::ops::access::Actor;
use domain::ops::dossiers::SlipDocument;
use domain::ops::postal::{
    DeliveryRequest, PickupCursor, PickupItem, PickupRequest, RecipientRequest, ScheduleRequest,
};
use domain::ops::scans::{MAX_BATCH, ScanOutcome, ScanRequest};
use entity::enums::DossierStatus;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use secrecy::ExposeSecret;

use super::dossiers::{AddressOut, DocumentOut, DossierOut, FeesOut, dossier_out};
use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::checked::Required;
use crate::error::{ApiError, ErrorBody};
use crate::optional_json::OptionalJson;
use crate::state::AppState;

/// Refuses anonymous callers before anything else is looked at.
pub(crate) fn require_credentials(caller: &Caller) -> Result<&Actor, ApiError> {
    if caller.0 == Actor::Public {
        return Err(ApiError::unauthorized(
            "send a postal key: `Authorization: Bearer dk_…`",
        ));
    }
    Ok(&caller.0)
}

/// What a postman needs to collect a dossier: no email, no identity number.
#[derive(Debug, Clone, Object)]
pub struct PickupApplicantOut {
    pub full_name: String,
    pub phone: String,
}

/// A dossier on the office's pickup worklist.
#[derive(Debug, Clone, Object)]
pub struct PickupOut {
    pub code: String,
    /// `dossier`, or `supplement` for the documents an agency asked for (collect
    /// `fees.supplement_postage_vnd` then).
    pub purpose: String,
    /// The dossier's status (`supplement_requested` for a supplement).
    pub status: String,
    /// Where this pickup stands: `pickup_requested`, `pickup_scheduled` or `pickup_failed` — the
    /// dossier's status, or for a supplement the stage of its parcel (the dossier stays
    /// `supplement_requested`).
    pub pickup_status: String,
    pub service_mode: String,
    pub procedure_code: String,
    pub agency_code: String,
    pub applicant: PickupApplicantOut,
    #[oai(nullable)]
    pub pickup_address: Option<AddressOut>,
    /// The documents to check with the citizen.
    pub documents: Vec<DocumentOut>,
    /// What to collect: `fee_collected_vnd` must equal `fees.total_vnd`.
    pub fees: FeesOut,
    pub with_appointment: bool,
    /// The booked date, once scheduled (for a supplement, its parcel's booking).
    #[oai(nullable)]
    pub scheduled_date: Option<NaiveDate>,
    /// `morning` | `afternoon`, once scheduled.
    #[oai(nullable)]
    pub scheduled_window: Option<String>,
    pub created_at: DateTime<FixedOffset>,
}

fn pickup_out(item: PickupItem) -> PickupOut {
    let pickup_status = item.pickup_status().to_string();
    let d = item.dossier;
    let supplement = item.supplement;
    let documents: Vec<SlipDocument> = match &supplement {
        Some(s) => domain::ops::supplements::sent_documents(s),
        None => serde_json::from_value(d.documents.clone()).unwrap_or_default(),
    };
    let (line, ward, province) = match &supplement {
        Some(s) => (&s.pickup_line, &s.pickup_ward_code, &s.pickup_province_code),
        None => (&d.pickup_line, &d.pickup_ward_code, &d.pickup_province_code),
    };
    let pickup_address = match (line, ward, province) {
        (Some(line), Some(ward), Some(province)) => Some(AddressOut::new(
            line.clone(),
            ward.clone(),
            province.clone(),
        )),
        _ => None,
    };
    PickupOut {
        purpose: if supplement.is_some() {
            "supplement"
        } else {
            "dossier"
        }
        .to_owned(),
        code: d.code,
        status: d.status.to_string(),
        pickup_status,
        service_mode: d.service_mode.to_string(),
        procedure_code: d.procedure_code,
        agency_code: d.agency_code,
        applicant: PickupApplicantOut {
            full_name: d.applicant_full_name,
            phone: d.applicant_phone,
        },
        pickup_address,
        documents: documents
            .into_iter()
            .map(|doc| DocumentOut {
                name: doc.name,
                original: doc.original,
                copies: doc.copies,
            })
            .collect(),
        fees: FeesOut {
            postage_vnd: d.postage_vnd,
            admin_fee_vnd: d.admin_fee_vnd,
            total_vnd: d.total_vnd,
            supplement_postage_vnd: supplement
                .as_ref()
                .and_then(|s| s.postage_vnd)
                .unwrap_or_default(),
        },
        with_appointment: d.with_appointment,
        scheduled_date: item.appointment.as_ref().map(|a| a.date),
        scheduled_window: item.appointment.map(|a| a.pickup_window.to_string()),
        created_at: local_time(d.created_at),
    }
}

/// Book the pickup.
#[derive(Debug, Clone, Object)]
pub struct ScheduleIn {
    /// `YYYY-MM-DD`, today or later.
    #[oai(nullable)]
    pub date: Option<String>,
    /// `morning` | `afternoon`.
    #[oai(nullable)]
    pub window: Option<String>,
}

/// The pickup, as the slip records it.
#[derive(Debug, Clone, Object)]
pub struct PickupIn {
    /// Must be `true`: the documents were checked against the procedure's published list.
    #[oai(nullable)]
    pub documents_checked: Option<bool>,
    /// Must equal the dossier's `fees.total_vnd`.
    #[oai(nullable)]
    pub fee_collected_vnd: Option<i64>,
    /// The S10 code on the parcel (typed or scanned); `null` allocates one from the office's range.
    #[oai(nullable)]
    pub item_code: Option<String>,
}

/// Why the pickup failed.
#[derive(Debug, Clone, Object, serde::Deserialize)]
pub struct PickupFailedIn {
    /// Required.
    #[oai(nullable)]
    pub reason: Option<String>,
}

/// Who signed for the result (Decision 45 Art. 10).
#[derive(Debug, Clone, Default, Object, serde::Deserialize)]
pub struct RecipientIn {
    /// Up to 100 characters, not blank, no control characters.
    #[oai(validator(
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    ))]
    #[serde(default)]
    pub full_name: Required<String>,
    /// CCCD (12 digits), CMND (9 digits) or passport number (a letter and 7–8 digits). Unless `proxy`
    /// is true, it must be the applicant's.
    #[oai(validator(pattern = r"^\s*([0-9]{9}|[0-9]{12}|[A-Za-z][0-9]{7,8})\s*$"))]
    #[serde(default)]
    pub id_number: Required<String>,
    /// Signing for the citizen with a written authorisation.
    #[oai(nullable)]
    pub proxy: Option<bool>,
    /// The written authorisation's number and date; required when `proxy` is true, kept with the
    /// delivery.
    #[oai(nullable)]
    pub authorization_ref: Option<String>,
}

impl From<RecipientIn> for RecipientRequest {
    fn from(r: RecipientIn) -> Self {
        RecipientRequest {
            full_name: r.full_name.0,
            id_number: r.id_number.0,
            proxy: r.proxy,
            authorization_ref: r.authorization_ref,
        }
    }
}

/// A delivery attempt.
#[derive(Debug, Clone, Object)]
pub struct DeliveryIn {
    /// `delivered` | `failed`.
    #[oai(nullable)]
    pub outcome: Option<String>,
    /// Required when failed: bad address, moved, recipient not found, refused…
    #[oai(nullable)]
    pub reason: Option<String>,
    /// Required when delivered.
    #[oai(nullable)]
    pub recipient: Option<RecipientIn>,
    /// When the attempt was made (RFC 3339), for attempts recorded after the fact; not in the future.
    /// Defaults to now.
    #[oai(nullable)]
    pub at: Option<String>,
    /// Collected at the door when delivered: in `return` mode the result's postage
    /// (`fees.postage_vnd`), otherwise 0 (paid at pickup). Absent means 0.
    #[oai(nullable)]
    pub fee_collected_vnd: Option<i64>,
}

/// One scan from a handheld or offline scanner.
#[derive(Debug, Clone, Default, Object, serde::Deserialize)]
pub struct ScanIn {
    /// The scanner's UUID for this scan; the same `scan_id` twice is stored once.
    #[oai(nullable)]
    pub scan_id: Option<String>,
    /// The label's QR payload (a URL ending in `/l/{token}`)…
    #[oai(nullable)]
    pub label: Option<String>,
    /// …or the parcel's S10 item code.
    #[oai(nullable)]
    pub item_code: Option<String>,
    /// `accepted_at_office` | `departed` | `arrived` | `out_for_delivery` | `delivery_failed` | `delivered`.
    #[oai(nullable)]
    pub event: Option<String>,
    /// When the parcel was scanned (RFC 3339 with offset).
    #[oai(nullable)]
    pub at: Option<String>,
    #[oai(nullable)]
    pub location: Option<String>,
    #[oai(nullable)]
    pub note: Option<String>,
    /// Required on a `delivered` scan of a result (outbound parcel): who signed for it, checked like
    /// the body of `POST /api/v1/dossiers/{code}/delivery`.
    #[oai(nullable)]
    pub recipient: Option<RecipientIn>,
    /// On a `delivered` scan of a result only: the fee collected at the door, checked like the
    /// delivery endpoint's `fee_collected_vnd` (in `return` mode the result's postage,
    /// `fees.postage_vnd`; otherwise 0). Absent means 0.
    #[oai(nullable)]
    pub fee_collected_vnd: Option<i64>,
}

impl From<ScanIn> for ScanRequest {
    fn from(s: ScanIn) -> Self {
        ScanRequest {
            scan_id: s.scan_id,
            label: s.label,
            item_code: s.item_code,
            event: s.event,
            at: s.at,
            location: s.location,
            note: s.note,
            recipient: s.recipient.map(RecipientRequest::from),
            fee_collected_vnd: s.fee_collected_vnd,
        }
    }
}

/// A batch of scans uploaded by an offline scanner.
#[derive(Debug, Clone, Object)]
pub struct ScanBatchIn {
    /// Up to 1,000 scans, each shaped like the body of `POST /api/v1/scans`. Each is answered on its
    /// own: a malformed one does not spoil the others.
    #[oai(nullable)]
    pub scans: Option<Vec<serde_json::Value>>,
}

/// What became of one scan.
#[derive(Debug, Clone, Object)]
pub struct ScanResultOut {
    /// The scan's position in the batch (0 for a single scan).
    pub index: u32,
    #[oai(nullable)]
    pub scan_id: Option<String>,
    /// `accepted` (stored), `duplicate` (stored before: forget it) or `error` (nothing stored; resending
    /// it unchanged gives the same answer — correct it or drop it).
    pub result: String,
    #[oai(nullable)]
    pub dossier_code: Option<String>,
    /// The dossier's status after the scan.
    #[oai(nullable)]
    pub status: Option<String>,
    /// Whether the scan moved the status; a late scan only joins the timeline.
    #[oai(nullable)]
    pub applied: Option<bool>,
    /// Why it was refused, with the API's error codes (`validation_failed`, `not_found`, `forbidden`,
    /// `invalid_transition`, `bad_request`).
    #[oai(nullable)]
    pub error: Option<ErrorBody>,
}

/// The answers to a batch, in the order of the scans.
#[derive(Debug, Clone, Object)]
pub struct ScanBatchOut {
    pub results: Vec<ScanResultOut>,
    pub accepted: u32,
    pub duplicates: u32,
    pub errors: u32,
}

#[derive(ApiResponse)]
enum ScanResponse {
    /// Stored.
    #[oai(status = 201)]
    Accepted(Json<ScanResultOut>),
    /// This `scan_id` was stored before; nothing changed.
    #[oai(status = 200)]
    Duplicate(Json<ScanResultOut>),
}

/// The error body of a refused scan, with the same code and message the API would answer.
fn error_body(err: OpError) -> ErrorBody {
    match ApiError::from(err) {
        ApiError::BadRequest(body)
        | ApiError::Unauthorized(body)
        | ApiError::Forbidden(body)
        | ApiError::NotFound(body)
        | ApiError::Conflict(body)
        | ApiError::PayloadTooLarge(body)
        | ApiError::UnsupportedMediaType(body)
        | ApiError::ValidationFailed(body)
        | ApiError::RateLimited(body, _)
        | ApiError::Unavailable(body, _)
        | ApiError::Internal(body) => body.0.error,
    }
}

fn scan_result(index: usize, scan_id: Option<String>, outcome: ScanOutcome) -> ScanResultOut {
    let mut out = ScanResultOut {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        scan_id,
        result: String::new(),
        dossier_code: None,
        status: None,
        applied: None,
        error: None,
    };
    match outcome {
        ScanOutcome::Accepted {
            dossier_code,
            status,
            applied,
        } => {
            out.result = "accepted".into();
            out.dossier_code = Some(dossier_code);
            out.status = Some(status.to_string());
            out.applied = Some(applied);
        }
        ScanOutcome::Duplicate => out.result = "duplicate".into(),
        ScanOutcome::Refused(err) => {
            out.result = "error".into();
            out.error = Some(error_body(err));
        }
    }
    out
}

pub(crate) async fn dossier_answer(
    state: &AppState,
    actor: &Actor,
    code: &str,
) -> Result<Json<DossierOut>, ApiError> {
    let record = domain::ops::dossier_record::view_dossier(&state.store.read, actor, code).await?;
    Ok(Json(dossier_out(record, Utc::now())))
}

/// Requests per page of the pickup worklist when `limit` is not given.
const DEFAULT_PICKUPS_PAGE: u64 = 100;

#[derive(ApiResponse)]
enum PickupsResponse {
    /// A page of the worklist; `Link` names the next one when there is more.
    #[oai(status = 200)]
    Ok(Json<Vec<PickupOut>>, #[oai(header = "Link")] Option<String>),
}

pub struct PostalApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Postal")]
impl PostalApi {
    /// The office's pickup worklist, oldest request first, `limit` requests a page (default 100, at
    /// most 500; anything else is 400 `bad_request`). When there are more, the `Link` header names the
    /// next page (`<…/api/v1/pickups?…&after=CURSOR>; rel="next"`, with the same `status` and
    /// `limit`); following it to the end reaches every request of the office. Without `status`: the
    /// pickups still to be made (`pickup_requested`, `pickup_scheduled`, `pickup_failed`).
    #[oai(path = "/pickups", method = "get")]
    async fn pickups(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// One status.
        #[oai(validator(
            pattern = r"^\s*(pickup_requested|pickup_scheduled|pickup_failed|picked_up|in_transit|received_by_agency|processing|supplement_requested|rejected|awaiting_result|result_ready|result_with_post|out_for_delivery|delivery_failed|delivered|returned_to_agency|collected_in_person|cancelled)?\s*$"
        ))]
        status: Query<Option<String>>,
        /// Requests per page, 1 to 500 (default 100).
        #[oai(validator(pattern = r"^\s*(0*([1-9][0-9]?|[1-4][0-9]{2}|500))?\s*$"))]
        limit: Query<Option<String>>,
        /// The cursor of the `Link` header's next page.
        after: Query<Option<String>>,
    ) -> Result<PickupsResponse, ApiError> {
        let actor = require_credentials(&caller)?;
        let limit = super::page_limit(
            limit.0.as_deref(),
            DEFAULT_PICKUPS_PAGE,
            domain::ops::postal::MAX_WORKLIST,
        )?;
        let after = match after.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(PickupCursor::decode(text).ok_or_else(|| {
                ApiError::bad_request("`after` must be the cursor of a `Link` header's next page")
            })?),
        };
        let status = match status.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(s.parse::<DossierStatus>().map_err(|_| {
                ApiError::bad_request(format!(
                    "`status` must be one of: {}",
                    DossierStatus::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?),
        };
        let page =
            domain::ops::postal::list_pickups_page(&state.store.read, actor, status, after, limit)
                .await?;
        let link = page.next.map(|next| {
            let status = status
                .map(|s| format!("status={}&", s.as_str()))
                .unwrap_or_default();
            format!(
                "<{}/api/v1/pickups?{status}limit={limit}&after={}>; rel=\"next\"",
                state.public_base_url,
                next.encode()
            )
        });
        Ok(PickupsResponse::Ok(
            Json(page.items.into_iter().map(pickup_out).collect()),
            link,
        ))
    }

    /// Book the pickup for a date (today or later) and a half-day.
    #[oai(path = "/dossiers/:code/schedule", method = "post")]
    async fn schedule(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: Json<ScheduleIn>,
    ) -> Result<Json<DossierOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let request = ScheduleRequest {
            date: body.0.date,
            window: body.0.window,
        };
        domain::ops::postal::schedule_pickup(&state.store, actor, &code.0, &request).await?;
        dossier_answer(&state, actor, &code.0).await
    }

    /// Record the pickup: documents checked, fee collected, the slip signed. The inbound parcel gets its
    /// S10 item code (the one given, validated, or one allocated from the office's range) and its due
    /// date; the dossier is `picked_up`.
    #[oai(path = "/dossiers/:code/pickup", method = "post")]
    async fn pickup(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: Json<PickupIn>,
    ) -> Result<Json<DossierOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let request = PickupRequest {
            documents_checked: body.0.documents_checked,
            fee_collected_vnd: body.0.fee_collected_vnd,
            item_code: body.0.item_code,
        };
        domain::ops::postal::record_pickup(&state.store, actor, &code.0, &request).await?;
        dossier_answer(&state, actor, &code.0).await
    }

    /// Record a failed pickup, with its reason.
    #[oai(path = "/dossiers/:code/pickup-failed", method = "post")]
    async fn pickup_failed(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: OptionalJson<PickupFailedIn>,
    ) -> Result<Json<DossierOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let reason = body.0.and_then(|b| b.reason);
        domain::ops::postal::record_pickup_failure(&state.store, actor, &code.0, reason.as_deref())
            .await?;
        dossier_answer(&state, actor, &code.0).await
    }

    /// Record a delivery attempt of the result. `delivered` requires the applicant's own identity
    /// document, or `proxy: true` with the written authorisation's `authorization_ref`, and
    /// `fee_collected_vnd` equal to the postage due at the door (`return` mode: `fees.postage_vnd`;
    /// otherwise 0); it stores the recipient. `failed` counts a notice; the second notice, at least two working days after the
    /// first, returns the result to the agency (`returned_to_agency`); a sooner one is refused with
    /// `invalid_transition`, saying from when the next attempt may be made.
    #[oai(path = "/dossiers/:code/delivery", method = "post")]
    async fn delivery(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: Json<DeliveryIn>,
    ) -> Result<Json<DossierOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let body = body.0;
        let request = DeliveryRequest {
            outcome: body.outcome,
            reason: body.reason,
            recipient: body.recipient.map(RecipientRequest::from),
            at: body.at,
            fee_collected_vnd: body.fee_collected_vnd,
        };
        domain::ops::postal::record_delivery(&state.store, actor, &code.0, &request).await?;
        dossier_answer(&state, actor, &code.0).await
    }

    /// Record one parcel scan, by the label's QR payload or the item code. 201 when stored, 200 with
    /// `duplicate` when this `scan_id` was stored before. A scan dated before the dossier's last event
    /// joins the timeline without moving the status.
    #[oai(path = "/scans", method = "post")]
    async fn scan(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<ScanIn>,
    ) -> Result<ScanResponse, ApiError> {
        let actor = require_credentials(&caller)?;
        let scan_id = body.0.scan_id.clone();
        let mut outcomes = domain::ops::scans::record_scans(
            &state.store,
            actor,
            state.label_key.expose_secret(),
            &[ScanRequest::from(body.0)],
        )
        .await?;
        match outcomes.pop() {
            Some(ScanOutcome::Refused(err)) => Err(err.into()),
            Some(outcome @ ScanOutcome::Duplicate) => Ok(ScanResponse::Duplicate(Json(
                scan_result(0, scan_id, outcome),
            ))),
            Some(outcome) => Ok(ScanResponse::Accepted(Json(scan_result(
                0, scan_id, outcome,
            )))),
            None => Err(ApiError::internal(&"a scan went unanswered")),
        }
    }

    /// Upload up to 1,000 scans at once (offline scanners). Each scan is answered on its own, in order:
    /// `accepted`, `duplicate` or `error` with its code. The body may be up to 1 MiB.
    #[oai(path = "/scans/batch", method = "post")]
    async fn scan_batch(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<ScanBatchIn>,
    ) -> Result<Json<ScanBatchOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        domain::ops::postal::postal_key(actor)?;
        let Some(raw) = body.0.scans else {
            return Err(OpError::field("scans", "is required: a list of scans").into());
        };
        if raw.len() > MAX_BATCH {
            return Err(OpError::field(
                "scans",
                format!(
                    "a batch carries at most {MAX_BATCH} scans; this one has {}",
                    raw.len()
                ),
            )
            .into());
        }
        // Each scan is read on its own, so one malformed scan is answered alone.
        let mut parsed: Vec<Result<ScanIn, String>> = Vec::with_capacity(raw.len());
        for value in raw {
            parsed.push(
                serde_json::from_value::<ScanIn>(value)
                    .map_err(|e| format!("this scan is not a scan object: {e}")),
            );
        }
        let scan_ids: Vec<Option<String>> = parsed
            .iter()
            .map(|p| p.as_ref().ok().and_then(|s| s.scan_id.clone()))
            .collect();
        let requests: Vec<ScanRequest> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned().map(ScanRequest::from))
            .collect();
        let mut outcomes = domain::ops::scans::record_scans(
            &state.store,
            actor,
            state.label_key.expose_secret(),
            &requests,
        )
        .await?
        .into_iter();
        let mut results = Vec::with_capacity(parsed.len());
        for (index, (p, scan_id)) in parsed.into_iter().zip(scan_ids).enumerate() {
            let result = match p {
                Err(message) => ScanResultOut {
                    index: u32::try_from(index).unwrap_or(u32::MAX),
                    scan_id,
                    result: "error".into(),
                    dossier_code: None,
                    status: None,
                    applied: None,
                    error: Some(ErrorBody {
                        code: "bad_request".into(),
                        message,
                        details: vec![],
                    }),
                },
                Ok(_) => match outcomes.next() {
                    Some(outcome) => scan_result(index, scan_id, outcome),
                    None => return Err(ApiError::internal(&"a scan went unanswered")),
                },
            };
            results.push(result);
        }
        let count = |what: &str| {
            u32::try_from(results.iter().filter(|r| r.result == what).count()).unwrap_or(u32::MAX)
        };
        Ok(Json(ScanBatchOut {
            accepted: count("accepted"),
            duplicates: count("duplicate"),
            errors: count("error"),
            results,
        }))
    }
}
