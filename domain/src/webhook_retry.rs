//! When a failed webhook delivery is tried again: one table spanning about three days (the Standard
//! Webhooks practice), a little jitter so that deliveries that failed together do not all come back
//! at the same instant, and the receiver's `Retry-After` when it asks for a longer wait. Only webhook
//! deliveries follow this schedule; e-mails and carrier orders keep the outbox's own backoff
//! ([`crate::ops::outbox::RetryPolicy`]).

use std::time::Duration;

use chrono::{DateTime, Utc};

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;

/// The wait after the 1st, 2nd, … 9th failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h,
/// 24 h — about 3 days and 8 hours from the first attempt to the tenth and last.
pub const RETRY_DELAYS: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * MINUTE),
    Duration::from_secs(30 * MINUTE),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(5 * HOUR),
    Duration::from_secs(10 * HOUR),
    Duration::from_secs(14 * HOUR),
    Duration::from_secs(20 * HOUR),
    Duration::from_secs(24 * HOUR),
];

/// The longest wait a receiver's `Retry-After` can ask for: the schedule's longest step (24 h). A
/// receiver asking for more (or for a date weeks away) gets its next attempt after 24 h, so one
/// answer cannot park a delivery — and the alert that comes when the retries run out — indefinitely.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(24 * HOUR);

/// The jitter added to each step, in percent of the step: up to +10 %. Never negative, so an attempt
/// never comes earlier than the table says.
pub const JITTER_PERCENT: u32 = 10;

/// The schedule a worker follows: [`RETRY_DELAYS`] unless a test or a closed installation gives a
/// shorter one (the number of attempts is always the number of steps plus one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRetrySchedule {
    /// The wait after each failed attempt but the last.
    pub delays: Vec<Duration>,
    /// The most a `Retry-After` may ask for.
    pub retry_after_cap: Duration,
    /// The jitter, in percent of each step (added, never subtracted).
    pub jitter_percent: u32,
}

impl Default for WebhookRetrySchedule {
    fn default() -> Self {
        Self {
            delays: RETRY_DELAYS.to_vec(),
            retry_after_cap: RETRY_AFTER_CAP,
            jitter_percent: JITTER_PERCENT,
        }
    }
}

impl WebhookRetrySchedule {
    /// Attempts in all before a delivery is given up: 10 with the standard table.
    pub fn max_attempts(&self) -> i32 {
        i32::try_from(self.delays.len()).unwrap_or(i32::MAX - 1) + 1
    }

    /// The wait after failed attempt number `attempt` (1 for the first), or `None` when that was the
    /// last. `jitter` in `0.0..1.0` picks how much of the jitter applies (a random number in the
    /// worker, fixed in tests). A `retry_after` the receiver sent wins when it is longer than the
    /// step, up to [`WebhookRetrySchedule::retry_after_cap`].
    pub fn wait_after(
        &self,
        attempt: i32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        let step = *self.delays.get(index)?;
        let jitter = jitter.clamp(0.0, 1.0) * f64::from(self.jitter_percent) / 100.0;
        let wait = step + step.mul_f64(jitter);
        Some(match retry_after {
            Some(asked) if asked > wait => asked.min(self.retry_after_cap.max(wait)),
            _ => wait,
        })
    }
}

/// Reads a `Retry-After` header: a number of seconds, or an HTTP date (how long from `now`; a date
/// in the past is no wait). `None` for anything else.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_schedule_is_ten_attempts_over_about_three_days() {
        let s = WebhookRetrySchedule::default();
        assert_eq!(s.max_attempts(), 10);
        let waits: Vec<u64> = (1..=9)
            .map(|a| s.wait_after(a, None, 0.0).unwrap().as_secs())
            .collect();
        assert_eq!(
            waits,
            [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
        );
        let total: u64 = waits.iter().sum();
        assert!((3 * 86400..4 * 86400).contains(&total), "{total}");
        assert_eq!(s.wait_after(10, None, 0.0), None, "the tenth is the last");
        assert_eq!(s.wait_after(0, None, 0.0), None);
    }

    #[test]
    fn jitter_adds_up_to_a_tenth_and_never_comes_early() {
        let s = WebhookRetrySchedule::default();
        assert_eq!(
            s.wait_after(2, None, 0.999_999).unwrap().as_secs(),
            329,
            "5 min + almost 10 %"
        );
        assert_eq!(
            s.wait_after(2, None, -3.0).unwrap(),
            Duration::from_secs(300)
        );
        assert_eq!(
            s.wait_after(2, None, 7.0).unwrap(),
            Duration::from_secs(330)
        );
    }

    #[test]
    fn a_longer_retry_after_wins_up_to_a_day() {
        let s = WebhookRetrySchedule::default();
        let secs = |d: Option<Duration>| d.unwrap().as_secs();
        assert_eq!(
            secs(s.wait_after(1, Some(Duration::from_secs(120)), 0.0)),
            120
        );
        assert_eq!(
            secs(s.wait_after(3, Some(Duration::from_secs(120)), 0.0)),
            1800,
            "a shorter Retry-After does not bring the attempt forward"
        );
        assert_eq!(
            secs(s.wait_after(1, Some(Duration::from_secs(30 * 86400)), 0.0)),
            86400,
            "capped at the 24 h step"
        );
        assert_eq!(
            s.wait_after(10, Some(Duration::from_secs(60)), 0.0),
            None,
            "no attempt after the last, whatever the receiver asks"
        );
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
