//! The long-running loops of the dossier service. Each loop is a sequence of steps; a step is a
//! function that does one unit of work and reports a [`StepOutcome`], so tests can drive a loop step by
//! step instead of sleeping.

pub mod carrier;
pub mod deadlines;
pub mod housekeeping;
pub mod mail;
pub mod outbox;
pub mod period_reports;
pub mod quiet;
pub mod sync;
pub mod webhooks;

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
        }
    }
}

/// Runs every loop until `shutdown` turns true. On shutdown, a carrier read in hand is dropped and its
/// lease released (another worker reads the same records again); a batch already read is stored; the
/// outbox batch in hand is finished (each delivery is bounded by its timeouts).
pub async fn run(store: Store, settings: WorkerSettings, mut shutdown: watch::Receiver<bool>) {
    let carrier = settings.carrier.as_ref().and_then(|c| {
        match carrier::HttpCarrier::new(c.config.clone()) {
            Ok(adapter) => Some((Arc::new(adapter), c)),
            Err(err) => {
                tracing::error!(error.cause = %err, "the carrier adapter is not set up; the feed will not be read");
                None
            }
        }
    });
    let deliveries = match outbox::OutboxDeps::new(&settings.outbox) {
        Ok(deps) => Some(match &carrier {
            Some((adapter, _)) => deps.with_carrier(adapter.clone()),
            None => deps,
        }),
        Err(err) => {
            tracing::error!(error.cause = %err, "outgoing mail and webhooks are not set up; nothing will be sent");
            None
        }
    };
    if let Some(deps) = &deliveries {
        tracing::info!(mail.transport = %deps.mailer.describe(), "worker started");
    } else {
        tracing::info!("worker started");
    }
    let mut housekeeping_due = tokio::time::Instant::now();
    let mut deadlines_due = tokio::time::Instant::now();
    let mut carrier_due = tokio::time::Instant::now();
    let mut quiet_due = tokio::time::Instant::now();
    loop {
        let mut outcome = StepOutcome::Idle;
        if let Some((adapter, c)) = &carrier {
            if tokio::time::Instant::now() >= carrier_due {
                let synced =
                    sync::step_or_stop(&store, adapter.as_ref(), &c.sync, stopped(&shutdown)).await;
                carrier_due = match synced {
                    StepOutcome::Worked => tokio::time::Instant::now(),
                    StepOutcome::Idle | StepOutcome::Failed => {
                        tokio::time::Instant::now() + c.poll_interval
                    }
                };
            }
            if tokio::time::Instant::now() >= quiet_due && !*shutdown.borrow() {
                let read =
                    quiet::step_or_stop(&store, adapter.as_ref(), &c.quiet, stopped(&shutdown))
                        .await;
                quiet_due = match read {
                    StepOutcome::Worked => tokio::time::Instant::now(),
                    StepOutcome::Idle | StepOutcome::Failed => {
                        tokio::time::Instant::now() + c.quiet_interval
                    }
                };
            }
        }
        if tokio::time::Instant::now() >= housekeeping_due {
            outcome = housekeeping::step(&store).await;
            housekeeping_due = tokio::time::Instant::now() + settings.idle_interval;
        }
        if tokio::time::Instant::now() >= deadlines_due {
            deadlines_due = match deadlines::step(&store).await {
                StepOutcome::Worked => tokio::time::Instant::now(),
                StepOutcome::Idle | StepOutcome::Failed => {
                    tokio::time::Instant::now() + settings.idle_interval
                }
            };
        }
        if let Some(deps) = &deliveries
            && !*shutdown.borrow()
        {
            outcome = outbox::step(&store, deps).await;
        }
        let now = tokio::time::Instant::now();
        let pause = match outcome {
            StepOutcome::Worked => Duration::ZERO,
            StepOutcome::Idle | StepOutcome::Failed => {
                let mut pause = settings
                    .idle_interval
                    .min(settings.outbox.poll_interval)
                    .min(housekeeping_due.saturating_duration_since(now))
                    .min(deadlines_due.saturating_duration_since(now));
                if carrier.is_some() {
                    pause = pause
                        .min(carrier_due.saturating_duration_since(now))
                        .min(quiet_due.saturating_duration_since(now));
                }
                pause
            }
        };
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
    tracing::info!("worker stopped");
}
