use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub payment_id: i64,
    pub cooperative_id: i64,
    pub buyer_user_id: Option<i64>,
    pub status: String,
    pub subtotal_vnd: i64,
    pub delivery_fee_vnd: i64,
    pub total_vnd: i64,
    pub commission_vnd: i64,
    pub recipient_name: String,
    pub recipient_phone: String,
    pub province_code: String,
    pub commune_code: String,
    pub street: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub cancel_reason: Option<String>,
    pub cancelled_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
    pub parcel_weight_grams: Option<i64>,
    pub shipping_zone: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
