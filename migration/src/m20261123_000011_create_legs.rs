//! Legs: the inbound and outbound parcels of each dossier, with their S10 item codes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Legs::Table)
                    .col(big_pk_auto(Legs::Id))
                    .col(big_integer(Legs::DossierId))
                    .col(string(Legs::Direction))
                    .col(string(Legs::RouteClass))
                    .col(string_null(Legs::ItemCode).unique_key())
                    .col(string(Legs::Status))
                    .col(timestamp_with_time_zone_null(Legs::DueAt))
                    .col(timestamp_with_time_zone_null(Legs::DeliveredAt))
                    .col(integer(Legs::FailedAttempts).default(0))
                    .col(timestamp_with_time_zone_null(Legs::LastFailedAt))
                    .col(timestamp_with_time_zone(Legs::CreatedAt))
                    .col(timestamp_with_time_zone(Legs::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Legs::Table, Legs::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("legs_dossier_direction")
                    .table(Legs::Table)
                    .col(Legs::DossierId)
                    .col(Legs::Direction)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Legs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    Id,
    DossierId,
    Direction,
    RouteClass,
    ItemCode,
    Status,
    DueAt,
    DeliveredAt,
    FailedAttempts,
    LastFailedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}
