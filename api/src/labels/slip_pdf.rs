//! The dossier slip (Phiếu gửi hồ sơ, Circular 17 Art. 9) and the receipt for the money collected
//! (Biên lai, Decision 45 Art. 6.5 and 11) as PDFs of one A4 page per parcel the citizen sends (the
//! dossier's, then each supplement's), in Vietnamese, drawn with krilla like
//! the handover record: text stays text in the embedded DejaVu Sans, the QR code (the dossier's
//! tracking page, no personal data) and the item code's Code 128 barcode are vector rectangles.

use chrono::{DateTime, FixedOffset};
use krilla::Document;
use krilla::geom::{Size, Transform};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::Font;

use super::handover_pdf::{Fonts, Pen, QR_SIDE, fit, local, qr_code};
use super::layout::{METRICS, code128_modules};
use super::{FONT_BOLD, FONT_REGULAR, LabelError, qr, vnd};

const PT_PER_MM: f32 = 72.0 / 25.4;
const PAGE_WIDTH_MM: f32 = 210.0;
const PAGE_HEIGHT_MM: f32 = 297.0;
const MARGIN: f32 = 18.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH_MM - 2.0 * MARGIN;
const BODY: f32 = 3.4;
const SMALL: f32 = 2.8;
const TITLE: f32 = 5.6;
const LINE: f32 = 5.6;
/// Where the value of a `label: value` line starts.
const VALUE_X: f32 = MARGIN + 38.0;
/// The lowest edge of the documents table before the rest of the page.
const TABLE_BOTTOM: f32 = 215.0;

/// A party on the slip: name, address lines, phone and e-mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlipParty {
    pub name: String,
    pub address_lines: Vec<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A document on the slip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipPdfDocument {
    pub name: String,
    pub original: bool,
    pub copies: i64,
}

/// Everything printed on a dossier slip, or on a supplement's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipPdfData {
    /// `Some(n)` for the slip of the n-th supplement sent by post (Phiếu gửi hồ sơ bổ sung).
    pub supplement: Option<usize>,
    /// The dossier's tracking page: what the QR code carries.
    pub qr_url: String,
    pub dossier_code: String,
    /// The parcel's S10 code; `None` before the pickup gives it one.
    pub item_code: Option<String>,
    /// The service mode, in words.
    pub service: String,
    pub sender: SlipParty,
    /// The receiving agency, with its code.
    pub agency: SlipParty,
    pub procedure_name: String,
    pub procedure_code: String,
    pub office_name: String,
    pub documents: Vec<SlipPdfDocument>,
    pub postage_vnd: i64,
    pub admin_fee_vnd: i64,
    pub total_vnd: i64,
    /// The exemption applied, in words, if any.
    pub exemption: Option<String>,
    /// When the post accepted the dossier (local time); `None` before the pickup.
    pub accepted_at: Option<DateTime<FixedOffset>>,
}

/// Everything printed on a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptPdfData {
    /// `Some(n)` for the postage of the n-th supplement sent by post.
    pub supplement: Option<usize>,
    pub qr_url: String,
    /// The receipt's number.
    pub number: String,
    pub dossier_code: String,
    pub item_code: Option<String>,
    pub payer: SlipParty,
    pub office_name: String,
    pub agency_name: String,
    pub procedure_name: String,
    pub procedure_code: String,
    /// Postage (cước dịch vụ bưu chính).
    pub postage_vnd: i64,
    /// The procedure's fee collected on the agency's behalf (thu hộ).
    pub admin_fee_vnd: i64,
    /// When it was collected (local time).
    pub collected_at: DateTime<FixedOffset>,
}

/// Renders a PDF of one A4 page per item of `pages`, each drawn with `draw`.
fn a4_pages<T>(
    title: &str,
    pages: &[T],
    draw: impl Fn(&mut Pen<'_, '_>, &T) -> Result<(), LabelError>,
) -> Result<Vec<u8>, LabelError> {
    let page_size = Size::from_wh(PAGE_WIDTH_MM * PT_PER_MM, PAGE_HEIGHT_MM * PT_PER_MM)
        .ok_or_else(|| LabelError::Pdf("the page size is invalid".into()))?;
    let fonts = Fonts {
        regular: Font::new(FONT_REGULAR.into(), 0)
            .ok_or_else(|| LabelError::Pdf("the embedded font does not load".into()))?,
        bold: Font::new(FONT_BOLD.into(), 0)
            .ok_or_else(|| LabelError::Pdf("the embedded bold font does not load".into()))?,
    };
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(title.to_owned())
            .language("vi".to_owned()),
    );
    for item in pages {
        let mut page = document.start_page_with(PageSettings::new(page_size));
        let mut surface = page.surface();
        surface.push_transform(&Transform::from_scale(PT_PER_MM, PT_PER_MM));
        let result = {
            let mut pen = Pen {
                surface: &mut surface,
                fonts: &fonts,
            };
            draw(&mut pen, item)
        };
        surface.pop();
        surface.finish();
        page.finish();
        result?;
    }
    document
        .finish()
        .map_err(|e| LabelError::Pdf(format!("{e:?}")))
}

/// The heading shared by both papers: the post office on the left, the national motto on the right,
/// then the title under them; returns the top of the body.
fn heading(pen: &mut Pen<'_, '_>, office: &str, title: &str, subtitle: &str) -> f32 {
    let left = MARGIN + 34.0;
    pen.centred(left, MARGIN + 4.0, SMALL, true, "BƯU CHÍNH CÔNG ÍCH");
    let office = fit(office, &METRICS.regular, SMALL, 66.0);
    pen.centred(left, MARGIN + 8.5, SMALL, false, &office);
    let right = MARGIN + 108.0;
    pen.centred(
        right,
        MARGIN + 4.0,
        SMALL,
        true,
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    );
    pen.centred(
        right,
        MARGIN + 8.5,
        SMALL,
        true,
        "Độc lập - Tự do - Hạnh phúc",
    );
    pen.rule(right - 20.0, MARGIN + 9.8, 40.0);
    pen.centred(PAGE_WIDTH_MM / 2.0, MARGIN + 24.0, TITLE, true, title);
    pen.centred(PAGE_WIDTH_MM / 2.0, MARGIN + 29.5, SMALL, false, subtitle);
    MARGIN + 38.0
}

/// A `label: value` line; returns the next line's baseline.
fn field(pen: &mut Pen<'_, '_>, y: f32, label: &str, value: &str) -> f32 {
    pen.text(MARGIN, y, BODY, true, label);
    let value = fit(
        value,
        &METRICS.regular,
        BODY,
        MARGIN + CONTENT_WIDTH - VALUE_X,
    );
    pen.text(VALUE_X, y, BODY, false, &value);
    y + LINE
}

/// A party's lines under a bold heading; returns the next baseline.
fn party(pen: &mut Pen<'_, '_>, y: f32, heading: &str, party: &SlipParty) -> f32 {
    let mut y = field(pen, y, heading, &party.name);
    for line in &party.address_lines {
        y = field(pen, y, "", line);
    }
    let mut contact = Vec::new();
    if let Some(phone) = &party.phone {
        contact.push(format!("Điện thoại: {phone}"));
    }
    if let Some(email) = &party.email {
        contact.push(format!("Thư điện tử: {email}"));
    }
    if !contact.is_empty() {
        y = field(pen, y, "", &contact.join(" · "));
    }
    y
}

/// The item code as a Code 128 barcode, `width` wide at most, with its text under it; returns the
/// bottom edge.
fn barcode(pen: &mut Pen<'_, '_>, item_code: &str, left: f32, top: f32, width: f32) -> f32 {
    let height = 12.0;
    if let Some(bars) = code128_modules(item_code) {
        let module = width / (bars.len() + 20) as f32;
        let x0 = left + 10.0 * module;
        let mut i = 0;
        while i < bars.len() {
            if bars[i] == 0 {
                i += 1;
                continue;
            }
            let start = i;
            while i < bars.len() && bars[i] != 0 {
                i += 1;
            }
            pen.rect(
                x0 + start as f32 * module,
                top,
                (i - start) as f32 * module,
                height,
            );
        }
    }
    pen.centred(
        left + width / 2.0,
        top + height + 4.5,
        BODY,
        true,
        item_code,
    );
    top + height + 6.0
}

/// Two signature boxes side by side from `top`, with their headings.
fn signatures(pen: &mut Pen<'_, '_>, top: f32, headings: [&str; 2]) {
    let box_width = (CONTENT_WIDTH - 10.0) / 2.0;
    let box_height = 36.0;
    for (i, heading) in headings.into_iter().enumerate() {
        let x = MARGIN + i as f32 * (box_width + 10.0);
        pen.frame(x, top, box_width, box_height);
        pen.centred(x + box_width / 2.0, top + 6.5, BODY, true, heading);
        pen.centred(
            x + box_width / 2.0,
            top + 11.0,
            SMALL,
            false,
            "(Ký, ghi rõ họ tên)",
        );
    }
}

/// The slips of a dossier as one PDF, a page each: the dossier's, then its supplements'.
pub fn render_slip_pdf(pages: &[SlipPdfData]) -> Result<Vec<u8>, LabelError> {
    let code = pages.first().map_or("", |p| p.dossier_code.as_str());
    a4_pages(
        &format!("Phiếu gửi hồ sơ {code}"),
        pages,
        |pen, data| {
            let qr = qr::encode(data.qr_url.as_bytes())?;
            let (title, subtitle) = match data.supplement {
                None => (
                    "PHIẾU GỬI HỒ SƠ".to_owned(),
                    "(Thông tư số 17/2017/TT-BTTTT, Điều 9; Quyết định số 45/2016/QĐ-TTg)"
                        .to_owned(),
                ),
                Some(n) => (
                    "PHIẾU GỬI HỒ SƠ BỔ SUNG".to_owned(),
                    format!(
                        "(lần {n} — Thông tư số 17/2017/TT-BTTTT, Điều 9; Quyết định số 45/2016/QĐ-TTg)"
                    ),
                ),
            };
            let mut y = heading(pen, &data.office_name, &title, &subtitle);
            // The codes, the barcode and the QR code.
            qr_code(pen, &qr, PAGE_WIDTH_MM - MARGIN - QR_SIDE, y - 4.0);
            y = field(pen, y + 2.0, "Mã hồ sơ:", &data.dossier_code);
            let item = data.item_code.as_deref().unwrap_or("chưa cấp");
            y = field(pen, y, "Số hiệu bưu gửi:", item);
            y = field(pen, y, "Dịch vụ:", &data.service);
            if let Some(code) = &data.item_code {
                y = barcode(pen, code, MARGIN, y - 2.0, 90.0) + 4.0;
            }
            y = y.max(MARGIN + 38.0 + QR_SIDE + 2.0);
            pen.rule(MARGIN, y - 3.5, CONTENT_WIDTH);

            y = party(pen, y + 2.0, "Người gửi:", &data.sender);
            y = party(pen, y, "Cơ quan nhận:", &data.agency);
            y = field(
                pen,
                y,
                "Thủ tục hành chính:",
                &format!("{} (mã {})", data.procedure_name, data.procedure_code),
            );
            let accepted = data
                .accepted_at
                .as_ref()
                .map_or_else(|| "chưa nhận".to_owned(), local);
            y = field(pen, y, "Thời gian nhận:", &accepted);

            // The documents.
            y += 2.0;
            pen.text(MARGIN, y, BODY, true, "Thành phần hồ sơ:");
            y += 3.0;
            let columns = [
                MARGIN,
                MARGIN + 12.0,
                MARGIN + 130.0,
                MARGIN + CONTENT_WIDTH,
            ];
            let row = 6.5;
            pen.rule(MARGIN, y, CONTENT_WIDTH);
            let top = y;
            for (i, h) in ["STT", "Tên giấy tờ", "Bản chính/sao · Số bản"]
                .iter()
                .enumerate()
            {
                pen.text(columns[i] + 1.5, y + 4.6, SMALL, true, h);
            }
            y += row;
            pen.rule(MARGIN, y, CONTENT_WIDTH);
            let fits = (((TABLE_BOTTOM - y) / row).floor() as usize).max(1);
            let shown = if data.documents.len() > fits {
                fits - 1
            } else {
                data.documents.len()
            };
            for (i, doc) in data.documents.iter().take(shown).enumerate() {
                let kind = if doc.original {
                    "Bản chính"
                } else {
                    "Bản sao"
                };
                let cells = [
                    (i + 1).to_string(),
                    doc.name.clone(),
                    format!("{kind} · {}", doc.copies),
                ];
                for (c, cell) in cells.iter().enumerate() {
                    let width = columns[c + 1] - columns[c] - 3.0;
                    let cell = fit(cell, &METRICS.regular, SMALL, width);
                    pen.text(columns[c] + 1.5, y + 4.6, SMALL, false, &cell);
                }
                y += row;
                pen.rule(MARGIN, y, CONTENT_WIDTH);
            }
            if shown < data.documents.len() {
                pen.text(
                    columns[1] + 1.5,
                    y + 4.6,
                    SMALL,
                    false,
                    &format!("… và {} giấy tờ khác", data.documents.len() - shown),
                );
                y += row;
                pen.rule(MARGIN, y, CONTENT_WIDTH);
            }
            for x in columns {
                pen.column_rule(x, top, y - top);
            }

            // The fees.
            y += 7.0;
            y = field(
                pen,
                y,
                "Cước phí:",
                &format!("{} đồng", vnd(data.postage_vnd)),
            );
            y = field(
                pen,
                y,
                "Lệ phí thu hộ:",
                &format!("{} đồng", vnd(data.admin_fee_vnd)),
            );
            let mut total = format!("{} đồng", vnd(data.total_vnd));
            if let Some(exemption) = &data.exemption {
                total.push_str(&format!(" ({exemption})"));
            }
            y = field(pen, y, "Tổng cộng:", &total);
            signatures(pen, y + 2.0, ["Người gửi", "Nhân viên bưu chính"]);
            Ok(())
        },
    )
}

/// The receipts of a dossier as one PDF, a page each: the dossier's, then its supplements'.
pub fn render_receipt_pdf(pages: &[ReceiptPdfData]) -> Result<Vec<u8>, LabelError> {
    let number = pages.first().map_or("", |p| p.number.as_str());
    a4_pages(&format!("Biên lai {number}"), pages, |pen, data| {
        let qr = qr::encode(data.qr_url.as_bytes())?;
        let mut y = heading(
            pen,
            &data.office_name,
            "BIÊN LAI THU TIỀN",
            "(cước dịch vụ bưu chính và phí, lệ phí thu hộ — Quyết định số 45/2016/QĐ-TTg, Điều 11)",
        );
        qr_code(pen, &qr, PAGE_WIDTH_MM - MARGIN - QR_SIDE, y - 4.0);
        y = field(pen, y + 2.0, "Số biên lai:", &data.number);
        y = field(pen, y, "Mã hồ sơ:", &data.dossier_code);
        y = field(
            pen,
            y,
            "Số hiệu bưu gửi:",
            data.item_code.as_deref().unwrap_or("—"),
        );
        y = field(pen, y, "Thời gian thu:", &local(&data.collected_at));
        y = y.max(MARGIN + 38.0 + QR_SIDE + 2.0);
        pen.rule(MARGIN, y - 3.5, CONTENT_WIDTH);
        y = party(pen, y + 2.0, "Người nộp tiền:", &data.payer);
        y = field(
            pen,
            y,
            "Thủ tục hành chính:",
            &format!("{} (mã {})", data.procedure_name, data.procedure_code),
        );
        y += 4.0;
        let columns = [
            MARGIN,
            MARGIN + 12.0,
            MARGIN + 130.0,
            MARGIN + CONTENT_WIDTH,
        ];
        let row = 7.0;
        let top = y;
        pen.rule(MARGIN, y, CONTENT_WIDTH);
        for (i, h) in ["STT", "Nội dung thu", "Số tiền (đồng)"].iter().enumerate() {
            pen.text(columns[i] + 1.5, y + 4.9, BODY, true, h);
        }
        y += row;
        pen.rule(MARGIN, y, CONTENT_WIDTH);
        let postage = match data.supplement {
            None => "Cước dịch vụ bưu chính".to_owned(),
            Some(n) => format!("Cước dịch vụ bưu chính (hồ sơ bổ sung lần {n})"),
        };
        let lines = [
            (postage, data.postage_vnd),
            (
                format!("Lệ phí thu hộ {}", data.agency_name),
                data.admin_fee_vnd,
            ),
        ];
        for (i, (what, amount)) in lines.iter().enumerate() {
            let cells = [(i + 1).to_string(), what.clone(), vnd(*amount)];
            for (c, cell) in cells.iter().enumerate() {
                let width = columns[c + 1] - columns[c] - 3.0;
                let cell = fit(cell, &METRICS.regular, BODY, width);
                pen.text(columns[c] + 1.5, y + 4.9, BODY, false, &cell);
            }
            y += row;
            pen.rule(MARGIN, y, CONTENT_WIDTH);
        }
        pen.text(columns[1] + 1.5, y + 4.9, BODY, true, "Tổng cộng");
        pen.text(
            columns[2] + 1.5,
            y + 4.9,
            BODY,
            true,
            &vnd(data.postage_vnd + data.admin_fee_vnd),
        );
        y += row;
        pen.rule(MARGIN, y, CONTENT_WIDTH);
        for x in columns {
            pen.column_rule(x, top, y - top);
        }
        signatures(pen, y + 10.0, ["Người nộp tiền", "Nhân viên bưu chính"]);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slip_with_many_documents_is_one_page_with_its_text() {
        let data = SlipPdfData {
            supplement: None,
            qr_url: "https://dossier.vnpost.vn/t/7KQ2M".into(),
            dossier_code: "7KQ2M-4XZ9P".into(),
            item_code: Some("RR123456785VN".into()),
            service: "Gửi và nhận kết quả".into(),
            sender: SlipParty {
                name: "Nguyễn Văn An".into(),
                address_lines: vec!["12 Tràng Tiền".into()],
                phone: Some("0912345678".into()),
                email: Some("an@example.vn".into()),
            },
            agency: SlipParty {
                name: "Ủy ban nhân dân phường Hoàn Kiếm".into(),
                ..SlipParty::default()
            },
            procedure_name: "Cấp bản sao trích lục hộ tịch".into(),
            procedure_code: "1.001612".into(),
            office_name: "Bưu cục Hoàn Kiếm".into(),
            documents: (0..40u32)
                .map(|i| SlipPdfDocument {
                    name: format!("Giấy tờ {i}"),
                    original: i.is_multiple_of(2),
                    copies: 1,
                })
                .collect(),
            postage_vnd: 26_000,
            admin_fee_vnd: 8_000,
            total_vnd: 34_000,
            exemption: None,
            accepted_at: None,
        };
        let pdf = render_slip_pdf(&[data]).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
