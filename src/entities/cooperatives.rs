use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cooperatives")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    #[sea_orm(unique)]
    pub registration_number: String,
    pub name: String,
    pub commune_code: String,
    pub province_code: String,
    pub address: String,
    pub contact_phone: String,
    pub contact_email: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub bank_bin: String,
    pub bank_account_number: String,
    pub bank_account_holder: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub reviewed_at: Option<DateTimeUtc>,
    /// Flat delivery fee this cooperative charges per order, in đồng.
    pub delivery_fee_vnd: i64,
    pub reviewed_fingerprint: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::products::Entity")]
    Products,
}

impl Related<super::products::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Products.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
