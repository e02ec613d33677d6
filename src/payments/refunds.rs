//! Refunds: money owed back to a shopper, from the moment it is owed (an order cancelled after
//! payment, a payment that arrived too late) until it has left the platform's account.
//!
//! Opening a refund moves the amount in the ledger to `refunds:payable` in the same database
//! transaction as the cancellation. Paying it out is a second step: a Stripe refund confirmed
//! by Stripe's `charge.refunded`, or a bank transfer an administrator records with its bank
//! reference. A refund is completed at most once (conditional update).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::Funds;
use crate::domain::text_enum;
use crate::entities::{orders, payments, refunds};
use crate::error::{AppError, AppResult};
use crate::ledger::{Account, Transaction, TransactionKind};

text_enum! {
    /// Where a refund stands.
    ///
    /// `pending`: owed, not yet sent to the provider (or to be transferred by hand);
    /// `sending`: claimed by one sender, which is calling Stripe now (no other sender touches
    /// it); `submitted`: Stripe created the refund, waiting for its confirmation;
    /// `succeeded`: the money has left the platform's account; `failed`: the provider refused
    /// it, an administrator acts.
    RefundStatus {
        Pending => "pending",
        Sending => "sending",
        Submitted => "submitted",
        Succeeded => "succeeded",
        Failed => "failed",
    }
}

/// Opens the refund of a cancelled paid order: what was owed to the cooperative and the
/// commission become owed to the shopper.
pub async fn open_for_order(
    db: &impl ConnectionTrait,
    order: &orders::Model,
    reason: &str,
) -> AppResult<refunds::Model> {
    let refund = insert(
        db,
        order.payment_id,
        Some(order.id),
        order.total_vnd,
        reason,
    )
    .await?;
    Transaction::new(
        TransactionKind::OrderCancelled,
        format!("order {} cancelled: {reason}", order.id),
    )
    .payment(order.payment_id)
    .order(order.id)
    .refund(refund.id)
    .debit(
        Account::Cooperative(order.cooperative_id),
        order.total_vnd - order.commission_vnd,
    )
    .debit(Account::Commission, order.commission_vnd)
    .credit(Account::RefundsPayable, order.total_vnd)
    .post(db)
    .await?;
    Ok(refund)
}

/// Opens the refund of money that arrived for a checkout that can no longer be fulfilled.
pub async fn open_for_late_payment(
    db: &impl ConnectionTrait,
    payment: &payments::Model,
    funds: Funds,
    amount_vnd: i64,
) -> AppResult<refunds::Model> {
    let refund = insert(
        db,
        payment.id,
        None,
        amount_vnd,
        "payment arrived after the checkout ended",
    )
    .await?;
    Transaction::new(
        TransactionKind::LatePaymentRefundable,
        format!("{} arrived after the checkout ended", payment.reference),
    )
    .payment(payment.id)
    .refund(refund.id)
    .debit(funds.account(), amount_vnd)
    .credit(Account::RefundsPayable, amount_vnd)
    .post(db)
    .await?;
    Ok(refund)
}

async fn insert(
    db: &impl ConnectionTrait,
    payment_id: i64,
    order_id: Option<i64>,
    amount_vnd: i64,
    reason: &str,
) -> AppResult<refunds::Model> {
    Ok(refunds::ActiveModel {
        payment_id: Set(payment_id),
        order_id: Set(order_id),
        amount_vnd: Set(amount_vnd),
        status: Set(RefundStatus::Pending.as_str().to_owned()),
        provider_refund_id: Set(None),
        reason: Set(reason.to_owned()),
        created_at: Set(Utc::now()),
        completed_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Records that a refund's money has left the platform's account (Stripe confirmed it, or an
/// administrator transferred it), with what the provider says it refunded when it says.
/// Returns `false` when it was already completed.
pub async fn complete(
    db: &impl ConnectionTrait,
    refund: &refunds::Model,
    provider_refund_id: &str,
    refunded_vnd: Option<i64>,
) -> AppResult<bool> {
    let payment = payments::Entity::find_by_id(refund.payment_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let done = refunds::Entity::update_many()
        .col_expr(
            refunds::Column::Status,
            Expr::value(RefundStatus::Succeeded.as_str()),
        )
        .col_expr(
            refunds::Column::ProviderRefundId,
            Expr::value(Some(provider_refund_id).filter(|id| !id.is_empty())),
        )
        .col_expr(refunds::Column::CompletedAt, Expr::value(Utc::now()))
        .col_expr(
            refunds::Column::RefundedVnd,
            Expr::value(refunded_vnd.or(refund.refunded_vnd)),
        )
        .filter(refunds::Column::Id.eq(refund.id))
        .filter(refunds::Column::Status.is_in([
            RefundStatus::Pending.as_str(),
            RefundStatus::Sending.as_str(),
            RefundStatus::Submitted.as_str(),
            RefundStatus::Failed.as_str(),
        ]))
        .exec(db)
        .await?
        .rows_affected;
    if done != 1 {
        return Ok(false);
    }
    Transaction::new(
        TransactionKind::RefundPaid,
        format!("refund {} paid: {provider_refund_id}", refund.id),
    )
    .payment(refund.payment_id)
    .refund(refund.id)
    .debit(Account::RefundsPayable, refund.amount_vnd)
    .credit(
        Funds::of_method(&payment.method).account(),
        refund.amount_vnd,
    )
    .post(db)
    .await?;
    Ok(true)
}

/// Marks a refund failed (Stripe refused or reversed it). If its money was booked as paid, the
/// booking is reversed: the shopper is owed it again. Returns `false` when it already was.
pub async fn fail(
    db: &impl ConnectionTrait,
    refund: &refunds::Model,
    reason: &str,
) -> AppResult<bool> {
    let was_paid = refund.status == RefundStatus::Succeeded.as_str();
    let changed = refunds::Entity::update_many()
        .col_expr(
            refunds::Column::Status,
            Expr::value(RefundStatus::Failed.as_str()),
        )
        .col_expr(refunds::Column::LastError, Expr::value(reason))
        .col_expr(
            refunds::Column::CompletedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(refunds::Column::Id.eq(refund.id))
        .filter(refunds::Column::Status.eq(refund.status.clone()))
        .filter(refunds::Column::Status.ne(RefundStatus::Failed.as_str()))
        .exec(db)
        .await?
        .rows_affected;
    if changed != 1 {
        return Ok(false);
    }
    if was_paid {
        let payment = payments::Entity::find_by_id(refund.payment_id)
            .one(db)
            .await?
            .ok_or(AppError::NotFound)?;
        Transaction::new(
            TransactionKind::RefundFailed,
            format!("refund {} failed: {reason}", refund.id),
        )
        .payment(refund.payment_id)
        .refund(refund.id)
        .debit(
            Funds::of_method(&payment.method).account(),
            refund.amount_vnd,
        )
        .credit(Account::RefundsPayable, refund.amount_vnd)
        .post(db)
        .await?;
    }
    Ok(true)
}

/// Refunds not yet completed, oldest first (the administrator's list).
pub async fn open_refunds(db: &impl ConnectionTrait) -> AppResult<Vec<refunds::Model>> {
    Ok(refunds::Entity::find()
        .filter(refunds::Column::Status.ne(RefundStatus::Succeeded.as_str()))
        .order_by_asc(refunds::Column::Id)
        .all(db)
        .await?)
}
