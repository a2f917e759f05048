//! The papers a citizen keeps (API.md "Documents, fees, slips"): `GET /api/v1/dossiers/{code}/slip.pdf`,
//! the dossier slip (Phiếu gửi hồ sơ, Circular 17 Art. 9), and `GET /api/v1/dossiers/{code}/receipt.pdf`,
//! the receipt for the postage and the admin fee collected on the agency's behalf. A supplement sent by
//! post is "picked up, handed over and confirmed like the first" (API.md "Supplements by post"), so it
//! gets a slip and a receipt of its own: a further page of each PDF. For the citizen's token or staff
//! who may see the dossier, answered like the dossier view (401, 403, 404).

use domain::ops::OpError;
use domain::ops::access::Actor;
use domain::ops::dossiers::SlipDocument;
use domain::ops::slips::{SlipRecord, SupplementSlip};
use entity::enums::{FeeExemption, ServiceMode};
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Binary};

use super::ApiTags;
use super::labels::render_off_the_runtime;
use super::local_time;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::labels::LabelError;
use crate::labels::content::address_lines;
use crate::labels::slip_pdf::{
    ReceiptPdfData, SlipParty, SlipPdfData, SlipPdfDocument, render_receipt_pdf, render_slip_pdf,
};
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

fn service_words(mode: ServiceMode) -> &'static str {
    match mode {
        ServiceMode::Send => "Gửi hồ sơ (nhận kết quả trực tiếp tại cơ quan)",
        ServiceMode::Return => "Nhận kết quả tại địa chỉ",
        ServiceMode::SendAndReturn => "Gửi hồ sơ và nhận kết quả tại địa chỉ",
    }
}

fn exemption_words(exemption: FeeExemption) -> Option<&'static str> {
    match exemption {
        FeeExemption::None => None,
        FeeExemption::Revolutionary => Some("miễn cước: người hoạt động cách mạng trước 1945"),
        FeeExemption::HeroicMother => Some("miễn cước: Bà mẹ Việt Nam anh hùng"),
        FeeExemption::WarInvalid => Some("giảm 50% cước: thương binh"),
        FeeExemption::Hero => Some("giảm 50% cước: Anh hùng lực lượng vũ trang"),
    }
}

/// The applicant as the papers name them: the address they gave for the pickup (or, in `return` mode,
/// for the result), printed through the one address helper the labels use.
fn sender(r: &SlipRecord) -> SlipParty {
    let d = &r.dossier;
    let lines = if d.pickup_line.is_some() {
        address_lines(
            d.pickup_line.as_deref(),
            d.pickup_ward_code.as_deref(),
            d.pickup_province_code.as_deref(),
        )
    } else {
        address_lines(
            d.return_line.as_deref(),
            d.return_ward_code.as_deref(),
            d.return_province_code.as_deref(),
        )
    };
    SlipParty {
        name: d.applicant_full_name.clone(),
        address_lines: lines,
        phone: Some(d.applicant_phone.clone()),
        email: d.applicant_email.clone(),
    }
}

fn procedure_of(r: &SlipRecord) -> (String, String) {
    (
        r.procedure
            .as_ref()
            .map_or_else(|| r.dossier.procedure_code.clone(), |p| p.name.clone()),
        r.dossier.procedure_code.clone(),
    )
}

fn office_name(r: &SlipRecord) -> String {
    r.office
        .as_ref()
        .map_or_else(|| r.dossier.office_code.clone(), |o| o.name.clone())
}

fn agency_name(r: &SlipRecord) -> String {
    r.agency
        .as_ref()
        .map_or_else(|| r.dossier.agency_code.clone(), |a| a.name.clone())
}

/// The documents as a slip lists them.
fn printed(documents: Vec<SlipDocument>) -> Vec<SlipPdfDocument> {
    documents
        .into_iter()
        .map(|d| SlipPdfDocument {
            name: d.name,
            original: d.original,
            copies: d.copies,
        })
        .collect()
}

fn slip_data(r: &SlipRecord, qr_url: String) -> SlipPdfData {
    let (procedure_name, procedure_code) = procedure_of(r);
    let agency = SlipParty {
        name: format!("{} (mã {})", agency_name(r), r.dossier.agency_code),
        address_lines: r
            .agency
            .as_ref()
            .map(|a| vec![a.address.clone()])
            .unwrap_or_default(),
        phone: None,
        email: r.agency.as_ref().and_then(|a| a.email.clone()),
    };
    SlipPdfData {
        supplement: None,
        qr_url,
        dossier_code: r.dossier.code.clone(),
        item_code: r.item_code(),
        service: service_words(r.dossier.service_mode).to_owned(),
        sender: sender(r),
        agency,
        procedure_name,
        procedure_code,
        office_name: office_name(r),
        documents: printed(r.documents()),
        postage_vnd: r.dossier.postage_vnd,
        admin_fee_vnd: r.dossier.admin_fee_vnd,
        total_vnd: r.dossier.total_vnd,
        exemption: exemption_words(r.dossier.fee_exemption).map(str::to_owned),
        accepted_at: r.accepted_at().map(local_time),
    }
}

/// A supplement's slip: the dossier's parties and procedure, the documents the citizen sends, where
/// they are collected (the supplement's own pickup address, when it has one), its parcel's item code,
/// its postage and the time of its pickup.
fn supplement_slip_data(r: &SlipRecord, s: &SupplementSlip, qr_url: String) -> SlipPdfData {
    let mut data = slip_data(r, qr_url);
    let row = &s.supplement;
    if row.pickup_line.is_some() {
        data.sender.address_lines = address_lines(
            row.pickup_line.as_deref(),
            row.pickup_ward_code.as_deref(),
            row.pickup_province_code.as_deref(),
        );
    }
    let postage = row.fee_collected_vnd.or(row.postage_vnd).unwrap_or(0);
    SlipPdfData {
        supplement: Some(s.number),
        item_code: s.item_code.clone(),
        documents: printed(s.documents()),
        postage_vnd: postage,
        admin_fee_vnd: 0,
        total_vnd: postage,
        accepted_at: s.accepted_at().map(local_time),
        ..data
    }
}

/// One of a dossier's papers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paper {
    Slip,
    Receipt,
}

/// A paper's pages, ready to draw.
pub(crate) enum Pages {
    Slip(Vec<SlipPdfData>),
    Receipt(Vec<ReceiptPdfData>),
}

impl Pages {
    /// Draws the PDF (milliseconds of CPU: run it off the runtime's threads).
    pub(crate) fn render(&self) -> Result<Vec<u8>, LabelError> {
        match self {
            Pages::Slip(pages) => render_slip_pdf(pages),
            Pages::Receipt(pages) => render_receipt_pdf(pages),
        }
    }
}

/// The pages of `paper` for `code` as `actor` may see them, with the PDF's file name: one page for
/// the dossier, then one per supplement sent by post (for the receipt, per supplement whose pickup
/// collected its postage). `NotFound` or `Forbidden` as the dossier view; the receipt is refused
/// (`TransitionRefused`) while nothing was collected. What the API's papers and the staff pages print.
pub(crate) async fn paper_pages(
    state: &AppState,
    actor: &Actor,
    code: &str,
    paper: Paper,
) -> Result<(Pages, String), OpError> {
    let record = domain::ops::slips::slip_record(&state.store.read, actor, code).await?;
    let qr_url = format!("{}/t/{}", state.public_base_url, record.dossier.code);
    let file = |prefix: &str| {
        let safe: String = record
            .dossier
            .code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        format!("{prefix}-{safe}.pdf")
    };
    if paper == Paper::Slip {
        let mut pages = vec![slip_data(&record, qr_url.clone())];
        pages.extend(
            record
                .supplements
                .iter()
                .map(|s| supplement_slip_data(&record, s, qr_url.clone())),
        );
        return Ok((Pages::Slip(pages), file("phieu-gui")));
    }
    let (procedure_name, procedure_code) = procedure_of(&record);
    let page =
        |supplement: Option<&SupplementSlip>, postage_vnd, admin_fee_vnd, at| ReceiptPdfData {
            supplement: supplement.map(|s| s.number),
            qr_url: qr_url.clone(),
            number: match supplement {
                None => format!("BL-{}", record.dossier.code),
                Some(s) => format!("BL-{}-BS{}", record.dossier.code, s.number),
            },
            dossier_code: record.dossier.code.clone(),
            item_code: supplement.map_or_else(|| record.item_code(), |s| s.item_code.clone()),
            payer: sender(&record),
            office_name: office_name(&record),
            agency_name: agency_name(&record),
            procedure_name: procedure_name.clone(),
            procedure_code: procedure_code.clone(),
            postage_vnd,
            admin_fee_vnd,
            collected_at: local_time(at),
        };
    let mut pages: Vec<ReceiptPdfData> = record
        .collected()
        .map(|(postage, admin, at)| page(None, postage, admin, at))
        .into_iter()
        .collect();
    for s in &record.supplements {
        if let Some((postage, at)) = s.collected() {
            pages.push(page(Some(s), postage, 0, at));
        }
    }
    if pages.is_empty() {
        return Err(OpError::TransitionRefused(
            "nothing was collected for this dossier yet: the receipt is issued when the post \
             collects the fees"
                .into(),
        ));
    }
    Ok((Pages::Receipt(pages), file("bien-lai")))
}

/// The API's answer: the paper as a PDF shown inline.
async fn paper_response(
    state: &AppState,
    actor: &Actor,
    code: &str,
    paper: Paper,
) -> Result<PaperResponse, ApiError> {
    let (pages, file) = paper_pages(state, actor, code, paper).await?;
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
