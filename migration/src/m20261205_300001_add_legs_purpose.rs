//! `legs.purpose`: why a parcel travels when a dossier has more than one going the same way. NULL is
//! the dossier's own parcel of its direction (the dossier inbound, the result outbound);
//! `supplement` is a parcel of supplementary documents the agency asked for.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .add_column(text_null(Legs::Purpose))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Legs::Table)
                    .drop_column(Legs::Purpose)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Legs {
    Table,
    Purpose,
}
