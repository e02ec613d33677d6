use reqwest::StatusCode;
use sea_orm::{EntityTrait, QueryOrder};

use crate::support::{TestApp, cooperative_body};

#[tokio::test]
async fn the_synthetic_catalogue_is_deterministic_and_leaves_the_app_usable() {
    let app = TestApp::spawn().await;
    let summary = ocop_market::seed::synthetic(app.db(), &app.state.reference, 600, 7)
        .await
        .unwrap();
    assert_eq!(summary.products, 600);
    assert_eq!(summary.cooperatives, 12);
    let first = ocop_market::entities::products::Entity::find()
        .order_by_asc(ocop_market::entities::products::Column::Id)
        .all(app.db())
        .await
        .unwrap();

    let other = TestApp::spawn().await;
    ocop_market::seed::synthetic(other.db(), &other.state.reference, 600, 7)
        .await
        .unwrap();
    let second = ocop_market::entities::products::Entity::find()
        .order_by_asc(ocop_market::entities::products::Column::Id)
        .all(other.db())
        .await
        .unwrap();
    let names = |rows: &[ocop_market::entities::products::Model]| {
        rows.iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.price_vnd,
                    p.commune_code.clone(),
                    p.ocop_stars,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first), names(&second), "same seed, same catalogue");

    let list: serde_json::Value = app
        .client()
        .get(app.url("/api/v1/products?per_page=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 100);

    // New rows after the bulk insert get fresh ids (PostgreSQL's sequence moved on).
    let owner = app.user("owner@htx.vn").await;
    let (status, body) = owner
        .post(
            "/api/v1/cooperatives",
            cooperative_body("5300999999", "Hợp tác xã mới"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn the_demo_catalogue_seeds_once_through_the_domain_rules() {
    let app = TestApp::spawn().await;
    let report = ocop_market::seed::demo(app.db(), &app.state.reference, &app.state.signer)
        .await
        .unwrap()
        .expect("an empty database is seeded");
    assert!(report.products >= 150, "{} products", report.products);
    assert_eq!(report.accounts.len(), 3);
    assert!(
        ocop_market::seed::demo(app.db(), &app.state.reference, &app.state.signer)
            .await
            .unwrap()
            .is_none(),
        "a second run adds nothing"
    );
    // Gia Phú's nine three-star products are all listed.
    let list: serde_json::Value = app
        .client()
        .get(app.url("/api/v1/products?commune=02923&stars=3&per_page=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 9);
    // Demo stamps open their origin page, the signed sample included.
    let url = ocop_market::seed::sample_stamp_url(app.db(), &app.state.config.public_url)
        .await
        .unwrap()
        .expect("the demo has stamps");
    let page = app.client().get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "{url}");
    let html = page.text().await.unwrap();
    assert!(html.contains("Hàng chính hãng"), "{url}");
    assert!(html.contains("Thu hoạch"), "the trace timeline is shown");
    // The printed demo passwords work.
    let (_, identifier, password) = &report.accounts[1];
    let response = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"identifier": identifier, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
