//! The long-running loops of the dossier service. Each loop is a sequence of steps; a step is a
//! function that does one unit of work and reports a [`StepOutcome`], so tests can drive a loop step by
//! step instead of sleeping.

pub mod carrier;
pub mod housekeeping;
pub mod mail;
pub mod outbox;
pub mod sync;
pub mod webhooks;

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

/// Runs every loop until `shutdown` turns true; the step in hand is finished first.
pub async fn run(store: Store, settings: WorkerSettings, mut shutdown: watch::Receiver<bool>) {
    let deliveries = match outbox::OutboxDeps::new(&settings.outbox) {
        Ok(deps) => Some(deps),
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
    let carrier = settings.carrier.as_ref().and_then(|c| {
        match carrier::HttpCarrier::new(c.config.clone()) {
            Ok(adapter) => Some((adapter, c)),
            Err(err) => {
                tracing::error!(error.cause = %err, "the carrier adapter is not set up; the feed will not be read");
                None
            }
        }
    });
    let mut housekeeping_due = tokio::time::Instant::now();
    let mut carrier_due = tokio::time::Instant::now();
    loop {
        let mut outcome = StepOutcome::Idle;
        if let Some((adapter, c)) = &carrier
            && tokio::time::Instant::now() >= carrier_due
        {
            let synced = sync::step(&store, adapter, &c.sync).await;
            carrier_due = match synced {
                StepOutcome::Worked => tokio::time::Instant::now(),
                StepOutcome::Idle | StepOutcome::Failed => {
                    tokio::time::Instant::now() + c.poll_interval
                }
            };
        }
        if tokio::time::Instant::now() >= housekeeping_due {
            outcome = housekeeping::step(&store).await;
            housekeeping_due = tokio::time::Instant::now() + settings.idle_interval;
        }
        if let Some(deps) = &deliveries {
            outcome = outbox::step(&store, deps).await;
        }
        let pause = match outcome {
            StepOutcome::Worked => Duration::ZERO,
            StepOutcome::Idle | StepOutcome::Failed => settings
                .idle_interval
                .min(settings.outbox.poll_interval)
                .min(housekeeping_due.saturating_duration_since(tokio::time::Instant::now()))
                .min(if carrier.is_some() {
                    carrier_due.saturating_duration_since(tokio::time::Instant::now())
                } else {
                    Duration::MAX
                }),
        };
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
