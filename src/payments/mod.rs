//! Cashless payment: VietQR codes for bank transfers ([`vietqr`]), bank notifications that
//! confirm them ([`bank`]), Stripe ([`stripe`]), settling received money against a checkout
//! ([`settle`]), refunds ([`refunds`]), the administrator's queue of money that did not match
//! ([`queue`]) and payouts to cooperatives.

pub mod bank;
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
