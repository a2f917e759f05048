//! The outbox loop: claim a batch of due e-mails and webhook deliveries, deliver them concurrently
//! (bounded), and record each outcome — done, retry later with backoff, or failed for good and kept
//! for the administrators. One call of [`step`] is one batch, so tests drive it step by step.
//!
//! Delivery is at least once: a worker killed after sending and before recording sends that message
//! again once its lease runs out; the Message-ID and the delivery id stay the same, so receivers can
//! drop the repeat.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use domain::ops::carrier_orders::CarrierOrderPayload;
use domain::ops::outbox::{
    self as queue, DeliveryKind, EmailPayload, FailOutcome, RetryPolicy, WebhookPayload,
};
use domain::store::Store;
use entity::outbox;
use futures_util::{FutureExt, StreamExt, stream};

use crate::StepOutcome;
use crate::carrier::HttpCarrier;
use crate::mail::{MailSettings, Mailer, SendError};
use crate::webhooks::{Delivered, WebhookClient, WebhookError};

/// How the outbox is worked.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub mail: MailSettings,
    /// Where people reach the service: the base of the tracking links in e-mails.
    pub public_base_url: String,
    pub retry: RetryPolicy,
    /// Rows claimed per step.
    pub batch_size: u64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How long a claim holds its rows; a worker that dies holding them frees them after this.
    pub lease: Duration,
    /// How long one webhook attempt may take.
    pub webhook_timeout: Duration,
    /// Pause between steps when there is nothing to do.
    pub poll_interval: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            mail: MailSettings::default(),
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            retry: RetryPolicy::default(),
            batch_size: 200,
            concurrency: 16,
            lease: Duration::from_secs(300),
            webhook_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// What a step needs, set up once per worker: the mail transport with its connection pool, the
/// webhook HTTP client, and this worker's name on its leases.
pub struct OutboxDeps {
    pub mailer: Mailer,
    pub webhooks: WebhookClient,
    pub settings: OutboxSettings,
    pub worker_id: String,
    /// The carrier that `carrier_order` rows are placed at; without one, those rows are left to a
    /// worker that has it.
    pub carrier: Option<Arc<HttpCarrier>>,
}

impl OutboxDeps {
    /// Sets up the transports; fails on settings that can never work (a bad SMTP URL or sender).
    pub fn new(settings: &OutboxSettings) -> anyhow::Result<Self> {
        let mailer = Mailer::new(&settings.mail)?;
        let webhooks = WebhookClient::new(settings.webhook_timeout)?;
        Ok(Self {
            mailer,
            webhooks,
            settings: settings.clone(),
            worker_id: worker_id(),
            carrier: None,
        })
    }

    /// The same, also placing carrier orders at `carrier`.
    pub fn with_carrier(mut self, carrier: Arc<HttpCarrier>) -> Self {
        self.carrier = Some(carrier);
        self
    }

    /// The kinds of rows this worker delivers.
    fn kinds(&self) -> &'static [DeliveryKind] {
        if self.carrier.is_some() {
            &[
                DeliveryKind::Email,
                DeliveryKind::Webhook,
                DeliveryKind::CarrierOrder,
            ]
        } else {
            &[DeliveryKind::Email, DeliveryKind::Webhook]
        }
    }
}

/// A name for this worker's leases: host, process and a random part, unique among live workers.
fn worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// How one row went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowOutcome {
    Done,
    Retry,
    GaveUp,
    /// Recording the outcome failed; the lease will free the row.
    StoreFailed,
}

/// Claims one batch and delivers it. `Worked` when rows were claimed (call again at once), `Idle`
/// when nothing was due, `Failed` when the store could not be reached.
#[tracing::instrument(name = "outbox", skip_all)]
pub async fn step(store: &Store, deps: &OutboxDeps) -> StepOutcome {
    let claimed = match queue::claim_batch_of(
        store,
        &deps.worker_id,
        deps.kinds(),
        deps.settings.batch_size.max(1),
        deps.settings.lease,
    )
    .await
    {
        Ok(rows) => rows,
        Err(err) => {
            tracing::error!(error.cause = %err, "claiming outbox rows failed");
            return StepOutcome::Failed;
        }
    };
    if claimed.is_empty() {
        return StepOutcome::Idle;
    }
    let outcomes: Vec<RowOutcome> = stream::iter(claimed)
        .map(|row| deliver_row(store, deps, row))
        .buffer_unordered(deps.settings.concurrency.max(1))
        .collect()
        .await;
    let count = |o: RowOutcome| outcomes.iter().filter(|x| **x == o).count();
    tracing::debug!(
        outbox.done = count(RowOutcome::Done),
        outbox.retry = count(RowOutcome::Retry),
        outbox.failed = count(RowOutcome::GaveUp),
        "outbox batch delivered"
    );
    if count(RowOutcome::StoreFailed) > 0 {
        StepOutcome::Failed
    } else {
        StepOutcome::Worked
    }
}

/// The result of one attempt, before it is recorded.
enum Attempt {
    Sent,
    Failed { error: String, permanent: bool },
}

/// Delivers one claimed row and records the outcome. A panic while delivering counts as a failed
/// attempt, so one bad row cannot stop the loop.
async fn deliver_row(store: &Store, deps: &OutboxDeps, row: outbox::Model) -> RowOutcome {
    let kind = DeliveryKind::parse(&row.kind).map_or("unknown", DeliveryKind::as_str);
    let outcome = deliver_row_once(store, deps, row).await;
    match outcome {
        RowOutcome::Done => metrics::counter!(metric::SENT, "kind" => kind).increment(1),
        RowOutcome::Retry => {
            metrics::counter!(metric::FAILED, "kind" => kind, "outcome" => "retry").increment(1);
        }
        RowOutcome::GaveUp => {
            metrics::counter!(metric::FAILED, "kind" => kind, "outcome" => "gave_up").increment(1);
        }
        RowOutcome::StoreFailed => {}
    }
    outcome
}

/// The outbox's metrics (rendered on `GET /metrics`).
pub mod metric {
    /// Rows delivered, by `kind` (`email`, `webhook`, `carrier_order`).
    pub const SENT: &str = "dossier_outbox_sent_total";
    /// Failed attempts, by `kind` and `outcome` (`retry` later, or `gave_up`: kept as failed).
    pub const FAILED: &str = "dossier_outbox_failed_total";
}

async fn deliver_row_once(store: &Store, deps: &OutboxDeps, row: outbox::Model) -> RowOutcome {
    let attempt = match AssertUnwindSafe(attempt(store, deps, &row))
        .catch_unwind()
        .await
    {
        Ok(attempt) => attempt,
        Err(_) => Attempt::Failed {
            error: "the delivery panicked; see the worker's log".to_owned(),
            permanent: false,
        },
    };
    match attempt {
        Attempt::Sent => match queue::complete(store, row.id).await {
            Ok(()) => RowOutcome::Done,
            Err(err) => {
                tracing::error!(outbox.id = row.id, error.cause = %err, "recording a delivery failed");
                RowOutcome::StoreFailed
            }
        },
        Attempt::Failed { error, permanent } => {
            match queue::fail(
                store,
                &row,
                &deps.worker_id,
                &error,
                &deps.settings.retry,
                permanent,
            )
            .await
            {
                Ok(FailOutcome::RetryAt(at)) => {
                    tracing::warn!(
                        outbox.id = row.id,
                        outbox.kind = %row.kind,
                        outbox.attempt = row.attempts + 1,
                        outbox.next_attempt_at = %at,
                        error.message = %error,
                        "delivery failed; will retry"
                    );
                    RowOutcome::Retry
                }
                Ok(FailOutcome::GaveUp) => {
                    // The alert: administrators find the row with `GET /api/v1/admin/outbox?status=failed`.
                    tracing::error!(
                        outbox.id = row.id,
                        outbox.kind = %row.kind,
                        outbox.attempt = row.attempts + 1,
                        error.message = %error,
                        "delivery given up; kept as failed for an administrator"
                    );
                    RowOutcome::GaveUp
                }
                Ok(FailOutcome::NotHeld) => RowOutcome::Retry,
                Err(err) => {
                    tracing::error!(outbox.id = row.id, error.cause = %err, "recording a failed delivery failed");
                    RowOutcome::StoreFailed
                }
            }
        }
    }
}

/// One attempt at one row.
async fn attempt(store: &Store, deps: &OutboxDeps, row: &outbox::Model) -> Attempt {
    let attempt_no = row.attempts + 1;
    match DeliveryKind::parse(&row.kind) {
        Some(DeliveryKind::Email) => {
            let payload: EmailPayload = match serde_json::from_value(row.payload.clone()) {
                Ok(p) => p,
                Err(_) => return unreadable(),
            };
            let message = match deps
                .mailer
                .compose(&payload, &deps.settings.public_base_url)
            {
                Ok(m) => m,
                Err(err) => return send_failure(err),
            };
            match deps.mailer.send(&payload.message_key, message).await {
                Ok(()) => {
                    tracing::info!(
                        outbox.id = row.id,
                        outbox.attempt = attempt_no,
                        mail.key = %payload.message_key,
                        "e-mail sent"
                    );
                    Attempt::Sent
                }
                Err(err) => send_failure(err),
            }
        }
        Some(DeliveryKind::Webhook) => {
            let payload: WebhookPayload = match serde_json::from_value(row.payload.clone()) {
                Ok(p) => p,
                Err(_) => return unreadable(),
            };
            let started = std::time::Instant::now();
            let result = deps.webhooks.deliver(&store.read, &payload).await;
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            match result {
                Ok(Delivered::Accepted(status)) => {
                    tracing::info!(
                        outbox.id = row.id,
                        outbox.attempt = attempt_no,
                        webhook.id = payload.webhook_id,
                        webhook.delivery = %payload.delivery_id,
                        http.status = status,
                        elapsed_ms,
                        "webhook delivered"
                    );
                    Attempt::Sent
                }
                Ok(Delivered::Skipped) => {
                    tracing::info!(
                        outbox.id = row.id,
                        webhook.id = payload.webhook_id,
                        "webhook removed or inactive; delivery dropped"
                    );
                    Attempt::Sent
                }
                Err(WebhookError::Retry(error)) => {
                    tracing::info!(
                        outbox.id = row.id,
                        outbox.attempt = attempt_no,
                        webhook.id = payload.webhook_id,
                        webhook.delivery = %payload.delivery_id,
                        elapsed_ms,
                        error.message = %error,
                        "webhook attempt failed"
                    );
                    Attempt::Failed {
                        error,
                        permanent: false,
                    }
                }
                Err(WebhookError::Db(err)) => Attempt::Failed {
                    error: format!("reading the webhook failed: {err}"),
                    permanent: false,
                },
            }
        }
        Some(DeliveryKind::CarrierOrder) => {
            let Some(carrier) = &deps.carrier else {
                return Attempt::Failed {
                    error: "this worker has no carrier configured".to_owned(),
                    permanent: false,
                };
            };
            let payload: CarrierOrderPayload = match serde_json::from_value(row.payload.clone()) {
                Ok(p) => p,
                Err(_) => return unreadable(),
            };
            match crate::carrier::orders::place_order(store, carrier.as_ref(), &payload).await {
                Ok(()) => Attempt::Sent,
                Err(not_placed) => Attempt::Failed {
                    error: not_placed.error,
                    permanent: not_placed.permanent,
                },
            }
        }
        None => Attempt::Failed {
            error: format!("this worker does not deliver `{}` rows", row.kind),
            permanent: true,
        },
    }
}

fn unreadable() -> Attempt {
    Attempt::Failed {
        error: "the payload is unreadable".to_owned(),
        permanent: true,
    }
}

fn send_failure(err: SendError) -> Attempt {
    match err {
        SendError::Transient(error) => Attempt::Failed {
            error,
            permanent: false,
        },
        SendError::Permanent(error) => Attempt::Failed {
            error,
            permanent: true,
        },
    }
}
