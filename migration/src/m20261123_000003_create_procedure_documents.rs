//! The published document list of each procedure.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProcedureDocuments::Table)
                    .col(big_pk_auto(ProcedureDocuments::Id))
                    .col(string(ProcedureDocuments::ProcedureCode))
                    .col(integer(ProcedureDocuments::Position))
                    .col(string(ProcedureDocuments::Name))
                    .col(boolean(ProcedureDocuments::OriginalRequired))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProcedureDocuments::Table, ProcedureDocuments::ProcedureCode)
                            .to(Procedures::Table, Procedures::Code)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("procedure_documents_procedure_position")
                    .table(ProcedureDocuments::Table)
                    .col(ProcedureDocuments::ProcedureCode)
                    .col(ProcedureDocuments::Position)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProcedureDocuments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ProcedureDocuments {
    Table,
    Id,
    ProcedureCode,
    Position,
    Name,
    OriginalRequired,
}

#[derive(DeriveIden)]
enum Procedures {
    Table,
    Code,
}
