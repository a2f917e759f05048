//! The audit trail of privileged actions: API keys made and revoked, webhooks registered, their secrets
//! rotated, enabled and disabled (by the worker, on a 410 or retries run out), outbox rows requeued,
//! reference-data writes, staff sign-ins that succeeded or failed. Each row is written in the same
//! transaction as the change it records, carries no secret, and is never changed afterwards (on
//! PostgreSQL a trigger refuses UPDATE and DELETE of `admin_audit`).

use entity::admin_audit;
use entity::enums::Role;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::OpError;
use super::access::{Actor, StaffKey};

tokio::task_local! {
    /// The client address of the request being served, set by the HTTP layer around each request so
    /// that every audit row written while serving it names where it came from.
    /// Written out only when an audit row is.
    pub static CLIENT_IP: Option<std::net::IpAddr>;
}

/// The client address of the request in hand, if the HTTP layer set one.
pub fn client_ip() -> Option<String> {
    CLIENT_IP
        .try_with(|ip| ip.map(|ip| ip.to_string()))
        .ok()
        .flatten()
}

/// The most entries one page of the audit trail holds.
pub const MAX_PAGE: u64 = 500;
/// Entries per page when no `limit` is given.
pub const DEFAULT_PAGE: u64 = 100;

/// Who did an audited thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditActor {
    /// An API key (directly, or behind a web session).
    Key { id: i64, name: String },
    /// An operator on the command line of the server.
    CommandLine,
    /// Someone who is not (yet) known, e.g. a failed sign-in.
    Unknown,
    /// The worker, acting on its own (e.g. disabling a webhook whose receiver is gone).
    Worker,
}

impl AuditActor {
    fn key_id(&self) -> Option<i64> {
        match self {
            AuditActor::Key { id, .. } => Some(*id),
            _ => None,
        }
    }

    fn name(&self) -> String {
        match self {
            AuditActor::Key { name, .. } => name.clone(),
            AuditActor::CommandLine => "command line".to_owned(),
            AuditActor::Unknown => "unknown".to_owned(),
            AuditActor::Worker => "worker".to_owned(),
        }
    }
}

impl From<&StaffKey> for AuditActor {
    fn from(key: &StaffKey) -> Self {
        AuditActor::Key {
            id: key.key_id,
            name: key.name.clone(),
        }
    }
}

impl From<&Actor> for AuditActor {
    fn from(actor: &Actor) -> Self {
        match actor {
            Actor::Staff(key) => key.into(),
            _ => AuditActor::Unknown,
        }
    }
}

/// One audited action about to be written.
#[derive(Debug, Clone)]
pub struct AuditRecord<'a> {
    pub actor: AuditActor,
    /// What kind of thing: `api_key`, `webhook`, `outbox`, `staff_session`, or a reference record.
    pub entity: &'a str,
    /// Which one: its id or code.
    pub code: &'a str,
    /// What was done: `create`, `revoke`, `register`, `rotate`, `enable`, `disable`, `requeue`,
    /// `sign_in`, `sign_in_failed`, …
    pub action: &'a str,
    /// The record before, without secrets.
    pub before: Option<serde_json::Value>,
    /// The record after, without secrets.
    pub after: Option<serde_json::Value>,
}

/// Writes one audit row (in the caller's transaction), with the client address of the request in hand.
pub async fn record(conn: &impl ConnectionTrait, entry: AuditRecord<'_>) -> Result<(), DbErr> {
    admin_audit::ActiveModel {
        at: Set(crate::clock::now()),
        api_key_id: Set(entry.actor.key_id()),
        api_key_name: Set(entry.actor.name()),
        entity: Set(entry.entity.to_owned()),
        code: Set(entry.code.to_owned()),
        action: Set(entry.action.to_owned()),
        before: Set(entry.before),
        after: Set(entry.after),
        client_ip: Set(client_ip()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    tracing::info!(
        audit.entity = entry.entity,
        audit.code = entry.code,
        audit.action = entry.action,
        api_key.id = entry.actor.key_id(),
        "audited"
    );
    Ok(())
}

/// One entry of the audit trail as administrators read it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub cursor: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// `key #ID NAME`, `command line` or `unknown`.
    pub actor: String,
    pub actor_key_id: Option<i64>,
    /// `{entity}.{action}`, e.g. `api_key.revoke`, `agency.create`.
    pub action: String,
    /// `{entity}:{code}`, e.g. `api_key:7`, `agency:UBND-P-HOANKIEM`.
    pub target: String,
    pub client_ip: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A page of the audit trail and the cursor to read on from.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: String,
}

/// Reads the audit trail, oldest first, after `after` (a `next_cursor`, or nothing for the beginning);
/// admin keys only. An unreadable cursor or a limit outside 1..=500 is a validation failure.
pub async fn list_audit(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    after: Option<&str>,
    limit: Option<u64>,
) -> Result<AuditPage, OpError> {
    if actor.staff_with_role(Role::Admin).is_none() {
        return Err(OpError::Forbidden(
            "the audit trail needs an admin key".into(),
        ));
    }
    let after_id = match after.map(str::trim).filter(|a| !a.is_empty()) {
        None => 0,
        Some(raw) => match raw.parse::<i64>() {
            Ok(id) if id >= 0 => id,
            _ => {
                return Err(OpError::field(
                    "after",
                    "is not a cursor this trail gave out",
                ));
            }
        },
    };
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(OpError::field(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let rows = admin_audit::Entity::find()
        .filter(admin_audit::Column::Id.gt(after_id))
        .order_by_asc(admin_audit::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    let next_cursor = rows.last().map_or(after_id, |r| r.id).to_string();
    let entries = rows
        .into_iter()
        .map(|r| AuditEntry {
            cursor: r.id.to_string(),
            at: r.at,
            actor: match r.api_key_id {
                Some(id) => format!("key #{id} {}", r.api_key_name),
                None => r.api_key_name,
            },
            actor_key_id: r.api_key_id,
            action: format!("{}.{}", r.entity, r.action),
            target: format!("{}:{}", r.entity, r.code),
            client_ip: r.client_ip,
            before: r.before,
            after: r.after,
        })
        .collect();
    Ok(AuditPage {
        entries,
        next_cursor,
    })
}
