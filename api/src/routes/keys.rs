//! API keys (admin key only): list them (never their secrets), make one (its secret is answered this
//! once), revoke one (every process refuses it from the next request on, and its web sessions end).

use domain::ops::access::Actor;
use domain::ops::keys::{ApiKeyView, NewApiKey};
use entity::enums::Role;
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};

use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::checked::Required;
use crate::error::ApiError;
use crate::state::AppState;

/// A key to make.
#[derive(Debug, Object)]
pub struct KeyIn {
    /// `admin`, `postal` or `agency`.
    #[oai(validator(pattern = r"^\s*(admin|postal|agency)\s*$"))]
    pub role: Required<String>,
    /// The post office of a `postal` key.
    #[oai(nullable)]
    pub office_code: Option<String>,
    /// The agency of an `agency` key.
    #[oai(nullable)]
    pub agency_code: Option<String>,
    /// Who holds the key.
    #[oai(nullable)]
    pub name: Option<String>,
    /// Days until the key expires (1 to 3650); none for a key without an end.
    #[oai(nullable)]
    pub expires_in_days: Option<i64>,
}

/// A key as administrators see it: never its secret.
#[derive(Debug, Object)]
pub struct KeyOut {
    pub id: i64,
    pub role: String,
    #[oai(nullable)]
    pub office_code: Option<String>,
    #[oai(nullable)]
    pub agency_code: Option<String>,
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    /// When it was last accepted (to the minute).
    #[oai(nullable)]
    pub last_used_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    #[oai(nullable)]
    pub expires_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    #[oai(nullable)]
    pub revoked_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

impl From<ApiKeyView> for KeyOut {
    fn from(k: ApiKeyView) -> Self {
        Self {
            id: k.id,
            role: k.role.to_string(),
            office_code: k.office_code,
            agency_code: k.agency_code,
            name: k.name,
            prefix: k.prefix,
            created_at: local_time(k.created_at),
            last_used_at: k.last_used_at.map(local_time),
            expires_at: k.expires_at.map(local_time),
            revoked_at: k.revoked_at.map(local_time),
        }
    }
}

/// A key just made, with its secret: shown this once.
#[derive(Debug, Object)]
pub struct IssuedKeyOut {
    pub id: i64,
    /// The secret, `dk_…`: it is not stored and cannot be shown again.
    pub key: String,
    pub role: String,
    #[oai(nullable)]
    pub office_code: Option<String>,
    #[oai(nullable)]
    pub agency_code: Option<String>,
    pub name: String,
    pub prefix: String,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    #[oai(nullable)]
    pub expires_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

#[derive(ApiResponse)]
enum CreateResponse {
    /// Made; `key` is shown only in this answer.
    #[oai(status = 201)]
    Created(Json<IssuedKeyOut>),
}

/// The caller, when it holds an admin key.
fn require_admin(caller: &Caller) -> Result<&Actor, ApiError> {
    match &caller.0 {
        Actor::Public => Err(ApiError::unauthorized(
            "send an admin key: `Authorization: Bearer dk_…`",
        )),
        actor if actor.staff_with_role(Role::Admin).is_some() => Ok(actor),
        _ => Err(ApiError::forbidden("this needs an admin key")),
    }
}

pub struct KeyApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl KeyApi {
    /// Every API key, oldest first, with its role, reach, last use, expiry and revocation; never a secret.
    #[oai(path = "/keys", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<Json<Vec<KeyOut>>, ApiError> {
        let actor = require_admin(&caller)?;
        let keys = domain::ops::keys::list_api_keys(&state.store.read, actor).await?;
        Ok(Json(keys.into_iter().map(Into::into).collect()))
    }

    /// Make an API key. The answer carries the secret (`key`) this once; it is stored hashed.
    #[oai(path = "/keys", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        body: Json<KeyIn>,
    ) -> Result<CreateResponse, ApiError> {
        let actor = require_admin(&caller)?;
        let b = body.0;
        let role = match b.role.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(domain::ops::OpError::field("role", "is required").into());
            }
            Some(r) => r.parse::<Role>().map_err(|_| {
                ApiError::from(domain::ops::OpError::field(
                    "role",
                    "must be one of: admin, postal, agency",
                ))
            })?,
        };
        let request = NewApiKey {
            role,
            name: b.name.unwrap_or_default(),
            office_code: b.office_code.filter(|c| !c.trim().is_empty()),
            agency_code: b.agency_code.filter(|c| !c.trim().is_empty()),
        };
        let (issued, view) =
            domain::ops::keys::issue_api_key(&state.store.write, actor, request, b.expires_in_days)
                .await
                .map_err(|e| ApiError::from(api_field_names(e)))?;
        Ok(CreateResponse::Created(Json(IssuedKeyOut {
            id: issued.id,
            key: issued.secret,
            role: view.role.to_string(),
            office_code: view.office_code,
            agency_code: view.agency_code,
            name: view.name,
            prefix: view.prefix,
            created_at: local_time(view.created_at),
            expires_at: view.expires_at.map(local_time),
        })))
    }

    /// Revoke an API key: every process refuses it from now on (within a second), and the web
    /// sessions opened with it end. Revoking a revoked key answers it unchanged.
    #[oai(path = "/keys/:id/revoke", method = "post")]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<i64>,
    ) -> Result<Json<KeyOut>, ApiError> {
        let actor = require_admin(&caller)?;
        let view = domain::ops::keys::revoke_api_key(&state.store.write, actor, id.0).await?;
        Ok(Json(view.into()))
    }
}

/// The command line names fields after its flags (`office`, `agency`); the API after its body.
fn api_field_names(err: domain::ops::OpError) -> domain::ops::OpError {
    match err {
        domain::ops::OpError::Validation(errors) => domain::ops::OpError::Validation(
            errors
                .into_iter()
                .map(|mut e| {
                    e.field = match e.field.as_str() {
                        "office" => "office_code".to_owned(),
                        "agency" => "agency_code".to_owned(),
                        other => other.to_owned(),
                    };
                    e.message = e
                        .message
                        .replace("--office CODE", "office_code")
                        .replace("--agency CODE", "agency_code");
                    e
                })
                .collect(),
        ),
        other => other,
    }
}
