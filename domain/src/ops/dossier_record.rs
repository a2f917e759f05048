//! A dossier as it is read: its row with its legs, timeline, incidents and supplements, for the actor
//! entitled to it ([`view_dossier`]) or for the tracking page ([`track`]); and the public tracking
//! view, which reads only what it shows ([`track_public`]).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use entity::enums::{DossierStatus, EventKind, LegDirection, LegPurpose, LegStatus, ServiceMode};
use entity::{agency, dossier, dossier_event, leg};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    FromQueryResult, IdenStatic, Iterable, QueryFilter, QueryOrder, QueryResult, Statement, sqlx,
};
use serde::de::DeserializeOwned;

use super::OpError;
use super::access::{Access, Actor};
use super::dossiers::{SlipDocument, find_by_code, redact_for_post};
use crate::codes::normalize_dossier_code;
use crate::s10::{ItemCode, looks_like_item_code};
use crate::store::{Store, postgres_connection, query_error};

/// A dossier with its legs and timeline (oldest first), and its agency's name.
#[derive(Debug, Clone)]
pub struct DossierRecord {
    pub dossier: dossier::Model,
    pub agency_name: String,
    pub legs: Vec<leg::Model>,
    pub timeline: Vec<dossier_event::Model>,
    /// Lost, damaged or delayed parcels (Decision 45 Art. 14), oldest first; not read for the
    /// public tracking view.
    pub incidents: Vec<entity::incident::Model>,
    /// The supplements the agency asked for, oldest first (empty in the public tracking view).
    pub supplements: Vec<entity::supplement::Model>,
}

impl DossierRecord {
    /// The documents the agency asked for, while the dossier waits for them (`supplement_requested`
    /// and the supplement not filed yet); empty otherwise.
    pub fn missing_documents(&self) -> Vec<String> {
        match self.supplements.last() {
            Some(s)
                if s.filed_at.is_none()
                    && self.dossier.status == entity::enums::DossierStatus::SupplementRequested =>
            {
                super::supplements::missing_documents(s)
            }
            _ => Vec::new(),
        }
    }

    /// The supplement whose parcel waits for its pickup (requested, scheduled or failed), with that
    /// parcel, while the dossier waits for it; `None` otherwise.
    pub fn supplement_waiting_for_pickup(
        &self,
    ) -> Option<(&entity::supplement::Model, &leg::Model)> {
        if self.dossier.status != entity::enums::DossierStatus::SupplementRequested {
            return None;
        }
        let supplement = self.supplements.last().filter(|s| s.filed_at.is_none())?;
        let parcel = self.legs.iter().find(|l| Some(l.id) == supplement.leg_id)?;
        super::supplements::pickup_stage(parcel.status).map(|_| (supplement, parcel))
    }

    /// Whether a legal deadline has passed with its work undone: the agency's result deadline while
    /// the dossier is with the agency, or a parcel's delivery deadline while it is on its way.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        let with_agency = matches!(
            self.dossier.status,
            DossierStatus::ReceivedByAgency
                | DossierStatus::Processing
                | DossierStatus::AwaitingResult
        );
        let agency_late = with_agency && self.dossier.result_due_at.is_some_and(|due| due < now);
        let leg_late = self.legs.iter().any(|leg| {
            !matches!(
                leg.status,
                LegStatus::Delivered
                    | LegStatus::HandedOver
                    | LegStatus::Returned
                    | LegStatus::Cancelled
            ) && leg.due_at.is_some_and(|due| due < now)
        });
        agency_late || leg_late
    }

    /// The dossier's slip documents.
    pub fn documents(&self) -> Vec<SlipDocument> {
        serde_json::from_value(self.dossier.documents.clone()).unwrap_or_default()
    }
}

/// What the public tracking view shows of a dossier, and all it reads: no name, phone, e-mail, id
/// number or street address is fetched for it.
#[derive(Debug, Clone)]
pub struct PublicTrack {
    pub code: String,
    pub status: DossierStatus,
    pub service_mode: ServiceMode,
    pub agency_name: String,
    /// Inbound first, in the order they were made.
    pub legs: Vec<PublicLeg>,
    /// Oldest first.
    pub timeline: Vec<PublicEvent>,
}

/// A parcel in the public tracking view.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PublicLeg {
    pub direction: LegDirection,
    pub purpose: Option<LegPurpose>,
    pub item_code: Option<String>,
    pub status: LegStatus,
    pub due_at: Option<DateTime<Utc>>,
}

/// A timeline entry in the public tracking view.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PublicEvent {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub to_status: Option<DossierStatus>,
    pub location: Option<String>,
}

/// Finds a dossier by its code or by the item code of one of its parcels.
pub async fn find_by_code_or_item(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<dossier::Model>, OpError> {
    if looks_like_item_code(code.trim()) {
        let Ok(item) = ItemCode::parse(code) else {
            return Ok(None);
        };
        let found = leg::Entity::find()
            .filter(leg::Column::ItemCode.eq(item.as_str()))
            .find_also_related(dossier::Entity)
            .one(conn)
            .await?;
        return Ok(found.and_then(|(_, d)| d));
    }
    find_by_code(conn, code).await
}

/// [`find_by_code_or_item`] and [`legs_and_timeline`] as one statement: the dossier's row with its
/// legs and timeline alongside as JSON arrays, in the same order.
async fn track_in_one_statement(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<(dossier::Model, Vec<leg::Model>, Vec<dossier_event::Model>)>, OpError> {
    let Some((row, legs, timeline)) = tracking_row(conn, code, TrackingRead::Record).await? else {
        return Ok(None);
    };
    let dossier = dossier::Model::from_query_result(&row, "")?;
    Ok(Some((dossier, legs, timeline)))
}

/// The public tracking view's fields of a dossier, its legs and its timeline in one statement, and
/// the dossier's agency code.
async fn public_track_row(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<(PublicTrack, String)>, OpError> {
    let Some((row, legs, timeline)) = tracking_row(conn, code, TrackingRead::Public).await? else {
        return Ok(None);
    };
    let track = PublicTrack {
        code: row.try_get("", "code")?,
        status: row.try_get("", "status")?,
        service_mode: row.try_get("", "service_mode")?,
        agency_name: String::new(),
        legs,
        timeline,
    };
    Ok(Some((track, row.try_get("", "agency_code")?)))
}

/// [`public_track_row`] on PostgreSQL through the pool's driver itself: the same statement, bound
/// and read without sea-orm's statement, value and row conversions, and without copying the SQL or
/// the row's text — the busiest public read, where those cost about a tenth of the server's CPU
/// (alternating pairs, `bench/scripts/track-ab.sh`).
async fn public_track_row_postgres(
    db: &DatabaseConnection,
    code: &str,
) -> Result<Option<(PublicTrack, String)>, OpError> {
    use sqlx::Row;

    let Some((sql, value)) = TrackingRead::Public.statement_for(DbBackend::Postgres, code) else {
        return Ok(None);
    };
    let mut conn = postgres_connection(db).await?;
    let row = sqlx::query(sql)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await
        .map_err(query_error)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let text = |column: &str| row.try_get::<&str, _>(column).map_err(query_error);
    let track = PublicTrack {
        code: text("code")?.to_owned(),
        status: text("status")?.parse().map_err(unknown_value)?,
        service_mode: text("service_mode")?.parse().map_err(unknown_value)?,
        agency_name: String::new(),
        legs: serde_json::from_str(text("track_legs")?).map_err(unreadable)?,
        timeline: serde_json::from_str(text("track_events")?).map_err(unreadable)?,
    };
    Ok(Some((track, text("agency_code")?.to_owned())))
}

fn unknown_value(err: entity::enums::UnknownValue) -> OpError {
    OpError::Db(DbErr::Type(err.to_string()))
}

/// The two tracking statements: the whole record (the tracking page) and the public view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackingRead {
    /// The dossier's whole row, and each parcel's and event's.
    Record,
    /// Only what the public view shows.
    Public,
}

/// One tracking statement for a backend: by dossier code and by item code.
struct TrackingStatements {
    by_code: String,
    by_item: String,
}

impl TrackingRead {
    /// The statement on `backend` that finds the dossier `code` names (an item code, or else a
    /// dossier code), with the value it binds: the item code, or the dossier code written as stored;
    /// `None` when the text can be neither.
    fn statement_for(self, backend: DbBackend, code: &str) -> Option<(&'static str, String)> {
        let statements = self.statements(backend);
        let code = code.trim();
        if looks_like_item_code(code) {
            let item = ItemCode::parse(code).ok()?;
            Some((statements.by_item.as_str(), item.as_str().to_owned()))
        } else {
            Some((statements.by_code.as_str(), normalize_dossier_code(code)?))
        }
    }

    /// The statements, written once for each backend: the busiest public read does not format its
    /// SQL anew on every request.
    fn statements(self, backend: DbBackend) -> &'static TrackingStatements {
        static RECORD_POSTGRES: LazyLock<TrackingStatements> =
            LazyLock::new(|| TrackingRead::Record.write(DbBackend::Postgres));
        static RECORD_SQLITE: LazyLock<TrackingStatements> =
            LazyLock::new(|| TrackingRead::Record.write(DbBackend::Sqlite));
        static PUBLIC_POSTGRES: LazyLock<TrackingStatements> =
            LazyLock::new(|| TrackingRead::Public.write(DbBackend::Postgres));
        static PUBLIC_SQLITE: LazyLock<TrackingStatements> =
            LazyLock::new(|| TrackingRead::Public.write(DbBackend::Sqlite));
        match (self, backend == DbBackend::Postgres) {
            (TrackingRead::Record, true) => &RECORD_POSTGRES,
            (TrackingRead::Record, false) => &RECORD_SQLITE,
            (TrackingRead::Public, true) => &PUBLIC_POSTGRES,
            (TrackingRead::Public, false) => &PUBLIC_SQLITE,
        }
    }

    /// The statement on `backend` (PostgreSQL or SQLite): the dossier found by its code or by one of
    /// its parcels' item code (`$1`), with its legs (by id) and its timeline (oldest first) as JSON
    /// arrays named `track_legs` and `track_events`.
    fn write(self, backend: DbBackend) -> TrackingStatements {
        // What of each parcel and event the arrays hold: the whole row, or `'name', alias.column`
        // pairs (`l` for the parcel, `e` for the event).
        let (columns, fields) = match self {
            TrackingRead::Record => ("d.*", None),
            TrackingRead::Public => (
                "d.code, d.status, d.service_mode, d.agency_code",
                Some((
                    "'direction', l.direction, 'purpose', l.purpose, 'item_code', l.item_code, \
                     'status', l.status, 'due_at', l.due_at",
                    "'at', e.at, 'kind', e.kind, 'to_status', e.to_status, 'location', e.location",
                )),
            ),
        };
        let statement = |filter: &str| {
            if backend == DbBackend::Postgres {
                let (leg, event) = match fields {
                    None => ("l".to_owned(), "e".to_owned()),
                    Some((leg, event)) => (
                        format!("json_build_object({leg})"),
                        format!("json_build_object({event})"),
                    ),
                };
                format!(
                    "SELECT {columns}, \
                     (SELECT coalesce(json_agg({leg} ORDER BY l.id), '[]')::text \
                      FROM legs l WHERE l.dossier_id = d.id) AS track_legs, \
                     (SELECT coalesce(json_agg({event} ORDER BY e.at, e.id), '[]')::text \
                      FROM dossier_events e WHERE e.dossier_id = d.id) AS track_events \
                     FROM dossiers d WHERE {filter}"
                )
            } else {
                // SQLite has no row-to-JSON: a whole row's object names every column of the entity.
                let (leg, event) = match fields {
                    None => (
                        json_object_args::<leg::Entity>("l"),
                        json_object_args::<dossier_event::Entity>("e"),
                    ),
                    Some((leg, event)) => (leg.to_owned(), event.to_owned()),
                };
                format!(
                    "SELECT {columns}, \
                     (SELECT json_group_array(json_object({leg}) ORDER BY l.id) \
                      FROM legs l WHERE l.dossier_id = d.id) AS track_legs, \
                     (SELECT json_group_array(json_object({event}) ORDER BY e.at, e.id) \
                      FROM dossier_events e WHERE e.dossier_id = d.id) AS track_events \
                     FROM dossiers d WHERE {}",
                    filter.replace("$1", "?"),
                )
            }
        };
        TrackingStatements {
            by_code: statement("d.code = $1"),
            by_item: statement("d.id = (SELECT dossier_id FROM legs WHERE item_code = $1)"),
        }
    }
}

/// The one statement of a tracking read (see [`TrackingRead::write`]), with its arrays read;
/// `None` when no dossier has that code.
async fn tracking_row<L: DeserializeOwned, E: DeserializeOwned>(
    conn: &impl ConnectionTrait,
    code: &str,
    read: TrackingRead,
) -> Result<Option<(QueryResult, Vec<L>, Vec<E>)>, OpError> {
    let backend = conn.get_database_backend();
    let Some((sql, value)) = read.statement_for(backend, code) else {
        return Ok(None);
    };
    let Some(row) = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [value.into()]))
        .await?
    else {
        return Ok(None);
    };
    let part = |column: &str| -> Result<String, OpError> { Ok(row.try_get("", column)?) };
    let legs = serde_json::from_str(&part("track_legs")?).map_err(unreadable)?;
    let timeline = serde_json::from_str(&part("track_events")?).map_err(unreadable)?;
    Ok(Some((row, legs, timeline)))
}

/// `'column', alias."column", …` for every column of `E`, the arguments of SQLite's `json_object`.
fn json_object_args<E: EntityTrait>(alias: &str) -> String {
    E::Column::iter()
        .map(|c| format!("'{0}', {alias}.\"{0}\"", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn unreadable(err: serde_json::Error) -> OpError {
    OpError::Db(sea_orm::DbErr::Custom(format!(
        "a tracking row could not be read: {err}"
    )))
}

/// A dossier's legs (inbound first) and its timeline, oldest first.
async fn legs_and_timeline(
    conn: &impl ConnectionTrait,
    dossier_id: i64,
) -> Result<(Vec<leg::Model>, Vec<dossier_event::Model>), OpError> {
    let legs = leg::Entity::find()
        .filter(leg::Column::DossierId.eq(dossier_id))
        .order_by_asc(leg::Column::Id)
        .all(conn)
        .await?;
    let timeline = dossier_event::Entity::find()
        .filter(dossier_event::Column::DossierId.eq(dossier_id))
        .order_by_asc(dossier_event::Column::At)
        .order_by_asc(dossier_event::Column::Id)
        .all(conn)
        .await?;
    Ok((legs, timeline))
}

async fn load_record(
    conn: &impl ConnectionTrait,
    dossier: dossier::Model,
) -> Result<DossierRecord, OpError> {
    let agency_name = agency_name(conn, &dossier.agency_code).await?;
    let (legs, timeline) = legs_and_timeline(conn, dossier.id).await?;
    let incidents = super::incidents::incidents_of(conn, &dossier).await?;
    let supplements = super::supplements::list_for_dossier(conn, dossier.id).await?;
    Ok(DossierRecord {
        dossier,
        agency_name,
        legs,
        timeline,
        incidents,
        supplements,
    })
}

/// The whole dossier for an actor entitled to it: `NotFound` when there is no such code, `Forbidden`
/// when it is not theirs.
pub async fn view_dossier(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    code: &str,
) -> Result<DossierRecord, OpError> {
    let dossier = find_by_code(conn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    if actor.may_access(&dossier) == Access::Denied {
        return Err(OpError::Forbidden(
            "this dossier is not yours to see".into(),
        ));
    }
    let mut record = load_record(conn, dossier).await?;
    name_actors_by_reach(conn, &mut record.timeline).await?;
    if actor.staff_with_role(entity::enums::Role::Postal).is_some() {
        redact_for_post(&mut record.dossier);
    }
    Ok(record)
}

/// Names the actor of each timeline event made with an API key by the key's role and its office or
/// agency (`postal:100000`, `agency:UBND-P-HOANKIEM`, `admin`), never by the key's name, which may
/// name a person.
pub async fn name_actors_by_reach(
    conn: &impl ConnectionTrait,
    timeline: &mut [dossier_event::Model],
) -> Result<(), sea_orm::DbErr> {
    let mut ids: Vec<i64> = timeline.iter().filter_map(|e| e.api_key_id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    let keys = entity::api_key::Entity::find()
        .filter(entity::api_key::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    for event in timeline.iter_mut() {
        let Some(id) = event.api_key_id else {
            continue;
        };
        event.actor = match keys.iter().find(|k| k.id == id) {
            Some(k) => match k.office_code.as_deref().or(k.agency_code.as_deref()) {
                Some(reach) => format!("{}:{reach}", k.role),
                None => k.role.to_string(),
            },
            // A key that no longer exists: its role is what the stored name starts with.
            None => event
                .actor
                .split_once(':')
                .map_or_else(|| "staff".to_owned(), |(role, _)| role.to_owned()),
        };
    }
    Ok(())
}

/// The public tracking view of a dossier, by dossier code or item code, on any connection.
pub async fn track_public_on(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<PublicTrack, OpError> {
    let (mut track, agency_code) = public_track_row(conn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    track.agency_name = agency_name(conn, &agency_code).await?;
    Ok(track)
}

/// The public tracking view of a dossier, by dossier code or item code: the busiest public read,
/// one statement, the agency's name from the reference snapshot.
pub async fn track_public(store: &Store, code: &str) -> Result<PublicTrack, OpError> {
    let conn = &store.read;
    let found = if conn.get_database_backend() == DbBackend::Postgres {
        public_track_row_postgres(conn, code).await?
    } else {
        public_track_row(conn, code).await?
    };
    let (mut track, agency_code) = found.ok_or(OpError::NotFound("dossier"))?;
    let catalog = store.catalog.get(conn).await?;
    track.agency_name = match catalog.agency(&agency_code) {
        Some(agency) => agency.name.clone(),
        None => agency_name(conn, &agency_code).await?,
    };
    Ok(track)
}

/// An agency's name, empty when there is no such agency.
async fn agency_name(conn: &impl ConnectionTrait, code: &str) -> Result<String, OpError> {
    Ok(agency::Entity::find_by_id(code.to_owned())
        .one(conn)
        .await?
        .map(|a| a.name)
        .unwrap_or_default())
}

/// The whole record behind the tracking page (`/t/{code}`), by dossier code or item code: the page
/// shows its masked fields to anyone and the whole of it to the citizen with the access token or to
/// staff entitled to it. The public JSON view reads less: [`track_public`].
pub async fn track(store: &Store, code: &str) -> Result<DossierRecord, OpError> {
    let conn = &store.read;
    // One statement instead of three: on the busiest public read, most of the cost of a query is
    // its trip to the server (or SQLite's driver thread) and back.
    let (dossier, legs, timeline) = track_in_one_statement(conn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    // The agency's name comes from the reference snapshot: one query less on the busiest public read.
    let catalog = store.catalog.get(conn).await?;
    let Some(agency_name) = catalog.agency(&dossier.agency_code).map(|a| a.name.clone()) else {
        return load_record(conn, dossier).await;
    };
    Ok(DossierRecord {
        dossier,
        agency_name,
        legs,
        timeline,
        incidents: Vec::new(),
        supplements: Vec::new(),
    })
}
