use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stamps")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub batch_id: i64,
    pub cooperative_id: i64,
    pub serial: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub roll: i32,
    pub status: String,
    pub void_reason: Option<String>,
    pub voided_at: Option<DateTimeUtc>,
    pub key_id: Option<String>,
    pub signature: Option<String>,
    pub issued_at: DateTimeUtc,
    pub scan_count: i64,
    pub distinct_clients: i32,
    pub first_scanned_at: Option<DateTimeUtc>,
    pub last_scanned_at: Option<DateTimeUtc>,
    pub flagged: bool,
    pub flag_reason: Option<String>,
    pub flagged_at: Option<DateTimeUtc>,
    pub flag_cleared_at: Option<DateTimeUtc>,
    pub flag_confirmed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
