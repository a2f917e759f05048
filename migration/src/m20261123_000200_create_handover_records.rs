//! Handover records (Biên bản giao nhận, Decision 45 Art. 7 and 9) between post offices and agencies.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HandoverRecords::Table)
                    .col(big_pk_auto(HandoverRecords::Id))
                    .col(string_uniq(HandoverRecords::Number))
                    .col(string(HandoverRecords::Direction))
                    .col(string(HandoverRecords::Status))
                    .col(string(HandoverRecords::AgencyCode))
                    .col(string(HandoverRecords::OfficeCode))
                    .col(string(HandoverRecords::CreatedBy))
                    .col(big_integer_null(HandoverRecords::CreatedByKeyId))
                    .col(timestamp_with_time_zone(HandoverRecords::CreatedAt))
                    .col(string_null(HandoverRecords::ConfirmedBy))
                    .col(big_integer_null(HandoverRecords::ConfirmedByKeyId))
                    .col(timestamp_with_time_zone_null(HandoverRecords::ConfirmedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(HandoverRecords::Table, HandoverRecords::AgencyCode)
                            .to(Agencies::Table, Agencies::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(HandoverRecords::Table, HandoverRecords::OfficeCode)
                            .to(PostOffices::Table, PostOffices::Code),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            (
                "handover_records_agency_status",
                HandoverRecords::AgencyCode,
            ),
            (
                "handover_records_office_status",
                HandoverRecords::OfficeCode,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(HandoverRecords::Table)
                        .col(col)
                        .col(HandoverRecords::Status)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HandoverRecords::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum HandoverRecords {
    Table,
    Id,
    Number,
    Direction,
    Status,
    AgencyCode,
    OfficeCode,
    CreatedBy,
    CreatedByKeyId,
    CreatedAt,
    ConfirmedBy,
    ConfirmedByKeyId,
    ConfirmedAt,
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Code,
}

#[derive(DeriveIden)]
enum PostOffices {
    Table,
    Code,
}
