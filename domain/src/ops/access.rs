//! Who is asking, and what they may see. Every read and write of a dossier asks [`Actor::may_access`],
//! so list, search, report and feed endpoints apply the same rule as single reads.

use entity::dossier;
use entity::enums::Role;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::OpError;
use crate::codes::{ACCESS_TOKEN_PREFIX, API_KEY_PREFIX, hash_secret};

/// `last_used_at` is written at most this often per key.
pub const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// Refuses an actor who may not touch `dossier`.
pub(crate) fn ensure_access(actor: &Actor, dossier: &dossier::Model) -> Result<(), OpError> {
    if actor.may_access(dossier) == Access::Denied {
        return Err(OpError::Forbidden(
            "this dossier belongs to another post office or agency".into(),
        ));
    }
    Ok(())
}

/// The party behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// No credentials: reference data, pickup requests and the masked tracking view only.
    Public,
    /// A citizen holding the access token of one dossier.
    Citizen { dossier_id: i64 },
    /// A staff member or machine with an API key.
    Staff(StaffKey),
    /// The service itself (sweeps, carrier sync).
    System,
}

/// An API key's identity and reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffKey {
    pub key_id: i64,
    pub name: String,
    pub role: Role,
    pub office_code: Option<String>,
    pub agency_code: Option<String>,
    /// When the key was last noted as used (see `keys::touch_last_used`, which writes it).
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl StaffKey {
    /// Whether this use should be noted in `last_used_at` (at most once a minute).
    pub fn use_worth_noting(&self) -> bool {
        self.last_used_at.is_none_or(|at| {
            crate::clock::now() - at >= chrono::Duration::seconds(LAST_USED_RESOLUTION_SECS)
        })
    }
}

/// What an actor may do with one dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Everything, personal data included.
    Full,
    /// Not theirs.
    Denied,
}

impl Actor {
    /// The name written into audit events: never a person's personal data.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Public => "public".to_owned(),
            Actor::Citizen { .. } => "citizen".to_owned(),
            Actor::Staff(key) => format!("{}:{}", key.role, key.name),
            Actor::System => "system".to_owned(),
        }
    }

    /// The API key behind the actor, if any.
    pub fn key_id(&self) -> Option<i64> {
        match self {
            Actor::Staff(key) => Some(key.key_id),
            _ => None,
        }
    }

    /// The staff key, when the actor is staff with `role`.
    pub fn staff_with_role(&self, role: Role) -> Option<&StaffKey> {
        match self {
            Actor::Staff(key) if key.role == role => Some(key),
            _ => None,
        }
    }

    /// Whether the actor may see and act on `dossier` at all (what they may do is the lifecycle's call).
    pub fn may_access(&self, dossier: &entity::dossier::Model) -> Access {
        let allowed = match self {
            Actor::Public => false,
            Actor::Citizen { dossier_id } => *dossier_id == dossier.id,
            Actor::System => true,
            Actor::Staff(key) => match key.role {
                Role::Admin => true,
                Role::Postal => key.office_code.as_deref() == Some(dossier.office_code.as_str()),
                Role::Agency => key.agency_code.as_deref() == Some(dossier.agency_code.as_str()),
            },
        };
        if allowed {
            Access::Full
        } else {
            Access::Denied
        }
    }
}

/// Why a bearer credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the credentials are not recognised")]
    Unknown,
}

impl From<entity::api_key::Model> for StaffKey {
    fn from(key: entity::api_key::Model) -> Self {
        Self {
            key_id: key.id,
            name: key.name,
            role: key.role,
            office_code: key.office_code,
            agency_code: key.agency_code,
            last_used_at: key.last_used_at,
        }
    }
}

/// Keys that are neither revoked nor expired. No process keeps keys in memory: every request reads its
/// key's row (one indexed lookup), so a revocation or an expiry holds everywhere at once.
fn usable() -> Condition {
    Condition::all()
        .add(entity::api_key::Column::RevokedAt.is_null())
        .add(
            Condition::any()
                .add(entity::api_key::Column::ExpiresAt.is_null())
                .add(entity::api_key::Column::ExpiresAt.gt(crate::clock::now())),
        )
}

/// The staff key `key_id`, unless it was revoked or expired (the key behind a signed-in page session).
pub async fn active_staff_key(
    conn: &impl ConnectionTrait,
    key_id: i64,
) -> Result<Option<StaffKey>, sea_orm::DbErr> {
    Ok(entity::api_key::Entity::find_by_id(key_id)
        .filter(usable())
        .one(conn)
        .await?
        .map(StaffKey::from))
}

/// Resolves a bearer credential (`dk_…` API key or `dt_…` citizen token) to an actor.
pub async fn authenticate(
    conn: &impl ConnectionTrait,
    bearer: &str,
) -> Result<Result<Actor, AuthError>, sea_orm::DbErr> {
    let bearer = bearer.trim();
    if bearer.starts_with(API_KEY_PREFIX) {
        let key = entity::api_key::Entity::find()
            .filter(entity::api_key::Column::SecretHash.eq(hash_secret(bearer)))
            .filter(usable())
            .one(conn)
            .await?;
        Ok(key
            .map(|key| Actor::Staff(StaffKey::from(key)))
            .ok_or(AuthError::Unknown))
    } else if bearer.starts_with(ACCESS_TOKEN_PREFIX) {
        let dossier_id: Option<i64> = entity::dossier::Entity::find()
            .select_only()
            .column(entity::dossier::Column::Id)
            .filter(entity::dossier::Column::AccessTokenHash.eq(hash_secret(bearer)))
            .into_tuple()
            .one(conn)
            .await?;
        Ok(dossier_id
            .map(|dossier_id| Actor::Citizen { dossier_id })
            .ok_or(AuthError::Unknown))
    } else {
        Ok(Err(AuthError::Unknown))
    }
}
