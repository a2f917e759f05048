//! The periodic reports sent (Circular 17 Art. 13): one row per period and agency, written in the
//! same transaction as the e-mails that carry the report, so each is sent exactly once whatever the
//! number of workers and restarts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PeriodReports::Table)
                    .col(big_pk_auto(PeriodReports::Id))
                    .col(string(PeriodReports::Period))
                    .col(string(PeriodReports::AgencyCode))
                    .col(timestamp_with_time_zone(PeriodReports::SentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("period_reports_period_agency")
                    .table(PeriodReports::Table)
                    .col(PeriodReports::Period)
                    .col(PeriodReports::AgencyCode)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PeriodReports::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PeriodReports {
    Table,
    Id,
    Period,
    AgencyCode,
    SentAt,
}
