//! `integration_states`: small named values the integrations keep across restarts and share between
//! workers — which outlets (phone, portal) the workers deliver to, and Zalo's rotating tokens.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IntegrationStates::Table)
                    .col(string(IntegrationStates::Name).primary_key())
                    .col(text(IntegrationStates::Value))
                    .col(timestamp_with_time_zone(IntegrationStates::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IntegrationStates::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum IntegrationStates {
    Table,
    Name,
    Value,
    UpdatedAt,
}
