//! Product variants (issue 18): sizes with their own price, stock, weight and SKU; the cart,
//! checkout, stock, batches and the migration of existing products, over real HTTP.

use std::collections::BTreeMap;

use ocop_market::entities::{
    batches, cart_items, order_items, orders, product_variants, products, stock_adjustments,
};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::checkout::{address, app, futures_join_all, get, post, shop};
use crate::support::{TestApp, User, into_json};

async fn add_variant(owner: &User, product: i64, body: Value) -> Value {
    let (status, variant) = owner
        .post(&format!("/api/v1/products/{product}/variants"), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{variant}");
    variant
}

async fn variants_of(app: &TestApp, product: i64) -> Vec<product_variants::Model> {
    product_variants::Entity::find()
        .filter(product_variants::Column::ProductId.eq(product))
        .order_by_asc(product_variants::Column::Position)
        .all(app.db())
        .await
        .unwrap()
}

async fn product_row(app: &TestApp, product: i64) -> products::Model {
    products::Entity::find_by_id(product)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app.client().get(app.url(path)).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn put(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    into_json(client.put(app.url(path)).json(&body).send().await.unwrap()).await
}

/// The product's stock is the sum of its variants' stock, its price the lowest.
async fn assert_summary_follows(app: &TestApp, product: i64) {
    let variants = variants_of(app, product).await;
    let row = product_row(app, product).await;
    assert_eq!(
        row.stock_quantity,
        variants.iter().map(|v| v.stock_quantity).sum::<i64>()
    );
    assert_eq!(
        row.price_vnd,
        variants.iter().map(|v| v.price_vnd).min().unwrap()
    );
    assert_eq!(
        row.max_price_vnd,
        variants.iter().map(|v| v.price_vnd).max().unwrap()
    );
}

#[tokio::test]
async fn a_product_sells_in_sizes_each_with_its_own_price_stock_and_order_lines() {
    let app = app().await;
    let shop = shop(&app).await;
    // A new product has one variant: its own price, unit and stock.
    let (status, detail) = get(
        &app.client(),
        &app,
        &format!("/api/v1/products/{}", shop.product_a),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let variants = detail["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 1);
    assert_eq!(variants[0]["label"], "chai 500 ml");
    assert_eq!(variants[0]["price_vnd"], 250_000);
    assert_eq!(variants[0]["stock_quantity"], 40);
    assert_eq!(variants[0]["weight_grams"], 500);
    let first = variants[0]["id"].as_i64().unwrap();
    assert_eq!(detail["price_varies"], false);

    let small = add_variant(
        &shop.owner_a,
        shop.product_a,
        json!({"label": "Chai 250 ml", "price_vnd": 120_000, "weight_grams": 400,
               "sku": "MO-250", "stock_quantity": 8}),
    )
    .await;
    assert_eq!(small["price_display"], "120.000 ₫");
    assert_eq!(small["gtin"], Value::Null);
    let small_id = small["id"].as_i64().unwrap();
    let gift = add_variant(
        &shop.owner_a,
        shop.product_a,
        json!({"label": "Hộp quà 3 chai", "price_vnd": 700_000, "weight_grams": 2200,
               "stock_quantity": 2}),
    )
    .await;
    let gift_id = gift["id"].as_i64().unwrap();
    assert_summary_follows(&app, shop.product_a).await;

    // Lists say "from" the lowest price; the page offers every size without JavaScript.
    let (_, list) = get(&app.client(), &app, "/api/v1/products").await;
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == shop.product_a)
        .unwrap()
        .clone();
    assert_eq!(listed["price_vnd"], 120_000);
    assert_eq!(listed["price_varies"], true);
    let (_, html) = page(&app, "/products").await;
    assert!(html.contains("từ 120.000 ₫"), "the list says from");
    let slug = listed["slug"].as_str().unwrap();
    let (status, html) = page(&app, &format!("/products/{slug}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!(r#"name="variant_id" value="{small_id}""#)));
    assert!(html.contains("Hộp quà 3 chai"));

    // Two sizes of one product are two cart lines with their own prices.
    let shopper = app.client();
    let (status, cart) = post(
        &shopper,
        &app,
        "/api/v1/cart/items",
        json!({"variant_id": small_id, "quantity": 3}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    let (status, cart) = post(
        &shopper,
        &app,
        "/api/v1/cart/items",
        json!({"product_id": shop.product_a, "variant_id": gift_id, "quantity": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    let lines = cart["groups"][0]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["variant_id"], small_id);
    assert_eq!(lines[0]["unit"], "Chai 250 ml");
    assert_eq!(lines[0]["unit_price_vnd"], 120_000);
    assert_eq!(lines[1]["unit_price_vnd"], 700_000);
    assert_eq!(cart["groups"][0]["subtotal_vnd"], 3 * 120_000 + 700_000);
    // More than a size has is not available, though another size has plenty.
    let (status, cart) = put(
        &shopper,
        &app,
        &format!("/api/v1/cart/items/{}", shop.product_a),
        json!({"variant_id": gift_id, "quantity": 3}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    assert_eq!(cart["ready"], false);
    let (status, _) = put(
        &shopper,
        &app,
        &format!("/api/v1/cart/items/{}", shop.product_a),
        json!({"variant_id": gift_id, "quantity": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, checkout) = post(&shopper, &app, "/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{checkout}");
    let items = order_items::Entity::find()
        .order_by_asc(order_items::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        (
            items[0].variant_id,
            items[0].unit.as_str(),
            items[0].unit_price_vnd,
            items[0].quantity
        ),
        (small_id, "Chai 250 ml", 120_000, 3)
    );
    assert_eq!(
        (
            items[1].variant_id,
            items[1].unit.as_str(),
            items[1].line_total_vnd
        ),
        (gift_id, "Hộp quà 3 chai", 700_000)
    );
    let stock: BTreeMap<i64, i64> = variants_of(&app, shop.product_a)
        .await
        .into_iter()
        .map(|v| (v.id, v.stock_quantity))
        .collect();
    assert_eq!(stock[&first], 40, "the size not bought keeps its stock");
    assert_eq!(stock[&small_id], 5);
    assert_eq!(stock[&gift_id], 1);
    assert_summary_follows(&app, shop.product_a).await;

    // Cancelling the unpaid checkout gives each size its units back.
    let payment_url = checkout["payment_url"].as_str().unwrap();
    let (_, query) = payment_url.split_once('?').unwrap();
    let reference = checkout["payment"]["reference"].as_str().unwrap();
    let (status, body) = post(
        &shopper,
        &app,
        &format!("/api/v1/payments/{reference}/cancel?{query}"),
        json!({}),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let stock: BTreeMap<i64, i64> = variants_of(&app, shop.product_a)
        .await
        .into_iter()
        .map(|v| (v.id, v.stock_quantity))
        .collect();
    assert_eq!((stock[&small_id], stock[&gift_id]), (8, 2));
    assert_summary_follows(&app, shop.product_a).await;
}

#[tokio::test]
async fn variants_are_edited_and_stocked_only_by_their_cooperative() {
    let app = app().await;
    let shop = shop(&app).await;
    let small = add_variant(
        &shop.owner_a,
        shop.product_a,
        json!({"label": "Chai 250 ml", "price_vnd": 120_000, "stock_quantity": 3}),
    )
    .await;
    let small_id = small["id"].as_i64().unwrap();
    let path = format!("/api/v1/products/{}/variants", shop.product_a);
    let one = format!("{path}/{small_id}");
    let before = app.count(product_variants::Entity).await;

    // A stranger, a rival cooperative: nothing to see, nothing written.
    let (status, _) = post(
        &app.client(),
        &app,
        &path,
        json!({"label": "Giả", "price_vnd": 1000}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = shop
        .owner_b
        .post(&path, json!({"label": "Giả", "price_vnd": 1000}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = shop
        .owner_b
        .put(&one, json!({"label": "Giả", "price_vnd": 1000}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = shop
        .owner_b
        .post(
            &format!("/api/v1/products/{}/stock", shop.product_a),
            json!({"delta": 100, "reason": "rival", "variant_id": small_id}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A variant of another product is not this product's.
    let (status, problem) = shop
        .owner_b
        .post(
            &format!("/api/v1/products/{}/stock", shop.product_b),
            json!({"delta": 100, "reason": "nhập kho", "variant_id": small_id}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(app.count(product_variants::Entity).await, before);

    // Bad input is named field by field.
    let (status, problem) = shop
        .owner_a
        .post(
            &path,
            json!({"label": "", "price_vnd": -5, "weight_grams": 0, "stock_quantity": -1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    for field in ["label", "price_vnd", "weight_grams", "stock_quantity"] {
        assert!(
            crate::support::names_field(&problem, field),
            "{field}: {problem}"
        );
    }

    // Stock changes per variant; the product's sum follows; never below zero.
    let (status, adjusted) = shop
        .owner_a
        .post(
            &format!("/api/v1/products/{}/stock", shop.product_a),
            json!({"delta": 7, "reason": "nhập kho", "variant_id": small_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{adjusted}");
    assert_eq!(adjusted["stock_quantity"], 10);
    assert_eq!(adjusted["variant_id"], small_id);
    let (status, problem) = shop
        .owner_a
        .post(
            &format!("/api/v1/products/{}/stock", shop.product_a),
            json!({"delta": -11, "reason": "kiểm kho", "variant_id": small_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "insufficient_stock");
    assert_summary_follows(&app, shop.product_a).await;
    assert_eq!(
        product_row(&app, shop.product_a).await.stock_quantity,
        40 + 10
    );

    // An edit changes price and label, never stock.
    let (status, problem) = shop
        .owner_a
        .put(
            &one,
            json!({"label": "Chai 250 ml", "price_vnd": 110_000, "stock_quantity": 99}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, edited) = shop
        .owner_a
        .put(
            &one,
            json!({"label": "Chai nhỏ 250 ml", "price_vnd": 110_000, "weight_grams": 420}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["stock_quantity"], 10);
    assert_eq!(product_row(&app, shop.product_a).await.price_vnd, 110_000);
    // The product's form shows its first variant's price, not the lowest, so saving it
    // leaves the first size's price as it was.
    let (status, html) = shop
        .owner_a
        .page(&format!("/workspace/products/{}", shop.product_a))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"name="price" inputmode="numeric" required value="250000""#));
    let (status, body) = shop
        .owner_a
        .put(
            &format!("/api/v1/products/{}", shop.product_a),
            json!({"name": "Mật ong bạc hà Hà Giang", "category_code": "food-processed",
                   "price_vnd": 250_000, "unit": "chai 500 ml"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["price_vnd"], 110_000, "the lowest, for lists");
    assert_eq!(body["variants"][0]["price_vnd"], 250_000);
    assert_eq!(body["variants"][1]["price_vnd"], 110_000);

    // The first variant stays (it is the product's own price); a variant with orders stays.
    let first = variants_of(&app, shop.product_a).await[0].id;
    let (status, problem) = shop
        .owner_a
        .send(
            reqwest::Method::DELETE,
            &format!("{path}/{first}"),
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, _) = shop
        .owner_a
        .send(reqwest::Method::DELETE, &one, Value::Null)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_summary_follows(&app, shop.product_a).await;
    assert_eq!(product_row(&app, shop.product_a).await.stock_quantity, 40);
}

#[tokio::test]
async fn a_cart_refuses_a_variant_of_another_product() {
    let app = app().await;
    let shop = shop(&app).await;
    let other = variants_of(&app, shop.product_b).await[0].id;
    let shopper = app.client();
    let (status, problem) = post(
        &shopper,
        &app,
        "/api/v1/cart/items",
        json!({"product_id": shop.product_a, "variant_id": other, "quantity": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(crate::support::names_field(&problem, "variant_id"));
    let (status, problem) = post(
        &shopper,
        &app,
        "/api/v1/cart/items",
        json!({"variant_id": 987_654_321, "quantity": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(app.count(cart_items::Entity).await, 0);
}

#[tokio::test]
async fn two_hundred_buyers_racing_for_two_sizes_take_exactly_their_stock() {
    let app = app().await;
    let shop = shop(&app).await;
    crate::support::set_stock(app.db(), shop.product_a, 7).await;
    let small = add_variant(
        &shop.owner_a,
        shop.product_a,
        json!({"label": "Chai 250 ml", "price_vnd": 120_000, "stock_quantity": 5}),
    )
    .await;
    let small_id = small["id"].as_i64().unwrap();
    let first = variants_of(&app, shop.product_a).await[0].id;
    let mut buyers = Vec::new();
    for i in 0..200 {
        let client = app.client();
        let variant = if i % 2 == 0 { first } else { small_id };
        let (status, body) = post(
            &client,
            &app,
            "/api/v1/cart/items",
            json!({"variant_id": variant, "quantity": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        buyers.push((client, variant));
    }
    let attempts = buyers.iter().map(|(client, variant)| {
        let request = client.post(app.url("/api/v1/checkout")).json(&address());
        let variant = *variant;
        async move { (variant, into_json(request.send().await.unwrap()).await) }
    });
    let results = futures_join_all(attempts).await;
    let won = |v: i64| {
        results
            .iter()
            .filter(|(variant, (s, _))| *variant == v && *s == StatusCode::CREATED)
            .count()
    };
    let refused = results
        .iter()
        .filter(|(_, (s, body))| *s == StatusCode::CONFLICT && body["code"] == "out_of_stock")
        .count();
    assert_eq!(won(first), 7, "exactly the first size's stock is sold");
    assert_eq!(won(small_id), 5, "exactly the small size's stock is sold");
    assert_eq!(refused, 200 - 12, "everyone else hears it is sold out");
    let variants = variants_of(&app, shop.product_a).await;
    assert!(variants.iter().all(|v| v.stock_quantity == 0));
    assert_eq!(product_row(&app, shop.product_a).await.stock_quantity, 0);
    assert_eq!(app.count(orders::Entity).await, 12);
    let sold: i64 = order_items::Entity::find()
        .filter(order_items::Column::VariantId.eq(small_id))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|i| i.quantity)
        .sum();
    assert_eq!(sold, 5);
}

#[tokio::test]
async fn a_batch_is_of_one_size_and_its_origin_page_names_it() {
    let app = app().await;
    let shop = shop(&app).await;
    let small = add_variant(
        &shop.owner_a,
        shop.product_a,
        json!({"label": "Chai 250 ml", "price_vnd": 120_000, "stock_quantity": 5}),
    )
    .await;
    let small_id = small["id"].as_i64().unwrap();
    let (status, batch) = shop
        .owner_a
        .post(
            &format!("/api/v1/products/{}/batches", shop.product_a),
            json!({"lot_code": "MO-250-01", "quantity": "100", "quantity_unit": "chai",
                   "variant_id": small_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let row = batches::Entity::find_by_id(batch["id"].as_i64().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.variant_id, Some(small_id));
    // Another product's variant is refused.
    let other = variants_of(&app, shop.product_b).await[0].id;
    let (status, problem) = shop
        .owner_a
        .post(
            &format!("/api/v1/products/{}/batches", shop.product_a),
            json!({"lot_code": "MO-250-02", "quantity": "100", "quantity_unit": "chai",
                   "variant_id": other}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}

/// Rows of the tables the migration touches, as they were before it ran.
#[derive(Debug, PartialEq)]
struct Before {
    products: Vec<(i64, i64, i64, String)>,
    cart_items: Vec<(i64, i64, i64)>,
    order_items: Vec<(i64, i64, i64)>,
    batches: Vec<(i64, i64)>,
    adjustments: Vec<(i64, i64)>,
}

async fn rows_before(app: &TestApp) -> Before {
    let db = app.db();
    let backend = db.get_database_backend();
    let query = |sql: &str| sea_orm::Statement::from_string(backend, sql.to_owned());
    use sea_orm::ConnectionTrait;
    let ints = |row: &sea_orm::QueryResult, col: &str| row.try_get::<i64>("", col).unwrap();
    let products = db
        .query_all_raw(query(
            "SELECT id, price_vnd, stock_quantity, unit FROM products ORDER BY id",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                ints(r, "id"),
                ints(r, "price_vnd"),
                ints(r, "stock_quantity"),
                r.try_get::<String>("", "unit").unwrap(),
            )
        })
        .collect();
    let triples = |sql: &'static str| async move {
        db.query_all_raw(query(sql))
            .await
            .unwrap()
            .iter()
            .map(|r| (ints(r, "id"), ints(r, "product_id"), ints(r, "quantity")))
            .collect::<Vec<_>>()
    };
    let pairs = |sql: &'static str| async move {
        db.query_all_raw(query(sql))
            .await
            .unwrap()
            .iter()
            .map(|r| (ints(r, "id"), ints(r, "product_id")))
            .collect::<Vec<_>>()
    };
    Before {
        products,
        cart_items: triples("SELECT id, product_id, quantity FROM cart_items ORDER BY id").await,
        order_items: triples("SELECT id, product_id, quantity FROM order_items ORDER BY id").await,
        batches: pairs("SELECT id, product_id FROM batches ORDER BY id").await,
        adjustments: pairs("SELECT id, product_id FROM stock_adjustments ORDER BY id").await,
    }
}

#[tokio::test]
async fn the_migration_gives_every_existing_product_one_variant_and_loses_nothing() {
    use migrations::MigratorTrait;
    let app = app().await;
    // A copy of the demo database, with carts, orders and stock changes in it.
    ocop_market::seed::demo(app.db(), &app.state.reference, &app.state.signer)
        .await
        .unwrap();
    // The demo sells many of its products in two or three sizes.
    let mut sizes: BTreeMap<i64, usize> = BTreeMap::new();
    for v in product_variants::Entity::find()
        .all(app.db())
        .await
        .unwrap()
    {
        *sizes.entry(v.product_id).or_default() += 1;
    }
    let several = sizes.values().filter(|n| **n >= 2).count();
    assert!(several >= 100, "{several} demo products in several sizes");
    assert!(sizes.values().all(|n| *n <= 3));
    for (product, _) in sizes.iter().filter(|(_, n)| **n >= 2).take(20) {
        assert_summary_follows(&app, *product).await;
    }
    let shop = shop(&app).await;
    let (status, _) = shop
        .owner_a
        .post(
            &format!("/api/v1/products/{}/stock", shop.product_a),
            json!({"delta": 5, "reason": "nhập kho"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let buyer = app.client();
    for product in [shop.product_a, shop.product_b] {
        let (status, body) = post(
            &buyer,
            &app,
            "/api/v1/cart/items",
            json!({"product_id": product, "quantity": 2}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = post(&buyer, &app, "/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED);
    let waiting = app.client();
    let (status, _) = post(
        &waiting,
        &app,
        "/api/v1/cart/items",
        json!({"product_id": shop.product_a, "quantity": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Back to the schema before variants, then forward again.
    let applied = migrations::Migrator::get_applied_migrations(app.db())
        .await
        .unwrap();
    let from_end = applied
        .iter()
        .rev()
        .position(|m| m.name() == "m20261206_000018_product_variants")
        .unwrap() as u32
        + 1;
    migrations::Migrator::down(app.db(), Some(from_end))
        .await
        .unwrap();
    let before = rows_before(&app).await;
    assert!(before.products.len() > 150, "the demo catalogue is there");
    assert!(!before.cart_items.is_empty() && !before.order_items.is_empty());
    assert!(!before.batches.is_empty() && !before.adjustments.is_empty());
    migrations::Migrator::up(app.db(), None).await.unwrap();

    // Nothing lost: the same rows, each product now with exactly one variant carrying its
    // price, stock and unit, and every line pointing at it.
    assert_eq!(rows_before(&app).await, before);
    let variants = product_variants::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(variants.len(), before.products.len());
    let by_product: BTreeMap<i64, &product_variants::Model> =
        variants.iter().map(|v| (v.product_id, v)).collect();
    for (id, price, stock, unit) in &before.products {
        let v = by_product[id];
        assert_eq!(
            (v.price_vnd, v.stock_quantity, &v.label, v.position),
            (*price, *stock, unit, 0)
        );
        assert_eq!(product_row(&app, *id).await.max_price_vnd, *price);
    }
    for item in cart_items::Entity::find().all(app.db()).await.unwrap() {
        assert_eq!(item.variant_id, by_product[&item.product_id].id);
    }
    for item in order_items::Entity::find().all(app.db()).await.unwrap() {
        assert_eq!(item.variant_id, by_product[&item.product_id].id);
    }
    for batch in batches::Entity::find().all(app.db()).await.unwrap() {
        assert_eq!(batch.variant_id, Some(by_product[&batch.product_id].id));
    }
    for row in stock_adjustments::Entity::find()
        .all(app.db())
        .await
        .unwrap()
    {
        assert_eq!(row.variant_id, Some(by_product[&row.product_id].id));
    }
    // And the migrated shop still sells: the waiting cart checks out from the variant.
    let (status, body) = post(&waiting, &app, "/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        by_product[&shop.product_a].stock_quantity - 1,
        variants_of(&app, shop.product_a).await[0].stock_quantity
    );
    let (status, _) = get(&waiting, &app, "/api/v1/cart").await;
    assert_eq!(status, StatusCode::OK);
}

/// A product's GTIN, claim and claim status as raw columns (the entity no longer reads them).
async fn product_gtin_columns(
    app: &TestApp,
) -> Vec<(i64, Option<String>, Option<String>, Option<String>)> {
    use sea_orm::ConnectionTrait;
    let db = app.db();
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        "SELECT id, gtin, gtin_claim, gtin_status FROM products ORDER BY id",
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get::<i64>("", "id").unwrap(),
            r.try_get::<Option<String>>("", "gtin").unwrap(),
            r.try_get::<Option<String>>("", "gtin_claim").unwrap(),
            r.try_get::<Option<String>>("", "gtin_status").unwrap(),
        )
    })
    .collect()
}

#[tokio::test]
async fn the_gtin_migration_moves_each_products_gtin_to_its_first_size_and_loses_nothing() {
    use migrations::MigratorTrait;
    let app = app().await;
    ocop_market::seed::demo(app.db(), &app.state.reference, &app.state.signer)
        .await
        .unwrap();
    // The demo's extra sizes have GTINs of their own.
    let sized = product_variants::Entity::find()
        .filter(product_variants::Column::Position.gt(0))
        .filter(product_variants::Column::Gtin.is_not_null())
        .all(app.db())
        .await
        .unwrap();
    assert!(sized.len() >= 50, "{} extra sizes own a GTIN", sized.len());

    // Back to the schema where the product held the GTIN, then forward again.
    let applied = migrations::Migrator::get_applied_migrations(app.db())
        .await
        .unwrap();
    let from_end = applied
        .iter()
        .rev()
        .position(|m| m.name() == "m20261206_000023_variant_gtins")
        .unwrap() as u32
        + 1;
    migrations::Migrator::down(app.db(), Some(from_end))
        .await
        .unwrap();
    let before = product_gtin_columns(&app).await;
    let claimed: Vec<_> = before.iter().filter(|p| p.2.is_some()).collect();
    assert!(
        claimed.len() >= 50,
        "{} products claim a GTIN",
        claimed.len()
    );
    assert!(claimed.iter().any(|p| p.3.as_deref() == Some("owned")));
    migrations::Migrator::up(app.db(), None).await.unwrap();

    // Each product's GTIN, claim and status are its first size's now, and the product's own
    // columns are empty.
    for (id, gtin, claim, status) in &before {
        let first = &variants_of(&app, *id).await[0];
        assert_eq!(
            (&first.gtin, &first.gtin_claim, &first.gtin_status),
            (gtin, claim, status),
            "product {id}"
        );
        if let Some(gtin) = gtin {
            let parsed = ocop_market::domain::Gtin::parse(gtin).unwrap();
            let (product, variant) = ocop_market::catalog::gtins::trade_item(app.db(), &parsed)
                .await
                .unwrap()
                .expect("the GTIN still names a trade item");
            assert_eq!((product.id, variant.id), (*id, first.id));
        }
    }
    assert!(
        product_gtin_columns(&app)
            .await
            .iter()
            .all(|p| p.1.is_none() && p.2.is_none() && p.3.is_none())
    );
}

#[tokio::test]
async fn a_cooperative_sees_what_each_size_sold_and_a_rival_sees_nothing() {
    let app = app().await;
    let shop = shop(&app).await;
    let small = add_variant(
        &shop.owner_a,
        shop.product_a,
        json!({"label": "Chai 250 ml", "price_vnd": 120_000, "stock_quantity": 10}),
    )
    .await;
    let small_id = small["id"].as_i64().unwrap();
    let first = variants_of(&app, shop.product_a).await[0].id;
    // A paid order: 3 small and 1 big bottle.
    let paid = app.client();
    for (variant, quantity) in [(small_id, 3), (first, 1)] {
        let (status, body) = post(
            &paid,
            &app,
            "/api/v1/cart/items",
            json!({"variant_id": variant, "quantity": quantity}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, done) = post(&paid, &app, "/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let reference = done["payment"]["reference"].as_str().unwrap();
    let amount = done["payment"]["amount_vnd"].as_i64().unwrap();
    let (status, body) = crate::checkout::notify(
        &app,
        "FT-SALES-1",
        amount,
        &format!("CK {reference} mua mat ong"),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    // An unpaid checkout of 2 small bottles sold nothing.
    let unpaid = app.client();
    post(
        &unpaid,
        &app,
        "/api/v1/cart/items",
        json!({"variant_id": small_id, "quantity": 2}),
    )
    .await;
    let (status, _) = post(&unpaid, &app, "/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, sales) = shop
        .owner_a
        .get(&format!("/api/v1/cooperatives/{}/sales", shop.coop_a))
        .await;
    assert_eq!(status, StatusCode::OK, "{sales}");
    assert_eq!(sales["days"], 30);
    let sizes = sales["sizes"].as_array().unwrap();
    assert_eq!(sizes.len(), 2, "{sales}");
    assert_eq!(
        (
            &sizes[0]["variant_id"],
            &sizes[0]["units_sold"],
            &sizes[0]["goods_vnd"]
        ),
        (&json!(small_id), &json!(3), &json!(360_000)),
        "the best seller first: {sales}"
    );
    assert_eq!(sizes[0]["variant_label"], "Chai 250 ml");
    assert_eq!(
        sizes[0]["stock_quantity"],
        10 - 3 - 2,
        "reserved units left stock"
    );
    assert_eq!(
        (
            &sizes[1]["variant_id"],
            &sizes[1]["units_sold"],
            &sizes[1]["goods_vnd"]
        ),
        (&json!(first), &json!(1), &json!(250_000))
    );
    assert_eq!(
        (&sales["units_sold"], &sales["goods_vnd"]),
        (&json!(4), &json!(610_000))
    );

    // The page shows the same figures, without JavaScript.
    let (status, html) = shop
        .owner_a
        .page(&format!(
            "/workspace/cooperatives/{}/sales?days=7",
            shop.coop_a
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Bán theo cỡ"), "{html}");
    assert!(html.contains(&format!(r#"<tr id="v{small_id}">"#)));
    assert!(html.contains("360.000 ₫"));

    // A rival cooperative, a stranger and a bad window.
    let (status, _) = shop
        .owner_b
        .get(&format!("/api/v1/cooperatives/{}/sales", shop.coop_a))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(
        &app.client(),
        &app,
        &format!("/api/v1/cooperatives/{}/sales", shop.coop_a),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for days in ["0", "367", "abc", "-1"] {
        let (status, problem) = shop
            .owner_a
            .get(&format!(
                "/api/v1/cooperatives/{}/sales?days={days}",
                shop.coop_a
            ))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{days}: {problem}"
        );
        assert!(crate::support::names_field(&problem, "days"), "{problem}");
    }
    let (status, html) = shop
        .owner_a
        .page(&format!(
            "/workspace/cooperatives/{}/sales?days=abc",
            shop.coop_a
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="days-error""#));
}

/// Two members editing the prices of two sizes of one product at the same moment: the
/// product's "from" price and its highest price follow both edits, round after round.
#[tokio::test]
async fn simultaneous_price_edits_of_two_sizes_leave_the_right_price_range() {
    let app = app().await;
    let shop = shop(&app).await;
    let small = add_variant(
        &shop.owner_a,
        shop.product_a,
        json!({"label": "Chai 250 ml", "price_vnd": 120_000, "stock_quantity": 5}),
    )
    .await;
    let small_id = small["id"].as_i64().unwrap();
    let first = variants_of(&app, shop.product_a).await[0].id;
    let path = |id: i64| format!("/api/v1/products/{}/variants/{id}", shop.product_a);
    for round in 0..12_i64 {
        let (low, high) = (100_000 + round * 1_000, 300_000 + round * 1_000);
        let (first_price, small_price) = if round % 2 == 0 {
            (high, low)
        } else {
            (low, high)
        };
        let (first_path, small_path) = (path(first), path(small_id));
        let ((s1, b1), (s2, b2)) = tokio::join!(
            shop.owner_a.put(
                &first_path,
                json!({"label": "chai 500 ml", "price_vnd": first_price, "stock_quantity": null}),
            ),
            shop.owner_a.put(
                &small_path,
                json!({"label": "Chai 250 ml", "price_vnd": small_price, "stock_quantity": null}),
            ),
        );
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{b1} {b2}");
        let row = product_row(&app, shop.product_a).await;
        assert_eq!(
            (row.price_vnd, row.max_price_vnd),
            (low, high),
            "round {round}"
        );
    }
}
