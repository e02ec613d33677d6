use sea_orm::entity::prelude::*;

/// An order whose buyer was told of a recall (once per recall and order).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recall_notices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub recall_id: i64,
    pub order_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
