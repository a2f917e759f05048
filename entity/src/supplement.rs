//! A supplement: the documents an agency named when it found a dossier incomplete and, once the citizen
//! sends them by post, the parcel that carries them (its pickup, and its filing at the desk, from which
//! the agency's processing time counts anew).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supplements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub dossier_id: i64,
    pub requested_at: DateTimeUtc,
    /// The documents the agency asked for: `["…"]`.
    pub missing_documents: Json,
    pub submitted_at: Option<DateTimeUtc>,
    /// The documents the citizen sends: `[{"name", "original", "copies"}]`.
    pub documents: Option<Json>,
    pub pickup_line: Option<String>,
    pub pickup_ward_code: Option<String>,
    pub pickup_province_code: Option<String>,
    /// The postage of the supplement's parcel, exemptions applied; collected at its pickup.
    pub postage_vnd: Option<i64>,
    pub leg_id: Option<i64>,
    pub picked_up_at: Option<DateTimeUtc>,
    pub fee_collected_vnd: Option<i64>,
    /// The signing of the handover record that brought the supplement to the desk.
    pub filed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
