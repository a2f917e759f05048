//! Statements over many rows at once, for the bulk writers (a scanner's batch, the carrier feed).
//!
//! On PostgreSQL a list travels as one JSON parameter that the server expands (`json_array_elements_text`,
//! `json_to_recordset`): the statement text is the same whatever the number of rows, so it is parsed and
//! planned once per connection, and a batch of thousands costs no more to send than its bytes. On SQLite,
//! where binding is an in-process call, the plain `IN (…)` list and multi-row `INSERT … VALUES` are used.

use chrono::{DateTime, Utc};
use entity::dossier_event;
use sea_orm::sea_query::{BinOper, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, Statement,
};
use serde::Serialize;

use super::NewEvent;
use super::access::Actor;

/// `value` as one JSON text parameter.
pub(crate) fn json_param(value: &impl Serialize) -> Result<sea_orm::Value, DbErr> {
    serde_json::to_string(value)
        .map(sea_orm::Value::from)
        .map_err(|e| DbErr::Custom(format!("encoding a JSON parameter: {e}")))
}

/// `column IN (values)` for text values.
pub(crate) fn text_in(
    backend: DbBackend,
    column: impl ColumnTrait,
    values: Vec<String>,
) -> Result<Expr, DbErr> {
    if backend == DbBackend::Postgres {
        let list = Expr::cust_with_values(
            "(SELECT json_array_elements_text($1::json))",
            [json_param(&values)?],
        );
        return Ok(column.into_expr().binary(BinOper::In, list));
    }
    Ok(column.is_in(values))
}

/// `column IN (values)` for ids.
pub(crate) fn id_in(
    backend: DbBackend,
    column: impl ColumnTrait,
    values: &[i64],
) -> Result<Expr, DbErr> {
    if backend == DbBackend::Postgres {
        let list = Expr::cust_with_values(
            "(SELECT value::bigint FROM json_array_elements_text($1::json) AS value)",
            [json_param(&values)?],
        );
        return Ok(column.into_expr().binary(BinOper::In, list));
    }
    Ok(column.is_in(values.iter().copied()))
}

/// A timeline row to write: [`NewEvent`] on a dossier.
pub(crate) struct EventRow {
    pub dossier_id: i64,
    pub event: NewEvent,
}

/// Rows per statement: well under SQLite's limit on bound parameters (12 per row).
const SQLITE_CHUNK: usize = 500;
/// Rows per statement on PostgreSQL (one parameter however many).
const PG_CHUNK: usize = 5000;

/// Appends timeline rows, in their order, and answers them as stored (ids, and `txid` on PostgreSQL),
/// for [`super::outbox::enqueue_for_events`].
pub(crate) async fn insert_events(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    rows: Vec<EventRow>,
    recorded_at: DateTime<Utc>,
) -> Result<Vec<dossier_event::Model>, DbErr> {
    let mut stored = Vec::with_capacity(rows.len());
    if conn.get_database_backend() == DbBackend::Postgres {
        for chunk in rows.chunks(PG_CHUNK) {
            stored.extend(insert_events_pg(conn, actor, chunk, recorded_at).await?);
        }
        return Ok(stored);
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk = rows
            .by_ref()
            .take(SQLITE_CHUNK)
            .map(|r| super::event_row(r.dossier_id, actor, r.event, recorded_at));
        stored.extend(
            dossier_event::Entity::insert_many(chunk.collect::<Vec<_>>())
                .exec_with_returning(conn)
                .await?,
        );
    }
    Ok(stored)
}

/// One timeline row as [`insert_events_pg`] sends it.
#[derive(Serialize)]
struct JsonEvent<'a> {
    dossier_id: i64,
    at: DateTime<Utc>,
    kind: &'static str,
    source: &'static str,
    actor: &'a str,
    api_key_id: Option<i64>,
    from_status: Option<&'static str>,
    to_status: Option<&'static str>,
    leg: Option<&'static str>,
    location: Option<&'a str>,
    note: Option<&'a str>,
}

async fn insert_events_pg(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    rows: &[EventRow],
    recorded_at: DateTime<Utc>,
) -> Result<Vec<dossier_event::Model>, DbErr> {
    // Ids follow the order of the rows (the timeline orders events of the same instant by id).
    const SQL: &str = "INSERT INTO dossier_events (dossier_id, at, kind, source, actor, api_key_id, \
         from_status, to_status, leg, location, note, recorded_at) \
         SELECT r.dossier_id, r.at, r.kind, r.source, r.actor, r.api_key_id, r.from_status, \
         r.to_status, r.leg, r.location, r.note, $2::timestamptz \
         FROM ROWS FROM (json_to_recordset($1::json) AS (dossier_id bigint, at timestamptz, \
         kind text, source text, actor text, api_key_id bigint, from_status text, to_status text, \
         leg text, location text, note text)) WITH ORDINALITY AS r(dossier_id, at, kind, source, \
         actor, api_key_id, from_status, to_status, leg, location, note, n) \
         ORDER BY r.n \
         RETURNING *";
    let actor_name = actor.audit_name();
    let json: Vec<JsonEvent<'_>> = rows
        .iter()
        .map(|r| JsonEvent {
            dossier_id: r.dossier_id,
            at: r.event.at,
            kind: r.event.kind.as_str(),
            source: r.event.source.as_str(),
            actor: &actor_name,
            api_key_id: actor.key_id(),
            from_status: r.event.from_status.map(|s| s.as_str()),
            to_status: r.event.to_status.map(|s| s.as_str()),
            leg: r.event.leg.map(|l| l.as_str()),
            location: r.event.location.as_deref(),
            note: r.event.note.as_deref(),
        })
        .collect();
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        SQL,
        [json_param(&json)?, recorded_at.into()],
    );
    let mut stored = conn
        .query_all_raw(statement)
        .await?
        .iter()
        .map(|row| dossier_event::Model::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING gives the rows in the order they were inserted; make it explicit.
    stored.sort_by_key(|e| e.id);
    Ok(stored)
}
