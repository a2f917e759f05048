//! Delivery attempts of results: the recipient's identity document, or the reason of a failed notice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeliveryAttempts::Table)
                    .col(big_pk_auto(DeliveryAttempts::Id))
                    .col(big_integer(DeliveryAttempts::DossierId))
                    .col(big_integer(DeliveryAttempts::LegId))
                    .col(string(DeliveryAttempts::Outcome))
                    .col(timestamp_with_time_zone(DeliveryAttempts::At))
                    .col(text_null(DeliveryAttempts::Reason))
                    .col(string_null(DeliveryAttempts::RecipientFullName))
                    .col(string_null(DeliveryAttempts::RecipientIdNumber))
                    .col(boolean(DeliveryAttempts::Proxy))
                    .col(string(DeliveryAttempts::Source))
                    .col(string(DeliveryAttempts::Actor))
                    .col(big_integer_null(DeliveryAttempts::ApiKeyId))
                    .col(timestamp_with_time_zone(DeliveryAttempts::RecordedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeliveryAttempts::Table, DeliveryAttempts::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeliveryAttempts::Table, DeliveryAttempts::LegId)
                            .to(Legs::Table, Legs::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("delivery_attempts_leg_at")
                    .table(DeliveryAttempts::Table)
                    .col(DeliveryAttempts::LegId)
                    .col(DeliveryAttempts::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeliveryAttempts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    Id,
    DossierId,
    LegId,
    Outcome,
    At,
    Reason,
    RecipientFullName,
    RecipientIdNumber,
    Proxy,
    Source,
    Actor,
    ApiKeyId,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    Id,
}
