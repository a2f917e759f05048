//! What can go wrong talking to the carrier, typed so callers decide without parsing text: retry the
//! transient kinds later, alert on the permanent ones (credentials, refusals, a broken contract).
//! Retries within a call already happened by the time one of these comes back.
//!
//! The carrier's own words in an error (a refusal's `message`, a rejection's text) end up in logs and
//! on outbox rows (`last_error`), and a carrier may echo what it was sent — a phone, an id number, an
//! e-mail address: they are kept only through [`carrier_text`], which cuts them short and masks digit
//! runs and e-mail-like tokens.

use std::time::Duration;

/// The most of the carrier's own text kept in an error, in characters.
pub const MAX_CARRIER_TEXT_CHARS: usize = 200;

/// What stands for a masked run of digits or an e-mail-like token.
const MASK: &str = "***";

/// The carrier's text as an error may carry it: whitespace collapsed, e-mail-like tokens (anything
/// with an `@`) and runs of three or more digits (phones, id numbers, house numbers) masked, and at
/// most [`MAX_CARRIER_TEXT_CHARS`] characters. Two digits (a status, a province code) stay.
pub fn carrier_text(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.contains('@') {
            out.push_str(MASK);
            continue;
        }
        let mut digits = String::new();
        for c in word.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if !digits.is_empty() {
                out.push_str(if digits.len() >= 3 { MASK } else { &digits });
                digits.clear();
            }
            if c != ' ' {
                out.push(c);
            }
        }
    }
    if out.chars().count() > MAX_CARRIER_TEXT_CHARS {
        out = out.chars().take(MAX_CARRIER_TEXT_CHARS - 1).collect();
        out.push('…');
    }
    out
}

/// A carrier call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CarrierError {
    /// `POST /token` refused the consumer key or secret: configuration must change.
    #[error("the carrier refused the consumer credentials (HTTP {status})")]
    Credentials {
        /// The token endpoint's status.
        status: u16,
    },
    /// A call was refused as unauthorized again right after a fresh token.
    #[error("the carrier refused a fresh access token")]
    Unauthorized,
    /// Still rate limited (429) after every attempt.
    #[error("the carrier kept rate limiting after {attempts} attempts")]
    RateLimited {
        /// Attempts made.
        attempts: u32,
        /// The carrier's last `Retry-After`, to wait before the next call.
        retry_after: Option<Duration>,
    },
    /// The carrier kept failing (5xx) after every attempt.
    #[error("the carrier answered HTTP {status} after {attempts} attempts")]
    Server {
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// No answer within the timeout, every attempt.
    #[error("the carrier did not answer in time after {attempts} attempts")]
    Timeout {
        /// Attempts made.
        attempts: u32,
        /// The last timeout.
        #[source]
        source: reqwest::Error,
    },
    /// The connection failed (refused, reset, closed early) on every attempt.
    #[error("cannot reach the carrier after {attempts} attempts")]
    Network {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: reqwest::Error,
    },
    /// A 4xx other than 401, 408, 425 and 429: the request itself is wrong, retrying will not help.
    #[error("the carrier rejected the request with HTTP {status}: {detail}")]
    Rejected {
        /// The status.
        status: u16,
        /// The carrier's error text, when it gave one, through [`carrier_text`].
        detail: String,
    },
    /// The carrier answered an order with a status other than `"00"`.
    #[error("the carrier refused order {order_number}: status {status}, {message}")]
    Refused {
        /// The order number.
        order_number: String,
        /// The carrier's status.
        status: String,
        /// The carrier's message, through [`carrier_text`].
        message: String,
    },
    /// The answer did not follow CARRIER.md.
    #[error("unexpected answer from the carrier: {0}")]
    Decode(String),
    /// The adapter cannot be built from its settings.
    #[error("invalid carrier settings: {0}")]
    Config(String),
}

impl CarrierError {
    /// Whether trying again later may succeed (the carrier was busy, down or unreachable).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CarrierError::RateLimited { .. }
                | CarrierError::Server { .. }
                | CarrierError::Timeout { .. }
                | CarrierError::Network { .. }
                | CarrierError::Unauthorized
        )
    }

    /// A short stable name, for metrics of carrier errors by kind and for log fields.
    pub fn kind(&self) -> &'static str {
        match self {
            CarrierError::Credentials { .. } => "credentials",
            CarrierError::Unauthorized => "unauthorized",
            CarrierError::RateLimited { .. } => "rate_limited",
            CarrierError::Server { .. } => "server",
            CarrierError::Timeout { .. } => "timeout",
            CarrierError::Network { .. } => "network",
            CarrierError::Rejected { .. } => "rejected",
            CarrierError::Refused { .. } => "refused",
            CarrierError::Decode(_) => "decode",
            CarrierError::Config(_) => "config",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_carriers_words_lose_phones_id_numbers_and_emails_and_stay_short() {
        let text = carrier_text(
            "Số điện thoại 0912 345 678 / 0912345678 của an.nguyen@example.vn (CCCD 001090012345) \
             không hợp lệ; mã tỉnh 01, trạng thái 03",
        );
        assert!(!text.contains("345") && !text.contains('@'), "{text}");
        assert!(!text.contains("001090012345"), "{text}");
        assert!(text.contains("mã tỉnh 01, trạng thái 03"), "{text}");
        let long = carrier_text(&"lỗi ".repeat(200));
        assert_eq!(long.chars().count(), MAX_CARRIER_TEXT_CHARS);
        assert!(long.ends_with('…'));
    }
}
