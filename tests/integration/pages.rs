use reqwest::StatusCode;

use crate::support::TestApp;

#[tokio::test]
async fn pages_are_vietnamese_by_default_and_english_on_request() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let html = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"vi\">"));
    assert!(html.contains("Sản phẩm OCOP từ tận nơi làm ra"));
    let html = client
        .get(app.url("/"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("OCOP products from where they are made"));
    // The language link remembers the choice over the browser's preference.
    let response = client
        .get(app.url("/lang/vi?next=/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/products");
    let html = client
        .get(app.url("/"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"vi\">"));
}

#[tokio::test]
async fn pages_work_without_javascript_and_carry_security_headers() {
    let app = TestApp::spawn().await;
    let response = app.client().get(app.url("/products")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("sha256-"),
        "{csp}"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let html = response.text().await.unwrap();
    assert!(
        html.contains("<form class=\"filters\" method=\"get\" action=\"/products\""),
        "filters are a plain form"
    );
    assert!(html.contains("<style>"), "the stylesheet is inline");
    // Every visible form control has a label.
    for id in [
        "f-province",
        "f-category",
        "f-stars",
        "f-min",
        "f-max",
        "f-sort",
    ] {
        assert!(html.contains(&format!("for=\"{id}\"")), "label for {id}");
    }
}

#[tokio::test]
async fn an_unknown_page_is_a_friendly_404_in_the_visitors_language() {
    let app = TestApp::spawn().await;
    let response = app
        .client()
        .get(app.url("/products/khong-co"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("Không tìm thấy trang"));
}

#[tokio::test]
async fn the_registration_page_shows_errors_beside_fields() {
    let app = TestApp::spawn().await;
    let response = app
        .client()
        .post(app.url("/register"))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("display_name", "Mai"),
            ("identifier", "0212345"),
            ("password", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"identifier-error\""));
    assert!(html.contains("id=\"password-error\""));
    assert!(html.contains("value=\"Mai\""), "typed values are kept");
    assert!(!html.contains("value=\"short\""), "but never the password");
}

#[tokio::test]
async fn pages_name_a_cached_site_icon_and_favicon_ico_leads_to_it() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let html = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let icon = html
        .split("<link rel=\"icon\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page names its icon")
        .to_owned();
    let response = client.get(app.url(&icon)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    // Without it every browser logs a 404 for /favicon.ico on every first visit.
    let response = client.get(app.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.headers()["location"], icon.as_str());
}

#[tokio::test]
async fn the_home_pages_counts_per_province_follow_publishing_at_once() {
    use crate::support::{published_product, verified_cooperative};
    let app = TestApp::spawn().await;
    let home = || async {
        app.client()
            .get(app.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(
        !home().await.contains("/products?province="),
        "no product yet"
    );

    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300123456", "HTX Ong mật Gia Phú").await;
    published_product(&owner, coop, "Mật ong bạc hà").await;
    // The counts are kept a while, but a write on this server clears them.
    let html = home().await;
    assert!(
        html.contains("/products?province=") && html.contains("(1)</span>"),
        "{html}"
    );
    published_product(&owner, coop, "Mật ong hoa rừng").await;
    assert!(home().await.contains("(2)</span>"));
}
