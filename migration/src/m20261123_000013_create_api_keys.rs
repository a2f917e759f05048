//! Hashed API keys of staff and machines.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(big_pk_auto(ApiKeys::Id))
                    .col(string(ApiKeys::Name))
                    .col(string(ApiKeys::Role))
                    .col(string_null(ApiKeys::OfficeCode))
                    .col(string_null(ApiKeys::AgencyCode))
                    .col(string_uniq(ApiKeys::SecretHash))
                    .col(string(ApiKeys::Prefix))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Role,
    OfficeCode,
    AgencyCode,
    SecretHash,
    Prefix,
    CreatedAt,
    RevokedAt,
}
