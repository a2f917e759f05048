//! Citizens' complaints about their dossier's carriage (Circular 17 Art. 8), each with the date by
//! which it must be answered.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Complaints::Table)
                    .col(big_pk_auto(Complaints::Id))
                    .col(big_integer(Complaints::DossierId))
                    .col(text(Complaints::Text))
                    .col(string(Complaints::Status))
                    .col(timestamp_with_time_zone(Complaints::DueAt))
                    .col(text_null(Complaints::Answer))
                    .col(timestamp_with_time_zone_null(Complaints::AnsweredAt))
                    .col(string_null(Complaints::AnsweredBy))
                    .col(timestamp_with_time_zone(Complaints::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Complaints::Table, Complaints::DossierId)
                            .to(Dossiers::Table, Dossiers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("complaints_status_due")
                    .table(Complaints::Table)
                    .col(Complaints::Status)
                    .col(Complaints::DueAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Complaints::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Complaints {
    Table,
    Id,
    DossierId,
    Text,
    Status,
    DueAt,
    Answer,
    AnsweredAt,
    AnsweredBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Dossiers {
    Table,
    Id,
}
