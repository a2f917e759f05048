//! Where the worker is in the carrier's event feed, and who is reading it: one row per carrier. The
//! lease (holder, until) lets any number of workers share the feed without reading it twice; an
//! expired lease is taken over. `last_id` moves only in the transaction that stores the events it covers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "carrier_cursor")]
pub struct Model {
    /// The carrier (`vnpost`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub carrier: String,
    /// The feed has been stored up to this id.
    pub last_id: i64,
    pub lease_holder: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
