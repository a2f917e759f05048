//! An incident of a dossier's parcel (Decision 45 Art. 14; Circular 17 Art. 8): lost, damaged or
//! delayed, with the compensation the post paid.

use sea_orm::entity::prelude::*;

use crate::enums::{IncidentKind, LegDirection};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incidents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub dossier_id: i64,
    pub kind: IncidentKind,
    /// The parcel it happened to.
    pub leg: LegDirection,
    pub note: Option<String>,
    /// What the post paid the citizen, in VND (0 when nothing).
    pub compensation_vnd: i64,
    pub actor: String,
    pub api_key_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
