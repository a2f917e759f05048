//! A citizen's complaint about the carriage of their dossier (Circular 17 Art. 8), with the time by
//! which it must be answered.

use sea_orm::entity::prelude::*;

use crate::enums::ComplaintStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "complaints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub dossier_id: i64,
    /// The citizen's words: personal data, never logged.
    pub text: String,
    pub status: ComplaintStatus,
    pub due_at: DateTimeUtc,
    pub answer: Option<String>,
    pub answered_at: Option<DateTimeUtc>,
    pub answered_by: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::dossier::Entity",
        from = "Column::DossierId",
        to = "super::dossier::Column::Id"
    )]
    Dossier,
}

impl Related<super::dossier::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Dossier.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
