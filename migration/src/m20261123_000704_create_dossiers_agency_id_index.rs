//! The agency worklist's index: an agency's dossiers in id order, so that a page after a cursor is a
//! short range read whatever the number of dossiers of other agencies.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, shared by `up` and `down`.
const NAME: &str = "dossiers_agency_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Dossiers::Table)
                    .col(Dossiers::AgencyCode)
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
    AgencyCode,
}
