//! What a checkout's payment page and its JSON twin show: the payment (with the bank
//! transfer to make and its VietQR code while it is awaited) and the orders it covers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::vietqr::VietQr;
use crate::AppState;
use crate::config::CollectingAccount;
use crate::domain::Money;
use crate::entities::payments;
use crate::error::AppResult;
use crate::orders::checkout::CheckoutOutcome;
use crate::orders::queries;
use crate::orders::views::OrderView;
use crate::orders::{PaymentMethod, PaymentStatus};

/// How to pay a VietQR payment by hand, and the code to scan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BankTransferView {
    pub bank_bin: String,
    pub account_number: String,
    pub account_name: String,
    pub amount_vnd: i64,
    /// Put exactly this in the transfer's description.
    pub reference: String,
    /// The EMVCo/VietQR payload the QR code encodes.
    pub vietqr_payload: String,
}

/// A checkout's payment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentView {
    pub reference: String,
    pub method: String,
    /// `pending`, `paid`, `expired` or `cancelled`.
    pub status: String,
    pub amount_vnd: i64,
    pub amount_display: String,
    pub received_vnd: i64,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Present for a pending VietQR payment.
    pub bank_transfer: Option<BankTransferView>,
    /// The gateway page where a pending VNPay or MoMo payment is made.
    pub gateway_url: Option<String>,
}

impl PaymentView {
    pub fn new(payment: &payments::Model, account: &CollectingAccount) -> Self {
        let bank_transfer = (payment.method == PaymentMethod::VietQr.as_str()
            && payment.status == PaymentStatus::Pending.as_str())
        .then(|| {
            let payload = VietQr {
                bank_bin: account.bank_bin.clone(),
                account_number: account.account_number.clone(),
                amount: Some(Money::from_dong(payment.amount_vnd)),
                purpose: Some(payment.reference.clone()),
            }
            .payload()
            .unwrap_or_default();
            BankTransferView {
                bank_bin: account.bank_bin.clone(),
                account_number: account.account_number.clone(),
                account_name: account.account_name.clone(),
                amount_vnd: payment.amount_vnd,
                reference: payment.reference.clone(),
                vietqr_payload: payload,
            }
        });
        Self {
            reference: payment.reference.clone(),
            method: payment.method.clone(),
            status: payment.status.clone(),
            amount_vnd: payment.amount_vnd,
            amount_display: Money::from_dong(payment.amount_vnd).to_string(),
            received_vnd: payment.received_vnd,
            expires_at: payment.expires_at,
            paid_at: payment.paid_at,
            bank_transfer,
            gateway_url: payment
                .gateway_url
                .clone()
                .filter(|_| payment.status == PaymentStatus::Pending.as_str()),
        }
    }
}

/// A finished checkout: the payment to make and the orders it covers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckoutView {
    pub payment: PaymentView,
    pub orders: Vec<OrderView>,
    /// The payment page (carries a secret token: anyone with the link sees the checkout).
    pub payment_url: String,
    /// Where to send the shopper to pay: Stripe Checkout, VNPay's or MoMo's page.
    pub redirect_url: Option<String>,
}

/// The checkout view of a finished checkout.
pub async fn checkout_view(
    state: &AppState,
    outcome: &CheckoutOutcome,
    redirect_url: Option<String>,
) -> AppResult<CheckoutView> {
    Ok(CheckoutView {
        payment: PaymentView::new(&outcome.payment, &state.config.commerce.collecting_account),
        orders: queries::views(&state.db, &state.reference, &outcome.orders).await?,
        payment_url: format!(
            "{}/payments/{}?token={}",
            state.config.public_url, outcome.payment.reference, outcome.access_token
        ),
        redirect_url,
    })
}
