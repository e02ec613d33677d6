use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stamp_flag_reviews")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub stamp_id: i64,
    pub cooperative_id: i64,
    pub action: String,
    pub reason: String,
    pub flag_reason: Option<String>,
    pub distinct_clients: i32,
    pub reviewed_by: i64,
    pub by_administrator: bool,
    pub reviewed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
