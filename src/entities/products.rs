use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub cooperative_id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub short_name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub category_code: String,
    pub price_vnd: i64,
    pub unit: String,
    pub stock_quantity: i64,
    pub status: String,
    pub listed: bool,
    pub province_code: String,
    pub commune_code: String,
    pub ocop_stars: Option<i16>,
    pub ocop_expires_on: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub published_at: Option<DateTimeUtc>,
    pub sold_count: i64,
    pub cover_photo: Option<String>,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub max_price_vnd: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::cooperatives::Entity",
        from = "Column::CooperativeId",
        to = "super::cooperatives::Column::Id"
    )]
    Cooperatives,
}

impl Related<super::cooperatives::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Cooperatives.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
