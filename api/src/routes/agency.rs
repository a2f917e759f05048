//! Agency operations needed by the chain of custody (API.md "Agency operations"): the desk's ruling on
//! a received dossier, and the result being ready.

use chrono::Utc;
use domain::ops::access::Actor;
use domain::ops::agency::VerdictRequest;
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};

use super::ApiTags;
use super::dossiers::{DossierOut, dossier_out};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::optional_json::OptionalJson;
use crate::state::AppState;

/// The desk's ruling.
#[derive(Debug, Clone, Object)]
pub struct VerdictIn {
    /// `accepted` | `supplement_requested` | `rejected`.
    pub decision: Option<String>,
    /// Required to request supplements or to refuse.
    pub reason: Option<String>,
    /// The date on the appointment slip (`YYYY-MM-DD`), when the agency sets it.
    pub result_due_date: Option<String>,
}

/// A note on the result.
#[derive(Debug, Clone, Object, serde::Deserialize)]
pub struct ResultIn {
    pub note: Option<String>,
}

fn require_credentials(caller: &Caller) -> Result<&Actor, ApiError> {
    if caller.0 == Actor::Public {
        return Err(ApiError::unauthorized(
            "send an agency key: `Authorization: Bearer dk_…`",
        ));
    }
    Ok(&caller.0)
}

pub struct AgencyApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Agency")]
impl AgencyApi {
    /// Rule on a received dossier: accepted for processing, supplements requested, or refused.
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
        };
        domain::ops::agency::record_verdict(&state.store, actor, &code.0, &request).await?;
        let record = domain::ops::dossiers::view_dossier(&state.store.read, actor, &code.0).await?;
        Ok(Json(dossier_out(record, Utc::now())))
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
        let record = domain::ops::dossiers::view_dossier(&state.store.read, actor, &code.0).await?;
        Ok(Json(dossier_out(record, Utc::now())))
    }
}
