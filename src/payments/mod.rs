//! Cashless payment: VietQR codes for bank transfers ([`vietqr`]), bank notifications that
//! confirm them ([`bank`]), Stripe ([`stripe`]), settling received money against a checkout
//! ([`settle`]), refunds ([`refunds`]), the administrator's queue of money that did not match
//! ([`queue`]) and payouts to cooperatives.

pub mod bank;
pub mod queue;
pub mod refunds;
mod routes_api;
pub mod settle;
pub mod signature;
pub mod stripe;
pub mod vietqr;
pub mod webhook;

pub use routes_api::api_routes;
