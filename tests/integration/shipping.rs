//! Shipping by weight and place (issue 18): each cooperative's parcel weighed and priced for
//! the province the shopper picks, rate tables of the cooperatives, and carriers with their
//! tracking pages, over real HTTP.

use ocop_market::config::{BankWebhookConfig, Secret};
use ocop_market::domain::shipping::RateTable;
use ocop_market::entities::orders;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::checkout::{BANK_SECRET, address, get, notify, post, shop};
use crate::support::{TestApp, into_json};

/// The app with the platform's real default table (the other tests use one flat fee).
async fn app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.commerce.bank_webhook = Some(BankWebhookConfig::generic(Secret::new(BANK_SECRET)));
        config.commerce.default_shipping_rates = RateTable::platform_default();
    })
    .await
}

/// Each group's (weight, zone, fee) of the cart priced for `province`.
async fn parcels(
    client: &reqwest::Client,
    app: &TestApp,
    province: Option<&str>,
) -> Vec<(i64, Value, i64)> {
    let path = match province {
        Some(code) => format!("/api/v1/cart?province_code={code}"),
        None => "/api/v1/cart".to_owned(),
    };
    let (status, cart) = get(client, app, &path).await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    cart["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["parcel_weight_grams"].as_i64().unwrap(),
                g["zone"].clone(),
                g["delivery_fee_vnd"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn add(client: &reqwest::Client, app: &TestApp, product: i64, quantity: i64) {
    let (status, body) = post(
        client,
        app,
        "/api/v1/cart/items",
        json!({"product_id": product, "quantity": quantity}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_cart_weighs_each_parcel_and_prices_it_for_the_province_picked() {
    let app = app().await;
    let shop = shop(&app).await;
    let shopper = app.client();
    add(&shopper, &app, shop.product_a, 2).await;
    add(&shopper, &app, shop.product_b, 1).await;
    // Both cooperatives are in Lào Cai (15); every product weighs 500 g.
    assert_eq!(
        parcels(&shopper, &app, None).await,
        vec![(1000, Value::Null, 40_000), (500, Value::Null, 32_000)],
        "no province yet: the highest fee"
    );
    assert_eq!(
        parcels(&shopper, &app, Some("15")).await,
        vec![
            (1000, json!("same_province"), 22_000),
            (500, json!("same_province"), 18_000)
        ]
    );
    assert_eq!(
        parcels(&shopper, &app, Some("01")).await,
        vec![
            (1000, json!("same_region"), 30_000),
            (500, json!("same_region"), 25_000)
        ]
    );
    assert_eq!(
        parcels(&shopper, &app, Some("79")).await,
        vec![
            (1000, json!("elsewhere"), 40_000),
            (500, json!("elsewhere"), 32_000)
        ]
    );
    let (status, problem) = get(&shopper, &app, "/api/v1/cart?province_code=99").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    // One more jar crosses the 1 kg band.
    add(&shopper, &app, shop.product_a, 1).await;
    assert_eq!(
        parcels(&shopper, &app, Some("15")).await[0],
        (1500, json!("same_province"), 28_000)
    );

    // The cart page reprices with a plain form, and remembers the province.
    let response = shopper
        .get(app.url("/cart?province_code=79"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<option value="79" selected>"#), "{html}");
    assert!(html.contains("Liên vùng"));
    assert!(html.contains("52.000 ₫"), "1.5 kg elsewhere");
    let html = shopper
        .get(app.url("/cart"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<option value="79" selected>"#));

    // The checkout charges the fee of the delivery address and records weight and zone.
    let (status, done) = post(&shopper, &app, "/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let mut rows = orders::Entity::find().all(app.db()).await.unwrap();
    rows.sort_by_key(|o| o.cooperative_id != shop.coop_a);
    assert_eq!(
        (
            rows[0].parcel_weight_grams,
            rows[0].shipping_zone.as_deref(),
            rows[0].delivery_fee_vnd,
            rows[0].total_vnd
        ),
        (
            Some(1500),
            Some("same_province"),
            28_000,
            3 * 250_000 + 28_000
        )
    );
    assert_eq!(rows[1].delivery_fee_vnd, 18_000);
    assert_eq!(
        done["payment"]["amount_vnd"],
        3 * 250_000 + 28_000 + 250_000 + 18_000
    );
    let order_a = done["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["cooperative"]["id"] == shop.coop_a)
        .unwrap()
        .clone();
    assert_eq!(order_a["parcel_weight_grams"], 1500);
    assert_eq!(order_a["shipping_zone"], "same_province");
}

#[tokio::test]
async fn a_cooperative_keeps_its_own_rate_table_with_a_free_shipping_threshold() {
    let app = app().await;
    let shop = shop(&app).await;
    let path = format!("/api/v1/cooperatives/{}/shipping-rates", shop.coop_a);
    let (status, table) = shop.owner_a.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{table}");
    assert_eq!(
        table,
        serde_json::to_value(RateTable::platform_default()).unwrap(),
        "the platform's table until it keeps its own"
    );
    let own = json!({
        "bands": [
            {"max_grams": 1000, "same_province_vnd": 10000, "same_region_vnd": 20000, "elsewhere_vnd": 30000},
            {"max_grams": 3000, "same_province_vnd": 15000, "same_region_vnd": 25000, "elsewhere_vnd": 35000}
        ],
        "extra_kg": {"max_grams": 0, "same_province_vnd": 5000, "same_region_vnd": 6000, "elsewhere_vnd": 7000},
        "free_shipping_over_vnd": 500000
    });
    // A stranger and a rival cooperative change nothing.
    let (status, _) = into_json(
        app.client()
            .put(app.url(&path))
            .json(&own)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = shop.owner_b.put(&path, own.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut bad = own.clone();
    bad["bands"][1]["max_grams"] = json!(900);
    let (status, problem) = shop.owner_a.put(&path, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let mut bad = own.clone();
    bad["bands"][0]["elsewhere_vnd"] = json!(-1);
    let (status, _) = shop.owner_a.put(&path, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = shop.owner_a.put(&path, own.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, kept) = shop.owner_a.get(&path).await;
    assert_eq!(kept, own);

    let shopper = app.client();
    add(&shopper, &app, shop.product_a, 1).await;
    assert_eq!(
        parcels(&shopper, &app, Some("15")).await,
        vec![(500, json!("same_province"), 10_000)]
    );
    // 500.000 đ of goods: exactly the threshold ships free.
    add(&shopper, &app, shop.product_a, 1).await;
    assert_eq!(
        parcels(&shopper, &app, Some("79")).await,
        vec![(1000, json!("elsewhere"), 0)]
    );
    // Without a threshold: the band edge (3 kg), then a started kilogram past it.
    let mut no_threshold = own.clone();
    no_threshold["free_shipping_over_vnd"] = Value::Null;
    let (status, _) = shop.owner_a.put(&path, no_threshold).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parcels(&shopper, &app, Some("01")).await[0].2, 20_000);
    add(&shopper, &app, shop.product_a, 4).await;
    assert_eq!(
        parcels(&shopper, &app, Some("01")).await,
        vec![(3000, json!("same_region"), 25_000)]
    );
    add(&shopper, &app, shop.product_a, 1).await;
    assert_eq!(
        parcels(&shopper, &app, Some("01")).await,
        vec![(3500, json!("same_region"), 25_000 + 6_000)]
    );
}

#[tokio::test]
async fn an_order_ships_with_a_carrier_from_the_list_and_links_to_its_tracking_page() {
    let app = app().await;
    let shop = shop(&app).await;
    let buyer = app.user("nguoi-mua@example.vn").await;
    let (status, body) = buyer
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_a, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, done) = buyer.post("/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let order = done["orders"][0]["id"].as_i64().unwrap();
    notify(
        &app,
        "FT-SHIP-1",
        done["payment"]["amount_vnd"].as_i64().unwrap(),
        done["payment"]["reference"].as_str().unwrap(),
    )
    .await;
    let path = |action: &str| format!("/api/v1/orders/{order}/{action}");
    let (status, body) = shop.owner_a.post(&path("accept"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for refused in [
        json!({"carrier": "Xe khách Sao Việt", "tracking_number": "X123"}),
        json!({"carrier": "other", "tracking_number": "X123"}),
        json!({"carrier": "ghn", "tracking_number": ""}),
    ] {
        let (status, problem) = shop.owner_a.post(&path("ship"), refused.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused}: {problem}"
        );
    }
    let (status, shipped) = shop
        .owner_a
        .post(
            &path("ship"),
            json!({"carrier": "ghn", "tracking_number": "GHN8842"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    assert_eq!(shipped["carrier"], "GHN");
    assert_eq!(
        shipped["tracking_url"],
        "https://donhang.ghn.vn/?order_code=GHN8842"
    );
    let (status, html) = buyer.page(&format!("/orders/{order}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"href="https://donhang.ghn.vn/?order_code=GHN8842""#),
        "{html}"
    );
}

#[tokio::test]
async fn the_rate_table_is_edited_in_a_plain_form_by_its_cooperative_only() {
    let app = app().await;
    let shop = shop(&app).await;
    let page = format!("/workspace/cooperatives/{}/shipping", shop.coop_a);
    let (status, html) = shop.owner_a.page(&page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"name="band0_max" inputmode="numeric""#));
    assert!(
        html.contains(r#"value="18000""#),
        "the platform's table to start from"
    );
    let (status, _) = shop.owner_b.page(&page).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let fields = [
        ("band0_max", "2000"),
        ("band0_sp", "15.000"),
        ("band0_sr", "20000"),
        ("band0_el", "30000"),
        ("band1_max", ""),
        ("extra_sp", "1000"),
        ("extra_sr", "2000"),
        ("extra_el", "3000"),
        ("free_over", "1000000"),
    ];
    let response = shop.owner_b.form(&page, &fields).await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "a rival changes nothing"
    );
    let response = shop
        .owner_a
        .form(&page, &[("band0_max", "2000"), ("band0_sp", "-4")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = shop.owner_a.form(&page, &fields).await;
    assert!(response.status().is_redirection() || response.status().is_success());
    let (_, table) = shop
        .owner_a
        .get(&format!(
            "/api/v1/cooperatives/{}/shipping-rates",
            shop.coop_a
        ))
        .await;
    assert_eq!(table["bands"].as_array().unwrap().len(), 1);
    assert_eq!(table["bands"][0]["same_province_vnd"], 15_000);
    assert_eq!(table["extra_kg"]["elsewhere_vnd"], 3_000);
    assert_eq!(table["free_shipping_over_vnd"], 1_000_000);
}
