//! `carrier_unreadable_records`: the carrier's records that could not be read (CARRIER.md: no data
//! may be lost, unknown content is stored and shown, never fatal). Each is kept once per carrier and
//! record key — its carrier id when that much could be read, else a hash of its raw JSON — so the
//! feed's overlap window re-reading it changes nothing.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CarrierUnreadableRecords::Table)
                    .col(big_pk_auto(CarrierUnreadableRecords::Id))
                    .col(string(CarrierUnreadableRecords::Carrier))
                    .col(string(CarrierUnreadableRecords::RecordKey))
                    .col(big_integer_null(CarrierUnreadableRecords::CarrierEventId))
                    .col(text(CarrierUnreadableRecords::Reason))
                    .col(text(CarrierUnreadableRecords::Raw))
                    .col(boolean(CarrierUnreadableRecords::RawTruncated))
                    .col(string(CarrierUnreadableRecords::ReceivedVia))
                    .col(timestamp_with_time_zone(
                        CarrierUnreadableRecords::ReceivedAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("carrier_unreadable_records_key")
                    .table(CarrierUnreadableRecords::Table)
                    .col(CarrierUnreadableRecords::Carrier)
                    .col(CarrierUnreadableRecords::RecordKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(CarrierUnreadableRecords::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum CarrierUnreadableRecords {
    Table,
    Id,
    Carrier,
    RecordKey,
    CarrierEventId,
    Reason,
    Raw,
    RawTruncated,
    ReceivedVia,
    ReceivedAt,
}
