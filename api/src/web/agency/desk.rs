//! The desk: handover records to sign, the worklist, rulings, results and collections.

use askama::Template;
use chrono::Utc;
use domain::lifecycle::{Action, next_status};
use domain::ops::OpError;
use domain::ops::agency::{CollectedRequest, VerdictRequest, WorklistQuery};
use domain::ops::handovers::HandoverRequest;
use entity::enums::{DossierStatus, HandoverDirection, HandoverStatus, ServiceMode};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::actions::AgencyActions;
use crate::state::AppState;
use crate::web::form::Posted;
use crate::web::i18n::{Lang, local_date};
use crate::web::page::{Answer, Chrome};
use crate::web::session::{StaffSession, percent_encode, safe_next};
use crate::web::staff::dossier::{after_action, expired};
use crate::web::staff::handovers::{
    HandoverRow, handover_created, on_open_records, recent_handovers, ticked_codes,
};

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
            created_at: crate::web::i18n::local_time(r.created_at),
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
