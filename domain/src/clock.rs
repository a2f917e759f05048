//! The service's notion of "now": UTC, to the microsecond, so that a time read back from PostgreSQL
//! (microsecond precision) or SQLite is exactly the time that was written and answered.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time, truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
