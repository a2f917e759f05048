//! The agency clerk's pages: the desk (handover records waiting for the agency's signature, the
//! worklist with overdue dossiers highlighted, rulings, results, collections, results handed to the
//! post), dossiers filed in person whose result the post brings home, and the summary report with
//! its on-time rates. The worklist and the report are the domain's (`domain::ops::agency`,
//! `domain::ops::reports`), as the JSON API serves them.

use askama::Template;
use chrono::{Datelike, Utc};
use domain::lifecycle::{Action, next_status};
use domain::ops::OpError;
use domain::ops::agency::{CollectedRequest, VerdictRequest, WorklistQuery};
use domain::ops::dossiers::{CreateOutcome, DossierRequest};
use domain::ops::handovers::HandoverRequest;
use domain::ops::idempotency::IdempotencyClaim;
use domain::ops::reports::{ReportError, ReportPeriod};
use entity::dossier;
use entity::enums::{DossierStatus, HandoverDirection, HandoverStatus, ServiceMode};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::form::{Choice, Posted};
use super::i18n::{Lang, local_date, vnd};
use super::page::{Answer, Chrome, render, status_of};
use super::qr;
use super::request_form::{self, FormInputs, RequestForm};
use super::served_provinces;
use super::session::{StaffSession, percent_encode, safe_next};
use super::staff::{
    HandoverRow, after_action, expired, handover_created, on_open_records, recent_handovers,
    ticked_codes,
};
use crate::state::AppState;

/// What the agency may do next with a dossier, as the lifecycle says for its status.
#[derive(Debug, Clone)]
pub struct AgencyActions {
    pub code: String,
    pub back: String,
    pub can_verdict: bool,
    pub can_result: bool,
    pub can_collect: bool,
}

impl AgencyActions {
    /// The actions on `d`, coming back to `back`.
    pub fn of(d: &dossier::Model, back: &str) -> AgencyActions {
        let can = |action| next_status(d.service_mode, d.status, action).is_ok();
        AgencyActions {
            code: d.code.clone(),
            back: back.to_owned(),
            can_verdict: can(Action::Accept)
                || can(Action::RequestSupplement)
                || can(Action::Reject),
            can_result: can(Action::RecordResult),
            can_collect: can(Action::MarkCollected),
        }
    }
}

/// A dossier on the worklist.
#[derive(Debug, Clone)]
pub struct WorkRow {
    pub code: String,
    pub href: String,
    pub status: &'static str,
    pub tone: &'static str,
    pub procedure_code: String,
    pub filed_at: String,
    pub result_due: String,
    pub overdue: bool,
    pub can_accept: bool,
    pub actions: AgencyActions,
}

/// A result ready to travel home: `(dossier code, procedure)`.
pub type ReadyRow = (String, String);

/// The clerk's desk.
#[derive(Template)]
#[template(path = "agency/desk.html")]
pub struct DeskPage {
    pub c: Chrome,
    pub to_sign: Vec<HandoverRow>,
    pub rows: Vec<WorkRow>,
    pub overdue_only: bool,
    pub ready: Vec<ReadyRow>,
    pub agency_code: String,
    pub records: Vec<HandoverRow>,
}

/// The desk's filter.
#[derive(Debug, Default, Deserialize)]
pub struct DeskQuery {
    pub overdue: Option<String>,
}

/// The statuses a dossier is in while the desk has work on it or has just finished it.
const DESK_STATUSES: &[DossierStatus] = &[
    DossierStatus::ReceivedByAgency,
    DossierStatus::Processing,
    DossierStatus::SupplementRequested,
    DossierStatus::AwaitingResult,
    DossierStatus::Rejected,
    DossierStatus::ResultReady,
    DossierStatus::ReturnedToAgency,
];

/// `GET /agency`: the desk.
#[handler]
pub async fn desk(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Query(q): Query<DeskQuery>,
) -> Response {
    let lang = Lang::of(req);
    let overdue_only = q
        .overdue
        .as_deref()
        .is_some_and(|v| v == "1" || v == "true");
    let result: Result<DeskPage, OpError> = async {
        let conn = &state.store.read;
        let now = Utc::now();
        let page = domain::ops::agency::list_worklist(
            conn,
            &staff.actor,
            &WorklistQuery {
                statuses: DESK_STATUSES.to_vec(),
                overdue: overdue_only.then_some(true),
                limit: domain::ops::agency::MAX_WORKLIST_PAGE,
                ..Default::default()
            },
            now,
        )
        .await?;
        let ids: Vec<i64> = page.items.iter().map(|i| i.dossier.id).collect();
        let busy = on_open_records(&state, &ids).await?;
        let mut ready = Vec::new();
        let mut rows = Vec::with_capacity(page.items.len());
        for item in &page.items {
            let d = &item.dossier;
            let href = format!("/staff/dossiers/{}", percent_encode(&d.code));
            if d.status == DossierStatus::ResultReady
                && d.service_mode != ServiceMode::Send
                && !busy.contains(&d.id)
            {
                ready.push((d.code.clone(), d.procedure_code.clone()));
            }
            rows.push(WorkRow {
                code: d.code.clone(),
                status: lang.status(d.status),
                tone: Lang::status_tone(d.status),
                procedure_code: d.procedure_code.clone(),
                filed_at: d.filed_at.map(local_date).unwrap_or_default(),
                result_due: d.result_due_at.map(local_date).unwrap_or_default(),
                overdue: item.overdue,
                can_accept: next_status(d.service_mode, d.status, Action::Accept).is_ok(),
                actions: AgencyActions::of(d, "/agency"),
                href,
            });
        }
        let records = recent_handovers(&state, &staff).await?;
        let row = |r: &entity::handover_record::Model| HandoverRow {
            id: r.id,
            number: r.number.clone(),
            direction: lang.handover_direction(r.direction),
            status: lang.handover_status(r.status),
            agency_code: r.agency_code.clone(),
            created_at: super::i18n::local_time(r.created_at),
        };
        Ok(DeskPage {
            c: Chrome::staff(req, &staff),
            to_sign: records
                .iter()
                .filter(|r| {
                    r.status == HandoverStatus::Pending
                        && r.direction == HandoverDirection::ToAgency
                })
                .map(row)
                .collect(),
            rows,
            overdue_only,
            ready,
            agency_code: staff.key.agency_code.clone().unwrap_or_default(),
            records: records.iter().take(20).map(row).collect(),
        })
    }
    .await;
    Answer::staff(&state, req, &staff).page(result)
}

/// `POST /agency/dossiers/{code}/{action}`: a ruling (`verdict`), the result ready (`result`), or the
/// result collected at the desk (`collected`).
#[handler]
pub async fn dossier_action(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path((code, action)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let lang = Lang::of(req);
    let back = safe_next(posted.text("back").as_deref())
        .unwrap_or_else(|| format!("/staff/dossiers/{}", percent_encode(&code)));
    if !staff.csrf_ok(&state, posted.csrf()) {
        return expired(&state, &back, lang);
    }
    let store = &state.store;
    let actor = &staff.actor;
    let outcome = match action.as_str() {
        "verdict" => {
            let request = VerdictRequest {
                decision: posted.text("decision"),
                reason: posted.text("reason"),
                result_due_date: posted.text("result_due_date"),
                missing_documents: posted.text("missing_documents").map(|text| {
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned)
                        .collect()
                }),
            };
            domain::ops::agency::record_verdict(store, actor, &code, &request).await
        }
        "result" => {
            domain::ops::agency::record_result(store, actor, &code, posted.text("note").as_deref())
                .await
        }
        "collected" => {
            let request = CollectedRequest {
                note: posted.text("note"),
            };
            domain::ops::agency::mark_collected(store, actor, &code, &request).await
        }
        _ => {
            return Answer::staff(&state, req, &staff).refuse(
                StatusCode::NOT_FOUND,
                lang.t("Không có thao tác này.", "No such action.")
                    .to_owned(),
            );
        }
    };
    after_action(&state, &back, lang, outcome)
}

/// `POST /agency/handovers`: drafts a record handing the ticked results to the post.
#[handler]
pub async fn create_handover(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let lang = Lang::of(req);
    if !staff.csrf_ok(&state, posted.csrf()) {
        return expired(&state, "/agency", lang);
    }
    let request = HandoverRequest {
        direction: Some(HandoverDirection::ToPost.as_str().to_owned()),
        agency_code: staff.key.agency_code.clone(),
        dossier_codes: Some(ticked_codes(&posted)),
    };
    handover_created(
        &state,
        lang,
        "/agency",
        domain::ops::handovers::create_handover(&state.store, &staff.actor, &request).await,
    )
}

// ---------------------------------------------------------------------------------------------------
// Dossiers filed in person

/// The desk's form for a dossier filed in person, whose result the post brings home.
#[derive(Template)]
#[template(path = "agency/return.html")]
pub struct ReturnPage {
    pub c: Chrome,
    pub procedures: Vec<Choice>,
    pub form: Option<RequestForm>,
    pub banner: Option<String>,
}

/// The procedure chosen.
#[derive(Debug, Default, Deserialize)]
pub struct ProcedureQuery {
    pub procedure: Option<String>,
}

/// The registered dossier, for the desk to hand its code and private link to the citizen.
#[derive(Template)]
#[template(path = "agency/registered.html")]
pub struct RegisteredPage {
    pub c: Chrome,
    pub code: String,
    pub postage: String,
    pub total: String,
    pub tracking_url: String,
    pub access_url: String,
    pub qr_svg: String,
}

async fn return_page_of(
    state: &AppState,
    c: Chrome,
    staff: &StaffSession,
    procedure: &str,
    posted: Option<&Posted>,
    errors: &[domain::ops::FieldError],
    banner: Option<String>,
) -> Result<ReturnPage, OpError> {
    let lang = c.lang;
    let agency = staff.key.agency_code.clone().unwrap_or_default();
    let procedures =
        domain::ops::reference::list_procedures(&state.store.read, Some(&agency)).await?;
    let provinces = served_provinces(state).await?;
    let mut choices = vec![Choice {
        value: String::new(),
        label: lang
            .t("— Chọn thủ tục —", "— Choose a procedure —")
            .to_owned(),
        selected: procedure.is_empty(),
    }];
    choices.extend(Choice::list(
        procedures.iter().map(|p| {
            (
                p.procedure.code.as_str(),
                format!("{} · {}", p.procedure.code, p.procedure.name),
            )
        }),
        procedure,
    ));
    let form = procedures
        .iter()
        .find(|p| p.procedure.code == procedure)
        .map(|p| {
            let fresh;
            let posted = match posted {
                Some(posted) => posted,
                None => {
                    fresh = request_form::defaults(p, true);
                    &fresh
                }
            };
            request_form::build(FormInputs {
                lang,
                action: "/agency/return",
                agency_code: &agency,
                procedure: p,
                provinces: &provinces,
                posted,
                errors,
                return_only: true,
            })
        });
    Ok(ReturnPage {
        c,
        procedures: choices,
        form,
        banner,
    })
}

/// `GET /agency/return`: the form.
#[handler]
pub async fn return_page(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Query(q): Query<ProcedureQuery>,
) -> Response {
    let procedure = q.procedure.unwrap_or_default();
    let c = Chrome::staff(req, &staff);
    let page = return_page_of(&state, c, &staff, &procedure, None, &[], None).await;
    Answer::staff(&state, req, &staff).page(page)
}

/// `POST /agency/return`: registers the dossier (mode `return`) with the agency's key.
#[handler]
pub async fn create_return(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::new(pairs);
    let lang = Lang::of(req);
    let procedure = posted.raw("procedure_code").to_owned();
    let agency = staff.key.agency_code.clone().unwrap_or_default();
    let again = |errors: Vec<domain::ops::FieldError>, banner: String, status: StatusCode| {
        let state = state.0.clone();
        let staff = staff.clone();
        let posted = posted.clone();
        let procedure = procedure.clone();
        async move {
            let c = Chrome::staff(req, &staff);
            match return_page_of(
                &state,
                c,
                &staff,
                &procedure,
                Some(&posted),
                &errors,
                Some(banner),
            )
            .await
            {
                Ok(page) => render(status, &page),
                Err(err) => Answer::staff(&state, req, &staff).error(&err),
            }
        }
    };
    if !staff.csrf_ok(&state, posted.csrf()) {
        let banner = lang.t(
            "Phiên làm việc của trang đã hết hạn; vui lòng gửi lại.",
            "This page's session has expired; please send the form again.",
        );
        return again(Vec::new(), banner.to_owned(), StatusCode::FORBIDDEN).await;
    }
    let procedures =
        match domain::ops::reference::list_procedures(&state.store.read, Some(&agency)).await {
            Ok(p) => p,
            Err(err) => {
                let err = OpError::Db(err);
                return Answer::staff(&state, req, &staff).error(&err);
            }
        };
    let Some(chosen) = procedures.iter().find(|p| p.procedure.code == procedure) else {
        return again(
            Vec::new(),
            lang.t("Vui lòng chọn thủ tục.", "Please choose the procedure.")
                .to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (mut request, rows): (DossierRequest, Vec<usize>) =
        request_form::to_request(&posted, chosen, lang, true);
    request.agency_code = Some(agency.clone());
    let claim = posted
        .text("form_id")
        .filter(|id| request_form::is_form_id(id))
        .and_then(|id| {
            let canonical = serde_json::to_vec(&request).ok()?;
            let caller = format!("key{}", staff.key.key_id);
            Some(IdempotencyClaim::new(
                "create_dossier",
                &caller,
                &id,
                &canonical,
            ))
        });
    match domain::ops::dossiers::create_dossier(
        &state.store,
        &staff.actor,
        &request,
        claim.as_ref(),
    )
    .await
    {
        Ok(CreateOutcome::Created(created) | CreateOutcome::Replayed(created)) => {
            let tracking_url = format!("{}/t/{}", state.public_base_url, created.code);
            let access_url = format!("{tracking_url}?k={}", created.access_token);
            let page = RegisteredPage {
                c: Chrome::staff(req, &staff),
                qr_svg: qr::svg(
                    &access_url,
                    180,
                    lang.t("Mã QR của đường dẫn riêng", "QR code of the private link"),
                )
                .unwrap_or_default(),
                code: created.code,
                postage: vnd(created.fees.postage_vnd),
                total: vnd(created.fees.total_vnd),
                tracking_url,
                access_url,
            };
            render(StatusCode::OK, &page)
        }
        Err(OpError::Validation(errors)) => {
            let errors = request_form::errors_on_rows(errors, &rows);
            let banner = lang.t(
                "Chưa đăng ký: vui lòng sửa các mục được đánh dấu.",
                "Not registered: please correct the marked fields.",
            );
            again(errors, banner.to_owned(), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => {
            let status = status_of(&err);
            again(Vec::new(), lang.op_error(&err), status).await
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Report

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
        let report = crate::routes::reports::run_report(&state, &period, scope.as_deref()).await?;
        Ok::<_, ReportError>(report)
    }
    .await;
    match made {
        Ok(report) => {
            page.from = report.period.from.format("%d/%m/%Y").to_string();
            page.to = report.period.to.format("%d/%m/%Y").to_string();
            page.dossiers = report.dossiers;
            page.by_status = report
                .by_status
                .iter()
                .filter(|s| s.dossiers > 0)
                .map(|s| (lang.status(s.status), s.dossiers))
                .collect();
            let mut bars = Vec::new();
            for leg in &report.legs {
                bars.push((lang.direction(leg.direction).to_owned(), leg.on_time.rate()));
            }
            for a in &report.agencies {
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
            page.legs = report
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
            page.overdue_results = report.overdue.agency_results;
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
