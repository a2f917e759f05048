//! Parcels by status and due time, whether their `overdue` event is raised or not: the agency worklist's
//! `overdue` filter asks which open parcels are past their due time, a question the sweep's partial
//! index (`legs_overdue_pending`) cannot answer once the events are raised.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, shared by `up` and `down`.
const NAME: &str = "legs_status_due";

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
}
