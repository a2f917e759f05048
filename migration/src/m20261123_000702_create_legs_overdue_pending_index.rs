//! The overdue sweep's index over parcels: by status and due time, only those whose `overdue` event is
//! not raised yet. The sweep asks for parcels still on their way whose due time has passed, so it reads
//! the few index entries of open parcels past their deadline, however many parcels were ever carried.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, shared by `up` and `down`.
const NAME: &str = "legs_overdue_pending";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Legs::Table)
                    .col(Legs::Status)
                    .col(Legs::DueAt)
                    .and_where(Expr::col(Legs::OverdueRaisedAt).is_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Legs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    Status,
    DueAt,
    OverdueRaisedAt,
}
