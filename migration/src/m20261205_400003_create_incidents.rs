//! Incidents of a dossier's parcels (Decision 45 Art. 14; Circular 17 Art. 8): lost, damaged or
//! delayed, with the compensation paid.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Incidents::Table)
                    .col(big_pk_auto(Incidents::Id))
                    .col(big_integer(Incidents::DossierId))
                    .col(string(Incidents::Kind))
                    .col(string(Incidents::Leg))
                    .col(text_null(Incidents::Note))
                    .col(big_integer(Incidents::CompensationVnd))
                    .col(string(Incidents::Actor))
                    .col(big_integer_null(Incidents::ApiKeyId))
                    .col(timestamp_with_time_zone(Incidents::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Incidents::Table, Incidents::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("incidents_dossier")
                    .table(Incidents::Table)
                    .col(Incidents::DossierId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Incidents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
    DossierId,
    Kind,
    Leg,
    Note,
    CompensationVnd,
    Actor,
    ApiKeyId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}
