//! The long-running loops of the dossier service. Each loop is a sequence of steps; a step is a
//! function that does one unit of work and reports a [`StepOutcome`], so tests can drive a loop step by
//! step instead of sleeping.

pub mod carrier;
pub mod housekeeping;

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
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            idle_interval: Duration::from_secs(30),
        }
    }
}

/// Runs every loop until `shutdown` turns true; the step in hand is finished first.
pub async fn run(store: Store, settings: WorkerSettings, mut shutdown: watch::Receiver<bool>) {
    tracing::info!("worker started");
    loop {
        let outcome = housekeeping::step(&store).await;
        let pause = match outcome {
            StepOutcome::Worked => Duration::ZERO,
            StepOutcome::Idle | StepOutcome::Failed => settings.idle_interval,
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
