use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ocop_certificates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product_id: i64,
    pub cooperative_id: i64,
    pub stars: i16,
    pub certificate_number: String,
    pub issuing_level: String,
    pub issued_on: Date,
    pub expires_on: Date,
    pub document_url: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub reviewed_at: Option<DateTimeUtc>,
    pub reviewed_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
