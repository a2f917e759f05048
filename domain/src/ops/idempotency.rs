//! `Idempotency-Key` support: the first answer to a key is stored with the change it made, in the same
//! transaction, and replayed when the key comes again with the same request.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use sha2::{Digest, Sha256};

/// A client's key for one operation, and the fingerprint of the request that came with it.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    /// Operation, caller and key, so two callers' keys never collide.
    pub scope_key: String,
    pub request_hash: String,
}

impl IdempotencyClaim {
    /// A claim for `operation` by `caller` with the client's `key` over the canonical request bytes.
    pub fn new(operation: &str, caller: &str, key: &str, request: &[u8]) -> Self {
        Self {
            scope_key: format!("{operation}:{caller}:{key}"),
            request_hash: hex::encode(Sha256::digest(request)),
        }
    }
}

/// What a key already stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Same request: give back this answer.
    Same { status_code: u16, body: String },
    /// The key was used for another request.
    Mismatch,
}

/// Looks the claim up.
pub async fn find(
    conn: &impl ConnectionTrait,
    claim: &IdempotencyClaim,
) -> Result<Option<Replay>, DbErr> {
    let record = entity::idempotency_record::Entity::find_by_id(claim.scope_key.clone())
        .one(conn)
        .await?;
    Ok(record.map(|record| {
        if record.request_hash == claim.request_hash {
            Replay::Same {
                status_code: u16::try_from(record.status_code).unwrap_or(200),
                body: record.response_body,
            }
        } else {
            Replay::Mismatch
        }
    }))
}

/// Stores the answer to the claim. Fails with a unique violation when a concurrent request won.
pub async fn store(
    conn: &impl ConnectionTrait,
    claim: &IdempotencyClaim,
    status_code: u16,
    body: String,
) -> Result<(), DbErr> {
    entity::idempotency_record::ActiveModel {
        scope_key: Set(claim.scope_key.clone()),
        request_hash: Set(claim.request_hash.clone()),
        status_code: Set(i32::from(status_code)),
        response_body: Set(body),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// Removes the answers stored before `cutoff` (past any client's retry, so the access tokens inside
/// them do not linger); returns how many.
pub async fn purge_before(
    conn: &impl ConnectionTrait,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let res = entity::idempotency_record::Entity::delete_many()
        .filter(entity::idempotency_record::Column::CreatedAt.lt(cutoff))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}
