//! The fallback of the carrier sync: reading, one order at a time, the parcels the feed has been quiet
//! about (CARRIER.md: a record may turn up below the feed's cursor, or a feed may lose it).
//!
//! Each step claims a bounded batch of quiet orders (`domain::ops::carrier_orders::claim_quiet`: placed,
//! not finished, the parcel still on its way, no event stored for a while and not read one by one for a
//! while either), reads them with at most `concurrency` requests in flight, and stores what it found
//! through the same ingest as the feed, so a record found both ways is one event. An order read is not
//! read again before `recheck_every`; the feed stays the main road, this one costs a request per order.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use domain::ops::carrier_ingest::{self, CarrierRecord, ReceivedVia};
use domain::ops::carrier_orders::{self, Quietness};
use domain::store::Store;
use futures_util::{StreamExt, stream};

use crate::StepOutcome;
use crate::carrier::{Carrier, CarrierError, TrackingRecord};
use crate::sync::{to_domain, worker_name};

/// How quiet parcels are read.
#[derive(Debug, Clone)]
pub struct QuietSettings {
    /// When an order counts as quiet.
    pub quietness: Quietness,
    /// Orders claimed per step at most.
    pub batch: u64,
    /// Per-order reads in flight at once (the adapter has its own, overall cap too).
    pub concurrency: usize,
    /// How long a claim holds its orders; a worker that dies holding them frees them after this.
    pub lease: Duration,
    /// This worker's name on its claims.
    pub holder: String,
}

impl Default for QuietSettings {
    /// Quiet after 6 hours without news, read again at most every 6 hours, 100 orders a step, 4 at a
    /// time: a parcel the feed lost is found within hours, and a quiet one costs 4 requests a day.
    fn default() -> Self {
        QuietSettings {
            quietness: Quietness {
                quiet_for: Duration::from_secs(6 * 3600),
                recheck_every: Duration::from_secs(6 * 3600),
            },
            batch: 100,
            concurrency: 4,
            lease: Duration::from_secs(120),
            holder: worker_name(),
        }
    }
}

/// The metrics of per-order reads (rendered on `GET /metrics`).
pub mod metric {
    /// Orders read one by one, by `outcome` (`read`, `failed`, `released`: given back unread).
    pub const ORDERS: &str = "dossier_carrier_quiet_orders_total";
}

/// One step: claim quiet orders, read them, store what they hold. `Worked` when orders were read,
/// `Idle` when none was quiet, `Failed` when the store failed.
pub async fn step(store: &Store, carrier: &impl Carrier, settings: &QuietSettings) -> StepOutcome {
    step_or_stop(store, carrier, settings, std::future::pending()).await
}

/// [`step`], stopping early when `stop` completes: what was read is stored, the orders not read yet
/// are given back at once (not left to their lease).
#[tracing::instrument(
    name = "carrier.quiet",
    skip_all,
    fields(
        worker.holder = %settings.holder,
        carrier.orders = tracing::field::Empty,
        carrier.records = tracing::field::Empty,
    )
)]
pub async fn step_or_stop(
    store: &Store,
    carrier: &impl Carrier,
    settings: &QuietSettings,
    stop: impl Future<Output = ()>,
) -> StepOutcome {
    if carrier.resting().is_some() {
        // The carrier asked to be left alone (429 `Retry-After`): every read would fail at once.
        return StepOutcome::Idle;
    }
    let orders = match carrier_orders::claim_quiet(
        store,
        &settings.holder,
        settings.quietness,
        settings.batch.max(1),
        settings.lease,
    )
    .await
    {
        Ok(orders) => orders,
        Err(error) => {
            tracing::error!(error.cause = %error, "claiming quiet carrier orders failed");
            return StepOutcome::Failed;
        }
    };
    if orders.is_empty() {
        return StepOutcome::Idle;
    }
    tracing::Span::current().record("carrier.orders", orders.len());

    let numbers: Vec<String> = orders.iter().map(|o| o.order_number.clone()).collect();
    let mut reads = stream::iter(numbers)
        .map(|order_number| read_order(carrier, order_number))
        .buffer_unordered(settings.concurrency.max(1));
    let mut done: Vec<(String, Result<Vec<TrackingRecord>, CarrierError>)> =
        Vec::with_capacity(orders.len());
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            next = reads.next() => match next {
                Some(read) => done.push(read),
                None => break,
            },
        }
    }
    drop(reads);

    let mut read = Vec::with_capacity(done.len());
    let mut failed = Vec::new();
    let mut records: Vec<CarrierRecord> = Vec::new();
    for (order_number, result) in done {
        match result {
            Ok(found) => {
                records.extend(found.iter().map(to_domain));
                read.push(order_number);
            }
            Err(error) => {
                tracing::warn!(
                    carrier.order_number = %order_number,
                    carrier.error = error.kind(),
                    "per-order read failed"
                );
                failed.push(order_number);
            }
        }
    }
    let answered: HashSet<&str> = read.iter().chain(&failed).map(String::as_str).collect();
    let unread: Vec<String> = orders
        .iter()
        .map(|o| o.order_number.clone())
        .filter(|n| !answered.contains(n.as_str()))
        .collect();
    tracing::Span::current().record("carrier.records", records.len());

    let stored = if records.is_empty() {
        Ok(Default::default())
    } else {
        carrier_ingest::ingest(store, &records, &[], ReceivedVia::Order).await
    };
    let mut outcome = StepOutcome::Worked;
    match stored {
        Ok(report) => {
            if report.new > 0 {
                tracing::info!(
                    carrier.orders = read.len(),
                    carrier.new = report.new,
                    carrier.applied = report.applied,
                    "quiet parcels read one by one; the feed had missed some events"
                );
            }
            give_back(store, &settings.holder, &read, true, "read").await;
        }
        Err(error) => {
            tracing::error!(error.cause = %error, "storing per-order carrier records failed");
            give_back(store, &settings.holder, &read, false, "failed").await;
            outcome = StepOutcome::Failed;
        }
    }
    // A failed read counts as a check: the order waits `recheck_every` like the others, instead of
    // hammering a carrier that is already failing.
    give_back(store, &settings.holder, &failed, true, "failed").await;
    if !unread.is_empty() {
        give_back(store, &settings.holder, &unread, false, "released").await;
        tracing::info!(
            carrier.orders = unread.len(),
            "stopping: quiet orders not read yet were given back"
        );
    }
    outcome
}

/// Reads one order's events.
async fn read_order(
    carrier: &impl Carrier,
    order_number: String,
) -> (String, Result<Vec<TrackingRecord>, CarrierError>) {
    let result = carrier.order_events(&order_number).await;
    (order_number, result)
}

/// Ends the claim on `orders`, counting them under `outcome`.
async fn give_back(
    store: &Store,
    holder: &str,
    orders: &[String],
    checked: bool,
    outcome: &'static str,
) {
    if orders.is_empty() {
        return;
    }
    metrics::counter!(metric::ORDERS, "outcome" => outcome).increment(orders.len() as u64);
    if let Err(error) = carrier_orders::release_quiet(store, holder, orders, checked).await {
        tracing::error!(error.cause = %error, "could not give back claimed carrier orders");
    }
}
