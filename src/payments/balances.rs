//! What the platform owes a cooperative, split by whether the cooperative has earned it.
//!
//! - **pending**: paid orders not yet delivered (`paid`, `accepted`, `shipped`), and delivered
//!   or completed orders still inside the return window (`OCOP_RETURN_WINDOW_DAYS`, counted
//!   from delivery). This money can still go back to the shopper.
//! - **available**: the rest of what the ledger says is owed: delivered orders past the return
//!   window, less payouts, disputes lost and refunds made at the provider. Only this is paid
//!   out ([`super::desk::record_payout`]).
//! - **paid out**: the sum of payouts recorded.
//!
//! Balances are computed from the ledger and the orders, never stored, so they cannot drift
//! from the history that explains them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::entities::{order_events, orders, payouts};
use crate::error::AppResult;
use crate::ledger::reports;
use crate::orders::OrderStatus;

/// A cooperative's three balances, in đồng.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Balances {
    /// Everything the platform owes the cooperative now (pending plus available).
    pub owed_vnd: i64,
    /// Paid but not yet earned: not delivered, or delivered within the return window.
    pub pending_vnd: i64,
    /// Earned and not yet paid out: what a payout may take.
    pub available_vnd: i64,
    /// Paid to the cooperative so far.
    pub paid_out_vnd: i64,
}

/// The balances of `cooperative_id` at `now`.
pub async fn of_cooperative(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
    return_window: Duration,
    now: DateTime<Utc>,
) -> AppResult<Balances> {
    let owed_vnd = reports::cooperative_balance(db, cooperative_id).await?;
    let pending_vnd = pending(db, cooperative_id, return_window, now).await?;
    #[derive(FromQueryResult)]
    struct Sum {
        total: i64,
    }
    let paid_out_vnd = payouts::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(amount_vnd), 0) AS BIGINT)"),
            "total",
        )
        .filter(payouts::Column::CooperativeId.eq(cooperative_id))
        .into_model::<Sum>()
        .one(db)
        .await?
        .map_or(0, |s| s.total);
    Ok(Balances {
        owed_vnd,
        pending_vnd,
        available_vnd: owed_vnd - pending_vnd,
        paid_out_vnd,
    })
}

/// What the cooperative's paid orders not yet earned bring it (total less commission, as the
/// ledger credits it).
async fn pending(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
    return_window: Duration,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    let open = orders::Entity::find()
        .filter(orders::Column::CooperativeId.eq(cooperative_id))
        .filter(orders::Column::Status.is_in([
            OrderStatus::Paid.as_str(),
            OrderStatus::Accepted.as_str(),
            OrderStatus::Shipped.as_str(),
            OrderStatus::Delivered.as_str(),
            OrderStatus::Completed.as_str(),
        ]))
        .all(db)
        .await?;
    let delivered_ids: Vec<i64> = open
        .iter()
        .filter(|o| {
            o.status == OrderStatus::Delivered.as_str()
                || o.status == OrderStatus::Completed.as_str()
        })
        .map(|o| o.id)
        .collect();
    let window_start = now - chrono::Duration::from_std(return_window).unwrap_or_default();
    // Delivered within the window: still pending.
    let mut recently_delivered: HashSet<i64> = HashSet::new();
    for chunk in delivered_ids.chunks(500) {
        let events = order_events::Entity::find()
            .filter(order_events::Column::OrderId.is_in(chunk.iter().copied()))
            .filter(order_events::Column::Status.eq(OrderStatus::Delivered.as_str()))
            .all(db)
            .await?;
        let mut delivered_at: HashMap<i64, DateTime<Utc>> = HashMap::new();
        for event in events {
            let at = delivered_at.entry(event.order_id).or_insert(event.at);
            *at = (*at).min(event.at);
        }
        for id in chunk {
            // Without a recorded delivery there is no window that has passed: pending.
            if delivered_at.get(id).is_none_or(|at| *at > window_start) {
                recently_delivered.insert(*id);
            }
        }
    }
    Ok(open
        .iter()
        .filter(|o| {
            let delivered = o.status == OrderStatus::Delivered.as_str()
                || o.status == OrderStatus::Completed.as_str();
            !delivered || recently_delivered.contains(&o.id)
        })
        .map(|o| o.total_vnd - o.commission_vnd)
        .sum())
}
