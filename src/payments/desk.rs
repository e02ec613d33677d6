//! The administrator's money desk (`/admin/payments`): the exceptions queue of money that did
//! not match (under- and over-payments, unknown references, second payments), transfers
//! confirmed by hand, refunds to send by bank transfer or send to Stripe again, what each
//! cooperative is owed and the payouts that settle it.
//!
//! Invariants: a queue item is resolved once, and money sent back leaves suspense in the
//! ledger in the same transaction; a payout never exceeds what the ledger says the
//! cooperative is owed.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Funds;
use super::bank::{self, Transfer, TransferOutcome};
use super::refunds;
use crate::accounts::CurrentUser;
use crate::domain::{FieldIssue, Money, bounded_text};
use crate::entities::{cooperatives, payment_exceptions, payouts, refunds as refund_rows};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ledger::{Account, Transaction, TransactionKind, reports};
use crate::orders::PaymentMethod;

/// An open or resolved queue item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExceptionView {
    pub id: i64,
    /// `underpaid`, `overpaid`, `unmatched`, `duplicate_payment`, `wrong_amount` (a wallet
    /// gateway reported another amount than the one the platform signed into its request).
    pub kind: String,
    pub status: String,
    pub payment_id: Option<i64>,
    pub bank_transaction_id: Option<String>,
    /// The money this item holds in suspense.
    pub amount_vnd: i64,
    pub description: String,
    pub resolution: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<payment_exceptions::Model> for ExceptionView {
    fn from(m: payment_exceptions::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            status: m.status,
            payment_id: m.payment_id,
            bank_transaction_id: m.bank_transaction_id,
            amount_vnd: m.amount_vnd,
            description: m.description,
            resolution: m.resolution,
            created_at: m.created_at,
        }
    }
}

/// Open queue items, oldest first.
pub async fn open_exceptions(db: &DatabaseConnection) -> AppResult<Vec<ExceptionView>> {
    Ok(payment_exceptions::Entity::find()
        .filter(payment_exceptions::Column::Status.eq("open"))
        .order_by_asc(payment_exceptions::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// How an administrator settles a queue item.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ResolveRequest {
    /// What was done, for the record.
    pub resolution: String,
    /// The bank reference of the transfer that sent the money back to the sender, when it was
    /// sent back (the whole amount leaves suspense).
    pub returned_with_bank_reference: Option<String>,
}

/// Closes a queue item; when the money was sent back, the ledger records it leaving.
pub async fn resolve(
    db: &DatabaseConnection,
    admin: &CurrentUser,
    id: i64,
    request: ResolveRequest,
) -> AppResult<ExceptionView> {
    let mut errors = FieldErrors::default();
    let resolution = errors.take("resolution", bounded_text(&request.resolution, 3, 1000));
    let returned = match request
        .returned_with_bank_reference
        .as_deref()
        .map(str::trim)
    {
        None | Some("") => None,
        Some(reference) => errors.take(
            "returned_with_bank_reference",
            bounded_text(reference, 3, 64),
        ),
    };
    let resolution = resolution
        .filter(|_| errors.is_empty())
        .ok_or_else(|| errors.clone().into_error())?;
    let txn = crate::db::begin_write(db).await?;
    let item = payment_exceptions::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let closed = payment_exceptions::Entity::update_many()
        .col_expr(payment_exceptions::Column::Status, Expr::value("resolved"))
        .col_expr(
            payment_exceptions::Column::Resolution,
            Expr::value(resolution.clone()),
        )
        .col_expr(
            payment_exceptions::Column::ResolvedBy,
            Expr::value(admin.id),
        )
        .col_expr(
            payment_exceptions::Column::ResolvedAt,
            Expr::value(Utc::now()),
        )
        .filter(payment_exceptions::Column::Id.eq(id))
        .filter(payment_exceptions::Column::Status.eq("open"))
        .exec(&txn)
        .await?
        .rows_affected;
    if closed != 1 {
        return Err(AppError::conflict(
            "already_resolved",
            "status",
            "this item was already resolved",
        ));
    }
    // An unreadable transfer booked nothing, so there is nothing to take out of suspense.
    if let Some(bank_reference) = returned.filter(|_| item.amount_vnd != 0) {
        let mut entry = Transaction::new(
            TransactionKind::SuspenseResolved,
            format!("queue item {id} returned to sender: {bank_reference}"),
        );
        if let Some(payment_id) = item.payment_id {
            entry = entry.payment(payment_id);
        }
        // The money goes back out of the account it came into.
        let funds = funds_of(&txn, &item).await?;
        entry
            .debit(Account::Suspense, item.amount_vnd)
            .credit(funds.account(), item.amount_vnd)
            .post(&txn)
            .await?;
    }
    let item = payment_exceptions::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    txn.commit().await?;
    Ok(item.into())
}

/// Where a queue item's money was received: its payment's method, or for money matching no
/// payment, the provider whose event reported it.
async fn funds_of(db: &impl ConnectionTrait, item: &payment_exceptions::Model) -> AppResult<Funds> {
    if let Some(payment_id) = item.payment_id
        && let Some(payment) = crate::entities::payments::Entity::find_by_id(payment_id)
            .one(db)
            .await?
    {
        return Ok(Funds::of_method(&payment.method));
    }
    if let Some(event_id) = item.webhook_event_id
        && let Some(event) = crate::entities::webhook_events::Entity::find_by_id(event_id)
            .one(db)
            .await?
    {
        // Providers record their events under the name of their payment method.
        return Ok(Funds::of_method(&event.provider));
    }
    Ok(Funds::Bank)
}

/// A transfer an administrator saw on the bank statement but no notification reported.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ManualConfirmation {
    /// The payment reference, e.g. `OCOPK7M2Q9AB`.
    pub reference: String,
    /// The bank's transaction id (the same id a late notification would carry, so the two
    /// cannot both count).
    pub bank_transaction_id: String,
    /// The amount the statement shows, in đồng.
    pub amount_vnd: i64,
}

/// Confirms a transfer by hand: it goes through the same matching as a notification.
pub async fn confirm_by_hand(
    db: &DatabaseConnection,
    admin: &CurrentUser,
    request: ManualConfirmation,
) -> AppResult<TransferOutcome> {
    let mut errors = FieldErrors::default();
    let reference = request.reference.trim().to_ascii_uppercase();
    if bank::candidate_references(&reference).is_empty() {
        errors.add(
            "reference",
            FieldIssue::new(
                "invalid_payment_reference",
                "a payment reference is OCOP and 8 letters or digits",
            ),
        );
    }
    let transaction_id = errors.take(
        "bank_transaction_id",
        bounded_text(&request.bank_transaction_id, 3, 255),
    );
    if request.amount_vnd <= 0
        || request.amount_vnd > crate::orders::checkout::MAX_CHECKOUT_TOTAL_VND * 10
    {
        errors.add(
            "amount_vnd",
            FieldIssue::new("invalid_amount", "a positive whole number of đồng"),
        );
    }
    let transaction_id = transaction_id
        .filter(|_| errors.is_empty())
        .ok_or_else(|| errors.clone().into_error())?;
    let transfer = Transfer {
        raw: serde_json::json!({
            "reference": reference, "bank_transaction_id": transaction_id,
            "amount_vnd": request.amount_vnd, "confirmed_by": admin.id,
        })
        .to_string(),
        transaction_id,
        amount_vnd: request.amount_vnd,
        description: reference,
    };
    let mut outcomes =
        bank::process(db, vec![bank::Item::Incoming(transfer)], "manual", false).await?;
    outcomes
        .pop()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no outcome for a processed transfer")))
}

/// A refund, for the administrator's list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundView {
    pub id: i64,
    pub payment_id: i64,
    pub order_id: Option<i64>,
    pub amount_vnd: i64,
    pub status: String,
    pub reason: String,
    pub provider_refund_id: Option<String>,
    /// Why the provider refused or reversed it, when it did.
    pub last_error: Option<String>,
    /// `bank_transfer` (an administrator sends it), `card` (sent through Stripe), `vnpay` or
    /// `momo` (sent through the wallet gateway's refund API).
    pub channel: String,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<refund_rows::Model> for RefundView {
    fn from(m: refund_rows::Model) -> Self {
        Self {
            id: m.id,
            payment_id: m.payment_id,
            order_id: m.order_id,
            amount_vnd: m.amount_vnd,
            status: m.status,
            reason: m.reason,
            provider_refund_id: m.provider_refund_id,
            last_error: m.last_error,
            // Refined by `with_channels`; a refund without its payment is shown as a transfer.
            channel: "bank_transfer".to_owned(),
            created_at: m.created_at,
        }
    }
}

/// The open refunds as the administrator sees them, each with how it is paid.
pub async fn open_refund_views(db: &DatabaseConnection) -> AppResult<Vec<RefundView>> {
    let open = refunds::open_refunds(db).await?;
    let payment_ids: Vec<i64> = open.iter().map(|r| r.payment_id).collect();
    let methods: std::collections::HashMap<i64, String> = crate::entities::payments::Entity::find()
        .filter(crate::entities::payments::Column::Id.is_in(payment_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.method))
        .collect();
    Ok(open
        .into_iter()
        .map(|refund| {
            let method = methods
                .get(&refund.payment_id)
                .and_then(|m| PaymentMethod::parse(m));
            let mut view = RefundView::from(refund);
            view.channel = match method {
                Some(PaymentMethod::Stripe) => "card",
                Some(PaymentMethod::VnPay) => "vnpay",
                Some(PaymentMethod::MoMo) => "momo",
                Some(PaymentMethod::VietQr) | None => "bank_transfer",
            }
            .to_owned();
            view
        })
        .collect())
}

/// Sends a card refund Stripe refused once more, under a new idempotency key (Stripe keeps
/// its refusal under the old one), after the administrator dealt with the cause.
pub async fn retry_card_refund(db: &DatabaseConnection, id: i64) -> AppResult<RefundView> {
    let txn = crate::db::begin_write(db).await?;
    let refund = refund_rows::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let is_card = crate::entities::payments::Entity::find_by_id(refund.payment_id)
        .one(&txn)
        .await?
        .is_some_and(|p| p.method != PaymentMethod::VietQr.as_str());
    let reopened = is_card
        && refund_rows::Entity::update_many()
            .col_expr(
                refund_rows::Column::Status,
                Expr::value(refunds::RefundStatus::Pending.as_str()),
            )
            .col_expr(
                refund_rows::Column::Attempts,
                Expr::col(refund_rows::Column::Attempts).add(1),
            )
            .col_expr(
                refund_rows::Column::ProviderRefundId,
                Expr::value(Option::<String>::None),
            )
            .filter(refund_rows::Column::Id.eq(id))
            .filter(refund_rows::Column::Status.eq(refunds::RefundStatus::Failed.as_str()))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
    if !reopened {
        return Err(AppError::conflict(
            "refund_not_failed",
            "status",
            "only a refund through a payment gateway that failed can be sent again",
        ));
    }
    let refund = refund_rows::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    txn.commit().await?;
    let mut view = RefundView::from(refund);
    view.channel = "card".to_owned();
    Ok(view)
}

/// Records a refund sent by bank transfer (VietQR payments).
pub async fn complete_bank_refund(
    db: &DatabaseConnection,
    id: i64,
    bank_reference: &str,
) -> AppResult<RefundView> {
    let bank_reference = bounded_text(bank_reference, 3, 64)
        .map_err(|i| FieldErrors::single("bank_reference", i))?;
    let txn = crate::db::begin_write(db).await?;
    let refund = refund_rows::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let payment = crate::entities::payments::Entity::find_by_id(refund.payment_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if payment.method != PaymentMethod::VietQr.as_str() {
        return Err(AppError::conflict(
            "refund_by_provider",
            "bank_reference",
            "refunds of card and wallet payments are sent through their gateway",
        ));
    }
    if !refunds::complete(&txn, &refund, &bank_reference, Some(refund.amount_vnd)).await? {
        return Err(AppError::conflict(
            "already_refunded",
            "bank_reference",
            "this refund was already completed",
        ));
    }
    let refund = refund_rows::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    txn.commit().await?;
    Ok(refund.into())
}

/// What the platform owes a cooperative, and where to send it, for the payout list.
#[derive(Debug, Clone)]
pub struct OwedView {
    pub cooperative_id: i64,
    pub name: String,
    /// Bank, account number and holder.
    pub bank: String,
    pub owed: Money,
    /// Paid, not yet earned (not delivered, or within the return window).
    pub pending: Money,
    /// What a payout may take now.
    pub available: Money,
    pub paid_out: Money,
}

/// The cooperatives the platform owes (a ledger balance other than zero), with their bank
/// accounts and balances.
pub async fn owed_cooperatives(
    db: &impl ConnectionTrait,
    return_window: std::time::Duration,
) -> AppResult<Vec<OwedView>> {
    let balances = reports::balances(db).await?;
    let owed_ids: Vec<i64> = balances
        .iter()
        .filter_map(|b| {
            let id = b.account.strip_prefix("cooperative:")?.parse().ok()?;
            // The platform's debt to a cooperative is a credit balance.
            Some(id).filter(|_| b.balance_vnd != 0)
        })
        .collect();
    let coops = cooperatives::Entity::find()
        .filter(cooperatives::Column::Id.is_in(owed_ids.iter().copied()))
        .all(db)
        .await?;
    let now = Utc::now();
    let mut owed = Vec::with_capacity(owed_ids.len());
    for id in owed_ids {
        let Some(coop) = coops.iter().find(|c| c.id == id) else {
            continue;
        };
        let balance = super::balances::of_cooperative(db, id, return_window, now).await?;
        owed.push(OwedView {
            cooperative_id: id,
            name: coop.name.clone(),
            bank: format!(
                "{} · {} · {}",
                match super::vietqr::bank_short_name(&coop.bank_bin) {
                    "" => coop.bank_bin.as_str(),
                    known => known,
                },
                coop.bank_account_number,
                coop.bank_account_holder
            ),
            owed: Money::from_dong(balance.owed_vnd),
            pending: Money::from_dong(balance.pending_vnd),
            available: Money::from_dong(balance.available_vnd),
            paid_out: Money::from_dong(balance.paid_out_vnd),
        });
    }
    Ok(owed)
}

/// A payout to record.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct PayoutRequest {
    pub cooperative_id: i64,
    pub amount_vnd: i64,
    /// The bank reference of the transfer to the cooperative.
    pub bank_reference: String,
}

/// A recorded payout.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayoutView {
    pub id: i64,
    pub cooperative_id: i64,
    pub amount_vnd: i64,
    pub bank_reference: String,
    /// What the platform still owes the cooperative afterwards.
    pub balance_after_vnd: i64,
    /// What remains available for payouts afterwards.
    pub available_after_vnd: i64,
}

/// Records money paid to a cooperative; never more than its available balance (money earned:
/// delivered orders past the return window, see [`super::balances`]). The cooperative's row
/// is locked for the check and the write (`FOR UPDATE` on PostgreSQL; SQLite's one writer
/// serialises), so two payouts at once cannot both spend the same balance.
pub async fn record_payout(
    db: &DatabaseConnection,
    admin: &CurrentUser,
    request: PayoutRequest,
    return_window: std::time::Duration,
) -> AppResult<PayoutView> {
    let mut errors = FieldErrors::default();
    let bank_reference = errors.take(
        "bank_reference",
        bounded_text(&request.bank_reference, 3, 64),
    );
    if request.amount_vnd <= 0 {
        errors.add(
            "amount_vnd",
            FieldIssue::new("invalid_amount", "a positive whole number of đồng"),
        );
    }
    let bank_reference = bank_reference
        .filter(|_| errors.is_empty())
        .ok_or_else(|| errors.clone().into_error())?;
    let txn = crate::db::begin_write(db).await?;
    let mut cooperative = cooperatives::Entity::find_by_id(request.cooperative_id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        cooperative = cooperative.lock_exclusive();
    }
    cooperative.one(&txn).await?.ok_or_else(|| {
        FieldErrors::single(
            "cooperative_id",
            FieldIssue::new("unknown_cooperative", "no such cooperative"),
        )
    })?;
    let balance =
        super::balances::of_cooperative(&txn, request.cooperative_id, return_window, Utc::now())
            .await?;
    if request.amount_vnd > balance.available_vnd {
        return Err(AppError::conflict(
            "payout_exceeds_balance",
            "amount_vnd",
            format!(
                "{} đồng is available for a payout ({} đồng more is pending: not delivered, or \
                 within the return window)",
                std::cmp::max(balance.available_vnd, 0),
                balance.pending_vnd
            ),
        ));
    }
    let payout = payouts::ActiveModel {
        cooperative_id: Set(request.cooperative_id),
        amount_vnd: Set(request.amount_vnd),
        bank_reference: Set(bank_reference),
        recorded_by: Set(admin.id),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    Transaction::new(
        TransactionKind::Payout,
        format!("payout {}", payout.bank_reference),
    )
    .payout(payout.id)
    .debit(
        Account::Cooperative(request.cooperative_id),
        request.amount_vnd,
    )
    .credit(Account::BankCash, request.amount_vnd)
    .post(&txn)
    .await?;
    crate::messages::events::payout_recorded(&txn, &payout).await?;
    txn.commit().await?;
    Ok(PayoutView {
        id: payout.id,
        cooperative_id: payout.cooperative_id,
        amount_vnd: payout.amount_vnd,
        bank_reference: payout.bank_reference,
        balance_after_vnd: balance.owed_vnd - request.amount_vnd,
        available_after_vnd: balance.available_vnd - request.amount_vnd,
    })
}
