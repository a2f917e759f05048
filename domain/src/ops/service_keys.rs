//! Secrets the service makes for itself when the operator configured none (today: the key that signs
//! parcel labels' QR tokens). They live in the database so that every replica behind the load balancer
//! signs and verifies with the same key, and a restart does not void the labels already printed.

use entity::service_key;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

/// The name of the key that signs label tokens.
pub const LABEL_SIGNING: &str = "label_signing";

/// Bytes of a generated key: the output size of SHA-256, the most HMAC-SHA256 can use.
pub const GENERATED_KEY_LEN: usize = 32;

/// Fewer bytes than this in a stored key means the row was tampered with or truncated.
const MIN_STORED_KEY_LEN: usize = 16;

/// The key called `name`, made at random and stored on first use.
///
/// Several replicas starting at once each try to insert their own random key; the insert does nothing
/// when the row exists, and everyone then reads the one row that won, so they all agree.
pub async fn get_or_create(conn: &impl ConnectionTrait, name: &str) -> Result<Vec<u8>, DbErr> {
    if let Some(found) = service_key::Entity::find_by_id(name).one(conn).await? {
        return checked(found);
    }
    let mut secret = vec![0u8; GENERATED_KEY_LEN];
    rand::fill(&mut secret[..]);
    service_key::Entity::insert(service_key::ActiveModel {
        name: Set(name.to_owned()),
        secret: Set(secret),
        created_at: Set(crate::clock::now()),
    })
    .on_conflict_do_nothing()
    .exec(conn)
    .await?;
    let stored = service_key::Entity::find_by_id(name)
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("service key `{name}`")))?;
    checked(stored)
}

fn checked(key: service_key::Model) -> Result<Vec<u8>, DbErr> {
    if key.secret.len() < MIN_STORED_KEY_LEN {
        return Err(DbErr::Custom(format!(
            "the stored service key `{}` is shorter than {MIN_STORED_KEY_LEN} bytes; delete the row to make a new one",
            key.name
        )));
    }
    Ok(key.secret)
}
