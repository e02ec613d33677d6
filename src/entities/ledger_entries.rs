use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub transaction_id: i64,
    pub account: String,
    pub cooperative_id: Option<i64>,
    pub amount_vnd: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::ledger_transactions::Entity",
        from = "Column::TransactionId",
        to = "super::ledger_transactions::Column::Id"
    )]
    LedgerTransactions,
}

impl Related<super::ledger_transactions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::LedgerTransactions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
