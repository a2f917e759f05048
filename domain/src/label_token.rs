//! The token in a parcel label's QR code: `{public_base_url}/l/{token}` names one leg (parcel) and
//! nothing else, so a label photographed or found in the street gives away no personal data, and a
//! token cannot be forged or walked (`/l/…1`, `/l/…2`) to reach other parcels.
//!
//! Layout: base64url (no padding) of `leg id (8 bytes, big-endian) ‖ HMAC-SHA256 tag (first 10 bytes)`.
//! The tag is computed over a fixed context string and the id bytes, so a key shared with another use
//! could not be tricked into signing label tokens. 18 bytes make exactly 24 characters: every character
//! carries six bits of data and none carries filler bits, so changing any character changes the bytes
//! and the tag check fails. An 80-bit tag leaves an online forger about one chance in 10^24 per try.
//!
//! A URL of about 50 characters fits a QR code of version 4 at error-correction level M (33×33
//! modules), which prints and scans comfortably at 25 mm.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Separates label tokens from any other use of the same key; part of the MAC input.
const CONTEXT: &[u8] = b"dossier/label-token/v1\0";
/// Bytes of the leg id in the token.
const ID_LEN: usize = 8;
/// Bytes of the truncated HMAC-SHA256 tag.
const TAG_LEN: usize = 10;
/// Characters of every token: 18 bytes in base64 without padding.
pub const TOKEN_LEN: usize = (ID_LEN + TAG_LEN) * 4 / 3;

fn mac(key: &[u8], id_bytes: &[u8; ID_LEN]) -> Hmac<Sha256> {
    // HMAC takes a key of any length (longer keys are hashed first), so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(CONTEXT);
    mac.update(id_bytes);
    mac
}

/// The token printed (inside a URL) in the QR code of the parcel `leg_id`; see the module docs.
pub fn sign(key: &[u8], leg_id: i64) -> String {
    let id_bytes = leg_id.to_be_bytes();
    let tag = mac(key, &id_bytes).finalize().into_bytes();
    let mut raw = [0u8; ID_LEN + TAG_LEN];
    raw[..ID_LEN].copy_from_slice(&id_bytes);
    raw[ID_LEN..].copy_from_slice(&tag[..TAG_LEN]);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The leg id a token names, or `None` for anything that is not a token this key signed (altered,
/// truncated, padded, another key's, or not base64 at all). The tag is compared in constant time.
pub fn verify(key: &[u8], token: &str) -> Option<i64> {
    if token.len() != TOKEN_LEN {
        return None;
    }
    let mut raw = [0u8; ID_LEN + TAG_LEN];
    // The strict engine refuses padding, the standard alphabet and non-zero filler bits.
    let written = URL_SAFE_NO_PAD.decode_slice(token, &mut raw).ok()?;
    if written != raw.len() {
        return None;
    }
    let (id_part, tag) = raw.split_at(ID_LEN);
    let id_bytes: [u8; ID_LEN] = id_part.try_into().ok()?;
    mac(key, &id_bytes).verify_truncated_left(tag).ok()?;
    Some(i64::from_be_bytes(id_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    #[test]
    fn a_signed_token_verifies_to_its_leg_id() {
        for id in [0, 1, 42, 1_000_000, 20_000_000_000, i64::MAX, -1, i64::MIN] {
            let token = sign(KEY, id);
            assert_eq!(token.len(), TOKEN_LEN);
            assert!(token.bytes().all(|b| ALPHABET.as_bytes().contains(&b)));
            assert_eq!(verify(KEY, &token), Some(id), "{id}");
        }
    }

    #[test]
    fn tokens_of_neighbouring_legs_share_no_tag() {
        let a = sign(KEY, 1000);
        let b = sign(KEY, 1001);
        assert_ne!(a[11..], b[11..]);
    }

    #[test]
    fn every_altered_character_is_refused() {
        for id in [1, 7_654_321, i64::MAX] {
            let token = sign(KEY, id);
            for (position, original) in token.char_indices() {
                for replacement in ALPHABET.chars().filter(|c| *c != original) {
                    let mut altered = token.clone();
                    altered.replace_range(position..=position, &replacement.to_string());
                    assert_eq!(
                        verify(KEY, &altered),
                        None,
                        "{token} → {altered} (position {position})"
                    );
                }
            }
        }
    }

    #[test]
    fn another_key_truncation_padding_and_junk_are_refused() {
        let token = sign(KEY, 123);
        assert_eq!(verify(b"another key of the same length!!", &token), None);
        assert_eq!(verify(KEY, &token[..TOKEN_LEN - 1]), None);
        assert_eq!(verify(KEY, &format!("{token}A")), None);
        assert_eq!(verify(KEY, &format!("{token}==")), None);
        // The standard alphabet's `+` and `/` are not base64url.
        for standard in ["+", "/"] {
            let mut altered = token.clone();
            altered.replace_range(0..1, standard);
            assert_eq!(verify(KEY, &altered), None, "{altered}");
        }
        for junk in [
            "",
            "=",
            "\0",
            "ééééééééééééé",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢𝔘𝔫𝔦𝔠𝔬𝔡",
            "AAAAAAAAAAAAAAAAAAAAAAAA",
            "////////////////////////",
            "........................",
            "AAAAAAAAAAAAAAAAAAAAAA==",
        ] {
            assert_eq!(verify(KEY, junk), None, "{junk:?}");
        }
    }

    #[test]
    fn any_key_length_signs_and_verifies() {
        for key in [&b""[..], b"k", &[0xAB; 200]] {
            let token = sign(key, 9);
            assert_eq!(verify(key, &token), Some(9));
        }
    }

    #[test]
    fn the_label_url_fits_a_version_6_qr_code_at_level_m() {
        use qrcode::{EcLevel, QrCode, Version};
        for base in [
            "https://dossier.vnpost.vn",
            "https://dichvucong.vnpost.vn",
            "https://hoso-buudien.vnpost.vn",
        ] {
            let url = format!("{base}/l/{}", sign(KEY, i64::MAX));
            let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
                .expect("the URL fits a QR code");
            match code.version() {
                Version::Normal(v) => assert!(v <= 6, "{url} needs version {v}"),
                Version::Micro(_) => {}
            }
        }
        let url = format!("https://dossier.vnpost.vn/l/{}", sign(KEY, 1));
        let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
            .expect("the URL fits a QR code");
        assert_eq!(code.version(), Version::Normal(4), "{url}");
    }
}
