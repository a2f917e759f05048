//! The summary report with its on-time rates.

use askama::Template;
use chrono::{Datelike, Utc};
use domain::ops::OpError;
use domain::ops::reports::{ReportError, ReportPeriod};
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::page::{Answer, Chrome, render};
use crate::web::session::StaffSession;
use domain::ops::reports::SummaryReport;

/// A bar of the on-time chart.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    /// The bar's length in the chart's units (480 for 100%).
    pub length: u32,
    pub text: String,
    pub low: bool,
    pub y: u32,
}

/// The summary report.
#[derive(Template)]
#[template(path = "agency/report.html")]
pub struct ReportPage {
    pub c: Chrome,
    pub period: String,
    pub from: String,
    pub to: String,
    pub error: Option<String>,
    pub dossiers: i64,
    pub by_status: Vec<(&'static str, i64)>,
    pub bars: Vec<Bar>,
    pub chart_height: u32,
    /// `(direction, started, delivered, on time, late, median days, failed attempts)`.
    pub legs: Vec<(&'static str, i64, i64, i64, i64, String, i64)>,
    pub overdue_results: i64,
}

/// The period asked for.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    pub period: Option<String>,
}

/// `GET /agency/report?period=2026-Q4`: the agency's summary report (this quarter by default) with a
/// chart of on-time rates.
#[handler]
pub async fn report(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Query(q): Query<ReportQuery>,
) -> Response {
    let lang = Lang::of(req);
    let today = domain::sla::local_date(Utc::now());
    let default = format!("{}-Q{}", today.year(), (today.month0() / 3) + 1);
    let asked = q
        .period
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or(default);
    let mut page = ReportPage {
        c: Chrome::staff(req, &staff),
        period: asked.clone(),
        from: String::new(),
        to: String::new(),
        error: None,
        dossiers: 0,
        by_status: Vec::new(),
        bars: Vec::new(),
        chart_height: 0,
        legs: Vec::new(),
        overdue_results: 0,
    };
    let conn = &state.store.read;
    let made = async {
        let period = ReportPeriod::preset(&asked)?;
        let scope = domain::ops::reports::report_scope(conn, &staff.actor, None).await?;
        let report = crate::report_runs::run_report(&state, &period, scope.as_deref()).await?;
        Ok::<_, ReportError>(report)
    }
    .await;
    match made {
        Ok(report) => {
            fill(&mut page, lang, &report);
            render(StatusCode::OK, &page)
        }
        Err(ReportError::BadQuery(message)) => {
            page.error = Some(message);
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(ReportError::Invalid { message, .. }) => {
            page.error = Some(message);
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(ReportError::Busy {
            message,
            retry_after_secs,
        }) => {
            page.error = Some(message);
            let mut response = render(StatusCode::TOO_MANY_REQUESTS, &page);
            response.headers_mut().insert(
                poem::http::header::RETRY_AFTER,
                poem::http::HeaderValue::from(retry_after_secs),
            );
            response
        }
        Err(ReportError::Forbidden(message)) => Answer::staff(&state, req, &staff).refuse(
            StatusCode::FORBIDDEN,
            lang.op_error(&OpError::Forbidden(message)),
        ),
        Err(ReportError::Db(err)) => {
            let err = OpError::Db(err);
            Answer::staff(&state, req, &staff).error(&err)
        }
    }
}

/// Fills `page` with what `summary` counted: statuses, on-time bars, parcels and overdue results.
fn fill(page: &mut ReportPage, lang: Lang, summary: &SummaryReport) {
    page.from = summary.period.from.format("%d/%m/%Y").to_string();
    page.to = summary.period.to.format("%d/%m/%Y").to_string();
    page.dossiers = summary.dossiers;
    page.by_status = summary
        .by_status
        .iter()
        .filter(|s| s.dossiers > 0)
        .map(|s| (lang.status(s.status), s.dossiers))
        .collect();
    let mut bars = Vec::new();
    for leg in &summary.legs {
        bars.push((lang.direction(leg.direction).to_owned(), leg.on_time.rate()));
    }
    for a in &summary.agencies {
        bars.push((
            format!(
                "{} — {}",
                a.agency_name,
                lang.t("cả hai chiều", "both ways")
            ),
            a.on_time().rate(),
        ));
    }
    page.bars = bars
        .into_iter()
        .enumerate()
        .map(|(i, (label, rate))| {
            let percent = rate.map_or(0, |r| (r * 100.0).round().clamp(0.0, 100.0) as u32);
            Bar {
                label,
                length: percent * 48 / 10,
                text: rate.map_or_else(
                    || {
                        lang.t("chưa có bưu gửi đã phát", "nothing delivered yet")
                            .to_owned()
                    },
                    |_| format!("{percent}%"),
                ),
                low: rate.is_some() && percent < 90,
                y: u32::try_from(i).unwrap_or(0) * 44,
            }
        })
        .collect();
    page.chart_height = u32::try_from(page.bars.len()).unwrap_or(0) * 44;
    page.legs = summary
        .legs
        .iter()
        .map(|l| {
            (
                lang.direction(l.direction),
                l.started,
                l.on_time.delivered,
                l.on_time.on_time,
                l.on_time.late,
                l.median_transit_days
                    .map(|d| format!("{d:.2}"))
                    .unwrap_or_else(|| "—".to_owned()),
                l.failed_attempts,
            )
        })
        .collect();
    page.overdue_results = summary.overdue.agency_results;
}
