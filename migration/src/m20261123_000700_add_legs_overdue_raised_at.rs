//! `legs.overdue_raised_at`: when the overdue sweep raised the `overdue` event of a parcel's delivery
//! deadline (Circular 17 Art. 7). Set once, in the same transaction as the event, so a later sweep
//! never raises it again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .add_column(timestamp_with_time_zone_null(Legs::OverdueRaisedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .drop_column(Legs::OverdueRaisedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    OverdueRaisedAt,
}
