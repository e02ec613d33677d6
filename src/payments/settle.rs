//! Settling a payment: what happens when money for a checkout arrives, whoever reports it
//! (the bank's notification, Stripe's webhook, the shopper's return from Stripe, an
//! administrator confirming by hand).
//!
//! Everything runs in the caller's database transaction, which also records the provider
//! event, so a payment is settled exactly once and never half: the payment, its orders, their
//! history and the ledger commit together or not at all. Amounts are the provider's figures,
//! checked against the payment; the shopper's browser is never trusted with one.
//!
//! This is the seam between providers and orders: a provider hands over a [`Receipt`];
//! settlement keeps the payment row, the ledger and the administrator's queue, and moves the
//! orders through [`crate::orders::lifecycle`] (paid, or expired when the reservation is due)
//! and their stock through [`crate::orders::stock`] (a late payment reviving an expired
//! checkout).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{Funds, refunds};
use crate::entities::{orders, payment_exceptions, payments};
use crate::error::{AppError, AppResult};
use crate::ledger::{Account, Transaction, TransactionKind};
use crate::orders::lifecycle::{self, Actor};
use crate::orders::{CancelledBy, OrderStatus, PaymentStatus, stock};

/// Money a provider reports as received.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub amount_vnd: i64,
    /// The provider's id of the money movement (bank transaction id, Stripe payment intent).
    pub provider_payment_id: String,
    pub funds: Funds,
    /// The stored webhook event that reported it, if any.
    pub webhook_event_id: Option<i64>,
    /// What the provider said about it (bank transfer description), for the queue.
    pub description: String,
}

/// What settling did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The payment is now paid and its orders with it.
    Paid,
    /// Paid, with more than asked; the excess waits in the administrator queue.
    Overpaid,
    /// Less than asked: the payment stays pending; the money waits in the queue.
    Underpaid,
    /// The same money was already settled (a duplicate report or the return/webhook race).
    AlreadySettled,
    /// A second, different payment for an already paid checkout: into the queue.
    DuplicatePayment,
    /// Money for an expired reservation, whose stock could be taken again: paid.
    RevivedAfterExpiry,
    /// Money for a cancelled or expired checkout that cannot be fulfilled: refund opened.
    RefundOpened,
    /// Money that matches no payment: into the queue.
    Unmatched,
    /// A gateway reported another amount than the platform asked it for: not settled, into
    /// the queue.
    WrongAmount,
}

impl Settlement {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Overpaid => "overpaid",
            Self::Underpaid => "underpaid",
            Self::AlreadySettled => "already_settled",
            Self::DuplicatePayment => "duplicate_payment",
            Self::RevivedAfterExpiry => "revived_after_expiry",
            Self::RefundOpened => "refund_opened",
            Self::Unmatched => "unmatched",
            Self::WrongAmount => "wrong_amount",
        }
    }
}

/// Settles `receipt` against the payment `payment_id`.
pub async fn settle(
    txn: &DatabaseTransaction,
    payment_id: i64,
    receipt: &Receipt,
) -> AppResult<Settlement> {
    if receipt.amount_vnd <= 0 {
        return Err(AppError::bad_request(
            "invalid_amount",
            "a received amount must be positive",
        ));
    }
    let payment = lock_payment(txn, payment_id).await?;
    // The same money reported again (Stripe reports one payment as a session and as an
    // intent event): it was settled, or queued, the first time.
    if payment.provider_payment_id.as_deref() == Some(receipt.provider_payment_id.as_str())
        || already_queued(txn, Some(payment.id), &receipt.provider_payment_id).await?
    {
        return Ok(Settlement::AlreadySettled);
    }
    let status = PaymentStatus::parse(&payment.status);
    // A due reservation is expired now, whether or not the sweeper has run.
    let status = if status == Some(PaymentStatus::Pending) && payment.expires_at < Utc::now() {
        lifecycle::cancel_unpaid_payment(
            txn,
            payment.id,
            PaymentStatus::Expired,
            CancelledBy::Expiry,
            Some("reservation expired".into()),
            Actor { user_id: None },
        )
        .await?;
        Some(PaymentStatus::Expired)
    } else {
        status
    };
    match status {
        Some(PaymentStatus::Paid) => {
            if payment.provider_payment_id.as_deref() == Some(receipt.provider_payment_id.as_str())
            {
                return Ok(Settlement::AlreadySettled);
            }
            add_received(txn, &payment, receipt.amount_vnd).await?;
            to_queue(
                txn,
                "duplicate_payment",
                Some(&payment),
                receipt,
                receipt.amount_vnd,
            )
            .await?;
            Ok(Settlement::DuplicatePayment)
        }
        Some(PaymentStatus::Pending) if receipt.amount_vnd < payment.amount_vnd => {
            add_received(txn, &payment, receipt.amount_vnd).await?;
            to_queue(
                txn,
                "underpaid",
                Some(&payment),
                receipt,
                receipt.amount_vnd,
            )
            .await?;
            Ok(Settlement::Underpaid)
        }
        Some(PaymentStatus::Pending) => {
            mark_paid(txn, &payment, receipt, &[OrderStatus::PendingPayment]).await?;
            book_payment(txn, &payment, receipt).await
        }
        Some(PaymentStatus::Expired) if receipt.amount_vnd >= payment.amount_vnd => {
            let order_ids = lifecycle::expired_order_ids(txn, payment.id).await?;
            if !order_ids.is_empty() && stock::retake_stock(txn, &order_ids).await? {
                mark_paid(txn, &payment, receipt, &[OrderStatus::Cancelled]).await?;
                book_payment(txn, &payment, receipt).await?;
                Ok(Settlement::RevivedAfterExpiry)
            } else {
                open_late_refund(txn, &payment, receipt).await
            }
        }
        Some(PaymentStatus::Expired | PaymentStatus::Cancelled)
            if receipt.amount_vnd >= payment.amount_vnd =>
        {
            open_late_refund(txn, &payment, receipt).await
        }
        _ => {
            add_received(txn, &payment, receipt.amount_vnd).await?;
            to_queue(
                txn,
                "underpaid",
                Some(&payment),
                receipt,
                receipt.amount_vnd,
            )
            .await?;
            Ok(Settlement::Underpaid)
        }
    }
}

/// Money that matches no payment at all: booked to suspense and queued.
/// Answers `Unmatched`, or `AlreadySettled` when this money already waits in the queue.
pub async fn unmatched(txn: &DatabaseTransaction, receipt: &Receipt) -> AppResult<Settlement> {
    if already_queued(txn, None, &receipt.provider_payment_id).await? {
        return Ok(Settlement::AlreadySettled);
    }
    to_queue(txn, "unmatched", None, receipt, receipt.amount_vnd).await?;
    Ok(Settlement::Unmatched)
}

/// Money a wallet gateway reports for `payment_id` with another amount than the one the
/// platform signed into the gateway request: something is wrong (a tampered request, a gateway
/// fault), so the payment is not settled; the money waits in the queue with the payment, for
/// an administrator. `AlreadySettled` when it already waits there.
pub async fn wrong_amount(
    txn: &DatabaseTransaction,
    payment_id: i64,
    receipt: &Receipt,
) -> AppResult<Settlement> {
    let payment = lock_payment(txn, payment_id).await?;
    if already_queued(txn, Some(payment.id), &receipt.provider_payment_id).await? {
        return Ok(Settlement::AlreadySettled);
    }
    add_received(txn, &payment, receipt.amount_vnd).await?;
    to_queue(
        txn,
        "wrong_amount",
        Some(&payment),
        receipt,
        receipt.amount_vnd,
    )
    .await?;
    Ok(Settlement::WrongAmount)
}

/// Queues a transfer the platform could not read (an ambiguous amount, no transaction id) for
/// an administrator. Nothing is booked: the amount is unknown until the administrator reads
/// the bank statement (and confirms the transfer by hand if it paid a checkout).
pub async fn queue_unreadable(
    txn: &DatabaseTransaction,
    webhook_event_id: i64,
    bank_transaction_id: Option<&str>,
    description: &str,
) -> AppResult<()> {
    payment_exceptions::ActiveModel {
        kind: Set("unreadable_transfer".into()),
        status: Set("open".into()),
        payment_id: Set(None),
        webhook_event_id: Set(Some(webhook_event_id)),
        bank_transaction_id: Set(bank_transaction_id.map(str::to_owned)),
        amount_vnd: Set(0),
        description: Set(description.chars().take(2000).collect()),
        resolution: Set(None),
        resolved_by: Set(None),
        resolved_at: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Whether this money already waits in the administrator queue (for this payment, or
/// unmatched when `payment_id` is `None`).
async fn already_queued(
    txn: &DatabaseTransaction,
    payment_id: Option<i64>,
    provider_payment_id: &str,
) -> AppResult<bool> {
    let query = payment_exceptions::Entity::find()
        .filter(payment_exceptions::Column::BankTransactionId.eq(provider_payment_id));
    let query = match payment_id {
        Some(id) => query.filter(payment_exceptions::Column::PaymentId.eq(id)),
        None => query.filter(payment_exceptions::Column::PaymentId.is_null()),
    };
    Ok(query.one(txn).await?.is_some())
}

/// Reads the payment, locking its row on PostgreSQL so that two settlements of one payment
/// run one after the other (SQLite's write transactions already do).
async fn lock_payment(txn: &DatabaseTransaction, payment_id: i64) -> AppResult<payments::Model> {
    let mut query = payments::Entity::find_by_id(payment_id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(txn).await?.ok_or(AppError::NotFound)
}

async fn add_received(
    txn: &impl ConnectionTrait,
    payment: &payments::Model,
    amount: i64,
) -> AppResult<()> {
    payments::Entity::update_many()
        .col_expr(
            payments::Column::ReceivedVnd,
            Expr::col(payments::Column::ReceivedVnd).add(amount),
        )
        .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payments::Column::Id.eq(payment.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Marks the payment paid, then its orders (those in `order_from`: [`lifecycle::mark_paid`]).
async fn mark_paid(
    txn: &DatabaseTransaction,
    payment: &payments::Model,
    receipt: &Receipt,
    order_from: &[OrderStatus],
) -> AppResult<()> {
    let now = Utc::now();
    payments::Entity::update_many()
        .col_expr(
            payments::Column::Status,
            Expr::value(PaymentStatus::Paid.as_str()),
        )
        .col_expr(payments::Column::PaidAt, Expr::value(now))
        .col_expr(
            payments::Column::ProviderPaymentId,
            Expr::value(receipt.provider_payment_id.clone()),
        )
        .col_expr(
            payments::Column::ReceivedVnd,
            Expr::col(payments::Column::ReceivedVnd).add(receipt.amount_vnd),
        )
        .col_expr(payments::Column::UpdatedAt, Expr::value(now))
        .filter(payments::Column::Id.eq(payment.id))
        .exec(txn)
        .await?;
    lifecycle::mark_paid(txn, payment.id, order_from, now).await
}

/// The ledger transaction of a payment received: cash in; each order's total less commission
/// owed to its cooperative; the commission earned; any excess to suspense (queued).
async fn book_payment(
    txn: &DatabaseTransaction,
    payment: &payments::Model,
    receipt: &Receipt,
) -> AppResult<Settlement> {
    let paid_orders = orders::Entity::find()
        .filter(orders::Column::PaymentId.eq(payment.id))
        .filter(orders::Column::Status.eq(OrderStatus::Paid.as_str()))
        .order_by_asc(orders::Column::Id)
        .all(txn)
        .await?;
    let mut entry = Transaction::new(
        TransactionKind::PaymentReceived,
        format!("{} {}", payment.reference, receipt.provider_payment_id),
    )
    .payment(payment.id)
    .debit(receipt.funds.account(), payment.amount_vnd);
    for order in &paid_orders {
        entry = entry
            .credit(
                Account::Cooperative(order.cooperative_id),
                order.total_vnd - order.commission_vnd,
            )
            .credit(Account::Commission, order.commission_vnd);
    }
    entry.post(txn).await?;
    let excess = receipt.amount_vnd - payment.amount_vnd;
    if excess > 0 {
        to_queue(txn, "overpaid", Some(payment), receipt, excess).await?;
        return Ok(Settlement::Overpaid);
    }
    Ok(Settlement::Paid)
}

/// Money for a checkout that can no longer be fulfilled: all of it is owed back.
async fn open_late_refund(
    txn: &DatabaseTransaction,
    payment: &payments::Model,
    receipt: &Receipt,
) -> AppResult<Settlement> {
    add_received(txn, payment, receipt.amount_vnd).await?;
    payments::Entity::update_many()
        .col_expr(
            payments::Column::ProviderPaymentId,
            Expr::value(receipt.provider_payment_id.clone()),
        )
        .filter(payments::Column::Id.eq(payment.id))
        .exec(txn)
        .await?;
    refunds::open_for_late_payment(txn, payment, receipt.funds, payment.amount_vnd).await?;
    let excess = receipt.amount_vnd - payment.amount_vnd;
    if excess > 0 {
        to_queue(txn, "overpaid", Some(payment), receipt, excess).await?;
    }
    Ok(Settlement::RefundOpened)
}

/// Books `amount` of received money to suspense and opens an administrator queue item.
async fn to_queue(
    txn: &impl ConnectionTrait,
    kind: &str,
    payment: Option<&payments::Model>,
    receipt: &Receipt,
    amount: i64,
) -> AppResult<()> {
    let mut entry = Transaction::new(
        TransactionKind::UnmatchedReceipt,
        format!("{kind}: {}", receipt.provider_payment_id),
    );
    if let Some(payment) = payment {
        entry = entry.payment(payment.id);
    }
    entry
        .debit(receipt.funds.account(), amount)
        .credit(Account::Suspense, amount)
        .post(txn)
        .await
        .map(|_| ())?;
    payment_exceptions::ActiveModel {
        kind: Set(kind.to_owned()),
        status: Set("open".into()),
        payment_id: Set(payment.map(|p| p.id)),
        webhook_event_id: Set(receipt.webhook_event_id),
        bank_transaction_id: Set(Some(receipt.provider_payment_id.clone())),
        amount_vnd: Set(amount),
        description: Set(receipt.description.clone()),
        resolution: Set(None),
        resolved_by: Set(None),
        resolved_at: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}
