//! Stripe Checkout (card payments), when `OCOP_STRIPE_SECRET_KEY` is configured.
//!
//! - **Start** ([`start_if_card`]): a card checkout gets a Checkout Session in VND (one line per
//!   order), created with an idempotency key derived from the payment and its page token, whose
//!   expiry is the reservation's (at least the 30 minutes Stripe requires: the reservation is
//!   extended to match, so the stock stays held while the session can be paid). If Stripe fails
//!   or does not answer, the checkout is cancelled at once: the stock returns, the products go
//!   back into the shopper's cart, and the answer is a 502/503 problem saying to try again or
//!   pay by bank transfer. Nothing is left half-made.
//! - **Confirmation** comes only from Stripe, never from the redirect: a verified webhook
//!   ([`receive_webhook`]: `checkout.session.completed`, `checkout.session.async_payment_succeeded`,
//!   `payment_intent.succeeded`), or a server-side retrieval of the session when the shopper's
//!   browser polls the payment ([`refresh_if_returning`]). All of them report the same money
//!   under the payment intent's id, so whichever comes first settles it and the others find it
//!   settled. Each webhook event is recorded in `webhook_events` in the transaction that acts
//!   on it: a replay or a concurrent duplicate does nothing.
//! - **Refunds** go through [`super::refund_sender`] (claim, send, record): sent to Stripe's
//!   Refunds API with the idempotency key `refund-{id}`, they become `submitted` with Stripe's
//!   refund id and amount; `charge.refunded` completes them in the ledger. A refund Stripe did
//!   not act on (409, 429, 5xx, no answer) goes back to `pending` and is sent again under the
//!   same key by a periodic task.
//! - **Disputes and refunds made in Stripe's dashboard** are booked by
//!   [`super::chargebacks`].

mod api;
pub mod signature;

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub use self::api::StripeApi;
use self::api::{NewSession, SessionLine};
use super::Funds;
use super::refund_sender::{self, RefundError, RefundGateway, SentRefund};
use super::refunds::{self, RefundStatus};
use super::settle::{self, Receipt, Settlement};
use super::webhook;
use crate::AppState;
use crate::entities::{cooperatives, payments, refunds as refund_rows};
use crate::error::{AppError, AppResult};
use crate::orders::cart::CartOwner;
use crate::orders::checkout::{self, CheckoutOutcome};
use crate::orders::{PaymentMethod, PaymentStatus};

/// Stripe refuses a Checkout Session that expires sooner than 30 minutes after its creation;
/// a little more leaves room for the call itself.
const MIN_SESSION_LIFETIME_SECONDS: i64 = 31 * 60;
/// ... or later than 24 hours.
const MAX_SESSION_LIFETIME_SECONDS: i64 = 24 * 3600 - 60;

/// For a card checkout, creates the Stripe Checkout Session and returns its URL.
///
/// A checkout replayed with its checkout key gets the session made the first time. When Stripe
/// fails, the checkout is cancelled (stock back, cart refilled) and the error is returned.
pub async fn start_if_card(
    state: &AppState,
    outcome: &CheckoutOutcome,
    owner: &CartOwner,
) -> AppResult<Option<String>> {
    let payment = &outcome.payment;
    if payment.method != PaymentMethod::Stripe.as_str() {
        return Ok(None);
    }
    let Some(api) = &state.stripe else {
        return Err(AppError::bad_request(
            "payment_method_unavailable",
            "card payment is not available",
        ));
    };
    if payment.status != PaymentStatus::Pending.as_str() {
        return Ok(None);
    }
    if let Some(session_id) = &payment.stripe_session_id {
        let session = api.retrieve_session(session_id).await?;
        return Ok(session.url.filter(|_| session.status == "open"));
    }
    let new = new_session(state, outcome).await?;
    match api.create_session(&new).await {
        Ok(session) => {
            let expires_at = chrono::DateTime::from_timestamp(session.expires_at, 0)
                .unwrap_or(payment.expires_at)
                .max(payment.expires_at);
            payments::Entity::update_many()
                .col_expr(
                    payments::Column::StripeSessionId,
                    Expr::value(session.id.clone()),
                )
                .col_expr(payments::Column::ExpiresAt, Expr::value(expires_at))
                .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(payments::Column::Id.eq(payment.id))
                .filter(payments::Column::StripeSessionId.is_null())
                .exec(&state.db)
                .await?;
            Ok(session.url)
        }
        Err(err @ (AppError::ProviderUnavailable(_) | AppError::ProviderFailed(_))) => {
            checkout::abandon(&state.db, outcome, owner).await?;
            Err(err)
        }
        Err(other) => Err(other),
    }
}

/// The session to ask Stripe for: one line per order, the return and cancel pages, the
/// expiry aligned with the reservation.
async fn new_session(state: &AppState, outcome: &CheckoutOutcome) -> AppResult<NewSession> {
    let payment = &outcome.payment;
    let cooperative_ids: Vec<i64> = outcome.orders.iter().map(|o| o.cooperative_id).collect();
    let names: HashMap<i64, String> = cooperatives::Entity::find()
        .filter(cooperatives::Column::Id.is_in(cooperative_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let lines = outcome
        .orders
        .iter()
        .map(|order| SessionLine {
            name: match names.get(&order.cooperative_id) {
                Some(name) => format!("Đơn hàng #{} — {name}", order.id),
                None => format!("Đơn hàng #{}", order.id),
            },
            amount_vnd: order.total_vnd,
        })
        .collect();
    let now = Utc::now().timestamp();
    let expires_at = payment.expires_at.timestamp().clamp(
        now + MIN_SESSION_LIFETIME_SECONDS,
        now + MAX_SESSION_LIFETIME_SECONDS,
    );
    let public_url = &state.config.public_url;
    Ok(NewSession {
        reference: payment.reference.clone(),
        lines,
        // Stripe replaces {CHECKOUT_SESSION_ID}; the page still asks Stripe itself.
        success_url: format!(
            "{public_url}/payments/{}?token={}&session_id={{CHECKOUT_SESSION_ID}}",
            payment.reference, outcome.access_token
        ),
        cancel_url: format!("{public_url}/cart"),
        expires_at,
        // The page token is part of the request (in the return URL), and a replayed checkout
        // mints a new one; one key per payment and token keeps "same key, same request".
        idempotency_key: format!(
            "checkout-{}-{}",
            payment.id,
            payment.access_token_hash.get(..16).unwrap_or_default()
        ),
    })
}

/// When the shopper's browser asks for a pending card payment, asks Stripe (server to server)
/// whether its session was paid, and settles it if so. Stripe is asked only for a pending
/// payment with a session, at most once a second per payment; when Stripe does not answer, the
/// payment is shown as it is.
pub async fn refresh_if_returning(
    state: &AppState,
    payment: payments::Model,
) -> AppResult<payments::Model> {
    let Some(api) = &state.stripe else {
        return Ok(payment);
    };
    let Some(session_id) = payment.stripe_session_id.clone() else {
        return Ok(payment);
    };
    if payment.method != PaymentMethod::Stripe.as_str()
        || payment.status != PaymentStatus::Pending.as_str()
        || !api.may_refresh(payment.id)
    {
        return Ok(payment);
    }
    let session = match api.retrieve_session(&session_id).await {
        Ok(session) => session,
        Err(err) => {
            tracing::info!(reference = %payment.reference, error = %err, "session not checked");
            return Ok(payment);
        }
    };
    if !session.paid {
        return Ok(payment);
    }
    let money = Money {
        amount_vnd: session.amount_total,
        currency: session.currency.clone(),
        provider_payment_id: session.payment_intent.clone().unwrap_or(session.id.clone()),
        description: format!("Stripe Checkout {} (checked on return)", session.id),
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let outcome = settle_money(&txn, Some(payment.id), &money, None).await?;
    txn.commit().await?;
    tracing::info!(reference = %payment.reference, outcome, "card payment checked on return");
    after_settlement(state, outcome);
    payments::Entity::find_by_id(payment.id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)
}

/// What the Stripe webhook answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StripeWebhookAnswer {
    /// What was done: `paid`, `already_settled`, `underpaid`, `refund_opened`,
    /// `refunds_completed`, `duplicate` (event already processed), `ignored`, …
    pub outcome: String,
}

/// Verifies, records and acts on one Stripe webhook request.
pub async fn receive_webhook(
    state: &AppState,
    signature_header: Option<&str>,
    body: &[u8],
) -> AppResult<StripeWebhookAnswer> {
    let Some(config) = &state.config.commerce.stripe else {
        return Err(AppError::NotFound);
    };
    signature::verify(
        &config.webhook_secrets,
        signature_header,
        body,
        Utc::now().timestamp(),
    )
    .map_err(|err| {
        tracing::warn!(error = %err, "Stripe webhook refused");
        AppError::BadSignature(err.to_string())
    })?;
    let event = Event::parse(body)?;
    let outcome = process_event(&state.db, &event).await?;
    tracing::info!(event = %event.id, kind = %event.kind, outcome, "Stripe webhook");
    after_settlement(state, outcome);
    Ok(StripeWebhookAnswer {
        outcome: outcome.to_owned(),
    })
}

/// A refund opened by a settlement goes to Stripe without holding up the caller.
fn after_settlement(state: &AppState, outcome: &str) {
    if outcome == Settlement::RefundOpened.as_str() {
        refund_sender::send_refunds_soon(state);
    }
}

/// The parts of a Stripe event the platform reads.
#[derive(Debug, Clone)]
struct Event {
    id: String,
    kind: String,
    object: Value,
    raw: String,
}

impl Event {
    fn parse(body: &[u8]) -> AppResult<Self> {
        let malformed = |message: &str| AppError::bad_request("malformed_event", message);
        let raw = std::str::from_utf8(body).map_err(|_| malformed("the event is not UTF-8"))?;
        let json: Value =
            serde_json::from_str(raw).map_err(|_| malformed("the event is not JSON"))?;
        let id = json
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && id.len() <= 255)
            .ok_or_else(|| malformed("the event has no id"))?;
        let kind = json
            .get("type")
            .and_then(Value::as_str)
            .filter(|kind| kind.len() <= 100)
            .ok_or_else(|| malformed("the event has no type"))?;
        let object = json
            .pointer("/data/object")
            .filter(|object| object.is_object())
            .cloned()
            .ok_or_else(|| malformed("the event has no data.object"))?;
        Ok(Self {
            id: id.to_owned(),
            kind: kind.to_owned(),
            object,
            raw: raw.to_owned(),
        })
    }
}

/// Records the event and acts on it in one transaction; an event already recorded is a
/// duplicate and does nothing.
async fn process_event(db: &DatabaseConnection, event: &Event) -> AppResult<&'static str> {
    let txn = crate::db::begin_write(db).await?;
    let record = webhook::EventRecord {
        provider: "stripe",
        event_id: &event.id,
        event_type: &event.kind,
        payload: &event.raw,
    };
    let Some(event_row) = webhook::record(&txn, record).await? else {
        txn.rollback().await?;
        return Ok("duplicate");
    };
    let object = &event.object;
    let outcome = match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if text(object, "/payment_status") != Some("paid") {
                // Completed with a delayed payment method: the money comes with
                // `async_payment_succeeded`.
                "awaiting_payment"
            } else {
                let session_id = text(object, "/id").unwrap_or_default();
                let intent =
                    text(object, "/payment_intent").or_else(|| text(object, "/payment_intent/id"));
                let money = Money {
                    amount_vnd: object.pointer("/amount_total").and_then(Value::as_i64),
                    currency: text(object, "/currency").map(str::to_owned),
                    provider_payment_id: intent.unwrap_or(session_id).to_owned(),
                    description: format!("Stripe Checkout {session_id}"),
                };
                let reference = text(object, "/metadata/payment_reference")
                    .or_else(|| text(object, "/client_reference_id"));
                let payment_id = find_payment(&txn, Some(session_id), reference, intent).await?;
                settle_money(&txn, payment_id, &money, Some(event_row)).await?
            }
        }
        "payment_intent.succeeded" => {
            let intent = text(object, "/id").unwrap_or_default();
            let money = Money {
                amount_vnd: object.pointer("/amount_received").and_then(Value::as_i64),
                currency: text(object, "/currency").map(str::to_owned),
                provider_payment_id: intent.to_owned(),
                description: format!("Stripe PaymentIntent {intent}"),
            };
            let reference = text(object, "/metadata/payment_reference");
            let payment_id = find_payment(&txn, None, reference, Some(intent)).await?;
            settle_money(&txn, payment_id, &money, Some(event_row)).await?
        }
        "charge.refunded" => complete_refunds(&txn, object).await?,
        "charge.dispute.created" => super::chargebacks::dispute_created(&txn, object).await?,
        "charge.dispute.closed" => super::chargebacks::dispute_closed(&txn, object).await?,
        "refund.failed" | "charge.refund.updated" | "refund.updated" => {
            fail_refund(&txn, object).await?
        }
        _ => "ignored",
    };
    webhook::set_outcome(&txn, event_row, outcome).await?;
    txn.commit().await?;
    Ok(outcome)
}

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Money Stripe reports, before it is matched to a payment.
#[derive(Debug, Clone)]
struct Money {
    amount_vnd: Option<i64>,
    currency: Option<String>,
    /// The payment intent (the session, if Stripe gave none).
    provider_payment_id: String,
    description: String,
}

/// The card payment a Stripe object is about: by its session, the reference the platform put
/// in its metadata, or the payment intent already recorded.
async fn find_payment(
    txn: &DatabaseTransaction,
    session_id: Option<&str>,
    reference: Option<&str>,
    intent: Option<&str>,
) -> AppResult<Option<i64>> {
    let stripe_payments = || {
        payments::Entity::find().filter(payments::Column::Method.eq(PaymentMethod::Stripe.as_str()))
    };
    if let Some(session_id) = session_id.filter(|s| !s.is_empty())
        && let Some(found) = stripe_payments()
            .filter(payments::Column::StripeSessionId.eq(session_id))
            .one(txn)
            .await?
    {
        return Ok(Some(found.id));
    }
    if let Some(reference) = reference
        && let Some(found) = stripe_payments()
            .filter(payments::Column::Reference.eq(reference))
            .one(txn)
            .await?
    {
        return Ok(Some(found.id));
    }
    if let Some(intent) = intent
        && let Some(found) = stripe_payments()
            .filter(payments::Column::ProviderPaymentId.eq(intent))
            .one(txn)
            .await?
    {
        return Ok(Some(found.id));
    }
    Ok(None)
}

/// Settles money Stripe reports against the payment, once per payment intent: the session
/// event, the intent event and the return check all report the same intent, and whichever
/// comes second finds it recorded (paid, queued as underpaid, or owed back) and does nothing.
async fn settle_money(
    txn: &DatabaseTransaction,
    payment_id: Option<i64>,
    money: &Money,
    webhook_event_id: Option<i64>,
) -> AppResult<&'static str> {
    if money.currency.as_deref() != Some("vnd") {
        tracing::warn!(currency = ?money.currency, id = %money.provider_payment_id,
            "Stripe reported money in another currency than VND; left for an administrator");
        return Ok("unexpected_currency");
    }
    let Some(amount_vnd) = money.amount_vnd.filter(|a| *a > 0) else {
        return Ok("no_amount");
    };
    let receipt = Receipt {
        amount_vnd,
        provider_payment_id: money.provider_payment_id.clone(),
        funds: Funds::Stripe,
        webhook_event_id,
        description: money.description.clone(),
    };
    Ok(match payment_id {
        Some(payment_id) => settle::settle(txn, payment_id, &receipt).await?.as_str(),
        None => settle::unmatched(txn, &receipt).await?.as_str(),
    })
}

/// `charge.refunded`: completes the platform's refunds that Stripe has now paid out, found by
/// Stripe's refund id (recorded on submission) or the refund id the platform put in the
/// refund's metadata; without the charge's refund list, the payment's submitted refunds up to
/// the amount refunded on the charge. A refund in the list that is none of the platform's was
/// made in Stripe's dashboard: [`super::chargebacks::external_refund`] books it.
async fn complete_refunds(txn: &DatabaseTransaction, charge: &Value) -> AppResult<&'static str> {
    let intent = text(charge, "/payment_intent");
    let mut completed = 0;
    let mut outside = 0;
    if let Some(list) = charge.pointer("/refunds/data").and_then(Value::as_array) {
        for stripe_refund in list {
            let Some(stripe_id) = text(stripe_refund, "/id") else {
                continue;
            };
            if text(stripe_refund, "/status").is_some_and(|s| s != "succeeded") {
                continue;
            }
            let by_id = refund_rows::Entity::find()
                .filter(refund_rows::Column::ProviderRefundId.eq(stripe_id))
                .one(txn)
                .await?;
            let found = match by_id {
                Some(found) => Some(found),
                None => match text(stripe_refund, "/metadata/refund_id")
                    .and_then(|id| id.parse::<i64>().ok())
                {
                    Some(id) => refund_of_intent(txn, id, intent).await?,
                    None => None,
                },
            };
            if found.is_none() {
                // Not one of ours: made in Stripe's dashboard.
                if super::chargebacks::external_refund(txn, charge, stripe_refund).await? {
                    outside += 1;
                }
                continue;
            }
            if let Some(refund) = found
                && refunds::complete(
                    txn,
                    &refund,
                    stripe_id,
                    stripe_refund.pointer("/amount").and_then(Value::as_i64),
                )
                .await?
            {
                completed += 1;
            }
        }
    } else if let Some(intent) = intent {
        let refunded = charge
            .pointer("/amount_refunded")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let Some(payment) = payments::Entity::find()
            .filter(payments::Column::Method.eq(PaymentMethod::Stripe.as_str()))
            .filter(payments::Column::ProviderPaymentId.eq(intent))
            .one(txn)
            .await?
        else {
            return Ok("no_matching_refund");
        };
        let of_payment = refund_rows::Entity::find()
            .filter(refund_rows::Column::PaymentId.eq(payment.id))
            .order_by_asc(refund_rows::Column::Id)
            .all(txn)
            .await?;
        let mut left = refunded
            - of_payment
                .iter()
                .filter(|r| r.status == RefundStatus::Succeeded.as_str())
                .map(|r| r.amount_vnd)
                .sum::<i64>();
        for refund in of_payment.iter().filter(|r| {
            r.status == RefundStatus::Submitted.as_str()
                || r.status == RefundStatus::Sending.as_str()
        }) {
            if refund.amount_vnd > left {
                break;
            }
            let stripe_id = refund.provider_refund_id.clone().unwrap_or_default();
            if refunds::complete(txn, refund, &stripe_id, Some(refund.amount_vnd)).await? {
                left -= refund.amount_vnd;
                completed += 1;
            }
        }
    }
    Ok(if completed > 0 {
        "refunds_completed"
    } else if outside > 0 {
        "external_refund_recorded"
    } else {
        "no_matching_refund"
    })
}

/// A refund Stripe reports as failed after accepting it (the card was closed, the bank sent
/// the money back). Its money has not left after all: if the ledger already booked it as
/// paid, that is reversed, and the refund waits for an administrator.
async fn fail_refund(txn: &DatabaseTransaction, stripe_refund: &Value) -> AppResult<&'static str> {
    if text(stripe_refund, "/status") != Some("failed") {
        return Ok("ignored");
    }
    let Some(stripe_id) = text(stripe_refund, "/id") else {
        return Ok("no_matching_refund");
    };
    let by_id = refund_rows::Entity::find()
        .filter(refund_rows::Column::ProviderRefundId.eq(stripe_id))
        .one(txn)
        .await?;
    let refund = match by_id {
        Some(found) => found,
        None => {
            let own_id = text(stripe_refund, "/metadata/refund_id").and_then(|id| id.parse().ok());
            match own_id {
                Some(id) => {
                    match refund_of_intent(txn, id, text(stripe_refund, "/payment_intent")).await? {
                        Some(found) => found,
                        None => return Ok("no_matching_refund"),
                    }
                }
                None => return Ok("no_matching_refund"),
            }
        }
    };
    let reason = text(stripe_refund, "/failure_reason").unwrap_or("failed");
    Ok(if refunds::fail(txn, &refund, reason).await? {
        "refund_failed"
    } else {
        "already_failed"
    })
}

/// The platform's refund `id`, if it belongs to the card payment of `intent`.
async fn refund_of_intent(
    txn: &DatabaseTransaction,
    id: i64,
    intent: Option<&str>,
) -> AppResult<Option<refund_rows::Model>> {
    let Some(refund) = refund_rows::Entity::find_by_id(id).one(txn).await? else {
        return Ok(None);
    };
    let payment = payments::Entity::find_by_id(refund.payment_id)
        .one(txn)
        .await?;
    let matches = payment.is_some_and(|p| {
        p.method == PaymentMethod::Stripe.as_str()
            && intent.is_none_or(|intent| p.provider_payment_id.as_deref() == Some(intent))
    });
    Ok(matches.then_some(refund))
}

#[async_trait::async_trait]
impl RefundGateway for StripeApi {
    fn method(&self) -> PaymentMethod {
        PaymentMethod::Stripe
    }

    /// A card payment is refunded through its payment intent.
    fn can_refund(&self, payment: &payments::Model) -> bool {
        payment
            .provider_payment_id
            .as_deref()
            .is_some_and(|id| id.starts_with("pi_"))
    }

    /// Creates the refund with the idempotency key `key`, so a resend never refunds twice;
    /// `charge.refunded` completes it later.
    async fn send(
        &self,
        refund: &refund_rows::Model,
        payment: &payments::Model,
        key: &str,
    ) -> Result<SentRefund, RefundError> {
        let intent = payment.provider_payment_id.as_deref().unwrap_or_default();
        let metadata = HashMap::from([
            ("refund_id".to_owned(), refund.id.to_string()),
            ("payment_reference".to_owned(), payment.reference.clone()),
        ]);
        let created = self
            .create_refund(intent, refund.amount_vnd, metadata, key)
            .await?;
        Ok(SentRefund {
            id: created.id,
            amount_vnd: created.amount_vnd,
            status: created.status,
            completed: false,
        })
    }
}
