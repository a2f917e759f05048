//! Signed-in web sessions of staff, one row each, so that signing out ends a session on the server: a
//! replayed cookie of an ended session is refused. The row holds the SHA-256 of the session's nonce,
//! never the cookie itself.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StaffSessions::Table)
                    .col(string(StaffSessions::NonceHash).primary_key())
                    .col(big_integer(StaffSessions::ApiKeyId))
                    .col(timestamp_with_time_zone(StaffSessions::CreatedAt))
                    .col(timestamp_with_time_zone(StaffSessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(StaffSessions::EndedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("staff_sessions_api_key")
                    .table(StaffSessions::Table)
                    .col(StaffSessions::ApiKeyId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StaffSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StaffSessions {
    Table,
    NonceHash,
    ApiKeyId,
    CreatedAt,
    ExpiresAt,
    EndedAt,
}
