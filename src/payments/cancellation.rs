//! Cancelling an order, and what it does to money.
//!
//! Order state moves in [`crate::orders::lifecycle::cancel`], which knows nothing of money; a
//! paid order that is cancelled owes the shopper its total, and the refund is opened here in
//! the same database transaction ([`refunds::open_for_order`]), so no paid order is ever
//! cancelled without its refund, and no refund exists without its cancellation.

use sea_orm::DatabaseConnection;

use super::refunds;
use crate::AppState;
use crate::accounts::CurrentUser;
use crate::entities::orders;
use crate::error::AppResult;
use crate::orders::lifecycle::{self, Actor, Cancellation};
use crate::orders::queries::{self, OrderRole};
use crate::orders::{CancelledBy, OrderStatus};

/// Cancels an order ([`lifecycle::cancel`]) and, when it was paid, opens its refund, in one
/// transaction. `allowed` says from which states this actor may cancel.
pub async fn cancel(
    db: &DatabaseConnection,
    order_id: i64,
    allowed: &[OrderStatus],
    by: CancelledBy,
    reason: Option<String>,
    actor: Actor,
) -> AppResult<orders::Model> {
    let txn = crate::db::begin_write(db).await?;
    let cancellation =
        lifecycle::cancel(&txn, order_id, allowed, by, reason.clone(), actor).await?;
    if let Cancellation::Paid(order) = &cancellation {
        refunds::open_for_order(&txn, order, reason.as_deref().unwrap_or(by.as_str())).await?;
    }
    txn.commit().await?;
    Ok(cancellation.into_order())
}

/// Cancels as whoever the user is to the order: the shopper before the cooperative accepts it
/// (an unpaid checkout whole), the cooperative a paid or accepted order with a reason, an
/// administrator any of these with a reason. A card refund it opens goes to Stripe in the
/// background.
pub async fn cancel_as(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    reason: &str,
) -> AppResult<orders::Model> {
    let (_, role) = queries::order_for(&state.db, user, id).await?;
    let actor = Actor {
        user_id: Some(user.id),
    };
    let order = match role {
        OrderRole::Buyer => {
            let reason = lifecycle::parse_reason(reason, false)?;
            cancel(
                &state.db,
                id,
                &[OrderStatus::PendingPayment, OrderStatus::Paid],
                CancelledBy::Shopper,
                reason,
                actor,
            )
            .await?
        }
        OrderRole::Seller => {
            let reason =
                lifecycle::parse_reason(reason, true)?.ok_or_else(lifecycle::reason_required)?;
            cancel(
                &state.db,
                id,
                &[OrderStatus::Paid, OrderStatus::Accepted],
                CancelledBy::Cooperative,
                Some(reason),
                actor,
            )
            .await?
        }
        OrderRole::Administrator => {
            let reason =
                lifecycle::parse_reason(reason, true)?.ok_or_else(lifecycle::reason_required)?;
            cancel(
                &state.db,
                id,
                &[
                    OrderStatus::PendingPayment,
                    OrderStatus::Paid,
                    OrderStatus::Accepted,
                ],
                CancelledBy::Administrator,
                Some(reason),
                actor,
            )
            .await?
        }
    };
    super::refund_sender::send_refunds_soon(state);
    Ok(order)
}
