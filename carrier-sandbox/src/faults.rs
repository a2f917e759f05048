//! The misbehaviour of a real carrier (CARRIER.md, "What the real world does"), on request: failures of
//! the next N calls (429 with `Retry-After`, 5xx, connection resets, slow answers) and faults of the data
//! (duplicate records, out-of-order times, records of unknown items, revoked tokens, records that turn up
//! below the cursor, records the feed never serves but per-order reads do, records no reader can parse).

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which carrier calls a request failure applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every carrier call (token, orders, tracking); the control API is never affected.
    #[default]
    Any,
    /// `POST /token` only.
    Token,
    /// `POST /order/post` only.
    Orders,
    /// `GET /order/tracking`, both forms.
    Tracking,
}

/// The carrier endpoints a request is counted and matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /token`.
    Token,
    /// `POST /order/post`.
    OrderPost,
    /// `GET /order/tracking?pagesize=&lastId=`.
    TrackingFeed,
    /// `GET /order/tracking?customerCode=&orderNumber=`.
    TrackingOrder,
    /// Anything else outside `/_sandbox`.
    Other,
}

impl Scope {
    /// Whether a failure of this scope hits a call to `endpoint`.
    pub fn covers(self, endpoint: Endpoint) -> bool {
        match self {
            Scope::Any => true,
            Scope::Token => endpoint == Endpoint::Token,
            Scope::Orders => endpoint == Endpoint::OrderPost,
            Scope::Tracking => matches!(endpoint, Endpoint::TrackingFeed | Endpoint::TrackingOrder),
        }
    }
}

/// A fault to inject, by the handle or as the JSON body of `POST /_sandbox/faults`
/// (e.g. `{"kind": "too_many_requests", "times": 2, "retryAfterSecs": 1, "scope": "tracking"}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum Fault {
    /// The next `times` calls answer 429 with `Retry-After: retry_after_secs`.
    TooManyRequests {
        /// How many calls.
        times: u32,
        /// The `Retry-After` header, in seconds.
        retry_after_secs: u64,
        /// Which calls.
        #[serde(default)]
        scope: Scope,
    },
    /// The next `times` calls answer `status` (a 5xx).
    ServerError {
        /// How many calls.
        times: u32,
        /// The status to answer; 500 when omitted.
        #[serde(default = "default_server_status")]
        status: u16,
        /// Which calls.
        #[serde(default)]
        scope: Scope,
    },
    /// The next `times` calls are read and then the connection is reset without an answer.
    ConnectionReset {
        /// How many calls.
        times: u32,
        /// Which calls.
        #[serde(default)]
        scope: Scope,
    },
    /// The next `times` calls are served, but the answer waits `delay_ms` first (an order is created
    /// all the same, as with a real carrier whose answer is lost to the client's timeout).
    SlowAnswer {
        /// How many calls.
        times: u32,
        /// The delay before answering, in real milliseconds.
        delay_ms: u64,
        /// Which calls.
        #[serde(default)]
        scope: Scope,
    },
    /// The next `pages` feed pages repeat records: the last record of the previous page comes again
    /// first, and the first new record is given twice.
    DuplicateRecords {
        /// How many feed pages.
        pages: u32,
    },
    /// The next `records` events of items that already have one get an `eventTime` earlier than the
    /// item's latest.
    OutOfOrderTimes {
        /// How many records.
        records: u32,
    },
    /// `records` records of items nobody ordered through this customer (another customer's parcels and
    /// parcels created by hand at a counter) are published now.
    UnknownItems {
        /// How many records.
        records: u32,
    },
    /// Every token issued so far stops working now (early expiry, revocation).
    RevokeTokens,
    /// The next `records` events get their ids now but stay invisible until the feed has served an id
    /// above them: they then appear below the cursor (an eventually consistent feed).
    LateRecords {
        /// How many records.
        records: u32,
    },
    /// The next `records` events are published to per-order reads but never served by the feed (a
    /// feed that lost them): only reading the order finds them.
    MissingFromFeed {
        /// How many records.
        records: u32,
    },
    /// The next `times` calls answer `status`, any 4xx or 5xx but 429 (which has
    /// [`Fault::TooManyRequests`]): 408 and 425, that ask for the same request again later, or 403 and
    /// 409, that refuse it.
    ErrorStatus {
        /// How many calls.
        times: u32,
        /// The status to answer; outside 400–599, or 429, it is 500.
        status: u16,
        /// Which calls.
        #[serde(default)]
        scope: Scope,
    },
    /// The next `records` events are served with an `eventTime` that is not a time at all (a carrier
    /// that breaks the contract): the record is in the feed between readable ones, with its id.
    UnreadableRecords {
        /// How many records.
        records: u32,
    },
}

/// 500 unless a test asks for another 5xx.
fn default_server_status() -> u16 {
    500
}

/// How a call fails when a request failure fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 429 with this `Retry-After`, in seconds.
    TooManyRequests(u64),
    /// This error status (a 5xx, or a 4xx of [`Fault::ErrorStatus`]).
    Status(u16),
    /// Close the connection without an answer.
    ConnectionReset,
    /// Answer after this delay.
    Slow(Duration),
}

/// Request failures waiting for their calls, first injected first served.
#[derive(Debug, Default)]
pub struct FailureQueue {
    pending: VecDeque<(Failure, Scope, u32)>,
}

impl FailureQueue {
    /// Arms `failure` for the next `times` calls within `scope`.
    pub fn push(&mut self, failure: Failure, scope: Scope, times: u32) {
        if times > 0 {
            self.pending.push_back((failure, scope, times));
        }
    }

    /// The failure this call to `endpoint` suffers, if any; each fires once per call.
    pub fn take(&mut self, endpoint: Endpoint) -> Option<Failure> {
        let index = self
            .pending
            .iter()
            .position(|(_, scope, _)| scope.covers(endpoint))?;
        let entry = self.pending.get_mut(index)?;
        let failure = entry.0;
        entry.2 -= 1;
        if entry.2 == 0 {
            self.pending.remove(index);
        }
        Some(failure)
    }

    /// Calls still to fail.
    pub fn remaining(&self) -> u64 {
        self.pending.iter().map(|(_, _, n)| u64::from(*n)).sum()
    }

    /// Forgets every armed failure.
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_fire_in_order_and_only_within_scope() {
        let mut q = FailureQueue::default();
        q.push(Failure::Status(503), Scope::Tracking, 1);
        q.push(Failure::TooManyRequests(2), Scope::Any, 2);
        assert_eq!(q.take(Endpoint::Token), Some(Failure::TooManyRequests(2)));
        assert_eq!(q.take(Endpoint::TrackingFeed), Some(Failure::Status(503)));
        assert_eq!(
            q.take(Endpoint::TrackingFeed),
            Some(Failure::TooManyRequests(2))
        );
        assert_eq!(q.take(Endpoint::TrackingFeed), None);
        assert_eq!(q.remaining(), 0);
    }

    #[test]
    fn faults_read_from_json() {
        let f: Fault = serde_json::from_str(
            r#"{"kind":"too_many_requests","times":2,"retryAfterSecs":1,"scope":"tracking"}"#,
        )
        .expect("valid fault");
        assert_eq!(
            f,
            Fault::TooManyRequests {
                times: 2,
                retry_after_secs: 1,
                scope: Scope::Tracking
            }
        );
        let f: Fault = serde_json::from_str(r#"{"kind":"server_error","times":3}"#).expect("valid");
        assert_eq!(
            f,
            Fault::ServerError {
                times: 3,
                status: 500,
                scope: Scope::Any
            }
        );
    }
}
