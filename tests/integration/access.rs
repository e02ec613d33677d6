//! A cooperative sees and changes only its own data. Every private read and write of
//! cooperative B is tried by the owner of cooperative A; each must be refused and leave the
//! database unchanged.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, cooperative_body, product_body, verified_cooperative};

#[tokio::test]
async fn the_owner_of_one_cooperative_cannot_read_or_change_another_cooperatives_data() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner_a = app.user("a@htx.vn").await;
    let owner_b = app.user("b@htx.vn").await;
    let coop_a = verified_cooperative(&admin, &owner_a, "5300000001", "Hợp tác xã A").await;
    let coop_b = verified_cooperative(&admin, &owner_b, "5300000002", "Hợp tác xã B").await;
    let _ = coop_a;
    let (_, draft) = owner_b
        .post(
            &format!("/api/v1/cooperatives/{coop_b}/products"),
            product_body("Bản nháp của B"),
        )
        .await;
    let draft_id = draft["id"].as_i64().unwrap();
    let (_, public) = owner_b
        .post(
            &format!("/api/v1/cooperatives/{coop_b}/products"),
            product_body("Sản phẩm của B"),
        )
        .await;
    let public_id = public["id"].as_i64().unwrap();
    owner_b
        .post(&format!("/api/v1/products/{public_id}/publish"), json!({}))
        .await;
    let (_, cert) = owner_b
        .post(
            &format!("/api/v1/products/{public_id}/certificates"),
            json!({"stars": 3, "certificate_number": "1/QĐ", "issuing_level": "province", "issued_on": "2025-01-01", "expires_on": "2028-01-01"}),
        )
        .await;
    assert!(cert["id"].is_i64());

    let before = app.snapshot().await;
    let certificate = json!({"stars": 5, "certificate_number": "X", "issuing_level": "national", "issued_on": "2025-01-01", "expires_on": "2028-01-01"});
    let api_attempts: Vec<(Method, String, serde_json::Value)> = vec![
        (
            Method::GET,
            format!("/api/v1/products/{draft_id}"),
            json!(null),
        ),
        (
            Method::PUT,
            format!("/api/v1/products/{draft_id}"),
            product_body("Hijacked"),
        ),
        (
            Method::PUT,
            format!("/api/v1/products/{public_id}"),
            product_body("Hijacked"),
        ),
        (
            Method::POST,
            format!("/api/v1/products/{draft_id}/publish"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/products/{public_id}/archive"),
            json!({}),
        ),
        (
            Method::GET,
            format!("/api/v1/products/{public_id}/certificates"),
            json!(null),
        ),
        (
            Method::POST,
            format!("/api/v1/products/{public_id}/certificates"),
            certificate.clone(),
        ),
        (
            Method::PUT,
            format!("/api/v1/cooperatives/{coop_b}"),
            cooperative_body("5300000002", "Đổi tên"),
        ),
        (
            Method::POST,
            format!("/api/v1/cooperatives/{coop_b}/products"),
            product_body("Chen vào"),
        ),
        (
            Method::POST,
            format!("/api/v1/cooperatives/{coop_b}/invitations"),
            json!({"identifier": "a@htx.vn"}),
        ),
    ];
    for (method, path, body) in api_attempts {
        let request = owner_a.client.request(method.clone(), owner_a.url(&path));
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        let response = request.send().await.unwrap();
        assert!(
            matches!(
                response.status(),
                StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
            ),
            "{method} {path} answered {}",
            response.status()
        );
    }

    // Reads that exist publicly show only public data.
    let (status, coop) = owner_a.get(&format!("/api/v1/cooperatives/{coop_b}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        coop.get("bank_account_number").is_none(),
        "no private fields: {coop}"
    );
    assert!(coop.get("registration_number").is_none());
    let (status, list) = owner_a
        .get(&format!("/api/v1/cooperatives/{coop_b}/products"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Sản phẩm của B"], "drafts stay private");
    let (_, mine) = owner_a.get("/api/v1/me/cooperatives").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["name"], "Hợp tác xã A");

    // Workspace pages.
    for path in [
        format!("/workspace/cooperatives/{coop_b}"),
        format!("/workspace/cooperatives/{coop_b}/edit"),
        format!("/workspace/cooperatives/{coop_b}/products/new"),
        format!("/workspace/products/{draft_id}"),
        format!("/workspace/products/{public_id}/certificates/new"),
    ] {
        let (status, _) = owner_a.page(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}");
    }
    for (path, fields) in [
        (
            format!("/workspace/products/{draft_id}"),
            vec![
                ("name", "Hijacked"),
                ("price", "1000"),
                ("unit", "kg"),
                ("category_code", "food-tea"),
            ],
        ),
        (
            format!("/workspace/products/{public_id}/status"),
            vec![("status", "archived")],
        ),
        (
            format!("/workspace/products/{public_id}/certificates/new"),
            vec![("stars", "5")],
        ),
        (
            format!("/workspace/cooperatives/{coop_b}/edit"),
            vec![("name", "Đổi tên")],
        ),
        (
            format!("/workspace/cooperatives/{coop_b}/products/new"),
            vec![("name", "Chen vào")],
        ),
        (
            format!("/workspace/cooperatives/{coop_b}/invitations"),
            vec![("identifier", "a@htx.vn")],
        ),
    ] {
        let response = owner_a.form(&path, &fields).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST {path}");
    }

    assert_eq!(app.snapshot().await, before, "nothing was written");
    let (_, still) = owner_b.get(&format!("/api/v1/products/{draft_id}")).await;
    assert_eq!(still["name"], "Bản nháp của B");
    assert_eq!(still["status"], "draft");
}

#[tokio::test]
async fn staff_manage_products_but_only_the_owner_edits_the_cooperative() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let staff = app.user("staff@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5300000001", "Hợp tác xã A").await;
    let (status, invitation) = owner
        .post(
            &format!("/api/v1/cooperatives/{coop}/invitations"),
            json!({"identifier": "staff@htx.vn"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = staff
        .post(
            "/api/v1/invitations/accept",
            json!({"code": invitation["code"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = staff
        .post(
            &format!("/api/v1/cooperatives/{coop}/products"),
            product_body("Chè búp"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = staff
        .put(
            &format!("/api/v1/cooperatives/{coop}"),
            cooperative_body("5300000001", "Đổi tên"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn only_administrators_reach_the_administration() {
    let app = TestApp::spawn().await;
    let user = app.user("mai@example.vn").await;
    let (status, _) = user.get("/api/v1/admin/cooperatives").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = user
        .post(
            "/api/v1/admin/cooperatives/1/decision",
            json!({"decision": "verify"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = user.page("/admin").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let anonymous = app
        .client()
        .get(app.url("/api/v1/admin/certificates"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let page = app
        .client()
        .get(app.url("/workspace"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/login?next=/workspace");
}
