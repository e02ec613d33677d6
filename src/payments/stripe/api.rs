//! The calls the platform makes to Stripe's API, through `async-stripe`: create and retrieve
//! Checkout Sessions, create refunds. Only what the rest of the module needs leaves here, as
//! plain values; the client's own types stay inside.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData, RetrieveCheckoutSession,
};
use stripe_checkout::{
    CheckoutSession, CheckoutSessionLocale, CheckoutSessionMode, CheckoutSessionPaymentStatus,
};
use stripe_core::refund::CreateRefund;
use stripe_types::Currency;

use crate::config::StripeConfig;
use crate::error::AppError;
use crate::payments::refund_sender::RefundError;

/// Least time between two server-side checks of one payment's session (the payment page polls).
const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The Stripe API client with the platform's settings.
pub struct StripeApi {
    client: Client,
    /// When each payment's session was last retrieved, to keep a polling page from turning
    /// into a stream of calls to Stripe.
    last_refresh: DashMap<i64, Instant>,
}

/// One line of a Checkout Session: a whole order (goods and delivery) of one cooperative.
#[derive(Debug, Clone)]
pub struct SessionLine {
    pub name: String,
    pub amount_vnd: i64,
}

/// What the platform asks Stripe for when a card checkout starts.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub reference: String,
    pub lines: Vec<SessionLine>,
    pub success_url: String,
    pub cancel_url: String,
    /// Unix time; Stripe takes 30 minutes to 24 hours from now.
    pub expires_at: i64,
    pub idempotency_key: String,
}

/// What the platform needs to know about a Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub id: String,
    pub url: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: String,
    pub paid: bool,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub payment_intent: Option<String>,
    pub expires_at: i64,
}

/// A refund as Stripe created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedRefund {
    pub id: String,
    pub status: Option<String>,
    /// What Stripe says it refunded.
    pub amount_vnd: Option<i64>,
}

impl StripeApi {
    pub fn new(config: &StripeConfig) -> anyhow::Result<Self> {
        let client = ClientBuilder::new(config.secret_key.expose())
            .url(config.api_base.clone())
            .timeout(config.timeout)
            .app_info(
                "ocop-market",
                Some(env!("CARGO_PKG_VERSION").to_owned()),
                None,
            )
            .build()
            .map_err(|err| anyhow::anyhow!("the Stripe client cannot be built: {err}"))?;
        Ok(Self {
            client,
            last_refresh: DashMap::new(),
        })
    }

    /// Creates a Checkout Session in VND, once per idempotency key.
    pub async fn create_session(&self, new: &NewSession) -> Result<SessionState, AppError> {
        let metadata = HashMap::from([("payment_reference".to_owned(), new.reference.clone())]);
        let line_items: Vec<CreateCheckoutSessionLineItems> = new
            .lines
            .iter()
            .map(|line| {
                let mut price = CreateCheckoutSessionLineItemsPriceData::new(Currency::VND);
                // VND is a zero-decimal currency: the unit amount is whole đồng.
                price.unit_amount = Some(line.amount_vnd);
                price.product_data = Some(ProductData::new(line.name.clone()));
                let mut item = CreateCheckoutSessionLineItems::new();
                item.price_data = Some(price);
                item.quantity = Some(1);
                item
            })
            .collect();
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        let key = idempotency_key(&new.idempotency_key)?;
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .currency(Currency::VND)
            .line_items(line_items)
            .client_reference_id(new.reference.clone())
            .metadata(metadata)
            .payment_intent_data(intent)
            .success_url(new.success_url.clone())
            .cancel_url(new.cancel_url.clone())
            .expires_at(new.expires_at)
            .locale(CheckoutSessionLocale::Vi)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .map_err(|err| provider_error("creating a Checkout Session", &err))?;
        Ok(session_state(&session))
    }

    /// Reads a Checkout Session as Stripe has it now.
    pub async fn retrieve_session(&self, id: &str) -> Result<SessionState, AppError> {
        let session = RetrieveCheckoutSession::new(id)
            .send(&self.client)
            .await
            .map_err(|err| provider_error("retrieving a Checkout Session", &err))?;
        Ok(session_state(&session))
    }

    /// Whether the session of `payment_id` may be retrieved now (at most once a second), and
    /// notes that it is.
    pub fn may_refresh(&self, payment_id: i64) -> bool {
        let now = Instant::now();
        let mut allowed = false;
        self.last_refresh
            .entry(payment_id)
            .and_modify(|last| {
                if now.duration_since(*last) >= REFRESH_INTERVAL {
                    *last = now;
                    allowed = true;
                }
            })
            .or_insert_with(|| {
                allowed = true;
                now
            });
        if self.last_refresh.len() > 10_000 {
            self.last_refresh
                .retain(|_, last| now.duration_since(*last) < REFRESH_INTERVAL);
        }
        allowed
    }

    /// Refunds `amount_vnd` of a payment intent, once per idempotency key.
    pub async fn create_refund(
        &self,
        payment_intent: &str,
        amount_vnd: i64,
        metadata: HashMap<String, String>,
        idempotency_key: &str,
    ) -> Result<CreatedRefund, RefundError> {
        let key = self::idempotency_key(idempotency_key).map_err(RefundError::Transient)?;
        let refund = CreateRefund::new()
            .payment_intent(payment_intent)
            .amount(amount_vnd)
            .metadata(metadata)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .map_err(|err| match &err {
                // 409 (another request with this key is in flight) and 429 (rate limited):
                // Stripe did not act on the request; the same key goes again later.
                StripeError::Stripe(_, 409 | 429) => {
                    RefundError::Transient(provider_error("creating a refund", &err))
                }
                // Any other 4xx answer is Stripe's decision about this refund (already
                // refunded, disputed, more than the charge…), and Stripe keeps it under the
                // key: sending the same key again gets the same answer.
                StripeError::Stripe(api_error, status) if (400..500).contains(status) => {
                    tracing::warn!(status, code = ?api_error.code, "Stripe refused a refund");
                    RefundError::Refused(
                        api_error
                            .message
                            .clone()
                            .or_else(|| api_error.code.as_ref().map(|c| format!("{c:?}")))
                            .unwrap_or_else(|| format!("refused with status {status}")),
                    )
                }
                _ => RefundError::Transient(provider_error("creating a refund", &err)),
            })?;
        Ok(CreatedRefund {
            id: refund.id.as_str().to_owned(),
            status: refund.status,
            amount_vnd: Some(refund.amount),
        })
    }
}

fn idempotency_key(key: &str) -> Result<IdempotencyKey, AppError> {
    IdempotencyKey::new(key)
        .map_err(|err| AppError::Internal(anyhow::anyhow!("bad idempotency key: {err}")))
}

fn session_state(session: &CheckoutSession) -> SessionState {
    SessionState {
        id: session.id.as_str().to_owned(),
        url: session.url.clone(),
        status: session
            .status
            .as_ref()
            .map(|status| status.as_str().to_owned())
            .unwrap_or_default(),
        paid: session.payment_status == CheckoutSessionPaymentStatus::Paid,
        amount_total: session.amount_total,
        currency: session.currency.as_ref().map(ToString::to_string),
        payment_intent: session
            .payment_intent
            .as_ref()
            .map(|intent| intent.id().as_str().to_owned()),
        expires_at: session.expires_at,
    }
}

/// Maps a failed call: no answer (in time) is 503, an answer with an error 502. The cause is
/// logged (Stripe's error message and status; never the key); the shopper gets our message.
fn provider_error(what: &str, err: &StripeError) -> AppError {
    match err {
        StripeError::Timeout | StripeError::ClientError(_) => {
            tracing::warn!(error = %err, "Stripe did not answer while {what}");
            AppError::ProviderUnavailable(
                "the card payment service did not answer; try again in a moment or pay by bank \
                 transfer"
                    .to_owned(),
            )
        }
        StripeError::Stripe(api_error, status) => {
            tracing::warn!(
                status,
                kind = ?api_error.type_,
                code = ?api_error.code,
                message = api_error.message.as_deref().unwrap_or(""),
                "Stripe refused {what}"
            );
            AppError::ProviderFailed(
                "the card payment service refused the request; try again or pay by bank transfer"
                    .to_owned(),
            )
        }
        StripeError::JSONDeserialize(_) => {
            tracing::warn!(error = %err, "Stripe's answer could not be read while {what}");
            AppError::ProviderFailed(
                "the card payment service answered unexpectedly; try again or pay by bank \
                 transfer"
                    .to_owned(),
            )
        }
        StripeError::ConfigError(_) => {
            AppError::Internal(anyhow::anyhow!("Stripe client configuration: {err}"))
        }
    }
}
