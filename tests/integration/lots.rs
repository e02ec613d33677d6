//! Packing records the lot: shipping an order names the lot each line left from (chosen, or
//! read from the stamps on the parcel), lot stock goes down and never below nothing, recalled
//! lots cannot ship, and the buyer never sees a stamp code.

use ocop_market::entities::{batch_recalls, batches, order_item_stamps, order_items, orders};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::checkout::{add, address, app, notify, post, shop};
use crate::support::{TestApp, User, into_json, names_field};

/// A lot of `product` holding `quantity` units (of `variant`, or the first when `None`).
async fn lot(owner: &User, product: i64, code: &str, quantity: i64, variant: Option<i64>) -> i64 {
    let mut body = json!({"lot_code": code, "quantity": quantity.to_string(),
                          "quantity_unit": "chai", "produced_on": "2026-11-01"});
    if let Some(variant) = variant {
        body["variant_id"] = json!(variant);
    }
    let (status, batch) = owner
        .post(&format!("/api/v1/products/{product}/batches"), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    batch["id"].as_i64().unwrap()
}

/// An order of `quantity` units of `product` by `buyer` (a logged-in client, or a visitor),
/// paid and accepted by `owner`; its id and its one line's id.
async fn accepted_order(
    app: &TestApp,
    owner: &User,
    buyer: &reqwest::Client,
    product: i64,
    quantity: i64,
    transaction: &str,
) -> (i64, i64) {
    let (status, cart) = add(buyer, app, product, quantity).await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    let (status, done) = post(buyer, app, "/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let (status, paid) = notify(
        app,
        transaction,
        done["payment"]["amount_vnd"].as_i64().unwrap(),
        done["payment"]["reference"].as_str().unwrap(),
    )
    .await;
    assert!(status.is_success(), "{paid}");
    let order = done["orders"][0]["id"].as_i64().unwrap();
    let item = done["orders"][0]["items"][0]["id"].as_i64().unwrap();
    let (status, body) = owner
        .post(&format!("/api/v1/orders/{order}/accept"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (order, item)
}

fn ship_body(lines: Value, stamp_codes: Value) -> Value {
    json!({"carrier": "ghn", "tracking_number": "GHN0001", "lines": lines, "stamp_codes": stamp_codes})
}

async fn batch_row(app: &TestApp, id: i64) -> batches::Model {
    batches::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn order_row(app: &TestApp, id: i64) -> orders::Model {
    orders::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn item_row(app: &TestApp, id: i64) -> order_items::Model {
    order_items::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

/// Nothing of a refused shipment was written: the order is still accepted, its line has no
/// lot, no stamp is packed and the lots hold what they held.
async fn nothing_written(app: &TestApp, order: i64, item: i64, lots: &[(i64, i64)]) {
    assert_eq!(order_row(app, order).await.status, "accepted");
    assert_eq!(item_row(app, item).await.batch_id, None);
    assert_eq!(app.count(order_item_stamps::Entity).await, 0);
    for (lot, shipped) in lots {
        assert_eq!(
            batch_row(app, *lot).await.quantity_shipped,
            *shipped,
            "lot {lot}"
        );
    }
}

#[tokio::test]
async fn shipping_with_lines_records_the_lot_and_refuses_lots_that_are_not_the_lines() {
    let app = app().await;
    let shop = shop(&app).await;
    let (status, small) = shop
        .owner_a
        .post(
            &format!("/api/v1/products/{}/variants", shop.product_a),
            json!({"label": "Chai 250 ml", "price_vnd": 120_000, "stock_quantity": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{small}");
    let own = lot(&shop.owner_a, shop.product_a, "MO-A1", 10, None).await;
    // A lot recorded before variants: of the product's first variant.
    batches::Entity::update_many()
        .col_expr(batches::Column::VariantId, Expr::value(Option::<i64>::None))
        .filter(batches::Column::Id.eq(own))
        .exec(app.db())
        .await
        .unwrap();
    let other_size = lot(
        &shop.owner_a,
        shop.product_a,
        "MO-250",
        10,
        small["id"].as_i64(),
    )
    .await;
    let rival = lot(&shop.owner_b, shop.product_b, "CHE-1", 10, None).await;
    let (order, item) = accepted_order(
        &app,
        &shop.owner_a,
        &app.client(),
        shop.product_a,
        3,
        "FT-LOT-1",
    )
    .await;
    let path = format!("/api/v1/orders/{order}/ship");
    let untouched = [(own, 0), (other_size, 0), (rival, 0)];

    for (lines, field) in [
        (
            json!([{"order_item_id": item, "batch_id": rival}]),
            "lines[0].batch_id",
        ),
        (
            json!([{"order_item_id": item, "batch_id": other_size}]),
            "lines[0].batch_id",
        ),
        (
            json!([{"order_item_id": item, "batch_id": 999_999}]),
            "lines[0].batch_id",
        ),
        (
            json!([{"order_item_id": item + 1000, "batch_id": own}]),
            "lines[0].order_item_id",
        ),
        (
            json!([{"order_item_id": item, "batch_id": own}, {"order_item_id": item, "batch_id": own}]),
            "lines[1].order_item_id",
        ),
    ] {
        let (status, problem) = shop
            .owner_a
            .post(&path, ship_body(lines.clone(), json!([])))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{lines}: {problem}"
        );
        assert!(names_field(&problem, field), "{lines}: {problem}");
        nothing_written(&app, order, item, &untouched).await;
    }
    // Another cooperative's stamp is not a stamp this parcel can carry.
    let rival_code = stamp_codes(&shop.owner_b, rival, 1).await.remove(0);
    let (status, problem) = shop
        .owner_a
        .post(&path, ship_body(json!([]), json!([rival_code])))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["code"], "unknown_stamp", "{problem}");
    assert!(names_field(&problem, "stamp_codes[0]"), "{problem}");
    assert!(!problem.to_string().contains(&rival_code));
    nothing_written(&app, order, item, &untouched).await;
    // Another cooperative cannot ship the order at all, even from its own lot.
    let (status, _) = shop
        .owner_b
        .post(
            &path,
            ship_body(
                json!([{"order_item_id": item, "batch_id": rival}]),
                json!([]),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    nothing_written(&app, order, item, &untouched).await;

    let (status, shipped) = shop
        .owner_a
        .post(
            &path,
            ship_body(json!([{"order_item_id": item, "batch_id": own}]), json!([])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    assert_eq!(shipped["status"], "shipped");
    assert_eq!(shipped["items"][0]["batch_id"], own);
    assert_eq!(shipped["items"][0]["lot_code"], "MO-A1");
    assert_eq!(item_row(&app, item).await.batch_id, Some(own));
    assert_eq!(batch_row(&app, own).await.quantity_shipped, 3);
    assert_eq!(batch_row(&app, other_size).await.quantity_shipped, 0);

    // The cooperative's order JSON and desk name the lot; the batch page counts what left.
    let (_, seen) = shop.owner_a.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(seen["items"][0]["lot_code"], "MO-A1");
    let (_, desk) = shop
        .owner_a
        .page(&format!("/workspace/cooperatives/{}/orders", shop.coop_a))
        .await;
    assert!(desk.contains("MO-A1"), "{desk}");
    let (status, page) = shop
        .owner_a
        .page(&format!("/workspace/batches/{own}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"lot-shipped\">3 chai<"), "{page}");
    assert!(page.contains("id=\"lot-remaining\">7 chai<"), "{page}");

    // An order shipped without lots (as before) records none.
    let (plain, plain_item) = accepted_order(
        &app,
        &shop.owner_a,
        &app.client(),
        shop.product_a,
        1,
        "FT-LOT-2",
    )
    .await;
    let (status, body) = shop
        .owner_a
        .post(
            &format!("/api/v1/orders/{plain}/ship"),
            json!({"carrier": "ghn", "tracking_number": "GHN0002"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"][0]["lot_code"], Value::Null);
    assert_eq!(item_row(&app, plain_item).await.batch_id, None);
    assert_eq!(batch_row(&app, own).await.quantity_shipped, 3);
}

#[tokio::test]
async fn two_shipments_racing_for_a_lot_never_take_more_than_it_holds() {
    let app = app().await;
    let shop = shop(&app).await;
    let scarce = lot(&shop.owner_a, shop.product_a, "MO-SCARCE", 5, None).await;
    let (first, first_item) = accepted_order(
        &app,
        &shop.owner_a,
        &app.client(),
        shop.product_a,
        3,
        "FT-RACE-1",
    )
    .await;
    let (second, second_item) = accepted_order(
        &app,
        &shop.owner_a,
        &app.client(),
        shop.product_a,
        3,
        "FT-RACE-2",
    )
    .await;
    let ship = |order: i64, item: i64| {
        shop.owner_a.post_owned(
            format!("/api/v1/orders/{order}/ship"),
            ship_body(
                json!([{"order_item_id": item, "batch_id": scarce}]),
                json!([]),
            ),
        )
    };
    let ((status_a, body_a), (status_b, body_b)) =
        tokio::join!(ship(first, first_item), ship(second, second_item));
    let mut statuses = [status_a, status_b];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{body_a} / {body_b}"
    );
    let (refused, refused_item, problem) = if status_a == StatusCode::CONFLICT {
        (first, first_item, body_a)
    } else {
        (second, second_item, body_b)
    };
    assert_eq!(problem["code"], "lot_exhausted", "{problem}");
    assert!(names_field(&problem, "lines[0].batch_id"), "{problem}");
    assert_eq!(batch_row(&app, scarce).await.quantity_shipped, 3);
    assert_eq!(order_row(&app, refused).await.status, "accepted");
    assert_eq!(item_row(&app, refused_item).await.batch_id, None);
}

/// The stamps of a lot, with their codes (the cooperative's own list).
async fn stamp_codes(owner: &User, batch: i64, count: i64) -> Vec<String> {
    let (status, roll) = owner
        .post(
            &format!("/api/v1/batches/{batch}/stamps"),
            json!({"count": count}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{roll}");
    let (_, page) = owner
        .get(&format!("/api/v1/batches/{batch}/stamps?per_page=100"))
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap().to_owned())
        .collect()
}

/// A phone photo of a parcel with the stamp on it: the stamp's own QR image laid on a larger
/// grey-and-white picture, saved as JPEG.
async fn photo_of_stamp(owner: &User, code: &str) -> Vec<u8> {
    let response = owner
        .client
        .get(owner.url(&format!("/api/v1/stamps/{code}/qr?format=png&size=300")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let qr = image::load_from_memory(&response.bytes().await.unwrap())
        .unwrap()
        .to_rgb8();
    let mut parcel = image::RgbImage::from_pixel(1000, 750, image::Rgb([205, 170, 125]));
    image::imageops::overlay(&mut parcel, &qr, 380, 220);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&parcel)
        .unwrap();
    jpeg
}

async fn ship_form(owner: &User, order: i64, form: Form) -> (StatusCode, String) {
    let response = owner
        .client
        .post(owner.url(&format!("/workspace/orders/{order}/ship")))
        .header("sec-fetch-site", "same-origin")
        .multipart(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn carrier_fields() -> Form {
    Form::new()
        .text("carrier", "ghn")
        .text("carrier_name", "")
        .text("tracking_number", "GHN0003")
}

#[tokio::test]
async fn a_photo_of_the_stamp_packs_it_and_sets_the_lot_and_the_buyer_never_sees_its_code() {
    let app = app().await;
    let shop = shop(&app).await;
    let stamped = lot(&shop.owner_a, shop.product_a, "MO-TEM", 10, None).await;
    let codes = stamp_codes(&shop.owner_a, stamped, 4).await;
    let buyer = app.user("buyer@lots.vn").await;
    let (order, item) = accepted_order(
        &app,
        &shop.owner_a,
        &buyer.client,
        shop.product_a,
        2,
        "FT-TEM-1",
    )
    .await;

    // The desk offers the lot, with what is left, picked for the line.
    let (_, desk) = shop
        .owner_a
        .page(&format!("/workspace/cooperatives/{}/orders", shop.coop_a))
        .await;
    assert!(desk.contains(&format!("name=\"lot_{item}\"")), "{desk}");
    assert!(
        desk.contains(&format!(
            "<option value=\"{stamped}\" selected>MO-TEM · 01/11/2026 · còn 10</option>"
        )),
        "{desk}"
    );
    assert!(desk.contains("capture=\"environment\""));

    // A typed code that is no code is shown beside the text area; nothing is written.
    let (status, page) = ship_form(
        &shop.owner_a,
        order,
        carrier_fields()
            .text(format!("lot_{item}"), "")
            .text("stamp_codes", "not a stamp"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"stamp_codes-error\""), "{page}");
    nothing_written(&app, order, item, &[(stamped, 0)]).await;

    let photo = photo_of_stamp(&shop.owner_a, &codes[0]).await;
    let (status, page) = ship_form(
        &shop.owner_a,
        order,
        carrier_fields()
            .text(format!("lot_{item}"), "")
            .text("stamp_codes", "")
            .part(
                "stamp_photos",
                Part::bytes(photo.clone())
                    .file_name("parcel.jpg")
                    .mime_str("image/jpeg")
                    .unwrap(),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(order_row(&app, order).await.status, "shipped");
    assert_eq!(item_row(&app, item).await.batch_id, Some(stamped));
    assert_eq!(batch_row(&app, stamped).await.quantity_shipped, 2);
    let packed = order_item_stamps::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(packed.len(), 1);
    assert_eq!(packed[0].order_item_id, item);

    // The same stamp on a second parcel is refused, by the API and by the form.
    let (second, second_item) = accepted_order(
        &app,
        &shop.owner_a,
        &app.client(),
        shop.product_a,
        2,
        "FT-TEM-2",
    )
    .await;
    let (status, problem) = shop
        .owner_a
        .post(
            &format!("/api/v1/orders/{second}/ship"),
            ship_body(json!([]), json!([codes[1], codes[0].to_lowercase()])),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "stamp_already_packed");
    assert!(names_field(&problem, "stamp_codes[1]"), "{problem}");
    assert!(!problem.to_string().contains(&codes[0]), "{problem}");
    let url = format!("{}/s/{}", app.url(""), codes[0]);
    let (status, page) = ship_form(
        &shop.owner_a,
        second,
        carrier_fields().text("stamp_codes", url),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("id=\"stamp_codes-error\""), "{page}");
    assert_eq!(order_row(&app, second).await.status, "accepted");
    assert_eq!(item_row(&app, second_item).await.batch_id, None);
    assert_eq!(app.count(order_item_stamps::Entity).await, 1);
    assert_eq!(batch_row(&app, stamped).await.quantity_shipped, 2);
    // A bad code is refused by its index.
    let (status, problem) = shop
        .owner_a
        .post(
            &format!("/api/v1/orders/{second}/ship"),
            ship_body(json!([]), json!([codes[1], "XYZ"])),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(names_field(&problem, "stamp_codes[1]"), "{problem}");
    // More stamps than units on a line is refused.
    let (status, problem) = shop
        .owner_a
        .post(
            &format!("/api/v1/orders/{second}/ship"),
            ship_body(json!([]), json!([codes[1], codes[2], codes[3]])),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["code"], "too_many_stamps", "{problem}");
    assert_eq!(app.count(order_item_stamps::Entity).await, 1);

    // The buyer sees the lot, never a stamp code: JSON, list and page.
    let (status, mine) = buyer.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["items"][0]["lot_code"], "MO-TEM");
    let (_, list) = buyer.get("/api/v1/orders").await;
    let (status, page) = buyer.page(&format!("/orders/{order}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("MO-TEM"), "{page}");
    for code in &codes {
        for shown in [mine.to_string(), list.to_string(), page.clone()] {
            assert!(
                !shown.contains(code.as_str()),
                "a stamp code reached the buyer"
            );
            assert!(!shown.to_lowercase().contains(&code.to_lowercase()));
        }
    }
}

#[tokio::test]
async fn nothing_ships_from_a_recalled_lot() {
    let app = app().await;
    let shop = shop(&app).await;
    let recalled = lot(&shop.owner_a, shop.product_a, "MO-RECALL", 10, None).await;
    let codes = stamp_codes(&shop.owner_a, recalled, 1).await;
    let (order, item) = accepted_order(
        &app,
        &shop.owner_a,
        &app.client(),
        shop.product_a,
        2,
        "FT-RECALL-1",
    )
    .await;
    let recall = batch_recalls::ActiveModel {
        batch_id: Set(recalled),
        cooperative_id: Set(shop.coop_a),
        reason: Set("Nhiễm khuẩn".into()),
        advice: Set("Không dùng; trả lại để hoàn tiền".into()),
        recalled_by: Set(shop.owner_a.id),
        by_administrator: Set(false),
        recalled_at: Set(chrono::Utc::now()),
        cleared_at: Set(None),
        cleared_by: Set(None),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    let path = format!("/api/v1/orders/{order}/ship");
    let (status, problem) = shop
        .owner_a
        .post(
            &path,
            ship_body(
                json!([{"order_item_id": item, "batch_id": recalled}]),
                json!([]),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "lot_recalled");
    assert!(names_field(&problem, "lines[0].batch_id"), "{problem}");
    let (status, problem) = shop
        .owner_a
        .post(&path, ship_body(json!([]), json!(codes)))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "lot_recalled");
    nothing_written(&app, order, item, &[(recalled, 0)]).await;
    // The desk does not offer it.
    let (_, desk) = shop
        .owner_a
        .page(&format!("/workspace/cooperatives/{}/orders", shop.coop_a))
        .await;
    assert!(!desk.contains("MO-RECALL"), "{desk}");

    // Once the cooperative confirms the rest is safe, it ships again.
    let mut cleared: batch_recalls::ActiveModel = recall.into();
    cleared.cleared_at = Set(Some(chrono::Utc::now()));
    cleared.cleared_by = Set(Some(shop.owner_a.id));
    cleared.update(app.db()).await.unwrap();
    let (status, body) = shop
        .owner_a
        .post(
            &path,
            ship_body(
                json!([{"order_item_id": item, "batch_id": recalled}]),
                json!([]),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(batch_row(&app, recalled).await.quantity_shipped, 2);
}

impl User {
    /// `post` with owned arguments, for requests sent at the same time.
    async fn post_owned(&self, path: String, body: Value) -> (StatusCode, Value) {
        into_json(
            self.client
                .post(self.url(&path))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}
