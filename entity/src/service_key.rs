//! A secret the service makes for itself on first start (e.g. the key that signs parcel labels' QR
//! tokens) when none is configured, shared by every replica through the database.

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_keys")]
pub struct Model {
    /// What the key is for, e.g. `label_signing`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The random key bytes.
    pub secret: Vec<u8>,
    pub created_at: DateTimeUtc,
}

/// Shows the name only: the secret never reaches a log.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKey")
            .field("name", &self.name)
            .field("secret", &"[redacted]")
            .field("created_at", &self.created_at)
            .finish()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
