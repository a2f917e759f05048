//! Agencies whose one-stop desks receive dossiers.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Agencies::Table)
                    .col(string(Agencies::Code).primary_key())
                    .col(string(Agencies::Name))
                    .col(string_null(Agencies::Identifier))
                    .col(string(Agencies::ProvinceCode))
                    .col(string(Agencies::WardCode))
                    .col(string(Agencies::Address))
                    .col(string_null(Agencies::Email))
                    .col(timestamp_with_time_zone(Agencies::CreatedAt))
                    .col(timestamp_with_time_zone(Agencies::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Agencies::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Code,
    Name,
    Identifier,
    ProvinceCode,
    WardCode,
    Address,
    Email,
    CreatedAt,
    UpdatedAt,
}
