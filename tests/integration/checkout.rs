//! Cart, checkout, bank-notification payments, the order state machine, refunds and the
//! ledger, over real HTTP against the real app.

use ocop_market::config::{BankWebhookConfig, Secret};
use ocop_market::entities::{orders, payments, products};
use ocop_market::payments::bank;
use ocop_market::payments::vietqr;
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};

use crate::support::{
    TestApp, User, into_json, names_field, published_product, verified_cooperative,
};

pub(crate) const BANK_SECRET: &str = "bank-notification-secret";

/// The app with the generic bank webhook and no return window (a delivered order's money is
/// available for a payout at once).
pub(crate) async fn app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.commerce.bank_webhook = Some(BankWebhookConfig::generic(Secret::new(BANK_SECRET)));
        config.commerce.return_window = std::time::Duration::ZERO;
    })
    .await
}

/// Two verified cooperatives with one published product each (40 in stock, 250.000 đ).
pub(crate) struct Shop {
    pub(crate) admin: User,
    pub(crate) owner_a: User,
    pub(crate) owner_b: User,
    pub(crate) coop_a: i64,
    pub(crate) coop_b: i64,
    pub(crate) product_a: i64,
    pub(crate) product_b: i64,
}

pub(crate) async fn shop(app: &TestApp) -> Shop {
    let admin = app.admin().await;
    let owner_a = app.user("a@htx.vn").await;
    let owner_b = app.user("b@htx.vn").await;
    let coop_a = verified_cooperative(&admin, &owner_a, "5100000001", "HTX Mật ong Gia Phú").await;
    let coop_b = verified_cooperative(&admin, &owner_b, "5100000002", "HTX Chè Bảo Thắng").await;
    let (product_a, _) = published_product(&owner_a, coop_a, "Mật ong bạc hà").await;
    let (product_b, _) = published_product(&owner_b, coop_b, "Chè Shan tuyết").await;
    Shop {
        admin,
        owner_a,
        owner_b,
        coop_a,
        coop_b,
        product_a,
        product_b,
    }
}

pub(crate) fn address() -> Value {
    json!({
        "recipient_name": "Nguyễn Thị Lan",
        "recipient_phone": "+84 912 345 678",
        "province_code": "15",
        "commune_code": "02923",
        "street": "Thôn Cóc 1",
    })
}

pub(crate) async fn post(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    into_json(client.post(app.url(path)).json(&body).send().await.unwrap()).await
}

pub(crate) async fn get(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
) -> (StatusCode, Value) {
    into_json(client.get(app.url(path)).send().await.unwrap()).await
}

pub(crate) async fn add(
    client: &reqwest::Client,
    app: &TestApp,
    product: i64,
    quantity: i64,
) -> (StatusCode, Value) {
    post(
        client,
        app,
        "/api/v1/cart/items",
        json!({"product_id": product, "quantity": quantity}),
    )
    .await
}

/// Sends a bank notification signed as the generic format expects.
pub(crate) async fn notify(
    app: &TestApp,
    transaction_id: &str,
    amount: i64,
    description: &str,
) -> (StatusCode, Value) {
    let body =
        json!({"transaction_id": transaction_id, "amount": amount, "description": description})
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
    into_json(response).await
}

pub(crate) async fn stock(app: &TestApp, product: i64) -> i64 {
    products::Entity::find_by_id(product)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .stock_quantity
}

pub(crate) async fn ledger(admin: &User) -> Value {
    let (status, body) = admin.get("/api/v1/admin/ledger/balances").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["unbalanced_transactions"],
        json!([]),
        "every transaction balances"
    );
    body
}

pub(crate) fn balance(ledger: &Value, account: &str) -> i64 {
    ledger["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == account)
        .map_or(0, |a| a["balance_vnd"].as_i64().unwrap())
}

/// Checks out a cart holding `lines` as an anonymous shopper; returns the checkout.
pub(crate) async fn checkout(app: &TestApp, lines: &[(i64, i64)]) -> (reqwest::Client, Value) {
    let shopper = app.client();
    for (product, quantity) in lines {
        let (status, body) = add(&shopper, app, *product, *quantity).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = post(&shopper, app, "/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (shopper, body)
}

#[tokio::test]
async fn a_cart_of_two_cooperatives_checks_out_and_a_bank_notification_pays_it() {
    let app = app().await;
    let shop = shop(&app).await;
    let shopper = app.client();
    add(&shopper, &app, shop.product_a, 2).await;
    let (status, cart) = add(&shopper, &app, shop.product_b, 1).await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    assert_eq!(
        cart["groups"].as_array().unwrap().len(),
        2,
        "one group per cooperative"
    );
    assert_eq!(
        cart["total_vnd"],
        3 * 250_000 + 2 * 30_000,
        "goods plus one delivery fee each"
    );

    let (status, done) = post(&shopper, &app, "/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let amount = done["payment"]["amount_vnd"].as_i64().unwrap();
    assert_eq!(amount, 810_000);
    assert_eq!(done["orders"].as_array().unwrap().len(), 2);
    assert!(
        done["orders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "pending_payment")
    );
    assert_eq!(
        stock(&app, shop.product_a).await,
        38,
        "stock reserved at checkout"
    );
    assert_eq!(stock(&app, shop.product_b).await, 39);
    let (_, cart) = get(&shopper, &app, "/api/v1/cart").await;
    assert_eq!(cart["groups"], json!([]), "the cart is emptied");

    // The VietQR payload names the collecting account, the exact amount and the reference.
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();
    let payload = done["payment"]["bank_transfer"]["vietqr_payload"]
        .as_str()
        .unwrap();
    let parsed = vietqr::parse(payload).expect("a valid VietQR payload");
    assert_eq!(parsed.amount, Some(amount));
    assert_eq!(parsed.purpose.as_deref(), Some(reference.as_str()));

    // The bank adds its own words around the reference.
    let description = format!(
        "NGUYEN THI LAN chuyen tien {} FT25326123",
        reference.to_lowercase()
    );
    let (status, answer) = notify(&app, "FT25326123", amount, &description).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["transfers"][0]["outcome"], "paid");

    let token = done["payment_url"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    let (status, paid) = get(
        &app.client(),
        &app,
        &format!("/api/v1/payments/{reference}?token={token}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["payment"]["status"], "paid");
    assert!(
        paid["orders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "paid")
    );
    let (status, _) = get(
        &app.client(),
        &app,
        &format!("/api/v1/payments/{reference}?token=wrong"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the page token is required");

    // The same notification again changes nothing.
    let (status, answer) = notify(&app, "FT25326123", amount, &description).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["transfers"][0]["outcome"], "duplicate");

    let books = ledger(&shop.admin).await;
    assert_eq!(balance(&books, "cash:bank"), amount);
    // 5 % commission on goods only: 500.000 → 25.000, 250.000 → 12.500.
    assert_eq!(balance(&books, "revenue:commission"), -37_500);
    assert_eq!(
        balance(&books, &format!("cooperative:{}", shop.coop_a)),
        -(530_000 - 25_000)
    );
    assert_eq!(
        balance(&books, &format!("cooperative:{}", shop.coop_b)),
        -(280_000 - 12_500)
    );
    let (_, report) = shop.admin.get("/api/v1/admin/reconciliation").await;
    assert_eq!(report.as_array().unwrap().len(), 1);
    assert_eq!(report[0]["problems"], json!([]), "{report}");

    // Each cooperative sees its own order and statement.
    let (status, list) = shop
        .owner_a
        .get(&format!("/api/v1/cooperatives/{}/orders", shop.coop_a))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["items"][0]["quantity"], 2);
    let (_, statement) = shop
        .owner_b
        .get(&format!("/api/v1/cooperatives/{}/statement", shop.coop_b))
        .await;
    assert_eq!(statement["balance_vnd"], 267_500);
}

#[tokio::test]
async fn notifications_with_a_bad_signature_or_a_stale_timestamp_change_nothing() {
    let app = app().await;
    let shop = shop(&app).await;
    let (_, done) = checkout(&app, &[(shop.product_a, 1)]).await;
    let reference = done["payment"]["reference"].as_str().unwrap();
    let body =
        json!({"transaction_id": "FT1", "amount": 280000, "description": reference}).to_string();
    let now = chrono::Utc::now().timestamp();
    let send = |timestamp: i64, signature: String, body: String| {
        let client = app.client();
        let url = app.url("/api/v1/webhooks/bank");
        async move {
            into_json(
                client
                    .post(url)
                    .header("X-Timestamp", timestamp.to_string())
                    .header("X-Signature", signature)
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let forged = bank::sign("not-the-secret", now, body.as_bytes());
    let (status, problem) = send(now, forged, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_eq!(problem["code"], "invalid_signature");
    let stale = now - 3600;
    let (status, _) = send(
        stale,
        bank::sign(BANK_SECRET, stale, body.as_bytes()),
        body.clone(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an old notification replayed later"
    );
    let signed = bank::sign(BANK_SECRET, now, body.as_bytes());
    let tampered = body.replace("280000", "2800000");
    let (status, _) = send(now, signed, tampered).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an amount changed in flight"
    );
    let (status, problem) = send(now, bank::sign(BANK_SECRET, now, b"{oops"), "{oops".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");

    let payment = payments::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(payment.status, "pending");
    assert_eq!(payment.received_vnd, 0);
    assert_eq!(
        app.count(ocop_market::entities::webhook_events::Entity)
            .await,
        0
    );
    assert_eq!(
        app.count(ocop_market::entities::ledger_entries::Entity)
            .await,
        0
    );
}

#[tokio::test]
async fn short_long_unknown_and_second_transfers_go_to_the_administrator_queue() {
    let app = app().await;
    let shop = shop(&app).await;
    let (_, first) = checkout(&app, &[(shop.product_a, 1)]).await;
    let (_, second) = checkout(&app, &[(shop.product_b, 1)]).await;
    let ref1 = first["payment"]["reference"].as_str().unwrap();
    let ref2 = second["payment"]["reference"].as_str().unwrap();

    let (_, answer) = notify(&app, "T1", 100_000, ref1).await;
    assert_eq!(answer["transfers"][0]["outcome"], "underpaid");
    let (_, answer) = notify(&app, "T2", 300_000, ref2).await;
    assert_eq!(answer["transfers"][0]["outcome"], "overpaid");
    let (_, answer) = notify(&app, "T3", 50_000, "ung ho lu lut").await;
    assert_eq!(answer["transfers"][0]["outcome"], "unmatched");
    let (_, answer) = notify(&app, "T4", 280_000, ref2).await;
    assert_eq!(
        answer["transfers"][0]["outcome"], "duplicate_payment",
        "a second payment for a paid checkout"
    );

    let (status, queue) = shop.admin.get("/api/v1/admin/payment-exceptions").await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["underpaid", "overpaid", "unmatched", "duplicate_payment"]
    );
    let amounts: Vec<i64> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["amount_vnd"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![100_000, 20_000, 50_000, 280_000]);
    let books = ledger(&shop.admin).await;
    assert_eq!(balance(&books, "suspense:unmatched"), -450_000);
    assert_eq!(balance(&books, "cash:bank"), 730_000);

    // The underpaid checkout is still unpaid; the administrator sends the money back.
    let payment1 = payments::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(payment1[0].status, "pending");
    let id = queue[0]["id"].as_i64().unwrap();
    let (status, problem) = shop
        .admin
        .post(
            &format!("/api/v1/admin/payment-exceptions/{id}/resolve"),
            json!({"resolution": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, _) = shop
        .admin
        .post(
            &format!("/api/v1/admin/payment-exceptions/{id}/resolve"),
            json!({"resolution": "Đã chuyển trả người gửi", "returned_with_bank_reference": "FT-BACK-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = shop
        .admin
        .post(
            &format!("/api/v1/admin/payment-exceptions/{id}/resolve"),
            json!({"resolution": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "resolved once");
    let books = ledger(&shop.admin).await;
    assert_eq!(balance(&books, "suspense:unmatched"), -350_000);

    // Shoppers and cooperatives cannot see the queue.
    let (status, _) = shop.owner_a.get("/api/v1/admin/payment-exceptions").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_administrator_confirms_a_transfer_by_hand_and_a_late_notification_does_not_count_it_twice()
 {
    let app = app().await;
    let shop = shop(&app).await;
    let (_, done) = checkout(&app, &[(shop.product_a, 1)]).await;
    let reference = done["payment"]["reference"].as_str().unwrap();
    let (status, problem) = shop
        .admin
        .post(
            "/api/v1/admin/payments/confirm",
            json!({"reference": "nonsense", "bank_transaction_id": "", "amount_vnd": -5}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["reference", "bank_transaction_id", "amount_vnd"] {
        assert!(names_field(&problem, field), "{field}: {problem}");
    }
    let (status, answer) = shop
        .admin
        .post(
            "/api/v1/admin/payments/confirm",
            json!({"reference": reference, "bank_transaction_id": "FT777", "amount_vnd": 280000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["outcome"], "paid");
    let (_, answer) = notify(&app, "FT777", 280_000, reference).await;
    assert_eq!(answer["transfers"][0]["outcome"], "duplicate");
    assert_eq!(balance(&ledger(&shop.admin).await, "cash:bank"), 280_000);
}

#[tokio::test]
async fn two_hundred_buyers_racing_for_ten_units_never_oversell() {
    let app = app().await;
    let shop = shop(&app).await;
    crate::support::set_stock(app.db(), shop.product_a, 10).await;
    let mut buyers = Vec::new();
    for _ in 0..200 {
        let client = app.client();
        let (status, body) = add(&client, &app, shop.product_a, 1).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        buyers.push(client);
    }
    let attempts = buyers.iter().map(|client| {
        let request = client.post(app.url("/api/v1/checkout")).json(&address());
        async move { into_json(request.send().await.unwrap()).await }
    });
    let results = futures_join_all(attempts).await;
    let won = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let sold_out = results
        .iter()
        .filter(|(s, body)| *s == StatusCode::CONFLICT && body["code"] == "out_of_stock")
        .count();
    assert_eq!(won, 10, "exactly the stock is sold");
    assert_eq!(
        sold_out,
        190,
        "everyone else hears it is sold out: {:?}",
        results
            .iter()
            .find(|(s, _)| *s != StatusCode::CREATED && *s != StatusCode::CONFLICT)
    );
    assert_eq!(stock(&app, shop.product_a).await, 0);
    assert_eq!(app.count(orders::Entity).await, 10);
    assert_eq!(
        app.count(payments::Entity).await,
        10,
        "a refused checkout leaves no payment behind"
    );
}

/// `join_all` without another dependency: spawn each future on the runtime.
pub(crate) async fn futures_join_all<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn bad_cart_and_checkout_input_gets_a_clear_4xx_and_writes_nothing() {
    let app = app().await;
    let shop = shop(&app).await;
    let shopper = app.client();
    let (status, problem) = post(&shopper, &app, "/api/v1/checkout", address()).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty cart: {problem}"
    );
    assert_eq!(problem["errors"][0]["code"], "cart_empty");
    for quantity in [
        json!(0),
        json!(-1),
        json!(1_000_000_000_000i64),
        json!("two"),
        json!(1.5),
    ] {
        let (status, problem) = post(
            &shopper,
            &app,
            "/api/v1/cart/items",
            json!({"product_id": shop.product_a, "quantity": quantity}),
        )
        .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{quantity}: {status} {problem}"
        );
    }
    let (status, problem) = add(&shopper, &app, 987_654, 1).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown product: {problem}"
    );
    assert!(names_field(&problem, "product_id"));
    assert_eq!(
        app.count(ocop_market::entities::cart_items::Entity).await,
        0
    );

    add(&shopper, &app, shop.product_a, 1).await;
    let mut wrong_province = address();
    wrong_province["province_code"] = json!("01"); // Hà Nội; Gia Phú is in Lào Cai
    let (status, problem) = post(&shopper, &app, "/api/v1/checkout", wrong_province).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem["errors"][0]["code"], "commune_not_in_province",
        "{problem}"
    );
    let mut wrong_phone = address();
    wrong_phone["recipient_phone"] = json!("0123");
    wrong_phone["street"] = json!("");
    let (status, problem) = post(&shopper, &app, "/api/v1/checkout", wrong_phone).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        names_field(&problem, "recipient_phone") && names_field(&problem, "street"),
        "{problem}"
    );
    let mut card = address();
    card["payment_method"] = json!("stripe");
    let (status, problem) = post(&shopper, &app, "/api/v1/checkout", card).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no card payments configured: {problem}"
    );
    let (status, _) = into_json(
        shopper
            .post(app.url("/api/v1/checkout"))
            .body("not json")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    assert_eq!(app.count(payments::Entity).await, 0);
    assert_eq!(app.count(orders::Entity).await, 0);
    assert_eq!(stock(&app, shop.product_a).await, 40);
}

#[tokio::test]
async fn a_cooperative_sees_and_acts_on_only_its_own_orders() {
    let app = app().await;
    let shop = shop(&app).await;
    let (_, done) = checkout(&app, &[(shop.product_a, 1)]).await;
    let order = done["orders"][0]["id"].as_i64().unwrap();
    notify(
        &app,
        "FT9",
        280_000,
        done["payment"]["reference"].as_str().unwrap(),
    )
    .await;
    for path in [
        format!("/api/v1/orders/{order}"),
        format!("/api/v1/cooperatives/{}/orders", shop.coop_a),
        format!("/api/v1/cooperatives/{}/statement", shop.coop_a),
    ] {
        let (status, _) = shop.owner_b.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    for action in ["accept", "deliver", "complete"] {
        let (status, _) = shop
            .owner_b
            .post(&format!("/api/v1/orders/{order}/{action}"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
    }
    let (status, _) = shop
        .owner_b
        .post(
            &format!("/api/v1/orders/{order}/cancel"),
            json!({"reason": "không phải của tôi"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, seen) = shop.owner_a.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(seen["status"], "paid", "untouched by the other cooperative");
}

#[tokio::test]
async fn orders_move_through_their_states_and_a_cancelled_paid_order_is_refunded() {
    let app = app().await;
    let shop = shop(&app).await;
    let (_, done) = checkout(&app, &[(shop.product_a, 2)]).await;
    let order = done["orders"][0]["id"].as_i64().unwrap();
    let path = |action: &str| format!("/api/v1/orders/{order}/{action}");
    let (status, problem) = shop.owner_a.post(&path("accept"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "not paid yet: {problem}");
    assert_eq!(problem["code"], "invalid_transition");
    notify(
        &app,
        "FT10",
        530_000,
        done["payment"]["reference"].as_str().unwrap(),
    )
    .await;
    let (status, _) = shop
        .owner_a
        .post(
            &path("ship"),
            json!({"carrier": "Viettel Post", "tracking_number": "VTP123"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "shipping before accepting");
    let (status, body) = shop.owner_a.post(&path("accept"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, problem) = shop
        .owner_a
        .post(&path("ship"), json!({"carrier": "", "tracking_number": ""}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, body) = shop
        .owner_a
        .post(
            &path("ship"),
            json!({"carrier": "Viettel Post", "tracking_number": "VTP123"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tracking_number"], "VTP123");
    let (status, _) = shop
        .owner_a
        .post(&path("cancel"), json!({"reason": "hết hàng"}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a shipped order is not cancelled"
    );
    shop.owner_a.post(&path("deliver"), json!({})).await;
    let (status, body) = shop.owner_a.post(&path("complete"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let steps: Vec<&str> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        vec![
            "pending_payment",
            "paid",
            "accepted",
            "shipped",
            "delivered",
            "completed"
        ]
    );

    // A second order: paid, then the cooperative cancels it (a reason is required).
    let (_, done) = checkout(&app, &[(shop.product_a, 3)]).await;
    let order = done["orders"][0]["id"].as_i64().unwrap();
    notify(
        &app,
        "FT11",
        780_000,
        done["payment"]["reference"].as_str().unwrap(),
    )
    .await;
    assert_eq!(stock(&app, shop.product_a).await, 35);
    let (status, problem) = shop
        .owner_a
        .post(&format!("/api/v1/orders/{order}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, body) = shop
        .owner_a
        .post(
            &format!("/api/v1/orders/{order}/cancel"),
            json!({"reason": "Mất mùa, không đủ hàng"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cancelled_by"], "cooperative");
    assert_eq!(stock(&app, shop.product_a).await, 38, "stock back");
    let books = ledger(&shop.admin).await;
    assert_eq!(balance(&books, "refunds:payable"), -780_000);
    assert_eq!(
        balance(&books, &format!("cooperative:{}", shop.coop_a)),
        -(530_000 - 25_000),
        "only the completed order is owed"
    );

    let (_, refunds) = shop.admin.get("/api/v1/admin/refunds").await;
    let refund = refunds[0]["id"].as_i64().unwrap();
    let (status, _) = shop
        .admin
        .post(
            &format!("/api/v1/admin/refunds/{refund}/complete"),
            json!({"bank_reference": "FT-REFUND-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = shop
        .admin
        .post(
            &format!("/api/v1/admin/refunds/{refund}/complete"),
            json!({"bank_reference": "FT-REFUND-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "refunded once");
    let books = ledger(&shop.admin).await;
    assert_eq!(balance(&books, "refunds:payable"), 0);
    assert_eq!(balance(&books, "cash:bank"), 530_000);

    // Payouts never exceed what is owed.
    let (status, _) = shop.admin.post("/api/v1/admin/payouts", json!({"cooperative_id": shop.coop_a, "amount_vnd": 600_000, "bank_reference": "PAYOUT-1"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, payout) = shop.admin.post("/api/v1/admin/payouts", json!({"cooperative_id": shop.coop_a, "amount_vnd": 505_000, "bank_reference": "PAYOUT-1"})).await;
    assert_eq!(status, StatusCode::OK, "{payout}");
    assert_eq!(payout["balance_after_vnd"], 0);
}

#[tokio::test]
async fn unpaid_checkouts_expire_and_a_late_payment_is_honoured_or_refunded() {
    let app = app().await;
    let shop = shop(&app).await;
    let (_, done) = checkout(&app, &[(shop.product_a, 5)]).await;
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();
    assert_eq!(stock(&app, shop.product_a).await, 35);
    expire_now(&app, &reference).await;
    let expired = ocop_market::orders::lifecycle::expire_due(app.db())
        .await
        .unwrap();
    assert_eq!(expired, 1);
    assert_eq!(
        stock(&app, shop.product_a).await,
        40,
        "the reservation is handed back"
    );
    let order = orders::Entity::find().one(app.db()).await.unwrap().unwrap();
    assert_eq!(
        (order.status.as_str(), order.cancelled_by.as_deref()),
        ("cancelled", Some("expiry"))
    );

    // The money arrives late, the stock is still there: the order is honoured.
    let (_, answer) = notify(&app, "LATE1", 1_280_000, &reference).await;
    assert_eq!(answer["transfers"][0]["outcome"], "revived_after_expiry");
    assert_eq!(stock(&app, shop.product_a).await, 35);
    let order = orders::Entity::find().one(app.db()).await.unwrap().unwrap();
    assert_eq!(order.status, "paid");

    // Another checkout expires and someone else buys everything meanwhile.
    let (_, done) = checkout(&app, &[(shop.product_a, 35)]).await;
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();
    expire_now(&app, &reference).await;
    ocop_market::orders::lifecycle::expire_due(app.db())
        .await
        .unwrap();
    checkout(&app, &[(shop.product_a, 35)]).await;
    let (_, answer) = notify(&app, "LATE2", 8_780_000, &reference).await;
    assert_eq!(
        answer["transfers"][0]["outcome"], "refund_opened",
        "{answer}"
    );
    let books = ledger(&shop.admin).await;
    assert_eq!(balance(&books, "refunds:payable"), -8_780_000);
}

/// Moves a payment's reservation end into the past.
pub(crate) async fn expire_now(app: &TestApp, reference: &str) {
    let payment = payments::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.reference == reference)
        .unwrap();
    payments::ActiveModel {
        id: Set(payment.id),
        expires_at: Set(chrono::Utc::now() - chrono::Duration::seconds(1)),
        ..Default::default()
    }
    .update(app.db())
    .await
    .unwrap();
}

/// Submits a page form as a browser would (same-origin).
pub(crate) async fn form(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .header("sec-fetch-site", "same-origin")
        .form(fields)
        .send()
        .await
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_shop_pages_take_a_visitor_from_a_product_to_a_paid_order_without_javascript() {
    let app = app().await;
    let shop = shop(&app).await;
    let visitor = app.client();
    let product = shop.product_a.to_string();
    let added = form(
        &visitor,
        &app,
        "/cart/add",
        &[("product_id", &product), ("quantity", "2")],
    )
    .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let refused = form(
        &visitor,
        &app,
        "/cart/add",
        &[("product_id", &product), ("quantity", "0")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Số lượng ít nhất là 1.")
    );
    let cart = visitor
        .get(app.url("/cart"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        cart.contains("Mật ong bạc hà") && cart.contains("530.000"),
        "{cart}"
    );

    let page = visitor
        .get(app.url("/checkout?province=15"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Xã Gia Phú"),
        "communes of Lào Cai are offered"
    );
    let key = page
        .split("name=\"checkout_key\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let mut fields = vec![
        ("checkout_key", key.as_str()),
        ("province_code", "15"),
        ("commune_code", "02923"),
        ("street", "Thôn Cóc 1"),
        ("recipient_name", "Nguyễn Thị Lan"),
        ("recipient_phone", "0912 345 678x"),
        ("payment_method", "vietqr"),
    ];
    let refused = form(&visitor, &app, "/checkout", &fields).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("id=\"recipient_phone-error\""),
        "the error is beside the field"
    );
    fields[5] = ("recipient_phone", "0912 345 678");
    let placed = form(&visitor, &app, "/checkout", &fields).await;
    assert_eq!(placed.status(), StatusCode::SEE_OTHER);
    let first_path = location(&placed);
    // Submitting the same form again (a double tap on a slow connection) makes no second
    // order and leads to the same page with the same token: the first link keeps working.
    let again = form(&visitor, &app, "/checkout", &fields).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count(payments::Entity).await, 1);
    let payment_path = location(&again);
    assert_eq!(first_path, payment_path);
    let stranger = app.client();
    let first_link = stranger.get(app.url(&first_path)).send().await.unwrap();
    assert_eq!(
        first_link.status(),
        StatusCode::OK,
        "the first link still opens the page"
    );
    let forged = first_path.replace("token=", "token=x");
    let forged = stranger.get(app.url(&forged)).send().await.unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::NOT_FOUND,
        "a wrong token opens nothing"
    );

    let page = visitor
        .get(app.url(&payment_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Đang chờ thanh toán") && page.contains("http-equiv=\"refresh\""));
    let svg = format!(
        "<svg{}</svg>",
        page.split("<svg")
            .nth(1)
            .unwrap()
            .split("</svg>")
            .next()
            .unwrap()
    );
    let payload = crate::trace::decode_svg(&svg);
    let parsed = vietqr::parse(&payload).expect("the QR on the page is a VietQR code");
    assert_eq!(parsed.amount, Some(530_000));
    let reference = parsed.purpose.unwrap();
    assert!(
        page.contains(&reference),
        "the reference is also written out for manual transfers"
    );

    notify(&app, "FT-PAGE-1", 530_000, &reference).await;
    let page = visitor
        .get(app.url(&payment_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Đã thanh toán"), "{page}");
    assert!(!page.contains("http-equiv=\"refresh\""));

    // The cooperative works the order from its desk.
    let order = orders::Entity::find().one(app.db()).await.unwrap().unwrap();
    let desk = format!("/workspace/cooperatives/{}/orders", shop.coop_a);
    let (status, html) = shop.owner_a.page(&desk).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Nhận đơn"));
    let (status, _) = shop.owner_b.page(&desk).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another cooperative's desk");
    let response = shop
        .owner_a
        .form(&format!("/workspace/orders/{}/accept", order.id), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = shop
        .owner_a
        .form(
            &format!("/workspace/orders/{}/ship", order.id),
            &[("carrier", ""), ("tracking_number", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = shop
        .owner_a
        .form(
            &format!("/workspace/orders/{}/ship", order.id),
            &[("carrier", "VNPost"), ("tracking_number", "EB123456789VN")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let order = orders::Entity::find_by_id(order.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.status, "shipped");
}

/// The property every sequence of operations must keep: each ledger transaction balances,
/// each cooperative is owed exactly its live paid orders (total less commission) less its
/// payouts, refunds owed equal the refunds not yet paid, and the bank account holds what was
/// received less what left it.
async fn assert_books_match_orders(app: &TestApp, admin: &User, coops: &[i64]) {
    use ocop_market::entities::{payouts, refunds};
    let books = ledger(admin).await;
    let all_orders = orders::Entity::find().all(app.db()).await.unwrap();
    let all_payouts = payouts::Entity::find().all(app.db()).await.unwrap();
    let all_refunds = refunds::Entity::find().all(app.db()).await.unwrap();
    let live = ["paid", "accepted", "shipped", "delivered", "completed"];
    for coop in coops {
        let owed: i64 = all_orders
            .iter()
            .filter(|o| o.cooperative_id == *coop && live.contains(&o.status.as_str()))
            .map(|o| o.total_vnd - o.commission_vnd)
            .sum::<i64>()
            - all_payouts
                .iter()
                .filter(|p| p.cooperative_id == *coop)
                .map(|p| p.amount_vnd)
                .sum::<i64>();
        assert_eq!(
            -balance(&books, &format!("cooperative:{coop}")),
            owed,
            "cooperative {coop}"
        );
    }
    let refunds_owed: i64 = all_refunds
        .iter()
        .filter(|r| r.status != "succeeded")
        .map(|r| r.amount_vnd)
        .sum();
    assert_eq!(-balance(&books, "refunds:payable"), refunds_owed);
    let received: i64 = payments::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|p| p.received_vnd)
        .sum();
    let unmatched: i64 = ocop_market::entities::payment_exceptions::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "unmatched")
        .map(|e| e.amount_vnd)
        .sum();
    let refunded: i64 = all_refunds
        .iter()
        .filter(|r| r.status == "succeeded")
        .map(|r| r.amount_vnd)
        .sum();
    let paid_out: i64 = all_payouts.iter().map(|p| p.amount_vnd).sum();
    assert_eq!(
        balance(&books, "cash:bank"),
        received + unmatched - refunded - paid_out
    );
    let commission: i64 = all_orders
        .iter()
        .filter(|o| live.contains(&o.status.as_str()))
        .map(|o| o.commission_vnd)
        .sum();
    assert_eq!(-balance(&books, "revenue:commission"), commission);
}

#[tokio::test]
async fn the_ledger_balances_and_matches_orders_after_random_checkouts_payments_cancellations_and_refunds()
 {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let app = app().await;
    let shop = shop(&app).await;
    let buyer = app.user("nguoimua@example.vn").await;
    let coops = [shop.coop_a, shop.coop_b];
    let products = [shop.product_a, shop.product_b];
    let mut transfer = 0u32;
    for seed in 0..4u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut pending: Vec<(String, i64)> = Vec::new();
        for _ in 0..25 {
            match rng.random_range(0..8) {
                0 | 1 => {
                    for product in products {
                        if rng.random_bool(0.7) {
                            buyer.post("/api/v1/cart/items", json!({"product_id": product, "quantity": rng.random_range(1..4)})).await;
                        }
                    }
                    let (status, body) = buyer.post("/api/v1/checkout", address()).await;
                    if status == StatusCode::CREATED {
                        pending.push((
                            body["payment"]["reference"].as_str().unwrap().to_owned(),
                            body["payment"]["amount_vnd"].as_i64().unwrap(),
                        ));
                    } else {
                        assert!(
                            status == StatusCode::CONFLICT
                                || status == StatusCode::UNPROCESSABLE_ENTITY,
                            "{body}"
                        );
                    }
                }
                2 | 3 if !pending.is_empty() => {
                    let (reference, amount) =
                        pending.swap_remove(rng.random_range(0..pending.len()));
                    let paid = match rng.random_range(0..10) {
                        0 => amount - 1_000,
                        1 => amount + 5_000,
                        _ => amount,
                    };
                    transfer += 1;
                    let (status, _) =
                        notify(&app, &format!("RND{transfer}"), paid, &reference).await;
                    assert_eq!(status, StatusCode::OK);
                }
                4 => {
                    let (_, mine) = buyer.get("/api/v1/orders").await;
                    if let Some(order) = mine
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|o| o["status"] == "paid" || o["status"] == "pending_payment")
                    {
                        buyer
                            .post(&format!("/api/v1/orders/{}/cancel", order["id"]), json!({}))
                            .await;
                    }
                }
                5 => {
                    let owner = if rng.random_bool(0.5) {
                        (&shop.owner_a, shop.coop_a)
                    } else {
                        (&shop.owner_b, shop.coop_b)
                    };
                    let (_, list) = owner
                        .0
                        .get(&format!(
                            "/api/v1/cooperatives/{}/orders?status=paid",
                            owner.1
                        ))
                        .await;
                    let (_, accepted) = owner
                        .0
                        .get(&format!(
                            "/api/v1/cooperatives/{}/orders?status=accepted",
                            owner.1
                        ))
                        .await;
                    if let Some(order) = accepted.as_array().unwrap().first()
                        && rng.random_bool(0.5)
                    {
                        let path =
                            |action: &str| format!("/api/v1/orders/{}/{action}", order["id"]);
                        owner
                            .0
                            .post(
                                &path("ship"),
                                json!({"carrier": "VNPost", "tracking_number": "EV1"}),
                            )
                            .await;
                        owner.0.post(&path("deliver"), json!({})).await;
                    } else if let Some(order) = list.as_array().unwrap().first() {
                        if rng.random_bool(0.5) {
                            owner
                                .0
                                .post(&format!("/api/v1/orders/{}/accept", order["id"]), json!({}))
                                .await;
                        } else {
                            owner
                                .0
                                .post(
                                    &format!("/api/v1/orders/{}/cancel", order["id"]),
                                    json!({"reason": "Hết hàng trong kho"}),
                                )
                                .await;
                        }
                    }
                }
                6 => {
                    let (_, open) = shop.admin.get("/api/v1/admin/refunds").await;
                    if let Some(refund) = open.as_array().unwrap().first() {
                        shop.admin
                            .post(
                                &format!("/api/v1/admin/refunds/{}/complete", refund["id"]),
                                json!({"bank_reference": format!("RF{}", refund["id"])}),
                            )
                            .await;
                    }
                    let coop = coops[rng.random_range(0..2)];
                    let available = ocop_market::payments::balances::of_cooperative(
                        app.db(),
                        coop,
                        std::time::Duration::ZERO,
                        chrono::Utc::now(),
                    )
                    .await
                    .unwrap()
                    .available_vnd;
                    if available > 0 {
                        transfer += 1;
                        let (status, body) = shop.admin.post("/api/v1/admin/payouts", json!({"cooperative_id": coop, "amount_vnd": available / 2 + 1, "bank_reference": format!("PO{transfer}")})).await;
                        assert_eq!(status, StatusCode::OK, "{body}");
                    }
                }
                _ => {
                    if let Some((reference, _)) = pending.first() {
                        expire_now(&app, reference).await;
                        ocop_market::orders::lifecycle::expire_due(app.db())
                            .await
                            .unwrap();
                    }
                }
            }
            for product in products {
                assert!(stock(&app, product).await >= 0, "stock never below zero");
            }
        }
        assert_books_match_orders(&app, &shop.admin, &coops).await;
    }
    // The sequences did reach every kind of movement.
    let books = ledger(&shop.admin).await;
    let kinds: std::collections::HashSet<String> =
        ocop_market::entities::ledger_transactions::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect();
    for kind in [
        "payment_received",
        "unmatched_receipt",
        "order_cancelled",
        "refund_paid",
        "payout",
    ] {
        assert!(
            kinds.contains(kind),
            "{kind} never happened: {kinds:?} {books}"
        );
    }
}

#[tokio::test]
async fn the_administrators_money_desk_works_without_javascript() {
    let app = app().await;
    let shop = shop(&app).await;
    let admin = &shop.admin;
    let (_, paid_by_hand) = checkout(&app, &[(shop.product_a, 1)]).await;
    let reference = paid_by_hand["payment"]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    notify(&app, "T-UNKNOWN", 50_000, "ung ho lu lut").await;

    let (status, html) = admin.page("/admin/payments").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Không khớp mã thanh toán") && html.contains("50.000"));
    assert!(
        html.contains("Chưa có khoản thanh toán nào"),
        "nothing to reconcile yet"
    );

    // Confirm by hand: a bad amount is shown beside its field and the typed values stay.
    let response = form(
        &admin.client,
        &app,
        "/admin/payments/confirm",
        &[
            ("reference", &reference),
            ("bank_transaction_id", "FT-DESK-1"),
            ("amount", "hai trăm"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"amount_vnd-error\""));
    assert!(html.contains(&format!("value=\"{reference}\"")));
    assert_eq!(
        payments::Entity::find().all(app.db()).await.unwrap()[0].status,
        "pending"
    );
    let response = form(
        &admin.client,
        &app,
        "/admin/payments/confirm",
        &[
            ("reference", &reference),
            ("bank_transaction_id", "FT-DESK-1"),
            ("amount", "280.000"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/admin/payments?notice=confirmed#confirm"
    );
    let (_, html) = admin.page("/admin/payments?notice=confirmed").await;
    assert!(html.contains("Đã xác nhận giao dịch chuyển khoản"));
    assert!(
        html.contains(&reference) && html.contains("Khớp"),
        "reconciled"
    );

    // A paid order the cooperative cancels leaves a refund to send back by bank transfer.
    let (_, cancelled) = checkout(&app, &[(shop.product_b, 1)]).await;
    let order = cancelled["orders"][0]["id"].as_i64().unwrap();
    notify(
        &app,
        "FT-B",
        280_000,
        cancelled["payment"]["reference"].as_str().unwrap(),
    )
    .await;
    let (status, body) = shop
        .owner_b
        .post(
            &format!("/api/v1/orders/{order}/cancel"),
            json!({"reason": "Hết hàng"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, refunds) = admin.get("/api/v1/admin/refunds").await;
    let refund = refunds[0]["id"].as_i64().unwrap();
    let path = format!("/admin/payments/refunds/{refund}/complete");
    let response = form(&admin.client, &app, &path, &[("bank_reference", "")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("id=\"bank_reference-error\"")
    );
    let response = form(
        &admin.client,
        &app,
        &path,
        &[("bank_reference", "FT-BACK-9")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, refunds) = admin.get("/api/v1/admin/refunds").await;
    assert_eq!(refunds, json!([]));

    // Payouts: only of delivered orders; never more than owed; then exactly what is owed.
    let order = paid_by_hand["orders"][0]["id"].as_i64().unwrap();
    for (action, body) in [
        ("accept", json!({})),
        (
            "ship",
            json!({"carrier": "VNPost", "tracking_number": "EV1"}),
        ),
        ("deliver", json!({})),
    ] {
        let (status, body) = shop
            .owner_a
            .post(&format!("/api/v1/orders/{order}/{action}"), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    let account = format!("cooperative:{}", shop.coop_a);
    let owed = -balance(&ledger(admin).await, &account);
    assert!(owed > 0);
    let coop = shop.coop_a.to_string();
    let too_much = (owed + 1).to_string();
    let response = form(
        &admin.client,
        &app,
        "/admin/payments/payouts",
        &[
            ("cooperative_id", &coop),
            ("amount", &too_much),
            ("bank_reference", "FT-PAY-1"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("id=\"amount_vnd-error\"")
    );
    let exact = owed.to_string();
    let response = form(
        &admin.client,
        &app,
        "/admin/payments/payouts",
        &[
            ("cooperative_id", &coop),
            ("amount", &exact),
            ("bank_reference", "FT-PAY-1"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(balance(&ledger(admin).await, &account), 0);

    // The queue item: a resolution is required, then it closes.
    let (_, queue) = admin.get("/api/v1/admin/payment-exceptions").await;
    let item = queue[0]["id"].as_i64().unwrap();
    let path = format!("/admin/payments/exceptions/{item}/resolve");
    let response = form(&admin.client, &app, &path, &[("resolution", "")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("id=\"resolution-error\"")
    );
    let response = form(
        &admin.client,
        &app,
        &path,
        &[
            ("resolution", "Đã trả lại người gửi"),
            ("returned_with_bank_reference", "FT-BACK-2"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = admin.page("/admin/payments").await;
    assert!(
        !html.contains("Không khớp mã thanh toán ·"),
        "the queue is empty"
    );
    assert_eq!(balance(&ledger(admin).await, "suspense:unmatched"), 0);

    // Only administrators.
    let (status, _) = shop.owner_a.page("/admin/payments").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let response = form(
        &shop.owner_a.client,
        &app,
        "/admin/payments/payouts",
        &[
            ("cooperative_id", &coop),
            ("amount", "1"),
            ("bank_reference", "FT-X"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_visitor_gives_up_an_unpaid_checkout_and_the_stock_returns_at_once() {
    let app = app().await;
    let shop = shop(&app).await;
    let (shopper, done) = checkout(&app, &[(shop.product_a, 3)]).await;
    assert_eq!(stock(&app, shop.product_a).await, 37);
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();
    let payment_url = done["payment_url"].as_str().unwrap().to_owned();
    let token = payment_url.split("token=").nth(1).unwrap().to_owned();

    // Without the token the checkout is nobody's to cancel.
    let (status, _) = post(
        &app.client(),
        &app,
        &format!("/api/v1/payments/{reference}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(stock(&app, shop.product_a).await, 37);

    let path = format!("/api/v1/payments/{reference}/cancel?token={token}");
    let (status, body) = post(&shopper, &app, &path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["status"], "cancelled");
    assert_eq!(body["orders"][0]["status"], "cancelled");
    assert_eq!(stock(&app, shop.product_a).await, 40);
    let (status, problem) = post(&shopper, &app, &path, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    // A transfer arriving afterwards is not taken as payment for the cancelled checkout.
    let (_, answer) = notify(&app, "FT-AFTER", 780_000, &reference).await;
    assert_ne!(answer["transfers"][0]["outcome"], "paid");

    // The same from the payment page's button, without JavaScript.
    let (_, second) = checkout(&app, &[(shop.product_b, 2)]).await;
    let page_path = second["payment_url"]
        .as_str()
        .unwrap()
        .replace(&app.base, "");
    let html = app
        .client()
        .get(app.url(&page_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Huỷ đơn chưa thanh toán"));
    let reference = second["payment"]["reference"].as_str().unwrap();
    let token = page_path.split("token=").nth(1).unwrap();
    let response = form(
        &app.client(),
        &app,
        &format!("/payments/{reference}/cancel"),
        &[("token", token)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(stock(&app, shop.product_b).await, 40);
    let html = app
        .client()
        .get(app.url(&location(&response)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Đã hủy") && !html.contains("Huỷ đơn chưa thanh toán"));
}
