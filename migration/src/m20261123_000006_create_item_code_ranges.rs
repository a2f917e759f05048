//! S10 serial ranges of each post office.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ItemCodeRanges::Table)
                    .col(big_pk_auto(ItemCodeRanges::Id))
                    .col(string(ItemCodeRanges::OfficeCode))
                    .col(string_len(ItemCodeRanges::ServiceIndicator, 2))
                    .col(big_integer(ItemCodeRanges::FirstSerial))
                    .col(big_integer(ItemCodeRanges::LastSerial))
                    .col(big_integer(ItemCodeRanges::NextSerial))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ItemCodeRanges::Table, ItemCodeRanges::OfficeCode)
                            .to(PostOffices::Table, PostOffices::Code),
                    )
                    .check(
                        Expr::col(ItemCodeRanges::FirstSerial)
                            .lte(Expr::col(ItemCodeRanges::LastSerial)),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("item_code_ranges_office")
                    .table(ItemCodeRanges::Table)
                    .col(ItemCodeRanges::OfficeCode)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ItemCodeRanges::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ItemCodeRanges {
    Table,
    Id,
    OfficeCode,
    ServiceIndicator,
    FirstSerial,
    LastSerial,
    NextSerial,
}

#[derive(DeriveIden)]
enum PostOffices {
    Table,
    Code,
}
