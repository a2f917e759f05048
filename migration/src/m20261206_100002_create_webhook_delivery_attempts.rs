//! Every attempt at a webhook delivery: when, what HTTP status came back (never the body), how it
//! ended and when the next one is due, so administrators see a receiver's history
//! (`GET /api/v1/admin/webhooks/{id}/deliveries`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveryAttempts::Table)
                    .col(big_pk_auto(WebhookDeliveryAttempts::Id))
                    .col(big_integer(WebhookDeliveryAttempts::WebhookId))
                    .col(big_integer(WebhookDeliveryAttempts::OutboxId))
                    .col(string(WebhookDeliveryAttempts::DeliveryId))
                    .col(integer(WebhookDeliveryAttempts::Attempt))
                    .col(timestamp_with_time_zone(
                        WebhookDeliveryAttempts::AttemptedAt,
                    ))
                    .col(integer_null(WebhookDeliveryAttempts::HttpStatus))
                    .col(string(WebhookDeliveryAttempts::Outcome))
                    .col(text_null(WebhookDeliveryAttempts::Error))
                    .col(big_integer_null(WebhookDeliveryAttempts::ElapsedMs))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveryAttempts::NextAttemptAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                WebhookDeliveryAttempts::Table,
                                WebhookDeliveryAttempts::WebhookId,
                            )
                            .to(Webhooks::Table, Webhooks::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                WebhookDeliveryAttempts::Table,
                                WebhookDeliveryAttempts::OutboxId,
                            )
                            .to(Outbox::Table, Outbox::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_delivery_attempts_webhook_id")
                    .table(WebhookDeliveryAttempts::Table)
                    .col(WebhookDeliveryAttempts::WebhookId)
                    .col(WebhookDeliveryAttempts::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(WebhookDeliveryAttempts::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum WebhookDeliveryAttempts {
    Table,
    Id,
    WebhookId,
    OutboxId,
    DeliveryId,
    Attempt,
    AttemptedAt,
    HttpStatus,
    Outcome,
    Error,
    ElapsedMs,
    NextAttemptAt,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
}
