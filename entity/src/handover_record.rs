//! A handover record (Biên bản giao nhận hồ sơ, Decision 45 Art. 7 and 9): the list of dossiers one
//! side hands to the other, binding once the receiving side signs it. Signing a record to the agency
//! is the legal filing time of every dossier on it.

use sea_orm::entity::prelude::*;

use crate::enums::{HandoverDirection, HandoverStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "handover_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The printed number, e.g. `BBGN-100000-261123-001`: read aloud and filed on paper.
    #[sea_orm(unique)]
    pub number: String,
    pub direction: HandoverDirection,
    pub status: HandoverStatus,
    pub agency_code: String,
    /// The post office on the other side of the desk (the office of every dossier on the record).
    pub office_code: String,
    /// The API key's audit name of who drafted it.
    pub created_by: String,
    pub created_by_key_id: Option<i64>,
    pub created_at: DateTimeUtc,
    /// Who signed for the receiving side, and when: the legal moment of the handover.
    pub confirmed_by: Option<String>,
    pub confirmed_by_key_id: Option<i64>,
    pub confirmed_at: Option<DateTimeUtc>,
}

/// A record's items name it (`handover_item::Relation::HandoverRecord`); queries start from them, so
/// the record does not name its items and the tables depend one way.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
