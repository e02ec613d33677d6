//! Cashless payment: VietQR codes for bank transfers ([`vietqr`]), bank notifications that
//! confirm them ([`bank`]), Stripe ([`stripe`]), settling received money against a checkout
//! ([`settle`]), refunds ([`refunds`]), the administrator's queue of money that did not match
//! ([`queue`]) and payouts to cooperatives.

pub mod bank;
pub mod cancellation;
pub mod desk;
pub mod refunds;
mod routes_api;
mod routes_pages;
pub mod settle;
pub mod signature;
pub mod stripe;
pub mod vietqr;
pub mod views;
pub mod webhook;

pub use routes_api::api_routes;
pub use routes_pages::page_routes;

use crate::ledger::Account;
use crate::orders::PaymentMethod;

/// Where received money sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Funds {
    /// The platform's collecting bank account (VietQR transfers).
    Bank,
    /// The platform's Stripe balance.
    Stripe,
}

impl Funds {
    pub fn account(self) -> Account {
        match self {
            Self::Bank => Account::BankCash,
            Self::Stripe => Account::StripeCash,
        }
    }

    /// The funds a payment method collects into.
    pub fn of_method(method: &str) -> Self {
        if method == PaymentMethod::Stripe.as_str() {
            Self::Stripe
        } else {
            Self::Bank
        }
    }
}
