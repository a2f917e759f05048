//! The carrier sync loop's step: take the feed cursor's lease, read the feed from the cursor (with the
//! overlap window of [`crate::carrier::feed_with_overlap`]), store and apply the records, and move the
//! cursor in the same transaction (`domain::ops::carrier_ingest::ingest_feed`).
//!
//! Workers coordinate only through the cursor row: one holds the lease at a time, and a worker that
//! dies holding it loses it when it expires. A step interrupted anywhere before its commit stores
//! nothing and leaves the cursor where it was, so the next step reads the same records again.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use domain::ops::carrier_ingest::{self, CarrierRecord};
use domain::store::Store;

use crate::StepOutcome;
use crate::carrier::{Carrier, FeedRead, TrackingRecord, feed_with_overlap};

/// How the sync step reads and holds the feed.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Pages, page size and overlap of one cycle.
    pub feed: FeedRead,
    /// How long a lease lasts; a worker that dies holding it is replaced after this.
    pub lease: Duration,
    /// This worker's name in the lease (unique per process).
    pub holder: String,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            feed: FeedRead::default(),
            lease: Duration::from_secs(120),
            holder: worker_name(),
        }
    }
}

/// A name unique to this process and call, for the lease.
pub fn worker_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "worker-{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The record as the domain's ingest takes it.
pub fn to_domain(record: &TrackingRecord) -> CarrierRecord {
    CarrierRecord {
        id: record.id,
        customer_code: record.customer_code.clone(),
        order_number: record.order_number.clone(),
        item_code: record.item_code.clone(),
        event_time: record.event_time,
        pos_id: record.pos_id.clone(),
        status_code: record.status_code.0,
        status_message: record.status_message.clone(),
        notes: record.notes.clone(),
    }
}

/// The sync's metrics (rendered on `GET /metrics`).
pub mod metric {
    /// Cycles of the feed sync, by `outcome` (`worked`, `idle`, `failed`, `stopped`).
    pub const CYCLES: &str = "dossier_carrier_sync_cycles_total";
    /// The feed cursor after the last committed cycle.
    pub const CURSOR: &str = "dossier_carrier_feed_cursor";
    /// Feed pages read.
    pub const PAGES: &str = "dossier_carrier_feed_pages_total";
}

/// One cycle of the carrier sync. `Worked` when records were stored or the cursor moved, `Idle` when
/// there was nothing new (or another worker holds the feed), `Failed` on a carrier or store error.
pub async fn step(store: &Store, carrier: &impl Carrier, settings: &SyncSettings) -> StepOutcome {
    step_or_stop(store, carrier, settings, std::future::pending()).await
}

/// [`step`], giving up the feed read in hand when `stop` completes (a worker shutting down): the lease
/// is released and nothing is stored, so the next worker reads the same records. Once the records are
/// read, storing them is finished whatever `stop` says: it is one short transaction.
#[tracing::instrument(
    name = "carrier.sync",
    skip_all,
    fields(
        worker.holder = %settings.holder,
        carrier.cursor = tracing::field::Empty,
        carrier.pages = tracing::field::Empty,
        carrier.records = tracing::field::Empty,
    )
)]
pub async fn step_or_stop(
    store: &Store,
    carrier: &impl Carrier,
    settings: &SyncSettings,
    stop: impl Future<Output = ()>,
) -> StepOutcome {
    let outcome = cycle(store, carrier, settings, stop).await;
    let label = match outcome {
        Cycle::Done(StepOutcome::Worked) => "worked",
        Cycle::Done(StepOutcome::Idle) => "idle",
        Cycle::Done(StepOutcome::Failed) => "failed",
        Cycle::Stopped => "stopped",
    };
    metrics::counter!(metric::CYCLES, "outcome" => label).increment(1);
    match outcome {
        Cycle::Done(outcome) => outcome,
        Cycle::Stopped => StepOutcome::Idle,
    }
}

/// How a cycle ended.
enum Cycle {
    Done(StepOutcome),
    Stopped,
}

async fn release(store: &Store, holder: &str) {
    if let Err(error) = carrier_ingest::release_lease(store, holder).await {
        tracing::error!(error.cause = %error, "could not release the carrier cursor's lease");
    }
}

async fn cycle(
    store: &Store,
    carrier: &impl Carrier,
    settings: &SyncSettings,
    stop: impl Future<Output = ()>,
) -> Cycle {
    let span = tracing::Span::current();
    let cursor = match carrier_ingest::take_lease(store, &settings.holder, settings.lease).await {
        Ok(Some(cursor)) => cursor,
        Ok(None) => return Cycle::Done(StepOutcome::Idle),
        Err(error) => {
            tracing::error!(error.cause = %error, "could not take the carrier cursor's lease");
            return Cycle::Done(StepOutcome::Failed);
        }
    };
    span.record("carrier.cursor", cursor);
    let read = tokio::select! {
        biased;
        () = stop => None,
        read = feed_with_overlap(carrier, cursor, &settings.feed) => Some(read),
    };
    let batch = match read {
        None => {
            release(store, &settings.holder).await;
            tracing::info!("stopping: the feed read in hand was dropped and the lease released");
            return Cycle::Stopped;
        }
        Some(Ok(batch)) => batch,
        Some(Err(error)) => {
            tracing::warn!(carrier.error = error.kind(), "carrier feed read failed");
            release(store, &settings.holder).await;
            return Cycle::Done(StepOutcome::Failed);
        }
    };
    span.record("carrier.pages", batch.pages);
    span.record("carrier.records", batch.records.len());
    metrics::counter!(metric::PAGES).increment(u64::from(batch.pages));
    if !batch.malformed.is_empty() {
        tracing::warn!(
            carrier.malformed = batch.malformed.len(),
            "carrier records that could not be read were skipped"
        );
    }
    let records: Vec<CarrierRecord> = batch.records.iter().map(to_domain).collect();
    match carrier_ingest::ingest_feed(store, &settings.holder, &records, batch.cursor).await {
        Ok(Some(report)) => {
            metrics::gauge!(metric::CURSOR).set(batch.cursor as f64);
            metrics::counter!(carrier_ingest::metric::DUPLICATES, "via" => "poll")
                .increment(batch.duplicates);
            let level_info = report.new > 0 || batch.cursor > cursor;
            if level_info {
                tracing::info!(
                    carrier.new = report.new,
                    carrier.duplicates = report.duplicates + batch.duplicates,
                    carrier.unknown_items = report.unknown_items,
                    carrier.applied = report.applied,
                    carrier.cursor = batch.cursor,
                    carrier.pages = batch.pages,
                    "carrier feed synced"
                );
                Cycle::Done(StepOutcome::Worked)
            } else {
                tracing::debug!(carrier.pages = batch.pages, "carrier feed has nothing new");
                Cycle::Done(StepOutcome::Idle)
            }
        }
        Ok(None) => {
            tracing::warn!("the carrier cursor's lease was lost; the batch was not stored");
            Cycle::Done(StepOutcome::Idle)
        }
        Err(error) => {
            tracing::error!(error.cause = %error, "storing carrier records failed");
            release(store, &settings.holder).await;
            Cycle::Done(StepOutcome::Failed)
        }
    }
}
