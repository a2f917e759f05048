//! One attempt to deliver a result: the recipient's identity document when delivered (Decision 45
//! Art. 10), or the reason when a notice was left (Circular 17 Art. 5.2h).

use sea_orm::entity::prelude::*;

use crate::enums::{DeliveryOutcome, EventSource};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub dossier_id: i64,
    pub leg_id: i64,
    pub outcome: DeliveryOutcome,
    /// When the attempt was made.
    pub at: DateTimeUtc,
    pub reason: Option<String>,
    pub recipient_full_name: Option<String>,
    /// CCCD, CMND or passport number shown by the recipient.
    pub recipient_id_number: Option<String>,
    /// Whether the recipient signed as a proxy holding a written authorisation.
    pub proxy: bool,
    /// A proxy's written authorisation: its number and date.
    pub authorization_ref: Option<String>,
    /// Postage collected at the door (`return` mode), when the delivery collected any.
    pub fee_collected_vnd: Option<i64>,
    pub source: EventSource,
    pub actor: String,
    pub api_key_id: Option<i64>,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
