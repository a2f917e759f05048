//! The audit trail of administrators' reference-data changes, with the record before and after.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AdminAudit::Table)
                    .col(big_pk_auto(AdminAudit::Id))
                    .col(timestamp_with_time_zone(AdminAudit::At))
                    .col(big_integer_null(AdminAudit::ApiKeyId))
                    .col(string(AdminAudit::ApiKeyName))
                    .col(string(AdminAudit::Entity))
                    .col(string(AdminAudit::Code))
                    .col(string(AdminAudit::Action))
                    .col(json_null(AdminAudit::Before))
                    .col(json_null(AdminAudit::After))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("admin_audit_entity_code")
                    .table(AdminAudit::Table)
                    .col(AdminAudit::Entity)
                    .col(AdminAudit::Code)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AdminAudit::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AdminAudit {
    Table,
    Id,
    At,
    ApiKeyId,
    ApiKeyName,
    Entity,
    Code,
    Action,
    Before,
    After,
}
