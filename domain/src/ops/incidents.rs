//! Incidents of a dossier's parcels (Decision 45 Art. 14; Circular 17 Art. 8): a parcel lost, damaged
//! or delayed is recorded with the compensation the post paid, joins the dossier's timeline (kind
//! `incident`), and the citizen and the agency are e-mailed through the outbox like any timeline event.

use entity::enums::{EventKind, EventSource, IncidentKind, LegDirection, Role};
use entity::{dossier, incident};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::access::Actor;
use super::access::ensure_access;
use super::dossiers::{MAX_NOTE, find_by_code_for_update};
use super::postal::find_leg;
use super::validation::{Checker, spellings};
use super::{NewEvent, OpError, append_event};
use crate::store::Store;

/// The largest compensation accepted, in VND: far above any postal liability, a guard against typos.
pub const MAX_COMPENSATION_VND: i64 = 1_000_000_000;

/// An incident as reported.
#[derive(Debug, Clone, Default)]
pub struct IncidentRequest {
    /// `lost`, `damaged` or `delayed`.
    pub kind: Option<String>,
    /// `inbound` or `outbound`: the parcel it happened to.
    pub leg: Option<String>,
    pub note: Option<String>,
    /// What the post paid the citizen; 0 when absent.
    pub compensation_vnd: Option<i64>,
}

/// Records an incident of one of the dossier's parcels, for postal, agency or admin staff who may see
/// the dossier. The timeline event it writes e-mails the citizen and the agency.
#[tracing::instrument(skip_all, fields(dossier.code = %code))]
pub async fn record_incident(
    store: &Store,
    actor: &Actor,
    code: &str,
    request: &IncidentRequest,
) -> Result<incident::Model, OpError> {
    let staff = [Role::Postal, Role::Agency, Role::Admin]
        .into_iter()
        .any(|role| actor.staff_with_role(role).is_some());
    if !staff {
        return Err(OpError::Forbidden(
            "incidents are recorded by post office, agency or administrator staff".into(),
        ));
    }
    let checked = check_incident(request)?;
    let (kind, direction) = (checked.kind, checked.direction);

    let txn = store.begin().await?;
    let dossier = find_by_code_for_update(&txn, code)
        .await?
        .ok_or(OpError::NotFound("dossier"))?;
    ensure_access(actor, &dossier)?;
    if find_leg(&txn, dossier.id, direction).await?.is_none() {
        return Err(OpError::field(
            "leg",
            format!(
                "this dossier has no {direction} parcel (service mode {})",
                dossier.service_mode
            ),
        ));
    }
    let now = crate::clock::now();
    let recorded = incident::ActiveModel {
        dossier_id: Set(dossier.id),
        kind: Set(kind),
        leg: Set(direction),
        note: Set(checked.note.clone()),
        compensation_vnd: Set(checked.compensation),
        actor: Set(actor.audit_name()),
        api_key_id: Set(actor.key_id()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    append_event(
        &txn,
        dossier.id,
        actor,
        NewEvent {
            at: now,
            kind: EventKind::Incident,
            source: EventSource::Api,
            from_status: None,
            to_status: None,
            leg: Some(direction),
            location: None,
            note: Some(checked.summary()),
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(incident.id = recorded.id, incident.kind = %kind, "incident recorded");
    Ok(recorded)
}

/// An incident report as checked.
struct CheckedIncident {
    kind: IncidentKind,
    direction: LegDirection,
    note: Option<String>,
    compensation: i64,
}

impl CheckedIncident {
    /// The timeline note: the kind, the compensation paid, and the staff's note.
    fn summary(&self) -> String {
        let mut summary = format!("{}", self.kind);
        if self.compensation > 0 {
            summary.push_str(&format!("; compensation {} VND", self.compensation));
        }
        if let Some(note) = &self.note {
            summary.push_str(&format!("; {note}"));
        }
        summary
    }
}

fn check_incident(request: &IncidentRequest) -> Result<CheckedIncident, OpError> {
    let mut c = Checker::new();
    let kind: Option<IncidentKind> = c.required_enum(
        "kind",
        request.kind.as_deref(),
        &spellings(IncidentKind::ALL, IncidentKind::as_str),
    );
    let direction: Option<LegDirection> = c.required_enum(
        "leg",
        request.leg.as_deref(),
        &spellings(LegDirection::ALL, LegDirection::as_str),
    );
    let note = c.optional_text("note", request.note.as_deref(), MAX_NOTE);
    let compensation = request.compensation_vnd.unwrap_or(0);
    if !(0..=MAX_COMPENSATION_VND).contains(&compensation) {
        c.fail(
            "compensation_vnd",
            format!("must be a whole amount of VND from 0 to {MAX_COMPENSATION_VND}"),
        );
    }
    c.finish().map_err(OpError::Validation)?;
    let (Some(kind), Some(direction)) = (kind, direction) else {
        return Err(OpError::Validation(vec![]));
    };
    Ok(CheckedIncident {
        kind,
        direction,
        note,
        compensation,
    })
}

/// The incidents of a dossier, oldest first.
pub async fn incidents_of(
    conn: &impl ConnectionTrait,
    dossier: &dossier::Model,
) -> Result<Vec<incident::Model>, OpError> {
    Ok(incident::Entity::find()
        .filter(incident::Column::DossierId.eq(dossier.id))
        .order_by_asc(incident::Column::Id)
        .all(conn)
        .await?)
}
