//! `admin_audit.client_ip`: the address the audited request came from (`None` for the command line).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AdminAudit::Table)
                    .add_column(string_null(AdminAudit::ClientIp))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AdminAudit::Table)
                    .drop_column(AdminAudit::ClientIp)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AdminAudit {
    Table,
    ClientIp,
}
