//! The consumer: a phone camera opens the stamp's URL on a small, cheap phone → the verdict and
//! the origin → a report of a suspected fake → the thanks; then the buy link to the product.

use ocop_market::entities::fake_reports;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::driver::{self, Browser, Setup};
use crate::support::TestApp;
use crate::world::{self, t};

const PRODUCT: &str = "Mật ong bạc hà Gia Phú";

#[tokio::test]
async fn a_consumer_checks_a_stamp_and_reports_a_fake_on_a_small_phone_with_javascript() {
    journey(true).await;
}

#[tokio::test]
async fn a_consumer_checks_a_stamp_and_reports_a_fake_on_a_small_phone_without_javascript() {
    journey(false).await;
}

/// A verified cooperative's published honey, one batch with a trace event, and one stamp;
/// returns the stamp's code.
async fn stamped_product(app: &TestApp) -> String {
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop =
        world::verified_cooperative(&admin, &owner, "5300123456", "HTX Ong mật Gia Phú", "02923")
            .await;
    let product = world::published_product(&owner, coop, PRODUCT, 250_000).await;
    let (status, batch) = owner
        .post(
            &format!("/api/v1/products/{product}/batches"),
            json!({"lot_code": "MO-2025-11", "harvested_on": "2025-10-20", "best_before": "2027-10-20",
                   "quantity": "500", "quantity_unit": "chai", "certifications": "VietGAP"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let batch = batch["id"].as_i64().unwrap();
    let (status, event) = owner
        .post(
            &format!("/api/v1/batches/{batch}/events"),
            json!({"event_type": "packing", "occurred_at": "2025-10-25T14:00",
                   "actor": "Tổ sản xuất thôn Cóc 1", "note": "Đóng chai thủy tinh 500 ml."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let (status, roll) = owner
        .post(
            &format!("/api/v1/batches/{batch}/stamps"),
            json!({"count": 1, "signed": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{roll}");
    let (_, page) = owner.get(&format!("/api/v1/batches/{batch}/stamps")).await;
    page["items"][0]["code"].as_str().unwrap().to_owned()
}

async fn journey(javascript: bool) {
    let app = world::app().await;
    let code = stamped_product(&app).await;
    let Some(browser) =
        driver::open(&app.base, Setup::small_phone("consumer", javascript, "vi")).await
    else {
        return;
    };
    browser
        .run(move |b| async move { walk(b, app, code).await })
        .await;
}

async fn walk(mut b: Browser, app: TestApp, code: String) {
    let lang = b.setup.lang;
    // What the camera app opens: the URL printed in the QR code.
    b.goto(&format!("/s/{code}")).await;
    b.sees(t(lang, "scan.first_title")).await;
    b.sees(t(lang, "scan.first_text")).await;
    b.sees(PRODUCT).await;
    b.sees("HTX Ong mật Gia Phú").await;
    b.sees("Xã Gia Phú").await;
    b.sees("MO-2025-11").await;
    b.sees("Đóng chai thủy tinh 500 ml.").await;
    assert!(
        !b.find_all("section.verdict.ok").await.is_empty(),
        "a genuine verdict is shown as such"
    );
    b.shot("verdict-and-origin").await;

    // The opt-in position button exists only with JavaScript. Here the phone's answer to the
    // permission prompt is stood in for by a fixed position in Sa Pa; the page sends it
    // rounded to about a kilometre and says thank you.
    let share = b.find("#share-location").await;
    assert_eq!(
        share.is_displayed().await.unwrap(),
        b.setup.javascript,
        "the position button shows only with JavaScript"
    );
    if b.setup.javascript {
        b.client
            .execute(
                "navigator.geolocation.getCurrentPosition = function (ok) { \
                   ok({ coords: { latitude: 22.336123, longitude: 103.844987 } }); };",
                vec![],
            )
            .await
            .unwrap();
        b.click(share).await;
        b.sees(t(lang, "scan.location_thanks")).await;
        assert!(
            b.path().await.contains("lat=22.34&lon=103.84"),
            "rounded on the phone: {}",
            b.path().await
        );
        b.shot("position-shared").await;
    }

    // The report form is at the end of the page; an empty place is refused beside the field.
    b.click_button(t(lang, "scan.report_submit")).await;
    b.find("#place_of_purchase-error").await;
    assert_eq!(
        b.find("#place_of_purchase")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    b.shot("report-refused").await;
    b.fill("place_of_purchase", "Chợ Cốc Lếu").await;
    b.fill("seller", "Quầy số 12").await;
    b.select("report-province", "15").await;
    b.fill("note", "Tem in mờ, nắp chai khác.").await;
    b.shot("report-filled").await;
    b.click_button(t(lang, "scan.report_submit")).await;
    b.sees(t(lang, "scan.report_thanks")).await;
    b.shot("report-thanks").await;
    let reports = fake_reports::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].code, code);
    assert!(reports[0].stamp_id.is_some(), "the report names the stamp");
    assert_eq!(reports[0].place_of_purchase, "Chợ Cốc Lếu");
    assert_eq!(reports[0].seller, "Quầy số 12");
    assert_eq!(reports[0].province_code.as_deref(), Some("15"));

    // The origin page leads to the product, which loads app.js: JavaScript is as set.
    b.click_link(t(lang, "scan.buy_link")).await;
    b.sees(t(lang, "cart.add")).await;
    b.assert_javascript_state().await;
    b.shot("product").await;
}
