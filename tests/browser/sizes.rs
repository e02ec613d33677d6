//! The shopper picks a size on the product page, sees each parcel's delivery fee change with
//! the province picked in the cart, pays, and once the cooperative has delivered, reviews what
//! she bought (issue 18), on a 360 × 640 phone with JavaScript on and off.

use ocop_market::config::{BankWebhookConfig, Secret};
use ocop_market::domain::shipping::RateTable;
use ocop_market::entities::{orders, payments, products};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::driver::{self, Browser, Setup};
use crate::support::{TestApp, User};
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
    app.user("lan@example.vn").await;
    let Some(browser) =
        driver::open(&app.base, Setup::small_phone("sizes", javascript, "vi")).await
    else {
        return;
    };
    browser
        .run(move |b| async move { walk(b, app, owner, slug, small).await })
        .await;
}

async fn walk(mut b: Browser, app: TestApp, owner: User, slug: String, small: i64) {
    world::log_in(&mut b, "lan@example.vn").await;
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

    // Checkout to Lào Cai, and the bank's notification pays it.
    b.select("province_code", "15").await;
    b.click_button(t("vi", "shipping.reprice")).await;
    b.click_link(t("vi", "cart.checkout")).await;
    b.select("province_pick", "15").await;
    b.click_button(t("vi", "checkout.choose_province")).await;
    b.select("commune_code", "02923").await;
    b.fill("street", "Thôn Cóc 1").await;
    b.fill("recipient_name", "Nguyễn Thị Lan").await;
    b.fill("recipient_phone", "0912 345 678").await;
    b.click_button(t("vi", "checkout.submit")).await;
    assert!(
        b.path().await.starts_with("/payments/"),
        "{}",
        b.path().await
    );
    let payment = payments::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .expect("the checkout made a payment");
    assert_eq!(
        payment.amount_vnd,
        120_000 + 18_000,
        "the small bottle and its fee"
    );
    world::bank_notification(
        &app,
        "FT25340SIZES",
        payment.amount_vnd,
        &format!("NGUYEN THI LAN {}", payment.reference),
    )
    .await;
    let order = orders::Entity::find()
        .filter(orders::Column::PaymentId.eq(payment.id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.status, "paid");
    assert_eq!(order.shipping_zone.as_deref(), Some("same_province"));

    // The cooperative accepts, ships and delivers it.
    for (step, body) in [
        ("accept", json!({})),
        (
            "ship",
            json!({"carrier": "vnpost", "tracking_number": "EL123456789VN"}),
        ),
        ("deliver", json!({})),
    ] {
        let (status, answer) = owner
            .post(&format!("/api/v1/orders/{}/{step}", order.id), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{step}: {answer}");
    }

    // The shopper reviews the small bottle from her order page.
    b.goto(&format!("/orders/{}", order.id)).await;
    b.sees(t("vi", "order.status_delivered")).await;
    b.sees("Chai 250 ml").await;
    let summary = b.find("details.review-form summary").await;
    b.click(summary).await;
    let item = ocop_market::entities::order_items::Entity::find()
        .filter(ocop_market::entities::order_items::Column::OrderId.eq(order.id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.variant_id, small, "the line is of the size she picked");
    b.select(&format!("stars-{}", item.id), "4").await;
    b.fill(
        &format!("body-{}", item.id),
        "Mật ong thơm, chai nhỏ vừa đủ dùng.",
    )
    .await;
    b.shot("review-form").await;
    b.click_button(t("vi", "review.submit")).await;
    b.sees(t("vi", "review.yours")).await;
    b.shot("reviewed").await;
    // Everyone sees it on the product page.
    b.goto(&format!("/products/{slug}")).await;
    b.sees("Mật ong thơm, chai nhỏ vừa đủ dùng.").await;
    b.sees("★★★★☆").await;
    b.assert_fits_the_screen().await;
}
