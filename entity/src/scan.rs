//! A parcel scan from a handheld or offline scanner, stored once per `scan_id` so that a scanner may
//! resend a batch without creating a second event.

use sea_orm::entity::prelude::*;

use crate::enums::ScanEvent;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The scanner's own UUID for the scan, lowercase and hyphenated: the idempotency key.
    #[sea_orm(unique)]
    pub scan_id: String,
    pub leg_id: i64,
    pub dossier_id: i64,
    pub event: ScanEvent,
    /// When the parcel was scanned (may be long before it reached us).
    pub at: DateTimeUtc,
    pub location: Option<String>,
    pub note: Option<String>,
    /// Whether the scan moved the dossier's status (late scans only join the timeline).
    pub applied: bool,
    pub actor: String,
    pub api_key_id: Option<i64>,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::leg::Entity",
        from = "Column::LegId",
        to = "super::leg::Column::Id"
    )]
    Leg,
}

impl Related<super::leg::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Leg.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
