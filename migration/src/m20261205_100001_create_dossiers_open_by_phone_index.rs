//! The open pickup requests of one applicant phone, counted before each new one is written (at most
//! `limits.open_requests_per_phone`): an index of the phones of dossiers still waiting for the post to
//! collect them, and nothing else.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, shared by `up` and `down`.
const NAME: &str = "dossiers_open_by_phone";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Dossiers::Table)
                    .col(Dossiers::ApplicantPhone)
                    .and_where(Expr::col(Dossiers::Status).is_in([
                        "pickup_requested",
                        "pickup_scheduled",
                        "pickup_failed",
                    ]))
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
    ApplicantPhone,
    Status,
}
