//! Bad input gets a precise 4xx naming the field, and writes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    TestApp, User, cooperative_body, names_field, product_body, verified_cooperative,
};

async fn setup() -> (TestApp, User, i64, i64) {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã A").await;
    let (_, product) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            product_body("Mật ong"),
        )
        .await;
    let product = product["id"].as_i64().unwrap();
    (app, owner, coop, product)
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

#[tokio::test]
async fn bad_product_fields_are_named_and_nothing_is_written() {
    let (app, owner, coop, product) = setup().await;
    let create = format!("/api/v1/cooperatives/{coop}/products");
    let update = format!("/api/v1/products/{product}");
    let base = product_body("Mật ong bạc hà");
    let cases = [
        ("price_vnd", json!(-5000), StatusCode::UNPROCESSABLE_ENTITY),
        ("price_vnd", json!(0), StatusCode::UNPROCESSABLE_ENTITY),
        ("price_vnd", json!(12.5), StatusCode::UNPROCESSABLE_ENTITY),
        (
            "price_vnd",
            json!("250000"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("name", json!(""), StatusCode::UNPROCESSABLE_ENTITY),
        (
            "name",
            json!("x".repeat(10_000)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("name", json!(42), StatusCode::UNPROCESSABLE_ENTITY),
        (
            "gtin",
            json!("8934567890127"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "category_code",
            json!("weapons"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "stock_quantity",
            json!(-1),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "stock_quantity",
            json!(1_000_000_000_000i64),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("unit", json!(""), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    let before = app.snapshot().await;
    for (field, value, expected) in cases {
        for path in [&create, &update] {
            let method = if path == &create {
                reqwest::Method::POST
            } else {
                reqwest::Method::PUT
            };
            let (status, problem) = owner
                .send(method, path, with(base.clone(), field, value.clone()))
                .await;
            assert_eq!(status, expected, "{path} {field}={value}: {problem}");
            assert!(names_field(&problem, field), "{field} named in {problem}");
            assert_eq!(problem["code"], "validation_failed");
        }
    }
    // A missing required field is named too.
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("price_vnd");
    let (status, problem) = owner.post(&create, missing).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(names_field(&problem, "price_vnd"), "{problem}");
    assert_eq!(app.snapshot().await, before);
    let (_, unchanged) = owner.get(&update).await;
    assert_eq!(unchanged["name"], "Mật ong");
}

#[tokio::test]
async fn every_refused_field_is_listed_at_once() {
    let (_app, owner, coop, _) = setup().await;
    let (status, problem) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            json!({"name": "", "category_code": "nope", "price_vnd": -1, "unit": "", "gtin": "123"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["name", "category_code", "price_vnd", "unit", "gtin"] {
        assert!(names_field(&problem, field), "{field} in {problem}");
    }
}

#[tokio::test]
async fn bad_cooperative_and_certificate_fields_are_named() {
    let (app, owner, _, product) = setup().await;
    let before = app.snapshot().await;
    for (field, value) in [
        ("commune_code", json!("99999")),
        ("commune_code", json!("abc")),
        ("contact_phone", json!("0212345678")),
        ("bank_bin", json!("97")),
        ("registration_number", json!("")),
        ("contact_email", json!("not-an-email")),
    ] {
        let (status, problem) = owner
            .post(
                "/api/v1/cooperatives",
                with(
                    cooperative_body("5399999999", "Hợp tác xã mới"),
                    field,
                    value.clone(),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}={value}");
        assert!(names_field(&problem, field), "{problem}");
    }
    let (status, problem) = owner
        .post(
            "/api/v1/cooperatives",
            cooperative_body("5300123456", "Trùng mã"),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(names_field(&problem, "registration_number"));

    let cert = json!({"stars": 3, "certificate_number": "1/QĐ", "issuing_level": "province", "issued_on": "2025-01-01", "expires_on": "2028-01-01"});
    for (field, value) in [
        ("stars", json!(7)),
        ("stars", json!(0)),
        ("issuing_level", json!("village")),
        ("issued_on", json!("01/01/2025")),
        ("expires_on", json!("2024-01-01")),
        ("certificate_number", json!("")),
    ] {
        let (status, problem) = owner
            .post(
                &format!("/api/v1/products/{product}/certificates"),
                with(cert.clone(), field, value.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}={value}");
        assert!(names_field(&problem, field), "{field}: {problem}");
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn malformed_json_and_wrong_content_types_are_refused_cleanly() {
    let (app, owner, coop, _) = setup().await;
    let before = app.snapshot().await;
    let path = owner.url(&format!("/api/v1/cooperatives/{coop}/products"));
    let response = owner
        .client
        .post(&path)
        .header("content-type", "application/json")
        .body("{\"name\": \"Mật ong\", ")
        .send()
        .await
        .unwrap();
    let (status, problem) = crate::support::into_json(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], "malformed_json");

    let response = owner
        .client
        .post(&path)
        .header("content-type", "text/plain")
        .body(product_body("Mật ong").to_string())
        .send()
        .await
        .unwrap();
    let (status, problem) = crate::support::into_json(response).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(problem["code"], "unsupported_media_type");

    let response = owner
        .client
        .post(&path)
        .header("content-type", "application/json")
        .body("[1, 2, 3]")
        .send()
        .await
        .unwrap();
    let (status, _) = crate::support::into_json(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let response = owner
        .client
        .get(owner.url("/api/v1/products/not-a-number"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = owner
        .client
        .get(owner.url("/api/v1/products?stars=7&page=0"))
        .send()
        .await
        .unwrap();
    let (status, problem) = crate::support::into_json(response).await;
    // Query parameters answer 400 on every list, as search does; bodies answer 422.
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["code"], "invalid_parameters");
    assert!(names_field(&problem, "stars") && names_field(&problem, "page"));
    let big = "x".repeat(3 * 1024 * 1024);
    let response = owner
        .client
        .post(&path)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "too large a body is refused"
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_page_form_shows_the_error_beside_the_field_and_keeps_the_input() {
    let (app, owner, coop, _) = setup().await;
    let before = app.snapshot().await;
    let response = owner
        .form(
            &format!("/workspace/cooperatives/{coop}/products/new"),
            &[
                ("name", "Chè Shan tuyết Suối Giàng"),
                ("category_code", "food-tea"),
                ("price", "12,5"),
                ("unit", "gói 200 g"),
                ("gtin", "8934567890127"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("id=\"price-error\""),
        "price error beside the field"
    );
    assert!(html.contains("id=\"gtin-error\""));
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(
        html.contains("value=\"Chè Shan tuyết Suối Giàng\""),
        "the typed name is kept"
    );
    assert_eq!(app.snapshot().await, before);
}
