//! Housekeeping: stored `Idempotency-Key` answers are kept for a day (long enough for any client retry)
//! and then removed, so the access tokens inside them do not linger.

use chrono::{Duration, Utc};
use domain::store::Store;

use crate::StepOutcome;

/// How long an idempotency answer is replayed.
pub const IDEMPOTENCY_RETENTION_HOURS: i64 = 24;

/// Removes idempotency records past their retention.
#[tracing::instrument(name = "housekeeping", skip_all)]
pub async fn step(store: &Store) -> StepOutcome {
    let cutoff = Utc::now() - Duration::hours(IDEMPOTENCY_RETENTION_HOURS);
    match domain::ops::idempotency::purge_before(&store.write, cutoff).await {
        Ok(purged) => {
            if purged > 0 {
                tracing::info!(purged, "expired idempotency records removed");
            }
            StepOutcome::Idle
        }
        Err(err) => {
            tracing::error!(error.cause = %err, "housekeeping failed");
            StepOutcome::Failed
        }
    }
}
