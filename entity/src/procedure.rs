//! An administrative procedure of the National Administrative Procedure Database.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "procedures")]
pub struct Model {
    /// The national code, e.g. `1.001193`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    pub admin_fee_vnd: i64,
    /// Working days the agency has to rule, from the legal filing time.
    pub processing_days: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
