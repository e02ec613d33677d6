//! The cooperative closes the loop (issue 19): it ships a paid order from the lot it picks on the
//! ship form, recalls that lot from the batch page, and the stamp of the lot in a consumer's
//! hand reads "Recalled" with the reason and advice; the buyer is told, and the product is off
//! sale. On a 360 × 640 phone in Vietnamese, with JavaScript on and off.

use ocop_market::entities::{message_outbox, order_items, orders, recall_notices};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::driver::{self, Browser, Setup};
use crate::support::{TestApp, User};
use crate::world::{self, t};

const HONEY: &str = "Mật ong bạc hà Gia Phú";
const REASON: &str = "Mẫu kiểm nghiệm của lô có nấm men vượt mức";
const ADVICE: &str = "Không sử dụng; mang trả hợp tác xã để được hoàn tiền";

#[tokio::test]
async fn a_cooperative_ships_from_a_lot_and_recalls_it_with_javascript() {
    journey(true).await;
}

#[tokio::test]
async fn a_cooperative_ships_from_a_lot_and_recalls_it_without_javascript() {
    journey(false).await;
}

struct World {
    coop: i64,
    product: i64,
    older_lot: i64,
    newer_lot: i64,
    code: String,
    order: i64,
}

/// A lot of honey with a stamp, a second lot, and a buyer's paid order of two jars, accepted.
async fn world(app: &TestApp, owner: &User) -> World {
    let admin = app.admin().await;
    let coop =
        world::verified_cooperative(&admin, owner, "5300123456", "HTX Ong mật Gia Phú", "02923")
            .await;
    let product = world::published_product(owner, coop, HONEY, 250_000).await;
    let mut lots = Vec::new();
    for lot in ["MO-2025-10", "MO-2025-11"] {
        let (status, batch) = owner
            .post(
                &format!("/api/v1/products/{product}/batches"),
                json!({"lot_code": lot, "harvested_on": "2025-10-20", "quantity": "10",
                       "quantity_unit": "chai"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{batch}");
        lots.push(batch["id"].as_i64().unwrap());
    }
    let (status, roll) = owner
        .post(
            &format!("/api/v1/batches/{}/stamps", lots[0]),
            json!({"count": 1, "signed": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{roll}");
    let (_, stamps) = owner
        .get(&format!("/api/v1/batches/{}/stamps", lots[0]))
        .await;
    let code = stamps["items"][0]["code"].as_str().unwrap().to_owned();

    let buyer = app.user("lan@example.vn").await;
    let (status, cart) = buyer
        .post(
            "/api/v1/cart/items",
            json!({"product_id": product, "quantity": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    let (status, done): (StatusCode, Value) = buyer
        .post(
            "/api/v1/checkout",
            json!({"recipient_name": "Nguyễn Thị Lan", "recipient_phone": "0912 345 678",
                   "province_code": "15", "commune_code": "02923", "street": "Thôn Cóc 1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    world::bank_notification(
        app,
        "FT25340RECALL",
        done["payment"]["amount_vnd"].as_i64().unwrap(),
        done["payment"]["reference"].as_str().unwrap(),
    )
    .await;
    let order = done["orders"][0]["id"].as_i64().unwrap();
    let (status, body) = owner
        .post(&format!("/api/v1/orders/{order}/accept"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    World {
        coop,
        product,
        older_lot: lots[0],
        newer_lot: lots[1],
        code,
        order,
    }
}

async fn journey(javascript: bool) {
    let app = world::app().await;
    let owner = app.user("owner@htx.vn").await;
    let world = world(&app, &owner).await;
    let Some(browser) =
        driver::open(&app.base, Setup::small_phone("recall", javascript, "vi")).await
    else {
        return;
    };
    browser
        .run(move |b| async move { walk(b, app, world).await })
        .await;
}

async fn walk(mut b: Browser, app: TestApp, w: World) {
    world::log_in(&mut b, "owner@htx.vn").await;

    // The ship form offers the lots with units left, the oldest first and chosen.
    b.goto(&format!("/workspace/cooperatives/{}/orders", w.coop))
        .await;
    let line = order_items::Entity::find()
        .filter(order_items::Column::OrderId.eq(w.order))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let lot_field = format!("lot_{}", line.id);
    let chosen = b
        .find(&format!("select#{lot_field} option[selected]"))
        .await
        .attr("value")
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), Some(w.older_lot.to_string().as_str()));
    b.sees("còn 10").await;
    // The cooperative packs from the older lot (it could pick the newer one).
    b.select(&lot_field, &w.newer_lot.to_string()).await;
    b.select(&lot_field, &w.older_lot.to_string()).await;
    b.select(&format!("carrier{}", w.order), "vnpost").await;
    b.fill(&format!("tracking{}", w.order), "EL123456789VN")
        .await;
    b.shot("ship-form").await;
    let ship = b
        .find(&format!(
            r#"form[action="/workspace/orders/{}/ship"] button[type="submit"]"#,
            w.order
        ))
        .await;
    b.click(ship).await;
    b.sees("MO-2025-10").await;
    let shipped = orders::Entity::find_by_id(w.order)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shipped.status, "shipped");
    let line = order_items::Entity::find_by_id(line.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(line.batch_id, Some(w.older_lot), "the line records its lot");
    b.shot("shipped").await;

    // The lot turns out unsafe: the cooperative recalls it from its batch page.
    b.goto(&format!("/workspace/batches/{}", w.older_lot)).await;
    b.fill("recall_reason", REASON).await;
    b.fill("recall_advice", ADVICE).await;
    b.shot("recall-form").await;
    b.click_button(t("vi", "recall.submit")).await;
    b.sees(REASON).await;
    b.sees(t("vi", "recall.units_shipped")).await;
    b.shot("recalled").await;
    let notices = recall_notices::Entity::find()
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(
        notices, 1,
        "the buyer of the order from the lot is told once"
    );
    let told = message_outbox::Entity::find()
        .filter(message_outbox::Column::Template.eq("recall_notice"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(told, 1);

    // The stamp in a consumer's hand reads "Recalled", with the reason and advice.
    b.goto(&format!("/s/{}", w.code)).await;
    b.sees(t("vi", "scan.recalled_title")).await;
    b.sees(REASON).await;
    b.sees(ADVICE).await;
    b.does_not_see(t("vi", "scan.buy_link")).await;
    b.shot("stamp-recalled").await;
    // And the product is off sale.
    let slug = ocop_market::entities::products::Entity::find_by_id(w.product)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .slug;
    b.goto(&format!("/products/{slug}")).await;
    b.sees(t("vi", "product.recalled_title")).await;
    b.does_not_see(t("vi", "cart.add")).await;
    b.shot("product-withdrawn").await;
}
