//! Integration administration (admin key only): agency systems' webhooks, and the outbox of e-mails and
//! webhook deliveries — above all the ones that failed for good, so an administrator sees them, fixes
//! the cause and puts them back in the queue.
//!
//! A webhook's secret goes in once, at registration, and never comes out: no answer carries it.

use domain::ops::access::Actor;
use domain::ops::webhooks::{WebhookRequest, WebhookView};
use entity::enums::{OutboxStatus, Role};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use secrecy::SecretString;

use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A webhook to register. No `Debug`: the secret must not be printable.
#[derive(Object)]
pub struct WebhookIn {
    /// Where deliveries are POSTed: an `https://` URL of a public address (no credentials; not
    /// loopback, private, link-local or metadata addresses), unless the service runs on a closed
    /// network (`DOSSIER__WEBHOOKS__ALLOW_PRIVATE_NETWORKS=true`).
    #[oai(nullable)]
    pub url: Option<String>,
    /// The key of the deliveries' HMAC-SHA256 signature, at least 16 characters. Stored to sign
    /// with; never shown again.
    #[oai(nullable)]
    pub secret: Option<String>,
    /// The agency whose dossiers' timeline events are delivered.
    #[oai(nullable)]
    pub agency_code: Option<String>,
}

/// A registered webhook, without its secret.
#[derive(Debug, Object)]
pub struct WebhookOut {
    pub id: i64,
    pub agency_code: String,
    pub url: String,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
}

impl From<WebhookView> for WebhookOut {
    fn from(w: WebhookView) -> Self {
        Self {
            id: w.id,
            agency_code: w.agency_code,
            url: w.url,
            active: w.active,
            created_at: local_time(w.created_at),
        }
    }
}

#[derive(ApiResponse)]
enum RegisterResponse {
    /// Registered; every later timeline event of the agency's dossiers is delivered to it.
    #[oai(status = 201)]
    Created(Json<WebhookOut>),
}

/// One outbox row as administrators see it: what, for which dossier, how it went. The payload (which
/// holds the recipient's address) is not shown.
#[derive(Debug, Object)]
pub struct OutboxRowOut {
    pub id: i64,
    /// `email` or `webhook`.
    pub kind: String,
    #[oai(nullable)]
    pub dossier_code: Option<String>,
    /// `pending`, `done` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: chrono::DateTime<chrono::FixedOffset>,
    /// Why the last attempt failed.
    #[oai(nullable)]
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    #[oai(nullable)]
    pub done_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// The row put back in the queue.
#[derive(Debug, Object)]
pub struct RequeuedOut {
    pub id: i64,
    pub status: String,
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

pub struct WebhookApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Integration")]
impl WebhookApi {
    /// Register an agency system's webhook: each timeline event of the agency's dossiers is POSTed to
    /// `url` as JSON, signed `X-Dossier-Signature: sha256=<hex HMAC-SHA256 of the body keyed with the
    /// secret>`, with `X-Dossier-Delivery` (an id to dedupe by) and `X-Dossier-Timestamp` (also in the
    /// signed body, against replays); any answer but 2xx is retried with backoff.
    #[oai(path = "/webhooks", method = "post")]
    async fn register(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<WebhookIn>,
    ) -> Result<RegisterResponse, ApiError> {
        let actor = require_admin(&caller)?;
        let body = body.0;
        let request = WebhookRequest {
            url: body.url,
            secret: body.secret.map(SecretString::from),
            agency_code: body.agency_code,
            allow_private_networks: state.allow_private_webhooks,
        };
        let txn = sea_orm::TransactionTrait::begin(&state.store.write)
            .await
            .map_err(ApiError::from)?;
        let view = domain::ops::webhooks::register_webhook(&txn, actor, &request).await?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(RegisterResponse::Created(Json(view.into())))
    }

    /// Registered webhooks (never their secrets).
    #[oai(path = "/webhooks", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<Json<Vec<WebhookOut>>, ApiError> {
        let actor = require_admin(&caller)?;
        let hooks = domain::ops::webhooks::list_webhooks(&state.store.read, actor).await?;
        Ok(Json(hooks.into_iter().map(Into::into).collect()))
    }

    /// E-mails and webhook deliveries, newest first; `?status=failed` lists those given up after
    /// their last attempt.
    #[oai(path = "/outbox", method = "get")]
    async fn outbox(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// `pending`, `done` or `failed`.
        #[oai(validator(pattern = r"^\s*(pending|done|failed)?\s*$"))]
        status: Query<Option<String>>,
        #[oai(validator(minimum(value = "0")))] limit: Query<Option<u64>>,
    ) -> Result<Json<Vec<OutboxRowOut>>, ApiError> {
        require_admin(&caller)?;
        let status = match status.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(s.parse::<OutboxStatus>().map_err(|_| {
                ApiError::bad_request("status must be one of: pending, done, failed")
            })?),
        };
        let rows =
            domain::ops::outbox::list(&state.store.read, status, limit.0.unwrap_or(100)).await?;
        Ok(Json(
            rows.into_iter()
                .map(|(r, dossier_code)| OutboxRowOut {
                    id: r.id,
                    kind: r.kind,
                    dossier_code,
                    status: r.status.as_str().to_owned(),
                    attempts: r.attempts,
                    next_attempt_at: local_time(r.next_attempt_at),
                    last_error: r.last_error,
                    created_at: local_time(r.created_at),
                    done_at: r.done_at.map(local_time),
                })
                .collect(),
        ))
    }

    /// Put a failed delivery back in the queue, with a fresh count of attempts.
    #[oai(path = "/outbox/:id/retry", method = "post")]
    async fn retry(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<i64>,
    ) -> Result<Json<RequeuedOut>, ApiError> {
        let actor = require_admin(&caller)?;
        if domain::ops::webhooks::requeue_delivery(&state.store.write, actor, id.0).await? {
            Ok(Json(RequeuedOut {
                id: id.0,
                status: OutboxStatus::Pending.as_str().to_owned(),
            }))
        } else {
            Err(ApiError::not_found("no failed delivery with this id"))
        }
    }
}
