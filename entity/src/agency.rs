//! A government agency whose one-stop desk receives dossiers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agencies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    /// The official identifier (mã định danh), e.g. `000.00.01.H29`.
    pub identifier: Option<String>,
    pub province_code: String,
    pub ward_code: String,
    pub address: String,
    pub email: Option<String>,
    /// The unit code (`madonvi`) at the national public-service portal; `None` sends `code`.
    pub portal_unit_code: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
