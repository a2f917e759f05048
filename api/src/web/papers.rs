//! A dossier's papers in the browser, as `GET /api/v1/dossiers/{code}/slip.pdf` and `…/receipt.pdf`
//! print them (a further page for each supplement sent by post):
//! - for signed-in staff, `/staff/dossiers/{code}/slip.pdf` — the slip the postman and the citizen
//!   sign at the door (before the pickup, with the time of acceptance left to fill; after it, a copy)
//!   — and `/staff/dossiers/{code}/receipt.pdf`;
//! - for the citizen, `/t/{code}/slip.pdf?k=…` and `/t/{code}/receipt.pdf?k=…`, with the access token
//!   their private page was opened with.

use domain::ops::access::{Actor, authenticate};
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Request, Response, handler};

use super::citizen::TrackQuery;
use super::i18n::Lang;
use super::page::Answer;
use super::session::StaffSession;
use crate::labels::papers::{self, Paper};
use crate::state::AppState;

/// A file shown inline, never cached (it carries personal data).
pub(crate) fn file_response(body: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /staff/dossiers/{code}/slip.pdf`.
#[handler]
pub async fn staff_slip(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path(code): Path<String>,
) -> Response {
    paper(
        Answer::staff(&state, req, &staff),
        &staff.actor,
        &code,
        Paper::Slip,
    )
    .await
}

/// `GET /staff/dossiers/{code}/receipt.pdf`.
#[handler]
pub async fn staff_receipt(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path(code): Path<String>,
) -> Response {
    paper(
        Answer::staff(&state, req, &staff),
        &staff.actor,
        &code,
        Paper::Receipt,
    )
    .await
}

/// `GET /t/{code}/slip.pdf?k=…`.
#[handler]
pub async fn citizen_slip(
    req: &Request,
    state: Data<&AppState>,
    Path(code): Path<String>,
    Query(q): Query<TrackQuery>,
) -> Response {
    citizen_paper(req, &state, &code, q.k, Paper::Slip).await
}

/// `GET /t/{code}/receipt.pdf?k=…`.
#[handler]
pub async fn citizen_receipt(
    req: &Request,
    state: Data<&AppState>,
    Path(code): Path<String>,
    Query(q): Query<TrackQuery>,
) -> Response {
    citizen_paper(req, &state, &code, q.k, Paper::Receipt).await
}

/// The citizen's paper, with the dossier's own access token only: 403 without a citizen's token, and
/// for another dossier's token as the API answers it.
async fn citizen_paper(
    req: &Request,
    state: &AppState,
    code: &str,
    k: Option<String>,
    which: Paper,
) -> Response {
    let answer = Answer::public(state, req);
    let actor = match k.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => match authenticate(&state.store.read, k).await {
            Ok(Ok(actor @ Actor::Citizen { .. })) => Some(actor),
            Ok(_) => None,
            Err(err) => return answer.error(&domain::ops::OpError::Db(err)),
        },
        None => None,
    };
    let Some(actor) = actor else {
        let lang = Lang::of(req);
        return answer.refuse(
            StatusCode::FORBIDDEN,
            lang.t(
                "Giấy tờ của hồ sơ chỉ mở được từ đường dẫn riêng của hồ sơ.",
                "A dossier's papers open only from the dossier's private link.",
            )
            .to_owned(),
        );
    };
    paper(answer, &actor, code, which).await
}

async fn paper(answer: Answer<'_>, actor: &Actor, code: &str, which: Paper) -> Response {
    let state = answer.state();
    let found = domain::ops::slips::slip_record(&state.store.read, actor, code)
        .await
        .and_then(|record| papers::pages(&record, &state.public_base_url, which));
    let (pages, file) = match found {
        Ok(found) => found,
        Err(err) => return answer.error(&err),
    };
    let rendered = tokio::task::spawn_blocking(move || pages.render())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match rendered {
        Ok(pdf) => file_response(pdf, "application/pdf", &file),
        Err(err) => {
            tracing::error!(error.cause = %err, "a paper failed to render");
            let message = Lang::of(answer.request()).t(
                "Không in được giấy tờ; lỗi đã được ghi lại.",
                "The paper could not be drawn; it has been logged.",
            );
            answer.refuse(StatusCode::INTERNAL_SERVER_ERROR, message.to_owned())
        }
    }
}
