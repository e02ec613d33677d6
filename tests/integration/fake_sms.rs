//! Local stand-ins for eSMS.vn's `SendMultipleMessage_V4_post_json` and Zalo's ZNS
//! `POST /message/template`, answering as their documentation says, errors included:
//! - eSMS: `CodeResult` 100 (accepted), 101 (wrong ApiKey/SecretKey), 103 (not enough
//!   balance), 104 (brandname not registered), 108 (phone number format), 124 (duplicate
//!   `RequestId`), and an HTTP 500 when told to fail;
//! - Zalo: `error` 0, -108 (phone number invalid), -118 (no Zalo account), -124 (access token
//!   invalid), -131 (template not approved), -144 (daily quota exceeded), and an HTTP 500.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

pub const ESMS_KEY: &str = "esms-api-key";
pub const ESMS_SECRET: &str = "esms-secret-key";
pub const ESMS_BRAND: &str = "OCOPMARKET";
pub const ZALO_TOKEN: &str = "zalo-oa-access-token";
pub const ZALO_TEMPLATE: &str = "305120";

#[derive(Default)]
struct Inner {
    /// SMS the gateway accepted: (phone, content).
    sms: Mutex<Vec<(String, String)>>,
    request_ids: Mutex<HashSet<String>>,
    /// SMS the account can still pay for.
    balance: AtomicI64,
    /// ZNS messages sent: (phone, template_data).
    zns: Mutex<Vec<(String, Value)>>,
    /// ZNS messages left today.
    zns_quota: AtomicI64,
    /// Phone numbers (84…) without a Zalo account.
    no_zalo: Mutex<HashSet<String>>,
    fail_5xx: AtomicBool,
}

pub struct FakeProviders {
    pub base: String,
    inner: Arc<Inner>,
}

impl FakeProviders {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        inner.balance.store(1000, Ordering::SeqCst);
        inner.zns_quota.store(1000, Ordering::SeqCst);
        let app = Router::new()
            .route(
                "/MainService.svc/json/SendMultipleMessage_V4_post_json/",
                post(esms),
            )
            .route("/message/template", post(zns))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, inner }
    }

    pub fn sms(&self) -> Vec<(String, String)> {
        self.inner.sms.lock().unwrap().clone()
    }

    pub fn zns(&self) -> Vec<(String, Value)> {
        self.inner.zns.lock().unwrap().clone()
    }

    pub fn set_balance(&self, messages: i64) {
        self.inner.balance.store(messages, Ordering::SeqCst);
    }

    pub fn set_zns_quota(&self, messages: i64) {
        self.inner.zns_quota.store(messages, Ordering::SeqCst);
    }

    pub fn without_zalo(&self, phone: &str) {
        self.inner.no_zalo.lock().unwrap().insert(phone.to_owned());
    }

    pub fn fail_with_500(&self, fail: bool) {
        self.inner.fail_5xx.store(fail, Ordering::SeqCst);
    }
}

/// `84` and nine digits, or `0` and nine digits: a Vietnamese mobile number.
fn valid_phone(phone: &str) -> bool {
    let digits = phone.chars().all(|c| c.is_ascii_digit());
    digits
        && ((phone.starts_with("84") && phone.len() == 11)
            || (phone.starts_with('0') && phone.len() == 10))
}

async fn esms(State(inner): State<Arc<Inner>>, Json(body): Json<Value>) -> Response {
    if inner.fail_5xx.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Service Unavailable").into_response();
    }
    let text = |name: &str| body[name].as_str().unwrap_or("").to_owned();
    let answer = |code: &str, message: &str| {
        Json(json!({"CodeResult": code, "CountRegenerate": 0, "ErrorMessage": message}))
            .into_response()
    };
    if text("ApiKey") != ESMS_KEY || text("SecretKey") != ESMS_SECRET {
        return answer("101", "Authorize Failed");
    }
    if text("Brandname") != ESMS_BRAND {
        return answer("104", "Brandname not exist");
    }
    if !valid_phone(&text("Phone")) {
        return answer("108", "Phone invalid");
    }
    let request_id = text("RequestId");
    if !request_id.is_empty() && inner.request_ids.lock().unwrap().contains(&request_id) {
        return answer("124", "Duplicate RequestId");
    }
    if inner.balance.fetch_sub(1, Ordering::SeqCst) <= 0 {
        inner.balance.fetch_add(1, Ordering::SeqCst);
        return answer("103", "Balance not enough");
    }
    inner.request_ids.lock().unwrap().insert(request_id);
    inner
        .sms
        .lock()
        .unwrap()
        .push((text("Phone"), text("Content")));
    Json(json!({"CodeResult": "100", "CountRegenerate": 0, "SMSID": format!("sms-{}", inner.sms.lock().unwrap().len())}))
        .into_response()
}

async fn zns(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if inner.fail_5xx.load(Ordering::SeqCst) {
        return (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response();
    }
    let answer =
        |code: i64, message: &str| Json(json!({"error": code, "message": message})).into_response();
    if headers.get("access_token").and_then(|v| v.to_str().ok()) != Some(ZALO_TOKEN) {
        return answer(-124, "Access token is invalid");
    }
    let phone = body["phone"].as_str().unwrap_or("").to_owned();
    if !valid_phone(&phone) {
        return answer(-108, "Phone number is invalid");
    }
    if body["template_id"].as_str() != Some(ZALO_TEMPLATE) {
        return answer(-131, "Template has not been approved");
    }
    if inner.no_zalo.lock().unwrap().contains(&phone) {
        return answer(-118, "Zalo account does not exist");
    }
    if inner.zns_quota.fetch_sub(1, Ordering::SeqCst) <= 0 {
        inner.zns_quota.fetch_add(1, Ordering::SeqCst);
        return answer(-144, "OA has exceeded the maximum quota per day");
    }
    inner
        .zns
        .lock()
        .unwrap()
        .push((phone, body["template_data"].clone()));
    Json(json!({
        "error": 0,
        "message": "Success",
        "data": {"msg_id": format!("zns-{}", inner.zns.lock().unwrap().len()), "sent_time": "1733390000000",
                 "quota": {"dailyQuota": "1000", "remainingQuota": inner.zns_quota.load(Ordering::SeqCst).to_string()}}
    }))
    .into_response()
}
