//! The stored answer to a request made with an `Idempotency-Key`, replayed when the key comes again.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_records")]
pub struct Model {
    /// The operation and the client's key, e.g. `create_dossier:3f1c…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope_key: String,
    /// SHA-256 of the request body, to refuse the same key with another body.
    pub request_hash: String,
    pub status_code: i32,
    pub response_body: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
