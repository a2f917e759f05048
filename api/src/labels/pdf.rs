//! The label as PDF: the SVG layout drawn into PDF pages with krilla. Text stays text, set in a subset
//! of the embedded DejaVu Sans with a ToUnicode map, so the PDF is small, prints sharp at any
//! resolution, and gives the Vietnamese names back intact when its text is extracted or searched.

use krilla::Document;
use krilla::geom::Size;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla_svg::{SurfaceExt, SvgSettings};

use super::{LABEL_HEIGHT_MM, LABEL_WIDTH_MM, LabelData, LabelError, parse_svg, render_svg};

/// PostScript points per millimetre.
const PT_PER_MM: f32 = 72.0 / 25.4;

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
    let svg_settings = SvgSettings {
        embed_text: true,
        ..SvgSettings::default()
    };
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title("Nhãn bưu gửi".to_owned())
            .language("vi".to_owned()),
    );
    for label in labels {
        let tree = parse_svg(&render_svg(label)?)?;
        let mut page = document.start_page_with(PageSettings::new(page_size));
        let mut surface = page.surface();
        surface
            .draw_svg(&tree, page_size, svg_settings)
            .ok_or_else(|| LabelError::Pdf("the label could not be drawn".into()))?;
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| LabelError::Pdf(format!("{e:?}")))
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
        let text = String::from_utf8_lossy(&pdf);
        let text = text.replace("/Type /", "/Type/");
        let pages = text.matches("/Type/Page").count() - text.matches("/Type/Pages").count();
        assert_eq!(pages, 3);
    }

    #[test]
    fn an_empty_sheet_is_refused() {
        assert!(matches!(render_pdf_sheet(&[]), Err(LabelError::EmptySheet)));
    }
}
