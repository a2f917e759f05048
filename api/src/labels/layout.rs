//! Where everything on a label goes: one list of marks (text, rectangles, and the modules of the QR
//! code and the barcode) in millimetres, from the top-left corner, that [`super::svg`] writes as SVG
//! and [`super::pdf`] draws into PDF, so both (and the PNG rasterised from the SVG) show one layout.
//!
//! Text is measured with the embedded DejaVu Sans metrics and wrapped or shortened (with "…") to stay
//! inside its box; names are set smaller before they are cut. The QR code and the barcode are aligned
//! to the 8 px/mm grid of the PNG (203 dpi, what most thermal label printers print), so every module is
//! a whole number of pixels and scans crisply. Control characters in the data are dropped here.

use std::sync::LazyLock;

use entity::enums::LegDirection;

use super::qr;
use super::{
    FONT_BOLD, FONT_REGULAR, LABEL_HEIGHT_MM, LABEL_WIDTH_MM, LabelData, LabelError, Party,
};

/// Pixels per millimetre of the PNG, and the grid the symbols are aligned to.
pub const PX_PER_MM: f32 = 8.0;
const MARGIN: f32 = 4.0;
const CONTENT_WIDTH: f32 = LABEL_WIDTH_MM - 2.0 * MARGIN;
/// The square the QR code (quiet zone included) fits in.
const QR_BOX: f32 = 32.0;
/// The QR quiet zone, in modules (ISO/IEC 18004).
const QR_QUIET: usize = 4;
/// The Code 128 quiet zone, in modules (ISO/IEC 15417 asks for at least 10).
const BAR_QUIET: usize = 10;
const BAR_HEIGHT: f32 = 15.0;
/// The colours a label uses; thermal printers print black only, grey comes out dithered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ink {
    Black,
    Grey,
    White,
}

impl Ink {
    /// The sRGB value.
    pub(crate) fn rgb(self) -> (u8, u8, u8) {
        match self {
            Ink::Black => (0, 0, 0),
            Ink::Grey => (0x44, 0x44, 0x44),
            Ink::White => (0xff, 0xff, 0xff),
        }
    }
}

/// Where a line of text hangs from its `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
}

/// One run of dark modules in a row of a symbol: `len` modules from column `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ModuleRun {
    pub row: u16,
    pub start: u16,
    pub len: u16,
}

/// One thing drawn on a label. Lengths are millimetres, `y` grows downwards.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mark {
    /// A filled rectangle with corners rounded by `radius`.
    Rect {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
        radius: f32,
        ink: Ink,
    },
    /// The dark modules of a QR code or barcode: module (column, row) covers
    /// `[x + column·module_width, +module_width] × [y + row·module_height, +module_height]`.
    Modules {
        x: f32,
        y: f32,
        module_width: f32,
        module_height: f32,
        runs: Vec<ModuleRun>,
    },
    /// One line of text, its baseline at `y`, already cleaned and fitted.
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        ink: Ink,
        anchor: Anchor,
        text: String,
    },
}

/// A laid-out label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabelLayout {
    /// For the document's title.
    pub item_code: String,
    pub marks: Vec<Mark>,
    /// The bottom edge of the last block above the footer (tests check the worst case fits).
    pub bottom: f32,
}

/// Lays the label out.
pub(crate) fn layout(label: &LabelData) -> Result<LabelLayout, LabelError> {
    let mut out: Vec<Mark> = Vec::with_capacity(64);

    let header_bottom = header(&mut out, label)?;
    let mut y = header_bottom + 2.0;
    rule(&mut out, y);
    y = barcode_block(&mut out, &label.item_code, y + 2.0);
    rule(&mut out, y);
    let sender_heading = match label.direction {
        LegDirection::Inbound => "NGƯỜI GỬI",
        LegDirection::Outbound => "NGƯỜI GỬI (CƠ QUAN)",
    };
    y = party_block(
        &mut out,
        sender_heading,
        &label.sender,
        y,
        PartyStyle::SENDER,
    );
    rule(&mut out, y);
    y = party_block(
        &mut out,
        "NGƯỜI NHẬN",
        &label.receiver,
        y,
        PartyStyle::RECEIVER,
    );
    rule(&mut out, y);
    y = procedure_block(&mut out, label, y);
    rule(&mut out, y);
    let bottom = y;
    text(
        &mut out,
        LABEL_WIDTH_MM / 2.0,
        LABEL_HEIGHT_MM - MARGIN,
        2.2,
        Style::plain().centred().grey(),
        "Dịch vụ hồ sơ qua bưu chính công ích · QĐ 45/2016/QĐ-TTg",
    );
    Ok(LabelLayout {
        item_code: clean(&label.item_code),
        marks: out,
        bottom,
    })
}

/// The service title, the direction, the dossier code and the QR code; returns the bottom edge.
fn header(out: &mut Vec<Mark>, label: &LabelData) -> Result<f32, LabelError> {
    let qr_size = qr_code(out, &label.qr_url, LABEL_WIDTH_MM - MARGIN, MARGIN)?;
    let qr_left = LABEL_WIDTH_MM - MARGIN - qr_size;
    text(
        out,
        qr_left + qr_size / 2.0,
        MARGIN + qr_size + 2.4,
        2.2,
        Style::plain().centred().grey(),
        "Quét để tra cứu",
    );
    let column = qr_left - MARGIN - 2.0;

    let mut y = MARGIN + 3.0;
    text(out, MARGIN, y, 3.0, Style::bold(), "BƯU CHÍNH CÔNG ÍCH");
    y += 3.8;
    text(
        out,
        MARGIN,
        y,
        2.6,
        Style::plain().grey(),
        "Hồ sơ thủ tục hành chính",
    );

    // The direction, white on black, so that sorting staff tell the two legs apart at a glance.
    y += 2.2;
    let badge = match label.direction {
        LegDirection::Inbound => "CHIỀU ĐI · NỘP HỒ SƠ",
        LegDirection::Outbound => "CHIỀU VỀ · TRẢ KẾT QUẢ",
    };
    let badge_size = 3.0;
    let badge_width = (METRICS.bold.width(badge, badge_size) + 3.0).min(column);
    out.push(Mark::Rect {
        x: MARGIN,
        y,
        width: badge_width,
        height: 5.4,
        radius: 0.8,
        ink: Ink::Black,
    });
    let badge_text = fit(badge, &METRICS.bold, badge_size, badge_width - 3.0);
    text(
        out,
        MARGIN + 1.5,
        y + 3.9,
        badge_size,
        Style::bold().white(),
        &badge_text,
    );
    y += 5.4 + 4.4;

    text(out, MARGIN, y, 2.4, Style::bold().grey(), "MÃ HỒ SƠ");
    y += 6.4;
    let code = fit(&label.dossier_code, &METRICS.bold, 6.0, column);
    text(out, MARGIN, y, 6.0, Style::bold(), &code);
    Ok((y + 1.5).max(MARGIN + qr_size + 3.0))
}

/// The QR code with its quiet zone, right-aligned to `right` at `top`; returns its side.
fn qr_code(out: &mut Vec<Mark>, url: &str, right: f32, top: f32) -> Result<f32, LabelError> {
    let code = qr::encode(url.as_bytes())?;
    let width = code.width;
    let modules = width + 2 * QR_QUIET;
    let module_px = (QR_BOX * PX_PER_MM / modules as f32).floor().max(1.0);
    let module = module_px / PX_PER_MM;
    let side = module * modules as f32;
    let left = snap(right - side);
    let runs = code
        .dark
        .chunks(width)
        .enumerate()
        .flat_map(|(row, cells)| runs_of(cells, row))
        .collect();
    out.push(Mark::Modules {
        x: left + module * QR_QUIET as f32,
        y: snap(top) + module * QR_QUIET as f32,
        module_width: module,
        module_height: module,
        runs,
    });
    Ok(side)
}

/// The item code as a Code 128 barcode with the text under it; returns the bottom edge.
fn barcode_block(out: &mut Vec<Mark>, item_code: &str, top: f32) -> f32 {
    let top = snap(top);
    if let Some(bars) = code128_modules(item_code) {
        let modules = bars.len() + 2 * BAR_QUIET;
        let max_px = CONTENT_WIDTH * PX_PER_MM;
        let module_px = (max_px / modules as f32).floor();
        // Whole pixels when they fit; otherwise (a very long code) as wide as the label allows.
        let module = if module_px >= 1.0 {
            module_px / PX_PER_MM
        } else {
            CONTENT_WIDTH / modules as f32
        };
        let width = module * bars.len() as f32;
        let left = snap((LABEL_WIDTH_MM - width) / 2.0);
        let dark: Vec<bool> = bars.iter().map(|b| *b != 0).collect();
        out.push(Mark::Modules {
            x: left,
            y: top,
            module_width: module,
            module_height: BAR_HEIGHT,
            runs: runs_of(&dark, 0),
        });
    }
    let baseline = top + BAR_HEIGHT + 5.2;
    let printed = fit(
        &human_readable_item_code(item_code),
        &METRICS.bold,
        4.6,
        CONTENT_WIDTH,
    );
    text(
        out,
        LABEL_WIDTH_MM / 2.0,
        baseline,
        4.6,
        Style::bold().centred(),
        &printed,
    );
    baseline + 2.0
}

/// How a party block is set.
#[derive(Clone, Copy)]
struct PartyStyle {
    name_size: f32,
    line_size: f32,
    address_lines: usize,
}

impl PartyStyle {
    const SENDER: PartyStyle = PartyStyle {
        name_size: 3.8,
        line_size: 3.1,
        address_lines: 2,
    };
    /// The receiver is what the carrier reads: larger, with room for a longer address.
    const RECEIVER: PartyStyle = PartyStyle {
        name_size: 4.8,
        line_size: 3.6,
        address_lines: 3,
    };
}

/// A sender or receiver block under `top`; returns the bottom edge.
fn party_block(
    out: &mut Vec<Mark>,
    heading: &str,
    party: &Party,
    top: f32,
    style: PartyStyle,
) -> f32 {
    let mut y = top + 3.6;
    text(out, MARGIN, y, 2.4, Style::bold().grey(), heading);
    // A name is never cut while it can be read whole: a long one is set smaller, then on two lines,
    // which the address gives up so that the block keeps its height.
    let name = clean(&party.name);
    let size = shrink_to_fit(&name, &METRICS.bold, style.name_size, CONTENT_WIDTH);
    let name_lines = wrap(&name, &METRICS.bold, size, CONTENT_WIDTH, 2);
    let address_budget = style.address_lines + 1 - name_lines.len().max(1);
    for (i, line) in name_lines.iter().enumerate() {
        y += if i == 0 {
            style.name_size * 1.2
        } else {
            size * 1.2
        };
        text(out, MARGIN, y, size, Style::bold(), line);
    }
    let address = party
        .address_lines
        .iter()
        .map(|l| clean(l))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    for line in wrap(
        &address,
        &METRICS.regular,
        style.line_size,
        CONTENT_WIDTH,
        address_budget,
    ) {
        y += style.line_size * 1.25;
        text(out, MARGIN, y, style.line_size, Style::plain(), &line);
    }
    if let Some(phone) = party.phone.as_deref().map(clean).filter(|p| !p.is_empty()) {
        y += style.line_size * 1.25;
        let line = fit(
            &format!("ĐT: {phone}"),
            &METRICS.regular,
            style.line_size,
            CONTENT_WIDTH,
        );
        text(out, MARGIN, y, style.line_size, Style::plain(), &line);
    }
    y + 2.2
}

/// The procedure and the agency that rules on it; returns the bottom edge.
fn procedure_block(out: &mut Vec<Mark>, label: &LabelData, top: f32) -> f32 {
    let mut y = top + 3.6;
    text(out, MARGIN, y, 2.4, Style::bold().grey(), "THỦ TỤC");
    let procedure = format!(
        "{} · {}",
        clean(&label.procedure_code),
        clean(&label.procedure_name)
    );
    for line in wrap(&procedure, &METRICS.regular, 3.3, CONTENT_WIDTH, 2) {
        y += 3.9;
        text(out, MARGIN, y, 3.3, Style::plain(), &line);
    }
    y += 4.4;
    text(
        out,
        MARGIN,
        y,
        2.4,
        Style::bold().grey(),
        "CƠ QUAN GIẢI QUYẾT",
    );
    for line in wrap(&label.agency_name, &METRICS.bold, 3.3, CONTENT_WIDTH, 2) {
        y += 3.9;
        text(out, MARGIN, y, 3.3, Style::bold(), &line);
    }
    y + 2.2
}

/// A thin horizontal rule across the content width.
fn rule(out: &mut Vec<Mark>, y: f32) {
    out.push(Mark::Rect {
        x: MARGIN,
        y: y - 0.125,
        width: CONTENT_WIDTH,
        height: 0.25,
        radius: 0.0,
        ink: Ink::Black,
    });
}

/// The runs of dark cells in one row of a symbol.
fn runs_of(cells: &[bool], row: usize) -> Vec<ModuleRun> {
    let small = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let mut runs = Vec::new();
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
        runs.push(ModuleRun {
            row: small(row),
            start: small(start),
            len: small(column - start),
        });
    }
    runs
}

/// How a run of text is set.
#[derive(Clone, Copy)]
struct Style {
    bold: bool,
    anchor: Anchor,
    ink: Ink,
}

impl Style {
    fn plain() -> Self {
        Style {
            bold: false,
            anchor: Anchor::Start,
            ink: Ink::Black,
        }
    }
    fn bold() -> Self {
        Style {
            bold: true,
            ..Style::plain()
        }
    }
    fn centred(self) -> Self {
        Style {
            anchor: Anchor::Middle,
            ..self
        }
    }
    fn grey(self) -> Self {
        Style {
            ink: Ink::Grey,
            ..self
        }
    }
    fn white(self) -> Self {
        Style {
            ink: Ink::White,
            ..self
        }
    }
}

/// One line of text with its baseline at `y`.
fn text(out: &mut Vec<Mark>, x: f32, y: f32, size: f32, style: Style, content: &str) {
    out.push(Mark::Text {
        x,
        y,
        size,
        bold: style.bold,
        ink: style.ink,
        anchor: style.anchor,
        text: content.to_owned(),
    });
}

/// Rounds to the pixel grid of the PNG.
fn snap(mm: f32) -> f32 {
    (mm * PX_PER_MM).round() / PX_PER_MM
}

/// Characters XML 1.0 allows in a document, less the control characters that draw nothing: the
/// only characters a label prints.
pub(crate) fn allowed_in_xml(c: char) -> bool {
    !c.is_control() && c != '\u{FFFE}' && c != '\u{FFFF}'
}

/// `text` with control characters turned into spaces, runs of white space collapsed, and trimmed.
fn clean(text: &str) -> String {
    let replaced: String = text
        .chars()
        .map(|c| if allowed_in_xml(c) { c } else { ' ' })
        .collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `RR123456785VN` → `RR 123 456 785 VN`, the grouping printed under S10 barcodes; anything else as is.
fn human_readable_item_code(code: &str) -> String {
    let code = clean(code);
    let b = code.as_bytes();
    let is_s10 = b.len() == 13
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..11].iter().all(u8::is_ascii_digit)
        && b[11..].iter().all(u8::is_ascii_uppercase);
    if !is_s10 {
        return code;
    }
    format!(
        "{} {} {} {} {}",
        &code[..2],
        &code[2..5],
        &code[5..8],
        &code[8..11],
        &code[11..]
    )
}

/// The Code 128 modules (1 = bar, 0 = space) of `data`, or `None` if it has a character outside
/// printable ASCII. Code set B carries letters; runs of digits long enough to pay for the switch go in
/// code set C (two digits per symbol), which keeps an S10 code short and its bars wide.
pub(crate) fn code128_modules(data: &str) -> Option<Vec<u8>> {
    if data.is_empty() || !data.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    const SET_B: char = '\u{0181}';
    const SET_C: char = '\u{0106}';
    let bytes = data.as_bytes();
    let mut spec = String::with_capacity(data.len() + 4);
    let mut current = None;
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let at_edge = i == 0 || i + run == bytes.len();
        let worth_c = if at_edge { run >= 4 } else { run >= 6 };
        if worth_c {
            let even = run - run % 2;
            if current != Some(SET_C) {
                spec.push(SET_C);
                current = Some(SET_C);
            }
            spec.push_str(&data[i..i + even]);
            i += even;
        } else {
            let end = if run > 0 { i + run } else { i + 1 };
            if current != Some(SET_B) {
                spec.push(SET_B);
                current = Some(SET_B);
            }
            spec.push_str(&data[i..end]);
            i = end;
        }
    }
    barcoders::sym::code128::Code128::new(spec)
        .ok()
        .map(|code| code.encode())
}

/// Advance widths of one embedded font, for laying out text before the renderer does.
pub(crate) struct Advances {
    /// Advance in em of every character below U+2000 (Latin, Vietnamese, Greek, Cyrillic…).
    table: Vec<f32>,
    face: Option<ttf_parser::Face<'static>>,
    per_em: f32,
    /// For a character the font lacks, or if the font failed to parse: a generous 0.7 em.
    fallback: f32,
}

const TABLE_CHARS: u32 = 0x2000;

impl Advances {
    fn new(data: &'static [u8]) -> Self {
        let face = ttf_parser::Face::parse(data, 0).ok();
        let per_em = face
            .as_ref()
            .map_or(1000.0, |f| f32::from(f.units_per_em()));
        let fallback = 0.7;
        let mut advances = Advances {
            table: Vec::new(),
            face,
            per_em,
            fallback,
        };
        advances.table = (0..TABLE_CHARS)
            .map(|u| char::from_u32(u).map_or(fallback, |c| advances.lookup(c)))
            .collect();
        advances
    }

    fn lookup(&self, c: char) -> f32 {
        let Some(face) = &self.face else {
            return self.fallback;
        };
        face.glyph_index(c)
            .and_then(|g| face.glyph_hor_advance(g))
            .map_or(self.fallback, |a| f32::from(a) / self.per_em)
    }

    fn advance(&self, c: char) -> f32 {
        match self.table.get(c as usize) {
            Some(a) => *a,
            None => self.lookup(c),
        }
    }

    /// The width of `text` set at `size`.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }
}

pub(crate) struct Metrics {
    pub(crate) regular: Advances,
    pub(crate) bold: Advances,
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    regular: Advances::new(FONT_REGULAR),
    bold: Advances::new(FONT_BOLD),
});

const ELLIPSIS: char = '…';

/// `text`, cleaned, shortened with "…" if it is wider than `max_width`.
fn fit(text: &str, font: &Advances, size: f32, max_width: f32) -> String {
    let text = clean(text);
    if font.width(&text, size) <= max_width {
        return text;
    }
    ellipsize(&text, font, size, max_width)
}

/// The size, between `size` and four fifths of it, at which `text` fits on one line of `max_width`
/// (the smallest when it fits at none).
fn shrink_to_fit(text: &str, font: &Advances, size: f32, max_width: f32) -> f32 {
    let width = font.width(text, size);
    if width <= max_width {
        return size;
    }
    (size * max_width / width).max(size * 0.8)
}

/// The longest prefix of `text` that, followed by "…", fits `max_width`.
fn ellipsize(text: &str, font: &Advances, size: f32, max_width: f32) -> String {
    let budget = max_width - font.advance(ELLIPSIS) * size;
    let mut width = 0.0;
    let mut out = String::with_capacity(text.len() + 3);
    for c in text.chars() {
        width += font.advance(c) * size;
        if width > budget {
            break;
        }
        out.push(c);
    }
    let mut out = out.trim_end().to_owned();
    out.push(ELLIPSIS);
    out
}

/// Breaks `text` into at most `max_lines` lines no wider than `max_width`, at spaces where it can
/// (a word wider than a line is cut), and at the newlines it contains. When text remains after the
/// last line, that line ends in "…".
fn wrap(text: &str, font: &Advances, size: f32, max_width: f32, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    if max_lines == 0 {
        return lines;
    }
    let space = font.advance(' ') * size;
    let mut line = String::new();
    let mut line_width = 0.0;
    let mut truncated = false;
    'paragraphs: for (index, paragraph) in text.split('\n').enumerate() {
        if index > 0 && !line.is_empty() {
            if lines.len() + 1 == max_lines {
                truncated = true;
                break;
            }
            lines.push(std::mem::take(&mut line));
            line_width = 0.0;
        }
        for word in paragraph.split_whitespace() {
            let word_width = font.width(word, size);
            let needed = if line.is_empty() {
                word_width
            } else {
                line_width + space + word_width
            };
            if needed <= max_width {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
                line_width = needed;
                continue;
            }
            if !line.is_empty() {
                if lines.len() + 1 == max_lines {
                    truncated = true;
                    break 'paragraphs;
                }
                lines.push(std::mem::take(&mut line));
            }
            // The word starts a line; cut it while it is wider than one.
            let mut rest = word;
            while font.width(rest, size) > max_width {
                if lines.len() + 1 == max_lines {
                    line = rest.to_owned();
                    truncated = true;
                    break 'paragraphs;
                }
                let cut = fitting_prefix(rest, font, size, max_width);
                lines.push(rest[..cut].to_owned());
                rest = &rest[cut..];
            }
            line = rest.to_owned();
            line_width = font.width(rest, size);
        }
    }
    if truncated {
        lines.push(ellipsize(&line, font, size, max_width));
    } else if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The byte length of the longest prefix of `text` that fits `max_width`: at least one character, so
/// that cutting always moves on.
fn fitting_prefix(text: &str, font: &Advances, size: f32, max_width: f32) -> usize {
    let mut width = 0.0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        width += font.advance(c) * size;
        if width > max_width && i > 0 {
            break;
        }
        end = i + c.len_utf8();
    }
    end
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    #[test]
    fn the_embedded_fonts_parse_and_cover_vietnamese() {
        for font in [&METRICS.regular, &METRICS.bold] {
            let face = font.face.as_ref().expect("the embedded font parses");
            for c in "ĂÂĐÊÔƠƯăâđêôơưẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ…·".chars() {
                assert!(face.glyph_index(c).is_some(), "no glyph for {c}");
            }
        }
    }

    #[test]
    fn the_longest_texts_stay_above_the_footer() {
        let mut label = fixtures::label();
        let long = "Ngõ 123 ngách 45 hẻm 67 đường Nguyễn Thị Minh Khai kéo dài ".repeat(8);
        label.sender.address_lines = vec![long.clone(), long.clone()];
        label.receiver.address_lines = vec![long.clone(), long.clone(), long.clone()];
        label.receiver.phone = Some("+84912345678".into());
        label.procedure_name = long.clone();
        label.agency_name = long;
        let bottom = layout(&label).expect("layout").bottom;
        assert!(bottom < LABEL_HEIGHT_MM - MARGIN - 4.0, "{bottom}");
        // Names too: every block at its most lines at once.
        label.sender.name = "Tôn Nữ Công Tằng Huyền Tôn Nữ Thị Hoàng Phương Thảo Nguyên ".repeat(3);
        label.receiver.name = label.sender.name.clone();
        let laid_out = layout(&label).expect("layout");
        assert!(
            laid_out.bottom < LABEL_HEIGHT_MM - MARGIN - 4.0,
            "{}",
            laid_out.bottom
        );
        let texts: Vec<&str> = laid_out
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(texts.iter().any(|t| t.ends_with('…')));
        assert!(texts.iter().all(|t| !t.contains('\n')));
    }

    #[test]
    fn wrapping_respects_the_width_and_the_line_count() {
        let font = &METRICS.regular;
        let text = "Đăng ký thường trú, cấp đổi giấy xác nhận thông tin về cư trú cho công dân Việt Nam định cư ở nước ngoài";
        let lines = wrap(text, font, 3.0, 60.0, 2);
        assert_eq!(lines.len(), 2);
        for line in &lines {
            assert!(font.width(line, 3.0) <= 60.0, "{line}");
        }
        assert!(lines[1].ends_with('…'));
        let lines = wrap(text, font, 3.0, 1000.0, 2);
        assert_eq!(lines, vec![text.to_owned()]);
        let lines = wrap(&"W".repeat(200), font, 3.0, 20.0, 3);
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| font.width(l, 3.0) <= 20.0));
        assert!(wrap("", font, 3.0, 20.0, 3).is_empty());
        assert_eq!(wrap("a\nb", font, 3.0, 20.0, 3), vec!["a", "b"]);
        assert_eq!(wrap("a\nb\nc", font, 3.0, 20.0, 2), vec!["a", "b…"]);
    }

    #[test]
    fn s10_codes_print_grouped() {
        assert_eq!(
            human_readable_item_code("RR123456785VN"),
            "RR 123 456 785 VN"
        );
        assert_eq!(human_readable_item_code("ABC"), "ABC");
        assert_eq!(human_readable_item_code("ĐR123456785VN"), "ĐR123456785VN");
    }

    /// The Code 128 symbol values of `modules`, read back with the standard's table of bar widths.
    fn decode_code128(modules: &[u8]) -> Vec<usize> {
        // ISO/IEC 15417 table: bar/space widths of values 0–106 (106 = stop, 7 elements).
        const PATTERNS: [&str; 107] = [
            "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312",
            "132212", "221213", "221312", "231212", "112232", "122132", "122231", "113222",
            "123122", "123221", "223211", "221132", "221231", "213212", "223112", "312131",
            "311222", "321122", "321221", "312212", "322112", "322211", "212123", "212321",
            "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
            "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121",
            "313121", "211331", "231131", "213113", "213311", "213131", "311123", "311321",
            "331121", "312113", "312311", "332111", "314111", "221411", "431111", "111224",
            "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
            "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
            "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112",
            "421211", "212141", "214121", "412121", "111143", "111341", "131141", "114113",
            "114311", "411113", "411311", "113141", "114131", "311141", "411131", "211412",
            "211214", "211232", "2331112",
        ];
        let mut widths = Vec::new();
        let mut i = 0;
        while i < modules.len() {
            let start = i;
            while i < modules.len() && modules[i] == modules[start] {
                i += 1;
            }
            widths.push(char::from(b'0' + u8::try_from(i - start).expect("width")));
        }
        let widths: String = widths.into_iter().collect();
        let mut values = Vec::new();
        let mut rest = widths.as_str();
        while !rest.is_empty() {
            let len = if rest.len() == 7 { 7 } else { 6 };
            let symbol = &rest[..len];
            let value = PATTERNS
                .iter()
                .position(|p| *p == symbol)
                .expect("a Code 128 symbol");
            values.push(value);
            rest = &rest[len..];
        }
        values
    }

    #[test]
    fn an_s10_code_encodes_as_valid_code128_with_set_c_for_the_serial() {
        let modules = code128_modules("RR123456785VN").expect("encodes");
        let values = decode_code128(&modules);
        // Start B, R, R, Code C, 12 34 56 78, Code B, 5, V, N, check, stop.
        let r = usize::from(b'R' - 32);
        let expected_data = vec![104, r, r, 99, 12, 34, 56, 78, 100, 21, 54, 46];
        assert_eq!(values[..expected_data.len()], expected_data[..]);
        let check = expected_data
            .iter()
            .enumerate()
            .map(|(i, v)| v * i.max(1))
            .sum::<usize>()
            % 103;
        assert_eq!(values[expected_data.len()], check);
        assert_eq!(values[expected_data.len() + 1], 106);
        assert_eq!(values.len(), expected_data.len() + 2);
        // The S10 code in set C is shorter than the same code all in set B.
        assert!(modules.len() < 11 * (13 + 3) + 2);
    }

    #[test]
    fn code128_refuses_what_it_cannot_carry() {
        assert!(code128_modules("").is_none());
        assert!(code128_modules("Đ123").is_none());
        assert!(code128_modules("a\tb").is_none());
        assert!(code128_modules("1234").is_some());
        assert!(code128_modules("12345").is_some());
        assert!(code128_modules("AB1234567CD").is_some());
    }
}
