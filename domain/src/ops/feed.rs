//! The change feed (API.md "Integration"): every timeline event once, in commit order, paged with a
//! cursor, for agency systems and the national integration platform.
//!
//! The hard part is "never skipping an event committed late". On PostgreSQL ids come from a sequence
//! in insert order, not commit order: a transaction can take id 10, a faster one take id 11 and commit,
//! a reader page up to 11, and only then 10 commits — behind the reader's cursor. So each event row
//! carries the id of the transaction that wrote it (`txid`, filled in by the column default), the feed
//! orders by `(txid, id)`, and it only reads rows whose transaction is older than the oldest
//! transaction still running (`pg_snapshot_xmin` of the statement's own snapshot). Every transaction
//! below that horizon has finished, so no row can appear there any more; every row not yet visible
//! belongs to a transaction at or above it, and therefore sorts after any cursor the feed has handed
//! out. The price: while a transaction stays open, the feed waits at it (it does not skip past).
//!
//! On SQLite one writer at a time commits, ids follow commit order, and the feed orders by id alone
//! (`txid` reads as 0).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::enums::{DossierStatus, EventKind, EventSource, Role};
use entity::{dossier, dossier_event};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::OpError;
use super::access::Actor;

/// Events per page when the caller does not say.
pub const DEFAULT_LIMIT: u64 = 100;
/// The most events one page may ask for.
pub const MAX_LIMIT: u64 = 1000;

/// A position in the feed: just after the event with this `(txid, id)`. Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FeedCursor {
    pub txid: i64,
    pub id: i64,
}

/// Why a cursor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the cursor is not one this feed handed out; pass a `next_cursor`, or nothing to start over"
)]
pub struct BadCursor;

impl FeedCursor {
    /// Before the first event.
    pub const START: FeedCursor = FeedCursor { txid: 0, id: 0 };

    /// The cursor as clients see it: base64url of the two numbers, big-endian.
    pub fn encode(self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.txid.to_be_bytes());
        bytes[8..].copy_from_slice(&self.id.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a cursor from [`FeedCursor::encode`].
    pub fn decode(s: &str) -> Result<Self, BadCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| BadCursor)?;
        let bytes: [u8; 16] = bytes.try_into().map_err(|_| BadCursor)?;
        let mut txid = [0u8; 8];
        let mut id = [0u8; 8];
        txid.copy_from_slice(&bytes[..8]);
        id.copy_from_slice(&bytes[8..]);
        let cursor = FeedCursor {
            txid: i64::from_be_bytes(txid),
            id: i64::from_be_bytes(id),
        };
        if cursor.txid < 0 || cursor.id < 0 {
            return Err(BadCursor);
        }
        Ok(cursor)
    }
}

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub cursor: FeedCursor,
    pub dossier_code: String,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    /// The dossier's status after the event (`None` when the event did not change it).
    pub status: Option<DossierStatus>,
    pub source: EventSource,
}

/// A page of the feed, and where the next one starts (where this one started, when it is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    pub events: Vec<FeedEvent>,
    pub next_cursor: FeedCursor,
}

#[derive(Debug, FromQueryResult)]
struct FeedRow {
    id: i64,
    txid: Option<i64>,
    at: DateTime<Utc>,
    kind: EventKind,
    to_status: Option<DossierStatus>,
    source: EventSource,
    dossier_code: String,
}

/// The events after `after`, oldest commit first: all of them for an admin key, those of the agency's
/// own dossiers for an agency key; nobody else reads the feed.
#[tracing::instrument(skip_all, fields(feed.limit = limit))]
pub async fn read_feed(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    after: FeedCursor,
    limit: u64,
) -> Result<FeedPage, OpError> {
    let agency_code = match actor {
        Actor::Staff(key) if key.role == Role::Admin => None,
        Actor::Staff(key) if key.role == Role::Agency => match &key.agency_code {
            Some(code) => Some(code.clone()),
            None => return Err(OpError::Forbidden("this agency key has no agency".into())),
        },
        _ => {
            return Err(OpError::Forbidden(
                "the change feed is for admin and agency keys".into(),
            ));
        }
    };
    let limit = limit.clamp(1, MAX_LIMIT);
    let txid = (dossier_event::Entity, dossier_event::Column::Txid);
    let id = (dossier_event::Entity, dossier_event::Column::Id);
    let mut query = dossier_event::Entity::find()
        .select_only()
        .columns([
            dossier_event::Column::Id,
            dossier_event::Column::Txid,
            dossier_event::Column::At,
            dossier_event::Column::Kind,
            dossier_event::Column::ToStatus,
            dossier_event::Column::Source,
        ])
        .column_as(dossier::Column::Code, "dossier_code")
        .inner_join(dossier::Entity);
    if conn.get_database_backend() == DbBackend::Postgres {
        query = query
            .filter(
                Expr::tuple([Expr::col(txid), Expr::col(id)])
                    .gt(Expr::tuple([Expr::val(after.txid), Expr::val(after.id)])),
            )
            .filter(Expr::col(txid).lt(Expr::cust(
                "pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
            )))
            .order_by_asc(Expr::col(txid))
            .order_by_asc(Expr::col(id));
    } else {
        query = query
            .filter(Expr::col(id).gt(after.id))
            .order_by_asc(Expr::col(id));
    }
    if let Some(code) = agency_code {
        query = query.filter(dossier::Column::AgencyCode.eq(code));
    }
    let rows = query.limit(limit).into_model::<FeedRow>().all(conn).await?;
    let events: Vec<FeedEvent> = rows
        .into_iter()
        .map(|r| FeedEvent {
            cursor: FeedCursor {
                txid: r.txid.unwrap_or(0),
                id: r.id,
            },
            dossier_code: r.dossier_code,
            at: r.at,
            kind: r.kind,
            status: r.to_status,
            source: r.source,
        })
        .collect();
    let next_cursor = events.last().map_or(after, |e| e.cursor);
    Ok(FeedPage {
        events,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_itself() {
        for cursor in [
            FeedCursor::START,
            FeedCursor { txid: 0, id: 42 },
            FeedCursor {
                txid: 4_294_967_296 + 7,
                id: i64::MAX,
            },
        ] {
            assert_eq!(FeedCursor::decode(&cursor.encode()), Ok(cursor));
        }
    }

    #[test]
    fn a_cursor_not_made_by_the_feed_is_refused() {
        let negative = {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&(-1i64).to_be_bytes());
            URL_SAFE_NO_PAD.encode(bytes)
        };
        for bad in [
            "",
            "abc",
            "not a cursor!",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &negative,
        ] {
            assert_eq!(FeedCursor::decode(bad), Err(BadCursor), "{bad}");
        }
    }
}
