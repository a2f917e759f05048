//! A dossier's papers for the signed-in staff: the slip the postman and the citizen sign at the door
//! (before the pickup, with the time of acceptance left to fill; after it, a copy) and the receipt
//! for the money collected, as `GET /api/v1/dossiers/{code}/slip.pdf` and `…/receipt.pdf` print them.

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::labels::file_response;
use crate::routes::slips::{Paper, paper_pages};
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::page::Answer;
use crate::web::session::StaffSession;

/// `GET /staff/dossiers/{code}/slip.pdf`: the dossier slip, then each supplement's.
#[handler]
pub async fn slip(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path(code): Path<String>,
) -> Response {
    paper(req, &state, &staff, &code, Paper::Slip).await
}

/// `GET /staff/dossiers/{code}/receipt.pdf`: the receipt, then each supplement's.
#[handler]
pub async fn receipt(
    req: &Request,
    state: Data<&AppState>,
    staff: StaffSession,
    Path(code): Path<String>,
) -> Response {
    paper(req, &state, &staff, &code, Paper::Receipt).await
}

async fn paper(
    req: &Request,
    state: &AppState,
    staff: &StaffSession,
    code: &str,
    paper: Paper,
) -> Response {
    let (pages, file) = match paper_pages(state, &staff.actor, code, paper).await {
        Ok(found) => found,
        Err(err) => return Answer::staff(state, req, staff).error(&err),
    };
    let rendered = tokio::task::spawn_blocking(move || pages.render())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match rendered {
        Ok(pdf) => file_response(pdf, "application/pdf", &file),
        Err(err) => {
            tracing::error!(error.cause = %err, "a paper failed to render");
            let lang = Lang::of(req);
            Answer::staff(state, req, staff).refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang.t(
                    "Không in được giấy tờ; lỗi đã được ghi lại.",
                    "The paper could not be drawn; it has been logged.",
                )
                .to_owned(),
            )
        }
    }
}
