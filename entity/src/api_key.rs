//! A staff or machine credential. Only the SHA-256 of the secret is stored.

use sea_orm::entity::prelude::*;

use crate::enums::Role;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub office_code: Option<String>,
    pub agency_code: Option<String>,
    #[sea_orm(unique)]
    pub secret_hash: String,
    /// The first characters of the key, to recognise it in lists without revealing it.
    pub prefix: String,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// Past this time the key is refused; `None` for a key without an end.
    pub expires_at: Option<DateTimeUtc>,
    /// When the key was last accepted (written at most once a minute).
    pub last_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
