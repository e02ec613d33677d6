use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "batches")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub cooperative_id: i64,
    pub product_id: i64,
    pub variant_id: Option<i64>,
    pub lot_code: String,
    pub harvested_on: Option<Date>,
    pub produced_on: Option<Date>,
    pub best_before: Option<Date>,
    pub quantity: i64,
    /// Units of the lot that have left in parcels (never above `quantity`).
    pub quantity_shipped: i64,
    pub quantity_unit: String,
    pub origin_commune_code: String,
    pub plot_name: Option<String>,
    #[sea_orm(column_type = "Double", nullable)]
    pub plot_latitude: Option<f64>,
    #[sea_orm(column_type = "Double", nullable)]
    pub plot_longitude: Option<f64>,
    #[sea_orm(column_type = "Text")]
    pub certifications: String,
    pub certification_document_url: Option<String>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
