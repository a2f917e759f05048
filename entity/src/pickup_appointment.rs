//! When the post will call for a dossier: a date and a half-day, as booked with the citizen.

use sea_orm::entity::prelude::*;

use crate::enums::PickupWindow;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pickup_appointments")]
pub struct Model {
    /// One current appointment per dossier; rescheduling replaces it (the timeline keeps the history).
    #[sea_orm(primary_key, auto_increment = false)]
    pub dossier_id: i64,
    pub date: Date,
    pub pickup_window: PickupWindow,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
