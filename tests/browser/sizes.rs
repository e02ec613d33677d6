//! The shopper picks a size on the product page and sees each parcel's delivery fee change
//! with the province picked in the cart (issue 18), with JavaScript on and off.

use ocop_market::config::{BankWebhookConfig, Secret};
use ocop_market::domain::shipping::RateTable;
use ocop_market::entities::products;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::driver::{self, Browser, Setup};
use crate::support::TestApp;
use crate::world::{self, t};

const HONEY: &str = "Mật ong bạc hà Gia Phú";

#[tokio::test]
async fn a_shopper_picks_a_size_and_sees_the_fee_follow_the_province_with_javascript() {
    journey(true).await;
}

#[tokio::test]
async fn a_shopper_picks_a_size_and_sees_the_fee_follow_the_province_without_javascript() {
    journey(false).await;
}

async fn journey(javascript: bool) {
    // The platform's real rate table (the other journeys use one flat fee).
    let app = TestApp::spawn_with(|config| {
        config.commerce.bank_webhook =
            Some(BankWebhookConfig::generic(Secret::new(world::BANK_SECRET)));
        config.commerce.default_shipping_rates = RateTable::platform_default();
    })
    .await;
    let admin = app.admin().await;
    let owner = app.user("a@htx.vn").await;
    let coop =
        world::verified_cooperative(&admin, &owner, "5100000001", "HTX Ong mật Gia Phú", "02923")
            .await;
    let product = world::published_product(&owner, coop, HONEY, 250_000).await;
    let (status, small) = owner
        .post(
            &format!("/api/v1/products/{product}/variants"),
            json!({"label": "Chai 250 ml", "price_vnd": 120_000, "weight_grams": 400,
                   "stock_quantity": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{small}");
    let small = small["id"].as_i64().unwrap();
    let slug = products::Entity::find_by_id(product)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .slug;
    let Some(browser) = driver::open(&app.base, Setup::phone("sizes", javascript, "vi")).await
    else {
        return;
    };
    browser
        .run(move |b| async move { walk(b, slug, small).await })
        .await;
}

async fn walk(mut b: Browser, slug: String, small: i64) {
    b.goto(&format!("/products/{slug}")).await;
    b.assert_javascript_state().await;
    b.sees("từ 120.000").await;
    b.sees("Chai 250 ml").await;
    b.shot("sizes").await;
    let radio = b
        .find(&format!(r#"input[name="variant_id"][value="{small}"]"#))
        .await;
    radio.click().await.expect("pick the small bottle");
    b.fill("quantity", "1").await;
    b.click_button(t("vi", "cart.add")).await;
    assert_eq!(b.path().await, "/cart");
    b.sees("Chai 250 ml").await;
    b.sees("120.000").await;
    // A 400 g parcel from Lào Cai: within the province, then across the country.
    b.select("province_code", "15").await;
    b.click_button(t("vi", "shipping.reprice")).await;
    b.sees("Nội tỉnh").await;
    b.sees("18.000").await;
    b.shot("cart-lao-cai").await;
    b.select("province_code", "79").await;
    b.click_button(t("vi", "shipping.reprice")).await;
    b.sees("Liên vùng").await;
    b.sees("32.000").await;
    b.shot("cart-ho-chi-minh").await;
}
