//! The platform's double-entry ledger. Every movement of money is one transaction whose entries
//! sum to zero; balances are sums of entries, never stored counters, so they cannot drift from
//! the history that explains them.
//!
//! The ledger is a leaf: it knows accounts and transactions, not orders or providers.
//! [`crate::payments`] posts to it in the same database transaction as the change it records;
//! [`reports`] reads it.
//!
//! Sign convention: a positive amount is a debit, a negative one a credit. Asset accounts
//! (the money the platform holds) have positive balances; what the platform owes (to
//! cooperatives, to shoppers awaiting a refund, unmatched money) has negative ones.
//!
//! | account | what it is |
//! | --- | --- |
//! | `cash:bank` | money in the platform's collecting bank account (VietQR) |
//! | `cash:stripe` | money held at Stripe |
//! | `cash:vnpay` | money held at VNPay until it settles to the platform's account |
//! | `cash:momo` | money held at MoMo until it settles to the platform's account |
//! | `cooperative:{id}` | owed to a cooperative for its paid orders, less payouts |
//! | `revenue:commission` | the platform's commission |
//! | `refunds:payable` | owed back to shoppers for cancelled paid orders |
//! | `suspense:unmatched` | received but not matched to a payment (administrator queue) |

pub mod reports;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};

use crate::entities::{ledger_entries, ledger_transactions};
use crate::error::{AppError, AppResult};

/// A ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Account {
    BankCash,
    StripeCash,
    VnPayCash,
    MoMoCash,
    Cooperative(i64),
    Commission,
    RefundsPayable,
    Suspense,
}

impl Account {
    /// Every account of money the platform holds.
    pub const CASH: [Self; 4] = [
        Self::BankCash,
        Self::StripeCash,
        Self::VnPayCash,
        Self::MoMoCash,
    ];

    /// The account's code as stored.
    pub fn code(self) -> String {
        match self {
            Self::BankCash => "cash:bank".into(),
            Self::StripeCash => "cash:stripe".into(),
            Self::VnPayCash => "cash:vnpay".into(),
            Self::MoMoCash => "cash:momo".into(),
            Self::Cooperative(id) => format!("cooperative:{id}"),
            Self::Commission => "revenue:commission".into(),
            Self::RefundsPayable => "refunds:payable".into(),
            Self::Suspense => "suspense:unmatched".into(),
        }
    }

    fn cooperative_id(self) -> Option<i64> {
        match self {
            Self::Cooperative(id) => Some(id),
            _ => None,
        }
    }
}

/// What a transaction records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    /// A checkout's payment arrived: cash in, owed to cooperatives, commission earned.
    PaymentReceived,
    /// Money arrived that matches no pending payment (or too little, or too much, or twice).
    UnmatchedReceipt,
    /// A paid order was cancelled: what was owed to the cooperative and the commission move
    /// to refunds payable.
    OrderCancelled,
    /// A payment that arrived after its reservation expired is owed back in full.
    LatePaymentRefundable,
    /// A refund left the platform's account.
    RefundPaid,
    /// A refund booked as paid came back (the provider reversed it): owed again.
    RefundFailed,
    /// A cooperative was paid what it was owed.
    Payout,
    /// Unmatched money was sent back or otherwise settled by an administrator.
    SuspenseResolved,
    /// A card payment was disputed: Stripe took the amount back, and the cooperatives whose
    /// orders it paid owe it until the dispute closes.
    DisputeOpened,
    /// A dispute closed in the platform's favour: Stripe returned the amount.
    DisputeWon,
    /// A refund made outside the platform (in Stripe's dashboard): the money left, and the
    /// cooperatives whose orders it paid bear it.
    ExternalRefund,
}

impl TransactionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaymentReceived => "payment_received",
            Self::UnmatchedReceipt => "unmatched_receipt",
            Self::OrderCancelled => "order_cancelled",
            Self::LatePaymentRefundable => "late_payment_refundable",
            Self::RefundPaid => "refund_paid",
            Self::RefundFailed => "refund_failed",
            Self::Payout => "payout",
            Self::SuspenseResolved => "suspense_resolved",
            Self::DisputeOpened => "dispute_opened",
            Self::DisputeWon => "dispute_won",
            Self::ExternalRefund => "external_refund",
        }
    }
}

/// One transaction to record. Build it, add postings, then [`Self::post`] it.
#[derive(Debug, Clone)]
pub struct Transaction {
    kind: TransactionKind,
    memo: String,
    payment_id: Option<i64>,
    order_id: Option<i64>,
    refund_id: Option<i64>,
    payout_id: Option<i64>,
    postings: Vec<(Account, i64)>,
}

impl Transaction {
    pub fn new(kind: TransactionKind, memo: impl Into<String>) -> Self {
        Self {
            kind,
            memo: memo.into(),
            payment_id: None,
            order_id: None,
            refund_id: None,
            payout_id: None,
            postings: Vec::new(),
        }
    }

    pub fn payment(mut self, id: i64) -> Self {
        self.payment_id = Some(id);
        self
    }

    pub fn order(mut self, id: i64) -> Self {
        self.order_id = Some(id);
        self
    }

    pub fn refund(mut self, id: i64) -> Self {
        self.refund_id = Some(id);
        self
    }

    pub fn payout(mut self, id: i64) -> Self {
        self.payout_id = Some(id);
        self
    }

    /// Debits `account` (money in for an asset, less owed for a liability).
    pub fn debit(mut self, account: Account, amount_vnd: i64) -> Self {
        self.postings.push((account, amount_vnd));
        self
    }

    /// Credits `account` (money out of an asset, more owed for a liability).
    pub fn credit(mut self, account: Account, amount_vnd: i64) -> Self {
        self.postings.push((account, -amount_vnd));
        self
    }

    /// Records the transaction in the caller's database transaction. A transaction that does
    /// not balance is a bug in the caller: it is refused and nothing is written, so the
    /// surrounding database transaction rolls back with it.
    pub async fn post(self, db: &impl ConnectionTrait) -> AppResult<i64> {
        let postings: Vec<(Account, i64)> =
            self.postings.into_iter().filter(|(_, a)| *a != 0).collect();
        let sum = postings
            .iter()
            .try_fold(0i64, |sum, (_, amount)| sum.checked_add(*amount));
        if sum != Some(0) || postings.is_empty() {
            return Err(AppError::Internal(anyhow::anyhow!(
                "unbalanced ledger transaction {:?}: {:?}",
                self.kind,
                postings
            )));
        }
        let header = ledger_transactions::ActiveModel {
            kind: Set(self.kind.as_str().to_owned()),
            payment_id: Set(self.payment_id),
            order_id: Set(self.order_id),
            refund_id: Set(self.refund_id),
            payout_id: Set(self.payout_id),
            memo: Set(self.memo),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        let entries = postings
            .into_iter()
            .map(|(account, amount)| ledger_entries::ActiveModel {
                transaction_id: Set(header.id),
                account: Set(account.code()),
                cooperative_id: Set(account.cooperative_id()),
                amount_vnd: Set(amount),
                ..Default::default()
            });
        ledger_entries::Entity::insert_many(entries)
            .exec(db)
            .await?;
        Ok(header.id)
    }
}
