use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reviews")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product_id: i64,
    pub cooperative_id: i64,
    #[sea_orm(unique)]
    pub order_item_id: i64,
    pub user_id: i64,
    pub stars: i16,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub status: String,
    pub hidden_reason: Option<String>,
    pub hidden_by: Option<i64>,
    pub hidden_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub answer: Option<String>,
    pub answered_by: Option<i64>,
    pub answered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
