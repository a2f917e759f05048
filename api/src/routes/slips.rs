//! The papers a citizen keeps (API.md "Documents, fees, slips"): `GET /api/v1/dossiers/{code}/slip.pdf`,
//! the dossier slip (Phiếu gửi hồ sơ, Circular 17 Art. 9), and `GET /api/v1/dossiers/{code}/receipt.pdf`,
//! the receipt for the postage and the admin fee collected on the agency's behalf, each with a further
//! page per supplement sent by post (what they print: [`crate::labels::papers`]). For the citizen's
//! token or staff who may see the dossier, answered like the dossier view (401, 403, 404).

use domain::ops::access::Actor;
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Binary};

use super::ApiTags;
use super::labels::render_off_the_runtime;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::labels::papers::{self, Paper};
use crate::state::AppState;

#[derive(ApiResponse)]
enum PaperResponse {
    /// One A4 page per paper (the dossier's, then each supplement's), in Vietnamese, text embedded.
    #[oai(status = 200, content_type = "application/pdf")]
    Ok(
        Binary<Vec<u8>>,
        #[oai(header = "Content-Disposition")] String,
        #[oai(header = "Cache-Control")] String,
    ),
}

fn require_credentials(caller: &Caller) -> Result<&Actor, ApiError> {
    if caller.0 == Actor::Public {
        return Err(ApiError::unauthorized(
            "send the dossier's access token or a staff key: `Authorization: Bearer …`",
        ));
    }
    Ok(&caller.0)
}

/// The API's answer: the paper as a PDF shown inline.
async fn paper_response(
    state: &AppState,
    actor: &Actor,
    code: &str,
    paper: Paper,
) -> Result<PaperResponse, ApiError> {
    let record = domain::ops::slips::slip_record(&state.store.read, actor, code).await?;
    let (pages, file) = papers::pages(&record, &state.public_base_url, paper)?;
    let pdf = render_off_the_runtime(move || pages.render()).await?;
    Ok(PaperResponse::Ok(
        Binary(pdf),
        format!("inline; filename=\"{file}\""),
        "no-store".to_owned(),
    ))
}

pub struct SlipApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Dossiers")]
impl SlipApi {
    /// The dossier slip (Phiếu gửi hồ sơ, Circular 17 Art. 9) as a PDF in Vietnamese: sender (name,
    /// address, phone, e-mail), receiving agency, procedure name and code, the documents (original or
    /// copy, how many), fees, the item code as text, barcode and QR code, the time of acceptance, and
    /// signature boxes for the sender and the postman. One page for the dossier, then one for each
    /// supplement sent by post (Phiếu gửi hồ sơ bổ sung: its documents, pickup address, item code,
    /// postage and time of acceptance). For the citizen's token or staff who may see the dossier.
    #[oai(path = "/dossiers/:code/slip.pdf", method = "get")]
    #[tracing::instrument(skip_all, fields(dossier.code = %code.0))]
    async fn slip(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
    ) -> Result<PaperResponse, ApiError> {
        let actor = require_credentials(&caller)?;
        paper_response(&state, actor, &code.0, Paper::Slip).await
    }

    /// The receipt for the money collected (Decision 45 Art. 11) as a PDF in Vietnamese: the postage
    /// and the admin fee collected on the agency's behalf, with the time and the item code; then a page
    /// for each supplement whose pickup collected its postage. 409 `invalid_transition` while nothing
    /// was collected (before the pickup; in `return` mode, before the delivery that collects the
    /// postage, unless a supplement's pickup did).
    #[oai(path = "/dossiers/:code/receipt.pdf", method = "get")]
    #[tracing::instrument(skip_all, fields(dossier.code = %code.0))]
    async fn receipt(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        code: Path<String>,
    ) -> Result<PaperResponse, ApiError> {
        let actor = require_credentials(&caller)?;
        paper_response(&state, actor, &code.0, Paper::Receipt).await
    }
}
