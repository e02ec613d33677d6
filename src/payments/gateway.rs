//! Where the shopper goes to pay once the checkout is made: Stripe Checkout for a card, VNPay's
//! page, or MoMo's; a VietQR payment stays on the platform's payment page. Whatever the
//! gateway, the payment is confirmed only by its signed server-to-server notification.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::stripe;
use crate::AppState;
use crate::entities::payments;
use crate::error::{AppError, AppResult};
use crate::orders::cart::CartOwner;
use crate::orders::checkout::{self, CheckoutOutcome};
use crate::orders::{PaymentMethod, PaymentStatus};

/// For a checkout paid through a gateway, the gateway page to send the shopper to.
///
/// A checkout replayed with its checkout key gets the page made the first time. When the
/// gateway fails or does not answer, the checkout is given up (stock back, cart refilled) and
/// the error returned.
pub async fn start(
    state: &AppState,
    outcome: &CheckoutOutcome,
    owner: &CartOwner,
    client_ip: std::net::IpAddr,
) -> AppResult<Option<String>> {
    let payment = &outcome.payment;
    let method = PaymentMethod::parse(&payment.method);
    if method == Some(PaymentMethod::Stripe) {
        return stripe::start_if_card(state, outcome, owner).await;
    }
    if !matches!(method, Some(PaymentMethod::VnPay | PaymentMethod::MoMo))
        || payment.status != PaymentStatus::Pending.as_str()
    {
        return Ok(None);
    }
    if let Some(url) = &payment.gateway_url {
        return Ok(Some(url.clone()));
    }
    let unavailable = || {
        AppError::bad_request(
            "payment_method_unavailable",
            "this payment method is not available",
        )
    };
    // The gateway sends the shopper back to the payment page, which only shows the state.
    let return_url = format!(
        "{}/payments/{}?token={}",
        state.config.public_url, payment.reference, outcome.access_token
    );
    let made = match method {
        Some(PaymentMethod::VnPay) => {
            let api = state.vnpay.as_ref().ok_or_else(unavailable)?;
            Ok(api.payment_url(payment, &return_url, &client_ip.to_string()))
        }
        _ => {
            let api = state.momo.as_ref().ok_or_else(unavailable)?;
            let ipn_url = format!("{}/api/v1/webhooks/momo", state.config.public_url);
            api.create_payment(payment, &return_url, &ipn_url).await
        }
    };
    match made {
        Ok(url) => {
            payments::Entity::update_many()
                .col_expr(payments::Column::GatewayUrl, Expr::value(url.clone()))
                .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(payments::Column::Id.eq(payment.id))
                .filter(payments::Column::GatewayUrl.is_null())
                .exec(&state.db)
                .await?;
            Ok(Some(url))
        }
        Err(err @ (AppError::ProviderUnavailable(_) | AppError::ProviderFailed(_))) => {
            checkout::abandon(&state.db, outcome, owner).await?;
            Err(err)
        }
        Err(other) => Err(other),
    }
}
