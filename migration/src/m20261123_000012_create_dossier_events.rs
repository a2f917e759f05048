//! The append-only timeline and audit trail.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DossierEvents::Table)
                    .col(big_pk_auto(DossierEvents::Id))
                    .col(big_integer(DossierEvents::DossierId))
                    .col(timestamp_with_time_zone(DossierEvents::At))
                    .col(string(DossierEvents::Kind))
                    .col(string(DossierEvents::Source))
                    .col(string(DossierEvents::Actor))
                    .col(big_integer_null(DossierEvents::ApiKeyId))
                    .col(string_null(DossierEvents::FromStatus))
                    .col(string_null(DossierEvents::ToStatus))
                    .col(string_null(DossierEvents::Leg))
                    .col(string_null(DossierEvents::Location))
                    .col(text_null(DossierEvents::Note))
                    .col(timestamp_with_time_zone(DossierEvents::RecordedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DossierEvents::Table, DossierEvents::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("dossier_events_dossier_at")
                    .table(DossierEvents::Table)
                    .col(DossierEvents::DossierId)
                    .col(DossierEvents::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DossierEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DossierEvents {
    Table,
    Id,
    DossierId,
    At,
    Kind,
    Source,
    Actor,
    ApiKeyId,
    FromStatus,
    ToStatus,
    Leg,
    Location,
    Note,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}
