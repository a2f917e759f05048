//! Public holidays, entered as data each year.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Holidays::Table)
                    .col(date(Holidays::Date).primary_key())
                    .col(string(Holidays::Name))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Holidays::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Holidays {
    Table,
    Date,
    Name,
}
