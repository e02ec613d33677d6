//! The data the journeys meet: an app that accepts signed bank notifications, cooperatives in
//! two provinces, their products, and a few ways to reach into the app as the outside world
//! (the bank) would.

use ocop_market::config::{BankWebhookConfig, Secret};
use ocop_market::i18n::Lang;
use ocop_market::payments::bank;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::driver::Browser;
use crate::support::{PASSWORD, TestApp, User};

pub const BANK_SECRET: &str = "browser-bank-notification-secret";

/// The app with the bank webhook configured, as the shop runs in production.
pub async fn app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.commerce.bank_webhook = Some(BankWebhookConfig::generic(Secret::new(BANK_SECRET)));
    })
    .await
}

/// A message of the app's catalogue in `lang`, to find buttons by the words a visitor reads.
pub fn t(lang: &str, key: &'static str) -> &'static str {
    Lang::parse(lang).expect("vi or en").messages().get(key)
}

/// A cooperative registered by `owner` in the commune `commune`, pending verification.
pub async fn pending_cooperative(
    owner: &User,
    registration: &str,
    name: &str,
    commune: &str,
) -> i64 {
    let (status, coop) = owner
        .post(
            "/api/v1/cooperatives",
            json!({
                "registration_number": registration,
                "name": name,
                "commune_code": commune,
                "address": "Thôn 1",
                "contact_phone": "0912345678",
                "contact_email": null,
                "description": "Hợp tác xã nông sản.",
                "bank_bin": "970405",
                "bank_account_number": "1234567890",
                "bank_account_holder": "HTX NONG SAN"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{coop}");
    coop["id"].as_i64().unwrap()
}

/// A verified cooperative (verified by `admin` through the API).
pub async fn verified_cooperative(
    admin: &User,
    owner: &User,
    registration: &str,
    name: &str,
    commune: &str,
) -> i64 {
    let id = pending_cooperative(owner, registration, name, commune).await;
    let (status, body) = admin
        .post(
            &format!("/api/v1/admin/cooperatives/{id}/decision"),
            json!({"decision": "verify"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

/// A published product; returns its id.
pub async fn published_product(owner: &User, cooperative: i64, name: &str, price: i64) -> i64 {
    let (status, product) = owner
        .post(
            &format!("/api/v1/cooperatives/{cooperative}/products"),
            json!({
                "name": name,
                "category_code": "food-processed",
                "price_vnd": price,
                "unit": "chai 500 ml",
                "stock_quantity": 40,
                "description": "Mật ong nuôi dưới tán rừng, lọc hai lần."
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let id = product["id"].as_i64().unwrap();
    let (status, body) = owner
        .post(&format!("/api/v1/products/{id}/publish"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

/// Waits until the search index (fed in the background) finds `count` products for `query`.
pub async fn wait_for_search(app: &TestApp, query: &str, count: usize) {
    for _ in 0..100 {
        let body: Value = app
            .client()
            .get(app.url("/api/v1/search"))
            .query(&[("q", query)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if body["hits"].as_array().map_or(0, Vec::len) >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the search index never found {count} products for {query:?}");
}

/// What a bank's notification service sends when a transfer arrives, signed.
pub async fn bank_notification(app: &TestApp, transaction: &str, amount: i64, description: &str) {
    let body = json!({"transaction_id": transaction, "amount": amount, "description": description})
        .to_string();
    let now = chrono::Utc::now().timestamp();
    let response = app
        .client()
        .post(app.url("/api/v1/webhooks/bank"))
        .header("content-type", "application/json")
        .header("X-Timestamp", now.to_string())
        .header("X-Signature", bank::sign(BANK_SECRET, now, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["transfers"][0]["outcome"], "paid", "{answer}");
}

/// Logs in through the login page, as a person would.
pub async fn log_in(b: &mut Browser, identifier: &str) {
    b.goto("/login").await;
    b.fill("identifier", identifier).await;
    b.fill("password", PASSWORD).await;
    b.shot("login").await;
    let submit = b.find("main form button[type=submit]").await;
    b.click(submit).await;
    assert!(
        !b.path().await.starts_with("/login"),
        "the login of {identifier} was refused"
    );
}
