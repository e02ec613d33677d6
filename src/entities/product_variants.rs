use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_variants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product_id: i64,
    pub label: String,
    pub price_vnd: i64,
    pub stock_quantity: i64,
    pub weight_grams: i64,
    pub sku: Option<String>,
    pub position: i32,
    /// The GTIN this size owns (unique); see `catalog::gtins`.
    #[sea_orm(unique)]
    pub gtin: Option<String>,
    /// The GTIN the cooperative typed for this size, owned or not.
    pub gtin_claim: Option<String>,
    pub gtin_status: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::products::Entity",
        from = "Column::ProductId",
        to = "super::products::Column::Id"
    )]
    Products,
}

impl Related<super::products::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Products.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
