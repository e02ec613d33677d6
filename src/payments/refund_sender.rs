//! Sending refunds through a provider's refund API (Stripe, VNPay, MoMo): one flow for all.
//!
//! Each pending refund of a payment made through a gateway is claimed (`sending`, one
//! conditional update that a single sender wins, on whichever app server), sent, and the
//! answer recorded:
//! - accepted: the gateway's refund id and amount are kept. Stripe confirms later
//!   (`charge.refunded` completes it, `submitted` until then); VNPay and MoMo answer with the
//!   final result, so the refund is completed in the ledger at once;
//! - refused: `failed` with the gateway's reason, waiting for an administrator;
//! - no answer (a timeout, a 5xx): back to `pending`, sent again by the next run with the same
//!   request identity ([`refund_key`]), which the gateway recognises as the same refund.
//!
//! A claim older than [`CLAIM_TIMEOUT_SECONDS`] belongs to a sender that died mid-call; another
//! sender may take the refund again. Bank-transfer refunds are not here: an administrator
//! sends them and records the bank reference ([`super::desk`]).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::refunds::{self, RefundStatus};
use crate::AppState;
use crate::entities::{payments, refunds as refund_rows};
use crate::error::{AppError, AppResult};
use crate::orders::PaymentMethod;

/// How long a claim on a refund holds: a sender that has not finished by then died (its
/// process stopped mid-call), and another may send the refund, under the same key.
const CLAIM_TIMEOUT_SECONDS: i64 = 5 * 60;

/// A provider that refunds through its API.
#[async_trait]
pub trait RefundGateway: Send + Sync {
    /// The payment method whose refunds it sends.
    fn method(&self) -> PaymentMethod;

    /// Whether the payment carries what the gateway needs to refund it (its transaction id);
    /// one that does not waits for an administrator.
    fn can_refund(&self, payment: &payments::Model) -> bool;

    /// Asks the gateway to refund `refund` of `payment`, as the request identified by `key`.
    async fn send(
        &self,
        refund: &refund_rows::Model,
        payment: &payments::Model,
        key: &str,
    ) -> Result<SentRefund, RefundError>;
}

/// A refund the gateway accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRefund {
    /// The gateway's id of the refund.
    pub id: String,
    /// What the gateway says it refunded.
    pub amount_vnd: Option<i64>,
    /// The gateway's status word, for the log.
    pub status: Option<String>,
    /// The money has left (VNPay, MoMo answer with the result); `false` when a later
    /// notification confirms it (Stripe's `charge.refunded`).
    pub completed: bool,
}

/// Why a refund was not sent.
#[derive(Debug)]
pub enum RefundError {
    /// The gateway answered and refused; its reason, for the administrator.
    Refused(String),
    /// No answer, or a server error: the same request may be sent again.
    Transient(AppError),
}

/// The identity of a refund's current attempt: `refund-{id}` first, then `refund-{id}-2`,
/// `-3`… after an administrator sends a refused refund again. Stripe takes it as the
/// idempotency key; VNPay and MoMo as the request id of the refund.
pub fn refund_key(refund: &refund_rows::Model) -> String {
    if refund.attempts <= 0 {
        format!("refund-{}", refund.id)
    } else {
        format!("refund-{}-{}", refund.id, refund.attempts + 1)
    }
}

/// Sends the pending refunds of every configured gateway.
pub async fn submit_pending_refunds(state: &AppState) {
    for gateway in state.refund_gateways() {
        if let Err(err) = submit_for(&state.db, gateway.as_ref()).await {
            tracing::warn!(method = gateway.method().as_str(), error = %err, "sending refunds failed");
        }
    }
}

/// Sends pending refunds in the background, so that the request that opened them (a
/// settlement, a cancellation) answers without waiting for the gateway.
pub fn send_refunds_soon(state: &AppState) {
    if !state.refund_gateways().is_empty() {
        let state = state.clone();
        tokio::spawn(async move { submit_pending_refunds(&state).await });
    }
}

/// Sends pending refunds every `every` until the process stops (the ones a failed call left
/// behind); `None` when no gateway is configured.
pub fn spawn_refund_sender(
    state: AppState,
    every: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    if state.refund_gateways().is_empty() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            submit_pending_refunds(&state).await;
        }
    }))
}

/// Claims, sends and records the due refunds of `gateway`'s payments.
pub async fn submit_for(db: &DatabaseConnection, gateway: &dyn RefundGateway) -> AppResult<()> {
    let method = gateway.method();
    // Only this gateway's refunds: bank refunds wait for an administrator and must not crowd
    // them out.
    let gateway_payment_ids = sea_orm::sea_query::Query::select()
        .column(payments::Column::Id)
        .from(payments::Entity)
        .and_where(payments::Column::Method.eq(method.as_str()))
        .to_owned();
    let stale_claim = Utc::now() - chrono::Duration::seconds(CLAIM_TIMEOUT_SECONDS);
    let due = refund_rows::Entity::find()
        .filter(claimable(stale_claim))
        .filter(refund_rows::Column::PaymentId.in_subquery(gateway_payment_ids))
        .order_by_asc(refund_rows::Column::Id)
        .limit(100)
        .all(db)
        .await?;
    if due.is_empty() {
        return Ok(());
    }
    let payment_ids: Vec<i64> = due.iter().map(|r| r.payment_id).collect();
    let of_payment: HashMap<i64, payments::Model> = payments::Entity::find()
        .filter(payments::Column::Id.is_in(payment_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    for refund in due {
        let Some(payment) = of_payment.get(&refund.payment_id) else {
            continue;
        };
        if !gateway.can_refund(payment) {
            tracing::warn!(
                refund = refund.id,
                method = method.as_str(),
                "a refund of a payment without the gateway's transaction id waits for an administrator"
            );
            continue;
        }
        // Claim it: one conditional update, so only one sender calls the gateway for it.
        let claimed = refund_rows::Entity::update_many()
            .col_expr(
                refund_rows::Column::Status,
                Expr::value(RefundStatus::Sending.as_str()),
            )
            .col_expr(refund_rows::Column::ClaimedAt, Expr::value(Utc::now()))
            .filter(refund_rows::Column::Id.eq(refund.id))
            .filter(claimable(stale_claim))
            .exec(db)
            .await?
            .rows_affected
            == 1;
        if !claimed {
            continue;
        }
        let answer = gateway.send(&refund, payment, &refund_key(&refund)).await;
        record_answer(db, &refund, method, answer).await?;
    }
    Ok(())
}

/// Records what the gateway answered for a claimed refund.
async fn record_answer(
    db: &DatabaseConnection,
    refund: &refund_rows::Model,
    method: PaymentMethod,
    answer: Result<SentRefund, RefundError>,
) -> AppResult<()> {
    let sending = refund_rows::Column::Status.eq(RefundStatus::Sending.as_str());
    match answer {
        Ok(sent) => {
            if sent.amount_vnd != Some(refund.amount_vnd) {
                tracing::warn!(refund = refund.id, asked = refund.amount_vnd,
                    refunded = ?sent.amount_vnd, method = method.as_str(),
                    "the gateway refunded another amount than asked");
            }
            let txn = crate::db::begin_write(db).await?;
            refund_rows::Entity::update_many()
                .col_expr(
                    refund_rows::Column::Status,
                    Expr::value(RefundStatus::Submitted.as_str()),
                )
                .col_expr(
                    refund_rows::Column::ProviderRefundId,
                    Expr::value(sent.id.clone()),
                )
                .col_expr(
                    refund_rows::Column::RefundedVnd,
                    Expr::value(sent.amount_vnd),
                )
                .filter(refund_rows::Column::Id.eq(refund.id))
                .filter(sending)
                .exec(&txn)
                .await?;
            // A confirmation may have come first and completed it: keep the gateway's id.
            refund_rows::Entity::update_many()
                .col_expr(
                    refund_rows::Column::ProviderRefundId,
                    Expr::value(sent.id.clone()),
                )
                .filter(refund_rows::Column::Id.eq(refund.id))
                .filter(refund_rows::Column::ProviderRefundId.is_null())
                .exec(&txn)
                .await?;
            if sent.completed {
                refunds::complete(&txn, refund, &sent.id, sent.amount_vnd).await?;
            }
            txn.commit().await?;
            tracing::info!(refund = refund.id, method = method.as_str(), gateway_refund = %sent.id,
                status = ?sent.status, completed = sent.completed, "refund sent");
        }
        Err(RefundError::Refused(reason)) => {
            // Final for this key: it waits for an administrator, who may send it again
            // under a new key (see `desk::retry_card_refund`) once the cause is fixed.
            refund_rows::Entity::update_many()
                .col_expr(
                    refund_rows::Column::Status,
                    Expr::value(RefundStatus::Failed.as_str()),
                )
                .col_expr(refund_rows::Column::LastError, Expr::value(reason.clone()))
                .filter(refund_rows::Column::Id.eq(refund.id))
                .filter(sending)
                .exec(db)
                .await?;
            tracing::warn!(refund = refund.id, method = method.as_str(), reason = %reason,
                "the gateway refused a refund; it waits for an administrator");
        }
        Err(RefundError::Transient(err)) => {
            // Released for the next run, which sends the same key: the gateway either
            // finished the first request (and says so) or never started it.
            refund_rows::Entity::update_many()
                .col_expr(
                    refund_rows::Column::Status,
                    Expr::value(RefundStatus::Pending.as_str()),
                )
                .col_expr(refund_rows::Column::LastError, Expr::value(err.to_string()))
                .filter(refund_rows::Column::Id.eq(refund.id))
                .filter(sending)
                .exec(db)
                .await?;
            tracing::warn!(refund = refund.id, method = method.as_str(), error = %err,
                "refund not sent; it will be sent again with the same key");
        }
    }
    Ok(())
}

/// A refund a sender may take: pending, or claimed by a sender that died.
fn claimable(stale_claim: chrono::DateTime<Utc>) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(refund_rows::Column::Status.eq(RefundStatus::Pending.as_str()))
        .add(
            sea_orm::Condition::all()
                .add(refund_rows::Column::Status.eq(RefundStatus::Sending.as_str()))
                .add(refund_rows::Column::ClaimedAt.lt(stale_claim)),
        )
}
