//! Handover records (API.md "Handover records"; Decision 45 Art. 7 and 9): drafted by the side that
//! hands dossiers over, signed by the side that receives them. Signing a record to the agency is the
//! legal filing time of its dossiers; signing one to the post gives each result its outbound item code.

use chrono::{DateTime, FixedOffset};
use domain::ops::access::Actor;
use domain::ops::handovers::{HandoverRequest, HandoverView};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Path,
    payload::{Binary, Json},
};

use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::labels::handover_pdf::{self, HandoverPdfData, HandoverPdfItem};
use crate::state::AppState;

/// A record to draft.
#[derive(Debug, Clone, Object)]
pub struct HandoverIn {
    /// `to_agency` (a post office hands dossiers to an agency's desk) or `to_post` (an agency hands
    /// results to the post).
    #[oai(nullable)]
    pub direction: Option<String>,
    /// The agency on the other side of the desk.
    #[oai(nullable)]
    pub agency_code: Option<String>,
    /// The dossiers handed over (at most 500).
    #[oai(nullable)]
    pub dossier_codes: Option<Vec<String>>,
}

/// A dossier on a record.
#[derive(Debug, Clone, Object)]
pub struct HandoverItemOut {
    pub dossier_code: String,
    /// The parcel's S10 code: the inbound one (to the agency), or the outbound one allocated when the
    /// post signs (to the post; `null` until then).
    #[oai(nullable)]
    pub item_code: Option<String>,
    /// The dossier's current status.
    pub status: String,
    /// The procedure's fee collected on the agency's behalf and handed over with this dossier
    /// (Decision 45 Art. 7.1); 0 on a `to_post` record.
    pub admin_fee_vnd: i64,
}

/// A handover record.
#[derive(Debug, Clone, Object)]
pub struct HandoverOut {
    pub id: i64,
    /// The printed number, e.g. `BBGN-100000-261123-001`.
    pub number: String,
    pub direction: String,
    /// `pending` until the receiving side signs, then `confirmed`.
    pub status: String,
    pub agency_code: String,
    pub office_code: String,
    pub created_at: DateTime<FixedOffset>,
    pub created_by: String,
    /// When the receiving side signed: for `to_agency`, the legal filing time of every dossier on it.
    #[oai(nullable)]
    pub confirmed_at: Option<DateTime<FixedOffset>>,
    #[oai(nullable)]
    pub confirmed_by: Option<String>,
    pub items: Vec<HandoverItemOut>,
    /// The fees handed over with the dossiers: the sum of the items' `admin_fee_vnd`.
    pub admin_fee_total_vnd: i64,
}

fn handover_out(view: HandoverView) -> HandoverOut {
    let admin_fee_total_vnd = view.admin_fee_total_vnd();
    let r = view.record;
    HandoverOut {
        id: r.id,
        number: r.number,
        direction: r.direction.to_string(),
        status: r.status.to_string(),
        agency_code: r.agency_code,
        office_code: r.office_code,
        created_at: local_time(r.created_at),
        created_by: r.created_by,
        confirmed_at: r.confirmed_at.map(local_time),
        confirmed_by: r.confirmed_by,
        items: view
            .lines
            .into_iter()
            .map(|l| HandoverItemOut {
                dossier_code: l.dossier_code,
                item_code: l.item_code,
                status: l.status.to_string(),
                admin_fee_vnd: l.admin_fee_vnd,
            })
            .collect(),
        admin_fee_total_vnd,
    }
}

#[derive(ApiResponse)]
enum CreateHandoverResponse {
    /// Drafted, waiting for the other side's signature.
    #[oai(status = 201)]
    Created(Json<HandoverOut>),
}

#[derive(ApiResponse)]
enum HandoverPdfResponse {
    /// The printable record: A4 pages, text embedded, with the QR code of its staff page.
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
            "send a staff key: `Authorization: Bearer dk_…`",
        ));
    }
    Ok(&caller.0)
}

pub struct HandoverApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Handovers")]
impl HandoverApi {
    /// Draft a handover record: `to_agency` by a post office for its dossiers `picked_up` or
    /// `in_transit` to that agency; `to_post` by an agency for its dossiers `result_ready`. A dossier
    /// may be on one open record at a time.
    #[oai(path = "/handovers", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<HandoverIn>,
    ) -> Result<CreateHandoverResponse, ApiError> {
        let actor = require_credentials(&caller)?;
        let request = HandoverRequest {
            direction: body.0.direction,
            agency_code: body.0.agency_code,
            dossier_codes: body.0.dossier_codes,
        };
        let view = domain::ops::handovers::create_handover(&state.store, actor, &request).await?;
        Ok(CreateHandoverResponse::Created(Json(handover_out(view))))
    }

    /// A handover record, for either side of it.
    #[oai(path = "/handovers/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<i64>,
    ) -> Result<Json<HandoverOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let view = domain::ops::handovers::view_handover(&state.store.read, actor, id.0).await?;
        Ok(Json(handover_out(view)))
    }

    /// The printable record (Biên bản giao nhận): number, direction, agency, post office, when it was
    /// drafted and signed ("chưa ký" while pending), the numbered dossiers, the count, the two
    /// signature boxes and a QR code opening the record's staff page. For either side of it.
    #[oai(path = "/handovers/:id/pdf", method = "get")]
    #[tracing::instrument(skip_all, fields(handover.id = id.0))]
    async fn pdf(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<i64>,
    ) -> Result<HandoverPdfResponse, ApiError> {
        let actor = require_credentials(&caller)?;
        let conn = &state.store.read;
        let view = domain::ops::handovers::view_handover(conn, actor, id.0).await?;
        let data = handover_pdf_data(&state, view).await?;
        let filename = format!(
            "bien-ban-{}.pdf",
            data.number
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<String>()
        );
        let pdf = tokio::task::spawn_blocking(move || handover_pdf::render_handover_pdf(&data))
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(|e| ApiError::internal(&e))?;
        Ok(HandoverPdfResponse::Ok(
            Binary(pdf),
            format!("inline; filename=\"{filename}\""),
            "no-store".to_owned(),
        ))
    }

    /// The receiving side signs: the agency for `to_agency` (every dossier `received_by_agency`,
    /// `filed_at` set, result due date computed), the post office for `to_post` (every dossier
    /// `result_with_post`, outbound item code allocated).
    #[oai(path = "/handovers/:id/confirm", method = "post")]
    async fn confirm(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<i64>,
    ) -> Result<Json<HandoverOut>, ApiError> {
        let actor = require_credentials(&caller)?;
        let view = domain::ops::handovers::confirm_handover(&state.store, actor, id.0).await?;
        Ok(Json(handover_out(view)))
    }
}

/// What the printed record shows: the view, with the agency's and office's names and each dossier's
/// procedure code looked up.
async fn handover_pdf_data(
    state: &AppState,
    view: HandoverView,
) -> Result<HandoverPdfData, ApiError> {
    let conn = &state.store.read;
    let admin_fee_total_vnd = view.admin_fee_total_vnd();
    let r = view.record;
    let catalog = state.store.catalog.get(conn).await?;
    let agency_name = catalog
        .agency(&r.agency_code)
        .map_or_else(|| r.agency_code.clone(), |a| a.name.clone());
    let office_name = domain::ops::reference::list_offices(conn)
        .await?
        .into_iter()
        .find(|o| o.code == r.office_code)
        .map_or_else(|| r.office_code.clone(), |o| o.name);
    let codes: Vec<String> = view.lines.iter().map(|l| l.dossier_code.clone()).collect();
    let procedures = domain::ops::handovers::procedure_codes(conn, codes).await?;
    Ok(HandoverPdfData {
        admin_fee_total_vnd,
        qr_url: format!("{}/staff/handovers/{}", state.public_base_url, r.id),
        number: r.number,
        direction: r.direction,
        agency_name,
        agency_code: r.agency_code,
        office_name,
        office_code: r.office_code,
        created_at: local_time(r.created_at),
        created_by: r.created_by,
        confirmed_at: r.confirmed_at.map(local_time),
        confirmed_by: r.confirmed_by,
        items: view
            .lines
            .into_iter()
            .map(|l| HandoverPdfItem {
                procedure_code: procedures.get(&l.dossier_code).cloned().unwrap_or_default(),
                dossier_code: l.dossier_code,
                item_code: l.item_code,
                admin_fee_vnd: l.admin_fee_vnd,
            })
            .collect(),
    })
}
