//! The dossiers on each handover record. `open_dossier_id` is the dossier's id while the record is
//! pending and NULL once signed; its UNIQUE constraint keeps a dossier off two open records at once
//! (NULLs are distinct in both SQLite and PostgreSQL).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HandoverItems::Table)
                    .col(big_pk_auto(HandoverItems::Id))
                    .col(big_integer(HandoverItems::HandoverId))
                    .col(big_integer(HandoverItems::DossierId))
                    .col(big_integer_null(HandoverItems::OpenDossierId).unique_key())
                    .col(string_null(HandoverItems::ItemCode))
                    .foreign_key(
                        ForeignKey::create()
                            .from(HandoverItems::Table, HandoverItems::HandoverId)
                            .to(HandoverRecords::Table, HandoverRecords::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(HandoverItems::Table, HandoverItems::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("handover_items_handover_dossier")
                    .table(HandoverItems::Table)
                    .col(HandoverItems::HandoverId)
                    .col(HandoverItems::DossierId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("handover_items_dossier")
                    .table(HandoverItems::Table)
                    .col(HandoverItems::DossierId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HandoverItems::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum HandoverItems {
    Table,
    Id,
    HandoverId,
    DossierId,
    OpenDossierId,
    ItemCode,
}

#[derive(DeriveIden)]
enum HandoverRecords {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}
