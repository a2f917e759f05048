//! A small named value an integration keeps across restarts and shares between workers (which outlets
//! the workers deliver to; Zalo's rotating tokens).

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integration_states")]
pub struct Model {
    /// e.g. `outlets.phone`, `zalo.tokens`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub value: String,
    pub updated_at: DateTimeUtc,
}

/// Shows the name only: a value may be a token.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationState")
            .field("name", &self.name)
            .field("value", &"[redacted]")
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
