//! API keys for staff and machines: made by an operator on the command line, shown once, stored hashed.

use entity::enums::Role;
use entity::{agency, api_key, post_office};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};

use super::OpError;
use super::access::Actor;
use super::audit::{self, AuditActor, AuditRecord};
use crate::codes::{hash_secret, new_api_key};

/// The longest life a key can be given.
pub const MAX_EXPIRES_IN_DAYS: i64 = 3650;
pub use super::access::LAST_USED_RESOLUTION_SECS;

/// What a new key is for.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub role: Role,
    pub name: String,
    pub office_code: Option<String>,
    pub agency_code: Option<String>,
}

/// A key just made: the secret exists only here.
#[derive(Debug, Clone)]
pub struct IssuedApiKey {
    pub id: i64,
    pub secret: String,
}

/// Makes a key. A `postal` key needs an existing office, an `agency` key an existing agency; an
/// `admin` key is bound to neither.
pub async fn create_api_key(
    conn: &impl ConnectionTrait,
    request: NewApiKey,
) -> Result<IssuedApiKey, OpError> {
    insert_api_key(conn, request, None).await
}

async fn insert_api_key(
    conn: &impl ConnectionTrait,
    request: NewApiKey,
    expires_in_days: Option<i64>,
) -> Result<IssuedApiKey, OpError> {
    let expires_at = match expires_in_days {
        None => None,
        Some(days) if (1..=MAX_EXPIRES_IN_DAYS).contains(&days) => {
            Some(crate::clock::now() + chrono::Duration::days(days))
        }
        Some(_) => {
            return Err(OpError::field(
                "expires_in_days",
                format!("must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
            ));
        }
    };
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(OpError::field("name", "must be 1 to 100 characters"));
    }
    let (office_code, agency_code) = key_reach(conn, &request).await?;
    let secret = new_api_key();
    let key = api_key::ActiveModel {
        name: Set(name),
        role: Set(request.role),
        office_code: Set(office_code),
        agency_code: Set(agency_code),
        secret_hash: Set(hash_secret(&secret)),
        prefix: Set(secret.chars().take(8).collect()),
        created_at: Set(chrono::Utc::now()),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(IssuedApiKey { id: key.id, secret })
}

/// The office or agency a new key is bound to, as its role requires; each must exist.
async fn key_reach(
    conn: &impl ConnectionTrait,
    request: &NewApiKey,
) -> Result<(Option<String>, Option<String>), OpError> {
    Ok(match request.role {
        Role::Admin => {
            if request.office_code.is_some() || request.agency_code.is_some() {
                return Err(OpError::field(
                    "role",
                    "an admin key is not bound to an office or agency",
                ));
            }
            (None, None)
        }
        Role::Postal => {
            let Some(code) = request.office_code.clone() else {
                return Err(OpError::field("office", "a postal key needs --office CODE"));
            };
            if request.agency_code.is_some() {
                return Err(OpError::field(
                    "agency",
                    "a postal key is bound to an office, not an agency",
                ));
            }
            if post_office::Entity::find_by_id(code.clone())
                .one(conn)
                .await?
                .is_none()
            {
                return Err(OpError::field(
                    "office",
                    format!("no post office has the code `{code}`"),
                ));
            }
            (Some(code), None)
        }
        Role::Agency => {
            let Some(code) = request.agency_code.clone() else {
                return Err(OpError::field(
                    "agency",
                    "an agency key needs --agency CODE",
                ));
            };
            if request.office_code.is_some() {
                return Err(OpError::field(
                    "office",
                    "an agency key is bound to an agency, not an office",
                ));
            }
            if agency::Entity::find_by_id(code.clone())
                .one(conn)
                .await?
                .is_none()
            {
                return Err(OpError::field(
                    "agency",
                    format!("no agency has the code `{code}`"),
                ));
            }
            (None, Some(code))
        }
    })
}

/// An API key as operators see it: everything but the secret (and its hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyView {
    pub id: i64,
    pub role: Role,
    pub office_code: Option<String>,
    pub agency_code: Option<String>,
    pub name: String,
    /// The key's first characters (`dk_` and a few more), to recognise it.
    pub prefix: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<api_key::Model> for ApiKeyView {
    fn from(k: api_key::Model) -> Self {
        Self {
            id: k.id,
            role: k.role,
            office_code: k.office_code,
            agency_code: k.agency_code,
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
        }
    }
}

fn audit_json(view: &ApiKeyView) -> Option<serde_json::Value> {
    serde_json::to_value(view).ok()
}

/// Who may manage keys: an admin key, or the operator on the command line.
fn may_manage(by: &Actor) -> Result<AuditActor, OpError> {
    match by {
        Actor::System => Ok(AuditActor::CommandLine),
        actor => actor
            .staff_with_role(Role::Admin)
            .map(AuditActor::from)
            .ok_or_else(|| OpError::Forbidden("keys are managed with an admin key".into())),
    }
}

/// Makes a key for `by` (an admin key, or [`Actor::System`] for the command line), valid for
/// `expires_in_days` days when given, and audits it in the same transaction.
pub async fn issue_api_key(
    conn: &sea_orm::DatabaseConnection,
    by: &Actor,
    request: NewApiKey,
    expires_in_days: Option<i64>,
) -> Result<(IssuedApiKey, ApiKeyView), OpError> {
    let issuer = may_manage(by)?;
    let txn = conn.begin().await?;
    let issued = insert_api_key(&txn, request, expires_in_days).await?;
    let view: ApiKeyView = api_key::Entity::find_by_id(issued.id)
        .one(&txn)
        .await?
        .ok_or(OpError::NotFound("api key"))?
        .into();
    audit::record(
        &txn,
        AuditRecord {
            actor: issuer,
            entity: "api_key",
            code: &issued.id.to_string(),
            action: "create",
            before: None,
            after: audit_json(&view),
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(api_key.id = issued.id, role = %view.role, "API key created");
    Ok((issued, view))
}

/// Every key, oldest first, without secrets (admin key or the command line).
pub async fn list_api_keys(
    conn: &impl ConnectionTrait,
    by: &Actor,
) -> Result<Vec<ApiKeyView>, OpError> {
    may_manage(by)?;
    Ok(api_key::Entity::find()
        .order_by_asc(api_key::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Revokes key `id`: from the next request on, every process refuses it and its web sessions end.
/// Revoking a key that is already revoked changes nothing and answers it as it is.
pub async fn revoke_api_key(
    conn: &sea_orm::DatabaseConnection,
    by: &Actor,
    id: i64,
) -> Result<ApiKeyView, OpError> {
    let revoker = may_manage(by)?;
    let txn = conn.begin().await?;
    let Some(key) = api_key::Entity::find_by_id(id).one(&txn).await? else {
        return Err(OpError::NotFound("api key"));
    };
    if key.revoked_at.is_some() {
        return Ok(key.into());
    }
    let before = ApiKeyView::from(key.clone());
    let mut active: api_key::ActiveModel = key.into();
    active.revoked_at = Set(Some(crate::clock::now()));
    let after: ApiKeyView = active.update(&txn).await?.into();
    audit::record(
        &txn,
        AuditRecord {
            actor: revoker,
            entity: "api_key",
            code: &id.to_string(),
            action: "revoke",
            before: audit_json(&before),
            after: audit_json(&after),
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(api_key.id = id, "API key revoked");
    Ok(after)
}

/// Notes that key `id` was just used, unless that was noted less than a minute ago: one conditional
/// write per key and minute at most, whatever the traffic.
pub async fn touch_last_used(conn: &impl ConnectionTrait, id: i64) -> Result<(), sea_orm::DbErr> {
    let now = crate::clock::now();
    api_key::Entity::update_many()
        .col_expr(
            api_key::Column::LastUsedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(api_key::Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(api_key::Column::LastUsedAt.is_null())
                .add(
                    api_key::Column::LastUsedAt
                        .lt(now - chrono::Duration::seconds(LAST_USED_RESOLUTION_SECS)),
                ),
        )
        .exec(conn)
        .await?;
    Ok(())
}
