//! The audit trail of privileged actions (admin key only), oldest first, paged by cursor.

use domain::ops::access::Actor;
use entity::enums::Role;
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};

use super::{ApiTags, local_time};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// One audited action.
#[derive(Debug, Object)]
pub struct AuditEntryOut {
    /// Pass as `after` to read on from this entry.
    pub cursor: String,
    pub at: chrono::DateTime<chrono::FixedOffset>,
    /// Who: `key #ID NAME`, `command line`, `worker` (e.g. a webhook disabled after a 410), or
    /// `unknown` (a failed sign-in).
    pub actor: String,
    /// The API key behind `actor`, if any.
    #[oai(nullable)]
    pub actor_key_id: Option<i64>,
    /// What: `{kind}.{verb}`, e.g. `api_key.create`, `api_key.revoke`, `webhook.register`,
    /// `webhook.rotate`, `webhook.enable`, `webhook.disable`, `outbox.requeue`, `agency.create`, `holiday.delete`, `staff_session.sign_in`,
    /// `staff_session.sign_in_failed`.
    pub action: String,
    /// On what: `{kind}:{id or code}`.
    pub target: String,
    /// The address the request came from; none for the command line.
    #[oai(nullable)]
    pub client_ip: Option<String>,
    /// The record before the change (secrets left out).
    #[oai(nullable)]
    pub before: Option<serde_json::Value>,
    /// The record after the change (secrets left out).
    #[oai(nullable)]
    pub after: Option<serde_json::Value>,
}

/// A page of the audit trail.
#[derive(Debug, Object)]
pub struct AuditPageOut {
    pub entries: Vec<AuditEntryOut>,
    /// Pass as `after` for the next page; an empty page keeps it where it was.
    pub next_cursor: String,
}

pub struct AuditApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AuditApi {
    /// The audit trail, oldest first: key creation and revocation, webhook registration, secret
    /// rotation, enabling and disabling, outbox requeues, reference-data writes, staff sign-ins (and failed ones). `limit` 1–500, default 100.
    #[oai(path = "/audit", method = "get")]
    async fn audit(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        after: Query<Option<String>>,
        /// Entries per page, 1 to 500 (outside: 422 `validation_failed`, as for the cursor).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<crate::checked::Optional<u64>>,
    ) -> Result<Json<AuditPageOut>, ApiError> {
        let actor = match &caller.0 {
            Actor::Public => {
                return Err(ApiError::unauthorized(
                    "send an admin key: `Authorization: Bearer dk_…`",
                ));
            }
            actor if actor.staff_with_role(Role::Admin).is_some() => actor,
            _ => return Err(ApiError::forbidden("this needs an admin key")),
        };
        let page =
            domain::ops::audit::list_audit(&state.store.read, actor, after.0.as_deref(), limit.0.0)
                .await?;
        Ok(Json(AuditPageOut {
            entries: page
                .entries
                .into_iter()
                .map(|e| AuditEntryOut {
                    cursor: e.cursor,
                    at: local_time(e.at),
                    actor: e.actor,
                    actor_key_id: e.actor_key_id,
                    action: e.action,
                    target: e.target,
                    client_ip: e.client_ip,
                    before: e.before,
                    after: e.after,
                })
                .collect(),
            next_cursor: page.next_cursor,
        }))
    }
}
