//! The append-only timeline and audit trail of a dossier: who did what, when, from which status to which.

use sea_orm::entity::prelude::*;

use crate::enums::{DossierStatus, EventKind, EventSource, LegDirection};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "dossier_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub dossier_id: i64,
    /// When it happened (a scanner's or carrier's time may be earlier than `recorded_at`).
    pub at: DateTimeUtc,
    pub kind: EventKind,
    pub source: EventSource,
    /// Who: `citizen`, `system`, or the name of the API key.
    pub actor: String,
    pub api_key_id: Option<i64>,
    pub from_status: Option<DossierStatus>,
    pub to_status: Option<DossierStatus>,
    pub leg: Option<LegDirection>,
    pub location: Option<String>,
    pub note: Option<String>,
    pub recorded_at: DateTimeUtc,
    /// The writing transaction's id on PostgreSQL (the column default fills it in; inserts leave it
    /// unset), `None` on SQLite. Orders the change feed (`domain::ops::feed`).
    pub txid: Option<i64>,
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
