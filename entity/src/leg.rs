//! One parcel of a dossier: inbound (to the agency) or outbound (the result, back home).

use sea_orm::entity::prelude::*;

use crate::enums::{LegDirection, LegPurpose, LegStatus, PickupWindow, RouteClass};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "legs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub dossier_id: i64,
    pub direction: LegDirection,
    pub route_class: RouteClass,
    /// The UPU S10 identifier on the parcel, once it has one. Never shared by two legs.
    #[sea_orm(unique)]
    pub item_code: Option<String>,
    pub status: LegStatus,
    /// When the parcel left: picked up at the citizen's (inbound), or handed to the post with the
    /// result (outbound). Transit times run from here.
    pub started_at: Option<DateTimeUtc>,
    pub due_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub failed_attempts: i32,
    pub last_failed_at: Option<DateTimeUtc>,
    /// When the sweep raised this parcel's one `overdue` event; `None` while not raised.
    pub overdue_raised_at: Option<DateTimeUtc>,
    /// For a delivered result: whether the person who signed was checked against the dossier
    /// (Decision 45 Art. 10). `false` for a carrier-reported delivery until the office confirms it.
    /// Not part of the tracking view's JSON (SQLite gives booleans there as numbers).
    #[serde(default, skip_deserializing)]
    pub identity_confirmed: Option<bool>,
    /// `supplement` for a parcel of supplementary documents; none for the direction's own parcel.
    pub purpose: Option<LegPurpose>,
    /// A supplement's parcel: the date of its booked pickup (a dossier's first pickup keeps its
    /// booking in `pickup_appointments`).
    pub pickup_date: Option<Date>,
    /// A supplement's parcel: the half-day of its booked pickup.
    pub pickup_window: Option<PickupWindow>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
