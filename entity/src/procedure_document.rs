//! One document on a procedure's published list.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "procedure_documents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub procedure_code: String,
    pub position: i32,
    pub name: String,
    pub original_required: bool,
    /// The code a request names the document by, unique within the procedure.
    pub code: String,
    /// Whether a pickup request must include it.
    pub required: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
