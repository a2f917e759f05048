//! The label as SVG: the layout of `super::layout` written as one standalone document in millimetres
//! (`viewBox="0 0 100 150"`, `width="100mm"`). The PNG is this SVG rasterised.
//!
//! Text keeps the family of the embedded DejaVu Sans first, then common fallbacks for viewers without
//! it; DejaVu Sans is wider than those, so text laid out with its metrics stays inside its box in any
//! of them. Everything written here is generated: text is escaped, and no input can add an element or
//! an attribute.

use std::fmt::Write as _;

use super::layout::{Anchor, Ink, LabelLayout, Mark, allowed_in_xml, layout};
use super::{LABEL_HEIGHT_MM, LABEL_WIDTH_MM, LabelData, LabelError};

/// The font stack for viewers of the SVG itself; PNG and PDF always use the embedded DejaVu Sans.
const FONT_STACK: &str = "'DejaVu Sans', 'Noto Sans', Arial, sans-serif";

/// Writes the label as a standalone SVG document.
pub fn render_svg(label: &LabelData) -> Result<String, LabelError> {
    Ok(write_svg(&layout(label)?))
}

/// Writes a laid-out label as SVG.
pub(crate) fn write_svg(label: &LabelLayout) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_WIDTH_MM}mm" height="{LABEL_HEIGHT_MM}mm" viewBox="0 0 {LABEL_WIDTH_MM} {LABEL_HEIGHT_MM}" font-family="{FONT_STACK}" lang="vi">"#
    );
    out.push_str("<title>Nhãn bưu gửi ");
    escape_into(&mut out, &label.item_code);
    out.push_str("</title>");
    let _ = write!(
        out,
        r##"<rect width="{LABEL_WIDTH_MM}" height="{LABEL_HEIGHT_MM}" fill="#fff"/>"##
    );
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
                let _ = write!(
                    out,
                    r#"<rect x="{x:.3}" y="{y:.3}" width="{width:.3}" height="{height:.3}""#
                );
                if *radius > 0.0 {
                    let _ = write!(out, r#" rx="{radius:.2}""#);
                }
                let _ = write!(out, r#" fill="{}"/>"#, colour(*ink));
            }
            Mark::Modules {
                x,
                y,
                module_width,
                module_height,
                runs,
            } => {
                let _ = write!(
                    out,
                    r##"<path fill="#000" shape-rendering="crispEdges" transform="translate({x:.3} {y:.3}) scale({module_width} {module_height})" d=""##
                );
                for run in runs {
                    let _ = write!(
                        out,
                        "M{} {}h{len}v1h-{len}z",
                        run.start,
                        run.row,
                        len = run.len
                    );
                }
                out.push_str(r#""/>"#);
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
                let _ = write!(
                    out,
                    r#"<text x="{x:.2}" y="{y:.2}" font-size="{size}" fill="{}""#,
                    colour(*ink)
                );
                if *bold {
                    out.push_str(r#" font-weight="bold""#);
                }
                if *anchor == Anchor::Middle {
                    out.push_str(r#" text-anchor="middle""#);
                }
                out.push('>');
                escape_into(&mut out, text);
                out.push_str("</text>");
            }
        }
    }
    out.push_str("</svg>");
    out
}

fn colour(ink: Ink) -> &'static str {
    match ink {
        Ink::Black => "#000",
        Ink::Grey => "#444",
        Ink::White => "#fff",
    }
}

/// Appends `text` escaped for XML character data or a quoted attribute.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if !allowed_in_xml(c) => out.push(' '),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use entity::enums::LegDirection;

    use super::super::fixtures;
    use super::*;

    #[test]
    fn the_svg_carries_the_texts_escaped_and_parses() {
        let mut label = fixtures::label();
        label.sender.name = "Trần <Thị> \"Bình\" & Co\u{0}".into();
        let svg = render_svg(&label).expect("svg");
        assert!(svg.contains("Trần &lt;Thị&gt; &quot;Bình&quot; &amp; Co"));
        assert!(svg.contains("RR 123 456 785 VN"));
        assert!(svg.contains("7KQ2M-9XP3D"));
        assert!(svg.contains("Ủy ban nhân dân phường Hoàn Kiếm"));
        assert!(svg.contains("CHIỀU ĐI"));
        assert!(!svg.contains('\u{0}'));
        super::super::parse_svg(&svg).expect("the SVG parses");
    }

    #[test]
    fn the_outbound_label_says_so() {
        let mut label = fixtures::label();
        label.direction = LegDirection::Outbound;
        let svg = render_svg(&label).expect("svg");
        assert!(svg.contains("CHIỀU VỀ"));
    }

    #[test]
    fn hostile_and_huge_inputs_still_make_a_label() {
        let mut label = fixtures::label();
        label.sender.name = "x".repeat(10_000);
        label.receiver.address_lines = vec!["ẞ".repeat(5_000), "\n\t\r".into(), String::new()];
        label.procedure_name = "🙂 ".repeat(300);
        label.item_code = "not an S10 code ✓".into();
        label.dossier_code = String::new();
        label.receiver.phone = Some("\u{7}".into());
        let svg = render_svg(&label).expect("svg");
        super::super::parse_svg(&svg).expect("the SVG parses");
        assert!(svg.len() < 60_000, "{}", svg.len());
    }
}
