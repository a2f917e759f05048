//! Checks on a citizen's contact data (phone, email, identity number) before a dossier is accepted.
//!
//! The post must be able to call the citizen about a pickup or a delivery, and the recipient must show
//! an identity document on delivery, so bad data is refused at the door. Error messages are plain
//! English, fit for an API error's `details[].message`.

/// A Vietnamese phone number in canonical local form (`0` + 9–10 digits), from what a person typed.
///
/// Accepts spaces, dots and dashes between digits, and the international forms `+84…` or `84…`
/// (rewritten to `0…`), so that the same number is always stored and compared the same way.
pub fn normalize_phone(s: &str) -> Result<String, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Err("phone number is empty");
    }
    let (plus, body) = match s.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let is_sep = |c: char| matches!(c, ' ' | '.' | '-');
    let mut digits = String::with_capacity(body.len());
    let mut prev_digit = false;
    for c in body.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            prev_digit = true;
        } else if is_sep(c) {
            if digits.is_empty() {
                return Err("phone number must not start with a space, dot or dash");
            }
            prev_digit = false;
        } else {
            return Err(
                "phone number may contain only digits, with spaces, dots or dashes between them, and a leading +84",
            );
        }
    }
    if !prev_digit {
        return Err("phone number must end with a digit");
    }
    let national = if plus {
        match digits.strip_prefix("84") {
            Some(rest) => rest,
            None => return Err("only Vietnamese phone numbers (+84) are accepted"),
        }
    } else if let Some(rest) = digits.strip_prefix('0') {
        if rest.starts_with('0') {
            return Err("phone number must start with 0 or +84, not an international prefix");
        }
        rest
    } else if let Some(rest) = digits.strip_prefix("84") {
        rest
    } else {
        return Err("phone number must start with 0 or +84");
    };
    if national.starts_with('0') {
        return Err("after +84, leave out the leading 0 of the phone number");
    }
    if !(9..=10).contains(&national.len()) {
        return Err(
            "phone number must have 0 followed by 9 or 10 digits (or +84 followed by 9 or 10 digits)",
        );
    }
    Ok(format!("0{national}"))
}

/// Characters allowed in an email's local part besides ASCII letters and digits (RFC 5322 atext).
const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";

/// A pragmatic check that an email address can receive notices: one `@`, a plain ASCII local part,
/// a domain with a dot, no spaces, at most 254 characters.
///
/// It does not try to accept every address RFC 5322 allows (quoted local parts, IP literals); those
/// are vanishingly rare among citizens and are better refused than mis-sent.
pub fn validate_email(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("email is empty");
    }
    if s.chars().count() > 254 {
        return Err("email must be at most 254 characters");
    }
    if s.chars().any(char::is_whitespace) {
        return Err("email must not contain spaces");
    }
    let Some((local, domain)) = s.split_once('@') else {
        return Err("email must contain an @");
    };
    if domain.contains('@') {
        return Err("email must contain only one @");
    }
    if local.is_empty() {
        return Err("email needs a name before the @");
    }
    if local.len() > 64 {
        return Err("the part of an email before the @ must be at most 64 characters");
    }
    if !local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
    {
        return Err(
            "the part of an email before the @ may contain only Latin letters without accents, digits and . _ - +",
        );
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(
            "the part of an email before the @ must not start or end with a dot or have two dots in a row",
        );
    }
    if domain.is_empty() {
        return Err("email needs a domain after the @");
    }
    if !domain.contains('.') {
        return Err("the domain of an email must contain a dot, e.g. example.vn");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(
                "the domain of an email must not start or end with a dot or have two dots in a row",
            );
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err("the domain of an email may contain only letters, digits, dashes and dots");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a part of an email's domain must not start or end with a dash");
        }
    }
    let tld = labels.last().copied().unwrap_or_default();
    if tld.chars().count() < 2 || tld.chars().all(|c| c.is_ascii_digit()) {
        return Err("the domain of an email must end with a top-level domain such as .vn or .com");
    }
    Ok(())
}

/// Checks an identity document number: a 12-digit citizen identity card (CCCD) or a 9-digit
/// legacy identity card (CMND), digits only, because the recipient shows it on delivery.
pub fn validate_id_number(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("identity number is empty");
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("identity number must contain only digits");
    }
    match s.len() {
        9 | 12 => Ok(()),
        _ => Err("identity number must have 12 digits (CCCD) or 9 digits (CMND)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_canonicalised() {
        let ok = [
            ("0912345678", "0912345678"),
            ("0912 345 678", "0912345678"),
            ("0912.345.678", "0912345678"),
            ("0912-345-678", "0912345678"),
            (" 0912 - 345 - 678 ", "0912345678"),
            ("+84912345678", "0912345678"),
            ("+84 912 345 678", "0912345678"),
            ("84912345678", "0912345678"),
            ("+84-912-345-678", "0912345678"),
            // Landline with an 11-digit national form (area code 24 + 8 digits).
            ("024 3825 1234", "02438251234"),
            ("+84 24 3825 1234", "02438251234"),
            // Mobile numbers of 10 digits in all.
            ("0398765432", "0398765432"),
        ];
        for (input, want) in ok {
            assert_eq!(normalize_phone(input), Ok(want.to_owned()), "{input}");
        }
    }

    #[test]
    fn bad_phones_are_refused() {
        let bad = [
            "",
            "   ",
            "091234567",    // 0 + 8 digits
            "091234567890", // 0 + 11 digits
            "+8491234567",  // +84 + 8 digits
            "+849123456789012",
            "+1 202 555 0101", // not Vietnamese
            "912345678",       // no leading 0
            "0912a45678",
            "0912/345/678",
            "(091) 2345678",
            "-0912345678",
            "0912345678-",
            "0912345678.",
            "+840912345678", // trunk 0 after +84
            "00912345678",   // international prefix
            "+ 84912345678",
            "０９１２３４５６７８", // full-width digits
        ];
        for input in bad {
            assert!(
                normalize_phone(input).is_err(),
                "{input:?} should be refused"
            );
        }
        assert_eq!(
            normalize_phone("+1 202 555 0101"),
            Err("only Vietnamese phone numbers (+84) are accepted")
        );
    }

    #[test]
    fn emails() {
        for ok in [
            "an@example.vn",
            "nguyen.van.an+hoso@mail.gov.vn",
            "a_b-c@sub-domain.example.com",
            "x@xn--bcher-kva.ch",
            "user@bưuđiện.vn",
        ] {
            assert_eq!(validate_email(ok), Ok(()), "{ok}");
        }
        let long_local = format!("{}@example.vn", "a".repeat(65));
        let too_long = format!("a@{}.vn", "b".repeat(260));
        for bad in [
            "",
            "an",
            "an@",
            "@example.vn",
            "an@example",
            "an@@example.vn",
            "an@ex@ample.vn",
            "an @example.vn",
            "an@example .vn",
            " an@example.vn",
            "nguyễn@example.vn",
            ".an@example.vn",
            "an.@example.vn",
            "a..n@example.vn",
            "an@.example.vn",
            "an@example.vn.",
            "an@example..vn",
            "an@-example.vn",
            "an@example-.vn",
            "an@exa_mple.vn",
            "an@example.v",
            "an@127.0.0.1",
            long_local.as_str(),
            too_long.as_str(),
        ] {
            assert!(validate_email(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            validate_email("an.example.vn"),
            Err("email must contain an @")
        );
    }

    #[test]
    fn id_numbers() {
        assert_eq!(validate_id_number("001090012345"), Ok(()));
        assert_eq!(validate_id_number("012345678"), Ok(()));
        for bad in [
            "",
            "00109001234",
            "0010900123456",
            "01234567",
            "0123456789",
            "00109001234a",
            " 001090012345",
            "001 090 012 345",
            "０１２３４５６７８",
        ] {
            assert!(
                validate_id_number(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert_eq!(
            validate_id_number("1234"),
            Err("identity number must have 12 digits (CCCD) or 9 digits (CMND)")
        );
    }
}
