//! The overdue sweep: when a parcel's delivery deadline (Circular 17 Art. 7) or an agency's result
//! deadline passes with the work undone, the dossier's timeline gets one `overdue` event (source
//! `system`) naming the deadline — once per deadline, however many sweeps run and however many workers
//! run them.
//!
//! "Once" is kept by a marker column (`legs.overdue_raised_at`, `dossiers.result_overdue_raised_at`)
//! set by the same statement that claims the row, in the same transaction as the event: a sweep
//! claims only rows whose marker is unset, so a committed event is never raised again and a rolled-back
//! one is raised by the next sweep. On PostgreSQL the claim skips rows another worker has locked, so
//! concurrent sweeps share the work instead of waiting on each other. The questions asked are those of
//! the dossier views' `overdue` flag ([`crate::sla::leg_overdue`], [`crate::sla::result_overdue`]),
//! and each is answered from a partial index of the rows not raised yet, so a sweep reads only open
//! work past its deadline.

use chrono::{DateTime, Utc};
use entity::enums::{EventKind, EventSource};
use entity::{dossier, dossier_event, leg};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Order, Query, SelectStatement};
use sea_orm::{ActiveValue::Set, ColumnTrait, DbBackend, DbErr, EntityTrait, QueryFilter};

use super::access::Actor;
use super::outbox::enqueue_for_events;
use crate::sla::{LEG_OPEN_STATUSES, RESULT_CLOCK_STATUSES, local_date};
use crate::store::Store;

/// Deadlines raised per transaction, of each kind.
pub const BATCH: u64 = 500;

/// What one sweep raised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Raised {
    /// Parcels' delivery deadlines.
    pub legs: usize,
    /// Agencies' result deadlines.
    pub results: usize,
}

/// Raises, as of `now`, the deadlines that have passed: up to `batch` of each kind, each kind in its
/// own transaction.
pub async fn sweep(store: &Store, now: DateTime<Utc>, batch: u64) -> Result<Raised, DbErr> {
    let legs = raise_leg_deadlines(store, now, batch).await?;
    let results = raise_result_deadlines(store, now, batch).await?;
    Ok(Raised { legs, results })
}

/// Locks the candidate rows of a claim on PostgreSQL, skipping those another sweep holds; SQLite runs
/// one writer at a time anyway.
fn skip_locked(store: &Store, mut candidates: SelectStatement) -> SelectStatement {
    if store.backend() == DbBackend::Postgres {
        candidates.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    candidates
}

/// Parcels still on their way past their due time: marked and given their event.
async fn raise_leg_deadlines(
    store: &Store,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<usize, DbErr> {
    let open = || LEG_OPEN_STATUSES.iter().copied();
    let candidates = skip_locked(
        store,
        Query::select()
            .column(leg::Column::Id)
            .from(leg::Entity)
            .and_where(leg::Column::OverdueRaisedAt.is_null())
            .and_where(leg::Column::Status.is_in(open()))
            .and_where(leg::Column::DueAt.lt(now))
            .order_by(leg::Column::Id, Order::Asc)
            .limit(batch)
            .to_owned(),
    );
    let txn = store.begin().await?;
    // The claim repeats the conditions, so a row that changed since the candidates were read (delivered
    // meanwhile, or raised by another sweep) is left alone.
    let claimed = leg::Entity::update_many()
        .col_expr(leg::Column::OverdueRaisedAt, Expr::value(now))
        .filter(leg::Column::Id.in_subquery(candidates))
        .filter(leg::Column::OverdueRaisedAt.is_null())
        .filter(leg::Column::Status.is_in(open()))
        .filter(leg::Column::DueAt.lt(now))
        .exec_with_returning(&txn)
        .await?;
    let rows: Vec<dossier_event::ActiveModel> = claimed
        .iter()
        .filter_map(|l| {
            let due = l.due_at?;
            let parcel = match &l.item_code {
                Some(item) => format!("{} parcel {item}", l.direction),
                None => format!("{} parcel", l.direction),
            };
            Some(overdue_event(
                l.dossier_id,
                Some(l.direction),
                format!(
                    "{parcel}: delivery due {} (Circular 17 Art. 7) has passed",
                    local_date(due)
                ),
                now,
            ))
        })
        .collect();
    let raised = write_events(&txn, rows).await?;
    txn.commit().await?;
    Ok(raised)
}

/// Dossiers still at the desk past the agency's result due time: marked and given their event.
async fn raise_result_deadlines(
    store: &Store,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<usize, DbErr> {
    let running = || RESULT_CLOCK_STATUSES.iter().copied();
    let candidates = skip_locked(
        store,
        Query::select()
            .column(dossier::Column::Id)
            .from(dossier::Entity)
            .and_where(dossier::Column::ResultOverdueRaisedAt.is_null())
            .and_where(dossier::Column::Status.is_in(running()))
            .and_where(dossier::Column::ResultDueAt.lt(now))
            .order_by(dossier::Column::Id, Order::Asc)
            .limit(batch)
            .to_owned(),
    );
    let txn = store.begin().await?;
    let claimed = dossier::Entity::update_many()
        .col_expr(dossier::Column::ResultOverdueRaisedAt, Expr::value(now))
        .filter(dossier::Column::Id.in_subquery(candidates))
        .filter(dossier::Column::ResultOverdueRaisedAt.is_null())
        .filter(dossier::Column::Status.is_in(running()))
        .filter(dossier::Column::ResultDueAt.lt(now))
        .exec_with_returning(&txn)
        .await?;
    let rows: Vec<dossier_event::ActiveModel> = claimed
        .iter()
        .filter_map(|d| {
            let due = d.result_due_at?;
            Some(overdue_event(
                d.id,
                None,
                format!(
                    "agency result due {} ({}) has passed",
                    local_date(due),
                    d.agency_code
                ),
                now,
            ))
        })
        .collect();
    let raised = write_events(&txn, rows).await?;
    txn.commit().await?;
    Ok(raised)
}

/// An `overdue` timeline row, raised by the service itself.
fn overdue_event(
    dossier_id: i64,
    leg: Option<entity::enums::LegDirection>,
    note: String,
    now: DateTime<Utc>,
) -> dossier_event::ActiveModel {
    dossier_event::ActiveModel {
        dossier_id: Set(dossier_id),
        at: Set(now),
        kind: Set(EventKind::Overdue),
        source: Set(EventSource::System),
        actor: Set(Actor::System.audit_name()),
        api_key_id: Set(None),
        from_status: Set(None),
        to_status: Set(None),
        leg: Set(leg),
        location: Set(None),
        note: Set(Some(note)),
        recorded_at: Set(now),
        ..Default::default()
    }
}

/// Inserts the events and their outbox rows (agency webhooks) inside the sweep's transaction.
async fn write_events(
    txn: &sea_orm::DatabaseTransaction,
    rows: Vec<dossier_event::ActiveModel>,
) -> Result<usize, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    let events = dossier_event::Entity::insert_many(rows)
        .exec_with_returning(txn)
        .await?;
    enqueue_for_events(txn, &events).await?;
    Ok(events.len())
}
