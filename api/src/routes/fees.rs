//! The fees report (API.md "Documents, fees, slips"; Decision 45 Art. 7.1 and 11):
//! `GET /api/v1/reports/fees` — per agency, the admin fees the post collected on its behalf in a
//! period, how much was handed over with the dossiers, and what is outstanding. Who may ask is decided
//! exactly as for the summary report.

use chrono::NaiveDate;
use domain::ops::access::Actor;
use domain::ops::fees_report::AgencyFees;
use domain::ops::reports::{ReportPeriod, report_scope};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};

use super::ApiTags;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// One agency's fees in the period.
#[derive(Debug, Clone, Object)]
pub struct AgencyFeesOut {
    pub agency_code: String,
    pub agency_name: String,
    /// Dossiers picked up in the period.
    pub dossiers: i64,
    /// Admin fees collected with them at pickup.
    pub admin_fees_collected_vnd: i64,
    /// The part handed to the agency with the dossiers, on signed handover records.
    pub admin_fees_handed_over_vnd: i64,
    /// Collected and not yet handed over.
    pub admin_fees_outstanding_vnd: i64,
}

/// The fees report.
#[derive(Debug, Clone, Object)]
pub struct FeesReportOut {
    /// The first local date, included.
    pub from: NaiveDate,
    /// The last local date, included.
    pub to: NaiveDate,
    /// Which dossiers the figures count.
    pub covers: String,
    pub agencies: Vec<AgencyFeesOut>,
    /// The sums over `agencies`.
    pub total: AgencyFeesTotalOut,
}

/// The sums over every agency of the report.
#[derive(Debug, Clone, Object)]
pub struct AgencyFeesTotalOut {
    pub dossiers: i64,
    pub admin_fees_collected_vnd: i64,
    pub admin_fees_handed_over_vnd: i64,
    pub admin_fees_outstanding_vnd: i64,
}

fn agency_fees_out(a: AgencyFees) -> AgencyFeesOut {
    AgencyFeesOut {
        agency_code: a.agency_code,
        agency_name: a.agency_name,
        dossiers: a.dossiers,
        admin_fees_collected_vnd: a.admin_fees_collected_vnd,
        admin_fees_handed_over_vnd: a.admin_fees_handed_over_vnd,
        admin_fees_outstanding_vnd: a.admin_fees_outstanding_vnd,
    }
}

pub struct FeesReportApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Reports")]
impl FeesReportApi {
    /// The admin fees collected on the agencies' behalf in a period (Decision 45 Art. 7.1, 11): per
    /// agency, the dossiers picked up on a local date from `from` to `to` (both inclusive), the fees
    /// collected with them, handed over on signed handover records, and outstanding.
    ///
    /// Give either `from` and `to`, or `period` (`2026-Q4`, `2026-H2`, `2026`). Administrators see
    /// every agency, or one with `agency`; an agency key sees its own only (naming another is 403).
    #[oai(path = "/reports/fees", method = "get")]
    async fn fees(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// First local date, `YYYY-MM-DD`, included (with `to`).
        from: Query<Option<String>>,
        /// Last local date, `YYYY-MM-DD`, included (with `from`).
        to: Query<Option<String>>,
        /// A preset instead of dates.
        period: Query<Option<String>>,
        /// One agency's code (administrators); an agency key may only name its own.
        agency: Query<Option<String>>,
    ) -> Result<Json<FeesReportOut>, ApiError> {
        if caller.0 == Actor::Public {
            return Err(ApiError::unauthorized(
                "reports need an admin or agency key: `Authorization: Bearer dk_…`",
            ));
        }
        let period = ReportPeriod::parse(from.0.as_deref(), to.0.as_deref(), period.0.as_deref())?;
        let scope = report_scope(&state.store.read, &caller.0, agency.0.as_deref()).await?;
        let agencies: Vec<AgencyFeesOut> =
            crate::report_runs::run_fees_report(&state, &period, scope.as_deref())
                .await?
                .into_iter()
                .map(agency_fees_out)
                .collect();
        let total = AgencyFeesTotalOut {
            dossiers: agencies.iter().map(|a| a.dossiers).sum(),
            admin_fees_collected_vnd: agencies.iter().map(|a| a.admin_fees_collected_vnd).sum(),
            admin_fees_handed_over_vnd: agencies.iter().map(|a| a.admin_fees_handed_over_vnd).sum(),
            admin_fees_outstanding_vnd: agencies.iter().map(|a| a.admin_fees_outstanding_vnd).sum(),
        };
        Ok(Json(FeesReportOut {
            from: period.from,
            to: period.to,
            covers:
                "dossiers picked up (their slip signed) on a local date (Asia/Ho_Chi_Minh) from \
                     `from` to `to`, both inclusive; figures as of now"
                    .to_owned(),
            agencies,
            total,
        }))
    }
}
