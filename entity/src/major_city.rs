//! A special or type-I city: routes between two of them are `inter_province_major`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "major_cities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub province_code: String,
    pub name: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
