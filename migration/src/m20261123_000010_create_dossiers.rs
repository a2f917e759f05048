//! Dossiers: the slip's data, status, fees and legal times.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Dossiers::Table)
                    .col(big_pk_auto(Dossiers::Id))
                    .col(string_uniq(Dossiers::Code))
                    .col(string(Dossiers::Status))
                    .col(string(Dossiers::ServiceMode))
                    .col(string(Dossiers::ProcedureCode))
                    .col(string(Dossiers::AgencyCode))
                    .col(string(Dossiers::OfficeCode))
                    .col(string(Dossiers::ApplicantFullName))
                    .col(string(Dossiers::ApplicantPhone))
                    .col(string_null(Dossiers::ApplicantEmail))
                    .col(string(Dossiers::ApplicantIdNumber))
                    .col(string_null(Dossiers::PickupLine))
                    .col(string_null(Dossiers::PickupWardCode))
                    .col(string_null(Dossiers::PickupProvinceCode))
                    .col(string_null(Dossiers::ReturnLine))
                    .col(string_null(Dossiers::ReturnWardCode))
                    .col(string_null(Dossiers::ReturnProvinceCode))
                    .col(json(Dossiers::Documents))
                    .col(boolean(Dossiers::WithAppointment))
                    .col(string(Dossiers::FeeExemption))
                    .col(string(Dossiers::RouteClass))
                    .col(big_integer(Dossiers::PostageVnd))
                    .col(big_integer(Dossiers::AdminFeeVnd))
                    .col(big_integer(Dossiers::TotalVnd))
                    .col(string_uniq(Dossiers::AccessTokenHash))
                    .col(timestamp_with_time_zone_null(Dossiers::FiledAt))
                    .col(timestamp_with_time_zone_null(Dossiers::ResultDueAt))
                    .col(string_null(Dossiers::NationalDossierNo))
                    .col(string_null(Dossiers::Outcome))
                    .col(string_len(Dossiers::Language, 2))
                    .col(timestamp_with_time_zone(Dossiers::CreatedAt))
                    .col(timestamp_with_time_zone(Dossiers::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Dossiers::Table, Dossiers::ProcedureCode)
                            .to(Procedures::Table, Procedures::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Dossiers::Table, Dossiers::AgencyCode)
                            .to(Agencies::Table, Agencies::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Dossiers::Table, Dossiers::OfficeCode)
                            .to(PostOffices::Table, PostOffices::Code),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("dossiers_office_status", Dossiers::OfficeCode),
            ("dossiers_agency_status", Dossiers::AgencyCode),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Dossiers::Table)
                        .col(col)
                        .col(Dossiers::Status)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Dossiers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Dossiers {
    Table,
    Id,
    Code,
    Status,
    ServiceMode,
    ProcedureCode,
    AgencyCode,
    OfficeCode,
    ApplicantFullName,
    ApplicantPhone,
    ApplicantEmail,
    ApplicantIdNumber,
    PickupLine,
    PickupWardCode,
    PickupProvinceCode,
    ReturnLine,
    ReturnWardCode,
    ReturnProvinceCode,
    Documents,
    WithAppointment,
    FeeExemption,
    RouteClass,
    PostageVnd,
    AdminFeeVnd,
    TotalVnd,
    AccessTokenHash,
    FiledAt,
    ResultDueAt,
    NationalDossierNo,
    Outcome,
    Language,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Procedures {
    Table,
    Code,
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Code,
}

#[derive(DeriveIden)]
enum PostOffices {
    Table,
    Code,
}
