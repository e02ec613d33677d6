//! Money Stripe moves without the platform asking: disputes (chargebacks) and refunds made in
//! Stripe's dashboard.
//!
//! - `charge.dispute.created`: Stripe takes the disputed amount out of the platform's balance.
//!   The ledger moves it out of `cash:stripe` and charges it to the cooperatives whose orders
//!   the payment paid (in proportion to their orders, the platform bearing its commission's
//!   part), so their available balance follows and no payout spends money under dispute.
//! - `charge.dispute.closed` with status `won`: Stripe gives the amount back; the booking is
//!   reversed. `lost`: nothing more moves (the money already left when the dispute opened).
//! - `charge.refunded` with a refund the platform did not start (no refund of ours has its id
//!   or its metadata): the money left; it is charged to the cooperatives the same way.
//!
//! Each movement is booked once: a dispute's opening and win, and an outside refund, are
//! recognised by the provider's id recorded in the transaction's memo.

use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::entities::{ledger_transactions, orders, payments};
use crate::error::AppResult;
use crate::ledger::{Account, Transaction, TransactionKind};
use crate::orders::{OrderStatus, PaymentMethod};

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The card payment of a payment intent.
async fn payment_of_intent(
    txn: &DatabaseTransaction,
    intent: Option<&str>,
) -> AppResult<Option<payments::Model>> {
    let Some(intent) = intent else {
        return Ok(None);
    };
    Ok(payments::Entity::find()
        .filter(payments::Column::Method.eq(PaymentMethod::Stripe.as_str()))
        .filter(payments::Column::ProviderPaymentId.eq(intent))
        .one(txn)
        .await?)
}

/// Whether a transaction with this memo was already booked.
async fn booked(txn: &DatabaseTransaction, kind: TransactionKind, memo: &str) -> AppResult<bool> {
    Ok(ledger_transactions::Entity::find()
        .filter(ledger_transactions::Column::Kind.eq(kind.as_str()))
        .filter(ledger_transactions::Column::Memo.eq(memo))
        .one(txn)
        .await?
        .is_some())
}

/// `amount` split over the payment's orders that are not cancelled (cancelled ones were
/// refunded through the platform), in proportion to their totals, and within each order
/// between the cooperative and the platform's commission as the order was booked (the rest of
/// each division goes to the last part). Returns the postings to debit.
async fn shares(
    txn: &DatabaseTransaction,
    payment_id: i64,
    amount: i64,
) -> AppResult<Vec<(Account, i64)>> {
    let live: Vec<orders::Model> = orders::Entity::find()
        .filter(orders::Column::PaymentId.eq(payment_id))
        .filter(orders::Column::Status.ne(OrderStatus::Cancelled.as_str()))
        .all(txn)
        .await?;
    let total: i64 = live.iter().map(|o| o.total_vnd).sum();
    if total <= 0 {
        return Ok(Vec::new());
    }
    let part = |whole: i64, of: i64, over: i64| -> i64 {
        (i128::from(whole) * i128::from(of) / i128::from(over.max(1))) as i64
    };
    let mut out = Vec::with_capacity(live.len() * 2);
    let mut given = 0;
    for (i, order) in live.iter().enumerate() {
        let share = if i + 1 == live.len() {
            amount - given
        } else {
            part(amount, order.total_vnd, total)
        };
        given += share;
        let commission = part(share, order.commission_vnd, order.total_vnd);
        out.push((
            Account::Cooperative(order.cooperative_id),
            share - commission,
        ));
        out.push((Account::Commission, commission));
    }
    Ok(out)
}

/// Books money Stripe took out of the platform's balance for a payment, charged to its
/// cooperatives (and the commission earned on it).
async fn book(
    txn: &DatabaseTransaction,
    kind: TransactionKind,
    memo: String,
    payment: &payments::Model,
    amount: i64,
) -> AppResult<bool> {
    let shares = shares(txn, payment.id, amount).await?;
    if shares.is_empty() || amount <= 0 {
        tracing::warn!(payment = %payment.reference, %memo, "nothing to charge a Stripe movement to; left for an administrator");
        return Ok(false);
    }
    let mut entry = Transaction::new(kind, memo).payment(payment.id);
    for (account, share) in shares {
        entry = entry.debit(account, share);
    }
    entry.credit(Account::StripeCash, amount).post(txn).await?;
    Ok(true)
}

/// `charge.dispute.created`.
pub async fn dispute_created(
    txn: &DatabaseTransaction,
    dispute: &Value,
) -> AppResult<&'static str> {
    let Some(id) = text(dispute, "/id") else {
        return Ok("no_matching_payment");
    };
    let Some(payment) = payment_of_intent(txn, text(dispute, "/payment_intent")).await? else {
        return Ok("no_matching_payment");
    };
    let memo = format!("dispute {id} opened");
    if booked(txn, TransactionKind::DisputeOpened, &memo).await? {
        return Ok("already_recorded");
    }
    let amount = dispute
        .pointer("/amount")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .min(payment.received_vnd.max(payment.amount_vnd));
    Ok(
        if book(txn, TransactionKind::DisputeOpened, memo, &payment, amount).await? {
            "dispute_opened"
        } else {
            "ignored"
        },
    )
}

/// `charge.dispute.closed`: a won dispute gives the money back; a lost one moves nothing more.
pub async fn dispute_closed(txn: &DatabaseTransaction, dispute: &Value) -> AppResult<&'static str> {
    let Some(id) = text(dispute, "/id") else {
        return Ok("no_matching_payment");
    };
    let opened = format!("dispute {id} opened");
    let Some(opening) = ledger_transactions::Entity::find()
        .filter(ledger_transactions::Column::Kind.eq(TransactionKind::DisputeOpened.as_str()))
        .filter(ledger_transactions::Column::Memo.eq(opened.as_str()))
        .one(txn)
        .await?
    else {
        return Ok("no_matching_dispute");
    };
    match text(dispute, "/status") {
        Some("won") => {
            let memo = format!("dispute {id} won");
            if booked(txn, TransactionKind::DisputeWon, &memo).await? {
                return Ok("already_recorded");
            }
            let Some(payment) =
                payments::Entity::find_by_id(opening.payment_id.unwrap_or_default())
                    .one(txn)
                    .await?
            else {
                return Ok("no_matching_payment");
            };
            // Give back exactly what the opening took from each cooperative.
            let entries = crate::entities::ledger_entries::Entity::find()
                .filter(crate::entities::ledger_entries::Column::TransactionId.eq(opening.id))
                .all(txn)
                .await?;
            let mut entry = Transaction::new(TransactionKind::DisputeWon, memo).payment(payment.id);
            for line in entries {
                // Reverse each posting of the opening.
                entry = entry.credit(
                    account_of(&line.account, line.cooperative_id),
                    line.amount_vnd,
                );
            }
            entry.post(txn).await?;
            Ok("dispute_won")
        }
        Some("lost") => Ok("dispute_lost"),
        _ => Ok("ignored"),
    }
}

fn account_of(code: &str, cooperative_id: Option<i64>) -> Account {
    match (code, cooperative_id) {
        (_, Some(id)) => Account::Cooperative(id),
        ("cash:bank", _) => Account::BankCash,
        ("refunds:payable", _) => Account::RefundsPayable,
        ("revenue:commission", _) => Account::Commission,
        ("suspense:unmatched", _) => Account::Suspense,
        _ => Account::StripeCash,
    }
}

/// A refund in `charge.refunded` that the platform did not start (made in Stripe's
/// dashboard): charged to the payment's cooperatives, once.
pub async fn external_refund(
    txn: &DatabaseTransaction,
    charge: &Value,
    stripe_refund: &Value,
) -> AppResult<bool> {
    let Some(id) = text(stripe_refund, "/id") else {
        return Ok(false);
    };
    if text(stripe_refund, "/status").is_some_and(|s| s != "succeeded") {
        return Ok(false);
    }
    let intent = text(stripe_refund, "/payment_intent").or_else(|| text(charge, "/payment_intent"));
    let Some(payment) = payment_of_intent(txn, intent).await? else {
        return Ok(false);
    };
    let memo = format!("refund {id} made in Stripe's dashboard");
    if booked(txn, TransactionKind::ExternalRefund, &memo).await? {
        return Ok(false);
    }
    let amount = stripe_refund
        .pointer("/amount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    book(txn, TransactionKind::ExternalRefund, memo, &payment, amount).await
}
