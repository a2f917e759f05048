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
        })
    }

    /// The process can serve: its database answers.
    #[oai(path = "/ready", method = "get")]
    async fn ready(&self, state: Data<&AppState>) -> ReadyResponse {
        match readiness(&state.store).await {
            (StatusCode::OK, out) => ReadyResponse::Ready(Json(out)),
            (_, out) => ReadyResponse::NotReady(Json(out)),
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
            },
        ),
        Err(err) => {
            tracing::warn!(error.cause = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                HealthOut {
                    status: "database unavailable".into(),
                },
            )
        }
    }
}
