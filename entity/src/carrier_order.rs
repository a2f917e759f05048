//! The carrier order of one parcel (CARRIER.md "Create an order"), one per leg with an item code. It is
//! written with the item code and placed from the outbox; it also keeps what per-order reads need:
//! when the carrier reported its final event (`final_at`: no more reads), when it was last read one
//! by one (`checked_at`, kept apart from the time of its last event, which `carrier_events` holds, so
//! quiet parcels are not re-read every cycle), and who is reading it now (the lease).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "carrier_orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `<dossier code>-<I|O>`, or `<dossier code>-I<n>` for a supplement's parcel (the dossier's n-th
    /// inbound parcel): the carrier dedupes on it.
    #[sea_orm(unique)]
    pub order_number: String,
    #[sea_orm(unique)]
    pub leg_id: i64,
    /// The S10 label of the parcel.
    #[sea_orm(unique)]
    pub item_code: String,
    /// When the carrier accepted the order; `None` while the outbox is still trying.
    pub placed_at: Option<DateTimeUtc>,
    /// When the carrier reported the parcel's final event (delivered, completed, cancelled).
    pub final_at: Option<DateTimeUtc>,
    /// When the order was last read one by one.
    pub checked_at: Option<DateTimeUtc>,
    pub lease_holder: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
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
