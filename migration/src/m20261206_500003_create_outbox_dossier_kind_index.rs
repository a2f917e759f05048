//! An index on `outbox (dossier_id, kind, id)`: a portal call is claimed only when no earlier call of
//! its dossier is still waiting, a look-up this index answers without a scan.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("outbox_dossier_kind")
                    .table(Outbox::Table)
                    .col(Outbox::DossierId)
                    .col(Outbox::Kind)
                    .col(Outbox::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("outbox_dossier_kind")
                    .table(Outbox::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    DossierId,
    Kind,
    Id,
}
