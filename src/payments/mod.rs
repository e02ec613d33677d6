//! Money: what arrives for a checkout, what is owed back, and what the administrator does with
//! money that did not match.
//!
//! `payments` sits above [`crate::orders`]: carts, checkout, stock and the order state machine
//! know nothing of money, and money events are applied to orders from here, in the same
//! database transaction as the ledger entries they make. The seams:
//!
//! - **Money received.** A provider confirms it ([`bank`] for VietQR transfers, [`stripe`] for
//!   cards, [`vnpay`] and [`momo`] for the wallet gateways, each by its signed notification
//!   only; [`gateway`] sends the shopper to the provider's page), builds a [`settle::Receipt`] and calls
//!   [`settle::settle`] (or [`settle::unmatched`]). Settlement marks the payment paid and its
//!   orders with it ([`crate::orders::lifecycle::mark_paid`]) and books the ledger; money that
//!   does not fit goes to the administrator's queue, money for a checkout that ended opens a
//!   refund.
//! - **Money refunded.** [`refund_sender`] sends the refunds of gateway payments through the
//!   gateway's API (claim, send, record). A provider confirms a refund left ([`refunds::complete`]) or came
//!   back ([`refunds::fail`]).
//! - **Order cancelled.** [`cancellation`] cancels the order
//!   ([`crate::orders::lifecycle::cancel`]) and, when it was paid, opens its refund.
//!
//! Also here: exactly-once recording of provider events ([`webhook`]), the VietQR EMVCo encoder
//! (a leaf, [`vietqr`]), the payment page's views ([`views`]) and the administrator's money
//! desk ([`desk`]: the exceptions queue, refunds to send, payouts to cooperatives).
//!
//! Invariants: a payment is credited once (each provider event is recorded under a unique key
//! in the transaction that settles it, and money already recorded on the payment or in the
//! queue is not settled again); a paid order is never cancelled without its refund; every
//! ledger transaction balances ([`crate::ledger`]).

pub mod amount;
pub mod balances;
pub mod bank;
pub mod cancellation;
pub mod chargebacks;
pub mod desk;
pub mod gateway;
pub mod momo;
pub mod refund_sender;
pub mod refunds;
mod routes_api;
mod routes_pages;
pub mod settle;
pub mod signature;
pub mod stripe;
pub mod vietqr;
pub mod views;
pub mod vnpay;
pub mod webhook;

pub use routes_api::api_routes;
pub use routes_pages::page_routes;

use crate::ledger::Account;
use crate::orders::PaymentMethod;

/// Where received money sits (a ledger cash account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Funds {
    /// The platform's collecting bank account (VietQR transfers).
    Bank,
    /// The platform's Stripe balance.
    Stripe,
    /// The platform's VNPay merchant balance.
    VnPay,
    /// The platform's MoMo merchant balance.
    MoMo,
}

impl Funds {
    pub fn account(self) -> Account {
        match self {
            Self::Bank => Account::BankCash,
            Self::Stripe => Account::StripeCash,
            Self::VnPay => Account::VnPayCash,
            Self::MoMo => Account::MoMoCash,
        }
    }

    /// The funds a payment method collects into.
    pub fn of_method(method: &str) -> Self {
        match PaymentMethod::parse(method) {
            Some(PaymentMethod::Stripe) => Self::Stripe,
            Some(PaymentMethod::VnPay) => Self::VnPay,
            Some(PaymentMethod::MoMo) => Self::MoMo,
            Some(PaymentMethod::VietQr) | None => Self::Bank,
        }
    }
}
