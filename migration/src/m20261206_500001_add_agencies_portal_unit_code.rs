//! `agencies.portal_unit_code`: the agency's unit code (`madonvi`) at the national public-service
//! portal; when unset, the agency's own code is sent.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Agencies::Table)
                    .add_column(string_null(Agencies::PortalUnitCode))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Agencies::Table)
                    .drop_column(Agencies::PortalUnitCode)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    PortalUnitCode,
}
