//! A citizen's administrative-procedure dossier carried by post, with the personal data of its slip.

use sea_orm::entity::prelude::*;

use crate::enums::{DossierStatus, FeeExemption, RouteClass, ServiceMode};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dossiers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The public tracking code: short, random, not sequential.
    #[sea_orm(unique)]
    pub code: String,
    pub status: DossierStatus,
    pub service_mode: ServiceMode,
    pub procedure_code: String,
    pub agency_code: String,
    /// The post office that picks up and delivers.
    pub office_code: String,
    pub applicant_full_name: String,
    pub applicant_phone: String,
    pub applicant_email: Option<String>,
    pub applicant_id_number: String,
    pub pickup_line: Option<String>,
    pub pickup_ward_code: Option<String>,
    pub pickup_province_code: Option<String>,
    pub return_line: Option<String>,
    pub return_ward_code: Option<String>,
    pub return_province_code: Option<String>,
    /// The documents on the slip: `[{"name", "original", "copies"}]`.
    pub documents: Json,
    pub with_appointment: bool,
    pub fee_exemption: FeeExemption,
    pub route_class: RouteClass,
    pub postage_vnd: i64,
    pub admin_fee_vnd: i64,
    pub total_vnd: i64,
    /// SHA-256 of the citizen's access token.
    #[sea_orm(unique)]
    pub access_token_hash: String,
    /// The legal filing time: when the handover record to the agency was signed.
    pub filed_at: Option<DateTimeUtc>,
    pub result_due_at: Option<DateTimeUtc>,
    /// When the sweep raised the one `overdue` event of `result_due_at`; `None` while not raised.
    pub result_overdue_raised_at: Option<DateTimeUtc>,
    /// The agency's own one-stop number, e.g. `000.00.01.H29-260310-0420`.
    pub national_dossier_no: Option<String>,
    /// `accepted` or `rejected`, once the agency has ruled.
    pub outcome: Option<String>,
    /// The citizen's language for messages: `vi` or `en`.
    pub language: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// A dossier's legs and timeline name it (`leg::Relation::Dossier`, `dossier_event::Relation::Dossier`);
/// queries start from them, so the dossier names neither and the tables depend one way.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
