//! "Origin before you buy": the product page shows the recent batches from the scan page's
//! data, and never a stamp code.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, verified_cooperative};

#[tokio::test]
async fn the_product_page_shows_its_batches_and_no_stamp_code() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300123456", "HTX Ong mật Gia Phú").await;
    let (status, product) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            json!({"name": "Mật ong bạc hà Gia Phú", "short_name": "Mật ong bạc hà", "category_code": "food-processed",
                   "price_vnd": 250000, "unit": "chai 500 ml", "stock_quantity": 40}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let product_id = product["id"].as_i64().unwrap();
    let slug = product["slug"].as_str().unwrap().to_owned();
    owner
        .post(&format!("/api/v1/products/{product_id}/publish"), json!({}))
        .await;

    let (_, html) = app_page(&app, &format!("/products/{slug}")).await;
    assert!(html.contains("id=\"origin\""), "{html}");

    let (status, batch) = owner
        .post(
            &format!("/api/v1/products/{product_id}/batches"),
            json!({"lot_code": "mo-2025-11", "harvested_on": "2025-10-20", "best_before": "2027-10-20",
                   "quantity": "500", "quantity_unit": "chai", "certifications": "VietGAP"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let batch_id = batch["id"].as_i64().unwrap();
    let (status, roll) = owner
        .post(
            &format!("/api/v1/batches/{batch_id}/stamps"),
            json!({"count": 20, "signed": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{roll}");
    let (_, stamps) = owner
        .get(&format!("/api/v1/batches/{batch_id}/stamps?per_page=1000"))
        .await;
    let codes: Vec<String> = stamps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 20);

    // A scan, so the origin is cached the way the scan page uses it.
    let (status, _) = app_page(&app, &format!("/s/{}", codes[0])).await;
    assert_eq!(status, StatusCode::OK);

    crate::support::eventually(|| async {
        let (_, html) = app_page(&app, &format!("/products/{slug}")).await;
        html.contains("MO-2025-11")
    })
    .await;
    let (status, html) = app_page(&app, &format!("/products/{slug}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("VietGAP"), "certifications shown");
    assert!(html.contains("20/10/2025"), "harvest date shown");
    for code in &codes {
        assert!(
            !html.contains(code.as_str()),
            "stamp code {code} on the product page"
        );
        // Nor in another spelling (grouped, lower case).
        assert!(!html.to_lowercase().contains(&code.to_lowercase()));
    }
    let (_, english) = {
        let response = app
            .client()
            .get(app.url(&format!("/products/{slug}")))
            .header("accept-language", "en")
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    assert!(english.contains("Origin before you buy"));
    for code in &codes {
        assert!(!english.contains(code.as_str()));
    }
}

async fn app_page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app.client().get(app.url(path)).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}
