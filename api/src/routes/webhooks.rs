//! Integration administration (admin key only): agency systems' webhooks, and the outbox of e-mails and
//! webhook deliveries — above all the ones that failed for good, so an administrator sees them, fixes
//! the cause and puts them back in the queue.
//!
//! A webhook's secret goes in at registration (or a rotation) and never comes out: no answer carries
//! it. Each webhook's attempts are listed with their HTTP status, never what the receiver answered.

use domain::ops::access::Actor;
use domain::ops::webhooks::{AttemptView, WebhookRequest, WebhookView};
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
    /// The same as `enabled` (kept for existing clients).
    pub active: bool,
    /// Whether new events are delivered to it. A webhook is disabled when its receiver answers 410
    /// Gone or a delivery's retries run out; `POST /api/v1/admin/webhooks/{id}/enable` enables it.
    pub enabled: bool,
    pub disabled_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    /// When the signing key was last rotated (`rotate-secret`).
    pub rotated_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Until when the key before the last rotation still signs beside the new one, if it still does.
    pub previous_key_expires_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

impl From<WebhookView> for WebhookOut {
    fn from(w: WebhookView) -> Self {
        Self {
            id: w.id,
            agency_code: w.agency_code,
            url: w.url,
            active: w.active,
            enabled: w.active,
            disabled_at: w.disabled_at.map(local_time),
            disabled_reason: w.disabled_reason,
            created_at: local_time(w.created_at),
            rotated_at: w.secret_rotated_at.map(local_time),
            previous_key_expires_at: w.previous_secret_expires_at.map(local_time),
        }
    }
}

/// A new secret for a webhook. No `Debug`: the secret must not be printable.
#[derive(Object)]
pub struct RotateSecretIn {
    /// The new key of the signatures, at least 16 characters (`whsec_<base64>` is decoded first).
    /// For 24 hours the previous secret signs too.
    pub secret: Option<String>,
}

/// One attempt at a delivery: how it ended and the HTTP status; never what the receiver answered.
#[derive(Debug, Object)]
pub struct DeliveryAttemptOut {
    /// Pass as `after` to read on from this attempt.
    pub cursor: String,
    /// The outbox row of the delivery (`POST /api/v1/admin/outbox/{id}/retry` requeues it once failed).
    pub outbox_id: i64,
    /// The delivery id (`webhook-id`), the same on every attempt of one delivery.
    pub delivery_id: String,
    /// 1 for the first attempt of the delivery.
    pub attempt: i32,
    pub attempted_at: chrono::DateTime<chrono::FixedOffset>,
    /// `delivered`, `failed`, `gone` (410), `timeout`, `unreachable` or `refused` (not a public
    /// address).
    pub outcome: String,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<i32>,
    /// Why it failed, in the service's words.
    pub error: Option<String>,
    pub elapsed_ms: Option<i64>,
    /// When the next attempt was scheduled, after a failure that is retried.
    pub next_attempt_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The delivery's state now: `pending`, `done` or `failed`.
    pub delivery_status: Option<String>,
}

impl From<AttemptView> for DeliveryAttemptOut {
    fn from(a: AttemptView) -> Self {
        Self {
            cursor: a.cursor,
            outbox_id: a.outbox_id,
            delivery_id: a.delivery_id,
            attempt: a.attempt,
            attempted_at: local_time(a.attempted_at),
            outcome: a.outcome.as_str().to_owned(),
            http_status: a.http_status,
            error: a.error,
            elapsed_ms: a.elapsed_ms,
            next_attempt_at: a.next_attempt_at.map(local_time),
            delivery_status: a.delivery_status.map(|s| s.as_str().to_owned()),
        }
    }
}

/// A page of a webhook's delivery attempts.
#[derive(Debug, Object)]
pub struct DeliveryAttemptPageOut {
    pub attempts: Vec<DeliveryAttemptOut>,
    /// Pass as `after` for the next page; an empty page keeps it where it was.
    pub next_cursor: String,
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
    /// secret>` and per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`),
    /// with `X-Dossier-Delivery` (an id to dedupe by) and `X-Dossier-Timestamp` (also in the signed
    /// body, against replays). Any answer but 2xx is retried 9 times over about three days (5 s,
    /// 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h, with jitter; a longer `Retry-After` is
    /// honoured up to 24 h); 410 Gone, or retries run out, disables the webhook.
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

    /// One webhook (never its secret).
    #[oai(path = "/webhooks/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<i64>,
    ) -> Result<Json<WebhookOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let hook = domain::ops::webhooks::get_webhook(&state.store.read, actor, id.0).await?;
        Ok(Json(hook.into()))
    }

    /// Replace a webhook's secret. For 24 hours deliveries are signed with both the new and the
    /// previous secret (`webhook-signature: v1,<new> v1,<previous>`), so the receiver can switch
    /// over without losing one; after that with the new one only. `X-Dossier-Signature` uses the
    /// new one at once. Audited as `webhook.rotate`.
    #[oai(path = "/webhooks/:id/rotate-secret", method = "post")]
    async fn rotate_secret(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<i64>,
        body: Json<RotateSecretIn>,
    ) -> Result<Json<WebhookOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let secret = body.0.secret.map(SecretString::from);
        let txn = sea_orm::TransactionTrait::begin(&state.store.write)
            .await
            .map_err(ApiError::from)?;
        let view = domain::ops::webhooks::rotate_secret(&txn, actor, id.0, secret.as_ref()).await?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(Json(view.into()))
    }

    /// Enable a webhook that was disabled (by a 410 from its receiver, or retries run out): the
    /// events that follow are delivered again. Deliveries stopped while it was disabled stay
    /// `failed` in the outbox; requeue the ones still wanted. Audited as `webhook.enable`.
    #[oai(path = "/webhooks/:id/enable", method = "post")]
    async fn enable(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<i64>,
    ) -> Result<Json<WebhookOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let txn = sea_orm::TransactionTrait::begin(&state.store.write)
            .await
            .map_err(ApiError::from)?;
        let view = domain::ops::webhooks::enable_webhook(&txn, actor, id.0).await?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(Json(view.into()))
    }

    /// Every attempt at delivering to a webhook, oldest first: when, how it ended, the HTTP status
    /// (never the receiver's body). Paged like the audit trail: `after` a `next_cursor`, `limit`
    /// 1–500 (default 100).
    #[oai(path = "/webhooks/:id/deliveries", method = "get")]
    async fn deliveries(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<i64>,
        after: Query<Option<String>>,
        /// Attempts per page, 1 to 500 (outside: 422 `validation_failed`, as for the cursor).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<crate::checked::Optional<u64>>,
    ) -> Result<Json<DeliveryAttemptPageOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let page = domain::ops::webhooks::list_attempts(
            &state.store.read,
            actor,
            id.0,
            after.0.as_deref(),
            limit.0.0,
        )
        .await?;
        Ok(Json(DeliveryAttemptPageOut {
            attempts: page.attempts.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }))
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
