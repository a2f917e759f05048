//! Make-up working days: a Saturday or Sunday the government declares a working day when it swaps a
//! weekday off around a holiday. Entered by administrators, like holidays.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WorkingDays::Table)
                    .col(date(WorkingDays::Date).primary_key())
                    .col(string(WorkingDays::Name))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WorkingDays::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WorkingDays {
    Table,
    Date,
    Name,
}
