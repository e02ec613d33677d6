//! The demo's photos: drawn by the project's code for every product, pushed through the real
//! upload pipeline, shown with a `srcset` on cards and pages.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::TestApp;

#[tokio::test]
async fn every_demo_product_gets_a_drawn_photo_with_a_srcset() {
    let app = TestApp::spawn().await;
    ocop_market::seed::demo(app.db(), &app.state.reference, &app.state.signer)
        .await
        .unwrap()
        .expect("an empty database is seeded");
    let added =
        ocop_market::demo_photos::add_missing(app.db(), &app.state.reference, &app.state.photos)
            .await
            .unwrap();
    assert!(added >= 150, "{added} photos");
    // A second run adds nothing.
    let again =
        ocop_market::demo_photos::add_missing(app.db(), &app.state.reference, &app.state.photos)
            .await
            .unwrap();
    assert_eq!(again, 0);

    let list: Value = app
        .client()
        .get(app.url("/api/v1/products?per_page=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for item in items {
        let srcset = item["photo"]["srcset"].as_str().unwrap_or_default();
        assert!(
            srcset.matches("w").count() >= 2,
            "{} has several widths: {srcset}",
            item["name"]
        );
    }
    // The card and the page carry the srcset; the file is a JPEG without metadata.
    let response = app.client().get(app.url("/products")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("class=\"ph\" src=\"/media/photos/"),
        "cards show photos"
    );
    assert!(html.contains("srcset=\"/media/photos/"));
    let slug = items[0]["slug"].as_str().unwrap();
    let page = app
        .client()
        .get(app.url(&format!("/products/{slug}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("srcset=\"/media/photos/"));
    let src = items[0]["photo"]["src"].as_str().unwrap();
    let file = app.client().get(app.url(src)).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    let bytes = file.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert!(!bytes.windows(4).any(|w| w == b"Exif"), "no metadata block");
}
