//! A local stand-in for Stripe's API: an axum app on 127.0.0.1:0 that answers
//! `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/{id}` and `POST /v1/refunds` with
//! the documented object shapes, honours `Idempotency-Key` (same key, same answer) and can be
//! told to fail as Stripe does (an `api_error` 500, a `card_error` 402, a `rate_limit_error`
//! 429, an `idempotency_error` 409, or no answer in time). As Stripe does, a request whose
//! idempotency key is still in flight gets a 409 `idempotency_error`, and 409 and 429 answers
//! are not kept under the key (the request never ran). It counts the refunds it created per
//! idempotency key, so a test can prove one refund only.
//! It also signs webhook events exactly as Stripe signs them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// How the stand-in fails every request until told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `500 {"error": {"type": "api_error", …}}`.
    ApiError,
    /// `402 {"error": {"type": "card_error", …}}`.
    CardError,
    /// Answers only after this long (longer than the app's client timeout).
    Delay(Duration),
    /// `429 {"error": {"type": "rate_limit_error", …}}` (too many requests; not kept).
    RateLimited,
    /// `409 {"error": {"type": "idempotency_error", …}}` (not kept).
    Conflict,
    /// `400 {"error": {"type": "invalid_request_error", "code": "charge_disputed", …}}`: the
    /// endpoint ran and decided, so, as Stripe does, the answer is kept under the request's
    /// idempotency key and a retry with the same key gets it again.
    Refuse,
}

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub form: HashMap<String, String>,
}

#[derive(Default)]
struct Inner {
    sessions: Mutex<HashMap<String, Value>>,
    idempotent: Mutex<HashMap<String, (StatusCode, Value)>>,
    calls: Mutex<Vec<Call>>,
    failure: Mutex<Option<Failure>>,
    counter: AtomicU64,
    in_flight: Mutex<std::collections::HashSet<String>>,
    /// Refunds created, with the idempotency key they were created under.
    refunds_created: Mutex<Vec<(Option<String>, Value)>>,
}

/// Takes a key out of the in-flight set however the request ends.
struct InFlight<'a> {
    inner: &'a Inner,
    key: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.inner.in_flight.lock().unwrap().remove(&self.key);
    }
}

pub struct FakeStripe {
    /// The API base, ending with `/`.
    pub base: String,
    inner: Arc<Inner>,
}

impl FakeStripe {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(retrieve_session))
            .route("/v1/refunds", post(create_refund))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: format!("http://{addr}/"),
            inner,
        }
    }

    /// Fails every request from now on (`None`: answer normally again).
    pub fn fail(&self, failure: Option<Failure>) {
        *self.inner.failure.lock().unwrap() = failure;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    pub fn calls_to(&self, method: &str, path_prefix: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path.starts_with(path_prefix))
            .collect()
    }

    /// The refunds created (each once, whatever the retries), in order.
    pub fn refunds_created(&self) -> Vec<Value> {
        let created = self.inner.refunds_created.lock().unwrap();
        created.iter().map(|(_, refund)| refund.clone()).collect()
    }

    /// How many refunds were created under `key`.
    pub fn refunds_created_with_key(&self, key: &str) -> usize {
        let created = self.inner.refunds_created.lock().unwrap();
        created
            .iter()
            .filter(|(k, _)| k.as_deref() == Some(key))
            .count()
    }

    pub fn session(&self, id: &str) -> Value {
        self.inner.sessions.lock().unwrap()[id].clone()
    }

    /// The shopper pays the session on Stripe's page: it becomes complete and paid, with a
    /// payment intent; `amount_total` is what Stripe collected (the session's own amount
    /// unless given). Returns the session.
    pub fn pay(&self, id: &str, amount_total: Option<i64>) -> Value {
        let n = self.inner.counter.fetch_add(1, Ordering::SeqCst);
        let mut sessions = self.inner.sessions.lock().unwrap();
        let session = sessions.get_mut(id).expect("a session the app created");
        session["status"] = json!("complete");
        session["payment_status"] = json!("paid");
        session["payment_intent"] = json!(format!("pi_test_{n:06}"));
        if let Some(amount) = amount_total {
            session["amount_total"] = json!(amount);
        }
        session.clone()
    }
}

fn fresh_id(inner: &Inner, prefix: &str) -> String {
    let n = inner.counter.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}_test_{n:06}a1b2c3")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn stripe_error(status: StatusCode, kind: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({"error": {"type": kind, "message": message}}))
}

/// Records the call, applies the configured failure, replays an idempotent answer, or runs
/// `answer` and remembers its result under the key.
async fn handle(
    inner: &Inner,
    method: &'static str,
    path: String,
    headers: &HeaderMap,
    form: HashMap<String, String>,
    answer: impl FnOnce(&HashMap<String, String>) -> (StatusCode, Value),
) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    inner.calls.lock().unwrap().push(Call {
        method,
        path,
        idempotency_key: key.clone(),
        form: form.clone(),
    });
    // Stripe answers 409 to a request whose key another request is still using.
    let _in_flight = match &key {
        Some(key) => {
            if !inner.in_flight.lock().unwrap().insert(key.clone()) {
                let (status, body) = stripe_error(
                    StatusCode::CONFLICT,
                    "idempotency_error",
                    "There is currently another in-progress request using this Stripe API \
                     key and idempotency key. Please try again later.",
                );
                return (status, Json(body)).into_response();
            }
            Some(InFlight {
                inner,
                key: key.clone(),
            })
        }
        None => None,
    };
    let failure = *inner.failure.lock().unwrap();
    match failure {
        Some(Failure::RateLimited) => {
            let (status, body) = stripe_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "Too many requests hit the API too quickly.",
            );
            return (status, Json(body)).into_response();
        }
        Some(Failure::Conflict) => {
            let (status, body) = stripe_error(
                StatusCode::CONFLICT,
                "idempotency_error",
                "There is currently another in-progress request using this idempotency key.",
            );
            return (status, Json(body)).into_response();
        }
        Some(Failure::ApiError) => {
            let (status, body) = stripe_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "An unknown error occurred",
            );
            return (status, Json(body)).into_response();
        }
        Some(Failure::CardError) => {
            let (status, body) = stripe_error(
                StatusCode::PAYMENT_REQUIRED,
                "card_error",
                "Your card was declined.",
            );
            return (status, Json(body)).into_response();
        }
        Some(Failure::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Failure::Refuse) | None => {}
    }
    if headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| !v.starts_with("Bearer sk_test_"))
    {
        let (status, body) = stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "Invalid API Key provided",
        );
        return (status, Json(body)).into_response();
    }
    if let Some(key) = &key
        && let Some((status, body)) = inner.idempotent.lock().unwrap().get(key).cloned()
    {
        return (status, Json(body)).into_response();
    }
    let (status, body) = if failure == Some(Failure::Refuse) {
        let (status, mut body) = stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "Charge has been disputed and cannot be refunded.",
        );
        body["error"]["code"] = json!("charge_disputed");
        (status, body)
    } else {
        answer(&form)
    };
    if let Some(key) = key {
        inner
            .idempotent
            .lock()
            .unwrap()
            .insert(key, (status, body.clone()));
    }
    (status, Json(body)).into_response()
}

async fn create_session(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let inner2 = inner.clone();
    handle(
        &inner,
        "POST",
        "/v1/checkout/sessions".into(),
        &headers,
        form,
        move |form| {
            let invalid = |message: &str| {
                stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
            };
            if form.get("mode").map(String::as_str) != Some("payment") {
                return invalid("mode must be payment");
            }
            let mut amount_total = 0i64;
            for i in 0.. {
                let Some(unit) = form.get(&format!("line_items[{i}][price_data][unit_amount]"))
                else {
                    break;
                };
                if form
                    .get(&format!("line_items[{i}][price_data][currency]"))
                    .map(String::as_str)
                    != Some("vnd")
                {
                    return invalid("line items must be in vnd");
                }
                let Ok(unit) = unit.parse::<i64>() else {
                    return invalid("unit_amount must be an integer (VND is zero-decimal)");
                };
                let quantity: i64 = form
                    .get(&format!("line_items[{i}][quantity]"))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1);
                amount_total += unit * quantity;
            }
            if amount_total <= 0 {
                return invalid("line_items are required");
            }
            let expires_at: i64 = form
                .get("expires_at")
                .and_then(|v| v.parse().ok())
                .unwrap_or(now() + 24 * 3600);
            if expires_at < now() + 30 * 60 || expires_at > now() + 24 * 3600 {
                return invalid("expires_at must be between 30 minutes and 24 hours from now");
            }
            let id = fresh_id(&inner2, "cs");
            let metadata: HashMap<String, String> = form
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("metadata[")
                        .and_then(|k| k.strip_suffix(']'))
                        .map(|k| (k.to_owned(), v.clone()))
                })
                .collect();
            let session = json!({
                "id": id,
                "object": "checkout.session",
                "amount_subtotal": amount_total,
                "amount_total": amount_total,
                "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
                "cancel_url": form.get("cancel_url"),
                "client_reference_id": form.get("client_reference_id"),
                "created": now(),
                "currency": form.get("currency").cloned().unwrap_or_else(|| "vnd".into()),
                "custom_fields": [],
                "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
                "customer": null,
                "customer_email": null,
                "expires_at": expires_at,
                "livemode": false,
                "locale": form.get("locale"),
                "metadata": metadata,
                "mode": "payment",
                "payment_intent": null,
                "payment_method_types": ["card"],
                "payment_status": "unpaid",
                "shipping_options": [],
                "status": "open",
                "success_url": form.get("success_url"),
                "url": format!("https://checkout.stripe.com/c/pay/{id}"),
            });
            inner2
                .sessions
                .lock()
                .unwrap()
                .insert(id, session.clone());
            (StatusCode::OK, session)
        },
    )
    .await
}

async fn retrieve_session(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let inner2 = inner.clone();
    handle(
        &inner,
        "GET",
        format!("/v1/checkout/sessions/{id}"),
        &headers,
        HashMap::new(),
        move |_| match inner2.sessions.lock().unwrap().get(&id) {
            Some(session) => (StatusCode::OK, session.clone()),
            None => stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "No such checkout.session",
            ),
        },
    )
    .await
}

async fn create_refund(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let inner2 = inner.clone();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    handle(
        &inner,
        "POST",
        "/v1/refunds".into(),
        &headers,
        form,
        move |form| {
            let Some(intent) = form.get("payment_intent").filter(|p| p.starts_with("pi_")) else {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "payment_intent is required",
                );
            };
            let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
            let metadata: HashMap<String, String> = form
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("metadata[")
                        .and_then(|k| k.strip_suffix(']'))
                        .map(|k| (k.to_owned(), v.clone()))
                })
                .collect();
            let refund = json!({
                "id": fresh_id(&inner2, "re"),
                "object": "refund",
                "amount": amount,
                "charge": format!("ch_for_{intent}"),
                "created": now(),
                "currency": "vnd",
                "metadata": metadata,
                "payment_intent": intent,
                "reason": null,
                "status": "succeeded",
            });
            inner2
                .refunds_created
                .lock()
                .unwrap()
                .push((key, refund.clone()));
            (StatusCode::OK, refund)
        },
    )
    .await
}

/// A Stripe event of `kind` about `object`.
pub fn event(id: &str, kind: &str, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": now(),
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
        "data": {"object": object},
    })
}

/// The `Stripe-Signature` header Stripe sends for `body` at `timestamp`, with one `v1` per
/// secret.
pub fn signature_header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&ocop_market::payments::stripe::signature::sign(
            secret, timestamp, body,
        ));
    }
    header
}
