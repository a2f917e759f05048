//! One attempt at one webhook delivery (an outbox row): when, the receiver's HTTP status if it
//! answered, how it ended, a short error of our own words. The receiver's body is never stored.

use sea_orm::entity::prelude::*;

use crate::enums::WebhookAttemptOutcome;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_id: i64,
    /// The outbox row delivered.
    pub outbox_id: i64,
    /// The delivery id (`webhook-id`), the same on every attempt of one delivery.
    pub delivery_id: String,
    /// 1 for the first attempt of the delivery.
    pub attempt: i32,
    pub attempted_at: DateTimeUtc,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<i32>,
    pub outcome: WebhookAttemptOutcome,
    /// Why it failed, in the service's words (no URL, nothing the receiver said).
    pub error: Option<String>,
    pub elapsed_ms: Option<i64>,
    /// When the next attempt is due; none when the delivery is done or given up.
    pub next_attempt_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
