//! Verified reviews (only the buyer of a delivered order, once per line, within 90 days; the
//! selling cooperative answers once; anyone reports; an administrator hides) and the product
//! page's origin section (never a stamp code).

use ocop_market::entities::{order_events, products};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::checkout::{Shop, add, address, app, notify, post, shop};
use crate::support::{TestApp, User};

/// The buyer's order of `quantity` of `product`, paid; returns its id and its line's id.
async fn paid_order(app: &TestApp, buyer: &User, product: i64, reference_seq: &str) -> (i64, i64) {
    let (status, cart) = add(&buyer.client, app, product, 1).await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    let (status, done) = post(&buyer.client, app, "/api/v1/checkout", address()).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let order = done["orders"][0]["id"].as_i64().unwrap();
    let amount = done["payment"]["amount_vnd"].as_i64().unwrap();
    notify(
        app,
        reference_seq,
        amount,
        done["payment"]["reference"].as_str().unwrap(),
    )
    .await;
    let (status, body) = buyer.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let line = body["items"][0]["id"].as_i64().unwrap();
    (order, line)
}

/// Moves a paid order to delivered, as its cooperative does.
async fn deliver(owner: &User, order: i64) {
    let path = |action: &str| format!("/api/v1/orders/{order}/{action}");
    let (status, body) = owner.post(&path("accept"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = owner
        .post(
            &path("ship"),
            json!({"carrier": "Viettel Post", "tracking_number": "VTP9"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = owner.post(&path("deliver"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn review(buyer: &User, product: i64, line: i64, stars: i64) -> (StatusCode, Value) {
    buyer
        .post(
            &format!("/api/v1/products/{product}/reviews"),
            json!({"order_item_id": line, "stars": stars, "body": "Mật thơm, đóng chai cẩn thận."}),
        )
        .await
}

async fn rating(app: &TestApp, product: i64) -> Value {
    let (status, body) = app_get(app, &format!("/api/v1/products/{product}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["rating"].clone()
}

async fn app_get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    crate::checkout::get(&app.client(), app, path).await
}

struct Reviewed {
    app: TestApp,
    shop: Shop,
    buyer: User,
    order: i64,
    line: i64,
}

async fn delivered() -> Reviewed {
    let app = app().await;
    let shop = shop(&app).await;
    let buyer = app.user("buyer@mail.vn").await;
    let (order, line) = paid_order(&app, &buyer, shop.product_a, "FT-R1").await;
    Reviewed {
        app,
        shop,
        buyer,
        order,
        line,
    }
}

#[tokio::test]
async fn reviews_only_the_buyer_of_a_delivered_order_once_per_line() {
    let Reviewed {
        app,
        shop,
        buyer,
        order,
        line,
    } = delivered().await;
    let product = shop.product_a;

    // Paid but not delivered: refused.
    let (status, problem) = review(&buyer, product, line, 5).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "order_not_delivered");

    deliver(&shop.owner_a, order).await;

    // A stranger cannot review someone else's line; out-of-range stars are refused.
    let stranger = app.user("stranger@mail.vn").await;
    let (status, problem) = review(&stranger, product, line, 5).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, problem) = review(&buyer, product, line, 6).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    // The line belongs to another product: refused.
    let (status, _) = review(&buyer, shop.product_b, line, 4).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, created) = review(&buyer, product, line, 4).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["stars"], 4);
    assert_eq!(created["verified_purchase"], true);

    // A second review of the same line: refused, the rating counts one.
    let (status, problem) = review(&buyer, product, line, 1).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "already_reviewed");
    assert_eq!(
        rating(&app, product).await,
        json!({"average": 4.0, "count": 1})
    );

    // The list, the page and the product lists show it.
    let (status, page) = app_get(&app, &format!("/api/v1/products/{product}/reviews")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["body"], "Mật thơm, đóng chai cẩn thận.");
    let (_, list) = app_get(&app, "/api/v1/products").await;
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == product)
        .unwrap()
        .clone();
    assert_eq!(listed["rating"]["count"], 1);
    let slug = listed["slug"].as_str().unwrap().to_owned();
    let (status, html) = buyer.page(&format!("/products/{slug}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Mật thơm, đóng chai cẩn thận."), "{html}");
    // The order page shows the review beside its line instead of the form.
    let (_, html) = buyer.page(&format!("/orders/{order}")).await;
    assert!(html.contains(&format!("id=\"line-{line}\"")));
    assert!(!html.contains(&format!("/items/{line}/review")));
}

#[tokio::test]
async fn the_selling_cooperative_answers_once_and_no_other_can() {
    let Reviewed {
        app,
        shop,
        buyer,
        order,
        line,
    } = delivered().await;
    deliver(&shop.owner_a, order).await;
    let (_, created) = review(&buyer, shop.product_a, line, 5).await;
    let id = created["id"].as_i64().unwrap();
    let answer = |text: &str| json!({"answer": text});

    // Another cooperative, the buyer and a stranger cannot answer.
    let (status, _) = shop
        .owner_b
        .post(&format!("/api/v1/reviews/{id}/answer"), answer("Cảm ơn!"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = buyer
        .post(&format!("/api/v1/reviews/{id}/answer"), answer("Cảm ơn!"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(
        &app.client(),
        &app,
        &format!("/api/v1/reviews/{id}/answer"),
        answer("Cảm ơn!"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = shop
        .owner_a
        .post(
            &format!("/api/v1/reviews/{id}/answer"),
            answer("Cảm ơn chị đã tin dùng."),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["answer"], "Cảm ơn chị đã tin dùng.");
    let (status, problem) = shop
        .owner_a
        .post(&format!("/api/v1/reviews/{id}/answer"), answer("Lần nữa"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "already_answered");
}

#[tokio::test]
async fn a_hidden_review_leaves_the_average_and_only_administrators_hide() {
    let Reviewed {
        app,
        shop,
        buyer,
        order,
        line,
    } = delivered().await;
    deliver(&shop.owner_a, order).await;
    let (order_2, line_2) = paid_order(&app, &buyer, shop.product_a, "FT-R2").await;
    deliver(&shop.owner_a, order_2).await;
    let (_, first) = review(&buyer, shop.product_a, line, 5).await;
    let (status, second) = review(&buyer, shop.product_a, line_2, 2).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(
        rating(&app, shop.product_a).await,
        json!({"average": 3.5, "count": 2})
    );
    let id = second["id"].as_i64().unwrap();

    // Anyone may report it (no login needed).
    let (status, body) = post(
        &app.client(),
        &app,
        &format!("/api/v1/reviews/{id}/report"),
        json!({"reason": "Nội dung không đúng sự thật"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, _) = post(
        &app.client(),
        &app,
        &format!("/api/v1/reviews/{id}/report"),
        json!({"reason": ""}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A stranger, the buyer and the selling cooperative cannot hide it.
    let hide = json!({"reason": "Lời lẽ xúc phạm"});
    let stranger = app.user("stranger@mail.vn").await;
    for user in [&stranger, &buyer, &shop.owner_a] {
        let (status, _) = user
            .post(&format!("/api/v1/reviews/{id}/hide"), hide.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    assert_eq!(rating(&app, shop.product_a).await["count"], 2);

    let (status, body) = shop
        .admin
        .post(&format!("/api/v1/reviews/{id}/hide"), hide.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "hidden");
    assert_eq!(body["hidden_reason"], "Lời lẽ xúc phạm");
    // Gone from the average and the list; hiding again changes nothing.
    assert_eq!(
        rating(&app, shop.product_a).await,
        json!({"average": 5.0, "count": 1})
    );
    shop.admin
        .post(&format!("/api/v1/reviews/{id}/hide"), hide)
        .await;
    assert_eq!(rating(&app, shop.product_a).await["count"], 1);
    let (_, page) = app_get(
        &app,
        &format!("/api/v1/products/{}/reviews", shop.product_a),
    )
    .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], first["id"]);
    let stored = products::Entity::find_by_id(shop.product_a)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.rating_sum, stored.rating_count), (5, 1));
    // A hidden review can no longer be reported.
    let (status, _) = post(
        &app.client(),
        &app,
        &format!("/api/v1/reviews/{id}/report"),
        json!({"reason": "Nội dung không đúng"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_review_more_than_90_days_after_the_delivery_is_refused() {
    let Reviewed {
        app,
        shop,
        buyer,
        order,
        line,
    } = delivered().await;
    deliver(&shop.owner_a, order).await;
    // The delivery, 91 days ago.
    order_events::Entity::update_many()
        .col_expr(
            order_events::Column::At,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(91)),
        )
        .filter(order_events::Column::OrderId.eq(order))
        .filter(order_events::Column::Status.eq("delivered"))
        .exec(app.db())
        .await
        .unwrap();
    let (status, problem) = review(&buyer, shop.product_a, line, 5).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "review_window_closed");
    assert_eq!(rating(&app, shop.product_a).await["count"], 0);
}

#[tokio::test]
async fn a_review_from_the_order_page_carries_photos_through_the_pipeline() {
    let Reviewed {
        app,
        shop,
        buyer,
        order,
        line,
    } = delivered().await;
    deliver(&shop.owner_a, order).await;
    let (_, html) = buyer.page(&format!("/orders/{order}")).await;
    let action = format!("/orders/{order}/items/{line}/review");
    assert!(html.contains(&action), "the form beside the line: {html}");
    let photo = crate::photos::jpeg_with_exif(800, 600, 1);
    let form = reqwest::multipart::Form::new()
        .text("stars", "5")
        .text("body", "Ngon")
        .part(
            "photo",
            reqwest::multipart::Part::bytes(photo)
                .file_name("a.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let response = buyer
        .client
        .post(buyer.url(&action))
        .header("sec-fetch-site", "same-origin")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
    let (_, page) = app_get(
        &app,
        &format!("/api/v1/products/{}/reviews", shop.product_a),
    )
    .await;
    let photos = page["items"][0]["photos"].as_array().unwrap().clone();
    assert_eq!(photos.len(), 1, "{page}");
    assert!(photos[0]["srcset"].as_str().unwrap().contains("w, "));
    // A fourth photo through the API is refused.
    let id = page["items"][0]["id"].as_i64().unwrap();
    for expected in [
        StatusCode::CREATED,
        StatusCode::CREATED,
        StatusCode::UNPROCESSABLE_ENTITY,
    ] {
        let form = reqwest::multipart::Form::new().part(
            "photo",
            reqwest::multipart::Part::bytes(crate::photos::jpeg_with_exif(640, 480, 1))
                .file_name("b.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
        let response = buyer
            .client
            .post(buyer.url(&format!("/api/v1/reviews/{id}/photos")))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
    }
    // Someone else cannot add a photo to it.
    let form = reqwest::multipart::Form::new().part(
        "photo",
        reqwest::multipart::Part::bytes(crate::photos::jpeg_with_exif(640, 480, 1))
            .file_name("c.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let response = shop
        .owner_a
        .client
        .post(shop.owner_a.url(&format!("/api/v1/reviews/{id}/photos")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// Reported reviews wait in the administrators' queue: kept, they leave it until reported
/// again; hidden from the queue, they leave the rating; shown again, they count again. Nobody
/// but an administrator sees the queue or acts on it.
#[tokio::test]
async fn administrators_work_the_queue_of_reported_reviews_and_can_show_one_again() {
    let Reviewed {
        app,
        shop,
        buyer,
        order,
        line,
    } = delivered().await;
    let product = shop.product_a;
    deliver(&shop.owner_a, order).await;
    let (status, created) = review(&buyer, product, line, 2).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let report = |reason: &'static str| {
        let app = &app;
        async move {
            let (status, body) = crate::checkout::post(
                &app.client(),
                app,
                &format!("/api/v1/reviews/{id}/report"),
                json!({"reason": reason}),
            )
            .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        }
    };
    report("Quảng cáo sản phẩm khác").await;
    report("Lời lẽ xúc phạm").await;

    let admin = &shop.admin;
    let (status, queue) = admin.get("/api/v1/admin/reported-reviews").await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["reported"][0]["review"]["id"], id, "{queue}");
    assert_eq!(queue["reported"][0]["open_reports"], 2);
    assert_eq!(queue["reported"][0]["reasons"][0], "Lời lẽ xúc phạm");
    let (_, html) = admin.page("/admin").await;
    assert!(
        html.contains(&format!(r#"id="review-{id}""#)),
        "the admin page lists it"
    );

    // Nobody else sees or works the queue.
    for user in [&shop.owner_a, &buyer] {
        let (status, _) = user.get("/api/v1/admin/reported-reviews").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        for action in ["keep", "unhide"] {
            let (status, _) = user
                .post(&format!("/api/v1/reviews/{id}/{action}"), json!({}))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{action}");
        }
    }
    let (status, _) =
        crate::checkout::get(&app.client(), &app, "/api/v1/admin/reported-reviews").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Kept: it leaves the queue, and comes back with a new report.
    let (status, _) = admin
        .post(&format!("/api/v1/reviews/{id}/keep"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, queue) = admin.get("/api/v1/admin/reported-reviews").await;
    assert_eq!(queue["reported"], json!([]), "{queue}");
    report("Vẫn là quảng cáo").await;
    let (_, queue) = admin.get("/api/v1/admin/reported-reviews").await;
    assert_eq!(queue["reported"][0]["open_reports"], 1, "{queue}");

    // Hidden from the administrators' page: back to the queue, out of the rating.
    let response = admin
        .form(
            &format!("/reviews/{id}/hide"),
            &[("reason", "Quảng cáo"), ("back", "admin")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        "/admin#reviews"
    );
    assert_eq!(rating(&app, product).await["count"], 0);
    let (_, queue) = admin.get("/api/v1/admin/reported-reviews").await;
    assert_eq!(queue["reported"], json!([]));
    assert_eq!(queue["recently_hidden"][0]["review"]["id"], id);
    assert_eq!(
        queue["recently_hidden"][0]["review"]["hidden_reason"],
        "Quảng cáo"
    );

    // Shown again: it counts again, once, however often it is shown.
    for _ in 0..2 {
        let (status, shown) = admin
            .post(&format!("/api/v1/reviews/{id}/unhide"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert_eq!(shown["status"], "visible");
    }
    let rating = rating(&app, product).await;
    assert_eq!(
        (&rating["count"], &rating["average"]),
        (&json!(1), &json!(2.0))
    );
    let (status, _) = admin.post("/api/v1/reviews/999999/unhide", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
