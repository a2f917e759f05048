//! One dossier on a handover record, with the item code of the parcel that carries it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "handover_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub handover_id: i64,
    pub dossier_id: i64,
    /// The dossier's id while the record is pending, `NULL` once signed. Unique, so that the schema
    /// itself keeps a dossier off two open records at once.
    #[sea_orm(unique)]
    pub open_dossier_id: Option<i64>,
    /// The inbound parcel's code (to the agency), or the outbound one allocated on signing (to the post).
    pub item_code: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::handover_record::Entity",
        from = "Column::HandoverId",
        to = "super::handover_record::Column::Id"
    )]
    HandoverRecord,
    #[sea_orm(
        belongs_to = "super::dossier::Entity",
        from = "Column::DossierId",
        to = "super::dossier::Column::Id"
    )]
    Dossier,
}

impl Related<super::handover_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::HandoverRecord.def()
    }
}

impl Related<super::dossier::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Dossier.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
