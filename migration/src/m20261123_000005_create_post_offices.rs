//! Post offices.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PostOffices::Table)
                    .col(string(PostOffices::Code).primary_key())
                    .col(string(PostOffices::Name))
                    .col(string(PostOffices::ProvinceCode))
                    .col(string(PostOffices::WardCode))
                    .col(string(PostOffices::Address))
                    .col(timestamp_with_time_zone(PostOffices::CreatedAt))
                    .col(timestamp_with_time_zone(PostOffices::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("post_offices_province_ward")
                    .table(PostOffices::Table)
                    .col(PostOffices::ProvinceCode)
                    .col(PostOffices::WardCode)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PostOffices::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PostOffices {
    Table,
    Code,
    Name,
    ProvinceCode,
    WardCode,
    Address,
    CreatedAt,
    UpdatedAt,
}
