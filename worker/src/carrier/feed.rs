//! Reading the feed to its end from a cursor, with an overlap window that recovers records the
//! carrier published late below the cursor (CARRIER.md: the feed is eventually consistent).
//!
//! Strategy: each cycle reads from `cursor − overlap`, not from `cursor`. A record that became visible
//! with an id below the cursor is seen on the next cycle as long as it is within `overlap` ids of the
//! cursor; records re-read from the window are dropped by the store's unique key. The cost is about
//! `overlap` records per cycle, i.e. `overlap / page_size` extra pages. Pick the overlap from how far
//! behind the carrier's late records arrive (ids allocated per second × seconds of lag); parcels whose
//! late events fall outside the window are caught by per-order polling of quiet items.

use std::collections::HashSet;

use super::{Carrier, CarrierError, MalformedRecord, TrackingRecord};

/// How to read the feed in one cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRead {
    /// Records per page asked for.
    pub page_size: u32,
    /// How many ids below the cursor to re-read (0 trusts the feed never to be late).
    pub overlap: i64,
    /// Pages past the cursor per cycle at most: the sync stores each page as it comes and gives the
    /// lease back after this many, so other workers' turns and the overlap's re-read come round.
    pub max_pages: u32,
}

impl Default for FeedRead {
    fn default() -> Self {
        FeedRead {
            page_size: 500,
            overlap: 500,
            max_pages: 200,
        }
    }
}

/// What one cycle read.
#[derive(Debug)]
pub struct FeedBatch {
    /// Every record read, once per id, ascending by id (re-read ones from the overlap included).
    pub records: Vec<TrackingRecord>,
    /// Records that could not be read (kept for staff; their ids are passed by the cursor).
    pub malformed: Vec<MalformedRecord>,
    /// The cursor to persist once the records are committed: never below the cursor given.
    pub cursor: i64,
    /// Pages (HTTP calls that succeeded) it took.
    pub pages: u32,
    /// Copies of records already in this batch that the carrier sent again.
    pub duplicates: u64,
    /// Whether the feed was read to its current end (false: `max_pages` or an error stopped it).
    pub reached_end: bool,
    /// The error that stopped the cycle after some pages had been read; those pages are kept, the
    /// cursor covers only them, and the next cycle resumes from it.
    pub interrupted: Option<CarrierError>,
}

/// Reads the feed from `cursor − overlap` to its end (or `max_pages`). Fails only when the first page
/// fails; a later failure ends the batch early with what was read (see [`FeedBatch::interrupted`]).
pub async fn feed_with_overlap<C: Carrier + ?Sized>(
    carrier: &C,
    cursor: i64,
    read: &FeedRead,
) -> Result<FeedBatch, CarrierError> {
    let mut after = cursor.saturating_sub(read.overlap.max(0)).max(0);
    let mut batch = FeedBatch {
        records: Vec::new(),
        malformed: Vec::new(),
        cursor: cursor.max(0),
        pages: 0,
        duplicates: 0,
        reached_end: false,
        interrupted: None,
    };
    let mut seen = HashSet::new();
    while batch.pages < read.max_pages.max(1) {
        let page = match carrier.feed(after, read.page_size).await {
            Ok(page) => page,
            Err(error) if batch.pages == 0 => return Err(error),
            Err(error) => {
                tracing::warn!(
                    carrier.error = error.kind(),
                    carrier.pages = batch.pages,
                    "feed read interrupted; keeping the pages read"
                );
                batch.interrupted = Some(error);
                break;
            }
        };
        batch.pages += 1;
        let empty = page.is_empty();
        for record in page.records {
            if seen.insert(record.id) {
                batch.records.push(record);
            } else {
                batch.duplicates += 1;
            }
        }
        batch.malformed.extend(page.malformed);
        let next = page.last_id.max(after);
        batch.cursor = batch.cursor.max(next);
        if empty || next <= after {
            batch.reached_end = true;
            break;
        }
        after = next;
    }
    batch.records.sort_by_key(|r| r.id);
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::super::{FeedPage, OrderAnswer, OrderRequest, StatusCode};
    use super::*;

    /// A carrier whose feed is a fixed list, optionally repeating the first record of each page.
    struct ListCarrier {
        ids: Vec<i64>,
        calls: Mutex<Vec<i64>>,
        fail_after: Option<usize>,
    }

    fn record(id: i64) -> TrackingRecord {
        TrackingRecord {
            id,
            customer_code: "C".into(),
            order_number: format!("O-{id}"),
            item_code: String::new(),
            event_time: super::super::parse_event_time("2026-11-23T09:15:00+07:00")
                .expect("valid time"),
            pos_id: String::new(),
            status_code: StatusCode::PICKED_UP,
            status_message: String::new(),
            notes: String::new(),
        }
    }

    impl Carrier for ListCarrier {
        async fn create_order(&self, _: &OrderRequest) -> Result<OrderAnswer, CarrierError> {
            Err(CarrierError::Config("not in this test".into()))
        }

        async fn feed(&self, after_id: i64, page_size: u32) -> Result<FeedPage, CarrierError> {
            let mut calls = self.calls.lock().expect("lock");
            calls.push(after_id);
            if self.fail_after.is_some_and(|n| calls.len() > n) {
                return Err(CarrierError::Server {
                    status: 503,
                    attempts: 1,
                });
            }
            let mut records: Vec<_> = self
                .ids
                .iter()
                .filter(|&&id| id > after_id)
                .take(page_size as usize)
                .map(|&id| record(id))
                .collect();
            if let Some(first) = records.first().cloned() {
                records.insert(0, first);
            }
            let last_id = records.iter().map(|r| r.id).max().unwrap_or(after_id);
            Ok(FeedPage {
                records,
                malformed: Vec::new(),
                last_id,
            })
        }

        async fn order_events(&self, _: &str) -> Result<Vec<TrackingRecord>, CarrierError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn reads_from_the_overlap_to_the_end_once_per_id() {
        let carrier = ListCarrier {
            ids: (1..=25).collect(),
            calls: Mutex::new(Vec::new()),
            fail_after: None,
        };
        let read = FeedRead {
            page_size: 10,
            overlap: 5,
            max_pages: 100,
        };
        let batch = feed_with_overlap(&carrier, 12, &read).await.expect("read");
        let ids: Vec<i64> = batch.records.iter().map(|r| r.id).collect();
        assert_eq!(ids, (8..=25).collect::<Vec<_>>());
        assert_eq!(batch.cursor, 25);
        assert!(batch.reached_end);
        assert_eq!(batch.duplicates, 2);
        assert_eq!(*carrier.calls.lock().expect("lock"), vec![7, 17, 25]);
    }

    #[tokio::test]
    async fn an_error_after_some_pages_keeps_them() {
        let carrier = ListCarrier {
            ids: (1..=25).collect(),
            calls: Mutex::new(Vec::new()),
            fail_after: Some(1),
        };
        let read = FeedRead {
            page_size: 10,
            overlap: 0,
            max_pages: 100,
        };
        let batch = feed_with_overlap(&carrier, 0, &read)
            .await
            .expect("first page read");
        assert_eq!(batch.records.len(), 10);
        assert_eq!(batch.cursor, 10);
        assert!(!batch.reached_end);
        assert!(matches!(
            batch.interrupted,
            Some(CarrierError::Server { .. })
        ));
    }
}
