//! A dossier's parcels, found by the dossier: every dossier view, the public tracking view and the
//! scans read them this way. The unique index on `(dossier_id, direction)` became partial (the
//! dossier's own parcels only), so it no longer serves these reads and each of them scanned the whole
//! table; this index serves them again, in the order they are listed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, shared by `up` and `down`.
const NAME: &str = "legs_dossier_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Legs::Table)
                    .col(Legs::DossierId)
                    .col(Legs::Id)
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
    Id,
    DossierId,
}
