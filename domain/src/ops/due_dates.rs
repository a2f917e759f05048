//! Due dates after a change of the working calendar: when an administrator enters or removes a
//! holiday or a make-up working day, the deadlines still running (parcels on their way, results the
//! agencies have not yet given) are counted again with the new calendar, in the same transaction as
//! the change, and each dossier's timeline says which date moved. Deadlines already past stay as they
//! are, and so does a date the agency set itself on an appointment slip (one the old calendar would
//! not have given).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::enums::{EventKind, EventSource};
use entity::{dossier, leg, procedure, supplement};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::access::Actor;
use super::{NewEvent, OpError, append_event};
use crate::calendar::WorkingCalendar;
use crate::sla::{
    LEG_OPEN_STATUSES, RESULT_CLOCK_STATUSES, end_of_local_day, leg_due_at, local_date,
    result_due_date,
};

/// Recounts the running deadlines from `before` to `after` (inside the caller's transaction, after its
/// change); returns how many moved.
pub(crate) async fn recompute(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    before: &WorkingCalendar,
    after: &WorkingCalendar,
    now: DateTime<Utc>,
) -> Result<usize, OpError> {
    let parcels = move_parcel_deadlines(conn, actor, before, after, now).await?;
    let results = move_result_deadlines(conn, actor, before, after, now).await?;
    Ok(parcels + results)
}

/// The delivery deadlines of the parcels on their way that `before` set and `after` moves; returns
/// how many moved.
async fn move_parcel_deadlines(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    before: &WorkingCalendar,
    after: &WorkingCalendar,
    now: DateTime<Utc>,
) -> Result<usize, OpError> {
    let mut moved = 0;
    let legs = leg::Entity::find()
        .filter(leg::Column::Status.is_in(LEG_OPEN_STATUSES.iter().copied()))
        .filter(leg::Column::DueAt.gt(now))
        .filter(leg::Column::StartedAt.is_not_null())
        .find_also_related(dossier::Entity)
        .all(conn)
        .await?;
    for (l, d) in legs {
        let (Some(d), Some(started), Some(due)) = (d, l.started_at, l.due_at) else {
            continue;
        };
        // A supplement's parcel is timed without an appointment slip, as at its pickup.
        let appointment = d.with_appointment && l.purpose.is_none();
        if leg_due_at(before, l.route_class, appointment, started) != due {
            continue;
        }
        let new_due = leg_due_at(after, l.route_class, appointment, started);
        if new_due == due {
            continue;
        }
        let direction = l.direction;
        let mut active: leg::ActiveModel = l.into();
        active.due_at = Set(Some(new_due));
        active.updated_at = Set(now);
        active.update(conn).await?;
        append_event(
            conn,
            d.id,
            actor,
            NewEvent {
                at: now,
                kind: EventKind::DueDateMoved,
                source: EventSource::Api,
                from_status: None,
                to_status: None,
                leg: Some(direction),
                location: None,
                note: Some(format!(
                    "{direction} parcel due {} → {} (working calendar changed)",
                    local_date(due),
                    local_date(new_due)
                )),
            },
        )
        .await?;
        moved += 1;
    }
    Ok(moved)
}

/// The agency's result deadlines that `before` set and `after` moves; returns how many moved.
async fn move_result_deadlines(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    before: &WorkingCalendar,
    after: &WorkingCalendar,
    now: DateTime<Utc>,
) -> Result<usize, OpError> {
    let mut moved = 0;
    let dossiers = dossier::Entity::find()
        .filter(dossier::Column::Status.is_in(RESULT_CLOCK_STATUSES.iter().copied()))
        .filter(dossier::Column::ResultDueAt.gt(now))
        .all(conn)
        .await?;
    if dossiers.is_empty() {
        return Ok(0);
    }
    let days: HashMap<String, i32> = procedure::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.code, p.processing_days))
        .collect();
    let restarted = restarts(conn, &dossiers).await?;
    for d in dossiers {
        let Some(due) = d.result_due_at else {
            continue;
        };
        let base = restarted
            .get(&d.id)
            .copied()
            .or(d.filed_at)
            .unwrap_or(d.created_at);
        let n = days
            .get(&d.procedure_code)
            .and_then(|n| u32::try_from(*n).ok())
            .unwrap_or(0);
        if end_of_local_day(result_due_date(before, base, n)) != due {
            continue;
        }
        let new_due = end_of_local_day(result_due_date(after, base, n));
        if new_due == due {
            continue;
        }
        let id = d.id;
        let mut active: dossier::ActiveModel = d.into();
        active.result_due_at = Set(Some(new_due));
        active.updated_at = Set(now);
        active.update(conn).await?;
        append_event(
            conn,
            id,
            actor,
            NewEvent {
                at: now,
                kind: EventKind::DueDateMoved,
                source: EventSource::Api,
                from_status: None,
                to_status: None,
                leg: None,
                location: None,
                note: Some(format!(
                    "agency result due {} → {} (working calendar changed)",
                    local_date(due),
                    local_date(new_due)
                )),
            },
        )
        .await?;
        moved += 1;
    }
    Ok(moved)
}

/// When each dossier's processing time restarted: the latest filing of its supplements, where it had
/// one.
async fn restarts(
    conn: &impl ConnectionTrait,
    dossiers: &[dossier::Model],
) -> Result<HashMap<i64, DateTime<Utc>>, OpError> {
    let mut restarted: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for s in supplement::Entity::find()
        .filter(supplement::Column::DossierId.is_in(dossiers.iter().map(|d| d.id)))
        .filter(supplement::Column::FiledAt.is_not_null())
        .all(conn)
        .await?
    {
        if let Some(filed) = s.filed_at {
            let latest = restarted.entry(s.dossier_id).or_insert(filed);
            *latest = (*latest).max(filed);
        }
    }
    Ok(restarted)
}
