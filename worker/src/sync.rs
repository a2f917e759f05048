//! The carrier sync loop's step: take the feed cursor's lease, then read the feed page by page from
//! the cursor less the overlap window (see [`crate::carrier::feed`]), each page stored, applied and the
//! cursor moved past it in one transaction that also renews the lease
//! (`domain::ops::carrier_ingest::ingest_feed_page`).
//!
//! Workers coordinate only through the cursor row: one holds the lease at a time, renewing it with
//! every page and while a carrier call is in flight (a call with its retries and `Retry-After` may
//! outlast the lease), and a worker that dies holding it loses it when it expires. A page interrupted
//! anywhere before its commit stores nothing and leaves the cursor after the previous page, so the next
//! holder reads that page again; one cycle holds one page in memory, however large the backlog.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use domain::ops::carrier_ingest::{self, CarrierRecord, FeedPageIn, UnreadableRecord};
use domain::store::Store;

use crate::StepOutcome;
use crate::carrier::{Carrier, FeedRead, MalformedRecord, TrackingRecord};

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

/// An unreadable record as the domain keeps it.
pub fn unreadable(record: MalformedRecord) -> UnreadableRecord {
    UnreadableRecord {
        carrier_event_id: record.id,
        reason: record.reason,
        raw: record.raw,
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

/// One cycle of the carrier sync: up to `max_pages` pages, each committed on its own. `Worked` when
/// records were stored or the cursor moved, `Idle` when there was nothing new (or another worker
/// holds the feed), `Failed` on a carrier or store error before anything was stored.
pub async fn step(store: &Store, carrier: &impl Carrier, settings: &SyncSettings) -> StepOutcome {
    step_or_stop(store, carrier, settings, std::future::pending()).await
}

/// [`step`], giving up the feed page in hand when `stop` completes (a worker shutting down): the lease
/// is released and that page is not stored, so the next worker reads it again. Once a page is read,
/// storing it is finished whatever `stop` says: it is one short transaction.
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

/// Waits for `call` while keeping `holder`'s lease alive: a carrier call may take longer than the
/// lease (retries, a `Retry-After`), and a lease that ran out meanwhile would let another worker read
/// the same pages. `None` when the lease was lost anyway (another worker took it over).
async fn holding_lease<T>(
    store: &Store,
    holder: &str,
    ttl: Duration,
    call: impl Future<Output = T>,
) -> Option<T> {
    let mut call = std::pin::pin!(call);
    // Renewed three times per lease, so one slow renewal does not let it lapse.
    let every = (ttl / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            biased;
            out = &mut call => return Some(out),
            () = tokio::time::sleep(every) => {
                match carrier_ingest::renew_lease(store, holder, ttl).await {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(error) => {
                        tracing::warn!(error.cause = %error, "could not renew the carrier cursor's lease");
                    }
                }
            }
        }
    }
}

/// What the pages of one cycle added up to.
#[derive(Default)]
struct Tally {
    pages: u32,
    pages_ahead: u32,
    records: u64,
    new: u64,
    duplicates: u64,
    unknown_items: u64,
    applied: u64,
    unreadable: u64,
}

async fn cycle(
    store: &Store,
    carrier: &impl Carrier,
    settings: &SyncSettings,
    stop: impl Future<Output = ()>,
) -> Cycle {
    let span = tracing::Span::current();
    let holder = settings.holder.as_str();
    if let Some(wait) = carrier.resting() {
        // The carrier asked to be left alone: taking the lease would only fail its first page.
        tracing::debug!(
            carrier.wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "the carrier asked not to be called yet"
        );
        return Cycle::Done(StepOutcome::Idle);
    }
    let start = match carrier_ingest::take_lease(store, holder, settings.lease).await {
        Ok(Some(cursor)) => cursor,
        Ok(None) => return Cycle::Done(StepOutcome::Idle),
        Err(error) => {
            tracing::error!(error.cause = %error, "could not take the carrier cursor's lease");
            return Cycle::Done(StepOutcome::Failed);
        }
    };
    span.record("carrier.cursor", start);
    let read = &settings.feed;
    let mut stop = std::pin::pin!(stop);
    let mut after = start.saturating_sub(read.overlap.max(0)).max(0);
    let mut cursor = start.max(0);
    let mut tally = Tally::default();
    // One page at a time: read it, store it and move the cursor in one transaction that renews the
    // lease, then read on. A cycle holds one page in memory, and a worker that dies or loses the
    // lease costs only the page in hand.
    let outcome = loop {
        // The overlap's pages (below the cursor taken) do not count: a window wider than
        // `max_pages` pages must not keep a cycle from ever reaching past it.
        if tally.pages_ahead >= read.max_pages.max(1) {
            break None;
        }
        let page = tokio::select! {
            biased;
            () = &mut stop => {
                release(store, holder).await;
                tracing::info!("stopping: the feed page in hand was dropped and the lease released");
                return Cycle::Stopped;
            }
            page = holding_lease(store, holder, settings.lease, carrier.feed(after, read.page_size)) => page,
        };
        let page = match page {
            None => {
                tracing::warn!("the carrier cursor's lease was lost during a feed read; stopping");
                break Some(StepOutcome::Idle);
            }
            Some(Ok(page)) => page,
            Some(Err(error)) => {
                tracing::warn!(
                    carrier.error = error.kind(),
                    carrier.pages = tally.pages,
                    "carrier feed read failed"
                );
                release(store, holder).await;
                break Some(StepOutcome::Failed);
            }
        };
        tally.pages += 1;
        metrics::counter!(metric::PAGES).increment(1);
        let empty = page.is_empty();
        let next = page.last_id.max(after);
        if !page.malformed.is_empty() {
            // Their ids only: the raw records may hold personal data, and are kept for staff.
            let ids: Vec<i64> = page.malformed.iter().filter_map(|m| m.id).collect();
            tracing::warn!(
                carrier.unreadable = page.malformed.len(),
                carrier.unreadable_ids = ?ids,
                "carrier records that could not be read are kept for administrators"
            );
        }
        let records: Vec<CarrierRecord> = page.records.iter().map(to_domain).collect();
        let unreadable: Vec<UnreadableRecord> =
            page.malformed.into_iter().map(unreadable).collect();
        tally.records += records.len() as u64;
        if next > start {
            tally.pages_ahead += 1;
        }
        let page_cursor = cursor.max(next);
        let stored = FeedPageIn {
            records: &records,
            unreadable: &unreadable,
            cursor: page_cursor,
        };
        match carrier_ingest::ingest_feed_page(store, holder, stored, settings.lease).await {
            Ok(Some(report)) => {
                cursor = page_cursor;
                metrics::gauge!(metric::CURSOR).set(cursor as f64);
                tally.new += report.new;
                tally.duplicates += report.duplicates;
                tally.unknown_items += report.unknown_items;
                tally.applied += report.applied;
                tally.unreadable += report.unreadable;
            }
            Ok(None) => {
                tracing::warn!("the carrier cursor's lease was lost; the page was not stored");
                break Some(StepOutcome::Idle);
            }
            Err(error) => {
                tracing::error!(error.cause = %error, "storing carrier records failed");
                release(store, holder).await;
                break Some(StepOutcome::Failed);
            }
        }
        if empty || next <= after {
            break None;
        }
        after = next;
    };
    if outcome.is_none() {
        release(store, holder).await;
    }
    span.record("carrier.pages", tally.pages);
    span.record("carrier.records", tally.records);
    let progressed = tally.new > 0 || tally.unreadable > 0 || cursor > start;
    if progressed {
        tracing::info!(
            carrier.new = tally.new,
            carrier.duplicates = tally.duplicates,
            carrier.unknown_items = tally.unknown_items,
            carrier.applied = tally.applied,
            carrier.unreadable = tally.unreadable,
            carrier.cursor = cursor,
            carrier.pages = tally.pages,
            "carrier feed synced"
        );
    }
    match outcome {
        // Pages stored before a failure are kept: the next cycle goes on from them.
        Some(StepOutcome::Failed) if progressed => Cycle::Done(StepOutcome::Worked),
        Some(outcome) => Cycle::Done(outcome),
        None if progressed => Cycle::Done(StepOutcome::Worked),
        None => {
            tracing::debug!(carrier.pages = tally.pages, "carrier feed has nothing new");
            Cycle::Done(StepOutcome::Idle)
        }
    }
}
