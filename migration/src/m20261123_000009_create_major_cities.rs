//! The administrator's table of special and type-I cities (route class `inter_province_major`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MajorCities::Table)
                    .col(string(MajorCities::ProvinceCode).primary_key())
                    .col(string(MajorCities::Name))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MajorCities::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MajorCities {
    Table,
    ProvinceCode,
    Name,
}
