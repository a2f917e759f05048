//! Which agency handles which procedure.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agency_procedures")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub procedure_code: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
