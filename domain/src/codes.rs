//! Identifiers and secrets the service hands out: dossier codes that a citizen can read over the phone
//! and nobody can guess from another one, citizen access tokens and staff API keys (stored hashed).

use rand::Rng;
use sha2::{Digest, Sha256};

/// Letters and digits that cannot be mistaken for one another when read aloud or handwritten
/// (no 0/O, 1/I/L, U/V).
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTWXYZ";
const CODE_LEN: usize = 10;
const TOKEN_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Prefix of a citizen's access token.
pub const ACCESS_TOKEN_PREFIX: &str = "dt_";
/// Prefix of a staff or machine API key.
pub const API_KEY_PREFIX: &str = "dk_";

/// A fresh dossier code such as `7KQ2M-9XP3D` (about 48 bits of randomness).
pub fn new_dossier_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(CODE_LEN + 1);
    for i in 0..CODE_LEN {
        if i == CODE_LEN / 2 {
            code.push('-');
        }
        code.push(char::from(
            CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())],
        ));
    }
    code
}

/// The canonical form of a dossier code as a person might type it (any case, with or without the dash),
/// or `None` when it cannot be one.
pub fn normalize_dossier_code(input: &str) -> Option<String> {
    let compact: String = input
        .trim()
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if compact.len() != CODE_LEN || !compact.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
        return None;
    }
    let (head, tail) = compact.split_at(CODE_LEN / 2);
    Some(format!("{head}-{tail}"))
}

fn random_secret(prefix: &str, len: usize) -> String {
    let mut rng = rand::rng();
    let mut secret = String::with_capacity(prefix.len() + len);
    secret.push_str(prefix);
    for _ in 0..len {
        secret.push(char::from(
            TOKEN_ALPHABET[rng.random_range(0..TOKEN_ALPHABET.len())],
        ));
    }
    secret
}

/// A new citizen access token (`dt_` + 32 characters, about 190 bits).
pub fn new_access_token() -> String {
    random_secret(ACCESS_TOKEN_PREFIX, 32)
}

/// A new API key (`dk_` + 40 characters).
pub fn new_api_key() -> String {
    random_secret(API_KEY_PREFIX, 40)
}

/// The stored form of a secret: hex SHA-256. The secrets are long and random, so a plain hash is
/// enough and lets a request be authenticated with one indexed lookup.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dossier_codes_are_distinct_and_normalise_back() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let code = new_dossier_code();
            assert_eq!(code.len(), 11);
            assert_eq!(
                normalize_dossier_code(&code).as_deref(),
                Some(code.as_str())
            );
            assert_eq!(
                normalize_dossier_code(&code.to_lowercase().replace('-', "")).as_deref(),
                Some(code.as_str())
            );
            assert!(seen.insert(code));
        }
    }

    #[test]
    fn strings_that_cannot_be_codes_are_refused() {
        for bad in [
            "",
            "ABCDE",
            "ABCDE-FGHIO",
            "ABCDE-FGHJK1",
            "EB000717595HK",
            "ABCDE-FGH€K",
        ] {
            assert_eq!(normalize_dossier_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn secrets_carry_their_prefix_and_hash_stably() {
        let token = new_access_token();
        assert!(token.starts_with("dt_") && token.len() == 35);
        assert!(new_api_key().starts_with("dk_"));
        assert_eq!(hash_secret("x"), hash_secret("x"));
        assert_ne!(hash_secret(&token), hash_secret(&new_access_token()));
    }
}
