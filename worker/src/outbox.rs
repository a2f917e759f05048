//! The outbox lanes: claim a batch of due rows of one kind (e-mails, webhook deliveries, carrier
//! orders), deliver them concurrently (bounded), and record each outcome — done, retry later with
//! backoff, or failed for good and kept for the administrators. One call of [`step_lane`] is one
//! batch, so tests drive it step by step; the worker runs one loop per lane, so a slow SMTP server
//! never holds back webhooks or carrier orders.
//!
//! Every attempt has an overall deadline ([`OutboxSettings::attempt_timeout`], on top of each
//! transport's own): an attempt that misses it is a failed attempt with its error recorded, retried
//! later. While a batch works, its lease is renewed every third of a lease, so a slow batch is never
//! claimed (and sent) by a second worker. When the worker stops, no new row of the batch is started,
//! the attempts in flight get [`OutboxSettings::shutdown_drain`] to finish, and the rest are
//! abandoned and given back at once — not left to the lease.
//!
//! Webhook deliveries follow their own schedule ([`domain::webhook_retry`]: ten attempts over about
//! three days, honouring `Retry-After`), and every attempt is recorded with its HTTP status
//! ([`domain::ops::webhooks::record_attempt`]); e-mails and carrier orders keep
//! [`OutboxSettings::retry`].
//!
//! Delivery is at least once: a worker killed after the receiver accepted a message and before it
//! recorded that sends it again once its lease runs out; the Message-ID and the delivery id stay the
//! same, so receivers can drop the repeat.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::ops::carrier_orders::CarrierOrderPayload;
use domain::ops::outbox::{
    self as queue, DeliveryKind, EmailPayload, FailOutcome, RetryPolicy, WebhookPayload,
};
use domain::ops::webhooks::{AttemptRecorded, AttemptReport};
use domain::store::Store;
use domain::webhook_retry::WebhookRetrySchedule;
use entity::enums::WebhookAttemptOutcome;
use entity::outbox;
use futures_util::{FutureExt, StreamExt, stream};

use crate::StepOutcome;
use crate::carrier::HttpCarrier;
use crate::mail::{MailSettings, Mailer, SendError};
use crate::outlets::{NotDelivered, PhoneChannels};
use crate::portal::PortalClient;
use crate::sms::SmsClient;
use crate::webhooks::{Delivered, WebhookClient, WebhookError};
use crate::zalo::ZaloClient;

/// How the outbox is worked.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub mail: MailSettings,
    /// Where people reach the service: the base of the tracking links in e-mails.
    pub public_base_url: String,
    /// The backoff of e-mails and carrier orders.
    pub retry: RetryPolicy,
    /// The retry schedule of webhook deliveries.
    pub webhook_retry: WebhookRetrySchedule,
    /// Where to e-mail when a webhook is disabled because its retries ran out
    /// (`DOSSIER__ALERTS__EMAIL`); nobody when `None`.
    pub alerts_email: Option<String>,
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
    /// The most one attempt of any kind may take, all included; the transports' own deadlines
    /// (the mail's, the webhook's) are shorter and usually end it first.
    pub attempt_timeout: Duration,
    /// When the worker stops, how long the attempts in flight may still take before they are
    /// abandoned and their rows given back.
    pub shutdown_drain: Duration,
    /// The SMS gateway, when configured.
    pub sms: Option<crate::sms::SmsConfig>,
    /// Zalo ZNS, when configured.
    pub zalo: Option<crate::zalo::ZaloConfig>,
    /// The national public-service portal, when configured.
    pub portal: Option<crate::portal::PortalConfig>,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            mail: MailSettings::default(),
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            retry: RetryPolicy::default(),
            webhook_retry: WebhookRetrySchedule::default(),
            alerts_email: None,
            batch_size: 200,
            concurrency: 16,
            lease: Duration::from_secs(300),
            webhook_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(60),
            shutdown_drain: Duration::from_secs(5),
            sms: None,
            zalo: None,
            portal: None,
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
    /// ZNS and SMS, for `phone_notice` rows.
    pub phone: PhoneChannels,
    /// The national portal, for `portal_call` rows.
    pub portal: Option<PortalClient>,
}

impl OutboxDeps {
    /// Sets up the transports; fails on settings that can never work (a bad SMTP URL or sender).
    pub fn new(settings: &OutboxSettings) -> anyhow::Result<Self> {
        let mailer = Mailer::new(&settings.mail)?;
        let webhooks = WebhookClient::new(settings.webhook_timeout)?;
        let phone = PhoneChannels {
            zns: settings.zalo.clone().map(ZaloClient::new).transpose()?,
            sms: settings.sms.clone().map(SmsClient::new).transpose()?,
        };
        let portal = settings.portal.clone().map(PortalClient::new).transpose()?;
        Ok(Self {
            mailer,
            webhooks,
            settings: settings.clone(),
            worker_id: worker_id(),
            carrier: None,
            phone,
            portal,
        })
    }

    /// The same, also placing carrier orders at `carrier`.
    pub fn with_carrier(mut self, carrier: Arc<HttpCarrier>) -> Self {
        self.carrier = Some(carrier);
        self
    }

    /// The lanes this worker runs, one loop each: e-mail and webhooks, carrier orders when it has a
    /// carrier, phone notices when it has ZNS or SMS, portal calls when it has the portal.
    pub fn lanes(&self) -> Vec<&'static [DeliveryKind]> {
        let mut lanes: Vec<&'static [DeliveryKind]> =
            vec![&[DeliveryKind::Email], &[DeliveryKind::Webhook]];
        if self.carrier.is_some() {
            lanes.push(&[DeliveryKind::CarrierOrder]);
        }
        if self.phone.any() {
            lanes.push(&[DeliveryKind::PhoneNotice]);
        }
        if self.portal.is_some() {
            lanes.push(&[DeliveryKind::PortalCall]);
        }
        lanes
    }

    /// Which outside systems this worker delivers to, as declared to the store when it starts.
    pub fn outlets(&self) -> domain::ops::integrations::Outlets {
        domain::ops::integrations::Outlets {
            phone: self.phone.any(),
            portal: self.portal.is_some(),
        }
    }

    /// The kinds of rows this worker delivers.
    fn kinds(&self) -> Vec<DeliveryKind> {
        self.lanes().into_iter().flatten().copied().collect()
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
    /// Not attempted, or abandoned mid-attempt, because the worker is stopping: given back.
    Abandoned,
}

/// Claims one batch of every kind this worker delivers and delivers it (tests drive the outbox with
/// this). `Worked` when rows were claimed (call again at once), `Idle` when nothing was due, `Failed`
/// when the store could not be reached.
pub async fn step(store: &Store, deps: &OutboxDeps) -> StepOutcome {
    step_lane(store, deps, &deps.kinds(), std::future::pending()).await
}

/// Claims one batch of `kinds` and delivers it, renewing the batch's lease while it works. When
/// `stop` completes (the worker is stopping), no further row is started, the attempts in flight get
/// [`OutboxSettings::shutdown_drain`], and every row not done is given back at once.
#[tracing::instrument(name = "outbox", skip_all, fields(outbox.lane = kinds.first().map_or("", |k| k.as_str())))]
pub async fn step_lane(
    store: &Store,
    deps: &OutboxDeps,
    kinds: &[DeliveryKind],
    stop: impl std::future::Future<Output = ()>,
) -> StepOutcome {
    let lease = deps.settings.lease;
    let claimed = match queue::claim_batch_of(
        store,
        &deps.worker_id,
        kinds,
        deps.settings.batch_size.max(1),
        lease,
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
    let in_hand: Mutex<BTreeSet<i64>> = Mutex::new(claimed.iter().map(|r| r.id).collect());
    let stop = stop.shared();
    let drain = deps.settings.shutdown_drain;
    let abandon = {
        let stop = stop.clone();
        async move {
            stop.await;
            tokio::time::sleep(drain).await;
        }
    }
    .shared();
    let deliveries = stream::iter(claimed)
        .take_until(stop.clone())
        .map(|row| deliver_row(store, deps, row, &in_hand, abandon.clone()))
        .buffer_unordered(deps.settings.concurrency.max(1))
        .collect::<Vec<RowOutcome>>();
    let renewing = async {
        let every = (lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            let ids: Vec<i64> = held(&in_hand);
            if let Err(err) = queue::renew_leases(store, &deps.worker_id, &ids, lease).await {
                tracing::warn!(error.cause = %err, "renewing the outbox lease failed");
            }
        }
    };
    let outcomes = tokio::select! {
        outcomes = deliveries => outcomes,
        never = renewing => never,
    };
    let left = held(&in_hand);
    if !left.is_empty() {
        match queue::release(store, &deps.worker_id, kinds, Some(&left)).await {
            Ok(n) => tracing::info!(
                outbox.released = n,
                "stopping: rows not done were given back"
            ),
            Err(err) => {
                tracing::error!(error.cause = %err, "giving back outbox rows failed; their lease will free them");
            }
        }
    }
    let count = |o: RowOutcome| outcomes.iter().filter(|x| **x == o).count();
    tracing::debug!(
        outbox.done = count(RowOutcome::Done),
        outbox.retry = count(RowOutcome::Retry),
        outbox.failed = count(RowOutcome::GaveUp),
        outbox.abandoned = left.len(),
        "outbox batch delivered"
    );
    if count(RowOutcome::StoreFailed) > 0 {
        StepOutcome::Failed
    } else {
        StepOutcome::Worked
    }
}

/// The ids still in hand.
fn held(in_hand: &Mutex<BTreeSet<i64>>) -> Vec<i64> {
    in_hand
        .lock()
        .map(|ids| ids.iter().copied().collect())
        .unwrap_or_default()
}

/// The result of one attempt, before it is recorded.
enum Attempt {
    Sent,
    Failed {
        error: String,
        permanent: bool,
    },
    /// A webhook attempt, recorded on the webhooks' own schedule.
    Webhook(AttemptReport),
}

/// Delivers one claimed row and records the outcome, unless `abandon` completes first (the worker is
/// stopping): then the attempt is dropped mid-way (its connection closed) and the row stays in hand,
/// to be given back. A panic while delivering counts as a failed attempt, so one bad row cannot
/// stop the loop.
async fn deliver_row(
    store: &Store,
    deps: &OutboxDeps,
    row: outbox::Model,
    in_hand: &Mutex<BTreeSet<i64>>,
    abandon: impl std::future::Future<Output = ()>,
) -> RowOutcome {
    let kind = DeliveryKind::parse(&row.kind).map_or("unknown", DeliveryKind::as_str);
    let id = row.id;
    let outcome = deliver_row_once(store, deps, row, abandon).await;
    if outcome != RowOutcome::Abandoned
        && let Ok(mut ids) = in_hand.lock()
    {
        ids.remove(&id);
    }
    match outcome {
        RowOutcome::Done => metrics::counter!(metric::SENT, "kind" => kind).increment(1),
        RowOutcome::Retry => {
            metrics::counter!(metric::FAILED, "kind" => kind, "outcome" => "retry").increment(1);
        }
        RowOutcome::GaveUp => {
            metrics::counter!(metric::FAILED, "kind" => kind, "outcome" => "gave_up").increment(1);
        }
        RowOutcome::StoreFailed | RowOutcome::Abandoned => {}
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

async fn deliver_row_once(
    store: &Store,
    deps: &OutboxDeps,
    row: outbox::Model,
    abandon: impl std::future::Future<Output = ()>,
) -> RowOutcome {
    let deadline = deps.settings.attempt_timeout;
    let attempting = tokio::time::timeout(
        deadline,
        AssertUnwindSafe(attempt(store, deps, &row)).catch_unwind(),
    );
    let webhook = DeliveryKind::parse(&row.kind) == Some(DeliveryKind::Webhook);
    let attempt = tokio::select! {
        attempted = attempting => match attempted {
            Ok(Ok(attempt)) => attempt,
            Ok(Err(_)) => broken(webhook, WebhookAttemptOutcome::Failed, "the delivery panicked; see the worker's log".to_owned()),
            Err(_) => broken(
                webhook,
                WebhookAttemptOutcome::Timeout,
                format!("the attempt did not finish within {} s", deadline.as_secs_f32()),
            ),
        },
        () = abandon => return RowOutcome::Abandoned,
    };
    match attempt {
        Attempt::Webhook(report) => {
            match domain::ops::webhooks::record_attempt(
                store,
                &row,
                &deps.worker_id,
                &report,
                &deps.settings.webhook_retry,
                deps.settings.alerts_email.as_deref(),
            )
            .await
            {
                Ok(AttemptRecorded::Done) => RowOutcome::Done,
                Ok(AttemptRecorded::RetryAt(at)) => {
                    tracing::warn!(
                        outbox.id = row.id,
                        outbox.kind = %row.kind,
                        outbox.attempt = row.attempts + 1,
                        outbox.next_attempt_at = %at,
                        http.status = report.http_status,
                        error.message = report.error.as_deref().unwrap_or_default(),
                        "webhook delivery failed; will retry"
                    );
                    RowOutcome::Retry
                }
                Ok(AttemptRecorded::Disabled) => {
                    tracing::error!(
                        outbox.id = row.id,
                        outbox.attempt = row.attempts + 1,
                        http.status = report.http_status,
                        error.message = report.error.as_deref().unwrap_or_default(),
                        "webhook delivery given up and the webhook disabled"
                    );
                    RowOutcome::GaveUp
                }
                Ok(AttemptRecorded::NotHeld) => RowOutcome::Retry,
                Err(err) => {
                    tracing::error!(outbox.id = row.id, error.cause = %err, "recording a webhook attempt failed");
                    RowOutcome::StoreFailed
                }
            }
        }
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
            match deps.webhooks.deliver(&store.read, &payload).await {
                Ok(Delivered::Attempted(report)) => {
                    tracing::info!(
                        outbox.id = row.id,
                        outbox.attempt = attempt_no,
                        webhook.id = payload.webhook_id,
                        webhook.delivery = %payload.delivery_id,
                        webhook.outcome = %report.outcome,
                        http.status = report.http_status,
                        elapsed_ms = report.elapsed_ms,
                        "webhook attempted"
                    );
                    Attempt::Webhook(report)
                }
                Ok(Delivered::Skipped) => {
                    tracing::info!(
                        outbox.id = row.id,
                        webhook.id = payload.webhook_id,
                        "webhook disabled; delivery stopped"
                    );
                    Attempt::Failed {
                        error: "stopped: the webhook is disabled".to_owned(),
                        permanent: true,
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
        Some(DeliveryKind::PhoneNotice) => {
            match crate::outlets::deliver_phone_notice(
                store,
                &deps.phone,
                &deps.worker_id,
                &deps.settings.public_base_url,
                row,
            )
            .await
            {
                Ok(channel) => {
                    tracing::info!(
                        outbox.id = row.id,
                        outbox.attempt = attempt_no,
                        phone.channel = channel,
                        "phone notice sent"
                    );
                    Attempt::Sent
                }
                Err(not) => not_delivered(not),
            }
        }
        Some(DeliveryKind::PortalCall) => {
            let Some(portal) = &deps.portal else {
                return Attempt::Failed {
                    error: "this worker has no portal configured".to_owned(),
                    permanent: false,
                };
            };
            match crate::outlets::deliver_portal_call(store, portal, row).await {
                Ok(service) => {
                    tracing::info!(
                        outbox.id = row.id,
                        outbox.attempt = attempt_no,
                        portal.service = service,
                        "portal call made"
                    );
                    Attempt::Sent
                }
                Err(not) => not_delivered(not),
            }
        }
        None => Attempt::Failed {
            error: format!("this worker does not deliver `{}` rows", row.kind),
            permanent: true,
        },
    }
}

/// An attempt that broke down (panicked, or ran past the overall deadline): a webhook's is recorded
/// as an attempt of its own, any other kind's as a failure to retry.
fn broken(webhook: bool, outcome: WebhookAttemptOutcome, error: String) -> Attempt {
    if webhook {
        Attempt::Webhook(AttemptReport {
            outcome,
            http_status: None,
            error: Some(error),
            retry_after: None,
            elapsed_ms: None,
        })
    } else {
        Attempt::Failed {
            error,
            permanent: false,
        }
    }
}

fn not_delivered(not: NotDelivered) -> Attempt {
    Attempt::Failed {
        error: not.error,
        permanent: not.permanent,
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
