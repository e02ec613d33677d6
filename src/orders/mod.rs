//! Carts, checkout, stock and the order state machine.
//!
//! A checkout turns a cart into one payment for the whole cart and one order per cooperative,
//! and takes the stock in the same database transaction ([`checkout`], [`stock`]). Orders then
//! move through a small state machine ([`lifecycle`]); every transition is a conditional
//! update ("from these states only"), so two racing requests cannot both apply, and each is
//! recorded in the order's history. Unpaid checkouts expire and hand their stock back
//! ([`lifecycle::expire_due`]).
//!
//! Invariants: stock is never negative ([`stock`]); of two racing transitions of an order
//! exactly one applies ([`lifecycle::transition`]); a lot never ships more than it holds
//! ([`packing`]).
//!
//! Orders know nothing of money. The checkout's payment row is the reservation (reference,
//! page token, expiry): it is created here and ended here while unpaid. Money received,
//! refunds and the ledger belong to [`crate::payments`], which sits above this module and
//! applies them to orders ([`crate::payments::settle`], [`crate::payments::cancellation`]).

pub mod cart;
pub mod checkout;
pub mod lifecycle;
pub mod packing;
pub mod queries;
mod routes_api;
mod routes_packing;
mod routes_pages;
mod routes_sales;
mod routes_shipping;
pub mod sales;
pub mod shipping;
pub mod stock;
pub mod views;

/// The cart, checkout, orders and sales JSON API.
pub fn api_routes() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    routes_api::api_routes().merge(routes_sales::api_routes())
}
/// The shop's cart, checkout and order pages, and the cooperative's order and shipping-rate
/// pages.
pub fn page_routes() -> axum::Router<crate::AppState> {
    routes_pages::page_routes()
        .merge(routes_packing::routes())
        .merge(routes_shipping::routes())
        .merge(routes_sales::page_routes())
}

use crate::domain::text_enum;

text_enum! {
    /// Where an order stands.
    OrderStatus {
        PendingPayment => "pending_payment",
        Paid => "paid",
        Accepted => "accepted",
        Shipped => "shipped",
        Delivered => "delivered",
        Completed => "completed",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// Where a checkout's payment stands.
    PaymentStatus {
        Pending => "pending",
        Paid => "paid",
        Expired => "expired",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// How a shopper pays.
    PaymentMethod {
        VietQr => "vietqr",
        Stripe => "stripe",
        VnPay => "vnpay",
        MoMo => "momo",
    }
}

text_enum! {
    /// Who cancelled an order (`payment_provider`: the card payment could not be started).
    CancelledBy {
        Shopper => "shopper",
        Cooperative => "cooperative",
        Expiry => "expiry",
        Administrator => "administrator",
        PaymentProvider => "payment_provider",
    }
}

/// Most units of one product in one cart line.
pub const MAX_QUANTITY_PER_LINE: i64 = 999;

/// Most distinct products in one cart.
pub const MAX_CART_LINES: usize = 50;
