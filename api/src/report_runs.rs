//! Running reports within this process's limits (`limits.reports_at_once`,
//! `limits.report_wait_secs`, `limits.report_timeout_ms`): the summary report, for its route
//! (`GET /api/v1/reports/summary`) and the agency's report page alike, and the fees report
//! (`GET /api/v1/reports/fees`). It sits below `routes` and `web`, which both import it; it imports
//! neither.

use std::future::Future;
use std::time::Duration;

use domain::ops::fees_report::AgencyFees;
use domain::ops::reports::{ReportError, ReportPeriod, SummaryReport};
use sea_orm::DbErr;

use crate::state::AppState;

/// Runs the summary report within this process's limits (see [`within_limits`]).
pub async fn run_report(
    state: &AppState,
    period: &ReportPeriod,
    scope: Option<&str>,
) -> Result<SummaryReport, ReportError> {
    within_limits(state, |timeout| {
        domain::ops::reports::summary_report_within(
            &state.store.read,
            period,
            scope,
            domain::clock::now(),
            timeout,
        )
    })
    .await
}

/// Runs the fees report within this process's limits (see [`within_limits`]).
pub async fn run_fees_report(
    state: &AppState,
    period: &ReportPeriod,
    scope: Option<&str>,
) -> Result<Vec<AgencyFees>, ReportError> {
    within_limits(state, |timeout| {
        domain::ops::fees_report::fees_report_within(&state.store.read, period, scope, timeout)
    })
    .await
}

/// Runs `report` (given the statement timeout to apply) within this process's limits: at most
/// `limits.reports_at_once` reports at a time (the next waits up to `limits.report_wait_secs` for a
/// turn, then is refused), each statement under `limits.report_timeout_ms` on PostgreSQL, and the
/// whole report bounded by a timer a little longer than that (on SQLite, the timer alone). Either
/// refusal is [`ReportError::Busy`].
async fn within_limits<T, F>(
    state: &AppState,
    report: impl FnOnce(Duration) -> F,
) -> Result<T, ReportError>
where
    F: Future<Output = Result<T, DbErr>>,
{
    let reports = &state.guards.reports;
    let wait_secs = reports.wait.as_secs().max(1);
    let _turn = match tokio::time::timeout(reports.wait, reports.slots.acquire()).await {
        Ok(Ok(turn)) => turn,
        Ok(Err(_)) | Err(_) => {
            return Err(ReportError::Busy {
                message: "other reports are being made; try again in a moment".into(),
                retry_after_secs: wait_secs,
            });
        }
    };
    let timed_out = || ReportError::Busy {
        message: format!(
            "the report took longer than {} ms and was stopped; try again later, or ask for a \
             shorter period or one agency",
            reports.timeout.as_millis()
        ),
        retry_after_secs: 60,
    };
    if reports.timeout.is_zero() {
        return Err(timed_out());
    }
    let report = report(reports.timeout);
    match tokio::time::timeout(reports.timeout + reports.timeout / 10, report).await {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(err)) if domain::ops::reports::is_statement_timeout(&err) => Err(timed_out()),
        Ok(Err(err)) => Err(ReportError::Db(err)),
        Err(_) => Err(timed_out()),
    }
}
