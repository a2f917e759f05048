//! Service keys: secrets the service generates for itself when none is configured (the label-signing
//! key), one row per purpose, so that every replica uses the same one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServiceKeys::Table)
                    .col(string(ServiceKeys::Name).primary_key())
                    .col(blob(ServiceKeys::Secret))
                    .col(timestamp_with_time_zone(ServiceKeys::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServiceKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ServiceKeys {
    Table,
    Name,
    Secret,
    CreatedAt,
}
