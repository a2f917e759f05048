//! The QR code of a label, at error-correction level M.
//!
//! The `qrcode` crate encodes the data, adds the error correction and draws the symbol; this module
//! only chooses the mask. The crate's own choice (`QrCode::with_error_correction_level`) scores each of
//! the eight masks with a boxed closure per module and costs about half a millisecond a label, more
//! than everything else on the label together; the same ISO/IEC 18004 §7.8.3 penalty rules over a
//! plain grid cost a few microseconds per mask. Any mask decodes; the penalty only picks the one that
//! scans most easily.

use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::types::QrError;
use qrcode::{Color, EcLevel};

/// A QR symbol without its quiet zone: `width` × `width` modules, row by row, `true` for dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QrMatrix {
    pub width: usize,
    pub dark: Vec<bool>,
}

#[cfg(test)]
impl QrMatrix {
    fn at(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }
}

const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// The smallest QR symbol at level M that holds `data`, with the mask of least penalty.
pub(crate) fn encode(data: &[u8]) -> Result<QrMatrix, QrError> {
    let bits = qrcode::bits::encode_auto(data, EcLevel::M)?;
    let version = bits.version();
    let (codewords, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, EcLevel::M)?;
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&codewords, &ec);
    let width = version.width().unsigned_abs() as usize;
    let mut best: Option<(u32, QrMatrix)> = None;
    for mask in MASKS {
        let mut masked = canvas.clone();
        masked.apply_mask(mask);
        let matrix = QrMatrix {
            width,
            dark: masked
                .into_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect(),
        };
        let score = penalty_fast(&matrix).unwrap_or_else(|| penalty(&matrix));
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, matrix));
        }
    }
    best.map(|(_, m)| m).ok_or(QrError::DataTooLong)
}

/// The ISO/IEC 18004 §7.8.3 penalty of a masked symbol: runs of five or more modules of one colour,
/// 2×2 blocks of one colour, finder-like 1:1:3:1:1 patterns with four light modules on one side
/// (counted once per side, beyond the edge counting as light), and the distance of the dark share from
/// half, in steps of 5 %.
fn penalty(m: &QrMatrix) -> u32 {
    let n = m.width;
    if n == 0 || m.dark.len() != n * n {
        return u32::MAX;
    }
    let mut columns = vec![false; n * n];
    for (y, row) in m.dark.chunks_exact(n).enumerate() {
        for (x, dark) in row.iter().enumerate() {
            columns[x * n + y] = *dark;
        }
    }
    let mut score: u32 = m
        .dark
        .chunks_exact(n)
        .chain(columns.chunks_exact(n))
        .map(line_penalty)
        .sum();
    for pair in m.dark.windows(2 * n).step_by(n) {
        let (top, bottom) = pair.split_at(n);
        for x in 0..n - 1 {
            let c = top[x];
            if c == top[x + 1] && c == bottom[x] && c == bottom[x + 1] {
                score += 3;
            }
        }
    }
    let total = m.dark.len();
    let dark = m.dark.iter().filter(|d| **d).count();
    let steps = (20 * dark).abs_diff(10 * total) / total;
    score + 10 * u32::try_from(steps).unwrap_or(10)
}

/// Widest symbol [`penalty_fast`] takes: a line with four light modules on each side fits 64 bits.
const FAST_MAX_WIDTH: usize = 64 - 8;

/// [`penalty`] with every row and column as a bit mask, eight to ten times faster; `None` for symbols
/// wider than [`FAST_MAX_WIDTH`] (version 10 and up, far beyond a label URL).
fn penalty_fast(m: &QrMatrix) -> Option<u32> {
    let n = m.width;
    if n == 0 || n > FAST_MAX_WIDTH || m.dark.len() != n * n {
        return None;
    }
    // Bit 4 + x of rows[y] (and bit 4 + y of columns[x]) is module (x, y); four light modules pad
    // each side, as beyond the edge counts as light.
    let mut rows = [0u64; FAST_MAX_WIDTH];
    let mut columns = [0u64; FAST_MAX_WIDTH];
    for (y, row) in m.dark.chunks_exact(n).enumerate() {
        for (x, dark) in row.iter().enumerate() {
            let bit = u64::from(*dark);
            rows[y] |= bit << (4 + x);
            columns[x] |= bit << (4 + y);
        }
    }
    let (rows, columns) = (&rows[..n], &columns[..n]);
    let inside = ((1u64 << n) - 1) << 4;
    let mut score = 0;
    for &line in rows.iter().chain(columns) {
        score += fast_runs(line, n) + 40 * fast_finders(line, n);
    }
    // 2×2 blocks: a module equal to its right neighbour, and the same in the row below, and the two
    // rows equal there.
    let pairs = inside & (inside >> 1);
    for pair in rows.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let same = !(a ^ (a >> 1)) & !(b ^ (b >> 1)) & !(a ^ b) & pairs;
        score += 3 * same.count_ones();
    }
    let total = n * n;
    let dark = rows.iter().map(|r| r.count_ones() as usize).sum::<usize>();
    let steps = (20 * dark).abs_diff(10 * total) / total;
    Some(score + 10 * u32::try_from(steps).unwrap_or(10))
}

/// The run penalty of one padded line of `n` modules.
fn fast_runs(line: u64, n: usize) -> u32 {
    // Bit i of `changes` is set where module i differs from module i - 1 (and at both ends).
    let modules = (line >> 4) & ((1u64 << n) - 1);
    let mut changes = (modules ^ (modules << 1)) & ((1u64 << n) - 1);
    changes |= 1 | (1u64 << n);
    let mut score = 0;
    let mut start = 0;
    changes &= changes - 1; // drop the change at 0, the start of the first run
    while changes != 0 {
        let end = changes.trailing_zeros();
        let run = end - start;
        if run >= 5 {
            score += run - 2;
        }
        start = end;
        changes &= changes - 1;
    }
    score
}

/// The number of finder-like patterns, with four light modules before or after, in one padded line.
fn fast_finders(line: u64, n: usize) -> u32 {
    // Windows of eleven modules starting at bit i (i = 0 ..= n - 3, the padding included); bit k of a
    // window is module i + k, the pattern written from its first module on.
    const LIGHT_THEN_FINDER: [bool; 11] = [
        false, false, false, false, true, false, true, true, true, false, true,
    ];
    const FINDER_THEN_LIGHT: [bool; 11] = [
        true, false, true, true, true, false, true, false, false, false, false,
    ];
    let starts = (1u64 << (n + 8).saturating_sub(10)) - 1;
    let matches = |pattern: &[bool; 11]| {
        pattern
            .iter()
            .enumerate()
            .fold(starts, |acc, (k, dark)| {
                let shifted = line >> k;
                acc & if *dark { shifted } else { !shifted }
            })
            .count_ones()
    };
    matches(&LIGHT_THEN_FINDER) + matches(&FINDER_THEN_LIGHT)
}

/// Runs and finder-like patterns of one row or column.
fn line_penalty(line: &[bool]) -> u32 {
    /// Four light modules, then dark-light-dark-dark-dark-light-dark; and the mirror image.
    const LIGHT_THEN_FINDER: u16 = 0b000_0101_1101;
    const FINDER_THEN_LIGHT: u16 = 0b101_1101_0000;
    const WINDOW: u16 = 0b111_1111_1111;
    let mut score = 0;
    let mut run = 0;
    let mut previous = None;
    // The last eleven modules, the newest in the lowest bit; beyond the edge is light (0).
    let mut window: u16 = 0;
    for &dark in line.iter().chain([false; 4].iter()) {
        window = ((window << 1) | u16::from(dark)) & WINDOW;
        if window == LIGHT_THEN_FINDER || window == FINDER_THEN_LIGHT {
            score += 40;
        }
    }
    for &dark in line {
        if previous == Some(dark) {
            run += 1;
        } else {
            if run >= 5 {
                score += run - 2;
            }
            run = 1;
            previous = Some(dark);
        }
    }
    if run >= 5 {
        score += run - 2;
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(matrix: &QrMatrix) -> String {
        let quiet = 4;
        let scale = 4;
        let side = (matrix.width + 2 * quiet) * scale;
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
            let (mx, my) = (x / scale, y / scale);
            let inside = (quiet..quiet + matrix.width).contains(&mx)
                && (quiet..quiet + matrix.width).contains(&my);
            if inside && matrix.at(mx - quiet, my - quiet) {
                0
            } else {
                255
            }
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (meta, content) = grids[0].decode().expect("decodes");
        assert_eq!(meta.ecc_level, 0, "level M");
        content
    }

    #[test]
    fn symbols_decode_back_at_level_m_with_the_crates_version() {
        for url in [
            "https://dossier.vnpost.vn/l/AAAAAAAAAAHdmd6KGSNbkUnL",
            "http://127.0.0.1:8080/l/f_-9AAAAAAAH3Zneihkjw5zz",
            "https://hoso-buudien.vnpost.vn/l/AAAAAAAAAAAAAAAAAAAAAAAA",
            "x",
        ] {
            let matrix = encode(url.as_bytes()).expect("encodes");
            let reference = qrcode::QrCode::with_error_correction_level(url, EcLevel::M)
                .expect("the crate encodes it too");
            assert_eq!(matrix.width, reference.width(), "{url}");
            assert_eq!(decode(&matrix), url);
        }
    }

    #[test]
    fn the_penalty_counts_runs_blocks_finders_and_balance() {
        // All dark 5×5: 10 runs of 5 (3 each), 16 blocks (3 each), 50 % off balance (10 steps).
        let dark = QrMatrix {
            width: 5,
            dark: vec![true; 25],
        };
        assert_eq!(penalty(&dark), 10 * 3 + 16 * 3 + 10 * 10);
        // One row with a finder-like pattern after four light modules, nothing else.
        let row = [
            false, false, false, false, true, false, true, true, true, false, true,
        ];
        let mut cells = vec![false; 11 * 11];
        cells[..11].copy_from_slice(&row);
        let finder = QrMatrix {
            width: 11,
            dark: cells,
        };
        assert!(penalty(&finder) >= 40);
    }

    #[test]
    fn the_fast_penalty_agrees_with_the_plain_one() {
        // A small xorshift generator: the same pseudo-random symbols on every run.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for width in [1, 2, 5, 11, 21, 29, 33, 41, 56] {
            for density in [2, 3, 8] {
                let dark = (0..width * width).map(|_| next() % density == 0).collect();
                let m = QrMatrix { width, dark };
                assert_eq!(penalty_fast(&m), Some(penalty(&m)), "width {width}");
            }
        }
        for url in ["https://dossier.vnpost.vn/l/AAAAAAAAAAHdmd6KGSNbkUnL", "x"] {
            let m = encode(url.as_bytes()).expect("encodes");
            assert_eq!(penalty_fast(&m), Some(penalty(&m)));
        }
        let wide = QrMatrix {
            width: 57,
            dark: vec![false; 57 * 57],
        };
        assert_eq!(penalty_fast(&wide), None);
    }

    #[test]
    fn data_too_long_for_any_symbol_is_an_error() {
        assert!(encode(&vec![b'a'; 4000]).is_err());
    }
}
