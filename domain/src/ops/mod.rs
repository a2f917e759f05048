//! Transactional use-cases over the store. Each writes its change and the matching timeline event in
//! one transaction, and reports failures as [`OpError`], which the HTTP layer maps to the API's envelope.
//!
//! Error policy: database errors stay `DbErr` inside `OpError::Db`; rule violations are typed variants
//! so the caller never has to parse a message.

pub mod access;
pub mod admin;
pub mod agency;
pub mod audit;
mod bulk;
pub mod carrier_ingest;
pub mod carrier_orders;
pub mod catalog;
pub mod complaints;
pub mod deadlines;
pub mod dossier_record;
pub mod dossiers;
pub mod due_dates;
pub mod feed;
pub mod fees_report;
pub mod handovers;
pub mod idempotency;
pub mod identity;
pub mod incidents;
pub mod integrations;
pub mod item_codes;
pub mod keys;
pub mod labels;
pub mod outbox;
pub mod outbox_rows;
pub mod period_reports;
pub mod postal;
pub mod reference;
pub mod reports;
pub mod scans;
pub mod seed;
pub mod service_keys;
pub mod sessions;
pub mod slips;
pub mod supplements;
pub mod validation;
pub mod webhooks;

use entity::enums::{DossierStatus, EventKind, EventSource, LegDirection};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};

use crate::lifecycle::InvalidTransition;
pub use validation::FieldError;

/// Why a use-case did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// The lifecycle allows the action from this status, but a rule beyond the status forbids it now
    /// (e.g. a second failed-delivery notice less than two working days after the first). Answered like
    /// an invalid transition, with a message saying what would make it possible.
    #[error("{0}")]
    TransitionRefused(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// Too many of something at once (e.g. open pickup requests for one phone): answered as
    /// `rate_limited`, to try again after `retry_after_secs`.
    #[error("{message}")]
    TooMany {
        message: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl OpError {
    /// A validation failure of one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

/// A timeline entry about to be written.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub at: chrono::DateTime<chrono::Utc>,
    pub kind: EventKind,
    pub source: EventSource,
    pub from_status: Option<DossierStatus>,
    pub to_status: Option<DossierStatus>,
    pub leg: Option<LegDirection>,
    pub location: Option<String>,
    pub note: Option<String>,
}

/// Appends one event to a dossier's timeline, naming who caused it, and writes the notifications and
/// webhook deliveries it causes to the outbox in the same transaction ([`outbox::enqueue_for_event`]).
pub async fn append_event(
    conn: &impl ConnectionTrait,
    dossier_id: i64,
    actor: &access::Actor,
    event: NewEvent,
) -> Result<entity::dossier_event::Model, DbErr> {
    let recorded = event_row(dossier_id, actor, event, crate::clock::now())
        .insert(conn)
        .await?;
    outbox::enqueue_for_event(conn, &recorded).await?;
    Ok(recorded)
}

/// The timeline row [`append_event`] writes.
fn event_row(
    dossier_id: i64,
    actor: &access::Actor,
    event: NewEvent,
    recorded_at: chrono::DateTime<chrono::Utc>,
) -> entity::dossier_event::ActiveModel {
    entity::dossier_event::ActiveModel {
        dossier_id: Set(dossier_id),
        at: Set(event.at),
        kind: Set(event.kind),
        source: Set(event.source),
        actor: Set(actor.audit_name()),
        api_key_id: Set(actor.key_id()),
        from_status: Set(event.from_status),
        to_status: Set(event.to_status),
        leg: Set(event.leg),
        location: Set(event.location),
        note: Set(event.note),
        recorded_at: Set(recorded_at),
        ..Default::default()
    }
}
