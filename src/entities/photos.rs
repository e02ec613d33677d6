use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "photos")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub cooperative_id: i64,
    pub product_id: Option<i64>,
    pub batch_id: Option<i64>,
    pub position: i32,
    pub digest: String,
    pub width: i32,
    pub height: i32,
    pub widths: String,
    pub stored_bytes: i64,
    pub uploaded_by: i64,
    pub created_at: DateTimeUtc,
    pub review_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
