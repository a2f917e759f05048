//! Carrier records are written by the tens of thousands per minute and read by item code (their unique
//! index); their `dossier_id` notes which dossier the item belonged to when the record came, set from
//! the parcel looked up in the same transaction. This drops what every stored record paid for and
//! nothing used: the index by dossier (no query reads carrier records by dossier) and, on PostgreSQL,
//! the foreign key, whose per-row check cost about a tenth of the feed's ingest rate (dossiers are never
//! deleted, so it guarded nothing the writer does not already ensure). SQLite keeps its foreign key: it
//! cannot drop one without rebuilding the table, and its ingest is well within its figure.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, shared by `up` and `down`.
const INDEX: &str = "carrier_events_dossier";
/// The foreign key's name, as PostgreSQL named it when the table was made.
const FOREIGN_KEY: &str = "carrier_events_dossier_id_fkey";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(CarrierEvents::Table)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            manager
                .drop_foreign_key(
                    ForeignKey::drop()
                        .name(FOREIGN_KEY)
                        .table(CarrierEvents::Table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            manager
                .create_foreign_key(
                    ForeignKey::create()
                        .name(FOREIGN_KEY)
                        .from(CarrierEvents::Table, CarrierEvents::DossierId)
                        .to(Dossiers::Table, Dossiers::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(CarrierEvents::Table)
                    .col(CarrierEvents::DossierId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum CarrierEvents {
    Table,
    DossierId,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}
