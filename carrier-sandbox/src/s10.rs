//! UPU S10 item codes as the carrier sees them: the check digit of a label it is given, and the next
//! label of its own range when an order comes without one.
//!
//! Written here rather than borrowed from `domain`, so the sandbox stays an independent emulation: if
//! the two ever disagree on a check digit, the tests between them show it.

/// Weights of the eight serial digits, most significant first (UPU S10).
const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];

/// The check digit of an 8-digit serial: C = 11 − (Σ weight·digit mod 11); 10 → 0; 11 → 5.
pub fn check_digit(serial: u32) -> u8 {
    let mut rest = serial % 100_000_000;
    let mut sum = 0u32;
    for weight in WEIGHTS.iter().rev() {
        sum += (rest % 10) * weight;
        rest /= 10;
    }
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        // 1..=9 fits a digit.
        c => u8::try_from(c).unwrap_or(0),
    }
}

/// The canonical (uppercase, trimmed) form of `code` when it is a valid S10 label, else `None`.
pub fn canonical(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    let b = code.as_bytes();
    if b.len() != 13
        || !b[0..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..11].iter().all(u8::is_ascii_digit)
        || !b[11..13].iter().all(u8::is_ascii_uppercase)
    {
        return None;
    }
    let serial = b[2..10]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    (b[10] - b'0' == check_digit(serial)).then_some(code)
}

/// The label for `serial` under a 2-letter service indicator and 2-letter country.
pub fn format(indicator: &str, serial: u32, country: &str) -> String {
    format!(
        "{indicator}{:08}{}{country}",
        serial % 100_000_000,
        check_digit(serial)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_match_published_examples() {
        // RR123456785VN and EB000717595HK are the examples of DOMAIN.md.
        assert_eq!(check_digit(12_345_678), 5);
        assert_eq!(check_digit(71_759), 5);
        assert_eq!(format("RR", 12_345_678, "VN"), "RR123456785VN");
        assert_eq!(canonical(" eb000717595hk "), Some("EB000717595HK".into()));
        assert_eq!(canonical("EB000717594HK"), None);
        assert_eq!(canonical("EB00071759"), None);
    }

    #[test]
    fn every_allocated_label_validates() {
        for serial in (0..100_000_000).step_by(999_983) {
            let code = format("EB", serial, "VN");
            assert_eq!(canonical(&code), Some(code.clone()));
        }
    }
}
