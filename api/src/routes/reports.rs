//! Reports (API.md "Reports", Circular 17 Art. 13): `GET /api/v1/reports/summary` for a period given by
//! dates or by a quarter, half-year or year preset, over every agency (administrators) or one agency
//! (an agency key sees only its own). JSON by default; `Accept: text/csv` gives the same tables as CSV.

use chrono::{DateTime, FixedOffset, NaiveDate};
use domain::ops::access::Actor;
use domain::ops::reports::{
    AgencyFigures, LegFigures, ReportError, ReportPeriod, SummaryReport, report_scope,
};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi, ResponseContent,
    param::Query,
    payload::{Json, PlainText},
};

use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::report_runs::run_report;
use crate::state::AppState;

/// What a report period covers, in words (also in the OpenAPI description).
const COVERS: &str = "dossiers created (pickup requested, or filed at the desk for mode `return`) \
    on a local date (Asia/Ho_Chi_Minh) from `from` to `to`, both inclusive; figures as of `generated_at`";

impl From<ReportError> for ApiError {
    fn from(err: ReportError) -> Self {
        match err {
            ReportError::BadQuery(message) => ApiError::bad_request(message),
            ReportError::Forbidden(message) => ApiError::forbidden(message),
            ReportError::Invalid { field, message } => {
                ApiError::validation(vec![domain::ops::FieldError::new(field, message)])
            }
            ReportError::Busy {
                message,
                retry_after_secs,
            } => ApiError::too_many(message, retry_after_secs),
            ReportError::Db(db) => ApiError::from(db),
        }
    }
}

/// The period a report covers.
#[derive(Debug, Clone, Object)]
pub struct PeriodOut {
    /// The first local date, included.
    pub from: NaiveDate,
    /// The last local date, included.
    pub to: NaiveDate,
    /// `2026-Q4`, `2026-H2` or `2026` when asked for by preset.
    #[oai(nullable)]
    pub preset: Option<String>,
    /// Always `Asia/Ho_Chi_Minh`.
    pub time_zone: String,
    /// Which dossiers the figures count.
    pub covers: String,
}

/// Dossiers in one status now.
#[derive(Debug, Clone, Object)]
pub struct StatusCountOut {
    pub status: String,
    pub dossiers: i64,
}

/// Dossiers of one procedure.
#[derive(Debug, Clone, Object)]
pub struct ProcedureCountOut {
    pub procedure_code: String,
    pub procedure_name: String,
    pub dossiers: i64,
}

/// One leg direction. A leg is on time when delivered (inbound: handed over to the agency; outbound:
/// delivered to the citizen) by the end of its due date, late when delivered after it.
#[derive(Debug, Clone, Object)]
pub struct LegFiguresOut {
    /// `inbound` (to the agency) or `outbound` (the result, home).
    pub direction: String,
    /// Legs of the period's dossiers in this direction.
    pub legs: i64,
    /// Legs that left: picked up (inbound) or handed to the post (outbound).
    pub started: i64,
    pub delivered: i64,
    pub on_time: i64,
    pub late: i64,
    /// `on_time / (on_time + late)`, 0 to 1, four decimals; `null` when nothing was delivered.
    #[oai(nullable)]
    pub on_time_rate: Option<f64>,
    /// Median days (of 24 h) from the leg's start to its delivery, two decimals.
    #[oai(nullable)]
    pub median_transit_days: Option<f64>,
    /// Failed delivery attempts (notices left), summed.
    pub failed_attempts: i64,
    pub legs_with_failed_attempts: i64,
    /// Results taken back to the agency after the failed notices.
    pub returned_to_agency: i64,
    /// Legs on their way now, past their due time.
    pub overdue: i64,
}

/// One agency's dossiers in the period.
#[derive(Debug, Clone, Object)]
pub struct AgencyFiguresOut {
    pub agency_code: String,
    pub agency_name: String,
    pub dossiers: i64,
    pub inbound_delivered: i64,
    pub inbound_on_time: i64,
    pub inbound_late: i64,
    #[oai(nullable)]
    pub inbound_on_time_rate: Option<f64>,
    pub outbound_delivered: i64,
    pub outbound_on_time: i64,
    pub outbound_late: i64,
    #[oai(nullable)]
    pub outbound_on_time_rate: Option<f64>,
    /// Both directions together.
    #[oai(nullable)]
    pub on_time_rate: Option<f64>,
    pub failed_attempts: i64,
    pub returned_to_agency: i64,
    /// Legs on their way now, past their due time.
    pub overdue_legs: i64,
    /// Dossiers at the agency's desk now, past the agency's result deadline.
    pub overdue_results: i64,
}

/// What is late now.
#[derive(Debug, Clone, Object)]
pub struct OverdueOut {
    pub inbound_legs: i64,
    pub outbound_legs: i64,
    /// Dossiers at the agency's desk past the agency's result deadline.
    pub agency_results: i64,
}

/// The summary report.
#[derive(Debug, Clone, Object)]
pub struct SummaryOut {
    pub period: PeriodOut,
    /// The agency reported on; `null` for all agencies.
    #[oai(nullable)]
    pub agency_code: Option<String>,
    pub generated_at: DateTime<FixedOffset>,
    /// Dossiers the period covers.
    pub dossiers: i64,
    /// Every status, in lifecycle order, zeros included.
    pub by_status: Vec<StatusCountOut>,
    /// Procedures with dossiers in the period, by code.
    pub by_procedure: Vec<ProcedureCountOut>,
    /// `inbound`, then `outbound`.
    pub legs: Vec<LegFiguresOut>,
    /// Agencies with dossiers in the period, by code.
    pub agencies: Vec<AgencyFiguresOut>,
    pub overdue: OverdueOut,
}

fn leg_out(l: &LegFigures) -> LegFiguresOut {
    LegFiguresOut {
        direction: l.direction.as_str().to_owned(),
        legs: l.legs,
        started: l.started,
        delivered: l.on_time.delivered,
        on_time: l.on_time.on_time,
        late: l.on_time.late,
        on_time_rate: l.on_time.rate(),
        median_transit_days: l.median_transit_days,
        failed_attempts: l.failed_attempts,
        legs_with_failed_attempts: l.legs_with_failed_attempts,
        returned_to_agency: l.returned_to_agency,
        overdue: l.overdue,
    }
}

fn agency_out(a: &AgencyFigures) -> AgencyFiguresOut {
    AgencyFiguresOut {
        agency_code: a.agency_code.clone(),
        agency_name: a.agency_name.clone(),
        dossiers: a.dossiers,
        inbound_delivered: a.inbound.delivered,
        inbound_on_time: a.inbound.on_time,
        inbound_late: a.inbound.late,
        inbound_on_time_rate: a.inbound.rate(),
        outbound_delivered: a.outbound.delivered,
        outbound_on_time: a.outbound.on_time,
        outbound_late: a.outbound.late,
        outbound_on_time_rate: a.outbound.rate(),
        on_time_rate: a.on_time().rate(),
        failed_attempts: a.failed_attempts,
        returned_to_agency: a.returned_to_agency,
        overdue_legs: a.overdue_legs,
        overdue_results: a.overdue_results,
    }
}

fn summary_out(r: &SummaryReport) -> SummaryOut {
    SummaryOut {
        period: PeriodOut {
            from: r.period.from,
            to: r.period.to,
            preset: r.period.preset.clone(),
            time_zone: "Asia/Ho_Chi_Minh".to_owned(),
            covers: COVERS.to_owned(),
        },
        agency_code: r.agency_code.clone(),
        generated_at: local_time(r.generated_at),
        dossiers: r.dossiers,
        by_status: r
            .by_status
            .iter()
            .map(|s| StatusCountOut {
                status: s.status.as_str().to_owned(),
                dossiers: s.dossiers,
            })
            .collect(),
        by_procedure: r
            .by_procedure
            .iter()
            .map(|p| ProcedureCountOut {
                procedure_code: p.procedure_code.clone(),
                procedure_name: p.procedure_name.clone(),
                dossiers: p.dossiers,
            })
            .collect(),
        legs: r.legs.iter().map(leg_out).collect(),
        agencies: r.agencies.iter().map(agency_out).collect(),
        overdue: OverdueOut {
            inbound_legs: r.overdue.inbound_legs,
            outbound_legs: r.overdue.outbound_legs,
            agency_results: r.overdue.agency_results,
        },
    }
}

/// One CSV table: its name on a line of its own, a header row, then the rows.
struct CsvSection {
    name: &'static str,
    header: &'static [&'static str],
    rows: Vec<Vec<String>>,
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// A text cell of a CSV the service writes, safe to open in a spreadsheet: one that begins with `=`,
/// `+`, `-`, `@`, a tab or a carriage return would be read as a formula, so it gets a leading `'`.
/// Numbers the service itself writes are not text and are left alone (a negative number stays a
/// number, and none of them can be a formula).
pub fn csv_text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

fn opt_text(value: Option<&String>) -> String {
    value.map(|v| csv_text(v)).unwrap_or_default()
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The report as CSV: a UTF-8 byte-order mark (so spreadsheet programs read the Vietnamese names
/// right), then one section per table separated by an empty line, CRLF line ends.
fn summary_csv(s: &SummaryOut) -> String {
    let sections = [
        CsvSection {
            name: "summary",
            header: &[
                "period_from",
                "period_to",
                "preset",
                "agency_code",
                "generated_at",
                "dossiers",
            ],
            rows: vec![vec![
                s.period.from.to_string(),
                s.period.to.to_string(),
                opt_text(s.period.preset.as_ref()),
                opt_text(s.agency_code.as_ref()),
                s.generated_at.to_rfc3339(),
                s.dossiers.to_string(),
            ]],
        },
        CsvSection {
            name: "by_status",
            header: &["status", "dossiers"],
            rows: s
                .by_status
                .iter()
                .map(|r| vec![csv_text(&r.status), r.dossiers.to_string()])
                .collect(),
        },
        CsvSection {
            name: "by_procedure",
            header: &["procedure_code", "procedure_name", "dossiers"],
            rows: s
                .by_procedure
                .iter()
                .map(|r| {
                    vec![
                        csv_text(&r.procedure_code),
                        csv_text(&r.procedure_name),
                        r.dossiers.to_string(),
                    ]
                })
                .collect(),
        },
        CsvSection {
            name: "legs",
            header: &[
                "direction",
                "legs",
                "started",
                "delivered",
                "on_time",
                "late",
                "on_time_rate",
                "median_transit_days",
                "failed_attempts",
                "legs_with_failed_attempts",
                "returned_to_agency",
                "overdue",
            ],
            rows: s
                .legs
                .iter()
                .map(|l| {
                    vec![
                        csv_text(&l.direction),
                        l.legs.to_string(),
                        l.started.to_string(),
                        l.delivered.to_string(),
                        l.on_time.to_string(),
                        l.late.to_string(),
                        opt(l.on_time_rate),
                        opt(l.median_transit_days),
                        l.failed_attempts.to_string(),
                        l.legs_with_failed_attempts.to_string(),
                        l.returned_to_agency.to_string(),
                        l.overdue.to_string(),
                    ]
                })
                .collect(),
        },
        CsvSection {
            name: "agencies",
            header: &[
                "agency_code",
                "agency_name",
                "dossiers",
                "inbound_delivered",
                "inbound_on_time",
                "inbound_late",
                "inbound_on_time_rate",
                "outbound_delivered",
                "outbound_on_time",
                "outbound_late",
                "outbound_on_time_rate",
                "on_time_rate",
                "failed_attempts",
                "returned_to_agency",
                "overdue_legs",
                "overdue_results",
            ],
            rows: s
                .agencies
                .iter()
                .map(|a| {
                    vec![
                        csv_text(&a.agency_code),
                        csv_text(&a.agency_name),
                        a.dossiers.to_string(),
                        a.inbound_delivered.to_string(),
                        a.inbound_on_time.to_string(),
                        a.inbound_late.to_string(),
                        opt(a.inbound_on_time_rate),
                        a.outbound_delivered.to_string(),
                        a.outbound_on_time.to_string(),
                        a.outbound_late.to_string(),
                        opt(a.outbound_on_time_rate),
                        opt(a.on_time_rate),
                        a.failed_attempts.to_string(),
                        a.returned_to_agency.to_string(),
                        a.overdue_legs.to_string(),
                        a.overdue_results.to_string(),
                    ]
                })
                .collect(),
        },
        CsvSection {
            name: "overdue",
            header: &["inbound_legs", "outbound_legs", "agency_results"],
            rows: vec![vec![
                s.overdue.inbound_legs.to_string(),
                s.overdue.outbound_legs.to_string(),
                s.overdue.agency_results.to_string(),
            ]],
        },
    ];
    let mut out = String::from("\u{feff}");
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        out.push_str(section.name);
        out.push_str("\r\n");
        out.push_str(&section.header.join(","));
        out.push_str("\r\n");
        for row in &section.rows {
            let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

/// Whether the `Accept` header prefers CSV: `text/csv` is named with a non-zero quality no lower than
/// JSON's (or JSON is not named). Anything else gets JSON.
fn wants_csv(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let quality = |media: &str| -> Option<f32> {
        accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';').map(str::trim);
                let kind = parts.next()?;
                if !kind.eq_ignore_ascii_case(media) {
                    return None;
                }
                let q = parts
                    .filter_map(|p| p.strip_prefix("q="))
                    .find_map(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some(q)
            })
            .reduce(f32::max)
    };
    match (quality("text/csv"), quality("application/json")) {
        (Some(csv), json) => csv > 0.0 && json.is_none_or(|json| csv >= json),
        (None, _) => false,
    }
}

/// The report, in the format asked for.
#[derive(ResponseContent)]
pub enum SummaryBody {
    Json(Json<Box<SummaryOut>>),
    #[oai(content_type = "text/csv; charset=utf-8")]
    Csv(PlainText<String>),
}

#[derive(ApiResponse)]
enum SummaryResponse {
    /// The report: JSON, or CSV with `Accept: text/csv` (sections `summary`, `by_status`,
    /// `by_procedure`, `legs`, `agencies`, `overdue`; each its name on a line, a header row, the rows).
    #[oai(status = 200)]
    Ok(SummaryBody, #[oai(header = "Vary")] String),
}

pub struct ReportApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Reports")]
impl ReportApi {
    /// The summary report of a period (Circular 17 Art. 13).
    ///
    /// **Which dossiers a period covers**: those created (pickup requested, or filed at the desk for
    /// mode `return`) on a local date (Asia/Ho_Chi_Minh) from `from` to `to`, both inclusive. Every
    /// figure is about those dossiers as they stand when the report is made: counts by current status
    /// and by procedure; per leg direction the legs started and delivered, on time (delivered by the
    /// end of the due date) or late, the on-time rate, the median transit days (from pickup, or from
    /// the handover of the result to the post, to delivery), failed delivery attempts and returns to
    /// the agency; the same per agency; and what is overdue now (legs past their due time still on
    /// their way, dossiers at the desk past the agency's deadline).
    ///
    /// Give either `from` and `to`, or `period`. Administrators see every agency, or one with
    /// `agency`; an agency key sees its own agency only (naming another is 403). `Accept: text/csv`
    /// gives CSV, anything else JSON.
    #[oai(path = "/reports/summary", method = "get")]
    #[tracing::instrument(skip_all)]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn summary(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        request: &poem::Request,
        /// First local date, `YYYY-MM-DD`, included (with `to`).
        from: Query<Option<String>>,
        /// Last local date, `YYYY-MM-DD`, included (with `from`).
        to: Query<Option<String>>,
        /// A preset instead of dates: a quarter `2026-Q4`, a half-year `2026-H2` or a year `2026`.
        period: Query<Option<String>>,
        /// One agency's code (administrators); an agency key may only name its own.
        agency: Query<Option<String>>,
    ) -> Result<SummaryResponse, ApiError> {
        if caller.0 == Actor::Public {
            return Err(ApiError::unauthorized(
                "reports need an admin or agency key: `Authorization: Bearer dk_…`",
            ));
        }
        let period = ReportPeriod::parse(from.0.as_deref(), to.0.as_deref(), period.0.as_deref())?;
        let scope = report_scope(&state.store.read, &caller.0, agency.0.as_deref()).await?;
        let report = run_report(&state, &period, scope.as_deref()).await?;
        let out = summary_out(&report);
        let accept = request
            .headers()
            .get(poem::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let body = if wants_csv(accept) {
            SummaryBody::Csv(PlainText(summary_csv(&out)))
        } else {
            SummaryBody::Json(Json(Box::new(out)))
        };
        Ok(SummaryResponse::Ok(body, "Accept".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_is_chosen_only_when_preferred() {
        assert!(wants_csv(Some("text/csv")));
        assert!(wants_csv(Some("text/csv; charset=utf-8")));
        assert!(wants_csv(Some("application/json;q=0.5, text/csv")));
        assert!(wants_csv(Some("TEXT/CSV")));
        assert!(!wants_csv(None));
        assert!(!wants_csv(Some("*/*")));
        assert!(!wants_csv(Some("application/json")));
        assert!(!wants_csv(Some("text/csv;q=0")));
        assert!(!wants_csv(Some("text/csv;q=0.4, application/json")));
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("Đăng ký khai sinh"), "Đăng ký khai sinh");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn text_cells_that_a_spreadsheet_would_run_are_prefixed() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv_text(cell), format!("'{cell}"));
        }
        assert_eq!(csv_text("Đăng ký"), "Đăng ký");
        assert_eq!(csv_text("a=b"), "a=b");
    }
}
