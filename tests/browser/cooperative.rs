//! The cooperative, on a phone: log in → create a product with a photo
//! → record a batch and a trace event → issue 50 stamps → download the label sheet → see the
//! orders and hand one to the carrier.

use ocop_market::entities::{batches, orders, products, stamps, trace_events};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::driver::{self, Browser, Setup};
use crate::support::TestApp;
use crate::world::{self, t};

const COOP: &str = "HTX Chè Shan tuyết Bảo Thắng";
const NEW_PRODUCT: &str = "Chè Shan tuyết cổ thụ Bảo Thắng";

#[tokio::test]
async fn a_cooperative_lists_a_product_stamps_a_batch_and_ships_an_order() {
    let app = world::app().await;
    let (coop, order) = cooperative_with_a_paid_order(&app).await;
    let Some(browser) = driver::open(&app.base, Setup::phone("cooperative", true, "vi")).await
    else {
        return;
    };
    browser
        .run(move |b| async move { walk(b, app, coop, order).await })
        .await;
}

/// A verified cooperative with a product on sale and one paid order from a shopper (placed
/// and paid through the API); returns the cooperative's and the order's ids.
async fn cooperative_with_a_paid_order(app: &TestApp) -> (i64, i64) {
    let admin = app.admin().await;
    let owner = app.user("chu.nhiem@htx.vn").await;
    let coop = world::verified_cooperative(&admin, &owner, "5300999001", COOP, "02923").await;
    let on_sale = world::published_product(&owner, coop, "Chè xanh Bảo Thắng", 120_000).await;
    let shopper = app.user("hoa@example.vn").await;
    let (status, cart) = shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": on_sale, "quantity": 3}),
        )
        .await;
    assert!(status.is_success(), "{cart}");
    let (status, checkout) = shopper
        .post(
            "/api/v1/checkout",
            json!({"recipient_name": "Trần Văn Hòa", "recipient_phone": "0987 654 321",
                   "province_code": "01", "commune_code": "00004", "street": "12 Phố Đội Cấn"}),
        )
        .await;
    assert!(status.is_success(), "{checkout}");
    let reference = checkout["payment"]["reference"].as_str().unwrap();
    let amount = checkout["payment"]["amount_vnd"].as_i64().unwrap();
    world::bank_notification(app, "FT25330COOP", amount, reference).await;
    let order = checkout["orders"][0]["id"].as_i64().unwrap();
    (coop, order)
}

async fn walk(mut b: Browser, app: TestApp, coop: i64, order: i64) {
    let lang = b.setup.lang;
    world::log_in(&mut b, "chu.nhiem@htx.vn").await;
    b.assert_javascript_state().await;
    let workspace = b.link_in("nav", t(lang, "nav.workspace")).await;
    b.click(workspace).await;
    b.click_link(COOP).await;
    assert_eq!(b.path().await, format!("/workspace/cooperatives/{coop}"));
    b.shot("workspace").await;

    // A new product, as a digital-team helper would type it on a phone.
    b.click_link(t(lang, "workspace.new_product")).await;
    b.fill("name", NEW_PRODUCT).await;
    b.fill("short_name", "Chè Shan tuyết").await;
    b.select("category_code", "food-tea").await;
    b.fill("price", "350000").await;
    b.fill("unit", "hộp 200 g").await;
    b.fill("stock_quantity", "60").await;
    b.fill(
        "description",
        "Chè búp từ cây cổ thụ trên 100 năm tuổi, sao tay.",
    )
    .await;
    b.shot("new-product").await;
    b.click_button(t(lang, "form.save")).await;
    let product = products::Entity::find()
        .filter(products::Column::Name.eq(NEW_PRODUCT))
        .one(app.db())
        .await
        .unwrap()
        .expect("the product was saved");
    assert_eq!(product.price_vnd, 350_000);
    assert_eq!(product.stock_quantity, 60);
    assert_eq!(
        b.path().await,
        format!("/workspace/products/{}", product.id)
    );
    b.click_button(t(lang, "product_form.publish")).await;
    let product = products::Entity::find_by_id(product.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(product.status, "published");
    b.sees(t(lang, "product_form.view_public")).await;
    b.shot("product-published").await;
    add_a_product_photo(&mut b, product.id).await;

    // A batch (lot) of the product.
    b.click_link(t(lang, "batch.new")).await;
    b.fill("lot_code", "st-2025-11").await;
    b.fill("quantity", "200").await;
    b.fill("quantity_unit", "hộp").await;
    b.fill("certifications", "VietGAP").await;
    b.shot("new-batch").await;
    b.click_button(t(lang, "form.save")).await;
    let batch = batches::Entity::find()
        .filter(batches::Column::ProductId.eq(product.id))
        .one(app.db())
        .await
        .unwrap()
        .expect("the batch was saved");
    assert_eq!(batch.lot_code, "ST-2025-11", "lot codes are upper-cased");
    assert_eq!(b.path().await, format!("/workspace/batches/{}", batch.id));

    // A trace event, happening now: the form starts at the current time in Vietnam.
    let before = chrono::Utc::now() - chrono::Duration::minutes(1);
    b.select("event_type", "packing").await;
    b.fill("actor", "Tổ chế biến thôn Cóc 2").await;
    b.fill("note", "Đóng hộp giấy 200 g.").await;
    b.shot("new-event").await;
    b.click_button(t(lang, "batch.add_event")).await;
    b.sees(t(lang, "batch.notice_event")).await;
    b.sees("Tổ chế biến thôn Cóc 2").await;
    let events = trace_events::Entity::find()
        .filter(trace_events::Column::BatchId.eq(batch.id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "packing");
    assert_eq!(events[0].utc_offset, "+07:00");
    assert!(
        events[0].occurred_at >= before && events[0].occurred_at <= chrono::Utc::now(),
        "recorded at the current minute: {}",
        events[0].occurred_at
    );
    b.shot("event-recorded").await;

    // Fifty stamps (the form's default count).
    assert_eq!(
        b.find("#count")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("50")
    );
    b.click_button(t(lang, "stamps.issue")).await;
    b.sees(t(lang, "batch.notice_issued")).await;
    b.sees("1–50").await;
    let issued = stamps::Entity::find()
        .filter(stamps::Column::BatchId.eq(batch.id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(issued, 50);
    b.shot("stamps-issued").await;

    // The label sheet, fetched as this browser (its session cookie) would download it.
    let sheet = b.find("main a[href$=\"/labels.pdf\"]").await;
    let href = sheet.attr("href").await.unwrap().unwrap();
    let response = reqwest::Client::new()
        .get(b.url(&href))
        .header("cookie", b.cookie_header().await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/pdf"
    );
    let pdf = response.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    assert!(pdf.len() > 2_000, "a sheet of labels, {} bytes", pdf.len());

    // The orders desk: accept the paid order, then hand it to the carrier.
    let back = b.link(NEW_PRODUCT).await;
    b.click(back).await;
    b.click_link(COOP).await;
    b.click_link(t(lang, "order.cooperative_orders")).await;
    b.sees("Trần Văn Hòa").await;
    b.sees(t(lang, "order.status_paid")).await;
    b.shot("orders").await;
    b.click_button(t(lang, "order.accept")).await;
    b.sees(t(lang, "order.status_accepted")).await;
    b.select(&format!("carrier{order}"), "viettel_post").await;
    b.fill(&format!("tracking{order}"), "VTP25112233").await;
    b.shot("order-accepted").await;
    b.click_button(t(lang, "order.ship")).await;
    b.sees(t(lang, "order.status_shipped")).await;
    b.shot("order-shipped").await;
    let shipped = orders::Entity::find_by_id(order)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shipped.status, "shipped");
    assert_eq!(shipped.carrier.as_deref(), Some("Viettel Post"));
    assert_eq!(shipped.tracking_number.as_deref(), Some("VTP25112233"));
}

/// The photo step of the journey: the product page's upload form (multipart, file field
/// `photo`) takes a photo from the phone and the page shows it back, resized, with a srcset.
async fn add_a_product_photo(b: &mut Browser, product: i64) {
    let action = format!("/workspace/products/{product}/photos");
    let mut png = Vec::new();
    image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    })
    .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
    .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("che-shan-tuyet.png");
    std::fs::write(&file, png).unwrap();
    b.find(&format!(
        "form[action=\"{action}\"] input[type=file][name=photo]"
    ))
    .await
    .send_keys(&file.display().to_string())
    .await
    .unwrap();
    b.shot("photo-chosen").await;
    let submit = b
        .find(&format!("form[action=\"{action}\"] button[type=submit]"))
        .await;
    b.click(submit).await;
    let shown = b.find("ol.photos img[src^='/media/photos/']").await;
    let srcset = shown.attr("srcset").await.unwrap().unwrap_or_default();
    assert!(
        srcset.contains(" 320w") && srcset.contains(" 640w"),
        "variants: {srcset}"
    );
    b.shot("photo-uploaded").await;
}
