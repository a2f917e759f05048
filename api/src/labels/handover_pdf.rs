//! The printable handover record (Biên bản giao nhận, Decision 45 Art. 7 and 9) as A4 PDF pages,
//! drawn with krilla like the labels: text stays text in subsets of the embedded DejaVu Sans (so the
//! agency's Vietnamese name and every dossier code can be searched and copied), and the QR code, which
//! opens the record's staff page, is vector rectangles.
//!
//! The first page carries the heading, the parties, the times and the QR code; the numbered table of
//! dossiers continues on further pages when long; the count and the two signature boxes close the
//! record, on a page of their own when the last page of the table has no room for them.

use chrono::{DateTime, FixedOffset};
use entity::enums::HandoverDirection;
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

use super::layout::{Advances, METRICS};
use super::{FONT_BOLD, FONT_REGULAR, LabelError, qr};

/// PostScript points per millimetre.
const PT_PER_MM: f32 = 72.0 / 25.4;
const PAGE_WIDTH_MM: f32 = 210.0;
const PAGE_HEIGHT_MM: f32 = 297.0;
const MARGIN: f32 = 20.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH_MM - 2.0 * MARGIN;
/// The side of the QR code with its quiet zone.
pub(super) const QR_SIDE: f32 = 32.0;
const QR_QUIET: usize = 4;
/// Text sizes, in millimetres (3.5 mm is about 10 pt).
const BODY: f32 = 3.5;
const SMALL: f32 = 2.9;
const TITLE: f32 = 5.6;
const ROW_HEIGHT: f32 = 7.0;
/// Where the table starts on the first page and on the pages that continue it.
const FIRST_TABLE_TOP: f32 = 118.0;
const NEXT_TABLE_TOP: f32 = 32.0;
/// The lowest edge of anything but the page footer.
const BODY_BOTTOM: f32 = PAGE_HEIGHT_MM - MARGIN - 6.0;
/// The count, the fees handed over and the signature boxes.
const CLOSING_HEIGHT: f32 = 68.0;
/// Table columns: left edges, then the right edge of the last one.
const COLUMNS: [f32; 6] = [
    MARGIN,
    MARGIN + 14.0,
    MARGIN + 56.0,
    MARGIN + 100.0,
    MARGIN + 130.0,
    MARGIN + CONTENT_WIDTH,
];

/// A dossier on the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverPdfItem {
    pub dossier_code: String,
    /// The parcel's S10 code, when it has one.
    pub item_code: Option<String>,
    pub procedure_code: String,
    /// The fee collected on the agency's behalf and handed over with the dossier.
    pub admin_fee_vnd: i64,
}

/// Everything printed on a handover record. The QR code carries `qr_url` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverPdfData {
    /// `{public_base_url}/staff/handovers/{id}`.
    pub qr_url: String,
    /// The printed number, e.g. `BBGN-100000-261123-001`.
    pub number: String,
    pub direction: HandoverDirection,
    pub agency_name: String,
    pub agency_code: String,
    pub office_name: String,
    pub office_code: String,
    /// Local (+07:00) times.
    pub created_at: DateTime<FixedOffset>,
    pub created_by: String,
    /// `None` while the receiving side has not signed.
    pub confirmed_at: Option<DateTime<FixedOffset>>,
    pub confirmed_by: Option<String>,
    pub items: Vec<HandoverPdfItem>,
    /// The fees handed over with the dossiers (Decision 45 Art. 7.1).
    pub admin_fee_total_vnd: i64,
}

/// The record's title, by direction.
pub fn title(direction: HandoverDirection) -> &'static str {
    match direction {
        HandoverDirection::ToAgency => "BIÊN BẢN GIAO NHẬN HỒ SƠ",
        HandoverDirection::ToPost => "BIÊN BẢN GIAO NHẬN KẾT QUẢ",
    }
}

/// One page of the record: which table rows it shows and whether it closes the record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PagePlan {
    rows: std::ops::Range<usize>,
    closing: bool,
}

/// Splits `items` rows over pages: as many as fit on each, then the closing block where it fits.
fn paginate(items: usize) -> Vec<PagePlan> {
    let per_page = |top: f32| ((BODY_BOTTOM - top - ROW_HEIGHT) / ROW_HEIGHT).floor() as usize;
    let mut pages = Vec::new();
    let mut start = 0;
    let mut top = FIRST_TABLE_TOP;
    loop {
        let end = (start + per_page(top)).min(items);
        let table_bottom = top + ROW_HEIGHT * (1 + end - start) as f32;
        let last = end == items;
        let closing = last && table_bottom + CLOSING_HEIGHT <= BODY_BOTTOM;
        pages.push(PagePlan {
            rows: start..end,
            closing,
        });
        if last {
            if !closing {
                pages.push(PagePlan {
                    rows: end..end,
                    closing: true,
                });
            }
            return pages;
        }
        start = end;
        top = NEXT_TABLE_TOP;
    }
}

/// The record as a PDF of one or more A4 pages.
pub fn render_handover_pdf(data: &HandoverPdfData) -> Result<Vec<u8>, LabelError> {
    let page_size = Size::from_wh(PAGE_WIDTH_MM * PT_PER_MM, PAGE_HEIGHT_MM * PT_PER_MM)
        .ok_or_else(|| LabelError::Pdf("the page size is invalid".into()))?;
    let fonts = Fonts {
        regular: Font::new(FONT_REGULAR.into(), 0)
            .ok_or_else(|| LabelError::Pdf("the embedded font does not load".into()))?,
        bold: Font::new(FONT_BOLD.into(), 0)
            .ok_or_else(|| LabelError::Pdf("the embedded bold font does not load".into()))?,
    };
    let qr = qr::encode(data.qr_url.as_bytes())?;
    let plan = paginate(data.items.len());
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{} {}", title(data.direction), clean(&data.number)))
            .language("vi".to_owned()),
    );
    for (index, page_plan) in plan.iter().enumerate() {
        let mut page = document.start_page_with(PageSettings::new(page_size));
        let mut surface = page.surface();
        surface.push_transform(&Transform::from_scale(PT_PER_MM, PT_PER_MM));
        let mut pen = Pen {
            surface: &mut surface,
            fonts: &fonts,
        };
        let top = if index == 0 {
            first_page_heading(&mut pen, data, &qr);
            FIRST_TABLE_TOP
        } else {
            pen.text(
                MARGIN,
                MARGIN + 4.0,
                BODY,
                true,
                &format!("{} · {} (tiếp theo)", title(data.direction), data.number),
            );
            NEXT_TABLE_TOP
        };
        let mut y = top;
        if !page_plan.rows.is_empty() || index == 0 {
            y = table(&mut pen, data, page_plan.rows.clone(), top);
        }
        if page_plan.closing {
            closing(&mut pen, data, y + 8.0);
        }
        pen.centred(
            PAGE_WIDTH_MM / 2.0,
            PAGE_HEIGHT_MM - MARGIN + 4.0,
            SMALL,
            false,
            &format!("{} · Trang {}/{}", data.number, index + 1, plan.len()),
        );
        surface.pop();
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| LabelError::Pdf(format!("{e:?}")))
}

/// The heading of the first page: the national motto, the number, the QR code, the title, the parties
/// and the times.
fn first_page_heading(pen: &mut Pen<'_, '_>, data: &HandoverPdfData, qr: &qr::QrMatrix) {
    let left_width = CONTENT_WIDTH - QR_SIDE - 6.0;
    let left_centre = MARGIN + left_width / 2.0;
    pen.centred(
        left_centre,
        MARGIN + 6.0,
        BODY,
        true,
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    );
    pen.centred(
        left_centre,
        MARGIN + 11.0,
        BODY,
        true,
        "Độc lập - Tự do - Hạnh phúc",
    );
    pen.rule(left_centre - 25.0, MARGIN + 12.6, 50.0);
    pen.centred(
        left_centre,
        MARGIN + 22.0,
        BODY,
        false,
        &format!("Số: {}", data.number),
    );
    qr_code(pen, qr, PAGE_WIDTH_MM - MARGIN - QR_SIDE, MARGIN - 4.0);

    pen.centred(
        PAGE_WIDTH_MM / 2.0,
        MARGIN + 42.0,
        TITLE,
        true,
        title(data.direction),
    );
    pen.centred(
        PAGE_WIDTH_MM / 2.0,
        MARGIN + 48.0,
        SMALL,
        false,
        "(Quyết định số 45/2016/QĐ-TTg, Điều 7 và Điều 9)",
    );

    let direction = match data.direction {
        HandoverDirection::ToAgency => "Bưu chính giao hồ sơ cho cơ quan có thẩm quyền",
        HandoverDirection::ToPost => "Cơ quan có thẩm quyền giao kết quả cho bưu chính",
    };
    let confirmed = match (&data.confirmed_at, &data.confirmed_by) {
        (Some(at), Some(by)) => format!("{} — {by}", local(at)),
        (Some(at), None) => local(at),
        (None, _) => "chưa ký".to_owned(),
    };
    let lines = [
        ("Chiều giao nhận:", direction.to_owned()),
        (
            "Cơ quan:",
            format!("{} ({})", data.agency_name, data.agency_code),
        ),
        (
            "Bưu cục:",
            format!("{} ({})", data.office_name, data.office_code),
        ),
        (
            "Lập lúc:",
            format!("{} — {}", local(&data.created_at), data.created_by),
        ),
        ("Ký nhận lúc:", confirmed),
    ];
    let mut y = MARGIN + 60.0;
    for (label, value) in lines {
        pen.text(MARGIN, y, BODY, true, label);
        let x = MARGIN + 32.0;
        let value = fit(&value, &METRICS.regular, BODY, MARGIN + CONTENT_WIDTH - x);
        pen.text(x, y, BODY, false, &value);
        y += 6.5;
    }
}

/// The table header and `rows`, from `top`; returns the bottom edge.
fn table(
    pen: &mut Pen<'_, '_>,
    data: &HandoverPdfData,
    rows: std::ops::Range<usize>,
    top: f32,
) -> f32 {
    let headers = ["STT", "Mã hồ sơ", "Mã bưu gửi", "Mã thủ tục", "Lệ phí (đ)"];
    let mut y = top;
    pen.rule(MARGIN, y, CONTENT_WIDTH);
    for (i, header) in headers.iter().enumerate() {
        pen.text(COLUMNS[i] + 2.0, y + 4.9, BODY, true, header);
    }
    y += ROW_HEIGHT;
    pen.rule(MARGIN, y, CONTENT_WIDTH);
    for index in rows {
        let Some(item) = data.items.get(index) else {
            break;
        };
        let cells = [
            (index + 1).to_string(),
            item.dossier_code.clone(),
            item.item_code.clone().unwrap_or_else(|| "—".to_owned()),
            item.procedure_code.clone(),
            super::vnd(item.admin_fee_vnd),
        ];
        for (i, cell) in cells.iter().enumerate() {
            let width = COLUMNS[i + 1] - COLUMNS[i] - 4.0;
            let cell = fit(cell, &METRICS.regular, BODY, width);
            pen.text(COLUMNS[i] + 2.0, y + 4.9, BODY, false, &cell);
        }
        y += ROW_HEIGHT;
        pen.rule(MARGIN, y, CONTENT_WIDTH);
    }
    for x in COLUMNS {
        pen.column_rule(x, top, y - top);
    }
    y
}

/// The count and the two signature boxes, from `top`.
fn closing(pen: &mut Pen<'_, '_>, data: &HandoverPdfData, top: f32) {
    let what = match data.direction {
        HandoverDirection::ToAgency => "hồ sơ",
        HandoverDirection::ToPost => "kết quả",
    };
    pen.text(
        MARGIN,
        top,
        BODY,
        true,
        &format!("Tổng số: {} {what}", data.items.len()),
    );
    let mut top = top;
    if data.direction == HandoverDirection::ToAgency {
        top += 6.0;
        pen.text(
            MARGIN,
            top,
            BODY,
            true,
            &format!(
                "Tổng lệ phí thu hộ bàn giao: {} đồng",
                super::vnd(data.admin_fee_total_vnd)
            ),
        );
    }
    let box_top = top + 8.0;
    let box_width = (CONTENT_WIDTH - 10.0) / 2.0;
    let box_height = 42.0;
    for (i, heading) in ["Đại diện bưu chính", "Đại diện cơ quan"]
        .into_iter()
        .enumerate()
    {
        let x = MARGIN + i as f32 * (box_width + 10.0);
        pen.frame(x, box_top, box_width, box_height);
        pen.centred(x + box_width / 2.0, box_top + 7.0, BODY, true, heading);
        pen.centred(
            x + box_width / 2.0,
            box_top + 12.0,
            SMALL,
            false,
            "(Ký, ghi rõ họ tên)",
        );
    }
}

/// The QR code with its quiet zone, its top-left corner at (`left`, `top`).
pub(super) fn qr_code(pen: &mut Pen<'_, '_>, code: &qr::QrMatrix, left: f32, top: f32) {
    let width = code.width;
    if width == 0 {
        return;
    }
    let module = QR_SIDE / (width + 2 * QR_QUIET) as f32;
    let origin_x = left + module * QR_QUIET as f32;
    let origin_y = top + module * QR_QUIET as f32;
    let mut path = PathBuilder::new();
    for (row, cells) in code.dark.chunks(width).enumerate() {
        let mut column = 0;
        while column < cells.len() {
            if !cells[column] {
                column += 1;
                continue;
            }
            let start = column;
            while column < cells.len() && cells[column] {
                column += 1;
            }
            if let Some(rect) = Rect::from_xywh(
                origin_x + start as f32 * module,
                origin_y + row as f32 * module,
                (column - start) as f32 * module,
                module,
            ) {
                path.push_rect(rect);
            }
        }
    }
    if let Some(path) = path.finish() {
        pen.surface.set_fill(Some(black()));
        pen.surface.draw_path(&path);
    }
}

/// A local time as the record prints it, e.g. `23/11/2026 14:05 (+07:00)`.
pub(super) fn local(t: &DateTime<FixedOffset>) -> String {
    t.format("%d/%m/%Y %H:%M (%:z)").to_string()
}

/// `text` without control characters, cut with an ellipsis to `max_width`.
pub(super) fn fit(text: &str, font: &Advances, size: f32, max_width: f32) -> String {
    let text = clean(text);
    if font.width(&text, size) <= max_width {
        return text;
    }
    let mut out = String::new();
    for c in text.chars() {
        out.push(c);
        if font.width(&format!("{out}…"), size) > max_width {
            out.pop();
            break;
        }
    }
    out.push('…');
    out
}

pub(super) fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

pub(super) fn black() -> Fill {
    Fill {
        paint: rgb::Color::new(0, 0, 0).into(),
        ..Fill::default()
    }
}

/// The embedded faces, loaded once per document.
pub(super) struct Fonts {
    pub(super) regular: Font,
    pub(super) bold: Font,
}

/// Draws on one page, in millimetres with `y` growing downwards.
pub(super) struct Pen<'s, 'f> {
    pub(super) surface: &'s mut Surface<'f>,
    pub(super) fonts: &'s Fonts,
}

impl Pen<'_, '_> {
    /// One line of text, its baseline at `y`.
    pub(super) fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let text = clean(text);
        if text.is_empty() {
            return;
        }
        let font = if bold {
            &self.fonts.bold
        } else {
            &self.fonts.regular
        };
        self.surface.set_fill(Some(black()));
        self.surface.draw_text(
            Point::from_xy(x, y),
            font.clone(),
            size,
            &text,
            false,
            TextDirection::LeftToRight,
        );
    }

    /// One line of text centred on `x`.
    pub(super) fn centred(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let metrics = if bold {
            &METRICS.bold
        } else {
            &METRICS.regular
        };
        let width = metrics.width(text, size);
        self.text(x - width / 2.0, y, size, bold, text);
    }

    pub(super) fn rect(&mut self, x: f32, y: f32, width: f32, height: f32) {
        let mut path = PathBuilder::new();
        if let Some(rect) = Rect::from_xywh(x, y, width, height) {
            path.push_rect(rect);
        }
        if let Some(path) = path.finish() {
            self.surface.set_fill(Some(black()));
            self.surface.draw_path(&path);
        }
    }

    /// A horizontal hairline.
    pub(super) fn rule(&mut self, x: f32, y: f32, width: f32) {
        self.rect(x, y - 0.15, width, 0.3);
    }

    /// A vertical hairline.
    pub(super) fn column_rule(&mut self, x: f32, y: f32, height: f32) {
        self.rect(x - 0.15, y, 0.3, height);
    }

    /// The outline of a box.
    pub(super) fn frame(&mut self, x: f32, y: f32, width: f32, height: f32) {
        self.rule(x, y, width);
        self.rule(x, y + height, width);
        self.column_rule(x, y, height);
        self.column_rule(x + width, y, height);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(items: usize) -> HandoverPdfData {
        let at = DateTime::parse_from_rfc3339("2026-11-23T14:05:00+07:00").expect("time");
        HandoverPdfData {
            qr_url: "https://dossier.vnpost.vn/staff/handovers/42".into(),
            number: "BBGN-100000-261123-001".into(),
            direction: HandoverDirection::ToAgency,
            agency_name: "Ủy ban nhân dân phường Hoàn Kiếm".into(),
            agency_code: "UBND-P-HOANKIEM".into(),
            office_name: "Bưu cục Hoàn Kiếm".into(),
            office_code: "100000".into(),
            created_at: at,
            created_by: "Bưu cục 100000".into(),
            confirmed_at: None,
            confirmed_by: None,
            items: (0..items)
                .map(|i| HandoverPdfItem {
                    dossier_code: format!("7KQ2M-{i:05}"),
                    item_code: Some("RR123456785VN".into()),
                    procedure_code: "1.001612".into(),
                    admin_fee_vnd: 400_000,
                })
                .collect(),
            admin_fee_total_vnd: 400_000 * items as i64,
        }
    }

    fn pages(pdf: &[u8]) -> usize {
        let text = String::from_utf8_lossy(pdf).replace("/Type /", "/Type/");
        text.matches("/Type/Page").count() - text.matches("/Type/Pages").count()
    }

    #[test]
    fn every_row_is_on_exactly_one_page_and_the_record_closes_once() {
        for items in [0, 1, 20, 21, 22, 40, 60, 500] {
            let plan = paginate(items);
            let mut next = 0;
            for page in &plan {
                assert_eq!(page.rows.start, next);
                next = page.rows.end;
            }
            assert_eq!(next, items);
            assert_eq!(plan.iter().filter(|p| p.closing).count(), 1);
            assert!(plan.last().is_some_and(|p| p.closing));
        }
    }

    #[test]
    fn a_short_record_is_one_page_and_a_long_one_continues() {
        let short = render_handover_pdf(&data(3)).expect("pdf");
        assert!(short.starts_with(b"%PDF-"));
        assert_eq!(pages(&short), 1);
        let long = render_handover_pdf(&data(120)).expect("pdf");
        assert_eq!(pages(&long), paginate(120).len());
        assert!(pages(&long) >= 4);
    }
}
