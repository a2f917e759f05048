//! Dossier slips (Phiếu gửi hồ sơ) signed at pickup.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PickupSlips::Table)
                    .col(big_pk_auto(PickupSlips::Id))
                    .col(big_integer_uniq(PickupSlips::DossierId))
                    .col(big_integer(PickupSlips::LegId))
                    .col(string(PickupSlips::ItemCode))
                    .col(date(PickupSlips::JDate))
                    .col(timestamp_with_time_zone(PickupSlips::PickedUpAt))
                    .col(boolean(PickupSlips::DocumentsChecked))
                    .col(big_integer(PickupSlips::FeeCollectedVnd))
                    .col(json(PickupSlips::Documents))
                    .col(string(PickupSlips::OfficeCode))
                    .col(string(PickupSlips::Actor))
                    .col(big_integer_null(PickupSlips::ApiKeyId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PickupSlips::Table, PickupSlips::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PickupSlips::Table, PickupSlips::LegId)
                            .to(Legs::Table, Legs::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PickupSlips::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PickupSlips {
    Table,
    Id,
    DossierId,
    LegId,
    ItemCode,
    JDate,
    PickedUpAt,
    DocumentsChecked,
    FeeCollectedVnd,
    Documents,
    OfficeCode,
    Actor,
    ApiKeyId,
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
