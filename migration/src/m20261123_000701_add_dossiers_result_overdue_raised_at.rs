//! `dossiers.result_overdue_raised_at`: when the overdue sweep raised the `overdue` event of the
//! agency's result deadline. Set once, in the same transaction as the event; cleared only when the
//! agency sets a new deadline, which may then pass in its turn.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Dossiers::Table)
                    .add_column(timestamp_with_time_zone_null(
                        Dossiers::ResultOverdueRaisedAt,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Dossiers::Table)
                    .drop_column(Dossiers::ResultOverdueRaisedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    ResultOverdueRaisedAt,
}
