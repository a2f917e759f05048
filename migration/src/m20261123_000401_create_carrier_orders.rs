//! The carrier order of each parcel (CARRIER.md "Create an order"): written with the item code, marked
//! placed once the carrier accepted it, and the bookkeeping of per-order reads — when the carrier
//! reported the parcel's final event, when it was last read one by one, and the lease of the worker
//! reading it now. (When its last event came is in `carrier_events`.)

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The per-order reads' index: open orders by when they were last read.
const QUIET_INDEX: &str = "carrier_orders_open_checked";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CarrierOrders::Table)
                    .col(big_pk_auto(CarrierOrders::Id))
                    .col(string_uniq(CarrierOrders::OrderNumber))
                    .col(big_integer_uniq(CarrierOrders::LegId))
                    .col(string_uniq(CarrierOrders::ItemCode))
                    .col(timestamp_with_time_zone_null(CarrierOrders::PlacedAt))
                    .col(timestamp_with_time_zone_null(CarrierOrders::FinalAt))
                    .col(timestamp_with_time_zone_null(CarrierOrders::CheckedAt))
                    .col(string_null(CarrierOrders::LeaseHolder))
                    .col(timestamp_with_time_zone_null(CarrierOrders::LeaseUntil))
                    .col(timestamp_with_time_zone(CarrierOrders::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CarrierOrders::Table, CarrierOrders::LegId)
                            .to(Legs::Table, Legs::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(QUIET_INDEX)
                    .table(CarrierOrders::Table)
                    .col(CarrierOrders::CheckedAt)
                    .and_where(Expr::col(CarrierOrders::FinalAt).is_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(QUIET_INDEX)
                    .table(CarrierOrders::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(CarrierOrders::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CarrierOrders {
    Table,
    Id,
    OrderNumber,
    LegId,
    ItemCode,
    PlacedAt,
    FinalAt,
    CheckedAt,
    LeaseHolder,
    LeaseUntil,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    Id,
}
