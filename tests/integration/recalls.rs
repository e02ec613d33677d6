//! Recalls (issue 19): a lot recalled by its cooperative or the province reaches every stamp
//! of that lot on every app server, every buyer of a line packed from it (once each), and
//! withdraws its product from sale until the remaining stock is confirmed safe.

use std::time::Duration;

use ocop_market::config::{BankWebhookConfig, Secret};
use ocop_market::entities::{batch_recalls, message_outbox, order_items, recall_notices};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::checkout::{BANK_SECRET, Shop, address, notify, shop};
use crate::support::{TestApp, User};

/// The app as the checkout tests run it, optionally sharing a Redis with other servers.
async fn app_with(redis: Option<(String, String)>) -> TestApp {
    TestApp::spawn_with(|config| {
        config.commerce.bank_webhook = Some(BankWebhookConfig::generic(Secret::new(BANK_SECRET)));
        config.commerce.return_window = Duration::ZERO;
        if let Some((url, prefix)) = &redis {
            config.redis = Some(ocop_market::config::RedisConfig {
                url: Secret::new(url.clone()),
                prefix: prefix.clone(),
                pool_size: 2,
                timeout: Duration::from_secs(2),
                claim_idle: Duration::from_secs(2),
            });
        }
    })
    .await
}

/// A lot of the cooperative's product with `stamps` stamps: its id and the stamps' codes.
async fn lot(owner: &User, product: i64, lot_code: &str, stamps: i64) -> (i64, Vec<String>) {
    let (status, batch) = owner
        .post(
            &format!("/api/v1/products/{product}/batches"),
            json!({"lot_code": lot_code, "quantity": "100", "quantity_unit": "chai"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let batch = batch["id"].as_i64().unwrap();
    let (status, body) = owner
        .post(
            &format!("/api/v1/batches/{batch}/stamps"),
            json!({"count": stamps}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, listed) = owner
        .get(&format!("/api/v1/batches/{batch}/stamps?per_page=1000"))
        .await;
    let codes = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap().to_owned())
        .collect();
    (batch, codes)
}

/// The buyer's paid order of one unit of `product`.
async fn paid_order(app: &TestApp, buyer: &User, product: i64, transfer: &str) -> i64 {
    let (status, cart) = buyer
        .post(
            "/api/v1/cart/items",
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    let (status, done) = buyer.post("/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let (status, paid) = notify(
        app,
        transfer,
        done["payment"]["amount_vnd"].as_i64().unwrap(),
        done["payment"]["reference"].as_str().unwrap(),
    )
    .await;
    assert!(status.is_success(), "{paid}");
    done["orders"][0]["id"].as_i64().unwrap()
}

/// Accepts and ships the order, every line packed from `batch`, as the cooperative does.
async fn ship_from_lot(app: &TestApp, owner: &User, order: i64, batch: i64) {
    let path = |action: &str| format!("/api/v1/orders/{order}/{action}");
    let (status, body) = owner.post(&path("accept"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lines: Vec<Value> = order_items::Entity::find()
        .filter(order_items::Column::OrderId.eq(order))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|l| json!({"order_item_id": l.id, "batch_id": batch}))
        .collect();
    let (status, body) = owner
        .post(
            &path("ship"),
            json!({"carrier": "Viettel Post", "tracking_number": format!("VTP{order}"),
                   "lines": lines}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn recall_body() -> Value {
    json!({
        "reason": "Phát hiện nấm mốc trong mẫu kiểm nghiệm",
        "advice": "Không sử dụng; mang trả hợp tác xã để được hoàn tiền",
    })
}

async fn verdict(app: &TestApp, code: &str) -> Value {
    let (status, body) = app.admin_free_get(&format!("/api/v1/scan/{code}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["verdict"].clone()
}

async fn scan_page(app: &TestApp, code: &str) -> String {
    let response = app
        .client()
        .get(app.url(&format!("/s/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

async fn recall_messages(app: &TestApp) -> Vec<message_outbox::Model> {
    message_outbox::Entity::find()
        .filter(message_outbox::Column::Template.eq("recall_notice"))
        .all(app.db())
        .await
        .unwrap()
}

/// Two servers on one database and one Redis, or `None` when no Redis answers outside CI.
async fn two_servers() -> Option<(TestApp, TestApp)> {
    let url = crate::cluster::redis_url().await?;
    let first = app_with(Some((url, crate::cluster::unique_prefix()))).await;
    let second = first.another_server().await;
    Some((first, second))
}

#[tokio::test]
async fn a_recall_after_three_orders_from_two_lots_tells_only_that_lots_buyers_once_and_turns_its_stamps_on_every_server()
 {
    let Some((a, b)) = two_servers().await else {
        return;
    };
    let shop = shop(&a).await;
    let (lot_1, codes_1) = lot(&shop.owner_a, shop.product_a, "MO-01", 3).await;
    let (lot_2, codes_2) = lot(&shop.owner_a, shop.product_a, "MO-02", 2).await;
    let mut buyers = Vec::new();
    for (n, batch) in [(1, lot_1), (2, lot_1), (3, lot_2)] {
        let buyer = a.user(&format!("buyer{n}@mail.vn")).await;
        let order = paid_order(&a, &buyer, shop.product_a, &format!("FT-RC-{n}")).await;
        ship_from_lot(&a, &shop.owner_a, order, batch).await;
        buyers.push((buyer, order));
    }
    // Server B has judged stamps of both lots, so it holds their origins.
    for code in codes_1.iter().chain(&codes_2) {
        assert_eq!(verdict(&b, code).await["kind"], "genuine_first_check");
    }

    let (status, recall) = shop
        .owner_a
        .post(&format!("/api/v1/batches/{lot_1}/recall"), recall_body())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recall}");
    assert_eq!(recall["buyers_notified"], 2);
    assert_eq!(recall["units_shipped"], 2);
    assert_eq!(recall["units_in_stock"], 98);
    assert_eq!(recall["by_administrator"], false);

    // At once, on the other server: every stamp of the lot, and only those, reads Recalled.
    for code in &codes_1 {
        let v = verdict(&b, code).await;
        assert_eq!(v["kind"], "recalled", "{v}");
        assert_eq!(v["reason"], "Phát hiện nấm mốc trong mẫu kiểm nghiệm");
        assert_eq!(
            v["advice"],
            "Không sử dụng; mang trả hợp tác xã để được hoàn tiền"
        );
        assert!(v["cleared_at"].is_null());
        let page = scan_page(&b, code).await;
        assert!(page.contains("Đã thu hồi"), "{page}");
        assert!(page.contains("Phát hiện nấm mốc trong mẫu kiểm nghiệm"));
        assert!(page.contains("mang trả hợp tác xã để được hoàn tiền"));
        assert_eq!(verdict(&a, code).await["kind"], "recalled");
    }
    for code in &codes_2 {
        let v = verdict(&b, code).await;
        assert_ne!(v["kind"], "recalled", "{v}");
        assert!(!scan_page(&b, code).await.contains("Đã thu hồi"));
    }

    // Exactly the buyers of the recalled lot, once each, even if the recall is sent again.
    let told: Vec<String> = recall_messages(&a)
        .await
        .into_iter()
        .map(|m| m.recipient)
        .collect();
    let mut expected = vec!["buyer1@mail.vn".to_owned(), "buyer2@mail.vn".to_owned()];
    let mut sorted = told.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    let row = batch_recalls::Entity::find()
        .filter(batch_recalls::Column::BatchId.eq(lot_1))
        .one(b.db())
        .await
        .unwrap()
        .unwrap();
    let again = ocop_market::trace::recalls::notify_buyers(b.db(), &row, "MO-01")
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(recall_messages(&a).await.len(), 2);
    assert_eq!(
        recall_notices::Entity::find().count(a.db()).await.unwrap(),
        2
    );
    let (status, problem) = shop
        .owner_a
        .post(&format!("/api/v1/batches/{lot_1}/recall"), recall_body())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "already_recalled");

    // The order lines packed from the lot, each with whether its buyer was told.
    let (status, lines) = shop
        .owner_a
        .get(&format!("/api/v1/batches/{lot_1}/orders"))
        .await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 2);
    for (line, (_, order)) in lines.iter().zip(&buyers) {
        assert_eq!(line["order_id"], *order);
        assert_eq!(line["quantity"], 1);
        assert_eq!(line["buyer_notified"], true);
        assert!(line.get("recipient_phone").is_none() && line.get("recipient_name").is_none());
    }
    let (_, lines_2) = shop
        .owner_a
        .get(&format!("/api/v1/batches/{lot_2}/orders"))
        .await;
    assert_eq!(lines_2[0]["order_id"], buyers[2].1);
    assert_eq!(lines_2[0]["buyer_notified"], false);

    // The batch page and the province's dashboard show the recall and its figures.
    let (status, html) = shop
        .owner_a
        .page(&format!("/workspace/batches/{lot_1}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"recall\""), "{html}");
    assert!(html.contains(&ocop_market::messages::events::order_number(buyers[0].1)));
    let (status, html) = shop.admin.page("/admin/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("id=\"open-recalls\"") && html.contains("MO-01"),
        "{html}"
    );
}

#[tokio::test]
async fn a_rival_cooperative_cannot_recall_clear_or_read_a_lot_and_a_provinces_recall_is_cleared_by_the_province()
 {
    let app = crate::checkout::app().await;
    let Shop {
        admin,
        owner_a,
        owner_b,
        product_a,
        ..
    } = shop(&app).await;
    let (batch, codes) = lot(&owner_a, product_a, "MO-09", 1).await;
    let paths = [
        format!("/api/v1/batches/{batch}/recall"),
        format!("/api/v1/batches/{batch}/recall/clear"),
    ];
    for path in &paths {
        let (status, body) = owner_b.post(path, recall_body()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        let (status, _) = app.admin_free_post(path, recall_body()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    for path in [
        format!("/api/v1/batches/{batch}/orders"),
        format!("/api/v1/batches/{batch}/recall"),
    ] {
        let (status, body) = owner_b.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let response = owner_b
        .form(
            &format!("/workspace/batches/{batch}/recall"),
            &[("reason", "x"), ("advice", "y")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        batch_recalls::Entity::find().count(app.db()).await.unwrap(),
        0
    );
    assert_eq!(
        verdict(&app, &codes[0]).await["kind"],
        "genuine_first_check"
    );

    // The province recalls; the cooperative sees it but cannot clear it.
    let (status, recall) = admin
        .post(&format!("/api/v1/batches/{batch}/recall"), recall_body())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recall}");
    assert_eq!(recall["by_administrator"], true);
    let (status, body) = owner_a
        .get(&format!("/api/v1/batches/{batch}/recall"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let clear = format!("/api/v1/batches/{batch}/recall/clear");
    let (status, problem) = owner_a
        .post(&clear, json!({"remaining_stock_safe": true}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "recalled_by_province");
    let (status, cleared) = admin
        .post(&clear, json!({"remaining_stock_safe": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert!(cleared["cleared_at"].is_string());
}

#[tokio::test]
async fn a_recall_needs_a_reason_and_advice_of_bounded_length() {
    let app = crate::checkout::app().await;
    let shop = shop(&app).await;
    let (batch, _) = lot(&shop.owner_a, shop.product_a, "MO-03", 1).await;
    let path = format!("/api/v1/batches/{batch}/recall");
    for (body, field) in [
        (json!({"reason": "", "advice": "Không dùng"}), "reason"),
        (json!({"reason": "Nấm mốc", "advice": "   "}), "advice"),
        (json!({"reason": "Nấm mốc"}), "advice"),
        (
            json!({"reason": "Nấm mốc", "advice": "a".repeat(501)}),
            "advice",
        ),
        (
            json!({"reason": "Nấm\u{0007}mốc", "advice": "Không dùng"}),
            "reason",
        ),
    ] {
        let (status, problem) = shop.owner_a.post(&path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert!(crate::support::names_field(&problem, field), "{problem}");
    }
    let (status, problem) = shop
        .owner_a
        .post(&path, json!({"reason": 5, "advice": []}))
        .await;
    assert!(status.is_client_error(), "{problem}");
    // The page shows the error beside the field, and keeps what was typed.
    let response = shop
        .owner_a
        .form(
            &format!("/workspace/batches/{batch}/recall"),
            &[("reason", "Nấm mốc <b>"), ("advice", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"advice-error\""), "{html}");
    assert!(html.contains("Nấm mốc &#60;b&#62;"), "{html}");
    assert_eq!(
        batch_recalls::Entity::find().count(app.db()).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn a_recalled_product_cannot_be_bought_until_its_stock_is_confirmed_safe() {
    let app = crate::checkout::app().await;
    let shop = shop(&app).await;
    let (batch, codes) = lot(&shop.owner_a, shop.product_a, "MO-04", 1).await;
    let buyer = app.user("buyer@mail.vn").await;
    let (status, body) = buyer
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_a, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Recalled from the batch page's form.
    let response = shop
        .owner_a
        .form(
            &format!("/workspace/batches/{batch}/recall"),
            &[
                ("reason", "Phát hiện nấm mốc"),
                ("advice", "Không sử dụng; trả lại để được hoàn tiền"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, html) = shop
        .owner_a
        .page(&format!("/workspace/batches/{batch}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Phát hiện nấm mốc"), "{html}");

    let (status, problem) = buyer
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_a, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "product_recalled");
    let (status, problem) = buyer.post("/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "product_recalled");
    let (_, product) = app
        .admin_free_get(&format!("/api/v1/products/{}", shop.product_a))
        .await;
    let slug = product["slug"].as_str().unwrap();
    let (status, page) = buyer.page(&format!("/products/{slug}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Phát hiện nấm mốc"), "{page}");
    assert!(page.contains("trả lại để được hoàn tiền"));
    assert!(!page.contains("action=\"/cart/add\""), "{page}");
    // Lists and search keep it, marked.
    let (status, list) = buyer.page("/products").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("Đang thu hồi, tạm ngừng bán"), "{list}");
    // Another cooperative's product is still for sale.
    let (status, body) = buyer
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_b, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Clearing needs the confirmation, then the product is back on sale.
    let clear = format!("/api/v1/batches/{batch}/recall/clear");
    let (status, problem) = shop
        .owner_a
        .post(&clear, json!({"remaining_stock_safe": false}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let response = shop
        .owner_a
        .form(
            &format!("/workspace/batches/{batch}/recall/clear"),
            &[("remaining_stock_safe", "1")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, problem) = shop
        .owner_a
        .post(&clear, json!({"remaining_stock_safe": true}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "not_recalled");
    let (status, page) = buyer.page(&format!("/products/{slug}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("action=\"/cart/add\""), "{page}");
    let (_, list) = buyer.page("/products").await;
    assert!(!list.contains("Đang thu hồi, tạm ngừng bán"), "{list}");
    let (status, done) = buyer.post("/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    // The lot's stamps keep telling what happened.
    let v = verdict(&app, &codes[0]).await;
    assert_eq!(v["kind"], "recalled", "{v}");
    assert!(v["cleared_at"].is_string(), "{v}");
    // A lot is recalled once.
    let (status, problem) = shop
        .owner_a
        .post(&format!("/api/v1/batches/{batch}/recall"), recall_body())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "already_recalled");
}

#[tokio::test]
async fn without_redis_another_server_reads_the_recall_within_a_few_seconds() {
    let a = crate::checkout::app().await;
    let b = a.another_server().await;
    let shop = shop(&a).await;
    let (batch, codes) = lot(&shop.owner_a, shop.product_a, "MO-05", 1).await;
    // Server B holds the lot's origin from a scan before the recall.
    assert_eq!(verdict(&b, &codes[0]).await["kind"], "genuine_first_check");
    let (status, body) = shop
        .owner_a
        .post(&format!("/api/v1/batches/{batch}/recall"), recall_body())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // No change feed between them: B's recall watch forgets the origin within a second or
    // two, well before its fifteen-second lifetime.
    let started = std::time::Instant::now();
    loop {
        if verdict(&b, &codes[0]).await["kind"] == "recalled" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "server B still does not read the recall"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn the_gs1_digital_link_of_a_recalled_lots_stamp_reads_recalled_too() {
    let app = crate::checkout::app().await;
    let shop = shop(&app).await;
    let mut body = crate::support::product_body("Mật ong rừng");
    body["gtin"] = json!("8934567890120");
    let (status, product) = shop
        .owner_a
        .post(
            &format!("/api/v1/cooperatives/{}/products", shop.coop_a),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product = product["id"].as_i64().unwrap();
    let (status, body) = shop
        .owner_a
        .post(&format!("/api/v1/products/{product}/publish"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (batch, _) = lot(&shop.owner_a, product, "MO-06", 2).await;
    let link = "/01/08934567890120/10/MO-06/21/1";
    let page = |app: &TestApp| {
        let request = app.client().get(app.url(link));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.text().await.unwrap()
        }
    };
    assert!(!page(&app).await.contains("Đã thu hồi"));
    let (status, body) = shop
        .owner_a
        .post(&format!("/api/v1/batches/{batch}/recall"), recall_body())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let html = page(&app).await;
    assert!(html.contains("Đã thu hồi"), "{html}");
    assert!(
        html.contains("Phát hiện nấm mốc trong mẫu kiểm nghiệm"),
        "{html}"
    );
    // The lot's own page (no stamp, no scan) says it too, in its recall section, which the
    // lot's linkset names as its recall status.
    let lot_page = app
        .client()
        .get(app.url("/01/08934567890120/10/MO-06"))
        .send()
        .await
        .unwrap();
    assert_eq!(lot_page.status(), StatusCode::OK);
    let html = lot_page.text().await.unwrap();
    let section = &html[html.find(r#"id="recall""#).expect("a recall section")..];
    assert!(section.contains("Đã thu hồi"), "{section}");
    assert!(
        section.contains("Không sử dụng; mang trả hợp tác xã"),
        "{section}"
    );
    let linkset: Value = app
        .client()
        .get(app.url("/01/08934567890120/10/MO-06"))
        .header("accept", "application/linkset+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let recall_status = &linkset["linkset"][0]["https://gs1.org/voc/recallStatus"][0]["href"];
    assert!(
        recall_status
            .as_str()
            .is_some_and(|h| h.ends_with("/01/08934567890120/10/MO-06#recall")),
        "{linkset}"
    );
}
