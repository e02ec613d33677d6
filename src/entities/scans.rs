use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub stamp_id: Option<i64>,
    pub cooperative_id: Option<i64>,
    pub code: String,
    pub scanned_at: DateTimeUtc,
    pub scanned_on: Date,
    pub client_hash: String,
    pub client_class: String,
    pub verdict: String,
    pub repeat_by_same_client: bool,
    pub province_code: Option<String>,
    #[sea_orm(column_type = "Double", nullable)]
    pub latitude: Option<f64>,
    #[sea_orm(column_type = "Double", nullable)]
    pub longitude: Option<f64>,
    pub network_hash: Option<String>,
    pub stream_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
