use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fake_reports")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub stamp_id: Option<i64>,
    pub cooperative_id: Option<i64>,
    pub code: String,
    pub place_of_purchase: String,
    pub seller: String,
    #[sea_orm(column_type = "Text")]
    pub note: String,
    pub province_code: Option<String>,
    pub client_hash: String,
    pub created_at: DateTimeUtc,
    /// `new`, `looking`, `confirmed_fake` or `not_fake` (see `trace::fake_reports`).
    pub status: String,
    /// An e-mail address or a mobile number (national form) to tell the outcome to.
    pub reporter_contact: Option<String>,
    pub reporter_locale: String,
    pub updated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
