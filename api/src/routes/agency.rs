//! The agency's desk (role `agency`, API.md "Agency operations"): the worklist of the agency's dossiers,
//! the desk's ruling on a received dossier, the result being ready, and a `send` dossier's result
//! collected in person.

use chrono::{DateTime, FixedOffset, Utc};
use domain::ops::access::Actor;
use domain::ops::agency::{
    CollectedRequest, MAX_WORKLIST_PAGE, VerdictRequest, WorklistCursor, WorklistItem,
    WorklistQuery,
};
use entity::enums::DossierStatus;
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::dossiers::{DossierOut, LegOut, dossier_out};
use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::optional_json::OptionalJson;
use crate::state::AppState;

/// The desk's ruling.
#[derive(Debug, Clone, Object)]
pub struct VerdictIn {
    /// `accepted` | `supplement_requested` | `rejected`.
    #[oai(nullable)]
    pub decision: Option<String>,
    /// Required to request supplements or to refuse: what is wrong, or why the dossier is refused.
    #[oai(nullable)]
    pub reason: Option<String>,
    /// The date on the appointment slip (`YYYY-MM-DD`), when the agency sets it.
    #[oai(nullable)]
    pub result_due_date: Option<String>,
    /// With `supplement_requested`: the documents the citizen must still bring, one name each. They
    /// head the timeline note and the citizen's e-mail.
    #[oai(nullable)]
    pub missing_documents: Option<Vec<String>>,
}

/// A note on the result.
#[derive(Debug, Clone, Object, serde::Deserialize)]
pub struct ResultIn {
    #[oai(nullable)]
    pub note: Option<String>,
}

/// The result collected at the desk.
#[derive(Debug, Clone, Object, serde::Deserialize)]
pub struct CollectedIn {
    /// For the timeline; no personal data.
    #[oai(nullable)]
    pub note: Option<String>,
}

/// A dossier on the agency's worklist.
#[derive(Debug, Clone, Object)]
pub struct WorklistItemOut {
    pub code: String,
    pub status: String,
    pub service_mode: String,
    pub procedure_code: String,
    pub agency_code: String,
    /// `accepted` or `rejected`, once the agency has ruled.
    #[oai(nullable)]
    pub outcome: Option<String>,
    pub with_appointment: bool,
    /// The legal filing time: when the handover record to the agency was signed (or the desk receipt).
    #[oai(nullable)]
    pub filed_at: Option<DateTime<FixedOffset>>,
    /// The agency's deadline.
    #[oai(nullable)]
    pub result_due_at: Option<DateTime<FixedOffset>>,
    /// A deadline (the agency's, or a parcel's) has passed with its work undone.
    pub overdue: bool,
    /// The parcels, inbound first.
    pub legs: Vec<LegOut>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
}

/// A page of the worklist.
#[derive(Debug, Clone, Object)]
pub struct WorklistOut {
    /// In registration order.
    pub items: Vec<WorklistItemOut>,
    /// Pass it as `after` for the next page; `null` when this page is the last.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

fn worklist_item_out(item: WorklistItem) -> WorklistItemOut {
    let d = item.dossier;
    WorklistItemOut {
        code: d.code,
        status: d.status.to_string(),
        service_mode: d.service_mode.to_string(),
        procedure_code: d.procedure_code,
        agency_code: d.agency_code,
        outcome: d.outcome,
        with_appointment: d.with_appointment,
        filed_at: d.filed_at.map(local_time),
        result_due_at: d.result_due_at.map(local_time),
        overdue: item.overdue,
        legs: item
            .legs
            .into_iter()
            .map(super::dossiers::leg_out)
            .collect(),
        created_at: local_time(d.created_at),
        updated_at: local_time(d.updated_at),
    }
}

/// The query parameters of the worklist as they arrived.
struct WorklistParams {
    agency: Option<String>,
    status: Option<String>,
    overdue: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

/// Reads the worklist's query parameters; anything unreadable is a `400 bad_request` naming it.
fn worklist_query(params: WorklistParams) -> Result<WorklistQuery, ApiError> {
    let mut query = WorklistQuery::default();
    let present = |v: Option<String>| {
        v.map(|v| v.trim().to_owned())
            .filter(|v: &String| !v.is_empty())
    };
    query.agency = present(params.agency);
    if let Some(list) = present(params.status) {
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let status = name.parse::<DossierStatus>().map_err(|_| {
                ApiError::bad_request(format!(
                    "`status` takes a comma-separated list of: {}",
                    DossierStatus::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            if !query.statuses.contains(&status) {
                query.statuses.push(status);
            }
        }
    }
    query.overdue = match present(params.overdue).as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::bad_request("`overdue` must be `true` or `false`")),
    };
    if let Some(limit) = present(params.limit) {
        query.limit = super::page_limit(Some(&limit), query.limit, MAX_WORKLIST_PAGE)?;
    }
    if let Some(after) = present(params.after) {
        query.after = Some(WorklistCursor::decode(&after).ok_or_else(|| {
            ApiError::bad_request("`after` must be a `next_cursor` of an earlier page")
        })?);
    }
    Ok(query)
}

fn require_credentials(caller: &Caller) -> Result<&Actor, ApiError> {
    if caller.0 == Actor::Public {
        return Err(ApiError::unauthorized(
            "send an agency key: `Authorization: Bearer dk_…`",
        ));
    }
    Ok(&caller.0)
}

async fn dossier_answer(
    state: &AppState,
    actor: &Actor,
    code: &str,
) -> Result<Json<DossierOut>, ApiError> {
    let record = domain::ops::dossier_record::view_dossier(&state.store.read, actor, code).await?;
    Ok(Json(dossier_out(record, Utc::now())))
}

pub struct AgencyApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Agency")]
impl AgencyApi {
    /// The agency's worklist: its dossiers in registration order, a page at a time. An agency key sees
    /// its own agency's dossiers; an administrator names one with `agency`, or sees every agency's.
    #[oai(path = "/agency/dossiers", method = "get")]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per query parameter, as the OpenAPI document lists them"
    )]
    async fn worklist(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// Only dossiers in these statuses, comma-separated (e.g. `received_by_agency,processing`).
        #[oai(validator(
            pattern = r"^\s*(pickup_requested|pickup_scheduled|pickup_failed|picked_up|in_transit|received_by_agency|processing|supplement_requested|rejected|awaiting_result|result_ready|result_with_post|out_for_delivery|delivery_failed|delivered|returned_to_agency|collected_in_person|cancelled)?(\s*,\s*(pickup_requested|pickup_scheduled|pickup_failed|picked_up|in_transit|received_by_agency|processing|supplement_requested|rejected|awaiting_result|result_ready|result_with_post|out_for_delivery|delivery_failed|delivered|returned_to_agency|collected_in_person|cancelled)?)*\s*$"
        ))]
        status: Query<Option<String>>,
        /// `true`: only dossiers with a passed deadline; `false`: only those on time.
        #[oai(validator(pattern = r"^\s*(true|false)?\s*$"))]
        overdue: Query<Option<String>>,
        /// Dossiers per page, 1 to 200 (default 50).
        #[oai(validator(pattern = r"^\s*(0*([1-9][0-9]?|1[0-9]{2}|200))?\s*$"))]
        limit: Query<Option<String>>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// An administrator's choice of agency; an agency key may name only its own.
        agency: Query<Option<String>>,
    ) -> Result<Json<WorklistOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let query = worklist_query(WorklistParams {
            agency: agency.0,
            status: status.0,
            overdue: overdue.0,
            limit: limit.0,
            after: after.0,
        })?;
        let now = domain::clock::now();
        let page =
            domain::ops::agency::list_worklist(&state.store.read, actor, &query, now).await?;
        Ok(Json(WorklistOut {
            items: page.items.into_iter().map(worklist_item_out).collect(),
            next_cursor: page.next_cursor.map(WorklistCursor::encode),
        }))
    }

    /// Rule on a received dossier: accepted for processing, supplements requested (naming the missing
    /// documents), or refused with reasons.
    #[oai(path = "/dossiers/:code/verdict", method = "post")]
    async fn verdict(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: Json<VerdictIn>,
    ) -> Result<Json<DossierOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let request = VerdictRequest {
            decision: body.0.decision,
            reason: body.0.reason,
            result_due_date: body.0.result_due_date,
            missing_documents: body.0.missing_documents,
        };
        domain::ops::agency::record_verdict(&state.store, actor, &code.0, &request).await?;
        dossier_answer(&state, actor, &code.0).await
    }

    /// The result (or the written refusal) is ready: `result_ready`.
    #[oai(path = "/dossiers/:code/result", method = "post")]
    async fn result(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: OptionalJson<ResultIn>,
    ) -> Result<Json<DossierOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let note = body.0.and_then(|b| b.note);
        domain::ops::agency::record_result(&state.store, actor, &code.0, note.as_deref()).await?;
        dossier_answer(&state, actor, &code.0).await
    }

    /// The citizen collected the result at the desk: `collected_in_person` (mode `send`, after
    /// `result_ready`).
    #[oai(path = "/dossiers/:code/collected", method = "post")]
    async fn collected(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
        body: OptionalJson<CollectedIn>,
    ) -> Result<Json<DossierOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let request = CollectedRequest {
            note: body.0.and_then(|b| b.note),
        };
        domain::ops::agency::mark_collected(&state.store, actor, &code.0, &request).await?;
        dossier_answer(&state, actor, &code.0).await
    }
}
