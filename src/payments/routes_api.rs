//! Payment webhooks and the administrator's payment endpoints.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::bank::{self, TransferOutcome};
use super::desk::{
    self, ExceptionView, ManualConfirmation, PayoutRequest, PayoutView, RefundView, ResolveRequest,
};
use super::stripe::{self, StripeWebhookAnswer};
use super::vnpay::{self, IpnAnswer};
use crate::AppState;
use crate::accounts::Authenticated;
use crate::error::{AppError, AppResult, Problem};
use crate::http::extract::{ApiJson, ApiPath};
use crate::ledger::reports::{self, AccountBalance, ReconciliationLine};

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(bank_webhook))
        .routes(routes!(stripe_webhook))
        .routes(routes!(vnpay_ipn))
        .routes(routes!(momo_ipn))
        .routes(routes!(list_exceptions))
        .routes(routes!(resolve_exception))
        .routes(routes!(confirm_transfer))
        .routes(routes!(list_refunds))
        .routes(routes!(complete_refund))
        .routes(routes!(retry_refund))
        .routes(routes!(record_payout))
        .routes(routes!(ledger_balances))
        .routes(routes!(reconciliation))
}

/// What the bank webhook answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    pub transfers: Vec<TransferOutcome>,
}

/// Incoming-transfer notifications for the collecting account, signed with HMAC-SHA256 (see
/// the README for formats). Each bank transaction is processed once; replays answer
/// `duplicate`.
#[utoipa::path(post, path = "/webhooks/bank", tag = "payments",
    request_body(content = String, description = "The notification service's JSON, as signed", content_type = "application/json"),
    responses(
        (status = 200, body = WebhookAnswer),
        (status = 400, body = Problem, description = "Not a notification this platform understands"),
        (status = 401, body = Problem, description = "Missing, wrong or stale signature"),
        (status = 404, body = Problem, description = "No bank webhook is configured"),
    ))]
async fn bank_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Json<WebhookAnswer>> {
    let Some(config) = &state.config.commerce.bank_webhook else {
        return Err(AppError::NotFound);
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let timestamp = config.timestamp_header.as_deref().and_then(header);
    bank::verify_signature(
        config,
        header(&config.signature_header),
        timestamp,
        &body,
        chrono::Utc::now().timestamp(),
    )
    .map_err(|err| {
        tracing::warn!(error = %err, "bank notification refused");
        AppError::BadSignature(err.to_string())
    })?;
    let items = bank::parse_transfers(config, &body)?;
    let batch = config.items_pointer.is_some();
    let outcomes = bank::process(&state.db, items, "notification", batch).await?;
    Ok(Json(WebhookAnswer {
        transfers: outcomes,
    }))
}

/// Stripe's webhook (`checkout.session.completed`, `checkout.session.async_payment_succeeded`,
/// `payment_intent.succeeded`, `charge.refunded`, `charge.dispute.created`,
/// `charge.dispute.closed`; other events are acknowledged and ignored).
/// Signed as Stripe signs (`Stripe-Signature`, any configured secret); each event is processed
/// once, replays answer `duplicate`.
#[utoipa::path(post, path = "/webhooks/stripe", tag = "payments",
    request_body(content = String, description = "Stripe's event JSON, as signed", content_type = "application/json"),
    responses(
        (status = 200, body = StripeWebhookAnswer),
        (status = 400, body = Problem, description = "Not a Stripe event"),
        (status = 401, body = Problem, description = "Missing, wrong or stale signature"),
        (status = 404, body = Problem, description = "Stripe is not configured"),
    ))]
async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Json<StripeWebhookAnswer>> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    Ok(Json(
        stripe::receive_webhook(&state, signature, &body).await?,
    ))
}

/// VNPay's IPN (payment notification), called by VNPay's server with the `vnp_*` parameters
/// signed with HMAC-SHA512 (`vnp_SecureHash`). Always answered 200 with VNPay's codes:
/// `00` confirmed, `01` order not found, `02` already confirmed (a replay credits once), `04`
/// invalid amount, `97` invalid signature (nothing recorded), `99` other (VNPay sends again).
#[utoipa::path(get, path = "/webhooks/vnpay", tag = "payments",
    responses((status = 200, body = IpnAnswer)))]
async fn vnpay_ipn(State(state): State<AppState>, RawQuery(query): RawQuery) -> Json<IpnAnswer> {
    Json(vnpay::receive_ipn(&state, query.as_deref()).await)
}

/// MoMo's IPN (payment result), signed with HMAC-SHA256 (`signature`). Each MoMo transaction
/// is processed once; a replay is acknowledged the same way and credits nothing more.
#[utoipa::path(post, path = "/webhooks/momo", tag = "payments",
    request_body(content = String, description = "MoMo's notification JSON, as signed", content_type = "application/json"),
    responses(
        (status = 204, description = "Recorded (or already recorded)"),
        (status = 400, body = Problem, description = "Not a MoMo notification"),
        (status = 401, body = Problem, description = "Wrong signature or partner code"),
        (status = 404, body = Problem, description = "MoMo is not configured"),
    ))]
async fn momo_ipn(State(state): State<AppState>, body: Bytes) -> AppResult<StatusCode> {
    super::momo::receive_ipn(&state, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Money that did not match a payment exactly, waiting for an administrator.
#[utoipa::path(get, path = "/admin/payment-exceptions", tag = "admin",
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [ExceptionView]), (status = 403, body = Problem)))]
async fn list_exceptions(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> AppResult<Json<Vec<ExceptionView>>> {
    user.require_admin()?;
    Ok(Json(desk::open_exceptions(&state.db).await?))
}

/// Close a queue item, saying what was done (and the bank reference if the money was sent
/// back).
#[utoipa::path(post, path = "/admin/payment-exceptions/{id}/resolve", tag = "admin",
    params(("id" = i64, Path, description = "Queue item id")),
    request_body = ResolveRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = ExceptionView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn resolve_exception(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ResolveRequest>,
) -> AppResult<Json<ExceptionView>> {
    user.require_admin()?;
    Ok(Json(desk::resolve(&state.db, &user, id, body).await?))
}

/// Confirm a transfer by hand from the bank statement (same matching as a notification; the
/// bank transaction id makes it count once).
#[utoipa::path(post, path = "/admin/payments/confirm", tag = "admin",
    request_body = ManualConfirmation,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = TransferOutcome), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn confirm_transfer(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiJson(body): ApiJson<ManualConfirmation>,
) -> AppResult<Json<TransferOutcome>> {
    user.require_admin()?;
    Ok(Json(desk::confirm_by_hand(&state.db, &user, body).await?))
}

/// Refunds not yet completed.
#[utoipa::path(get, path = "/admin/refunds", tag = "admin",
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [RefundView]), (status = 403, body = Problem)))]
async fn list_refunds(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> AppResult<Json<Vec<RefundView>>> {
    user.require_admin()?;
    Ok(Json(desk::open_refund_views(&state.db).await?))
}

/// Send a card refund that Stripe refused once more, under a new idempotency key.
#[utoipa::path(post, path = "/admin/refunds/{id}/retry", tag = "admin",
    params(("id" = i64, Path, description = "Refund id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = RefundView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn retry_refund(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<RefundView>> {
    user.require_admin()?;
    let view = desk::retry_card_refund(&state.db, id).await?;
    super::refund_sender::send_refunds_soon(&state);
    Ok(Json(view))
}

#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
pub struct RefundCompletion {
    /// The bank reference of the transfer back to the shopper.
    pub bank_reference: String,
}

/// Record a refund sent back by bank transfer.
#[utoipa::path(post, path = "/admin/refunds/{id}/complete", tag = "admin",
    params(("id" = i64, Path, description = "Refund id")),
    request_body = RefundCompletion,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = RefundView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn complete_refund(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RefundCompletion>,
) -> AppResult<Json<RefundView>> {
    user.require_admin()?;
    Ok(Json(
        desk::complete_bank_refund(&state.db, id, &body.bank_reference).await?,
    ))
}

/// Record a payout to a cooperative (never more than it is owed).
#[utoipa::path(post, path = "/admin/payouts", tag = "admin",
    request_body = PayoutRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = PayoutView), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn record_payout(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiJson(body): ApiJson<PayoutRequest>,
) -> AppResult<Json<PayoutView>> {
    user.require_admin()?;
    Ok(Json(
        desk::record_payout(&state.db, &user, body, state.config.commerce.return_window).await?,
    ))
}

/// Ledger balances per account, and whether every transaction balances.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerBalances {
    pub accounts: Vec<AccountBalance>,
    /// Ids of transactions whose entries do not sum to zero; always empty.
    pub unbalanced_transactions: Vec<i64>,
}

/// Every ledger account's balance (debits positive; what is owed is negative).
#[utoipa::path(get, path = "/admin/ledger/balances", tag = "admin",
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = LedgerBalances), (status = 403, body = Problem)))]
async fn ledger_balances(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> AppResult<Json<LedgerBalances>> {
    user.require_admin()?;
    Ok(Json(LedgerBalances {
        accounts: reports::balances(&state.db).await?,
        unbalanced_transactions: reports::unbalanced_transactions(&state.db).await?,
    }))
}

/// Provider payments checked against orders and the ledger.
#[utoipa::path(get, path = "/admin/reconciliation", tag = "admin",
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [ReconciliationLine]), (status = 403, body = Problem)))]
async fn reconciliation(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> AppResult<Json<Vec<ReconciliationLine>>> {
    user.require_admin()?;
    Ok(Json(reports::reconciliation(&state.db).await?))
}
