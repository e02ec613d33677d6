use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fake_reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub stamp_id: Option<i64>,
    pub cooperative_id: Option<i64>,
    pub code: String,
    pub place_of_purchase: String,
    pub seller: String,
    #[sea_orm(column_type = "Text")]
    pub note: String,
    pub province_code: Option<String>,
    pub client_hash: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
