//! Webhooks of agency systems (the national integration platform's side): an administrator registers
//! a URL and a shared secret for one agency; from then on every timeline event of that agency's
//! dossiers is delivered there through the outbox, signed with the secret.
//!
//! The secret is stored because signing needs it; it is never returned, listed or logged. A secret is
//! rotated with [`rotate_secret`]: for [`PREVIOUS_SECRET_VALIDITY`] both the new and the previous one
//! sign, so the receiver can switch over without losing a delivery.
//!
//! Every attempt at a delivery is recorded ([`record_attempt`]): when, the HTTP status (never the
//! receiver's body), how it ended. Failed attempts come back on the schedule of
//! [`crate::webhook_retry`]. A webhook is disabled at once when its receiver answers 410 Gone, and
//! when a delivery's retries run out; then its pending deliveries are stopped — marked `failed`, with
//! a last error saying the webhook was disabled, and kept listed so an administrator can requeue them
//! — and, when retries ran out, `DOSSIER__ALERTS__EMAIL` is e-mailed through the outbox, at most once
//! a day per webhook. [`enable_webhook`] switches it back on for the deliveries that follow.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::enums::{OutboxStatus, Role, WebhookAttemptOutcome};
use entity::{agency, outbox, webhook, webhook_delivery_attempt};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use secrecy::{ExposeSecret, SecretString};

use super::OpError;
use super::access::Actor;
use super::audit::{AuditActor, AuditRecord};
use super::outbox::{DeliveryKind, EmailPayload, Notice, Recipient, WebhookPayload};
use super::validation::Checker;
use crate::store::Store;
use crate::webhook_retry::WebhookRetrySchedule;

/// How long the previous secret still signs after a rotation.
pub const PREVIOUS_SECRET_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// The shortest time between two alert e-mails about one webhook.
pub const ALERT_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The most attempts one page of a webhook's deliveries holds.
pub const MAX_PAGE: u64 = 500;
/// Attempts per page when no `limit` is given.
pub const DEFAULT_PAGE: u64 = 100;

/// The shortest secret accepted: HMAC-SHA256 keys shorter than this are guessable.
pub const MIN_SECRET_CHARS: usize = 16;
/// The longest secret accepted.
pub const MAX_SECRET_CHARS: usize = 256;
/// The longest URL accepted.
pub const MAX_URL_CHARS: usize = 2000;

/// A registration as it arrived.
#[derive(Debug, Default)]
pub struct WebhookRequest {
    pub url: Option<String>,
    pub secret: Option<SecretString>,
    pub agency_code: Option<String>,
    /// Whether non-public targets are allowed (`DOSSIER__WEBHOOKS__ALLOW_PRIVATE_NETWORKS`).
    pub allow_private_networks: bool,
}

/// A registered webhook as administrators see it: everything but the secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookView {
    pub id: i64,
    pub agency_code: String,
    pub url: String,
    /// Enabled: new events are delivered to it.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub secret_rotated_at: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation still signs, when it still does.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl From<webhook::Model> for WebhookView {
    fn from(w: webhook::Model) -> Self {
        let now = crate::clock::now();
        Self {
            id: w.id,
            agency_code: w.agency_code,
            url: w.url,
            active: w.active,
            created_at: w.created_at,
            disabled_at: w.disabled_at,
            disabled_reason: w.disabled_reason,
            secret_rotated_at: w.secret_rotated_at,
            previous_secret_expires_at: w
                .previous_secret_expires_at
                .filter(|until| w.previous_secret.is_some() && *until > now),
        }
    }
}

/// The secrets that sign a delivery to `hook` at `now`: the current one, then the previous one while
/// it is still valid after a rotation.
pub fn signing_secrets(hook: &webhook::Model, now: DateTime<Utc>) -> Vec<&str> {
    let mut secrets = vec![hook.secret.as_str()];
    if let (Some(previous), Some(until)) = (&hook.previous_secret, hook.previous_secret_expires_at)
        && until > now
    {
        secrets.push(previous.as_str());
    }
    secrets
}

fn admin(actor: &Actor) -> Result<(), OpError> {
    actor
        .staff_with_role(Role::Admin)
        .map(|_| ())
        .ok_or_else(|| OpError::Forbidden("webhooks are managed with an admin key".into()))
}

/// Why a webhook URL is not acceptable, if it is not. It must be an absolute `https://` URL naming a
/// host, without credentials, whose host is not a non-public address ([`crate::net::is_public_ip`]) nor
/// `localhost`. With `allow_private_networks` (a closed network), `http://`, credentials and
/// non-public hosts are accepted. Host names are checked again when a delivery connects: the address
/// connected to must be public.
pub fn check_url(url: &str, allow_private_networks: bool) -> Result<(), &'static str> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err("is too long");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters");
    }
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("https://") && !lower.starts_with("http://") {
        return Err("must be an https:// URL");
    }
    // Parsed as the delivering HTTP client parses it, so `http://2130706433/` is 127.0.0.1 here too.
    let parsed = url::Url::parse(url).map_err(|_| "is not a valid URL")?;
    let Some(host) = parsed.host() else {
        return Err("must name a host");
    };
    if allow_private_networks {
        return Ok(());
    }
    if parsed.scheme() != "https" {
        return Err("must be an https:// URL");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials");
    }
    let public = match host {
        url::Host::Ipv4(ip) => crate::net::is_public_ip(ip.into()),
        url::Host::Ipv6(ip) => crate::net::is_public_ip(ip.into()),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name.contains('.') && name != "localhost" && !name.ends_with(".localhost")
        }
    };
    if public {
        Ok(())
    } else {
        Err("must reach a public address (not loopback, private, link-local or metadata)")
    }
}

/// The secret, when it is acceptable (16 to 256 characters); otherwise the failure is noted on
/// `secret`.
fn check_secret(c: &mut Checker, secret: Option<&SecretString>) -> Option<String> {
    let Some(s) = secret else {
        c.fail("secret", "is required");
        return None;
    };
    let n = s.expose_secret().chars().count();
    if n < MIN_SECRET_CHARS {
        c.fail(
            "secret",
            format!("must be at least {MIN_SECRET_CHARS} characters"),
        );
        None
    } else if n > MAX_SECRET_CHARS {
        c.fail(
            "secret",
            format!("must be at most {MAX_SECRET_CHARS} characters"),
        );
        None
    } else if s.expose_secret().trim().is_empty() {
        c.fail("secret", "must not be blank");
        None
    } else {
        Some(s.expose_secret().to_owned())
    }
}

/// Registers a webhook for an agency (admin key only).
#[tracing::instrument(skip_all)]
pub async fn register_webhook(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    request: &WebhookRequest,
) -> Result<WebhookView, OpError> {
    admin(actor)?;
    let mut c = Checker::new();
    let url = c.required_text("url", request.url.as_deref(), MAX_URL_CHARS);
    if let Some(url) = &url
        && let Err(msg) = check_url(url, request.allow_private_networks)
    {
        c.fail("url", msg);
    }
    let secret = check_secret(&mut c, request.secret.as_ref());
    let agency_code = c.required_text("agency_code", request.agency_code.as_deref(), 50);
    if let Some(code) = &agency_code
        && agency::Entity::find_by_id(code.clone())
            .one(conn)
            .await?
            .is_none()
    {
        c.fail("agency_code", "is not a known agency");
    }
    c.finish().map_err(OpError::Validation)?;
    let (Some(url), Some(secret), Some(agency_code)) = (url, secret, agency_code) else {
        return Err(OpError::Validation(vec![]));
    };
    let saved = webhook::ActiveModel {
        agency_code: Set(agency_code),
        url: Set(url),
        secret: Set(secret),
        active: Set(true),
        created_by: Set(actor.audit_name()),
        created_at: Set(crate::clock::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    super::audit::record(
        conn,
        super::audit::AuditRecord {
            actor: actor.into(),
            entity: "webhook",
            code: &saved.id.to_string(),
            action: "register",
            before: None,
            // The secret is left out; the URL may carry a token in its path, so only its origin is kept.
            after: Some(serde_json::json!({
                "agency_code": saved.agency_code,
                "url_origin": url_origin(&saved.url),
                "active": saved.active,
            })),
        },
    )
    .await?;
    tracing::info!(webhook.id = saved.id, agency.code = %saved.agency_code, "webhook registered");
    Ok(saved.into())
}

/// `scheme://host[:port]` of a URL, without credentials, path or query.
fn url_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}")
}

/// Puts the failed outbox row `id` back in the queue and audits it, in one transaction (admin key
/// only). `false` when there is no failed row with that id.
pub async fn requeue_delivery(
    conn: &sea_orm::DatabaseConnection,
    actor: &Actor,
    id: i64,
) -> Result<bool, OpError> {
    admin(actor)?;
    let txn = sea_orm::TransactionTrait::begin(conn).await?;
    if !super::outbox::requeue(&txn, id).await? {
        return Ok(false);
    }
    super::audit::record(
        &txn,
        super::audit::AuditRecord {
            actor: actor.into(),
            entity: "outbox",
            code: &id.to_string(),
            action: "requeue",
            before: Some(serde_json::json!({"status": "failed"})),
            after: Some(serde_json::json!({"status": "pending"})),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// The webhook `id`, or `NotFound`.
async fn find(conn: &impl ConnectionTrait, id: i64) -> Result<webhook::Model, OpError> {
    webhook::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(OpError::NotFound("webhook"))
}

/// The webhook a delivery goes to, read when it is sent (so a disabled one gets nothing more and a
/// rotated secret signs at once); `None` when it is gone or disabled.
pub async fn active_webhook(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<webhook::Model>, DbErr> {
    Ok(webhook::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|h| h.active))
}

/// One webhook, without its secrets (admin key only).
pub async fn get_webhook(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: i64,
) -> Result<WebhookView, OpError> {
    admin(actor)?;
    Ok(find(conn, id).await?.into())
}

/// Replaces a webhook's secret (admin key only). For [`PREVIOUS_SECRET_VALIDITY`] the secret it
/// replaces still signs beside the new one (`webhook-signature` carries both, the new first); after
/// that only the new one. A second rotation within the day drops the oldest secret. The secret is
/// validated like at registration; nothing changes when it is refused. Audited as `webhook.rotate`,
/// without secrets.
#[tracing::instrument(skip_all, fields(webhook.id = id))]
pub async fn rotate_secret(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: i64,
    secret: Option<&SecretString>,
) -> Result<WebhookView, OpError> {
    admin(actor)?;
    let hook = find(conn, id).await?;
    let mut c = Checker::new();
    let secret = check_secret(&mut c, secret);
    c.finish().map_err(OpError::Validation)?;
    let Some(secret) = secret else {
        return Err(OpError::Validation(vec![]));
    };
    let now = crate::clock::now();
    let until = now
        + chrono::Duration::from_std(PREVIOUS_SECRET_VALIDITY).unwrap_or(chrono::Duration::days(1));
    let before = serde_json::json!({
        "rotated_at": hook.secret_rotated_at,
    });
    let mut change: webhook::ActiveModel = hook.clone().into();
    change.previous_secret = Set(Some(hook.secret.clone()));
    change.previous_secret_expires_at = Set(Some(until));
    change.secret_rotated_at = Set(Some(now));
    change.secret = Set(secret);
    let saved = change.update(conn).await?;
    super::audit::record(
        conn,
        AuditRecord {
            actor: actor.into(),
            entity: "webhook",
            code: &saved.id.to_string(),
            action: "rotate",
            before: Some(before),
            after: Some(serde_json::json!({
                "rotated_at": saved.secret_rotated_at,
                "previous_key_expires_at": saved.previous_secret_expires_at,
            })),
        },
    )
    .await?;
    tracing::info!("webhook secret rotated");
    Ok(saved.into())
}

/// Switches a disabled webhook back on (admin key only): the events that follow are delivered again.
/// The deliveries stopped when it was disabled stay `failed` and listed; an administrator requeues
/// the ones still wanted (`POST /api/v1/admin/outbox/{id}/retry`). Audited as `webhook.enable` when
/// it was disabled; enabling an enabled webhook changes nothing.
#[tracing::instrument(skip_all, fields(webhook.id = id))]
pub async fn enable_webhook(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: i64,
) -> Result<WebhookView, OpError> {
    admin(actor)?;
    let hook = find(conn, id).await?;
    if hook.active {
        return Ok(hook.into());
    }
    let before = serde_json::json!({
        "active": false,
        "disabled_at": hook.disabled_at,
        "disabled_reason": hook.disabled_reason,
    });
    let mut change: webhook::ActiveModel = hook.into();
    change.active = Set(true);
    change.disabled_at = Set(None);
    change.disabled_reason = Set(None);
    let saved = change.update(conn).await?;
    super::audit::record(
        conn,
        AuditRecord {
            actor: actor.into(),
            entity: "webhook",
            code: &saved.id.to_string(),
            action: "enable",
            before: Some(before),
            after: Some(serde_json::json!({"active": true})),
        },
    )
    .await?;
    tracing::info!("webhook enabled");
    Ok(saved.into())
}

/// How one attempt at a webhook delivery went, as the worker saw it. Nothing the receiver sent is
/// kept but its status and its `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    pub outcome: WebhookAttemptOutcome,
    pub http_status: Option<u16>,
    /// Why it failed, in the service's words (no URL, nothing the receiver said).
    pub error: Option<String>,
    /// The wait the receiver asked for.
    pub retry_after: Option<Duration>,
    pub elapsed_ms: Option<i64>,
}

/// What recording an attempt did to its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptRecorded {
    /// Delivered.
    Done,
    /// Another attempt is due then.
    RetryAt(DateTime<Utc>),
    /// Given up (410, or the last attempt failed); the webhook was disabled.
    Disabled,
    /// The delivery was no longer this worker's (its lease ran out): only the attempt was recorded.
    NotHeld,
}

/// Records one attempt at the webhook delivery `row` (claimed by `worker_id`) and its consequences, in
/// one transaction: the attempt row; the delivery done, or due again on `schedule` (honouring the
/// receiver's `Retry-After`), or given up; on a 410 or when the retries ran out, the webhook disabled
/// with its pending deliveries stopped and the disabling audited (actor `worker`); when the retries
/// ran out, an alert e-mail to `alerts_email` unless one about this webhook went out in the last day.
#[tracing::instrument(skip_all, fields(outbox.id = row.id))]
pub async fn record_attempt(
    store: &Store,
    row: &outbox::Model,
    worker_id: &str,
    report: &AttemptReport,
    schedule: &WebhookRetrySchedule,
    alerts_email: Option<&str>,
) -> Result<AttemptRecorded, DbErr> {
    let payload: WebhookPayload = serde_json::from_value(row.payload.clone())
        .map_err(|e| DbErr::Custom(format!("webhook payload: {e}")))?;
    let now = crate::clock::now();
    let attempt = row.attempts.saturating_add(1);
    let error: Option<String> = report
        .error
        .as_deref()
        .map(|e| e.chars().take(300).collect());
    let failed = FailedAttempt {
        row,
        worker_id,
        webhook_id: payload.webhook_id,
        attempt,
        now,
    };
    let txn = store.begin().await?;
    let (recorded, next) = match report.outcome {
        WebhookAttemptOutcome::Delivered => {
            super::outbox::complete_on(&txn, row.id).await?;
            (AttemptRecorded::Done, None)
        }
        WebhookAttemptOutcome::Gone => (failed.gone(&txn).await?, None),
        _ => {
            let wait = schedule.wait_after(attempt, report.retry_after, rand::random::<f64>());
            let message = error
                .clone()
                .unwrap_or_else(|| "the attempt failed".to_owned());
            match wait {
                Some(wait) => failed.retry_later(&txn, &message, wait).await?,
                None => (failed.give_up(&txn, &message, alerts_email).await?, None),
            }
        }
    };
    webhook_delivery_attempt::ActiveModel {
        webhook_id: Set(payload.webhook_id),
        outbox_id: Set(row.id),
        delivery_id: Set(payload.delivery_id.clone()),
        attempt: Set(attempt),
        attempted_at: Set(now),
        http_status: Set(report.http_status.map(i32::from)),
        outcome: Set(report.outcome),
        error: Set(error),
        elapsed_ms: Set(report.elapsed_ms),
        next_attempt_at: Set(next),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(recorded)
}

/// An attempt that did not deliver, and what follows from it for its row and its webhook.
struct FailedAttempt<'a> {
    row: &'a outbox::Model,
    worker_id: &'a str,
    webhook_id: i64,
    /// The attempt's number, from 1.
    attempt: i32,
    now: DateTime<Utc>,
}

impl FailedAttempt<'_> {
    /// The receiver answered 410 Gone: the row fails and the webhook is disabled.
    async fn gone(&self, txn: &impl ConnectionTrait) -> Result<AttemptRecorded, DbErr> {
        let why = "the receiver answered 410 Gone";
        let held = super::outbox::fail_until(
            txn,
            self.row,
            self.worker_id,
            &format!("{why}; the webhook was disabled"),
            None,
        )
        .await?;
        disable(txn, self.webhook_id, why, self.now).await?;
        Ok(if held {
            AttemptRecorded::Disabled
        } else {
            AttemptRecorded::NotHeld
        })
    }

    /// The row is tried again after `wait`; answers when, if this worker still held the row.
    async fn retry_later(
        &self,
        txn: &impl ConnectionTrait,
        message: &str,
        wait: Duration,
    ) -> Result<(AttemptRecorded, Option<DateTime<Utc>>), DbErr> {
        let at = self.now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1));
        let held =
            super::outbox::fail_until(txn, self.row, self.worker_id, message, Some(at)).await?;
        Ok(if held {
            (AttemptRecorded::RetryAt(at), Some(at))
        } else {
            (AttemptRecorded::NotHeld, None)
        })
    }

    /// The retries ran out: the row fails, the webhook is disabled and the operators are alerted.
    async fn give_up(
        &self,
        txn: &impl ConnectionTrait,
        message: &str,
        alerts_email: Option<&str>,
    ) -> Result<AttemptRecorded, DbErr> {
        let held = super::outbox::fail_until(
            txn,
            self.row,
            self.worker_id,
            &format!("{message}; retries ran out and the webhook was disabled"),
            None,
        )
        .await?;
        if !held {
            return Ok(AttemptRecorded::NotHeld);
        }
        let attempt = self.attempt;
        let why = format!("{attempt} attempts failed over the retry schedule; the last: {message}");
        if disable(txn, self.webhook_id, &why, self.now).await? {
            alert(txn, self.webhook_id, &why, attempt, self.now, alerts_email).await?;
        }
        Ok(AttemptRecorded::Disabled)
    }
}

/// Disables webhook `id` for `reason` (once: `false` when it was already disabled or is gone), stops
/// its pending deliveries and audits it with the worker as the actor.
async fn disable(
    conn: &impl ConnectionTrait,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let reason: String = reason.chars().take(500).collect();
    let res = webhook::Entity::update_many()
        .col_expr(webhook::Column::Active, Expr::value(false))
        .col_expr(webhook::Column::DisabledAt, Expr::value(Some(now)))
        .col_expr(
            webhook::Column::DisabledReason,
            Expr::value(Some(reason.clone())),
        )
        .filter(webhook::Column::Id.eq(id))
        .filter(webhook::Column::Active.eq(true))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Ok(false);
    }
    let stopped = super::outbox::stop_webhook_deliveries(
        conn,
        id,
        &format!("stopped: the webhook was disabled ({reason})"),
    )
    .await?;
    super::audit::record(
        conn,
        AuditRecord {
            actor: AuditActor::Worker,
            entity: "webhook",
            code: &id.to_string(),
            action: "disable",
            before: Some(serde_json::json!({"active": true})),
            after: Some(serde_json::json!({
                "active": false,
                "disabled_reason": reason,
                "deliveries_stopped": stopped,
            })),
        },
    )
    .await?;
    tracing::warn!(webhook.id = id, outbox.stopped = stopped, reason = %reason, "webhook disabled");
    Ok(true)
}

/// Queues the alert e-mail about webhook `id` to `alerts_email`, unless one went out less than
/// [`ALERT_INTERVAL`] ago (the claim on `last_alert_at` is one conditional update, so two workers
/// never both send it).
async fn alert(
    conn: &impl ConnectionTrait,
    id: i64,
    reason: &str,
    attempts: i32,
    now: DateTime<Utc>,
    alerts_email: Option<&str>,
) -> Result<(), DbErr> {
    let Some(to) = alerts_email.map(str::trim).filter(|to| !to.is_empty()) else {
        tracing::warn!(
            webhook.id = id,
            "no DOSSIER__ALERTS__EMAIL: nobody is e-mailed about the disabled webhook"
        );
        return Ok(());
    };
    let since =
        now - chrono::Duration::from_std(ALERT_INTERVAL).unwrap_or(chrono::Duration::days(1));
    let claimed = webhook::Entity::update_many()
        .col_expr(webhook::Column::LastAlertAt, Expr::value(Some(now)))
        .filter(webhook::Column::Id.eq(id))
        .filter(
            sea_orm::Condition::any()
                .add(webhook::Column::LastAlertAt.is_null())
                .add(webhook::Column::LastAlertAt.lte(since)),
        )
        .exec(conn)
        .await?;
    if claimed.rows_affected == 0 {
        tracing::info!(
            webhook.id = id,
            "an alert about this webhook went out less than a day ago"
        );
        return Ok(());
    }
    let Some(hook) = webhook::Entity::find_by_id(id).one(conn).await? else {
        return Ok(());
    };
    let email = EmailPayload {
        message_key: format!("webhook-disabled-{id}-{}", now.timestamp()),
        recipient: Recipient::Agency,
        to: to.to_owned(),
        to_name: None,
        language: "vi".to_owned(),
        dossier_code: String::new(),
        agency_name: None,
        procedure_name: None,
        at: now,
        notice: Notice::WebhookDisabled {
            webhook_id: id,
            agency_code: hook.agency_code.clone(),
            url_origin: url_origin(&hook.url),
            reason: reason.to_owned(),
            attempts,
        },
    };
    let payload =
        serde_json::to_value(&email).map_err(|e| DbErr::Custom(format!("outbox payload: {e}")))?;
    let mut row = super::outbox::pending_row(DeliveryKind::Email, 0, payload, now);
    row.dossier_id = Set(None);
    outbox::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// One attempt at a delivery, as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptView {
    pub cursor: String,
    pub outbox_id: i64,
    pub delivery_id: String,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub outcome: WebhookAttemptOutcome,
    pub http_status: Option<i32>,
    pub error: Option<String>,
    pub elapsed_ms: Option<i64>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The delivery's state now: `pending`, `done` or `failed`.
    pub delivery_status: Option<OutboxStatus>,
}

/// A page of attempts and the cursor to read on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptPage {
    pub attempts: Vec<AttemptView>,
    pub next_cursor: String,
}

/// The attempts at deliveries to webhook `id`, oldest first, after `after` (a `next_cursor`, or
/// nothing for the beginning); admin keys only. `NotFound` for an unknown webhook; an unreadable
/// cursor or a limit outside 1..=500 is a validation failure.
pub async fn list_attempts(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    id: i64,
    after: Option<&str>,
    limit: Option<u64>,
) -> Result<AttemptPage, OpError> {
    admin(actor)?;
    find(conn, id).await?;
    let after_id = match after.map(str::trim).filter(|a| !a.is_empty()) {
        None => 0,
        Some(raw) => match raw.parse::<i64>() {
            Ok(id) if id >= 0 => id,
            _ => {
                return Err(OpError::field(
                    "after",
                    "is not a cursor this list gave out",
                ));
            }
        },
    };
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(OpError::field(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let rows = webhook_delivery_attempt::Entity::find()
        .filter(webhook_delivery_attempt::Column::WebhookId.eq(id))
        .filter(webhook_delivery_attempt::Column::Id.gt(after_id))
        .order_by_asc(webhook_delivery_attempt::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    let outbox_ids: Vec<i64> = rows.iter().map(|r| r.outbox_id).collect();
    let statuses: std::collections::HashMap<i64, OutboxStatus> = if outbox_ids.is_empty() {
        Default::default()
    } else {
        outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Id)
            .column(outbox::Column::Status)
            .filter(outbox::Column::Id.is_in(outbox_ids))
            .into_tuple::<(i64, OutboxStatus)>()
            .all(conn)
            .await?
            .into_iter()
            .collect()
    };
    let next_cursor = rows.last().map_or(after_id, |r| r.id).to_string();
    Ok(AttemptPage {
        attempts: rows
            .into_iter()
            .map(|r| AttemptView {
                cursor: r.id.to_string(),
                delivery_status: statuses.get(&r.outbox_id).copied(),
                outbox_id: r.outbox_id,
                delivery_id: r.delivery_id,
                attempt: r.attempt,
                attempted_at: r.attempted_at,
                outcome: r.outcome,
                http_status: r.http_status,
                error: r.error,
                elapsed_ms: r.elapsed_ms,
                next_attempt_at: r.next_attempt_at,
            })
            .collect(),
        next_cursor,
    })
}

/// Every registered webhook, without secrets (admin key only).
pub async fn list_webhooks(
    conn: &impl ConnectionTrait,
    actor: &Actor,
) -> Result<Vec<WebhookView>, OpError> {
    admin(actor)?;
    Ok(webhook::Entity::find()
        .order_by_asc(webhook::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_absolute_https_urls_of_public_hosts() {
        for ok in [
            "https://agency.example.vn/hooks/dossiers",
            "HTTPS://Example.VN",
            "https://203.162.4.190:8443/hook",
            "https://[2001:4860:4860::8888]/x",
        ] {
            assert_eq!(check_url(ok, false), Ok(()), "{ok}");
        }
        for bad in [
            "ftp://example.vn",
            "example.vn/hook",
            "https://",
            "https:///path",
            "https://host:notaport/",
            "https://exa mple.vn",
            "http://agency.example.vn/hook",
            "https://user:pass@agency.example.vn/hook",
            "https://token@agency.example.vn/hook",
            "https://localhost/hook",
            "https://api.localhost/hook",
            "https://intranet/hook",
            "https://127.0.0.1/hook",
            "https://2130706433/hook",
            "https://0x7f.1/hook",
            "https://10.1.2.3/hook",
            "https://172.20.0.5/hook",
            "https://192.168.1.10/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.1.1/hook",
            "https://0.0.0.0/hook",
            "https://224.0.0.1/hook",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
            "https://[fe80::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://[::ffff:a9fe:a9fe]/hook",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn on_a_closed_network_http_and_private_hosts_are_accepted() {
        for ok in [
            "http://127.0.0.1:8081/hook",
            "http://[::1]:9000/x",
            "https://10.1.2.3/hook",
            "http://receiver/hook",
        ] {
            assert_eq!(check_url(ok, true), Ok(()), "{ok}");
        }
        for bad in ["ftp://example.vn", "https://", "https://exa mple.vn"] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
    }
}
