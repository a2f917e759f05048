//! Carrier tracking events, unique per (item code, carrier event id) in the schema, and the feed
//! cursor with its lease.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CarrierEvents::Table)
                    .col(big_pk_auto(CarrierEvents::Id))
                    .col(string(CarrierEvents::Carrier))
                    .col(big_integer(CarrierEvents::CarrierEventId))
                    .col(string(CarrierEvents::ItemCode))
                    .col(string(CarrierEvents::OrderNumber))
                    .col(string(CarrierEvents::CustomerCode))
                    .col(timestamp_with_time_zone(CarrierEvents::EventTime))
                    .col(string(CarrierEvents::PosId))
                    .col(big_integer(CarrierEvents::StatusCode))
                    .col(text(CarrierEvents::StatusMessage))
                    .col(text(CarrierEvents::Notes))
                    .col(string_null(CarrierEvents::ScanEvent))
                    .col(big_integer_null(CarrierEvents::DossierId))
                    .col(string(CarrierEvents::ReceivedVia))
                    .col(timestamp_with_time_zone(CarrierEvents::ReceivedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CarrierEvents::Table, CarrierEvents::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("carrier_events_item_event")
                    .table(CarrierEvents::Table)
                    .col(CarrierEvents::ItemCode)
                    .col(CarrierEvents::CarrierEventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("carrier_events_dossier")
                    .table(CarrierEvents::Table)
                    .col(CarrierEvents::DossierId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CarrierCursor::Table)
                    .col(string(CarrierCursor::Carrier).primary_key())
                    .col(big_integer(CarrierCursor::LastId))
                    .col(string_null(CarrierCursor::LeaseHolder))
                    .col(timestamp_with_time_zone_null(CarrierCursor::LeaseUntil))
                    .col(timestamp_with_time_zone(CarrierCursor::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CarrierCursor::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CarrierEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CarrierEvents {
    Table,
    Id,
    Carrier,
    CarrierEventId,
    ItemCode,
    OrderNumber,
    CustomerCode,
    EventTime,
    PosId,
    StatusCode,
    StatusMessage,
    Notes,
    ScanEvent,
    DossierId,
    ReceivedVia,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum CarrierCursor {
    Table,
    Carrier,
    LastId,
    LeaseHolder,
    LeaseUntil,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}
