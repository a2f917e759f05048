//! A block of S10 serial numbers a post office may allocate item codes from.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "item_code_ranges")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub office_code: String,
    /// Two-letter service indicator, e.g. `EB`.
    pub service_indicator: String,
    pub first_serial: i64,
    pub last_serial: i64,
    /// The next serial to hand out; past `last_serial` the range is spent.
    pub next_serial: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
