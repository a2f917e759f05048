//! Stored answers for `Idempotency-Key` replays.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyRecords::Table)
                    .col(string(IdempotencyRecords::ScopeKey).primary_key())
                    .col(string(IdempotencyRecords::RequestHash))
                    .col(integer(IdempotencyRecords::StatusCode))
                    .col(text(IdempotencyRecords::ResponseBody))
                    .col(timestamp_with_time_zone(IdempotencyRecords::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyRecords::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum IdempotencyRecords {
    Table,
    ScopeKey,
    RequestHash,
    StatusCode,
    ResponseBody,
    CreatedAt,
}
