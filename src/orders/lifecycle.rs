//! The order state machine.
//!
//! ```text
//! pending_payment ─paid─▶ paid ─▶ accepted ─▶ shipped ─▶ delivered ─▶ completed
//!        │                 │          │
//!        ▼                 ▼          ▼
//!    cancelled ◀───────────┴──────────┘   (shopper before acceptance, cooperative with a
//!                                          reason before shipping, expiry before payment)
//! ```
//!
//! Every transition is one conditional update (`… WHERE status IN (allowed)`): of two racing
//! requests exactly one applies, the other gets `409 invalid_transition`. A paid order that is
//! cancelled hands its stock back; the refund it owes is opened by the caller in the same
//! transaction ([`crate::payments::cancellation`]): order state knows nothing of money.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::packing::{self, Packing};
use super::stock::release_stock;
use super::{CancelledBy, OrderStatus, PaymentStatus};
use crate::domain::{FieldIssue, bounded_text};
use crate::entities::{order_events, order_items, orders, payments, products};
use crate::error::{AppError, AppResult, FieldErrors};

/// Who is acting on an order.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub user_id: Option<i64>,
}

/// Moves one order from one of `from` to `to` and records it in the history. Answers 409 when
/// the order is not in one of `from` (someone else moved it first, or the move makes no sense).
pub async fn transition(
    db: &impl ConnectionTrait,
    order_id: i64,
    from: &[OrderStatus],
    to: OrderStatus,
    actor: Actor,
    note: Option<String>,
    mut update: sea_orm::UpdateMany<orders::Entity>,
) -> AppResult<orders::Model> {
    let now = Utc::now();
    update = update
        .col_expr(orders::Column::Status, Expr::value(to.as_str()))
        .col_expr(orders::Column::UpdatedAt, Expr::value(now))
        .filter(orders::Column::Id.eq(order_id))
        .filter(orders::Column::Status.is_in(from.iter().map(|s| s.as_str())));
    let moved = update.exec(db).await?.rows_affected;
    let order = orders::Entity::find_by_id(order_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if moved != 1 {
        return Err(invalid_transition(&order.status, to));
    }
    record_event(db, order_id, to, actor, note).await?;
    Ok(order)
}

fn invalid_transition(status: &str, to: OrderStatus) -> AppError {
    AppError::conflict(
        "invalid_transition",
        "status",
        format!("the order is {status} and cannot become {}", to.as_str()),
    )
}

/// Appends to an order's history.
pub async fn record_event(
    db: &impl ConnectionTrait,
    order_id: i64,
    status: OrderStatus,
    actor: Actor,
    note: Option<String>,
) -> AppResult<()> {
    order_events::ActiveModel {
        order_id: Set(order_id),
        status: Set(status.as_str().to_owned()),
        actor_user_id: Set(actor.user_id),
        note: Set(note),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    // The messages this move owes (paid, shipped, cancelled…), in the same transaction.
    crate::messages::events::order_status_changed(db, order_id, status.as_str()).await?;
    Ok(())
}

fn plain_update() -> sea_orm::UpdateMany<orders::Entity> {
    orders::Entity::update_many()
}

/// The cooperative accepts a paid order.
pub async fn accept(
    db: &DatabaseConnection,
    order_id: i64,
    actor: Actor,
) -> AppResult<orders::Model> {
    let txn = crate::db::begin_write(db).await?;
    let order = transition(
        &txn,
        order_id,
        &[OrderStatus::Paid],
        OrderStatus::Accepted,
        actor,
        None,
        plain_update(),
    )
    .await?;
    txn.commit().await?;
    Ok(order)
}

/// Carrier and tracking number of a shipment, checked.
#[derive(Debug, Clone)]
pub struct Shipment {
    pub carrier: String,
    pub tracking_number: String,
}

impl Shipment {
    /// `carrier` is one of the list ([`crate::domain::Carrier`], by code or name); `other`
    /// takes the carrier's name from `other_name`. Known carriers are stored by their usual
    /// name, so the shopper's page can link to their tracking page.
    pub fn parse(carrier: &str, tracking_number: &str) -> AppResult<Self> {
        Self::parse_with_other(carrier, "", tracking_number)
    }

    pub fn parse_with_other(
        carrier: &str,
        other_name: &str,
        tracking_number: &str,
    ) -> AppResult<Self> {
        use crate::domain::Carrier;
        let mut errors = FieldErrors::default();
        let carrier = errors.take(
            "carrier",
            match Carrier::recognise(carrier) {
                Some(Carrier::Other) => bounded_text(other_name, 2, 80),
                Some(known) => Ok(known.display_name().to_owned()),
                None if carrier.trim().is_empty() => bounded_text(carrier, 2, 80),
                None => Err(crate::domain::FieldIssue::new(
                    "unknown_carrier",
                    "choose a carrier from the list (vnpost, viettel_post, ghn, ghtk, jt, other)",
                )),
            },
        );
        let tracking = errors.take("tracking_number", bounded_text(tracking_number, 3, 80));
        match (carrier, tracking) {
            (Some(carrier), Some(tracking_number)) if errors.is_empty() => Ok(Self {
                carrier,
                tracking_number,
            }),
            _ => Err(errors.into_error()),
        }
    }
}

/// The cooperative hands an accepted order to a carrier, with what it packed: the lot of each
/// line and the stamps on the parcel ([`super::packing`]), checked before anything is written
/// and recorded in the transaction of the move, so a refusal leaves the order accepted and no
/// lot or stamp touched.
pub async fn ship(
    db: &DatabaseConnection,
    order_id: i64,
    shipment: Shipment,
    packing: &Packing,
    actor: Actor,
) -> AppResult<orders::Model> {
    let txn = crate::db::begin_write(db).await?;
    let current = orders::Entity::find_by_id(order_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    // Only an accepted order ships: say so before looking at what was packed.
    if current.status != OrderStatus::Accepted.as_str() {
        return Err(invalid_transition(&current.status, OrderStatus::Shipped));
    }
    let plan = packing::check(&txn, &current, packing).await?;
    let note = format!("{} {}", shipment.carrier, shipment.tracking_number);
    let update = plain_update()
        .col_expr(orders::Column::Carrier, Expr::value(shipment.carrier))
        .col_expr(
            orders::Column::TrackingNumber,
            Expr::value(shipment.tracking_number),
        );
    let order = transition(
        &txn,
        order_id,
        &[OrderStatus::Accepted],
        OrderStatus::Shipped,
        actor,
        Some(note),
        update,
    )
    .await?;
    packing::apply(&txn, &plan).await?;
    txn.commit().await?;
    Ok(order)
}

/// The parcel reached the shopper (the cooperative records it from the carrier).
pub async fn deliver(
    db: &DatabaseConnection,
    order_id: i64,
    actor: Actor,
) -> AppResult<orders::Model> {
    let txn = crate::db::begin_write(db).await?;
    let order = transition(
        &txn,
        order_id,
        &[OrderStatus::Shipped],
        OrderStatus::Delivered,
        actor,
        None,
        plain_update(),
    )
    .await?;
    txn.commit().await?;
    Ok(order)
}

/// The shopper confirms receipt (or the cooperative closes a delivered order).
pub async fn complete(
    db: &DatabaseConnection,
    order_id: i64,
    actor: Actor,
) -> AppResult<orders::Model> {
    let txn = crate::db::begin_write(db).await?;
    let order = transition(
        &txn,
        order_id,
        &[OrderStatus::Delivered],
        OrderStatus::Completed,
        actor,
        None,
        plain_update(),
    )
    .await?;
    txn.commit().await?;
    Ok(order)
}

/// A cancellation reason: required from a cooperative, optional from a shopper.
pub fn parse_reason(reason: &str, required: bool) -> AppResult<Option<String>> {
    let trimmed = reason.trim();
    if trimmed.is_empty() && !required {
        return Ok(None);
    }
    bounded_text(trimmed, 3, 500)
        .map(Some)
        .map_err(|issue| FieldErrors::single("reason", issue))
}

/// What [`cancel`] did.
#[derive(Debug, Clone)]
pub enum Cancellation {
    /// The order was not paid: its whole checkout was cancelled; no money is owed.
    Unpaid(orders::Model),
    /// A paid order was cancelled and its stock returned: its total is owed back to the
    /// shopper (the caller opens the refund in the same transaction).
    Paid(orders::Model),
}

impl Cancellation {
    /// The order as it is now.
    pub fn into_order(self) -> orders::Model {
        match self {
            Self::Unpaid(order) | Self::Paid(order) => order,
        }
    }
}

/// Cancels an order in the caller's transaction. Before payment, the whole checkout is
/// cancelled (its payment covers all its orders) and the stock returns. After payment the
/// order is cancelled and its stock returns; what is owed back is the caller's to record
/// ([`crate::payments::cancellation`]). `allowed` says from which states this actor may cancel.
pub async fn cancel(
    txn: &DatabaseTransaction,
    order_id: i64,
    allowed: &[OrderStatus],
    by: CancelledBy,
    reason: Option<String>,
    actor: Actor,
) -> AppResult<Cancellation> {
    let before = orders::Entity::find_by_id(order_id)
        .one(txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if before.status == OrderStatus::PendingPayment.as_str()
        && allowed.contains(&OrderStatus::PendingPayment)
    {
        let payment = before.payment_id;
        if !cancel_unpaid_payment(txn, payment, PaymentStatus::Cancelled, by, reason, actor).await?
        {
            return Err(AppError::conflict(
                "invalid_transition",
                "status",
                "the checkout is no longer waiting for payment",
            ));
        }
        let order = orders::Entity::find_by_id(order_id)
            .one(txn)
            .await?
            .ok_or(AppError::NotFound)?;
        return Ok(Cancellation::Unpaid(order));
    }
    let paid_states: Vec<OrderStatus> = allowed
        .iter()
        .copied()
        .filter(|s| *s != OrderStatus::PendingPayment)
        .collect();
    let update = plain_update()
        .col_expr(orders::Column::CancelledBy, Expr::value(by.as_str()))
        .col_expr(orders::Column::CancelReason, Expr::value(reason.clone()));
    let order = transition(
        txn,
        order_id,
        &paid_states,
        OrderStatus::Cancelled,
        actor,
        reason,
        update,
    )
    .await?;
    release_stock(txn, &[order.id]).await?;
    Ok(Cancellation::Paid(order))
}

/// Marks the orders of a payment paid at `at`: those in `from` (of cancelled ones, only those
/// its expiry cancelled: a late payment revives them), with their history, and counts the
/// units sold. The payment itself is the caller's ([`crate::payments::settle`]).
pub async fn mark_paid(
    db: &impl ConnectionTrait,
    payment_id: i64,
    from: &[OrderStatus],
    at: DateTime<Utc>,
) -> AppResult<()> {
    let mut order_query = orders::Entity::find()
        .filter(orders::Column::PaymentId.eq(payment_id))
        .filter(orders::Column::Status.is_in(from.iter().map(|s| s.as_str())));
    if from.contains(&OrderStatus::Cancelled) {
        order_query =
            order_query.filter(orders::Column::CancelledBy.eq(CancelledBy::Expiry.as_str()));
    }
    let paid_orders = order_query.order_by_asc(orders::Column::Id).all(db).await?;
    let ids: Vec<i64> = paid_orders.iter().map(|o| o.id).collect();
    orders::Entity::update_many()
        .col_expr(
            orders::Column::Status,
            Expr::value(OrderStatus::Paid.as_str()),
        )
        .col_expr(orders::Column::PaidAt, Expr::value(at))
        .col_expr(
            orders::Column::CancelledBy,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            orders::Column::CancelReason,
            Expr::value(Option::<String>::None),
        )
        .col_expr(orders::Column::UpdatedAt, Expr::value(at))
        .filter(orders::Column::Id.is_in(ids.clone()))
        .exec(db)
        .await?;
    for id in &ids {
        record_event(db, *id, OrderStatus::Paid, Actor { user_id: None }, None).await?;
    }
    count_units_sold(db, &ids).await
}

/// Adds the orders' quantities to each product's units sold (search ranks by it).
async fn count_units_sold(db: &impl ConnectionTrait, order_ids: &[i64]) -> AppResult<()> {
    let items = order_items::Entity::find()
        .filter(order_items::Column::OrderId.is_in(order_ids.to_vec()))
        .order_by_asc(order_items::Column::ProductId)
        .all(db)
        .await?;
    for item in &items {
        products::Entity::update_many()
            .col_expr(
                products::Column::SoldCount,
                Expr::col(products::Column::SoldCount).add(item.quantity),
            )
            .filter(products::Column::Id.eq(item.product_id))
            .exec(db)
            .await?;
    }
    let ids: Vec<i64> = items.iter().map(|i| i.product_id).collect();
    crate::catalog::outbox::enqueue_products(db, &ids).await?;
    Ok(())
}

/// Orders of a payment that were cancelled by its expiry (candidates for revival).
pub async fn expired_order_ids(db: &impl ConnectionTrait, payment_id: i64) -> AppResult<Vec<i64>> {
    Ok(orders::Entity::find()
        .select_only()
        .column(orders::Column::Id)
        .filter(orders::Column::PaymentId.eq(payment_id))
        .filter(orders::Column::Status.eq(OrderStatus::Cancelled.as_str()))
        .filter(orders::Column::CancelledBy.eq(CancelledBy::Expiry.as_str()))
        .into_tuple()
        .all(db)
        .await?)
}

/// The shopper gives up an unpaid checkout (from its payment page, logged in or not): the
/// stock returns at once instead of at expiry. Answers 409 once the payment is no longer
/// waiting (it was paid, expired or already cancelled).
pub async fn cancel_checkout(
    db: &DatabaseConnection,
    payment: &payments::Model,
    actor: Actor,
) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let cancelled = cancel_unpaid_payment(
        &txn,
        payment.id,
        PaymentStatus::Cancelled,
        CancelledBy::Shopper,
        None,
        actor,
    )
    .await?;
    if !cancelled {
        return Err(AppError::conflict(
            "invalid_transition",
            "status",
            "the checkout is no longer waiting for payment",
        ));
    }
    txn.commit().await?;
    Ok(())
}

/// Cancels an unpaid checkout: the payment stops being payable, every order is cancelled and
/// the stock returns. Does nothing when the payment is no longer pending.
pub async fn cancel_unpaid_payment(
    txn: &DatabaseTransaction,
    payment_id: i64,
    new_status: PaymentStatus,
    by: CancelledBy,
    reason: Option<String>,
    actor: Actor,
) -> AppResult<bool> {
    let now = Utc::now();
    let stopped = payments::Entity::update_many()
        .col_expr(payments::Column::Status, Expr::value(new_status.as_str()))
        .col_expr(payments::Column::UpdatedAt, Expr::value(now))
        .filter(payments::Column::Id.eq(payment_id))
        .filter(payments::Column::Status.eq(PaymentStatus::Pending.as_str()))
        .exec(txn)
        .await?
        .rows_affected;
    if stopped != 1 {
        return Ok(false);
    }
    let order_ids: Vec<i64> = orders::Entity::find()
        .select_only()
        .column(orders::Column::Id)
        .filter(orders::Column::PaymentId.eq(payment_id))
        .filter(orders::Column::Status.eq(OrderStatus::PendingPayment.as_str()))
        .order_by_asc(orders::Column::Id)
        .into_tuple()
        .all(txn)
        .await?;
    orders::Entity::update_many()
        .col_expr(
            orders::Column::Status,
            Expr::value(OrderStatus::Cancelled.as_str()),
        )
        .col_expr(orders::Column::CancelledBy, Expr::value(by.as_str()))
        .col_expr(orders::Column::CancelReason, Expr::value(reason.clone()))
        .col_expr(orders::Column::UpdatedAt, Expr::value(now))
        .filter(orders::Column::Id.is_in(order_ids.clone()))
        .exec(txn)
        .await?;
    for id in &order_ids {
        record_event(txn, *id, OrderStatus::Cancelled, actor, reason.clone()).await?;
    }
    release_stock(txn, &order_ids).await?;
    Ok(true)
}

/// Expires unpaid checkouts whose reservation has run out, each in its own transaction, and
/// returns how many. Run periodically; payment settlement also expires a due payment itself,
/// so correctness does not depend on this running on time.
pub async fn expire_due(db: &DatabaseConnection) -> AppResult<u64> {
    let due: Vec<i64> = payments::Entity::find()
        .select_only()
        .column(payments::Column::Id)
        .filter(payments::Column::Status.eq(PaymentStatus::Pending.as_str()))
        .filter(payments::Column::ExpiresAt.lt(Utc::now()))
        .order_by_asc(payments::Column::ExpiresAt)
        .limit(200)
        .into_tuple()
        .all(db)
        .await?;
    let mut expired = 0;
    for payment_id in due {
        let txn = crate::db::begin_write(db).await?;
        if cancel_unpaid_payment(
            &txn,
            payment_id,
            PaymentStatus::Expired,
            CancelledBy::Expiry,
            Some("reservation expired".into()),
            Actor { user_id: None },
        )
        .await?
        {
            expired += 1;
        }
        txn.commit().await?;
    }
    Ok(expired)
}

/// Expires due checkouts every `every` until the process stops.
pub fn spawn_expiry_sweeper(
    db: DatabaseConnection,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match expire_due(&db).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "expired unpaid checkouts"),
                Err(err) => tracing::warn!(error = %err, "expiring unpaid checkouts failed"),
            }
        }
    })
}

/// A reason issue for a cancellation without one.
pub fn reason_required() -> AppError {
    FieldErrors::single(
        "reason",
        FieldIssue::new("reason_required", "say why the order is cancelled"),
    )
}
