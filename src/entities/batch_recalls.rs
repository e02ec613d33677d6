use sea_orm::entity::prelude::*;

/// A lot recalled with a reason and advice; `cleared_at` once the cooperative confirmed the
/// remaining stock is safe.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "batch_recalls")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub batch_id: i64,
    pub cooperative_id: i64,
    pub reason: String,
    pub advice: String,
    pub recalled_by: i64,
    pub by_administrator: bool,
    pub recalled_at: DateTimeUtc,
    pub cleared_at: Option<DateTimeUtc>,
    pub cleared_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
