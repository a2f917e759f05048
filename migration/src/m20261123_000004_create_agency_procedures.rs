//! Which agency handles which procedure.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AgencyProcedures::Table)
                    .col(string(AgencyProcedures::AgencyCode))
                    .col(string(AgencyProcedures::ProcedureCode))
                    .primary_key(
                        Index::create()
                            .col(AgencyProcedures::AgencyCode)
                            .col(AgencyProcedures::ProcedureCode),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AgencyProcedures::Table, AgencyProcedures::AgencyCode)
                            .to(Agencies::Table, Agencies::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AgencyProcedures::Table, AgencyProcedures::ProcedureCode)
                            .to(Procedures::Table, Procedures::Code),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AgencyProcedures::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AgencyProcedures {
    Table,
    AgencyCode,
    ProcedureCode,
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Code,
}

#[derive(DeriveIden)]
enum Procedures {
    Table,
    Code,
}
