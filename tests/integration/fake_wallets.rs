//! Local stand-ins for VNPay (API 2.1.0) and MoMo (AIO v2), written from their documentation
//! independently of the app's adapters: each checks the app's signatures the way the gateway
//! does (and refuses a bad one), sends signed notifications to the app as the gateway's server
//! would, answers refunds (VNPay's answer signed), and can be told to answer too late.
//!
//! - VNPay: `GET /paymentv2/vpcpay.html?vnp_…&vnp_SecureHash=…` is the shopper's visit to the
//!   payment page: the stand-in checks the HMAC-SHA512 over the sorted, PHP-`urlencode`d
//!   query, then "pays" and calls the IPN URL configured for the merchant (as in VNPay's
//!   merchant portal), answering with what the IPN said. `POST /merchant_webapi/api/transaction`
//!   takes refunds (`|`-joined HMAC-SHA512).
//! - MoMo: `POST /v2/gateway/api/create` (HMAC-SHA256 over the documented raw text) answers a
//!   `payUrl` on the stand-in; a GET of it "pays" and POSTs the signed IPN to the `ipnUrl` of
//!   the request. `POST /v2/gateway/api/refund` takes refunds.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

pub const VNPAY_TMN: &str = "OCOPTEST";
pub const VNPAY_SECRET: &str = "VNPAYHASHSECRETFORTESTS0123456789";
pub const MOMO_PARTNER: &str = "MOMOOCOP2026";
pub const MOMO_ACCESS: &str = "momo-access-key-test";
pub const MOMO_SECRET: &str = "momo-secret-key-for-tests";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha512(key: &str, data: &str) -> String {
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    hex(&mac.finalize().into_bytes())
}

pub fn sha256(key: &str, data: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// PHP's `urlencode`: letters, digits and `-_.` kept, space as `+`, the rest `%XX`.
pub fn php_urlencode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(byte as char),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn php_urldecode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

pub fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (php_urldecode(k), php_urldecode(v))
        })
        .collect()
}

/// The query VNPay signs and sends: sorted, urlencoded, with `vnp_SecureHash`.
pub fn vnpay_signed_query(params: &BTreeMap<String, String>, secret: &str) -> String {
    let query = params
        .iter()
        .map(|(k, v)| format!("{}={}", php_urlencode(k), php_urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{query}&vnp_SecureHash={}", sha512(secret, &query))
}

/// Whether `params` (with `vnp_SecureHash`) carry a valid VNPay signature.
fn vnpay_verify(params: &BTreeMap<String, String>) -> bool {
    let mut rest = params.clone();
    let Some(given) = rest.remove("vnp_SecureHash") else {
        return false;
    };
    rest.remove("vnp_SecureHashType");
    let query = rest
        .iter()
        .map(|(k, v)| format!("{}={}", php_urlencode(k), php_urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    sha512(VNPAY_SECRET, &query) == given.to_lowercase()
}

fn pipe(object: &Value, fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| match &object[*f] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

#[derive(Default)]
struct VnpayInner {
    ipn_url: Mutex<Option<String>>,
    delay: Mutex<Option<Duration>>,
    transaction_no: AtomicI64,
    pay_requests: Mutex<Vec<BTreeMap<String, String>>>,
    refunds: Mutex<Vec<Value>>,
    refused: Mutex<Vec<String>>,
}

pub struct FakeVnpay {
    pub base: String,
    inner: Arc<VnpayInner>,
}

impl FakeVnpay {
    pub async fn start() -> Self {
        let inner = Arc::new(VnpayInner {
            transaction_no: AtomicI64::new(14_226_112),
            ..Default::default()
        });
        let app = Router::new()
            .route("/paymentv2/vpcpay.html", get(vnpay_pay))
            .route("/merchant_webapi/api/transaction", post(vnpay_refund))
            .with_state(inner.clone());
        let base = serve(app).await;
        Self { base, inner }
    }

    pub fn pay_url(&self) -> String {
        format!("{}/paymentv2/vpcpay.html", self.base)
    }

    pub fn api_url(&self) -> String {
        format!("{}/merchant_webapi/api/transaction", self.base)
    }

    /// The merchant's IPN URL, as configured in VNPay's merchant portal.
    pub fn set_ipn_url(&self, url: String) {
        *self.inner.ipn_url.lock().unwrap() = Some(url);
    }

    pub fn delay(&self, delay: Option<Duration>) {
        *self.inner.delay.lock().unwrap() = delay;
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.inner.refunds.lock().unwrap().clone()
    }

    pub fn refused(&self) -> Vec<String> {
        self.inner.refused.lock().unwrap().clone()
    }

    /// The signed IPN query VNPay sends for the payment URL's request, with `changes`.
    pub fn ipn_query(
        &self,
        request: &BTreeMap<String, String>,
        changes: &[(&str, &str)],
    ) -> String {
        ipn_params(&self.inner, request, changes)
    }
}

fn ipn_params(
    inner: &VnpayInner,
    request: &BTreeMap<String, String>,
    changes: &[(&str, &str)],
) -> String {
    let no = inner
        .transaction_no
        .fetch_add(1, Ordering::SeqCst)
        .to_string();
    let mut ipn: BTreeMap<String, String> = [
        ("vnp_Amount", request["vnp_Amount"].clone()),
        ("vnp_BankCode", "NCB".to_owned()),
        ("vnp_BankTranNo", format!("VNP{no}")),
        ("vnp_CardType", "ATM".to_owned()),
        ("vnp_OrderInfo", request["vnp_OrderInfo"].clone()),
        ("vnp_PayDate", request["vnp_CreateDate"].clone()),
        ("vnp_ResponseCode", "00".to_owned()),
        ("vnp_TmnCode", request["vnp_TmnCode"].clone()),
        ("vnp_TransactionNo", no),
        ("vnp_TransactionStatus", "00".to_owned()),
        ("vnp_TxnRef", request["vnp_TxnRef"].clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in changes {
        ipn.insert((*k).to_owned(), (*v).to_owned());
    }
    vnpay_signed_query(&ipn, VNPAY_SECRET)
}

/// Checks a payment URL the app made as VNPay does (signature, terminal, version, amount).
pub fn vnpay_check_request(url: &str) -> Result<BTreeMap<String, String>, String> {
    let query = url.split_once('?').ok_or("no query")?.1;
    let params = parse_query(query);
    if !vnpay_verify(&params) {
        return Err("Sai chữ ký (invalid signature)".into());
    }
    if params.get("vnp_TmnCode").map(String::as_str) != Some(VNPAY_TMN)
        || params.get("vnp_Version").map(String::as_str) != Some("2.1.0")
        || params.get("vnp_Command").map(String::as_str) != Some("pay")
        || params.get("vnp_CurrCode").map(String::as_str) != Some("VND")
    {
        return Err("bad request parameters".into());
    }
    let amount = &params["vnp_Amount"];
    if !amount.ends_with("00") || params["vnp_CreateDate"].len() != 14 {
        return Err("bad amount or date".into());
    }
    Ok(params)
}

async fn vnpay_pay(State(inner): State<Arc<VnpayInner>>, RawQuery(query): RawQuery) -> Json<Value> {
    let url = format!("x?{}", query.unwrap_or_default());
    let params = match vnpay_check_request(&url) {
        Ok(params) => params,
        Err(err) => return Json(json!({"error": err})),
    };
    inner.pay_requests.lock().unwrap().push(params.clone());
    let ipn = ipn_params(&inner, &params, &[]);
    let ipn_url = inner.ipn_url.lock().unwrap().clone().unwrap();
    let answer: Value = reqwest::get(format!("{ipn_url}?{ipn}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let return_url = format!("{}&{}", params["vnp_ReturnUrl"], ipn);
    Json(json!({"ipn_answer": answer, "return_url": return_url}))
}

const REFUND_FIELDS: [&str; 13] = [
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransactionType",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_TransactionNo",
    "vnp_TransactionDate",
    "vnp_CreateBy",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
];

const REFUND_ANSWER_FIELDS: [&str; 13] = [
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
];

async fn vnpay_refund(
    State(inner): State<Arc<VnpayInner>>,
    Json(request): Json<Value>,
) -> Result<Json<Value>, axum::http::StatusCode> {
    let delay = *inner.delay.lock().unwrap();
    if let Some(delay) = delay {
        // Times out before doing anything (its gateway in front gives up).
        tokio::time::sleep(delay).await;
        return Err(axum::http::StatusCode::GATEWAY_TIMEOUT);
    }
    let valid = request["vnp_SecureHash"].as_str()
        == Some(sha512(VNPAY_SECRET, &pipe(&request, &REFUND_FIELDS)).as_str())
        && request["vnp_Command"] == "refund"
        && request["vnp_TmnCode"] == VNPAY_TMN
        && ["02", "03"].contains(&request["vnp_TransactionType"].as_str().unwrap_or_default());
    let mut answer = json!({
        "vnp_ResponseId": format!("R{}", inner.transaction_no.fetch_add(1, Ordering::SeqCst)),
        "vnp_Command": "refund",
        "vnp_TmnCode": VNPAY_TMN,
        "vnp_TxnRef": request["vnp_TxnRef"],
        "vnp_Amount": request["vnp_Amount"],
        "vnp_BankCode": "NCB",
        "vnp_PayDate": request["vnp_CreateDate"],
        "vnp_TransactionNo": inner.transaction_no.fetch_add(1, Ordering::SeqCst).to_string(),
        "vnp_TransactionType": request["vnp_TransactionType"],
        "vnp_TransactionStatus": "05",
        "vnp_OrderInfo": request["vnp_OrderInfo"],
    });
    if valid {
        inner.refunds.lock().unwrap().push(request.clone());
        answer["vnp_ResponseCode"] = json!("00");
        answer["vnp_Message"] = json!("Refund success");
    } else {
        inner.refused.lock().unwrap().push(request.to_string());
        answer["vnp_ResponseCode"] = json!("97");
        answer["vnp_Message"] = json!("Invalid Checksum");
    }
    answer["vnp_SecureHash"] = json!(sha512(VNPAY_SECRET, &pipe(&answer, &REFUND_ANSWER_FIELDS)));
    Ok(Json(answer))
}

#[derive(Default)]
struct MomoInner {
    base: Mutex<String>,
    delay: Mutex<Option<Duration>>,
    trans_id: AtomicI64,
    orders: Mutex<HashMap<String, Value>>,
    refunds: Mutex<Vec<Value>>,
    refused: Mutex<Vec<String>>,
}

pub struct FakeMomo {
    pub base: String,
    inner: Arc<MomoInner>,
}

const MOMO_CREATE_FIELDS: [&str; 10] = [
    "accessKey",
    "amount",
    "extraData",
    "ipnUrl",
    "orderId",
    "orderInfo",
    "partnerCode",
    "redirectUrl",
    "requestId",
    "requestType",
];

pub const MOMO_IPN_FIELDS: [&str; 13] = [
    "accessKey",
    "amount",
    "extraData",
    "message",
    "orderId",
    "orderInfo",
    "orderType",
    "partnerCode",
    "payType",
    "requestId",
    "responseTime",
    "resultCode",
    "transId",
];

const MOMO_REFUND_FIELDS: [&str; 7] = [
    "accessKey",
    "amount",
    "description",
    "orderId",
    "partnerCode",
    "requestId",
    "transId",
];

/// MoMo's raw signature text: `name=value` joined by `&`, the access key included.
pub fn momo_raw(object: &Value, fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| {
            let value = match (*f, &object[*f]) {
                ("accessKey", _) => MOMO_ACCESS.to_owned(),
                (_, Value::String(s)) => s.clone(),
                (_, Value::Null) => String::new(),
                (_, other) => other.to_string(),
            };
            format!("{f}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl FakeMomo {
    pub async fn start() -> Self {
        let inner = Arc::new(MomoInner {
            trans_id: AtomicI64::new(4_088_878_653),
            ..Default::default()
        });
        let app = Router::new()
            .route("/v2/gateway/api/create", post(momo_create))
            .route("/v2/gateway/api/refund", post(momo_refund))
            .route("/pay/{order_id}", get(momo_pay))
            .with_state(inner.clone());
        let base = serve(app).await;
        *inner.base.lock().unwrap() = base.clone();
        Self { base, inner }
    }

    pub fn delay(&self, delay: Option<Duration>) {
        *self.inner.delay.lock().unwrap() = delay;
    }

    pub fn order(&self, order_id: &str) -> Option<Value> {
        self.inner.orders.lock().unwrap().get(order_id).cloned()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.inner.refunds.lock().unwrap().clone()
    }

    pub fn refused(&self) -> Vec<String> {
        self.inner.refused.lock().unwrap().clone()
    }

    /// The signed IPN MoMo sends for the order `order_id`, with `changes`.
    pub fn ipn(&self, order_id: &str, changes: Value) -> Value {
        momo_ipn_for(&self.inner, &self.order(order_id).unwrap(), changes)
    }
}

fn momo_ipn_for(inner: &MomoInner, order: &Value, changes: Value) -> Value {
    let mut ipn = json!({
        "partnerCode": MOMO_PARTNER,
        "orderId": order["orderId"],
        "requestId": order["requestId"],
        "amount": order["amount"],
        "orderInfo": order["orderInfo"],
        "orderType": "momo_wallet",
        "transId": inner.trans_id.fetch_add(1, Ordering::SeqCst),
        "resultCode": 0,
        "message": "Thành công.",
        "payType": "qr",
        "responseTime": 1_764_971_234_567_i64,
        "extraData": order["extraData"],
    });
    if let Value::Object(changes) = changes {
        for (k, v) in changes {
            ipn[k] = v;
        }
    }
    ipn["signature"] = json!(sha256(MOMO_SECRET, &momo_raw(&ipn, &MOMO_IPN_FIELDS)));
    ipn
}

async fn momo_create(
    State(inner): State<Arc<MomoInner>>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let delay = *inner.delay.lock().unwrap();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let order_id = request["orderId"].as_str().unwrap_or_default().to_owned();
    let valid = request["signature"].as_str()
        == Some(sha256(MOMO_SECRET, &momo_raw(&request, &MOMO_CREATE_FIELDS)).as_str())
        && request["partnerCode"] == MOMO_PARTNER
        && request["requestType"] == "captureWallet"
        && request["amount"]
            .as_i64()
            .is_some_and(|a| (1_000..=50_000_000).contains(&a));
    if !valid {
        inner.refused.lock().unwrap().push(request.to_string());
        return Json(
            json!({"orderId": order_id, "resultCode": 13, "message": "Xác thực doanh nghiệp thất bại."}),
        );
    }
    let mut orders = inner.orders.lock().unwrap();
    if orders.contains_key(&order_id) {
        return Json(json!({"orderId": order_id, "resultCode": 41, "message": "Trùng orderId."}));
    }
    orders.insert(order_id.clone(), request.clone());
    let base = inner.base.lock().unwrap().clone();
    Json(json!({
        "partnerCode": MOMO_PARTNER,
        "requestId": request["requestId"],
        "orderId": order_id,
        "amount": request["amount"],
        "responseTime": 1_764_971_000_000_i64,
        "message": "Thành công.",
        "resultCode": 0,
        "payUrl": format!("{base}/pay/{order_id}"),
        "deeplink": format!("momo://app?action=payWithApp&orderId={order_id}"),
        "qrCodeUrl": format!("2|99|0900000000|||0|0|{}", request["amount"]),
    }))
}

async fn momo_pay(
    State(inner): State<Arc<MomoInner>>,
    Path(order_id): Path<String>,
) -> Json<Value> {
    let order = inner
        .orders
        .lock()
        .unwrap()
        .get(&order_id)
        .cloned()
        .unwrap();
    let ipn = momo_ipn_for(&inner, &order, json!({}));
    let status = reqwest::Client::new()
        .post(order["ipnUrl"].as_str().unwrap())
        .json(&ipn)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    Json(json!({"ipn_status": status, "redirect": order["redirectUrl"], "transId": ipn["transId"]}))
}

async fn momo_refund(
    State(inner): State<Arc<MomoInner>>,
    Json(request): Json<Value>,
) -> Result<Json<Value>, axum::http::StatusCode> {
    let delay = *inner.delay.lock().unwrap();
    if let Some(delay) = delay {
        // Times out before doing anything (its gateway in front gives up).
        tokio::time::sleep(delay).await;
        return Err(axum::http::StatusCode::GATEWAY_TIMEOUT);
    }
    let valid = request["signature"].as_str()
        == Some(sha256(MOMO_SECRET, &momo_raw(&request, &MOMO_REFUND_FIELDS)).as_str())
        && request["partnerCode"] == MOMO_PARTNER
        && request["transId"].is_i64();
    let order_id = &request["orderId"];
    if !valid {
        inner.refused.lock().unwrap().push(request.to_string());
        return Ok(Json(
            json!({"orderId": order_id, "resultCode": 13, "message": "Xác thực doanh nghiệp thất bại."}),
        ));
    }
    let mut refunds = inner.refunds.lock().unwrap();
    if refunds.iter().any(|r| &r["orderId"] == order_id) {
        return Ok(Json(
            json!({"orderId": order_id, "resultCode": 41, "message": "Trùng orderId."}),
        ));
    }
    refunds.push(request.clone());
    Ok(Json(json!({
        "partnerCode": MOMO_PARTNER,
        "orderId": order_id,
        "requestId": request["requestId"],
        "amount": request["amount"],
        "transId": inner.trans_id.fetch_add(1, Ordering::SeqCst),
        "resultCode": 0,
        "message": "Thành công.",
        "responseTime": 1_764_972_000_000_i64,
    })))
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}
