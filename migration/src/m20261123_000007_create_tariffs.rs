//! Postage per leg by route class.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tariffs::Table)
                    .col(string(Tariffs::RouteClass).primary_key())
                    .col(big_integer(Tariffs::PostageVnd))
                    .col(timestamp_with_time_zone(Tariffs::UpdatedAt))
                    .check(Expr::col(Tariffs::PostageVnd).gte(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tariffs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Tariffs {
    Table,
    RouteClass,
    PostageVnd,
    UpdatedAt,
}
