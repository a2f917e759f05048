//! UPU S10 item identifiers, the 13-character codes printed on every parcel (e.g. `RR123456785VN`).
//!
//! Layout: 2-letter service indicator, 8-digit serial, 1 check digit, 2-letter ISO country code.
//! The check digit catches most mistyped digits at the counter and in scans, so every code that enters
//! the system goes through [`ItemCode::parse`], and every code the system issues through
//! [`ItemCode::from_serial`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The weights UPU S10 applies to the eight serial digits, most significant first.
const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];

/// The largest serial that fits in eight digits.
pub const MAX_SERIAL: u32 = 99_999_999;

/// Why a text is not a valid S10 item code; each message tells a postal clerk what to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S10Error {
    /// Not 13 characters once spaces around it are removed.
    #[error(
        "an item code has 13 characters (2 letters, 9 digits, 2 letters, e.g. RR123456785VN), but this one has {len}"
    )]
    WrongLength {
        /// How many characters were given.
        len: usize,
    },
    /// The first two characters are not letters A–Z.
    #[error("the service indicator (first 2 characters) must be 2 letters A–Z, found `{found}`")]
    BadServiceIndicator {
        /// The first two characters as given.
        found: String,
    },
    /// Characters 3–11 are not all digits.
    #[error("characters 3 to 11 of an item code must be 9 digits, found `{found}`")]
    SerialNotDigits {
        /// Characters 3–11 as given.
        found: String,
    },
    /// The check digit (character 11) does not match the serial.
    #[error(
        "the check digit (11th character) is {found}, but the serial {serial:08} needs {expected}: a digit was probably mistyped"
    )]
    WrongCheckDigit {
        /// The 8-digit serial as given.
        serial: u32,
        /// The check digit the serial calls for.
        expected: u8,
        /// The check digit given.
        found: u8,
    },
    /// The last two characters are not letters A–Z.
    #[error("the country code (last 2 characters) must be 2 letters A–Z, found `{found}`")]
    BadCountryCode {
        /// The last two characters as given.
        found: String,
    },
    /// A serial above 99,999,999 cannot be written in eight digits.
    #[error("serial {serial} is too large: an item code serial has at most 8 digits")]
    SerialTooLarge {
        /// The serial asked for.
        serial: u32,
    },
}

/// A valid S10 item code, always in canonical form: 13 characters, uppercase.
///
/// Holding one is proof that the code was checked, so handlers and storage never re-validate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemCode(String);

/// Whether `s` is exactly two ASCII letters.
fn two_letters(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

impl ItemCode {
    /// Reads an item code typed or scanned by a person: surrounding whitespace is ignored and letters
    /// may be lowercase; the result is canonical uppercase.
    pub fn parse(s: &str) -> Result<ItemCode, S10Error> {
        let chars: Vec<char> = s.trim().chars().collect();
        if chars.len() != 13 {
            return Err(S10Error::WrongLength { len: chars.len() });
        }
        let part = |r: std::ops::Range<usize>| chars[r].iter().collect::<String>();
        let indicator = part(0..2);
        if !two_letters(&indicator) {
            return Err(S10Error::BadServiceIndicator { found: indicator });
        }
        let digits = part(2..11);
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(S10Error::SerialNotDigits { found: digits });
        }
        let country = part(11..13);
        if !two_letters(&country) {
            return Err(S10Error::BadCountryCode { found: country });
        }
        let serial: u32 = digits[..8]
            .bytes()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'));
        let found = digits.as_bytes()[8] - b'0';
        let expected = check_digit(serial);
        if found != expected {
            return Err(S10Error::WrongCheckDigit {
                serial,
                expected,
                found,
            });
        }
        Ok(ItemCode(format!(
            "{}{}{}",
            indicator.to_ascii_uppercase(),
            digits,
            country.to_ascii_uppercase()
        )))
    }

    /// Issues the code for a serial taken from an allocated range, computing its check digit.
    pub fn from_serial(indicator: &str, serial: u32, country: &str) -> Result<ItemCode, S10Error> {
        if !two_letters(indicator) {
            return Err(S10Error::BadServiceIndicator {
                found: indicator.to_owned(),
            });
        }
        if serial > MAX_SERIAL {
            return Err(S10Error::SerialTooLarge { serial });
        }
        if !two_letters(country) {
            return Err(S10Error::BadCountryCode {
                found: country.to_owned(),
            });
        }
        Ok(ItemCode(format!(
            "{}{:08}{}{}",
            indicator.to_ascii_uppercase(),
            serial,
            check_digit(serial),
            country.to_ascii_uppercase()
        )))
    }

    /// The canonical 13-character text, for storage and display.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The service indicator (e.g. `EB`, `RR`): tells EMS, parcels and registered letters apart.
    pub fn indicator(&self) -> &str {
        &self.0[0..2]
    }

    /// The 8-digit serial without its check digit, for matching against allocated ranges.
    pub fn serial(&self) -> u32 {
        self.0[2..10]
            .bytes()
            .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
    }

    /// The check digit, as printed.
    pub fn check(&self) -> u8 {
        self.0.as_bytes()[10] - b'0'
    }

    /// The ISO 3166 country code of the issuing post (e.g. `VN`).
    pub fn country(&self) -> &str {
        &self.0[11..13]
    }

    /// Consumes the code, giving back its canonical text.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The S10 check digit of an 8-digit serial: weights 8,6,4,2,3,5,9,7; C = 11 − (sum mod 11);
/// 10 becomes 0 and 11 becomes 5. Only the last eight decimal digits of `serial` count.
pub fn check_digit(serial: u32) -> u8 {
    let mut rest = serial % 100_000_000;
    let mut sum = 0;
    for w in WEIGHTS.iter().rev() {
        sum += (rest % 10) * w;
        rest /= 10;
    }
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        // 1..=9: fits in a u8.
        c => c as u8,
    }
}

/// Whether `s` has the shape of an item code (2 letters, 9 digits, 2 letters, any case, surrounding
/// whitespace ignored), without checking the check digit; used to tell item codes from dossier codes
/// in a tracking search, so a mistyped item code still gets a precise [`S10Error`].
pub fn looks_like_item_code(s: &str) -> bool {
    let b = s.trim().as_bytes();
    b.len() == 13
        && b[0..2].iter().all(u8::is_ascii_alphabetic)
        && b[2..11].iter().all(u8::is_ascii_digit)
        && b[11..13].iter().all(u8::is_ascii_alphabetic)
}

impl fmt::Display for ItemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ItemCode {
    type Err = S10Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ItemCode::parse(s)
    }
}

impl AsRef<str> for ItemCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for ItemCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ItemCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ItemCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const VALID: [&str; 2] = ["EB000717595HK", "RR123456785VN"];

    #[test]
    fn known_codes_are_valid() {
        for s in VALID {
            let c = ItemCode::parse(s).unwrap();
            assert_eq!(c.as_str(), s);
        }
        let c = ItemCode::parse("RR123456785VN").unwrap();
        assert_eq!(c.indicator(), "RR");
        assert_eq!(c.serial(), 12_345_678);
        assert_eq!(c.check(), 5);
        assert_eq!(c.country(), "VN");
        let e = ItemCode::parse("EB000717595HK").unwrap();
        assert_eq!(e.serial(), 71_759);
    }

    /// Every code obtained from `code` by changing one digit of characters 3–11.
    fn single_digit_changes(code: &str) -> Vec<String> {
        let mut out = Vec::new();
        for pos in 2..11 {
            for d in b'0'..=b'9' {
                let mut bytes = code.as_bytes().to_vec();
                if bytes[pos] != d {
                    bytes[pos] = d;
                    out.push(String::from_utf8(bytes).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn every_single_digit_change_is_caught_unless_s10_itself_cannot_tell() {
        // S10 prints both C = 5 and C = 11 as 5, so with check digit 5 one change per serial
        // position slips through: the changed serial has the other raw C. Everything else is caught.
        for s in VALID {
            let mut slipped = Vec::new();
            for changed in single_digit_changes(s) {
                match ItemCode::parse(&changed) {
                    Ok(_) => slipped.push(changed),
                    Err(S10Error::WrongCheckDigit { .. }) => {}
                    Err(e) => panic!("{changed}: unexpected {e:?}"),
                }
            }
            assert_eq!(raw_c(ItemCode::parse(s).unwrap().serial()), 5, "{s}");
            assert!(!slipped.is_empty(), "{s}");
            // Exactly the changes whose serial has raw C = 11 slip through.
            let expected: Vec<String> = single_digit_changes(s)
                .into_iter()
                .filter(|c| raw_c(c[2..10].parse().unwrap()) == 11)
                .collect();
            assert_eq!(slipped, expected, "{s}");
        }
        assert!(ItemCode::parse("RR113456785VN").is_ok());

        // With a check digit other than 0 or 5 the mapping is one-to-one: every change is caught.
        let serial = (12_345_679..)
            .find(|&n| !matches!(check_digit(n), 0 | 5))
            .unwrap();
        let code = ItemCode::from_serial("RR", serial, "VN").unwrap();
        for changed in single_digit_changes(code.as_str()) {
            assert!(
                matches!(
                    ItemCode::parse(&changed),
                    Err(S10Error::WrongCheckDigit { .. })
                ),
                "{changed}"
            );
        }
    }

    #[test]
    fn wrong_check_digit_says_which_was_expected() {
        let err = ItemCode::parse("RR123456784VN").unwrap_err();
        assert_eq!(
            err,
            S10Error::WrongCheckDigit {
                serial: 12_345_678,
                expected: 5,
                found: 4
            }
        );
        assert!(err.to_string().contains("needs 5"), "{err}");
    }

    #[test]
    fn lowercase_and_whitespace_are_canonicalised() {
        let c = ItemCode::parse("  rr123456785vn\n").unwrap();
        assert_eq!(c.as_str(), "RR123456785VN");
        let c: ItemCode = "\teb000717595Hk ".parse().unwrap();
        assert_eq!(c.to_string(), "EB000717595HK");
    }

    #[test]
    fn shape_errors() {
        assert_eq!(
            ItemCode::parse("RR12345678VN"),
            Err(S10Error::WrongLength { len: 12 })
        );
        assert_eq!(ItemCode::parse(""), Err(S10Error::WrongLength { len: 0 }));
        assert!(matches!(
            ItemCode::parse("R1123456785VN"),
            Err(S10Error::BadServiceIndicator { .. })
        ));
        assert!(matches!(
            ItemCode::parse("RR12345A785VN"),
            Err(S10Error::SerialNotDigits { .. })
        ));
        assert!(matches!(
            ItemCode::parse("RR123456785V1"),
            Err(S10Error::BadCountryCode { .. })
        ));
        // Non-ASCII letters are counted as characters and refused, not sliced through.
        assert!(matches!(
            ItemCode::parse("ĐR123456785VN"),
            Err(S10Error::BadServiceIndicator { .. })
        ));
        assert!(matches!(
            ItemCode::parse("RR12345678５VN"),
            Err(S10Error::SerialNotDigits { .. })
        ));
        assert!(matches!(
            ItemCode::parse("RR123456785VŃ"),
            Err(S10Error::BadCountryCode { .. })
        ));
    }

    #[test]
    fn from_serial_round_trips() {
        for serial in [0, 1, 71_759, 12_345_678, 50_000_000, MAX_SERIAL] {
            let c = ItemCode::from_serial("eb", serial, "vn").unwrap();
            assert_eq!(c.indicator(), "EB");
            assert_eq!(c.country(), "VN");
            assert_eq!(c.serial(), serial);
            assert_eq!(ItemCode::parse(c.as_str()).unwrap(), c);
        }
        assert_eq!(
            ItemCode::from_serial("RR", 12_345_678, "VN")
                .unwrap()
                .as_str(),
            "RR123456785VN"
        );
        assert_eq!(
            ItemCode::from_serial("EB", 71_759, "HK").unwrap().as_str(),
            "EB000717595HK"
        );
        assert_eq!(
            ItemCode::from_serial("EB", 100_000_000, "VN"),
            Err(S10Error::SerialTooLarge {
                serial: 100_000_000
            })
        );
        assert!(matches!(
            ItemCode::from_serial("E", 1, "VN"),
            Err(S10Error::BadServiceIndicator { .. })
        ));
        assert!(matches!(
            ItemCode::from_serial("EB", 1, "V9"),
            Err(S10Error::BadCountryCode { .. })
        ));
    }

    /// The raw C = 11 − (sum mod 11), written independently of `check_digit`.
    fn raw_c(serial: u32) -> u32 {
        let digits = format!("{serial:08}");
        let sum: u32 = digits
            .bytes()
            .zip([8, 6, 4, 2, 3, 5, 9, 7])
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        11 - sum % 11
    }

    #[test]
    fn check_digit_edge_cases() {
        let ten = (0..MAX_SERIAL).find(|&s| raw_c(s) == 10).unwrap();
        assert_eq!(check_digit(ten), 0);
        let eleven = (0..MAX_SERIAL).find(|&s| raw_c(s) == 11).unwrap();
        assert_eq!(check_digit(eleven), 5);
        // Serial 0: sum 0, C = 11 → 5.
        assert_eq!(eleven, 0);
        assert_eq!(check_digit(0), 5);
        // And the ordinary cases agree for a spread of serials.
        for s in (0..MAX_SERIAL).step_by(9_999_991) {
            let c = raw_c(s);
            let want = match c {
                10 => 0,
                11 => 5,
                c => c as u8,
            };
            assert_eq!(check_digit(s), want, "{s}");
        }
        // Codes ending in a C = 10 serial carry 0 and parse.
        let c = ItemCode::from_serial("CP", ten, "VN").unwrap();
        assert_eq!(c.check(), 0);
        assert!(ItemCode::parse(c.as_str()).is_ok());
    }

    #[test]
    fn looks_like_is_shape_only() {
        assert!(looks_like_item_code("RR123456785VN"));
        assert!(looks_like_item_code(" rr123456780vn "));
        assert!(!looks_like_item_code("RR12345678VN"));
        assert!(!looks_like_item_code("HS-7K3M-9QX2"));
        assert!(!looks_like_item_code("RR12345678XVN"));
        assert!(!looks_like_item_code("ĐR123456785V"));
    }

    #[test]
    fn serde_is_a_validated_string() {
        let c = ItemCode::parse("RR123456785VN").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"RR123456785VN\"");
        let back: ItemCode = serde_json::from_str("\"rr123456785vn\"").unwrap();
        assert_eq!(back, c);
        let bad = serde_json::from_str::<ItemCode>("\"RR123456784VN\"").unwrap_err();
        assert!(bad.to_string().contains("check digit"), "{bad}");
    }
}
