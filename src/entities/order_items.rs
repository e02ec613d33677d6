use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub product_id: i64,
    pub variant_id: i64,
    pub product_name: String,
    pub unit: String,
    pub unit_price_vnd: i64,
    pub quantity: i64,
    pub line_total_vnd: i64,
    /// The lot the line was packed from, recorded when the order ships.
    pub batch_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
