//! What can go wrong talking to the carrier, typed so callers decide without parsing text: retry the
//! transient kinds later, alert on the permanent ones (credentials, refusals, a broken contract).
//! Retries within a call already happened by the time one of these comes back.

use std::time::Duration;

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
    /// A 4xx other than 401 and 429: the request itself is wrong, retrying will not help.
    #[error("the carrier rejected the request with HTTP {status}: {detail}")]
    Rejected {
        /// The status.
        status: u16,
        /// The carrier's error text, when it gave one.
        detail: String,
    },
    /// The carrier answered an order with a status other than `"00"`.
    #[error("the carrier refused order {order_number}: status {status}, {message}")]
    Refused {
        /// The order number.
        order_number: String,
        /// The carrier's status.
        status: String,
        /// The carrier's message.
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
