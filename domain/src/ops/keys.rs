//! API keys for staff and machines: made by an operator on the command line, shown once, stored hashed.

use entity::enums::Role;
use entity::{agency, api_key, post_office};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};

use super::OpError;
use crate::codes::{hash_secret, new_api_key};

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
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(OpError::field("name", "must be 1 to 100 characters"));
    }
    let (office_code, agency_code) = match request.role {
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
            let Some(code) = request.office_code else {
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
            let Some(code) = request.agency_code else {
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
    };
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
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(IssuedApiKey { id: key.id, secret })
}
