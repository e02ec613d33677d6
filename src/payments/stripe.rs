//! Stripe Checkout (card payments), when `OCOP_STRIPE_SECRET_KEY` is configured.
//!
//! Not yet implemented: the three entry points below are where the checkout, the payment page
//! and cancellations hand over to Stripe. Without a Stripe key the checkout refuses the
//! `stripe` method, so none of them has anything to do.

use crate::AppState;
use crate::entities::payments;
use crate::http::error::{AppError, AppResult};
use crate::orders::PaymentMethod;
use crate::orders::checkout::CheckoutOutcome;

/// For a card checkout, creates the Stripe Checkout Session and returns its URL.
pub async fn start_if_card(
    _state: &AppState,
    outcome: &CheckoutOutcome,
) -> AppResult<Option<String>> {
    if outcome.payment.method != PaymentMethod::Stripe.as_str() {
        return Ok(None);
    }
    Err(AppError::bad_request(
        "payment_method_unavailable",
        "card payment is not available",
    ))
}

/// When the shopper returns from Stripe, asks Stripe (server to server) whether it was paid.
pub async fn refresh_if_returning(
    _state: &AppState,
    payment: payments::Model,
) -> AppResult<payments::Model> {
    Ok(payment)
}

/// Sends refunds owed on card payments to Stripe.
pub async fn submit_pending_refunds(_state: &AppState) {}
