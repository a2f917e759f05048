//! A periodic report sent to one agency for one period (Circular 17 Art. 13): its row makes the
//! sending happen once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "period_reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `2026-Q4`, `2026-H2` or `2026`.
    pub period: String,
    pub agency_code: String,
    pub sent_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
