#![allow(clippy::unwrap_used)]
//! Checkout and bank-notification throughput over real HTTP against the real app, on SQLite
//! (default) or PostgreSQL (`TEST_DATABASE_URL`), with 100 concurrent shoppers.
//!
//! cargo test --release --test checkout_bench -- --ignored --nocapture
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test --release --test checkout_bench -- --ignored --nocapture
//!
//! `SHOPPERS` (100) and `SECONDS` (10) adjust the run.

#[path = "integration/support.rs"]
#[allow(dead_code)]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ocop_market::config::{BankWebhookConfig, Secret};
use ocop_market::payments::bank;
use serde_json::json;
use support::{TestApp, published_product, verified_cooperative};
use tokio::sync::Mutex;

const SECRET: &str = "bench-secret";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; run with --ignored --nocapture"]
async fn checkout_and_webhook_throughput() {
    let shoppers = env_or("SHOPPERS", 100) as usize;
    let seconds = env_or("SECONDS", 10);
    let app = TestApp::spawn_with(|c| {
        c.commerce.bank_webhook = Some(BankWebhookConfig::generic(Secret::new(SECRET)));
    })
    .await;
    let admin = app.admin().await;
    let mut product_ids = Vec::new();
    for i in 0..4 {
        let owner = app.user(&format!("owner{i}@bench.vn")).await;
        let coop =
            verified_cooperative(&admin, &owner, &format!("BENCH{i:06}"), &format!("HTX {i}"))
                .await;
        let (id, _) = published_product(&owner, coop, &format!("Sản phẩm {i}")).await;
        support::set_stock(app.db(), id, 10_000_000).await;
        product_ids.push(id);
    }
    let backend = if std::env::var("TEST_DATABASE_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };

    let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let payments = Arc::new(Mutex::new(Vec::<(String, i64)>::new()));
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..shoppers {
        let client = app.client();
        let base = app.base.clone();
        let ids = product_ids.clone();
        let (latencies, payments, failures) =
            (latencies.clone(), payments.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < deadline {
                // Two cooperatives per cart, as the shopper does.
                for k in 0..2 {
                    let product = ids[(s + n + k) % ids.len()];
                    client.post(format!("{base}/api/v1/cart/items")).json(&json!({"product_id": product, "quantity": 1})).send().await.unwrap();
                }
                let t = Instant::now();
                let response = client
                    .post(format!("{base}/api/v1/checkout"))
                    .json(&json!({"recipient_name": "Người mua", "recipient_phone": "0912345678", "province_code": "15", "commune_code": "02923", "street": "Thôn 1"}))
                    .send()
                    .await
                    .unwrap();
                let elapsed = t.elapsed();
                if response.status() == 201 {
                    let body: serde_json::Value = response.json().await.unwrap();
                    latencies.lock().await.push(elapsed);
                    payments.lock().await.push((body["payment"]["reference"].as_str().unwrap().to_owned(), body["payment"]["amount_vnd"].as_i64().unwrap()));
                } else {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                n += 1;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let wall = started.elapsed();
    let mut lat = latencies.lock().await.clone();
    lat.sort();
    println!(
        "{backend}: {} shoppers, {} checkouts in {:.1} s = {:.0} checkouts/s; p50 {:.1} ms, p99 {:.1} ms; {} refused",
        shoppers,
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        failures.load(std::sync::atomic::Ordering::Relaxed),
    );

    // Bank notifications: one per payment, 50 at a time.
    let payments = payments.lock().await.clone();
    let queue = Arc::new(Mutex::new(
        payments.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let count = queue.lock().await.len();
    let webhook_latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (queue, webhook_latencies) = (queue.clone(), webhook_latencies.clone());
        let client = app.client();
        let url = app.url("/api/v1/webhooks/bank");
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((i, (reference, amount))) = queue.lock().await.pop() else { break };
                let body = json!({"transaction_id": format!("FT{i}"), "amount": amount, "description": reference}).to_string();
                let now = chrono::Utc::now().timestamp();
                let t = Instant::now();
                let response = client
                    .post(&url)
                    .header("X-Timestamp", now.to_string())
                    .header("X-Signature", bank::sign(SECRET, now, body.as_bytes()))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                webhook_latencies.lock().await.push(t.elapsed());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let wall = started.elapsed();
    let mut lat = webhook_latencies.lock().await.clone();
    lat.sort();
    println!(
        "{backend}: {} bank notifications in {:.1} s = {:.0}/s; p50 {:.1} ms, p99 {:.1} ms",
        count,
        wall.as_secs_f64(),
        count as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
    );
    let (_, books) = admin.get("/api/v1/admin/ledger/balances").await;
    assert_eq!(books["unbalanced_transactions"], json!([]));
}
