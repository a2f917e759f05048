//! Webhooks, second version: the secret being rotated out (it still signs until
//! `previous_secret_expires_at`), and why and when a webhook was disabled — by a 410 from its receiver
//! or retries run out — with when its administrators were last alerted (at most once a day).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns added, in order; SQLite adds one per statement.
fn added() -> Vec<ColumnDef> {
    vec![
        text_null(Webhooks::PreviousSecret).to_owned(),
        timestamp_with_time_zone_null(Webhooks::PreviousSecretExpiresAt).to_owned(),
        timestamp_with_time_zone_null(Webhooks::SecretRotatedAt).to_owned(),
        timestamp_with_time_zone_null(Webhooks::DisabledAt).to_owned(),
        text_null(Webhooks::DisabledReason).to_owned(),
        timestamp_with_time_zone_null(Webhooks::LastAlertAt).to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in added() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Webhooks::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Webhooks::LastAlertAt,
            Webhooks::DisabledReason,
            Webhooks::DisabledAt,
            Webhooks::SecretRotatedAt,
            Webhooks::PreviousSecretExpiresAt,
            Webhooks::PreviousSecret,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Webhooks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Webhooks {
    Table,
    PreviousSecret,
    PreviousSecretExpiresAt,
    SecretRotatedAt,
    DisabledAt,
    DisabledReason,
    LastAlertAt,
}
