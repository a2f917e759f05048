//! The label as PDF: the marks of `super::layout` drawn into 100 × 150 mm pages with krilla. Text
//! stays text, set in subsets of the embedded DejaVu Sans with a ToUnicode map, so the PDF is small,
//! prints sharp at any resolution, and gives the Vietnamese names back intact when its text is
//! extracted or searched. The QR code and the barcode are vector rectangles.
//!
//! Drawing the marks directly (rather than the SVG through an SVG renderer) keeps a sheet of hundreds
//! of labels to a fraction of a second: nothing is parsed, and each line of text is shaped once.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

use super::layout::{Anchor, Ink, LabelLayout, METRICS, Mark, layout};
use super::{FONT_BOLD, FONT_REGULAR, LABEL_HEIGHT_MM, LABEL_WIDTH_MM, LabelData, LabelError};

/// PostScript points per millimetre.
const PT_PER_MM: f32 = 72.0 / 25.4;
/// The control-point distance that makes a cubic Bézier a quarter circle.
const KAPPA: f32 = 0.552_284_8;

/// One label as a one-page PDF.
pub fn render_pdf(label: &LabelData) -> Result<Vec<u8>, LabelError> {
    render_pdf_sheet(std::slice::from_ref(label))
}

/// Many labels in one PDF, one 100 × 150 mm page each, in the order given: one print job for a
/// whole pickup round or handover.
pub fn render_pdf_sheet(labels: &[LabelData]) -> Result<Vec<u8>, LabelError> {
    if labels.is_empty() {
        return Err(LabelError::EmptySheet);
    }
    let page_size = Size::from_wh(LABEL_WIDTH_MM * PT_PER_MM, LABEL_HEIGHT_MM * PT_PER_MM)
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
            .title("Nhãn bưu gửi".to_owned())
            .language("vi".to_owned()),
    );
    for label in labels {
        let laid_out = layout(label)?;
        let mut page = document.start_page_with(PageSettings::new(page_size));
        let mut surface = page.surface();
        surface.push_transform(&Transform::from_scale(PT_PER_MM, PT_PER_MM));
        draw(&mut surface, &laid_out, &fonts);
        surface.pop();
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| LabelError::Pdf(format!("{e:?}")))
}

/// The embedded faces, loaded once per document (krilla embeds each once, subset to the glyphs used).
struct Fonts {
    regular: Font,
    bold: Font,
}

fn fill(ink: Ink) -> Fill {
    let (r, g, b) = ink.rgb();
    Fill {
        paint: rgb::Color::new(r, g, b).into(),
        ..Fill::default()
    }
}

/// Draws the marks of one label, in millimetres.
fn draw(surface: &mut Surface<'_>, label: &LabelLayout, fonts: &Fonts) {
    for mark in &label.marks {
        match mark {
            Mark::Rect {
                x,
                y,
                width,
                height,
                radius,
                ink,
            } => {
                let mut path = PathBuilder::new();
                rounded_rect(&mut path, *x, *y, *width, *height, *radius);
                if let Some(path) = path.finish() {
                    surface.set_fill(Some(fill(*ink)));
                    surface.draw_path(&path);
                }
            }
            Mark::Modules {
                x,
                y,
                module_width,
                module_height,
                runs,
            } => {
                let mut path = PathBuilder::new();
                for run in runs {
                    if let Some(rect) = Rect::from_xywh(
                        x + f32::from(run.start) * module_width,
                        y + f32::from(run.row) * module_height,
                        f32::from(run.len) * module_width,
                        *module_height,
                    ) {
                        path.push_rect(rect);
                    }
                }
                if let Some(path) = path.finish() {
                    surface.set_fill(Some(fill(Ink::Black)));
                    surface.draw_path(&path);
                }
            }
            Mark::Text {
                x,
                y,
                size,
                bold,
                ink,
                anchor,
                text,
            } => {
                if text.is_empty() {
                    continue;
                }
                let (font, metrics) = if *bold {
                    (&fonts.bold, &METRICS.bold)
                } else {
                    (&fonts.regular, &METRICS.regular)
                };
                let x = match anchor {
                    Anchor::Start => *x,
                    Anchor::Middle => x - metrics.width(text, *size) / 2.0,
                };
                surface.set_fill(Some(fill(*ink)));
                surface.draw_text(
                    Point::from_xy(x, *y),
                    font.clone(),
                    *size,
                    text,
                    false,
                    TextDirection::LeftToRight,
                );
            }
        }
    }
}

/// Adds a rectangle with corners rounded by `radius` (none when it is zero).
fn rounded_rect(path: &mut PathBuilder, x: f32, y: f32, width: f32, height: f32, radius: f32) {
    let r = radius.min(width / 2.0).min(height / 2.0).max(0.0);
    if r == 0.0 {
        if let Some(rect) = Rect::from_xywh(x, y, width, height) {
            path.push_rect(rect);
        }
        return;
    }
    let (right, bottom) = (x + width, y + height);
    let k = r * KAPPA;
    path.move_to(x + r, y);
    path.line_to(right - r, y);
    path.cubic_to(right - r + k, y, right, y + r - k, right, y + r);
    path.line_to(right, bottom - r);
    path.cubic_to(
        right,
        bottom - r + k,
        right - r + k,
        bottom,
        right - r,
        bottom,
    );
    path.line_to(x + r, bottom);
    path.cubic_to(x + r - k, bottom, x, bottom - r + k, x, bottom - r);
    path.line_to(x, y + r);
    path.cubic_to(x, y + r - k, x + r - k, y, x + r, y);
    path.close();
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    #[test]
    fn a_sheet_has_one_page_per_label() {
        let labels = vec![fixtures::label(); 3];
        let pdf = render_pdf_sheet(&labels).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf).replace("/Type /", "/Type/");
        let pages = text.matches("/Type/Page").count() - text.matches("/Type/Pages").count();
        assert_eq!(pages, 3);
        // The fonts are embedded once for the whole sheet.
        assert_eq!(text.matches("/FontFile2").count(), 2);
    }

    #[test]
    fn an_empty_sheet_is_refused() {
        assert!(matches!(render_pdf_sheet(&[]), Err(LabelError::EmptySheet)));
    }
}
