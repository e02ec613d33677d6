use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, published_product, verified_cooperative};

#[tokio::test]
async fn an_owner_creates_and_publishes_a_product_which_the_public_then_sees() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop =
        verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã Ong mật Gia Phú").await;

    let (status, draft) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            crate::support::product_body("Mật ong bạc hà"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(draft["status"], "draft");
    let id = draft["id"].as_i64().unwrap();
    let slug = draft["slug"].as_str().unwrap().to_owned();
    assert_eq!(slug, "mat-ong-bac-ha");

    // A draft is not public.
    let public = app.client();
    let response = public
        .get(app.url(&format!("/api/v1/products/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let list: serde_json::Value = public
        .get(app.url("/api/v1/products"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);

    let (status, _) = owner
        .post(&format!("/api/v1/products/{id}/publish"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    let list: serde_json::Value = public
        .get(app.url("/api/v1/products"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "Mật ong bạc hà");
    assert_eq!(items[0]["price_vnd"], 250000);
    assert_eq!(items[0]["price_display"], "250.000 ₫");
    assert_eq!(items[0]["place"]["commune_name"], "Xã Gia Phú");
    assert_eq!(items[0]["place"]["province_name"], "Lào Cai");

    let page = public
        .get(app.url(&format!("/products/{slug}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Mật ong bạc hà"));
    assert!(html.contains("250.000 ₫"));
    assert!(html.contains("Hợp tác xã Ong mật Gia Phú"));
    let list_page = public
        .get(app.url("/products?province=15"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list_page.contains(&format!("/products/{slug}")));
}

#[tokio::test]
async fn the_list_filters_by_province_category_stars_and_price() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã Gia Phú").await;
    let (honey, _) = published_product(&owner, coop, "Mật ong bạc hà").await;
    let (tea, _) = published_product(&owner, coop, "Chè Shan tuyết").await;
    let (status, _) = owner
        .put(
            &format!("/api/v1/products/{tea}"),
            json!({"name": "Chè Shan tuyết", "category_code": "food-tea", "price_vnd": 120000, "unit": "gói 200 g"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = owner
        .post(
            &format!("/api/v1/products/{tea}/stock"),
            json!({"delta": -35, "reason": "Kiểm kho cuối vụ"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, cert) = owner
        .post(
            &format!("/api/v1/products/{tea}/certificates"),
            json!({"stars": 4, "certificate_number": "2857/QĐ-UBND", "issuing_level": "province", "issued_on": "2025-01-10", "expires_on": "2028-01-10"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = admin
        .post(
            &format!("/api/v1/admin/certificates/{}/decision", cert["id"]),
            json!({"decision": "verify"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let ids = |v: serde_json::Value| -> Vec<i64> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect()
    };
    let public = app.client();
    let get = |q: &'static str| {
        let public = public.clone();
        let url = app.url(&format!("/api/v1/products?{q}"));
        async move {
            public
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(ids(get("category=food-tea").await), vec![tea]);
    assert_eq!(
        ids(get("category=food").await).len(),
        2,
        "a group selects its categories"
    );
    assert_eq!(ids(get("stars=4").await), vec![tea]);
    assert_eq!(ids(get("stars=5").await), Vec::<i64>::new());
    assert_eq!(ids(get("max_price=200000").await), vec![tea]);
    assert_eq!(ids(get("min_price=200.000").await), vec![honey]);
    assert_eq!(ids(get("province=15").await).len(), 2);
    assert_eq!(ids(get("province=01").await), Vec::<i64>::new());
    assert_eq!(ids(get("sort=price_asc").await), vec![tea, honey]);
    assert_eq!(ids(get("sort=price_desc").await), vec![honey, tea]);
    let first = get("per_page=1&sort=price_asc").await;
    assert_eq!(first["has_more"], true);
    let second = get("per_page=1&page=2&sort=price_asc").await;
    assert_eq!(ids(second.clone()), vec![honey]);
    assert_eq!(second["has_more"], false);
}

#[tokio::test]
async fn an_expired_certificate_shows_as_expired_and_the_product_loses_its_badge() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã Gia Phú").await;
    let (id, slug) = published_product(&owner, coop, "Miến dong Gia Phú").await;
    let (_, cert) = owner
        .post(
            &format!("/api/v1/products/{id}/certificates"),
            json!({"stars": 3, "certificate_number": "1520/QĐ-UBND", "issuing_level": "province", "issued_on": "2021-06-01", "expires_on": "2024-06-01"}),
        )
        .await;
    admin
        .post(
            &format!("/api/v1/admin/certificates/{}/decision", cert["id"]),
            json!({"decision": "verify"}),
        )
        .await;

    let public = app.client();
    let detail: serde_json::Value = public
        .get(app.url(&format!("/api/v1/products/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["ocop"], serde_json::Value::Null, "no badge");
    assert_eq!(detail["certificate"]["is_expired"], true);
    assert_eq!(detail["certificate"]["is_valid"], false);
    let html = public
        .get(app.url(&format!("/products/{slug}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Đã hết hạn"),
        "the page says the certificate expired"
    );
    assert!(!html.contains("class=\"badge\">OCOP"), "no OCOP badge");
    let three_star: serde_json::Value = public
        .get(app.url("/api/v1/products?stars=3"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(three_star["items"].as_array().unwrap().len(), 0);

    // A new, valid certificate brings the badge back.
    let (_, cert) = owner
        .post(
            &format!("/api/v1/products/{id}/certificates"),
            json!({"stars": 4, "certificate_number": "2857/QĐ-UBND", "issuing_level": "province", "issued_on": "2025-06-01", "expires_on": "2028-06-01"}),
        )
        .await;
    admin
        .post(
            &format!("/api/v1/admin/certificates/{}/decision", cert["id"]),
            json!({"decision": "verify"}),
        )
        .await;
    let detail: serde_json::Value = public
        .get(app.url(&format!("/api/v1/products/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["ocop"]["stars"], 4);
    let html = public
        .get(app.url(&format!("/products/{slug}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("OCOP ★★★★"));
}

#[tokio::test]
async fn the_cooperative_page_lists_its_public_products_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã Gia Phú").await;
    published_product(&owner, coop, "Mật ong bạc hà").await;
    owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            crate::support::product_body("Sản phẩm nháp bí mật"),
        )
        .await;
    let html = app
        .client()
        .get(app.url("/cooperatives/hop-tac-xa-gia-phu"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Mật ong bạc hà"));
    assert!(!html.contains("Sản phẩm nháp bí mật"));
}
