//! What the citizen's papers print (API.md "Documents, fees, slips"), from a dossier's
//! [`SlipRecord`]: the dossier slip (Phiếu gửi hồ sơ, Circular 17 Art. 9) and the receipt for the
//! postage and the admin fee collected on the agency's behalf (Decision 45 Art. 11). A supplement sent
//! by post is "picked up, handed over and confirmed like the first" (API.md "Supplements by post"), so
//! it gets a slip and a receipt of its own: a further page of each PDF. The API's papers and the web
//! pages' print the same pages; [`slip_pdf`](super::slip_pdf) draws them.

use domain::ops::OpError;
use domain::ops::dossiers::SlipDocument;
use domain::ops::slips::{SlipRecord, SupplementSlip};
use entity::enums::{FeeExemption, ServiceMode};

use super::LabelError;
use super::content::address_lines;
use super::slip_pdf::{
    ReceiptPdfData, SlipParty, SlipPdfData, SlipPdfDocument, render_receipt_pdf, render_slip_pdf,
};

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
        accepted_at: r.accepted_at().map(domain::sla::to_local),
    }
}

/// The applicant as a supplement's papers name them: at the supplement's own pickup address, when
/// they gave one.
fn supplement_sender(r: &SlipRecord, s: &SupplementSlip) -> SlipParty {
    let mut party = sender(r);
    let row = &s.supplement;
    if row.pickup_line.is_some() {
        party.address_lines = address_lines(
            row.pickup_line.as_deref(),
            row.pickup_ward_code.as_deref(),
            row.pickup_province_code.as_deref(),
        );
    }
    party
}

/// A supplement's slip: the dossier's parties and procedure, the documents the citizen sends, where
/// they are collected (the supplement's own pickup address, when it has one), its parcel's item code,
/// its postage and the time of its pickup.
fn supplement_slip_data(r: &SlipRecord, s: &SupplementSlip, qr_url: String) -> SlipPdfData {
    let data = slip_data(r, qr_url);
    let row = &s.supplement;
    let postage = row.fee_collected_vnd.or(row.postage_vnd).unwrap_or(0);
    SlipPdfData {
        supplement: Some(s.number),
        sender: supplement_sender(r, s),
        item_code: s.item_code.clone(),
        documents: printed(s.documents()),
        postage_vnd: postage,
        admin_fee_vnd: 0,
        total_vnd: postage,
        accepted_at: s.accepted_at().map(domain::sla::to_local),
        ..data
    }
}

/// One of a dossier's papers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    Slip,
    Receipt,
}

/// A paper's pages, ready to draw.
pub enum Pages {
    Slip(Vec<SlipPdfData>),
    Receipt(Vec<ReceiptPdfData>),
}

impl Pages {
    /// Draws the PDF (milliseconds of CPU: run it off the runtime's threads).
    pub fn render(&self) -> Result<Vec<u8>, LabelError> {
        match self {
            Pages::Slip(pages) => render_slip_pdf(pages),
            Pages::Receipt(pages) => render_receipt_pdf(pages),
        }
    }
}

/// The pages of `paper` for `record`, with the PDF's file name: one page for the dossier, then one per
/// supplement sent by post (for the receipt, per supplement whose pickup collected its postage). The
/// receipt is refused (`TransitionRefused`) while nothing was collected. `base_url` is the service's
/// public address, for the QR code of the tracking page.
pub fn pages(
    record: &SlipRecord,
    base_url: &str,
    paper: Paper,
) -> Result<(Pages, String), OpError> {
    let qr_url = format!("{base_url}/t/{}", record.dossier.code);
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
        let mut pages = vec![slip_data(record, qr_url.clone())];
        pages.extend(
            record
                .supplements
                .iter()
                .map(|s| supplement_slip_data(record, s, qr_url.clone())),
        );
        return Ok((Pages::Slip(pages), file("phieu-gui")));
    }
    let (procedure_name, procedure_code) = procedure_of(record);
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
            payer: supplement.map_or_else(|| sender(record), |s| supplement_sender(record, s)),
            office_name: office_name(record),
            agency_name: agency_name(record),
            procedure_name: procedure_name.clone(),
            procedure_code: procedure_code.clone(),
            postage_vnd,
            admin_fee_vnd,
            collected_at: domain::sla::to_local(at),
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
