//! Signed-in web sessions of staff. Each has a row (keyed by the SHA-256 of the nonce its cookie
//! carries), so that signing out ends it on the server and a replayed cookie is refused; a session
//! also ends when its key is revoked or expires. Sign-ins, failed sign-ins and sign-outs are audited.

use entity::staff_session;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionTrait};

use super::OpError;
use super::access::{StaffKey, active_staff_key};
use super::audit::{self, AuditActor, AuditRecord};
use crate::codes::hash_secret;

/// Opens a session of `key` named by `nonce`, valid until `expires_at`, and audits the sign-in.
pub async fn open_session(
    conn: &sea_orm::DatabaseConnection,
    key: &StaffKey,
    nonce: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), OpError> {
    let txn = conn.begin().await?;
    staff_session::ActiveModel {
        nonce_hash: Set(hash_secret(nonce)),
        api_key_id: Set(key.key_id),
        created_at: Set(crate::clock::now()),
        expires_at: Set(expires_at),
        ended_at: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        AuditRecord {
            actor: key.into(),
            entity: "staff_session",
            code: &key.key_id.to_string(),
            action: "sign_in",
            before: None,
            after: Some(
                serde_json::json!({"role": key.role.to_string(), "expires_at": expires_at}),
            ),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Audits a sign-in that was refused (the key given is not recorded: it may be a mistyped secret).
pub async fn record_failed_sign_in(conn: &impl ConnectionTrait) -> Result<(), OpError> {
    audit::record(
        conn,
        AuditRecord {
            actor: AuditActor::Unknown,
            entity: "staff_session",
            code: "",
            action: "sign_in_failed",
            before: None,
            after: None,
        },
    )
    .await?;
    Ok(())
}

/// The key behind the session named by `nonce`, if the session was opened for `key_id`, has not been
/// signed out nor run out, and its key is neither revoked nor expired.
pub async fn session_key(
    conn: &impl ConnectionTrait,
    key_id: i64,
    nonce: &str,
) -> Result<Option<StaffKey>, sea_orm::DbErr> {
    let Some(session) = staff_session::Entity::find_by_id(hash_secret(nonce))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if session.api_key_id != key_id
        || session.ended_at.is_some()
        || session.expires_at <= crate::clock::now()
    {
        return Ok(None);
    }
    active_staff_key(conn, key_id).await
}

/// Ends the session named by `nonce` (signing out), so its cookie is refused from now on.
pub async fn end_session(
    conn: &sea_orm::DatabaseConnection,
    key: &StaffKey,
    nonce: &str,
) -> Result<(), OpError> {
    let txn = conn.begin().await?;
    let Some(session) = staff_session::Entity::find_by_id(hash_secret(nonce))
        .one(&txn)
        .await?
    else {
        return Ok(());
    };
    if session.ended_at.is_some() {
        return Ok(());
    }
    let mut active: staff_session::ActiveModel = session.into();
    active.ended_at = Set(Some(crate::clock::now()));
    active.update(&txn).await?;
    audit::record(
        &txn,
        AuditRecord {
            actor: key.into(),
            entity: "staff_session",
            code: &key.key_id.to_string(),
            action: "sign_out",
            before: None,
            after: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
