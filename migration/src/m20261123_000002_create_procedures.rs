//! Administrative procedures of the national database.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Procedures::Table)
                    .col(string(Procedures::Code).primary_key())
                    .col(string(Procedures::Name))
                    .col(big_integer(Procedures::AdminFeeVnd))
                    .col(integer(Procedures::ProcessingDays))
                    .col(timestamp_with_time_zone(Procedures::CreatedAt))
                    .col(timestamp_with_time_zone(Procedures::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Procedures::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Procedures {
    Table,
    Code,
    Name,
    AdminFeeVnd,
    ProcessingDays,
    CreatedAt,
    UpdatedAt,
}
