//! Settings of the carrier adapter. The service's typed `Settings` (`carrier.*`, CARRIER.md) map onto
//! [`CarrierConfig`]; the defaults suit the real carrier, tests shorten the timeouts and delays.

use std::time::Duration;

use secrecy::SecretString;

/// How the adapter reaches and treats the carrier.
#[derive(Debug, Clone)]
pub struct CarrierConfig {
    /// The API root, e.g. `https://carrier.example/ngsp` (paths are appended to it).
    pub base_url: String,
    /// OAuth2 client id for `POST /token`.
    pub consumer_key: String,
    /// OAuth2 client secret; never logged (`Debug` shows it redacted).
    pub consumer_secret: SecretString,
    /// Our customer code at the carrier, sent with every order and per-order read.
    pub customer_code: String,
    /// Limit of one HTTP exchange, body included; a slower answer counts as a failed attempt.
    pub timeout: Duration,
    /// Limit of opening a connection.
    pub connect_timeout: Duration,
    /// Requests in flight at once, across all callers of one adapter: the carrier's rate limit is
    /// shared, and bursts are what earn 429s.
    pub max_concurrency: usize,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// A token is renewed this long before the carrier says it expires.
    pub token_refresh_margin: Duration,
}

impl CarrierConfig {
    /// Settings with the defaults for everything but where and who.
    pub fn new(
        base_url: impl Into<String>,
        consumer_key: impl Into<String>,
        consumer_secret: SecretString,
        customer_code: impl Into<String>,
    ) -> CarrierConfig {
        CarrierConfig {
            base_url: base_url.into(),
            consumer_key: consumer_key.into(),
            consumer_secret,
            customer_code: customer_code.into(),
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_concurrency: 8,
            retry: RetryPolicy::default(),
            token_refresh_margin: Duration::from_secs(60),
        }
    }
}

/// Bounded retries with exponential backoff and jitter (5xx, network errors, timeouts) and
/// `Retry-After` (429).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included; then the call fails with a typed error.
    pub max_attempts: u32,
    /// The first backoff; each retry doubles it.
    pub base_delay: Duration,
    /// The largest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` a call waits out before retrying; a longer one ends the call (and
    /// holds every caller off until it passes, see [`super::HttpCarrier`]).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `attempt + 1` after `attempt` failed: `base · 2^(attempt−1)` capped
    /// at `max_delay`, then a uniform draw from its upper half, so many workers that failed together
    /// do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        if ceiling_ms == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::random_range(ceiling_ms / 2..=ceiling_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..100 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            assert!(policy.backoff(30) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let config = CarrierConfig::new("http://x", "key", "s3cret-value".into(), "C");
        assert!(!format!("{config:?}").contains("s3cret-value"));
    }
}
