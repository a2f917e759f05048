//! The dossier slip (Phiếu gửi hồ sơ) signed at pickup: it has the force of a contract, and its date
//! is the J from which the inbound leg's delivery time runs (Circular 17 Art. 7).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pickup_slips")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// One slip per dossier.
    #[sea_orm(unique)]
    pub dossier_id: i64,
    pub leg_id: i64,
    pub item_code: String,
    /// J: the local date of the pickup.
    pub j_date: Date,
    pub picked_up_at: DateTimeUtc,
    pub documents_checked: bool,
    pub fee_collected_vnd: i64,
    /// The documents as checked at pickup: `[{"name", "original", "copies"}]`.
    pub documents: Json,
    pub office_code: String,
    pub actor: String,
    pub api_key_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
