//! Ingest of the carrier's tracking records, polled from its feed or pushed to us: one path for both,
//! so a pushed copy and a polled copy of one record are one event.
//!
//! Rules:
//! - a record is stored once per (item code, carrier event id): the schema's UNIQUE index, and
//!   `INSERT … ON CONFLICT DO NOTHING` in batches, so replays and duplicates change nothing;
//! - records of items nobody here knows are kept with no dossier, for staff to reconcile;
//! - records that cannot be read at all are kept too ([`UnreadableRecord`]: raw JSON, capped, and the
//!   reason), once per carrier id, in the same transaction that moves the cursor past them, and listed
//!   for administrators ([`list_unreadable`]): CARRIER.md loses no data and is never stopped by one;
//! - what a status code does is [`crate::carrier_codes`]'s table; codes that stand for a scan event go
//!   through [`super::scans::apply_machine_scans`] with source `carrier`, so the timeline, the audit and
//!   the notifications are those of a handheld scan and a dossier never moves backwards (late events
//!   only join the timeline); the stored carrier record is the scan's record, kept once;
//! - an `eventTime` further in the future than [`CLOCK_SKEW`] cannot be when the event happened (a
//!   carrier clock running ahead, local time written with a `Z`, a typo'd year): the stored carrier
//!   record keeps the carrier's time exactly as sent, but the scan is applied at the time the record
//!   was received, with the carrier's time in its note. Otherwise one such record would make every
//!   later scan of the dossier "late" (the scans path moves nothing before the dossier's last event)
//!   and freeze it. Within the skew the carrier's time is kept, as for a handheld's;
//! - a batch is one transaction; the feed's cursor ([`ingest_feed_page`]) advances in that same
//!   transaction, and only while the caller still holds the cursor's lease, which the same
//!   transaction renews: the sync stores the feed page by page, never a whole cycle at once.
//!
//! Workers share the feed through the cursor row's lease, a compare-and-set on `lease_until` that
//! works on both databases: whoever sets it reads the feed; an expired lease is taken over.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use entity::enums::EventSource;
use entity::{carrier_cursor, carrier_event, carrier_unreadable_record, leg};
use hmac::{Hmac, Mac};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::OpError;
use super::access::Actor;
use super::bulk::{json_param, text_in};
use super::carrier_orders::{FINAL_STATUS_CODES, note_finished};
use super::postal::CLOCK_SKEW;
use super::scans::{MachineScan, ScanOutcome, apply_machine_scans};
use crate::carrier_codes::scan_event_of;
use crate::s10::ItemCode;
use crate::store::Store;

/// The carrier this system speaks to (its rows in `carrier_events` and `carrier_cursor`).
pub const CARRIER: &str = "vnpost";

/// Rows per bulk statement: 15 values a row, well under both databases' limits on bound parameters.
const CHUNK: usize = 1000;

/// One tracking record of CARRIER.md, as ingest needs it. No `Debug` of `notes`: a postman's note may
/// carry personal data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarrierRecord {
    /// The carrier's event id.
    pub id: i64,
    #[serde(default)]
    pub customer_code: String,
    #[serde(default)]
    pub order_number: String,
    #[serde(default)]
    pub item_code: String,
    pub event_time: DateTime<FixedOffset>,
    #[serde(default)]
    pub pos_id: String,
    pub status_code: i64,
    #[serde(default)]
    pub status_message: String,
    #[serde(default)]
    pub notes: String,
}

impl fmt::Debug for CarrierRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CarrierRecord")
            .field("id", &self.id)
            .field("item_code", &self.item_code)
            .field("status_code", &self.status_code)
            .finish_non_exhaustive()
    }
}

/// How a record reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceivedVia {
    /// Read from the feed by the worker.
    Poll,
    /// Read one order at a time by the worker (the fallback for parcels the feed is quiet about).
    Order,
    /// Pushed by the carrier to `POST /api/v1/carrier/events`.
    Push,
}

impl ReceivedVia {
    /// The spelling in `carrier_events.received_via` and in metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReceivedVia::Poll => "poll",
            ReceivedVia::Order => "order",
            ReceivedVia::Push => "push",
        }
    }
}

/// A record of the carrier's that could not be read, as the adapter set it aside: kept in
/// `carrier_unreadable_records` so nothing the carrier sent is lost. No `Debug` of `raw`: it may hold
/// a postman's notes.
#[derive(Clone, PartialEq)]
pub struct UnreadableRecord {
    /// Its id, when at least that could be read.
    pub carrier_event_id: Option<i64>,
    /// Why it could not be read.
    pub reason: String,
    /// The JSON as received.
    pub raw: serde_json::Value,
}

impl fmt::Debug for UnreadableRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnreadableRecord")
            .field("carrier_event_id", &self.carrier_event_id)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// The most of an unreadable record's raw JSON kept, in bytes: a record of the contract is a few
/// hundred; one larger than this is cut (and marked so).
pub const MAX_UNREADABLE_RAW_BYTES: usize = 8 * 1024;

/// The most of the reason kept, in characters.
pub const MAX_UNREADABLE_REASON_CHARS: usize = 500;

/// The most unreadable records listed at once.
pub const MAX_UNREADABLE_LISTED: u64 = 500;

/// `text` cut to at most `max` bytes on a character boundary; whether it was cut.
fn cut_to_bytes(text: String, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

/// The id of a carrier record, read as loosely as the carrier may write it (`id` or `Id`, a number
/// or a numeric string): an unreadable record keeps one key whether it was pushed or polled.
pub fn record_id(raw: &serde_json::Value) -> Option<i64> {
    raw.get("id")
        .or_else(|| raw.get("Id"))
        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()))
}

impl UnreadableRecord {
    /// A record that could not be read for `reason`, with its id when at least that can be read.
    pub fn new(raw: serde_json::Value, reason: String) -> Self {
        Self {
            carrier_event_id: record_id(&raw),
            reason,
            raw,
        }
    }

    /// Its key in the table: the carrier id, else a hash of the raw JSON.
    fn key(&self, raw: &str) -> String {
        match self.carrier_event_id {
            Some(id) => format!("id:{id}"),
            None => format!(
                "sha256:{}",
                hex::encode(<Sha256 as sha2::Digest>::digest(raw))
            ),
        }
    }

    fn row(&self, via: ReceivedVia, now: DateTime<Utc>) -> carrier_unreadable_record::ActiveModel {
        let raw = self.raw.to_string();
        let key = self.key(&raw);
        let (raw, truncated) = cut_to_bytes(raw, MAX_UNREADABLE_RAW_BYTES);
        carrier_unreadable_record::ActiveModel {
            carrier: Set(CARRIER.to_owned()),
            record_key: Set(key),
            carrier_event_id: Set(self.carrier_event_id),
            reason: Set(self
                .reason
                .chars()
                .take(MAX_UNREADABLE_REASON_CHARS)
                .collect()),
            raw: Set(raw),
            raw_truncated: Set(truncated),
            received_via: Set(via.as_str().to_owned()),
            received_at: Set(now),
            ..Default::default()
        }
    }
}

/// Keeps `records` once each (a copy kept before changes nothing); answers how many were new.
async fn store_unreadable(
    txn: &impl ConnectionTrait,
    records: &[UnreadableRecord],
    via: ReceivedVia,
) -> Result<u64, DbErr> {
    if records.is_empty() {
        return Ok(0);
    }
    let now = crate::clock::now();
    let mut new = 0;
    // A page holds few of them: a statement each keeps the count of new ones exact on both databases.
    for record in records {
        let inserted = carrier_unreadable_record::Entity::insert(record.row(via, now))
            .on_conflict(
                OnConflict::columns([
                    carrier_unreadable_record::Column::Carrier,
                    carrier_unreadable_record::Column::RecordKey,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        new += inserted;
    }
    Ok(new)
}

/// The carrier's records that could not be read, newest first, at most `limit` (capped at
/// [`MAX_UNREADABLE_LISTED`]), for administrators. Their raw JSON may hold personal data.
pub async fn list_unreadable(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<carrier_unreadable_record::Model>, OpError> {
    Ok(carrier_unreadable_record::Entity::find()
        .order_by_desc(carrier_unreadable_record::Column::Id)
        .limit(limit.clamp(1, MAX_UNREADABLE_LISTED))
        .all(conn)
        .await?)
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    /// Records stored for the first time.
    pub new: u64,
    /// Records already stored (or repeated within the batch): nothing changed for them.
    pub duplicates: u64,
    /// New records of items nobody here knows, kept for reconciliation.
    pub unknown_items: u64,
    /// New records that moved a dossier's status.
    pub applied: u64,
    /// Records that could not be read, kept for the first time.
    pub unreadable: u64,
    /// New records whose `eventTime` lay beyond now + [`CLOCK_SKEW`]: applied at their arrival.
    pub future_times: u64,
    /// For each new record, seconds from its `eventTime` to its storing (never negative).
    pub lag_secs: Vec<f64>,
}

/// The metrics of ingest (rendered on `GET /metrics`).
pub mod metric {
    /// Carrier records stored for the first time, by how they came (`via`).
    pub const INGESTED: &str = "dossier_carrier_events_ingested_total";
    /// Carrier records that were already stored (replays, duplicates, overlap re-reads), by `via`.
    pub const DUPLICATES: &str = "dossier_carrier_events_duplicate_total";
    /// New carrier records of items nobody here knows, by `via`.
    pub const UNKNOWN_ITEMS: &str = "dossier_carrier_events_unknown_item_total";
    /// New carrier records that moved a dossier, by `via`.
    pub const APPLIED: &str = "dossier_carrier_events_applied_total";
    /// Seconds from a record's `eventTime` to its storing, by `via`.
    pub const LAG: &str = "dossier_carrier_ingest_lag_seconds";
    /// Carrier records that could not be read, kept for the first time, by `via`.
    pub const UNREADABLE: &str = "dossier_carrier_records_unreadable_total";
    /// New carrier records dated further ahead than the clock skew allows, applied at their
    /// arrival instead, by `via`.
    pub const FUTURE_TIMES: &str = "dossier_carrier_events_future_time_total";
}

/// Describes the metrics of ingest to the installed recorder (once, at start).
pub fn describe_metrics() {
    metrics::describe_counter!(
        metric::INGESTED,
        "Carrier records stored for the first time, by how they came (poll, order, push)."
    );
    metrics::describe_counter!(
        metric::DUPLICATES,
        "Carrier records already stored (replays, duplicates, overlap re-reads)."
    );
    metrics::describe_counter!(
        metric::UNKNOWN_ITEMS,
        "New carrier records of items nobody here knows, kept for reconciliation."
    );
    metrics::describe_counter!(
        metric::APPLIED,
        "New carrier records that moved a dossier's status."
    );
    metrics::describe_counter!(
        metric::UNREADABLE,
        "Carrier records that could not be read, kept for administrators."
    );
    metrics::describe_counter!(
        metric::FUTURE_TIMES,
        "New carrier records dated in the future beyond the clock skew, applied at their arrival."
    );
    metrics::describe_histogram!(
        metric::LAG,
        metrics::Unit::Seconds,
        "Seconds from a carrier record's eventTime to its storing."
    );
}

/// Counts a committed batch in the metrics.
pub fn record_metrics(report: &IngestReport, via: ReceivedVia) {
    let via = via.as_str();
    metrics::counter!(metric::INGESTED, "via" => via).increment(report.new);
    metrics::counter!(metric::DUPLICATES, "via" => via).increment(report.duplicates);
    metrics::counter!(metric::UNKNOWN_ITEMS, "via" => via).increment(report.unknown_items);
    metrics::counter!(metric::APPLIED, "via" => via).increment(report.applied);
    metrics::counter!(metric::FUTURE_TIMES, "via" => via).increment(report.future_times);
    metrics::counter!(metric::UNREADABLE, "via" => via).increment(report.unreadable);
    let lag = metrics::histogram!(metric::LAG, "via" => via);
    for &secs in &report.lag_secs {
        lag.record(secs);
    }
}

/// Stores `records` and applies the new ones, and keeps the `unreadable` ones, in one transaction of
/// its own.
pub async fn ingest(
    store: &Store,
    records: &[CarrierRecord],
    unreadable: &[UnreadableRecord],
    via: ReceivedVia,
) -> Result<IngestReport, OpError> {
    let txn = store.begin().await?;
    let mut report = ingest_in(&txn, records, via).await?;
    report.unreadable = store_unreadable(&txn, unreadable, via).await?;
    txn.commit().await?;
    record_metrics(&report, via);
    Ok(report)
}

/// Scans per call of the scans path: its queries take the whole set at once, so it is kept well
/// under both databases' limits on bound parameters.
const SCAN_CHUNK: usize = 1000;

/// [`ingest`] inside the caller's transaction (nothing is visible until it commits). A handful of
/// statements per few hundred records, whatever their number: the dossiers of the items, a multi-row
/// `INSERT … ON CONFLICT DO NOTHING RETURNING` that says which records are new, the scans path in bulk,
/// and the per-order bookkeeping.
#[tracing::instrument(skip_all, fields(carrier.records = records.len(), carrier.via = via.as_str()))]
pub async fn ingest_in(
    txn: &impl ConnectionTrait,
    records: &[CarrierRecord],
    via: ReceivedVia,
) -> Result<IngestReport, OpError> {
    let mut report = IngestReport::default();
    let batch = once_each(records, &mut report);
    if batch.is_empty() {
        return Ok(report);
    }

    // 1. Their dossiers, by item code.
    let codes: Vec<&str> = batch
        .iter()
        .map(|r| r.item_code.as_str())
        .filter(|c| !c.is_empty())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let dossier_of = dossiers_of(txn, &codes).await?;

    // 2. Store them; the database answers which rows are new. A copy stored before (or committed
    //    meanwhile by another transaction) is skipped by the unique key and not returned.
    let now = crate::clock::now();
    let stored = if txn.get_database_backend() == DbBackend::Postgres {
        store_json(txn, &batch, &dossier_of, via, now).await?
    } else {
        store_values(txn, &batch, &dossier_of, via, now).await?
    };
    let fresh: Vec<&CarrierRecord> = batch
        .into_iter()
        .filter(|r| {
            let new = stored.contains(&(r.item_code.clone(), r.id));
            if !new {
                report.duplicates += 1;
            }
            new
        })
        .collect();
    report.new = fresh.len() as u64;
    if fresh.is_empty() {
        return Ok(report);
    }

    // 3. What the new ones mean here.
    let (scans, finished) = meanings(&fresh, &dossier_of, now, &mut report);
    note_finished(txn, &finished, now).await?;

    // 4. Through the scans path: the same rules, timeline and audit as a handheld scan.
    report.applied += apply_by_dossier(txn, scans).await?;
    Ok(report)
}

/// The records of `records`, each (item, carrier id) once; repeats are counted as duplicates.
fn once_each<'a>(
    records: &'a [CarrierRecord],
    report: &mut IngestReport,
) -> Vec<&'a CarrierRecord> {
    let mut seen = HashSet::with_capacity(records.len());
    let mut batch = Vec::with_capacity(records.len());
    for record in records {
        if seen.insert((record.item_code.as_str(), record.id)) {
            batch.push(record);
        } else {
            report.duplicates += 1;
        }
    }
    batch
}

/// What new records mean here: the scans they stand for, by dossier, and the items the carrier has
/// finished with. Notes each record's lag, and counts those of unknown items.
fn meanings(
    fresh: &[&CarrierRecord],
    dossier_of: &HashMap<String, i64>,
    now: DateTime<Utc>,
    report: &mut IngestReport,
) -> (Vec<(i64, MachineScan)>, Vec<String>) {
    let mut scans: Vec<(i64, MachineScan)> = Vec::new();
    let mut finished: HashSet<&str> = HashSet::new();
    report.lag_secs.reserve(fresh.len());
    for r in fresh {
        let lag = (now - r.event_time.with_timezone(&Utc)).num_milliseconds();
        report.lag_secs.push((lag.max(0) as f64) / 1000.0);
        let Some(&dossier_id) = dossier_of.get(&r.item_code) else {
            report.unknown_items += 1;
            continue;
        };
        if FINAL_STATUS_CODES.contains(&r.status_code) {
            finished.insert(r.item_code.as_str());
        }
        let (Some(event), Ok(item_code)) =
            (scan_event_of(r.status_code), ItemCode::parse(&r.item_code))
        else {
            continue;
        };
        let message = r.status_message.trim();
        let (at, note) = match scan_time(r.event_time, now) {
            ScanTime::AsSent(at) => (at, (!message.is_empty()).then(|| message.to_owned())),
            ScanTime::Received(at) => {
                report.future_times += 1;
                tracing::warn!(
                    carrier.event_id = r.id,
                    carrier.event_time = %r.event_time.to_rfc3339(),
                    "a carrier event dated in the future is applied at its arrival"
                );
                let why = future_note(r.event_time);
                let note = if message.is_empty() {
                    why
                } else {
                    format!("{message} — {why}")
                };
                (at, Some(note))
            }
        };
        scans.push((
            dossier_id,
            MachineScan {
                item_code,
                event,
                at,
                location: (!r.pos_id.trim().is_empty()).then(|| r.pos_id.trim().to_owned()),
                note,
            },
        ));
    }
    let finished: Vec<String> = finished.into_iter().map(str::to_owned).collect();
    (scans, finished)
}

/// When a carrier event is applied to its dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanTime {
    /// At the carrier's `eventTime`.
    AsSent(DateTime<Utc>),
    /// At the time it was received: the carrier's time lay beyond now + [`CLOCK_SKEW`].
    Received(DateTime<Utc>),
}

/// The time a carrier event is applied at, received at `now`: its `eventTime`, unless that is
/// further in the future than a clock may run ahead ([`CLOCK_SKEW`], as for a handheld's scans).
fn scan_time(event_time: DateTime<FixedOffset>, now: DateTime<Utc>) -> ScanTime {
    let at = event_time.with_timezone(&Utc);
    if at > now + CLOCK_SKEW {
        ScanTime::Received(now)
    } else {
        ScanTime::AsSent(at)
    }
}

/// The timeline note of an event applied at its arrival: the carrier's time as it sent it.
fn future_note(event_time: DateTime<FixedOffset>) -> String {
    format!(
        "the carrier dated this event {}, in the future; recorded at the time it was received",
        event_time.to_rfc3339()
    )
}

/// Applies `scans` through the scans path; calls are cut between dossiers, so each dossier's scans
/// are applied together, in time order. Returns how many moved a dossier.
async fn apply_by_dossier(
    txn: &impl ConnectionTrait,
    mut scans: Vec<(i64, MachineScan)>,
) -> Result<u64, OpError> {
    let mut applied = 0;
    scans.sort_by_key(|(dossier_id, _)| *dossier_id);
    let mut scans = scans.into_iter().peekable();
    while scans.peek().is_some() {
        let mut group = Vec::with_capacity(SCAN_CHUNK);
        while let Some((dossier_id, _)) = scans.peek() {
            let dossier_id = *dossier_id;
            if group.len() >= SCAN_CHUNK {
                break;
            }
            while let Some((_, scan)) = scans.next_if(|(d, _)| *d == dossier_id) {
                group.push(scan);
            }
        }
        let outcomes =
            apply_machine_scans(txn, &Actor::System, EventSource::Carrier, group).await?;
        applied += outcomes
            .iter()
            .filter(|o| matches!(o, ScanOutcome::Accepted { applied: true, .. }))
            .count() as u64;
    }
    Ok(applied)
}

/// The dossier of each of `codes` (item codes) that a parcel here carries.
async fn dossiers_of(
    txn: &impl ConnectionTrait,
    codes: &[&str],
) -> Result<HashMap<String, i64>, DbErr> {
    let mut dossier_of = HashMap::with_capacity(codes.len());
    if codes.is_empty() {
        return Ok(dossier_of);
    }
    let backend = txn.get_database_backend();
    // PostgreSQL takes the whole list as one parameter (`bulk::text_in`); SQLite binds in chunks.
    let chunk_size = if backend == DbBackend::Postgres {
        codes.len()
    } else {
        CHUNK
    };
    for chunk in codes.chunks(chunk_size) {
        let rows: Vec<(Option<String>, i64)> = leg::Entity::find()
            .select_only()
            .column(leg::Column::ItemCode)
            .column(leg::Column::DossierId)
            .filter(text_in(
                backend,
                leg::Column::ItemCode,
                chunk.iter().map(|c| (*c).to_owned()).collect(),
            )?)
            .into_tuple()
            .all(txn)
            .await?;
        dossier_of.extend(rows.into_iter().filter_map(|(c, d)| c.map(|c| (c, d))));
    }
    Ok(dossier_of)
}

/// What `INSERT … RETURNING item_code, carrier_event_id` answered: the rows that are new.
fn returned(rows: Vec<sea_orm::QueryResult>) -> Result<HashSet<(String, i64)>, DbErr> {
    rows.into_iter()
        .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .collect()
}

/// Stores records with multi-row `INSERT … VALUES` (SQLite: parameters cost little in process).
async fn store_values(
    txn: &impl ConnectionTrait,
    batch: &[&CarrierRecord],
    dossier_of: &HashMap<String, i64>,
    via: ReceivedVia,
    now: DateTime<Utc>,
) -> Result<HashSet<(String, i64)>, DbErr> {
    let mut stored = HashSet::with_capacity(batch.len());
    for chunk in batch.chunks(CHUNK) {
        let rows = chunk.iter().map(|r| carrier_event::ActiveModel {
            carrier: Set(CARRIER.to_owned()),
            carrier_event_id: Set(r.id),
            item_code: Set(r.item_code.clone()),
            order_number: Set(r.order_number.clone()),
            customer_code: Set(r.customer_code.clone()),
            event_time: Set(r.event_time),
            pos_id: Set(r.pos_id.clone()),
            status_code: Set(r.status_code),
            status_message: Set(r.status_message.clone()),
            notes: Set(r.notes.clone()),
            scan_event: Set(scan_event_of(r.status_code)),
            dossier_id: Set(dossier_of.get(&r.item_code).copied()),
            received_via: Set(via.as_str().to_owned()),
            received_at: Set(now),
            ..Default::default()
        });
        let mut insert = carrier_event::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    carrier_event::Column::ItemCode,
                    carrier_event::Column::CarrierEventId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .into_query();
        insert.returning(Query::returning().columns([
            carrier_event::Column::ItemCode,
            carrier_event::Column::CarrierEventId,
        ]));
        stored.extend(returned(txn.query_all(&insert).await?)?);
    }
    Ok(stored)
}

/// One record as [`store_json`] sends it.
#[derive(Serialize)]
struct JsonRow<'a> {
    id: i64,
    item: &'a str,
    ord: &'a str,
    cust: &'a str,
    at: DateTime<FixedOffset>,
    pos: &'a str,
    code: i64,
    msg: &'a str,
    notes: &'a str,
    scan: Option<&'static str>,
    dossier: Option<i64>,
}

/// Records per statement of [`store_json`].
const JSON_CHUNK: usize = 5000;

/// Stores records on PostgreSQL: the rows travel as one JSON parameter that the server expands with
/// `json_to_recordset`, a few statements per batch however large.
async fn store_json(
    txn: &impl ConnectionTrait,
    batch: &[&CarrierRecord],
    dossier_of: &HashMap<String, i64>,
    via: ReceivedVia,
    now: DateTime<Utc>,
) -> Result<HashSet<(String, i64)>, DbErr> {
    const SQL: &str = "INSERT INTO carrier_events (carrier, carrier_event_id, item_code, \
         order_number, customer_code, event_time, pos_id, status_code, status_message, notes, \
         scan_event, dossier_id, received_via, received_at) \
         SELECT $2, r.id, r.item, r.ord, r.cust, r.at, r.pos, r.code, r.msg, r.notes, r.scan, \
         r.dossier, $3, $4::timestamptz \
         FROM json_to_recordset($1::json) AS r(id bigint, item text, ord text, cust text, \
         at timestamptz, pos text, code bigint, msg text, notes text, scan text, dossier bigint) \
         ON CONFLICT (item_code, carrier_event_id) DO NOTHING \
         RETURNING item_code, carrier_event_id";
    let mut stored = HashSet::with_capacity(batch.len());
    for chunk in batch.chunks(JSON_CHUNK) {
        let rows: Vec<JsonRow<'_>> = chunk
            .iter()
            .map(|r| JsonRow {
                id: r.id,
                item: &r.item_code,
                ord: &r.order_number,
                cust: &r.customer_code,
                at: r.event_time,
                pos: &r.pos_id,
                code: r.status_code,
                msg: &r.status_message,
                notes: &r.notes,
                scan: scan_event_of(r.status_code).map(|e| e.as_str()),
                dossier: dossier_of.get(&r.item_code).copied(),
            })
            .collect();
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            SQL,
            [
                json_param(&rows)?,
                CARRIER.into(),
                via.as_str().into(),
                now.into(),
            ],
        );
        stored.extend(returned(txn.query_all_raw(statement).await?)?);
    }
    Ok(stored)
}

/// Takes the feed cursor's lease for `holder` for `ttl` (or renews it), taking over an expired one.
/// Answers the cursor when the lease is ours, `None` when another worker holds it.
pub async fn take_lease(store: &Store, holder: &str, ttl: Duration) -> Result<Option<i64>, DbErr> {
    let now = crate::clock::now();
    carrier_cursor::Entity::insert(carrier_cursor::ActiveModel {
        carrier: Set(CARRIER.to_owned()),
        last_id: Set(0),
        lease_holder: Set(None),
        lease_until: Set(None),
        updated_at: Set(now),
    })
    .on_conflict_do_nothing_on([carrier_cursor::Column::Carrier])
    .exec_without_returning(&store.write)
    .await?;
    let until = lease_end(now, ttl);
    let taken = carrier_cursor::Entity::update_many()
        .col_expr(carrier_cursor::Column::LeaseHolder, Expr::value(holder))
        .col_expr(carrier_cursor::Column::LeaseUntil, Expr::value(until))
        .filter(carrier_cursor::Column::Carrier.eq(CARRIER))
        .filter(
            Condition::any()
                .add(carrier_cursor::Column::LeaseUntil.is_null())
                .add(carrier_cursor::Column::LeaseUntil.lt(now))
                .add(carrier_cursor::Column::LeaseHolder.eq(holder)),
        )
        .exec(&store.write)
        .await?;
    if taken.rows_affected != 1 {
        return Ok(None);
    }
    let cursor = carrier_cursor::Entity::find_by_id(CARRIER.to_owned())
        .one(&store.write)
        .await?;
    Ok(cursor
        .filter(|c| c.lease_holder.as_deref() == Some(holder))
        .map(|c| c.last_id))
}

/// Gives the lease back without moving the cursor (a failed read); harmless if it was lost.
pub async fn release_lease(store: &Store, holder: &str) -> Result<(), DbErr> {
    carrier_cursor::Entity::update_many()
        .col_expr(
            carrier_cursor::Column::LeaseHolder,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            carrier_cursor::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(carrier_cursor::Column::Carrier.eq(CARRIER))
        .filter(carrier_cursor::Column::LeaseHolder.eq(holder))
        .exec(&store.write)
        .await?;
    Ok(())
}

/// `ttl` from now, as a time (a `ttl` too large for chrono counts as a minute).
fn lease_end(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60))
}

/// Extends `holder`'s lease of the feed cursor to `ttl` from now, while a feed call is in flight.
/// Answers whether `holder` still holds it (`false`: another worker took it over; stop).
pub async fn renew_lease(store: &Store, holder: &str, ttl: Duration) -> Result<bool, DbErr> {
    let now = crate::clock::now();
    let renewed = carrier_cursor::Entity::update_many()
        .col_expr(
            carrier_cursor::Column::LeaseUntil,
            Expr::value(lease_end(now, ttl)),
        )
        .filter(carrier_cursor::Column::Carrier.eq(CARRIER))
        .filter(carrier_cursor::Column::LeaseHolder.eq(holder))
        .exec(&store.write)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// What becomes of the lease once a page of the feed is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeaseAfter {
    /// Kept for another `ttl`: the holder reads on.
    Renew(Duration),
    /// Given back: the holder is done.
    Release,
}

/// Stores one page read from the feed and moves the cursor to `cursor` (never backwards) in the
/// same transaction, renewing `holder`'s lease for `ttl`: the sync commits page by page, so a long
/// backlog, slow answers or a worker that dies cost at most the page in hand. `None` when `holder`
/// no longer holds the lease: nothing is stored, and whoever holds it now reads the same records
/// again from the cursor.
pub async fn ingest_feed_page(
    store: &Store,
    holder: &str,
    page: FeedPageIn<'_>,
    ttl: Duration,
) -> Result<Option<IngestReport>, OpError> {
    commit_feed(store, holder, page, LeaseAfter::Renew(ttl)).await
}

/// One page of the feed as the sync stores it.
#[derive(Debug, Clone, Copy)]
pub struct FeedPageIn<'a> {
    /// The records read.
    pub records: &'a [CarrierRecord],
    /// The records that could not be read: kept, and passed by the cursor.
    pub unreadable: &'a [UnreadableRecord],
    /// The cursor after the page.
    pub cursor: i64,
}

/// Stores a batch read from the feed and moves the cursor to `cursor` (never backwards) in the same
/// transaction, releasing the lease. `None` when `holder` no longer holds the lease: nothing is
/// stored, and whoever holds it now reads the same records again.
pub async fn ingest_feed(
    store: &Store,
    holder: &str,
    records: &[CarrierRecord],
    cursor: i64,
) -> Result<Option<IngestReport>, OpError> {
    let page = FeedPageIn {
        records,
        unreadable: &[],
        cursor,
    };
    commit_feed(store, holder, page, LeaseAfter::Release).await
}

async fn commit_feed(
    store: &Store,
    holder: &str,
    page: FeedPageIn<'_>,
    lease: LeaseAfter,
) -> Result<Option<IngestReport>, OpError> {
    let FeedPageIn {
        records,
        unreadable,
        cursor,
    } = page;
    let txn = store.begin().await?;
    let now = crate::clock::now();
    let (next_holder, until) = match lease {
        LeaseAfter::Renew(ttl) => (Some(holder.to_owned()), Some(lease_end(now, ttl))),
        LeaseAfter::Release => (None, None),
    };
    // The lease first: on PostgreSQL this UPDATE locks the cursor row until the commit, so a worker
    // taking over an expired lease meanwhile waits for this page and then finds it renewed (or the
    // cursor moved past it); one that took it over before finds the row no longer ours.
    let claimed = carrier_cursor::Entity::update_many()
        .col_expr(
            carrier_cursor::Column::LeaseHolder,
            Expr::value(next_holder),
        )
        .col_expr(carrier_cursor::Column::LeaseUntil, Expr::value(until))
        .col_expr(carrier_cursor::Column::UpdatedAt, Expr::value(now))
        .filter(carrier_cursor::Column::Carrier.eq(CARRIER))
        .filter(carrier_cursor::Column::LeaseHolder.eq(holder))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    let current = carrier_cursor::Entity::find_by_id(CARRIER.to_owned())
        .one(&txn)
        .await?
        .map_or(0, |c| c.last_id);
    if cursor > current {
        carrier_cursor::Entity::update_many()
            .col_expr(carrier_cursor::Column::LastId, Expr::value(cursor))
            .filter(carrier_cursor::Column::Carrier.eq(CARRIER))
            .exec(&txn)
            .await?;
    }
    let mut report = ingest_in(&txn, records, ReceivedVia::Poll).await?;
    report.unreadable = store_unreadable(&txn, unreadable, ReceivedVia::Poll).await?;
    txn.commit().await?;
    record_metrics(&report, ReceivedVia::Poll);
    Ok(Some(report))
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of the raw `body` keyed with `secret`,
/// compared in constant time.
pub fn verify_push_signature(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The signature header value for `body`, as the carrier computes it (for tests and tools).
pub fn push_signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carrier_time_beyond_the_clock_skew_is_replaced_by_the_time_received() {
        let now: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().expect("time");
        let at = |text: &str| DateTime::parse_from_rfc3339(text).expect("time");
        // Earlier, and slightly ahead within the skew: the carrier's time.
        let earlier = at("2026-11-23T08:15:00+07:00");
        assert_eq!(
            scan_time(earlier, now),
            ScanTime::AsSent(earlier.with_timezone(&Utc))
        );
        let ahead = at("2026-11-23T09:04:00+07:00");
        assert_eq!(
            scan_time(ahead, now),
            ScanTime::AsSent(ahead.with_timezone(&Utc))
        );
        // Local time written with a `Z` (7 h ahead), and a year typo: the time received.
        for text in ["2026-11-23T09:00:00Z", "2099-11-23T09:00:00+07:00"] {
            assert_eq!(scan_time(at(text), now), ScanTime::Received(now), "{text}");
        }
    }

    #[test]
    fn push_signatures_verify_only_with_the_key_and_the_exact_body() {
        let body = br#"{"content":[]}"#;
        let sig = push_signature(b"secret-key", body);
        assert!(verify_push_signature(b"secret-key", body, Some(&sig)));
        assert!(!verify_push_signature(b"other-key", body, Some(&sig)));
        assert!(!verify_push_signature(b"secret-key", b"{}", Some(&sig)));
        assert!(!verify_push_signature(b"secret-key", body, None));
        assert!(!verify_push_signature(
            b"secret-key",
            body,
            Some("sha256=zz")
        ));
        assert!(!verify_push_signature(b"secret-key", body, Some("md5=00")));
    }
}
