use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub reference: String,
    #[sea_orm(unique)]
    pub access_token_hash: String,
    #[sea_orm(unique)]
    pub checkout_key: Option<String>,
    pub buyer_user_id: Option<i64>,
    pub method: String,
    pub status: String,
    pub amount_vnd: i64,
    pub received_vnd: i64,
    pub expires_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
    pub provider_payment_id: Option<String>,
    #[sea_orm(unique)]
    pub stripe_session_id: Option<String>,
    /// The VNPay or MoMo page where the shopper pays (migration 17).
    pub gateway_url: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
