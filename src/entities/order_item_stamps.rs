use sea_orm::entity::prelude::*;

/// A stamp scanned onto a parcel when the order line was packed. A stamp goes into one parcel.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_item_stamps")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_item_id: i64,
    #[sea_orm(unique)]
    pub stamp_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
