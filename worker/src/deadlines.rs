//! The overdue sweep's loop: each step raises the deadlines that have passed
//! ([`domain::ops::deadlines::sweep`], where "once per deadline" is kept).

use domain::ops::deadlines::{BATCH, Raised, sweep};
use domain::store::Store;

use crate::StepOutcome;

/// One sweep: raises the `overdue` events of up to [`BATCH`] parcel deadlines and [`BATCH`] agency
/// deadlines that have passed. `Worked` when it raised any (there may be more), `Idle` when none.
#[tracing::instrument(name = "deadlines", skip_all)]
pub async fn step(store: &Store) -> StepOutcome {
    match sweep(store, domain::clock::now(), BATCH).await {
        Ok(raised) if raised == Raised::default() => StepOutcome::Idle,
        Ok(raised) => {
            tracing::info!(
                overdue.legs = raised.legs,
                overdue.results = raised.results,
                "overdue deadlines raised"
            );
            StepOutcome::Worked
        }
        Err(err) => {
            tracing::error!(error.cause = %err, "overdue sweep failed");
            StepOutcome::Failed
        }
    }
}
