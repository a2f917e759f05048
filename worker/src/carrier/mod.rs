//! The carrier: the [`Carrier`] trait the worker's loops speak, the types of CARRIER.md, and the
//! VNPost-style HTTP adapter [`HttpCarrier`].
//!
//! The trait exists so loops can be driven against anything that follows CARRIER.md — the real
//! carrier, the `carrier-sandbox` (in-process or not), or a scripted fake in a unit test.
//!
//! Reading the feed (see [`feed`]): the feed is read after a persisted cursor, and because it is only
//! eventually consistent (a record may turn up with an id below ids already served), every read starts
//! `overlap` ids below the cursor ([`feed_with_overlap`]). Records re-read that way are already stored
//! and are dropped by the store's unique key (item code, carrier event id). Parcels the feed has been
//! quiet about are polled one by one with [`Carrier::order_events`], less often, as the last resort.

mod config;
mod error;
pub mod feed;
mod http;
pub mod orders;
mod types;

use std::future::Future;

pub use config::{CarrierConfig, RetryPolicy};
pub use error::CarrierError;
pub use feed::{FeedBatch, FeedRead, feed_with_overlap};
pub use http::{AdapterStats, HttpCarrier, MAX_HOLD_OFF};
pub use types::{
    FeedPage, MalformedRecord, OrderAnswer, OrderRequest, StatusCode, TrackingRecord,
    parse_event_time, vietnam_offset,
};

/// The adapter's metrics (rendered on `GET /metrics`).
pub mod metric {
    /// Carrier calls that failed for good (after the adapter's retries), by `call` and error `kind`.
    pub const ERRORS: &str = "dossier_carrier_errors_total";
    /// Attempts that failed and were retried, by `call` and `reason` (`429`, `500`, `timeout`, …).
    pub const RETRIES: &str = "dossier_carrier_retries_total";
    /// HTTP requests sent to the carrier, by `call` (every attempt; token fetches included).
    pub const REQUESTS: &str = "dossier_carrier_requests_total";
}

/// What the worker needs from a carrier (CARRIER.md). Implementations retry transient failures
/// themselves; an error means the call is over.
pub trait Carrier: Send + Sync {
    /// Creates the carrier order of one parcel. Idempotent on `order_number`: calling again answers
    /// the same, so the outbox may retry freely. A refusal (`status` other than `"00"`) is
    /// [`CarrierError::Refused`].
    fn create_order(
        &self,
        order: &OrderRequest,
    ) -> impl Future<Output = Result<OrderAnswer, CarrierError>> + Send;

    /// One page of events with ids above `after_id`, ascending, at most `page_size` (the carrier may
    /// repeat records; callers dedupe by id).
    fn feed(
        &self,
        after_id: i64,
        page_size: u32,
    ) -> impl Future<Output = Result<FeedPage, CarrierError>> + Send;

    /// Every event of one order, ascending by id: the fallback for parcels the feed is quiet about.
    fn order_events(
        &self,
        order_number: &str,
    ) -> impl Future<Output = Result<Vec<TrackingRecord>, CarrierError>> + Send;

    /// How long the carrier asked (429 `Retry-After`) not to be called any more, when that is longer
    /// than one call waits: every call fails at once meanwhile, so a loop skips its step.
    fn resting(&self) -> Option<std::time::Duration> {
        None
    }
}

impl<C: Carrier> Carrier for std::sync::Arc<C> {
    fn create_order(
        &self,
        order: &OrderRequest,
    ) -> impl Future<Output = Result<OrderAnswer, CarrierError>> + Send {
        (**self).create_order(order)
    }

    fn feed(
        &self,
        after_id: i64,
        page_size: u32,
    ) -> impl Future<Output = Result<FeedPage, CarrierError>> + Send {
        (**self).feed(after_id, page_size)
    }

    fn order_events(
        &self,
        order_number: &str,
    ) -> impl Future<Output = Result<Vec<TrackingRecord>, CarrierError>> + Send {
        (**self).order_events(order_number)
    }

    fn resting(&self) -> Option<std::time::Duration> {
        (**self).resting()
    }
}
