//! Parcel scans, stored once per scanner-given `scan_id`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Scans::Table)
                    .col(big_pk_auto(Scans::Id))
                    .col(string_uniq(Scans::ScanId))
                    .col(big_integer(Scans::LegId))
                    .col(big_integer(Scans::DossierId))
                    .col(string(Scans::Event))
                    .col(timestamp_with_time_zone(Scans::At))
                    .col(string_null(Scans::Location))
                    .col(text_null(Scans::Note))
                    .col(boolean(Scans::Applied))
                    .col(string(Scans::Actor))
                    .col(big_integer_null(Scans::ApiKeyId))
                    .col(timestamp_with_time_zone(Scans::RecordedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Scans::Table, Scans::LegId)
                            .to(Legs::Table, Legs::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Scans::Table, Scans::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("scans_leg_at")
                    .table(Scans::Table)
                    .col(Scans::LegId)
                    .col(Scans::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Scans::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Scans {
    Table,
    Id,
    ScanId,
    LegId,
    DossierId,
    Event,
    At,
    Location,
    Note,
    Applied,
    Actor,
    ApiKeyId,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}
