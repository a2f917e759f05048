//! Ingest of the carrier's tracking records, polled from its feed or pushed to us: one path for both,
//! so a pushed copy and a polled copy of one record are one event.
//!
//! Rules:
//! - a record is stored once per (item code, carrier event id): the schema's UNIQUE index, and
//!   `INSERT … ON CONFLICT DO NOTHING` in batches, so replays and duplicates change nothing;
//! - records of items nobody here knows are kept with no dossier, for staff to reconcile;
//! - what a status code does is [`crate::carrier_codes`]'s table; codes that stand for a scan event go
//!   through [`super::scans::apply_machine_scans`] with source `carrier` and the deterministic scan id
//!   `carrier:{item}:{event id}`, so the timeline and audit are those of a handheld scan and a dossier
//!   never moves backwards (late events only join the timeline);
//! - a batch is one transaction; the feed's cursor ([`ingest_feed`]) advances in that same
//!   transaction, and only while the caller still holds the cursor's lease.
//!
//! Workers share the feed through the cursor row's lease, a compare-and-set on `lease_until` that
//! works on both databases: whoever sets it reads the feed; an expired lease is taken over.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use entity::enums::EventSource;
use entity::{carrier_cursor, carrier_event, leg};
use hmac::{Hmac, Mac};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::OpError;
use super::access::Actor;
use super::scans::{MachineScan, ScanOutcome, apply_machine_scans};
use crate::carrier_codes::scan_event_of;
use crate::s10::ItemCode;
use crate::store::Store;

/// The carrier this system speaks to (its rows in `carrier_events` and `carrier_cursor`).
pub const CARRIER: &str = "vnpost";

/// Rows per bulk statement: well under both databases' limits on bound parameters.
const CHUNK: usize = 400;

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
    /// Pushed by the carrier to `POST /api/v1/carrier/events`.
    Push,
}

impl ReceivedVia {
    fn as_str(self) -> &'static str {
        match self {
            ReceivedVia::Poll => "poll",
            ReceivedVia::Push => "push",
        }
    }
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Records stored for the first time.
    pub new: u64,
    /// Records already stored (or repeated within the batch): nothing changed for them.
    pub duplicates: u64,
    /// New records of items nobody here knows, kept for reconciliation.
    pub unknown_items: u64,
    /// New records that moved a dossier's status.
    pub applied: u64,
}

/// Stores `records` and applies the new ones, in one transaction of its own.
pub async fn ingest(
    store: &Store,
    records: &[CarrierRecord],
    via: ReceivedVia,
) -> Result<IngestReport, OpError> {
    let txn = store.begin().await?;
    let report = ingest_in(&txn, records, via).await?;
    txn.commit().await?;
    Ok(report)
}

/// [`ingest`] inside the caller's transaction (nothing is visible until it commits).
#[tracing::instrument(skip_all, fields(carrier.records = records.len(), carrier.via = via.as_str()))]
pub async fn ingest_in(
    txn: &impl ConnectionTrait,
    records: &[CarrierRecord],
    via: ReceivedVia,
) -> Result<IngestReport, OpError> {
    let mut report = IngestReport::default();
    let mut seen = HashSet::new();
    let mut batch = Vec::with_capacity(records.len());
    for record in records {
        if seen.insert((record.item_code.as_str(), record.id)) {
            batch.push(record);
        } else {
            report.duplicates += 1;
        }
    }
    if batch.is_empty() {
        return Ok(report);
    }

    // 1. The records stored before.
    let mut known: HashSet<(String, i64)> = HashSet::new();
    for chunk in batch.chunks(CHUNK) {
        let ids: Vec<i64> = chunk.iter().map(|r| r.id).collect();
        let rows: Vec<(String, i64)> = carrier_event::Entity::find()
            .select_only()
            .column(carrier_event::Column::ItemCode)
            .column(carrier_event::Column::CarrierEventId)
            .filter(carrier_event::Column::CarrierEventId.is_in(ids))
            .into_tuple()
            .all(txn)
            .await?;
        known.extend(rows);
    }
    let fresh: Vec<&CarrierRecord> = batch
        .into_iter()
        .filter(|r| {
            let stored = known.contains(&(r.item_code.clone(), r.id));
            if stored {
                report.duplicates += 1;
            }
            !stored
        })
        .collect();
    if fresh.is_empty() {
        return Ok(report);
    }

    // 2. Their dossiers, by item code.
    let mut dossier_of: HashMap<String, i64> = HashMap::new();
    let codes: Vec<String> = fresh
        .iter()
        .map(|r| r.item_code.clone())
        .filter(|c| !c.is_empty())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for chunk in codes.chunks(CHUNK) {
        let rows: Vec<(Option<String>, i64)> = leg::Entity::find()
            .select_only()
            .column(leg::Column::ItemCode)
            .column(leg::Column::DossierId)
            .filter(leg::Column::ItemCode.is_in(chunk.to_vec()))
            .into_tuple()
            .all(txn)
            .await?;
        dossier_of.extend(rows.into_iter().filter_map(|(c, d)| c.map(|c| (c, d))));
    }

    // 3. Store them; a copy committed meanwhile by another transaction is skipped by the key.
    let now = crate::clock::now();
    let mut inserted = 0u64;
    let mut scans = Vec::new();
    for chunk in fresh.chunks(CHUNK) {
        let rows = chunk.iter().map(|r| {
            let dossier_id = dossier_of.get(&r.item_code).copied();
            carrier_event::ActiveModel {
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
                dossier_id: Set(dossier_id),
                received_via: Set(via.as_str().to_owned()),
                received_at: Set(now),
                ..Default::default()
            }
        });
        inserted += carrier_event::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    carrier_event::Column::ItemCode,
                    carrier_event::Column::CarrierEventId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    for r in &fresh {
        if !dossier_of.contains_key(&r.item_code) {
            report.unknown_items += 1;
            continue;
        }
        let (Some(event), Ok(item_code)) =
            (scan_event_of(r.status_code), ItemCode::parse(&r.item_code))
        else {
            continue;
        };
        scans.push(MachineScan {
            scan_id: format!("carrier:{}:{}", item_code.as_str(), r.id),
            item_code,
            event,
            at: r.event_time.with_timezone(&Utc),
            location: (!r.pos_id.trim().is_empty()).then(|| r.pos_id.trim().to_owned()),
            note: (!r.status_message.trim().is_empty()).then(|| r.status_message.trim().to_owned()),
        });
    }
    report.new = inserted;
    report.duplicates += (fresh.len() as u64).saturating_sub(inserted);

    // 4. Through the scans path: the same rules, timeline and audit as a handheld scan.
    if !scans.is_empty() {
        let outcomes =
            apply_machine_scans(txn, &Actor::System, EventSource::Carrier, scans).await?;
        report.applied = outcomes
            .iter()
            .filter(|o| matches!(o, ScanOutcome::Accepted { applied: true, .. }))
            .count() as u64;
    }
    Ok(report)
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
    let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60));
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

/// Stores a batch read from the feed and moves the cursor to `cursor` (never backwards) in the same
/// transaction, releasing the lease. `None` when `holder` no longer holds the lease: nothing is
/// stored, and whoever holds it now reads the same records again.
pub async fn ingest_feed(
    store: &Store,
    holder: &str,
    records: &[CarrierRecord],
    cursor: i64,
) -> Result<Option<IngestReport>, OpError> {
    let txn = store.begin().await?;
    let current = carrier_cursor::Entity::find_by_id(CARRIER.to_owned())
        .one(&txn)
        .await?;
    let Some(current) = current.filter(|c| c.lease_holder.as_deref() == Some(holder)) else {
        return Ok(None);
    };
    let report = ingest_in(&txn, records, ReceivedVia::Poll).await?;
    let moved = carrier_cursor::Entity::update_many()
        .col_expr(
            carrier_cursor::Column::LastId,
            Expr::value(cursor.max(current.last_id)),
        )
        .col_expr(
            carrier_cursor::Column::LeaseHolder,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            carrier_cursor::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            carrier_cursor::Column::UpdatedAt,
            Expr::value(crate::clock::now()),
        )
        .filter(carrier_cursor::Column::Carrier.eq(CARRIER))
        .filter(carrier_cursor::Column::LeaseHolder.eq(holder))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Ok(None);
    }
    txn.commit().await?;
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
