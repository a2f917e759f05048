//! The audit trail of reference-data changes: which admin key changed which agency, procedure, office,
//! tariff or holiday, when, and the record before and after (as the admin API shows it).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_audit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// The API key that made the change (`None` for the service itself).
    pub api_key_id: Option<i64>,
    /// The key's name when the change was made (keys can be renamed or revoked later).
    pub api_key_name: String,
    /// `agency`, `procedure`, `office`, `tariff` or `holiday`.
    pub entity: String,
    /// The changed record's code (a route class for tariffs, a date for holidays).
    pub code: String,
    /// `create`, `replace` or `delete`.
    pub action: String,
    /// The record before the change; `None` when it was created.
    pub before: Option<Json>,
    /// The record after the change; `None` when it was deleted.
    pub after: Option<Json>,
    /// The address the request came from (`None` for the command line).
    pub client_ip: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
