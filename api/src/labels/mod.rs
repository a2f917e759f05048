//! Parcel labels (API.md "Postal operations"): the sticker on each parcel, with the QR code that lands
//! on `/l/{token}`, the S10 item code as text and as a Code 128 barcode, the dossier code, sender and
//! receiver as the slip needs them, the procedure and the agency.
//!
//! One layout serves the three formats: `layout` places every mark; [`svg`] writes them as SVG;
//! [`png`] rasterises that SVG with resvg; [`pdf`] draws the same marks into PDF pages with krilla,
//! keeping text as text (an embedded, subset font with a ToUnicode map), so names can be searched and
//! copied from the PDF.
//!
//! Fonts come only from the DejaVu Sans files embedded in the binary (`assets/fonts/`, with their
//! license), which cover Vietnamese: no system font is ever looked up, so every machine draws the same
//! label.
//!
//! A label is 100 × 150 mm, the usual size of thermal parcel labels. `qr` makes its QR code.

pub mod content;
pub mod handover_pdf;
mod layout;
pub mod papers;
pub mod pdf;
pub mod png;
mod qr;
pub mod slip_pdf;
pub mod svg;

use std::sync::{Arc, LazyLock};

use entity::enums::LegDirection;
use resvg::usvg::{self, fontdb};

pub use pdf::{render_pdf, render_pdf_sheet};
pub use png::render_png;
pub use svg::render_svg;

/// Width of a label, in millimetres.
pub const LABEL_WIDTH_MM: f32 = 100.0;
/// Height of a label, in millimetres.
pub const LABEL_HEIGHT_MM: f32 = 150.0;

/// DejaVu Sans: Vietnamese, Latin, Greek and Cyrillic in one permissively licensed family.
const FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
/// The family name inside the embedded font files.
const FONT_FAMILY: &str = "DejaVu Sans";

/// An amount of money as Vietnamese papers print it: dots between thousands, e.g. `26.000`.
pub fn vnd(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if amount < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// A sender or a receiver, as the dossier slip names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    /// The address, one line per entry; long lines are wrapped.
    pub address_lines: Vec<String>,
    pub phone: Option<String>,
}

/// Everything printed on one label. The QR code carries `qr_url` only, never personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelData {
    /// `{public_base_url}/l/{token}`.
    pub qr_url: String,
    /// The parcel's S10 item code, e.g. `RR123456785VN`.
    pub item_code: String,
    pub dossier_code: String,
    /// Inbound (the dossier, to the agency) or outbound (the result, home).
    pub direction: LegDirection,
    pub procedure_code: String,
    pub procedure_name: String,
    pub agency_name: String,
    pub sender: Party,
    pub receiver: Party,
}

/// Why a label could not be drawn. None of these depends on the data of a valid parcel: they mean a
/// bug or a broken build, and the HTTP layer answers 500.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("the QR code cannot hold the label URL: {0}")]
    Qr(#[from] qrcode::types::QrError),
    #[error("the label's SVG could not be read back: {0}")]
    Svg(#[from] usvg::Error),
    #[error("the PNG could not be made: {0}")]
    Png(String),
    #[error("the PDF could not be made: {0}")]
    Pdf(String),
    #[error("a sheet of labels needs at least one label")]
    EmptySheet,
}

/// The embedded fonts, loaded once and shared by every parse.
static FONT_DB: LazyLock<Arc<fontdb::Database>> = LazyLock::new(|| {
    let mut db = fontdb::Database::new();
    db.load_font_source(fontdb::Source::Binary(Arc::new(FONT_REGULAR)));
    db.load_font_source(fontdb::Source::Binary(Arc::new(FONT_BOLD)));
    db.set_sans_serif_family(FONT_FAMILY);
    Arc::new(db)
});

/// Parses a label's SVG with the embedded fonts (and no others), for the PNG.
fn parse_svg(svg: &str) -> Result<usvg::Tree, LabelError> {
    let options = usvg::Options {
        font_family: FONT_FAMILY.to_owned(),
        languages: vec!["vi".to_owned()],
        fontdb: Arc::clone(&FONT_DB),
        ..Default::default()
    };
    Ok(usvg::Tree::from_str(svg, &options)?)
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A label with long Vietnamese names, as the demo data makes them.
    pub fn label() -> LabelData {
        LabelData {
            qr_url: "https://dossier.vnpost.vn/l/AAAAAAAAAAHdmd6KGSNbkUnL".into(),
            item_code: "RR123456785VN".into(),
            dossier_code: "7KQ2M-9XP3D".into(),
            direction: LegDirection::Inbound,
            procedure_code: "1.001612".into(),
            procedure_name: "Đăng ký thường trú, cấp đổi giấy xác nhận thông tin về cư trú cho công dân Việt Nam định cư ở nước ngoài".into(),
            agency_name: "Ủy ban nhân dân phường Hoàn Kiếm".into(),
            sender: Party {
                name: "Nguyễn Văn An".into(),
                address_lines: vec![
                    "12 Tràng Tiền".into(),
                    "Phường/xã 00070 · Tỉnh/thành phố 01".into(),
                ],
                phone: Some("0912345678".into()),
            },
            receiver: Party {
                name: "Ủy ban nhân dân phường Hoàn Kiếm".into(),
                address_lines: vec!["126 Hàng Trống, phường Hoàn Kiếm, Hà Nội".into()],
                phone: None,
            },
        }
    }
}
