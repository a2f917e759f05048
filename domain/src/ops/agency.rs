//! The one-stop desk's rulings on a dossier it received (Decision 45 Art. 8): accepted for processing,
//! supplements requested, or refused with reasons; then the result (or the written refusal) is ready to
//! travel back. Minimal: enough for the post's chain of custody to continue.

use chrono::NaiveDate;
use entity::dossier;
use entity::enums::{EventKind, EventSource, Role};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::access::{Actor, StaffKey};
use super::dossiers::{MAX_NOTE, find_by_code_for_update};
use super::postal::ensure_access;
use super::{NewEvent, OpError, append_event};
use crate::lifecycle::{Action, next_status};
use crate::sla::{end_of_local_day, local_date};
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
}

/// The key of the agency's staff.
fn agency_key(actor: &Actor) -> Result<&StaffKey, OpError> {
    actor
        .staff_with_role(Role::Agency)
        .ok_or_else(|| OpError::Forbidden("this is the agency's work: use an agency key".into()))
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
    let mut c = super::validation::Checker::new();
    let allowed: Vec<&str> = Decision::ALL.iter().map(|d| d.as_str()).collect();
    let decision = match request.decision.as_deref() {
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
    };
    let reason = c.optional_text("reason", request.reason.as_deref(), MAX_NOTE);
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
    let (action, kind, outcome) = match decision {
        Decision::Accepted => (Action::Accept, EventKind::Accepted, Some("accepted")),
        Decision::SupplementRequested => (
            Action::RequestSupplement,
            EventKind::SupplementRequested,
            None,
        ),
        Decision::Rejected => (Action::Reject, EventKind::Rejected, Some("rejected")),
    };

    let txn = store.begin().await?;
    let dossier = find_by_code_for_update(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    ensure_access(actor, &dossier)?;
    let from = dossier.status;
    let to = next_status(dossier.service_mode, from, action)?;
    let dossier_id = dossier.id;
    let mut active: dossier::ActiveModel = dossier.into();
    active.status = Set(to);
    active.updated_at = Set(now);
    if let Some(outcome) = outcome {
        active.outcome = Set(Some(outcome.to_owned()));
    }
    if let Some(due) = due {
        active.result_due_at = Set(Some(end_of_local_day(due)));
    }
    let updated = active.update(&txn).await?;
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
            note: reason,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
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
