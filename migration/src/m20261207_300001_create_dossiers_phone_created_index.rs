//! An index on `dossiers (applicant_phone, created_at)`: before a pickup request is confirmed to the
//! applicant's phone, the requests made for that phone in the last day are counted (open or not), a
//! look-up this index answers without a scan.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, shared by `up` and `down`.
const NAME: &str = "dossiers_phone_created";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Dossiers::Table)
                    .col(Dossiers::ApplicantPhone)
                    .col(Dossiers::CreatedAt)
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
    CreatedAt,
}
