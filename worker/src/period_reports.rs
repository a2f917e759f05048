//! The periodic reports of Circular 17 Art. 13, as one step of a loop: on each call, the reports of
//! the quarter, half-year and year that ended last and were not sent yet are written to the outbox —
//! once per period and agency, whatever the number of workers and restarts (see
//! [`domain::ops::period_reports`]). The outbox worker then mails them, the CSV attached.

use chrono::{DateTime, Utc};
use domain::store::Store;

use crate::StepOutcome;

/// One step: sends what is due on the local date of `now`. `alerts_email` is
/// `DOSSIER__ALERTS__EMAIL`, which gets every agency's report as well.
#[tracing::instrument(skip_all)]
pub async fn step(store: &Store, alerts_email: Option<&str>, now: DateTime<Utc>) -> StepOutcome {
    let today = domain::sla::local_date(now);
    match domain::ops::period_reports::send_due_reports(store, today, alerts_email).await {
        // The failed ones were logged; they are tried again on the next round, at the usual pace.
        Ok(done) if done.sent == 0 => StepOutcome::Idle,
        Ok(_) => StepOutcome::Worked,
        Err(err) => {
            tracing::error!(error = %err, "Failed to send the periodic reports");
            StepOutcome::Failed
        }
    }
}
