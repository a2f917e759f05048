//! A tracking event reported by the carrier (polled from its feed or pushed to us), stored once per
//! (item code, carrier event id): replays, duplicates and the pushed copy of a polled record change
//! nothing. Events of items this system does not know are kept with no dossier, for staff to reconcile.

use sea_orm::entity::prelude::*;

use crate::enums::ScanEvent;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "carrier_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Which carrier reported it (`vnpost`).
    pub carrier: String,
    /// The carrier's id of the event; with the item code, the natural key.
    pub carrier_event_id: i64,
    /// The S10 label of the parcel.
    pub item_code: String,
    pub order_number: String,
    pub customer_code: String,
    /// When it happened, as the carrier says.
    pub event_time: DateTimeWithTimeZone,
    pub pos_id: String,
    /// The VNPost status code as sent, known or not.
    pub status_code: i64,
    pub status_message: String,
    pub notes: String,
    /// The scan event the code maps to, if any (`domain::carrier_codes`).
    pub scan_event: Option<ScanEvent>,
    /// The dossier the item belongs to; `None` for items nobody here knows.
    pub dossier_id: Option<i64>,
    /// How it reached us: `poll` or `push`.
    pub received_via: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
