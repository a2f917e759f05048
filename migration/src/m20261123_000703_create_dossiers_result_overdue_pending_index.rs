//! The overdue sweep's index over the agencies' result deadlines: by status and due time, only dossiers
//! whose `overdue` event is not raised yet, so the sweep reads the dossiers still at a desk past their
//! deadline and nothing else.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, shared by `up` and `down`.
const NAME: &str = "dossiers_result_overdue_pending";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Dossiers::Table)
                    .col(Dossiers::Status)
                    .col(Dossiers::ResultDueAt)
                    .and_where(Expr::col(Dossiers::ResultOverdueRaisedAt).is_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Dossiers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Status,
    ResultDueAt,
    ResultOverdueRaisedAt,
}
