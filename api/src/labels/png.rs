//! The label as PNG: the SVG layout rasterised with resvg at 8 px/mm (203 dpi, what most thermal
//! label printers print), on white, with the embedded fonts only.

use resvg::tiny_skia::{Color, Pixmap, Transform};

use super::layout::PX_PER_MM;
use super::{LABEL_HEIGHT_MM, LABEL_WIDTH_MM, LabelData, LabelError, parse_svg, render_svg};

/// Width of the PNG in pixels.
pub const PNG_WIDTH: u32 = (LABEL_WIDTH_MM * PX_PER_MM) as u32;
/// Height of the PNG in pixels.
pub const PNG_HEIGHT: u32 = (LABEL_HEIGHT_MM * PX_PER_MM) as u32;

/// Draws the label as a PNG image of [`PNG_WIDTH`] × [`PNG_HEIGHT`] pixels.
pub fn render_png(label: &LabelData) -> Result<Vec<u8>, LabelError> {
    let svg = render_svg(label)?;
    let tree = parse_svg(&svg)?;
    let mut pixmap = Pixmap::new(PNG_WIDTH, PNG_HEIGHT)
        .ok_or_else(|| LabelError::Png("the image size is invalid".into()))?;
    pixmap.fill(Color::WHITE);
    let scale = PNG_WIDTH as f32 / tree.size().width();
    resvg::render(
        &tree,
        Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| LabelError::Png(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    #[test]
    fn the_png_has_the_label_size_and_ink_on_it() {
        let png = render_png(&fixtures::label()).expect("png");
        let pixmap = Pixmap::decode_png(&png).expect("decodes");
        assert_eq!((pixmap.width(), pixmap.height()), (PNG_WIDTH, PNG_HEIGHT));
        let dark = pixmap
            .pixels()
            .iter()
            .filter(|p| p.red() < 128 && p.alpha() > 0)
            .count();
        let share = dark as f64 / f64::from(PNG_WIDTH * PNG_HEIGHT);
        assert!((0.03..0.5).contains(&share), "{share}");
    }
}
