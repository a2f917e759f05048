//! `procedure_documents.code` and `.required`: each document on a procedure's published list gets a
//! code a request can name it by, and a flag for the documents without which a pickup request is
//! refused. Existing documents are coded `<procedure>-<nn>` by position and are not required until an
//! administrator says so.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(ProcedureDocuments::Table)
                    .add_column(string(ProcedureDocuments::Code).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProcedureDocuments::Table)
                    .add_column(boolean(ProcedureDocuments::Required).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE procedure_documents SET code = procedure_code || '-' || \
                 CASE WHEN position < 9 THEN '0' ELSE '' END || CAST(position + 1 AS TEXT)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [ProcedureDocuments::Required, ProcedureDocuments::Code] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ProcedureDocuments::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ProcedureDocuments {
    Table,
    Code,
    Required,
}
