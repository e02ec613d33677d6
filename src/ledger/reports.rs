//! Read side of the ledger: balances, a cooperative's statement, and the reconciliation of
//! provider payments against orders.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, Order, QueryFilter, QueryOrder,
    QuerySelect, StatementBuilder,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::Account;
use crate::entities::{ledger_entries, ledger_transactions, orders, payments};
use crate::error::AppResult;

/// One account's balance (debits positive, credits negative).
#[derive(Debug, Clone, Serialize, ToSchema, FromQueryResult, PartialEq, Eq)]
pub struct AccountBalance {
    pub account: String,
    pub balance_vnd: i64,
}

/// Every account's balance, by account code.
pub async fn balances(db: &impl ConnectionTrait) -> AppResult<Vec<AccountBalance>> {
    let rows = ledger_entries::Entity::find()
        .select_only()
        .column(ledger_entries::Column::Account)
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(amount_vnd), 0) AS BIGINT)"),
            "balance_vnd",
        )
        .group_by(ledger_entries::Column::Account)
        .order_by_asc(ledger_entries::Column::Account)
        .into_model::<AccountBalance>()
        .all(db)
        .await?;
    Ok(rows)
}

/// What the platform owes a cooperative now (its account's credit balance, as a positive
/// number).
pub async fn cooperative_balance(db: &impl ConnectionTrait, cooperative_id: i64) -> AppResult<i64> {
    Ok(-account_sum(db, &Account::Cooperative(cooperative_id).code()).await?)
}

/// The balance of one account (debits positive).
pub async fn account_sum(db: &impl ConnectionTrait, account: &str) -> AppResult<i64> {
    #[derive(FromQueryResult)]
    struct Sum {
        total: i64,
    }
    let row = ledger_entries::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(amount_vnd), 0) AS BIGINT)"),
            "total",
        )
        .filter(ledger_entries::Column::Account.eq(account))
        .into_model::<Sum>()
        .one(db)
        .await?;
    Ok(row.map_or(0, |r| r.total))
}

/// Ledger transactions whose entries do not sum to zero (there must be none).
pub async fn unbalanced_transactions(db: &impl ConnectionTrait) -> AppResult<Vec<i64>> {
    #[derive(FromQueryResult)]
    struct Row {
        transaction_id: i64,
    }
    let mut query = Query::select();
    query
        .column(ledger_entries::Column::TransactionId)
        .from(ledger_entries::Entity)
        .group_by_col(ledger_entries::Column::TransactionId)
        .and_having(Expr::cust("SUM(amount_vnd) <> 0"));
    let statement = StatementBuilder::build(&query, &db.get_database_backend());
    let rows = Row::find_by_statement(statement).all(db).await?;
    Ok(rows.into_iter().map(|r| r.transaction_id).collect())
}

/// One line of a cooperative's statement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementLine {
    pub transaction_id: i64,
    pub kind: String,
    pub memo: String,
    pub order_id: Option<i64>,
    /// Positive: the platform owes the cooperative more; negative: less (a payout, a
    /// cancellation).
    pub amount_vnd: i64,
    /// What is owed after this line.
    pub balance_vnd: i64,
    pub at: DateTime<Utc>,
}

/// A cooperative's statement, oldest first, with a running balance.
pub async fn cooperative_statement(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
) -> AppResult<Vec<StatementLine>> {
    let entries = ledger_entries::Entity::find()
        .filter(ledger_entries::Column::Account.eq(Account::Cooperative(cooperative_id).code()))
        .order_by(ledger_entries::Column::Id, Order::Asc)
        .find_also_related(ledger_transactions::Entity)
        .all(db)
        .await?;
    let mut balance = 0i64;
    Ok(entries
        .into_iter()
        .filter_map(|(entry, header)| Some((entry, header?)))
        .map(|(entry, header)| {
            balance -= entry.amount_vnd;
            StatementLine {
                transaction_id: header.id,
                kind: header.kind,
                memo: header.memo,
                order_id: header.order_id,
                amount_vnd: -entry.amount_vnd,
                balance_vnd: balance,
                at: header.created_at,
            }
        })
        .collect())
}

/// One provider payment checked against its orders and the ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReconciliationLine {
    pub payment_id: i64,
    pub reference: String,
    pub method: String,
    pub status: String,
    pub provider_payment_id: Option<String>,
    /// What the checkout asked for.
    pub amount_vnd: i64,
    /// What the provider reported received.
    pub received_vnd: i64,
    /// Sum of the payment's orders' totals.
    pub orders_total_vnd: i64,
    /// What the ledger booked as received for this payment.
    pub ledger_received_vnd: i64,
    /// Empty when everything agrees; otherwise what does not.
    pub problems: Vec<String>,
}

/// The reconciliation report: every payment that received money, with any disagreement
/// between the provider's figure, the orders and the ledger.
pub async fn reconciliation(db: &impl ConnectionTrait) -> AppResult<Vec<ReconciliationLine>> {
    let paid = payments::Entity::find()
        .filter(payments::Column::ReceivedVnd.gt(0))
        .order_by_asc(payments::Column::Id)
        .all(db)
        .await?;
    let mut lines = Vec::with_capacity(paid.len());
    for chunk in paid.chunks(500) {
        let ids: Vec<i64> = chunk.iter().map(|p| p.id).collect();
        let order_totals: HashMap<i64, i64> = orders::Entity::find()
            .select_only()
            .column(orders::Column::PaymentId)
            .column_as(Expr::cust("CAST(SUM(orders.total_vnd) AS BIGINT)"), "total")
            .filter(orders::Column::PaymentId.is_in(ids.clone()))
            .group_by(orders::Column::PaymentId)
            .into_tuple::<(i64, i64)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        // Money in for a payment: the debits to a cash account in its transactions.
        let ledger_totals: HashMap<i64, i64> = ledger_entries::Entity::find()
            .select_only()
            .column(ledger_transactions::Column::PaymentId)
            .column_as(
                Expr::cust("CAST(SUM(ledger_entries.amount_vnd) AS BIGINT)"),
                "total",
            )
            .inner_join(ledger_transactions::Entity)
            .filter(ledger_transactions::Column::PaymentId.is_in(ids))
            .filter(ledger_entries::Column::Account.is_in(Account::CASH.map(Account::code)))
            .filter(ledger_entries::Column::AmountVnd.gt(0))
            .group_by(ledger_transactions::Column::PaymentId)
            .into_tuple::<(i64, i64)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for payment in chunk {
            let orders_total = order_totals.get(&payment.id).copied().unwrap_or(0);
            let ledger_received = ledger_totals.get(&payment.id).copied().unwrap_or(0);
            let mut problems = Vec::new();
            if payment.received_vnd != payment.amount_vnd {
                problems.push(format!(
                    "received {} đ for a payment of {} đ",
                    payment.received_vnd, payment.amount_vnd
                ));
            }
            if orders_total != payment.amount_vnd {
                problems.push(format!(
                    "orders total {} đ, payment {} đ",
                    orders_total, payment.amount_vnd
                ));
            }
            if ledger_received != payment.received_vnd {
                problems.push(format!(
                    "ledger booked {} đ received, provider reported {} đ",
                    ledger_received, payment.received_vnd
                ));
            }
            lines.push(ReconciliationLine {
                payment_id: payment.id,
                reference: payment.reference.clone(),
                method: payment.method.clone(),
                status: payment.status.clone(),
                provider_payment_id: payment.provider_payment_id.clone(),
                amount_vnd: payment.amount_vnd,
                received_vnd: payment.received_vnd,
                orders_total_vnd: orders_total,
                ledger_received_vnd: ledger_received,
                problems,
            });
        }
    }
    Ok(lines)
}
