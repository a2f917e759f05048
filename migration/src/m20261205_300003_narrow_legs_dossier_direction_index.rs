//! One parcel per dossier and direction holds for the dossier's own parcels only: a supplement's
//! parcel (`purpose` set) travels inbound beside the dossier's. The unique index becomes partial.
//!
//! `down` restores the full index, which the database refuses while supplement parcels exist.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, before and after.
const NAME: &str = "legs_dossier_direction";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Legs::Table).to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Legs::Table)
                    .col(Legs::DossierId)
                    .col(Legs::Direction)
                    .unique()
                    .and_where(Expr::col(Legs::Purpose).is_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Legs::Table).to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Legs::Table)
                    .col(Legs::DossierId)
                    .col(Legs::Direction)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    DossierId,
    Direction,
    Purpose,
}
