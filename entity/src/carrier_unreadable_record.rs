//! A record of the carrier's that could not be read (a broken `eventTime`, a status code that is not
//! a number, …), kept with its raw JSON and the reason, for administrators to see and take up with the
//! carrier: nothing the carrier sends is lost, and the feed's cursor still moves past it.

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "carrier_unreadable_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Which carrier sent it (`vnpost`).
    pub carrier: String,
    /// Unique per carrier: `id:<carrier id>`, or `sha256:<hex of the raw JSON>` when not even the id
    /// could be read.
    pub record_key: String,
    /// The carrier's id of the record, when that much could be read.
    pub carrier_event_id: Option<i64>,
    /// Why it could not be read.
    pub reason: String,
    /// The JSON as received, cut to a bounded size (it may hold a postman's notes: never logged).
    pub raw: String,
    /// Whether `raw` was cut.
    pub raw_truncated: bool,
    /// How it reached us: `poll` or `order`.
    pub received_via: String,
    pub received_at: DateTimeUtc,
}

/// Leaves the raw JSON out: it may hold personal data.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarrierUnreadableRecord")
            .field("id", &self.id)
            .field("record_key", &self.record_key)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
