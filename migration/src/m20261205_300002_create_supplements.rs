//! Supplements: the documents an agency asked for when it found a dossier incomplete, and, once the
//! citizen sends them by post, the parcel that carries them, its pickup and its filing time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Supplements::Table)
                    .col(big_pk_auto(Supplements::Id))
                    .col(big_integer(Supplements::DossierId))
                    .col(timestamp_with_time_zone(Supplements::RequestedAt))
                    .col(json(Supplements::MissingDocuments))
                    .col(timestamp_with_time_zone_null(Supplements::SubmittedAt))
                    .col(json_null(Supplements::Documents))
                    .col(string_null(Supplements::PickupLine))
                    .col(string_null(Supplements::PickupWardCode))
                    .col(string_null(Supplements::PickupProvinceCode))
                    .col(big_integer_null(Supplements::PostageVnd))
                    .col(big_integer_null(Supplements::LegId))
                    .col(timestamp_with_time_zone_null(Supplements::PickedUpAt))
                    .col(big_integer_null(Supplements::FeeCollectedVnd))
                    .col(timestamp_with_time_zone_null(Supplements::FiledAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Supplements::Table, Supplements::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Supplements::Table, Supplements::LegId)
                            .to(Legs::Table, Legs::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("supplements_dossier_id")
                    .table(Supplements::Table)
                    .col(Supplements::DossierId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Supplements::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Supplements {
    Table,
    Id,
    DossierId,
    RequestedAt,
    MissingDocuments,
    SubmittedAt,
    Documents,
    PickupLine,
    PickupWardCode,
    PickupProvinceCode,
    PostageVnd,
    LegId,
    PickedUpAt,
    FeeCollectedVnd,
    FiledAt,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    Id,
}
