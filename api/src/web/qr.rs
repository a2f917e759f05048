//! QR codes drawn as inline SVG for the pages (the confirmation's link to the tracking page, a
//! handover record's link to itself): one path of unit squares, with the four-module quiet zone.

use qrcode::{Color, EcLevel, QrCode};

/// An SVG QR code of `data`, `size_px` wide, with `title` read out by screen readers; `None` when
/// the data does not fit a QR code (it always does for the service's links).
pub fn svg(data: &str, size_px: u32, title: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let quiet = 4;
    let total = width + 2 * quiet;
    let mut path = String::with_capacity(width * width * 8);
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {total} {total}\" width=\"{size_px}\" \
         height=\"{size_px}\" role=\"img\" aria-label=\"{title}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{total}\" height=\"{total}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>",
        title = escape(title),
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_link_becomes_an_svg_with_dark_modules() {
        let svg = svg("http://127.0.0.1:8080/t/7KQ2M-9XP3D", 200, "QR \"code\"").unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("h1v1h-1z"));
        assert!(svg.contains("aria-label=\"QR &quot;code&quot;\""));
    }
}
