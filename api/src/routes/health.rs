//! Liveness and readiness probes.

use domain::store::Store;
use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::ApiTags;
use crate::state::AppState;

/// A probe's answer.
#[derive(Debug, Object, serde::Serialize)]
pub struct HealthOut {
    pub status: String,
    /// On `/health/ready` of the service: `on` when a carrier is configured and its tracking feed is
    /// read, `off` when none is (the service still serves; parcels then move by scans only).
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_sync: Option<String>,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// The database answers.
    #[oai(status = 200)]
    Ready(Json<HealthOut>),
    /// The database does not answer.
    #[oai(status = 503)]
    NotReady(Json<HealthOut>),
}

pub struct HealthApi;

#[OpenApi(prefix_path = "/health", tag = "ApiTags::Operations")]
impl HealthApi {
    /// The process is up.
    #[oai(path = "/live", method = "get")]
    async fn live(&self) -> Json<HealthOut> {
        Json(HealthOut {
            status: "ok".into(),
            carrier_sync: None,
        })
    }

    /// The process can serve: its database answers. `carrier_sync` says whether a carrier is
    /// configured (`on`) or not (`off`); either way the answer is 200 while the database answers.
    #[oai(path = "/ready", method = "get")]
    async fn ready(&self, state: Data<&AppState>) -> ReadyResponse {
        let (status, mut out) = readiness(&state.store).await;
        out.carrier_sync = Some(if state.carrier_sync { "on" } else { "off" }.to_owned());
        match status {
            StatusCode::OK => ReadyResponse::Ready(Json(out)),
            _ => ReadyResponse::NotReady(Json(out)),
        }
    }
}

/// Whether the process can serve: 200 when its database answers, 503 when it does not.
pub async fn readiness(store: &Store) -> (StatusCode, HealthOut) {
    match store.read.ping().await {
        Ok(()) => (
            StatusCode::OK,
            HealthOut {
                status: "ok".into(),
                carrier_sync: None,
            },
        ),
        Err(err) => {
            tracing::warn!(error.cause = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                HealthOut {
                    status: "database unavailable".into(),
                    carrier_sync: None,
                },
            )
        }
    }
}
