//! Incidents and complaints (API.md "Incidents and complaints"; Decision 45 Art. 14, Circular 17
//! Art. 8): staff record a lost, damaged or delayed parcel; a citizen files a complaint with the
//! dossier's token; administrators and post offices list and answer complaints.

use chrono::{DateTime, FixedOffset, Utc};
use domain::ops::access::Actor;
use domain::ops::complaints::ComplaintView;
use domain::ops::incidents::IncidentRequest;
use entity::enums::ComplaintStatus;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::dossiers::{IncidentOut, incident_out};
use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::checked::{Optional, Required};
use crate::error::ApiError;
use crate::state::AppState;

fn require_credentials(caller: &Caller) -> Result<&Actor, ApiError> {
    if caller.0 == Actor::Public {
        return Err(ApiError::unauthorized(
            "send a staff key or the dossier's access token: `Authorization: Bearer …`",
        ));
    }
    Ok(&caller.0)
}

/// An incident to record.
#[derive(Debug, Clone, Object)]
pub struct IncidentIn {
    /// `lost` | `damaged` | `delayed`.
    #[oai(validator(pattern = r"^(lost|damaged|delayed)$"))]
    pub kind: Required<String>,
    /// `inbound` | `outbound`: the parcel it happened to.
    #[oai(validator(pattern = r"^(inbound|outbound)$"))]
    pub leg: Required<String>,
    /// Up to 500 characters, no control characters; blank counts as absent.
    #[oai(validator(max_length = 500, pattern = r"^\s*$|^[^\x00-\x1F\x7F-\x9F]*$"))]
    pub note: Optional<String>,
    /// What the post paid the citizen, in VND, 0 to 1 000 000 000; 0 when absent.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    pub compensation_vnd: Optional<i64>,
}

/// A complaint's text.
#[derive(Debug, Clone, Object)]
pub struct ComplaintIn {
    /// Up to 4000 characters, not blank, no control characters.
    #[oai(validator(
        max_length = 4000,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    ))]
    pub text: Required<String>,
}

/// A complaint's answer.
#[derive(Debug, Clone, Object)]
pub struct AnswerIn {
    /// Up to 4000 characters, not blank, no control characters.
    #[oai(validator(
        max_length = 4000,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    ))]
    pub text: Required<String>,
}

/// A complaint, as the citizen who filed it gets it back.
#[derive(Debug, Clone, Object)]
pub struct ComplaintFiledOut {
    pub id: i64,
    /// `open`.
    pub status: String,
    /// The answer deadline.
    pub due_at: DateTime<FixedOffset>,
}

/// A complaint, for those who answer it.
#[derive(Debug, Clone, Object)]
pub struct ComplaintOut {
    pub id: i64,
    pub dossier_code: String,
    /// `open` | `answered`.
    pub status: String,
    pub text: String,
    pub due_at: DateTime<FixedOffset>,
    /// Open past `due_at`.
    pub overdue: bool,
    #[oai(nullable)]
    pub answer: Option<String>,
    #[oai(nullable)]
    pub answered_at: Option<DateTime<FixedOffset>>,
    pub created_at: DateTime<FixedOffset>,
}

/// The complaints listed.
#[derive(Debug, Clone, Object)]
pub struct ComplaintsOut {
    pub complaints: Vec<ComplaintOut>,
    /// The `after` of the next page; null on the last.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

fn complaint_out(v: ComplaintView, now: DateTime<Utc>) -> ComplaintOut {
    let overdue = v.overdue(now);
    let c = v.complaint;
    ComplaintOut {
        id: c.id,
        dossier_code: v.dossier_code,
        status: c.status.to_string(),
        text: c.text,
        due_at: local_time(c.due_at),
        overdue,
        answer: c.answer,
        answered_at: c.answered_at.map(local_time),
        created_at: local_time(c.created_at),
    }
}

#[derive(ApiResponse)]
enum IncidentResponse {
    /// Recorded; the citizen and the agency are told.
    #[oai(status = 201)]
    Created(Json<IncidentOut>),
}

#[derive(ApiResponse)]
enum ComplaintResponse {
    /// Filed, with its answer deadline.
    #[oai(status = 201)]
    Created(Json<ComplaintFiledOut>),
}

pub struct IncidentApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Dossiers")]
impl IncidentApi {
    /// Record a lost, damaged or delayed parcel of the dossier, with the compensation paid (Decision 45
    /// Art. 14). Post office, agency or administrator staff who may see the dossier. The timeline gets
    /// an `incident` event; the citizen and the agency are e-mailed.
    #[oai(path = "/dossiers/:code/incidents", method = "post")]
    async fn record_incident(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: Json<IncidentIn>,
    ) -> Result<IncidentResponse, ApiError> {
        let actor = require_credentials(&caller)?;
        let body = body.0;
        let request = IncidentRequest {
            kind: body.kind.0,
            leg: body.leg.0,
            note: body.note.0,
            compensation_vnd: body.compensation_vnd.0,
        };
        let recorded =
            domain::ops::incidents::record_incident(&state.store, actor, &code.0, &request).await?;
        Ok(IncidentResponse::Created(Json(incident_out(recorded))))
    }

    /// File a complaint about the dossier's carriage (Circular 17 Art. 8), with the dossier's access
    /// token. It is due for an answer within the configured working days (15 by default). At most
    /// three complaints about one dossier wait for an answer at once: a fourth is 409 `conflict`.
    #[oai(path = "/dossiers/:code/complaints", method = "post")]
    async fn file_complaint(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: Json<ComplaintIn>,
    ) -> Result<ComplaintResponse, ApiError> {
        let actor = require_credentials(&caller)?;
        let filed = domain::ops::complaints::file_complaint(
            &state.store,
            actor,
            &code.0,
            body.0.text.as_deref(),
            state.complaint_answer_days,
        )
        .await?;
        Ok(ComplaintResponse::Created(Json(ComplaintFiledOut {
            id: filed.complaint.id,
            status: filed.complaint.status.to_string(),
            due_at: local_time(filed.complaint.due_at),
        })))
    }

    /// The complaints to answer, oldest first, a page at a time: every one for administrators,
    /// those about the office's dossiers for a postal key. `status` = `open` | `answered`; `limit`
    /// complaints per page (1 to 500, default 100); `after` = the `next_cursor` of the page before,
    /// null on the last page. Complaints open past their deadline are flagged `overdue`. At most
    /// three complaints about one dossier wait for an answer at once.
    #[oai(path = "/complaints", method = "get")]
    async fn complaints(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// `open` or `answered`.
        #[oai(validator(pattern = r"^\s*(open|answered)?\s*$"))]
        status: Query<Option<String>>,
        /// Complaints per page, 1 to 500 (default 100).
        #[oai(validator(pattern = r"^\s*(0*([1-9][0-9]?|[1-4][0-9]{2}|500))?\s*$"))]
        limit: Query<Option<String>>,
        /// The `next_cursor` of the page before.
        #[oai(validator(pattern = r"^\s*([0-9]{1,18})?\s*$"))]
        after: Query<Option<String>>,
    ) -> Result<Json<ComplaintsOut>, ApiError> {
        use domain::ops::complaints::{DEFAULT_LISTED, MAX_LISTED};
        let actor = require_credentials(&caller)?;
        let status = match status.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(
                s.parse::<ComplaintStatus>()
                    .map_err(|_| ApiError::bad_request("`status` must be `open` or `answered`"))?,
            ),
        };
        let limit = super::page_limit(limit.0.as_deref(), DEFAULT_LISTED, MAX_LISTED)?;
        let after = match after.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                ApiError::bad_request("`after` must be the `next_cursor` of the page before")
            })?),
        };
        let now = domain::clock::now();
        let page = domain::ops::complaints::list_complaints(
            &state.store.read,
            actor,
            status,
            after,
            limit,
        )
        .await?;
        Ok(Json(ComplaintsOut {
            complaints: page
                .complaints
                .into_iter()
                .map(|v| complaint_out(v, now))
                .collect(),
            next_cursor: page.next_after.map(|id| id.to_string()),
        }))
    }

    /// Answer a complaint: it is closed and the answer is e-mailed to the citizen. Administrators, or
    /// the post office of the complaint's dossier.
    #[oai(path = "/complaints/:id/answer", method = "post")]
    async fn answer(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<i64>,
        body: Json<AnswerIn>,
    ) -> Result<Json<ComplaintOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let answered = domain::ops::complaints::answer_complaint(
            &state.store,
            actor,
            id.0,
            body.0.text.as_deref(),
        )
        .await?;
        Ok(Json(complaint_out(answered, domain::clock::now())))
    }
}
