//! What a delivery keeps beyond the recipient's identity document (Decision 45 Art. 10, 11):
//! `authorization_ref`, the number and date of a proxy's written authorisation, and
//! `fee_collected_vnd`, the postage collected at the door (`return` mode).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(DeliveryAttempts::Table)
                    .add_column(string_null(DeliveryAttempts::AuthorizationRef))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DeliveryAttempts::Table)
                    .add_column(big_integer_null(DeliveryAttempts::FeeCollectedVnd))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DeliveryAttempts::Table)
                    .drop_column(DeliveryAttempts::FeeCollectedVnd)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DeliveryAttempts::Table)
                    .drop_column(DeliveryAttempts::AuthorizationRef)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    AuthorizationRef,
    FeeCollectedVnd,
}
