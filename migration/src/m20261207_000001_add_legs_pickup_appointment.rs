//! `legs.pickup_date` and `legs.pickup_window`: the booked pickup of a supplement's parcel (date and
//! half-day). A dossier's own first pickup keeps its booking in `pickup_appointments`, one per dossier;
//! a supplement is a second parcel collected while the dossier waits, so its booking sits on its leg,
//! beside the leg's status (`planned`, `pickup_scheduled`, `pickup_failed`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .add_column(date_null(Legs::PickupDate))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .add_column(string_null(Legs::PickupWindow))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .drop_column(Legs::PickupWindow)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .drop_column(Legs::PickupDate)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    PickupDate,
    PickupWindow,
}
