//! The current pickup appointment of each dossier (date and half-day).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PickupAppointments::Table)
                    .col(big_integer(PickupAppointments::DossierId).primary_key())
                    .col(date(PickupAppointments::Date))
                    .col(string(PickupAppointments::PickupWindow))
                    .col(timestamp_with_time_zone(PickupAppointments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PickupAppointments::Table, PickupAppointments::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PickupAppointments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PickupAppointments {
    Table,
    DossierId,
    Date,
    PickupWindow,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}
