//! The reports' index over every agency: dossiers by creation time (the period a report covers),
//! carrying the columns the report groups and joins by. A report reads the period's slice of this
//! index alone (an index-only scan on PostgreSQL, a covering index on SQLite), never the dossiers'
//! rows with their slip data.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, shared by `up` and `down`.
const NAME: &str = "dossiers_report_created";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Dossiers::Table)
                    .col(Dossiers::CreatedAt)
                    .col(Dossiers::AgencyCode)
                    .col(Dossiers::ProcedureCode)
                    .col(Dossiers::Status)
                    .col(Dossiers::ResultDueAt)
                    .col(Dossiers::Id)
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
    Id,
    CreatedAt,
    AgencyCode,
    ProcedureCode,
    Status,
    ResultDueAt,
}
