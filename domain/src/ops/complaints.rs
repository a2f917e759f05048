//! Citizens' complaints about the carriage of their dossier (Circular 17 Art. 8). A complaint is filed
//! with the dossier's access token and gets an answer deadline — a number of working days, a setting
//! (15 by default: the sources differ) — and is flagged `overdue` once that passes unanswered.
//! Administrators see every complaint, a post office those about its dossiers; the answer closes the
//! complaint and is e-mailed to the citizen through the outbox. The complaint's text is personal data:
//! it is never logged.

use chrono::{DateTime, Utc};
use entity::enums::{ComplaintStatus, Role};
use entity::{complaint, dossier};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::OpError;
use super::access::{Access, Actor};
use super::dossiers::find_by_code;
use super::outbox::{Notice, enqueue_citizen_email};
use super::validation::Checker;
use crate::sla::{end_of_local_day, local_date};
use crate::store::Store;

/// Working days to answer a complaint when the settings do not say.
pub const DEFAULT_ANSWER_WORKING_DAYS: u32 = 15;

/// The longest complaint or answer accepted.
pub const MAX_COMPLAINT_TEXT: usize = 4000;

/// The most complaints listed on one page.
pub const MAX_LISTED: u64 = 500;

/// Complaints listed on a page when the caller does not say.
pub const DEFAULT_LISTED: u64 = 100;

/// The most complaints about one dossier that may wait for an answer at once: a citizen with more to
/// say adds to an open one's answer, and a token (which costs one pickup request) cannot bury the
/// office's list under complaints about one dossier.
pub const MAX_OPEN_PER_DOSSIER: u64 = 3;

/// One page of complaints, and the cursor of the next when there are more.
#[derive(Debug, Clone)]
pub struct ComplaintsPage {
    pub complaints: Vec<ComplaintView>,
    /// The last complaint's id, when more follow.
    pub next_after: Option<i64>,
}

/// A complaint with its dossier's code.
#[derive(Debug, Clone)]
pub struct ComplaintView {
    pub complaint: complaint::Model,
    pub dossier_code: String,
}

impl ComplaintView {
    /// Open past its answer deadline.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.complaint.status == ComplaintStatus::Open && self.complaint.due_at < now
    }
}

/// Files a citizen's complaint about their dossier: only with that dossier's access token. Due by the
/// end of the `answer_working_days`-th working day after today (local dates).
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn file_complaint(
    store: &Store,
    actor: &Actor,
    code: &str,
    text: Option<&str>,
    answer_working_days: u32,
) -> Result<ComplaintView, OpError> {
    if !matches!(actor, Actor::Citizen { .. }) {
        return Err(OpError::Forbidden(
            "a complaint is filed by the citizen, with the dossier's access token".into(),
        ));
    }
    let mut c = Checker::new();
    let text = c.required_text("text", text, MAX_COMPLAINT_TEXT);
    c.finish().map_err(OpError::Validation)?;
    let Some(text) = text else {
        return Err(OpError::Validation(vec![]));
    };
    let txn = store.begin().await?;
    let dossier = find_by_code(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    if actor.may_access(&dossier) == Access::Denied {
        return Err(OpError::Forbidden("this dossier is not yours".into()));
    }
    let open = complaint::Entity::find()
        .filter(complaint::Column::DossierId.eq(dossier.id))
        .filter(complaint::Column::Status.eq(ComplaintStatus::Open))
        .count(&txn)
        .await?;
    if open >= MAX_OPEN_PER_DOSSIER {
        return Err(OpError::Conflict(format!(
            "{open} complaints about this dossier are waiting for their answer; the post office \
             answers them before it takes another"
        )));
    }
    let calendar = super::reference::working_calendar(&txn).await?;
    let now = crate::clock::now();
    let due = calendar.add_working_days(local_date(now), answer_working_days);
    let stored = complaint::ActiveModel {
        dossier_id: Set(dossier.id),
        text: Set(text),
        status: Set(ComplaintStatus::Open),
        due_at: Set(end_of_local_day(due)),
        answer: Set(None),
        answered_at: Set(None),
        answered_by: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    tracing::info!(complaint.id = stored.id, "complaint filed");
    Ok(ComplaintView {
        complaint: stored,
        dossier_code: dossier.code,
    })
}

/// Whose complaints an actor sees: `None` for all (administrators), `Some(office)` for a post office.
fn scope(actor: &Actor) -> Result<Option<String>, OpError> {
    if actor.staff_with_role(Role::Admin).is_some() {
        return Ok(None);
    }
    match actor.staff_with_role(Role::Postal) {
        Some(key) => key.office_code.clone().map(Some).ok_or_else(|| {
            OpError::Forbidden("this postal key is not bound to a post office".into())
        }),
        None => Err(OpError::Forbidden(
            "complaints are handled by administrators and post offices".into(),
        )),
    }
}

/// The complaints an actor handles, oldest first, in `status` when given: `limit` of them (at most
/// [`MAX_LISTED`]) after the complaint `after`; following `next_after` to the end reaches every one.
pub async fn list_complaints(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    status: Option<ComplaintStatus>,
    after: Option<i64>,
    limit: u64,
) -> Result<ComplaintsPage, OpError> {
    let office = scope(actor)?;
    let limit = limit.clamp(1, MAX_LISTED);
    let mut query = complaint::Entity::find()
        .find_also_related(dossier::Entity)
        .order_by_asc(complaint::Column::Id)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(complaint::Column::Id.gt(after));
    }
    if let Some(status) = status {
        query = query.filter(complaint::Column::Status.eq(status));
    }
    if let Some(office) = office {
        query = query.filter(dossier::Column::OfficeCode.eq(office));
    }
    let mut complaints: Vec<ComplaintView> = query
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|(complaint, d)| {
            d.map(|d| ComplaintView {
                complaint,
                dossier_code: d.code,
            })
        })
        .collect();
    let more = complaints.len() as u64 > limit;
    complaints.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_after = more
        .then(|| complaints.last().map(|v| v.complaint.id))
        .flatten();
    Ok(ComplaintsPage {
        complaints,
        next_after,
    })
}

/// Answers a complaint: closes it and e-mails the answer to the citizen, in one transaction. For
/// administrators and the dossier's post office; an answered complaint is not answered again.
#[tracing::instrument(skip_all, fields(complaint.id = id))]
pub async fn answer_complaint(
    store: &Store,
    actor: &Actor,
    id: i64,
    text: Option<&str>,
) -> Result<ComplaintView, OpError> {
    let office = scope(actor)?;
    let mut c = Checker::new();
    let text = c.required_text("text", text, MAX_COMPLAINT_TEXT);
    c.finish().map_err(OpError::Validation)?;
    let Some(text) = text else {
        return Err(OpError::Validation(vec![]));
    };
    let txn = store.begin().await?;
    let (found, dossier) = complaint::Entity::find_by_id(id)
        .find_also_related(dossier::Entity)
        .one(&txn)
        .await?
        .ok_or(OpError::NotFound("complaint"))?;
    let dossier = dossier.ok_or(OpError::NotFound("complaint"))?;
    if let Some(office) = office
        && office != dossier.office_code
    {
        return Err(OpError::Forbidden(
            "this complaint is about another post office's dossier".into(),
        ));
    }
    if found.status != ComplaintStatus::Open {
        return Err(OpError::TransitionRefused(
            "this complaint was answered already".into(),
        ));
    }
    let now = crate::clock::now();
    let mut update: complaint::ActiveModel = found.into();
    update.status = Set(ComplaintStatus::Answered);
    update.answer = Set(Some(text.clone()));
    update.answered_at = Set(Some(now));
    update.answered_by = Set(Some(actor.audit_name()));
    let answered = update.update(&txn).await?;
    enqueue_citizen_email(
        &txn,
        &dossier,
        format!("complaint-{}-answer", answered.id),
        Notice::ComplaintAnswered {
            complaint_id: answered.id,
            answer: text,
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(complaint.id = answered.id, "complaint answered");
    Ok(ComplaintView {
        complaint: answered,
        dossier_code: dossier.code,
    })
}
