//! The one-stop desk's work (Decision 45 Art. 8; API.md "Agency operations"): the agency's worklist,
//! its rulings on a dossier it received (accepted for processing, supplements requested with the
//! missing documents named, or refused with reasons), the result (or the written refusal) being ready,
//! and a `send` dossier's result collected in person at the desk.
//!
//! Every change locks the dossier row, asks [`crate::lifecycle::next_status`], and writes its timeline
//! event (and through it the outbox's notifications) in the same transaction.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{DossierStatus, EventKind, EventSource, Role};
use entity::{agency, dossier, leg, procedure};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::access::ensure_access;
use super::access::{Actor, StaffKey};
use super::dossiers::{MAX_DOCUMENT_NAME, MAX_DOCUMENTS, MAX_NOTE, find_by_code_for_update};
use super::{NewEvent, OpError, append_event};
use crate::lifecycle::{Action, next_status};
use crate::sla::{
    LEG_OPEN_STATUSES, RESULT_CLOCK_STATUSES, end_of_local_day, leg_overdue, local_date,
    result_due_date, result_overdue,
};
use crate::store::Store;

/// The agency's ruling on a dossier (API.md `decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accepted,
    SupplementRequested,
    Rejected,
}

impl Decision {
    /// Every decision, for messages.
    pub const ALL: &'static [Decision] = &[
        Decision::Accepted,
        Decision::SupplementRequested,
        Decision::Rejected,
    ];

    /// The API spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Accepted => "accepted",
            Decision::SupplementRequested => "supplement_requested",
            Decision::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.iter().copied().find(|d| d.as_str() == s)
    }
}

/// A ruling as it arrived.
#[derive(Debug, Clone, Default)]
pub struct VerdictRequest {
    /// `accepted` | `supplement_requested` | `rejected`.
    pub decision: Option<String>,
    /// Required to request supplements or to refuse.
    pub reason: Option<String>,
    /// The date on the appointment slip (giấy hẹn), `YYYY-MM-DD`, when the agency sets its own.
    pub result_due_date: Option<String>,
    /// With `supplement_requested`: the documents the citizen must still bring, one name each.
    pub missing_documents: Option<Vec<String>>,
}

/// The key of the agency's staff.
fn agency_key(actor: &Actor) -> Result<&StaffKey, OpError> {
    actor
        .staff_with_role(Role::Agency)
        .ok_or_else(|| OpError::Forbidden("this is the agency's work: use an agency key".into()))
}

/// The documents a supplement request names: each a document's name, at most [`MAX_DOCUMENTS`] of them,
/// and only with `supplement_requested`.
fn check_missing_documents(
    c: &mut super::validation::Checker,
    decision: Option<Decision>,
    names: Option<&[String]>,
) -> Vec<String> {
    let Some(names) = names else {
        return Vec::new();
    };
    if decision.is_some() && decision != Some(Decision::SupplementRequested) {
        c.fail(
            "missing_documents",
            "is only for the decision `supplement_requested`",
        );
        return Vec::new();
    }
    if names.len() > MAX_DOCUMENTS {
        c.fail(
            "missing_documents",
            format!("at most {MAX_DOCUMENTS} documents are allowed"),
        );
        return Vec::new();
    }
    names
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            c.required_text(
                &format!("missing_documents[{i}]"),
                Some(name),
                MAX_DOCUMENT_NAME,
            )
        })
        .collect()
}

/// Records the agency's ruling on a dossier it received.
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn record_verdict(
    store: &Store,
    actor: &Actor,
    code: &str,
    request: &VerdictRequest,
) -> Result<dossier::Model, OpError> {
    agency_key(actor)?;
    let now = crate::clock::now();
    let verdict = check_verdict(request, now)?;
    let (action, kind, outcome) = verdict_move(verdict.decision);
    let note = verdict_note(&verdict.missing, verdict.reason);

    let txn = store.begin().await?;
    let dossier = find_by_code_for_update(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    ensure_access(actor, &dossier)?;
    let from = dossier.status;
    let to = next_status(dossier.service_mode, from, action)?;
    let mut note = note;
    let mut restarted_due = None;
    if from == DossierStatus::SupplementRequested {
        // The agency rules while it waits for a supplement: the supplement is settled first (refused
        // while its parcel is on its way), and an acceptance restarts the processing time now, as the
        // supplement's filing would.
        let accepted = verdict.decision == Decision::Accepted;
        let closed = super::supplements::close_on_verdict(&txn, &dossier, accepted, now).await?;
        if accepted && verdict.due.is_none() {
            let due = restarted_due_date(&txn, &dossier, now).await?;
            restarted_due = Some(due);
        }
        note = join_notes(
            note,
            join_notes(
                closed,
                restarted_due.map(|due| format!("processing time counted anew; result due {due}")),
            ),
        );
    }
    let dossier_id = dossier.id;
    let previous_due = dossier.result_due_at;
    let mut active: dossier::ActiveModel = dossier.into();
    active.status = Set(to);
    active.updated_at = Set(now);
    if let Some(outcome) = outcome {
        active.outcome = Set(Some(outcome.to_owned()));
    }
    if let Some(due) = restarted_due {
        active.result_due_at = Set(Some(end_of_local_day(due)));
        active.result_overdue_raised_at = Set(None);
    }
    if let Some(due) = verdict.due {
        let due_at = end_of_local_day(due);
        if previous_due != Some(due_at) {
            // A new deadline: when it passes, that is a new `overdue` event.
            active.result_due_at = Set(Some(due_at));
            active.result_overdue_raised_at = Set(None);
        }
    }
    let updated = active.update(&txn).await?;
    if verdict.decision == Decision::SupplementRequested {
        super::supplements::record_request(&txn, dossier_id, &verdict.missing, now).await?;
    }
    append_event(
        &txn,
        dossier_id,
        actor,
        NewEvent {
            at: now,
            kind,
            source: EventSource::Api,
            from_status: Some(from),
            to_status: Some(to),
            leg: None,
            location: None,
            note,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// The result due date of a dossier whose processing time starts anew at `now`: its procedure's
/// processing days from that moment, as on a supplement's filing at the desk.
async fn restarted_due_date(
    conn: &impl ConnectionTrait,
    dossier: &dossier::Model,
    now: DateTime<Utc>,
) -> Result<NaiveDate, OpError> {
    let days = procedure::Entity::find_by_id(dossier.procedure_code.clone())
        .one(conn)
        .await?
        .and_then(|p| u32::try_from(p.processing_days).ok())
        .unwrap_or(0);
    let calendar = super::reference::working_calendar(conn).await?;
    Ok(result_due_date(&calendar, now, days))
}

/// Two timeline notes as one, either may be missing.
fn join_notes(first: Option<String>, second: Option<String>) -> Option<String> {
    match (first, second) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

/// A ruling as checked.
struct CheckedVerdict {
    decision: Decision,
    reason: Option<String>,
    missing: Vec<String>,
    due: Option<NaiveDate>,
}

fn check_verdict(request: &VerdictRequest, now: DateTime<Utc>) -> Result<CheckedVerdict, OpError> {
    let mut c = super::validation::Checker::new();
    let decision = check_decision(&mut c, request.decision.as_deref());
    let reason = c.optional_text("reason", request.reason.as_deref(), MAX_NOTE);
    let missing = check_missing_documents(&mut c, decision, request.missing_documents.as_deref());
    if decision == Some(Decision::SupplementRequested)
        && missing.is_empty()
        && !c.has_failed("missing_documents")
        && !(0..MAX_DOCUMENTS).any(|i| c.has_failed(&format!("missing_documents[{i}]")))
    {
        c.fail(
            "missing_documents",
            "is required: name each document the citizen must still send",
        );
    }
    if matches!(
        decision,
        Some(Decision::SupplementRequested | Decision::Rejected)
    ) && reason.is_none()
        && !c.has_failed("reason")
    {
        c.fail(
            "reason",
            "is required: the citizen must be told what to supplement or why the dossier is refused",
        );
    }
    let due = match request.result_due_date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) if d < local_date(now) => {
                c.fail("result_due_date", "must not be in the past");
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                c.fail("result_due_date", "must be a date written YYYY-MM-DD");
                None
            }
        },
    };
    c.finish().map_err(OpError::Validation)?;
    let Some(decision) = decision else {
        return Err(OpError::Validation(vec![]));
    };
    Ok(CheckedVerdict {
        decision,
        reason,
        missing,
        due,
    })
}

fn check_decision(c: &mut super::validation::Checker, decision: Option<&str>) -> Option<Decision> {
    let allowed: Vec<&str> = Decision::ALL.iter().map(|d| d.as_str()).collect();
    match decision {
        None => {
            c.fail(
                "decision",
                format!("is required; one of: {}", allowed.join(", ")),
            );
            None
        }
        Some(d) => {
            let parsed = Decision::parse(d.trim());
            if parsed.is_none() {
                c.fail(
                    "decision",
                    format!("must be one of: {}", allowed.join(", ")),
                );
            }
            parsed
        }
    }
}

/// The timeline note: what to supplement first, as the citizen's e-mail shows it as the list to
/// bring, then the reason.
fn verdict_note(missing: &[String], reason: Option<String>) -> Option<String> {
    if missing.is_empty() {
        reason
    } else {
        let items = missing.join("; ");
        Some(match reason {
            Some(reason) => format!("{items} — {reason}"),
            None => items,
        })
    }
}

/// The lifecycle action, the timeline event and the recorded outcome of a decision.
fn verdict_move(decision: Decision) -> (Action, EventKind, Option<&'static str>) {
    match decision {
        Decision::Accepted => (Action::Accept, EventKind::Accepted, Some("accepted")),
        Decision::SupplementRequested => (
            Action::RequestSupplement,
            EventKind::SupplementRequested,
            None,
        ),
        Decision::Rejected => (Action::Reject, EventKind::Rejected, Some("rejected")),
    }
}

/// Records that the result (or the written refusal) is ready to be collected or carried home.
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn record_result(
    store: &Store,
    actor: &Actor,
    code: &str,
    note: Option<&str>,
) -> Result<dossier::Model, OpError> {
    agency_key(actor)?;
    let mut c = super::validation::Checker::new();
    let note = c.optional_text("note", note, MAX_NOTE);
    c.finish().map_err(OpError::Validation)?;
    let txn = store.begin().await?;
    let dossier = find_by_code_for_update(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    ensure_access(actor, &dossier)?;
    let from = dossier.status;
    let to = next_status(dossier.service_mode, from, Action::RecordResult)?;
    let now = crate::clock::now();
    let dossier_id = dossier.id;
    let updated = super::postal::set_status(&txn, dossier, to, now).await?;
    append_event(
        &txn,
        dossier_id,
        actor,
        NewEvent {
            at: now,
            kind: EventKind::ResultReady,
            source: EventSource::Api,
            from_status: Some(from),
            to_status: Some(to),
            leg: None,
            location: None,
            note,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// What a `send` dossier's citizen signs for when collecting the result at the desk.
#[derive(Debug, Clone, Default)]
pub struct CollectedRequest {
    /// Anything the desk wants on the timeline (no personal data).
    pub note: Option<String>,
}

/// Records that the citizen collected the result (or the written refusal) at the desk: the end of a
/// `send` dossier, whose result the post does not carry home.
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn mark_collected(
    store: &Store,
    actor: &Actor,
    code: &str,
    request: &CollectedRequest,
) -> Result<dossier::Model, OpError> {
    agency_key(actor)?;
    let mut c = super::validation::Checker::new();
    let note = c.optional_text("note", request.note.as_deref(), MAX_NOTE);
    c.finish().map_err(OpError::Validation)?;
    let txn = store.begin().await?;
    let dossier = find_by_code_for_update(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    ensure_access(actor, &dossier)?;
    let from = dossier.status;
    let to = next_status(dossier.service_mode, from, Action::MarkCollected)?;
    let now = crate::clock::now();
    let dossier_id = dossier.id;
    let updated = super::postal::set_status(&txn, dossier, to, now).await?;
    append_event(
        &txn,
        dossier_id,
        actor,
        NewEvent {
            at: now,
            kind: EventKind::CollectedInPerson,
            source: EventSource::Api,
            from_status: Some(from),
            to_status: Some(to),
            leg: None,
            location: None,
            note,
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(dossier.code = %updated.code, "result collected at the desk");
    Ok(updated)
}

/// The longest page of the agency worklist.
pub const MAX_WORKLIST_PAGE: u64 = 200;

/// The page size of the agency worklist when none is asked for.
pub const DEFAULT_WORKLIST_PAGE: u64 = 50;

/// Where a worklist page ends: the last dossier's id, handed to clients as an opaque token so that the
/// next page starts right after it whatever was added or changed meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorklistCursor(i64);

/// The prefix inside an encoded cursor, so that other tokens are not taken for one.
const CURSOR_PREFIX: &str = "w1:";

impl WorklistCursor {
    /// The token given to clients as `next_cursor`.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{}", self.0))
    }

    /// Reads a token given back as `after`; `None` when it is not one this service made.
    pub fn decode(token: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let id: i64 = text.strip_prefix(CURSOR_PREFIX)?.parse().ok()?;
        (id >= 0).then_some(Self(id))
    }
}

/// The worklist as asked for, its parameters already read.
#[derive(Debug, Clone)]
pub struct WorklistQuery {
    /// The agency whose dossiers are listed. An agency key lists its own (naming another is refused);
    /// an administrator may name any, or none for every agency.
    pub agency: Option<String>,
    /// Only dossiers in these statuses; all statuses when empty.
    pub statuses: Vec<DossierStatus>,
    /// Only overdue dossiers (`true`) or only those on time (`false`).
    pub overdue: Option<bool>,
    /// Dossiers per page, 1 to [`MAX_WORKLIST_PAGE`].
    pub limit: u64,
    /// Start after this cursor (a previous page's `next_cursor`).
    pub after: Option<WorklistCursor>,
}

impl Default for WorklistQuery {
    fn default() -> Self {
        Self {
            agency: None,
            statuses: Vec::new(),
            overdue: None,
            limit: DEFAULT_WORKLIST_PAGE,
            after: None,
        }
    }
}

/// One dossier on the worklist, with its parcels.
#[derive(Debug, Clone)]
pub struct WorklistItem {
    pub dossier: dossier::Model,
    /// Inbound first.
    pub legs: Vec<leg::Model>,
    /// Whether a deadline has passed with its work undone, as the dossier view says.
    pub overdue: bool,
}

/// A page of the worklist.
#[derive(Debug, Clone)]
pub struct WorklistPage {
    /// In the order the dossiers were registered (id order).
    pub items: Vec<WorklistItem>,
    /// Where the next page starts; `None` when this page is the last.
    pub next_cursor: Option<WorklistCursor>,
}

/// The agency whose worklist `actor` may read, given the one asked for (`None`: every agency).
async fn worklist_scope(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    asked: Option<&str>,
) -> Result<Option<String>, OpError> {
    let Actor::Staff(key) = actor else {
        return Err(OpError::Forbidden(
            "the worklist is the agency's: use an agency key".into(),
        ));
    };
    match key.role {
        Role::Agency => {
            let own = key.agency_code.clone().ok_or_else(|| {
                OpError::Forbidden("this agency key is not bound to an agency".into())
            })?;
            match asked {
                Some(code) if code != own => Err(OpError::Forbidden(
                    "an agency key lists its own agency's dossiers only".into(),
                )),
                _ => Ok(Some(own)),
            }
        }
        Role::Admin => match asked {
            None => Ok(None),
            Some(code) => {
                agency::Entity::find_by_id(code.to_owned())
                    .one(conn)
                    .await?
                    .ok_or(OpError::NotFound("agency"))?;
                Ok(Some(code.to_owned()))
            }
        },
        Role::Postal => Err(OpError::Forbidden(
            "the worklist is the agency's: use an agency key".into(),
        )),
    }
}

/// The SQL form of [`crate::sla::result_overdue`] or [`crate::sla::leg_overdue`] of any parcel, at
/// `now`. Written so that its negation is exact: no part of it is ever NULL.
fn overdue_condition(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(dossier::Column::Status.is_in(RESULT_CLOCK_STATUSES.iter().copied()))
                .add(dossier::Column::ResultDueAt.is_not_null())
                .add(dossier::Column::ResultDueAt.lt(now)),
        )
        .add(
            dossier::Column::Id.in_subquery(
                Query::select()
                    .column(leg::Column::DossierId)
                    .from(leg::Entity)
                    .and_where(leg::Column::Status.is_in(LEG_OPEN_STATUSES.iter().copied()))
                    .and_where(Expr::col(leg::Column::DueAt).is_not_null())
                    .and_where(leg::Column::DueAt.lt(now))
                    .to_owned(),
            ),
        )
}

/// Dossier ids per statement when the overdue dossiers are read in id order.
const ID_CHUNK: usize = 500;

/// The first `wanted` overdue dossiers after id `after`, in id order. Overdue dossiers are open work past
/// its deadline — few, however many dossiers were ever filed — so their ids are gathered first from the
/// parcels' and the desks' deadlines (indexed by status and due time), and only those dossiers are read;
/// walking every dossier of the agency in id order to find them would read its whole history.
async fn overdue_dossiers(
    conn: &impl ConnectionTrait,
    scope: Option<&str>,
    statuses: &[DossierStatus],
    after: i64,
    wanted: u64,
    now: DateTime<Utc>,
) -> Result<Vec<dossier::Model>, OpError> {
    let mut late_parcels = leg::Entity::find()
        .select_only()
        .column(leg::Column::DossierId)
        .filter(leg::Column::Status.is_in(LEG_OPEN_STATUSES.iter().copied()))
        .filter(leg::Column::DueAt.lt(now))
        .filter(leg::Column::DossierId.gt(after));
    let mut late_desks = dossier::Entity::find()
        .select_only()
        .column(dossier::Column::Id)
        .filter(dossier::Column::Status.is_in(RESULT_CLOCK_STATUSES.iter().copied()))
        .filter(dossier::Column::ResultDueAt.lt(now))
        .filter(dossier::Column::Id.gt(after));
    if let Some(code) = scope {
        late_parcels = late_parcels
            .inner_join(dossier::Entity)
            .filter(dossier::Column::AgencyCode.eq(code));
        late_desks = late_desks.filter(dossier::Column::AgencyCode.eq(code));
    }
    let mut ids: Vec<i64> = late_parcels.into_tuple().all(conn).await?;
    ids.extend(late_desks.into_tuple::<i64>().all(conn).await?);
    ids.sort_unstable();
    ids.dedup();
    let wanted = usize::try_from(wanted).unwrap_or(usize::MAX);
    let mut found = Vec::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let mut select = dossier::Entity::find()
            .filter(dossier::Column::Id.is_in(chunk.iter().copied()))
            .filter(overdue_condition(now))
            .order_by_asc(dossier::Column::Id);
        if !statuses.is_empty() {
            select = select.filter(dossier::Column::Status.is_in(statuses.iter().copied()));
        }
        found.extend(select.all(conn).await?);
        if found.len() >= wanted {
            found.truncate(wanted);
            break;
        }
    }
    Ok(found)
}

/// A page of the agency's worklist: its dossiers in registration order, filtered by status and by
/// whether a deadline has passed, after a cursor.
pub async fn list_worklist(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    query: &WorklistQuery,
    now: DateTime<Utc>,
) -> Result<WorklistPage, OpError> {
    let scope = worklist_scope(conn, actor, query.agency.as_deref()).await?;
    let limit = query.limit.clamp(1, MAX_WORKLIST_PAGE);
    let after = query.after.map_or(0, |WorklistCursor(id)| id);
    let mut dossiers = if query.overdue == Some(true) {
        overdue_dossiers(
            conn,
            scope.as_deref(),
            &query.statuses,
            after,
            limit + 1,
            now,
        )
        .await?
    } else {
        let mut select = dossier::Entity::find()
            .filter(dossier::Column::Id.gt(after))
            .order_by_asc(dossier::Column::Id)
            .limit(limit + 1);
        if let Some(code) = scope {
            select = select.filter(dossier::Column::AgencyCode.eq(code));
        }
        if !query.statuses.is_empty() {
            select = select.filter(dossier::Column::Status.is_in(query.statuses.iter().copied()));
        }
        if query.overdue == Some(false) {
            select = select.filter(overdue_condition(now).not());
        }
        select.all(conn).await?
    };
    let more = u64::try_from(dossiers.len()).unwrap_or(u64::MAX) > limit;
    dossiers.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut legs: std::collections::HashMap<i64, Vec<leg::Model>> = Default::default();
    if !dossiers.is_empty() {
        for l in leg::Entity::find()
            .filter(leg::Column::DossierId.is_in(dossiers.iter().map(|d| d.id)))
            .order_by_asc(leg::Column::Id)
            .all(conn)
            .await?
        {
            legs.entry(l.dossier_id).or_default().push(l);
        }
    }
    let next_cursor = more
        .then(|| dossiers.last().map(|d| WorklistCursor(d.id)))
        .flatten();
    let items = dossiers
        .into_iter()
        .map(|dossier| {
            let legs = legs.remove(&dossier.id).unwrap_or_default();
            let overdue = result_overdue(dossier.status, dossier.result_due_at, now)
                || legs.iter().any(|l| leg_overdue(l.status, l.due_at, now));
            WorklistItem {
                dossier,
                legs,
                overdue,
            }
        })
        .collect();
    Ok(WorklistPage { items, next_cursor })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_foreign_tokens() {
        for id in [0, 1, 42, i64::MAX] {
            let token = WorklistCursor(id).encode();
            assert!(
                token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
            assert_eq!(WorklistCursor::decode(&token), Some(WorklistCursor(id)));
        }
        for bad in [
            "",
            "42",
            "abc",
            "!!!",
            &URL_SAFE_NO_PAD.encode("w1:-3"),
            &URL_SAFE_NO_PAD.encode("x1:3"),
            &URL_SAFE_NO_PAD.encode("w1:3x"),
        ] {
            assert_eq!(WorklistCursor::decode(bad), None, "{bad}");
        }
    }
}
