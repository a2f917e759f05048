//! The long-running loops of the dossier service. Each loop is a sequence of steps; a step is a
//! function that does one unit of work and reports a [`StepOutcome`], so tests can drive a loop step by
//! step instead of sleeping.
//!
//! Where to add: a new loop is a `step` function in its own module returning [`StepOutcome`], with its
//! queries in `domain::ops`, spawned in [`run`] through `duty` (which gives it its metric and its
//! shutdown); a new kind of outbox delivery is a lane in `outbox.rs` with its adapter beside it.

mod answer;
pub mod carrier;
pub mod deadlines;
pub mod housekeeping;
pub mod mail;
pub mod outbox;
pub mod outlets;
pub mod period_reports;
pub mod portal;
pub mod quiet;
pub mod sms;
pub mod sync;
pub mod webhooks;
pub mod zalo;

use std::sync::Arc;
use std::time::Duration;

use domain::store::Store;
use tokio::sync::watch;

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Did some work; call again soon.
    Worked,
    /// Nothing to do; wait for the next tick.
    Idle,
    /// Failed; already logged. Wait and retry.
    Failed,
}

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Pause between idle steps.
    pub idle_interval: Duration,
    /// E-mail and webhook delivery.
    pub outbox: outbox::OutboxSettings,
    /// The carrier feed sync; `None` when no carrier is configured.
    pub carrier: Option<CarrierSync>,
    /// The administrators' address, copied on every periodic report.
    pub alerts_email: Option<String>,
}

/// Where the carrier is and how often its feed is read.
#[derive(Debug, Clone)]
pub struct CarrierSync {
    /// The adapter's settings.
    pub config: carrier::CarrierConfig,
    /// Pause between reads of the feed when it has nothing new.
    pub poll_interval: Duration,
    /// Feed reading and lease.
    pub sync: sync::SyncSettings,
    /// Per-order reads of parcels the feed has been quiet about.
    pub quiet: quiet::QuietSettings,
    /// Pause between looks for quiet parcels when there were none.
    pub quiet_interval: Duration,
}

impl CarrierSync {
    /// The defaults for a carrier at `config`, read every `poll_interval`.
    pub fn new(config: carrier::CarrierConfig, poll_interval: Duration) -> CarrierSync {
        CarrierSync {
            config,
            poll_interval,
            sync: sync::SyncSettings::default(),
            quiet: quiet::QuietSettings::default(),
            quiet_interval: Duration::from_secs(60),
        }
    }
}

/// Completes when `shutdown` turns true (never, if its sender is gone without saying so).
pub fn stopped(shutdown: &watch::Receiver<bool>) -> impl std::future::Future<Output = ()> + use<> {
    let mut shutdown = shutdown.clone();
    async move {
        if shutdown.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            idle_interval: Duration::from_secs(30),
            outbox: outbox::OutboxSettings::default(),
            carrier: None,
            alerts_email: None,
        }
    }
}

/// Runs every duty of the worker as a loop of its own until `shutdown` turns true: carrier feed sync,
/// quiet parcels, one outbox lane per kind of delivery (e-mail, webhooks, carrier orders), the
/// deadline sweep, the periodic reports and housekeeping. The loops share nothing but the store, so one slow or stuck
/// dependency (an SMTP server that does not answer, a carrier that is slow) never stops the others.
///
/// On shutdown, a carrier read in hand is dropped and its lease released (another worker reads the
/// same records again); a batch already read is stored; an outbox lane starts no further row, lets
/// the attempts in flight finish for a short drain, and gives back the rest at once.
pub async fn run(store: Store, settings: WorkerSettings, shutdown: watch::Receiver<bool>) {
    let carrier = settings.carrier.as_ref().and_then(|c| {
        match carrier::HttpCarrier::new(c.config.clone()) {
            Ok(adapter) => Some((Arc::new(adapter), c.clone())),
            Err(err) => {
                tracing::error!(error.cause = %err, "the carrier adapter is not set up; the feed will not be read");
                None
            }
        }
    });
    let deliveries = match outbox::OutboxDeps::new(&settings.outbox) {
        Ok(deps) => Some(Arc::new(match &carrier {
            Some((adapter, _)) => deps.with_carrier(adapter.clone()),
            None => deps,
        })),
        Err(err) => {
            tracing::error!(error.cause = %err, "outgoing mail and webhooks are not set up; nothing will be sent");
            None
        }
    };
    if let Some(deps) = &deliveries {
        // Phone notices and portal calls are written only while a worker delivers them.
        if let Err(err) =
            domain::ops::integrations::declare_outlets(&store.write, deps.outlets()).await
        {
            tracing::error!(error.cause = %err, "declaring the phone and portal outlets failed");
        }
        tracing::info!(mail.transport = %deps.mailer.describe(), "worker started");
    } else {
        tracing::info!("worker started");
    }
    let mut loops = tokio::task::JoinSet::new();
    if let Some((adapter, c)) = carrier {
        let (store_, adapter_, c_, stop) =
            (store.clone(), adapter.clone(), c.clone(), shutdown.clone());
        loops.spawn(duty(
            "carrier_feed",
            shutdown.clone(),
            c.poll_interval,
            move || {
                let (store, adapter, c, stop) =
                    (store_.clone(), adapter_.clone(), c_.clone(), stop.clone());
                async move {
                    sync::step_or_stop(&store, adapter.as_ref(), &c.sync, stopped(&stop)).await
                }
            },
        ));
        let (store_, stop) = (store.clone(), shutdown.clone());
        loops.spawn(duty(
            "quiet_parcels",
            shutdown.clone(),
            c.quiet_interval,
            move || {
                let (store, adapter, c, stop) =
                    (store_.clone(), adapter.clone(), c.clone(), stop.clone());
                async move {
                    quiet::step_or_stop(&store, adapter.as_ref(), &c.quiet, stopped(&stop)).await
                }
            },
        ));
    }
    if let Some(deps) = &deliveries {
        for kinds in deps.lanes() {
            let (store_, deps_, stop) = (store.clone(), deps.clone(), shutdown.clone());
            let name = kinds.first().map_or("outbox", |k| k.as_str());
            loops.spawn(duty(
                name,
                shutdown.clone(),
                settings.outbox.poll_interval,
                move || {
                    let (store, deps, stop) = (store_.clone(), deps_.clone(), stop.clone());
                    async move { outbox::step_lane(&store, &deps, kinds, stopped(&stop)).await }
                },
            ));
        }
    }
    let store_ = store.clone();
    loops.spawn(duty(
        "deadlines",
        shutdown.clone(),
        settings.idle_interval,
        move || {
            let store = store_.clone();
            async move { deadlines::step(&store).await }
        },
    ));
    let (store_, alerts) = (store.clone(), settings.alerts_email.clone());
    loops.spawn(duty(
        "period_reports",
        shutdown.clone(),
        settings.idle_interval,
        move || {
            let (store, alerts) = (store_.clone(), alerts.clone());
            async move { period_reports::step(&store, alerts.as_deref(), domain::clock::now()).await }
        },
    ));
    let store_ = store.clone();
    loops.spawn(duty(
        "housekeeping",
        shutdown.clone(),
        settings.idle_interval,
        move || {
            let store = store_.clone();
            async move {
                housekeeping::step(&store).await;
                // Housekeeping runs once per interval, whatever it found.
                StepOutcome::Idle
            }
        },
    ));
    while loops.join_next().await.is_some() {}
    // A Zalo token refresh Zalo may have answered is kept before the worker exits.
    if let Some(zns) = deliveries.as_ref().and_then(|d| d.phone.zns.as_ref()) {
        zns.settle().await;
    }
    tracing::info!("worker stopped");
}

/// The worker's loop metrics.
pub mod metric {
    /// Unix time of the last step each duty finished, by `duty`: a duty whose value stops moving is
    /// stuck.
    pub const LAST_STEP: &str = "dossier_worker_last_step_timestamp_seconds";
}

/// Runs one duty until `shutdown`: a step, then at once again when it worked, or after `interval`
/// when it was idle or failed. A panic in a step is logged and counts as a failed step; the loop
/// goes on.
async fn duty<F, Fut>(
    name: &'static str,
    mut shutdown: watch::Receiver<bool>,
    interval: Duration,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StepOutcome>,
{
    use futures_util::FutureExt;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let outcome = match std::panic::AssertUnwindSafe(step()).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::error!(worker.duty = name, "a step panicked; the loop goes on");
                StepOutcome::Failed
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!(metric::LAST_STEP, "duty" => name).set(now);
        let pause = match outcome {
            StepOutcome::Worked => Duration::ZERO,
            StepOutcome::Idle | StepOutcome::Failed => interval,
        };
        if *shutdown.borrow() {
            break;
        }
        if !pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        // Nobody can stop this worker any more: just keep the pace.
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        } else {
            // Let the other duties and tasks run between two busy steps.
            tokio::task::yield_now().await;
        }
    }
    tracing::debug!(worker.duty = name, "duty stopped");
}
