//! Postage for one parcel (one leg, one way) by route class.

use sea_orm::entity::prelude::*;

use crate::enums::RouteClass;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tariffs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub route_class: RouteClass,
    pub postage_vnd: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
