use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, cooperative_body, names_field, published_product};

#[tokio::test]
async fn verification_and_suspension_change_what_the_public_sees() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let (status, coop) = owner
        .post(
            "/api/v1/cooperatives",
            cooperative_body("5300123456", "Hợp tác xã Chè Gia Phú"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(coop["status"], "pending");
    let coop_id = coop["id"].as_i64().unwrap();
    let (product_id, _) = published_product(&owner, coop_id, "Chè Shan tuyết").await;
    let public = app.client();
    let count = |v: serde_json::Value| v["items"].as_array().unwrap().len();
    let list = || async {
        public
            .get(app.url("/api/v1/products"))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };

    assert_eq!(
        count(list().await),
        0,
        "pending cooperatives are not public"
    );
    let (_, queue) = admin.get("/api/v1/admin/cooperatives").await;
    assert_eq!(queue[0]["id"], coop_id);

    admin
        .post(
            &format!("/api/v1/admin/cooperatives/{coop_id}/decision"),
            json!({"decision": "verify"}),
        )
        .await;
    assert_eq!(count(list().await), 1, "verified: products appear");

    let (status, problem) = admin
        .post(
            &format!("/api/v1/admin/cooperatives/{coop_id}/decision"),
            json!({"decision": "suspend"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a suspension needs a reason"
    );
    assert!(names_field(&problem, "reason"));
    let (status, suspended) = admin
        .post(
            &format!("/api/v1/admin/cooperatives/{coop_id}/decision"),
            json!({"decision": "suspend", "reason": "Bán hàng giả nhãn mác"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(count(list().await), 0, "suspended: products disappear");
    let response = public
        .get(app.url(&format!("/api/v1/products/{product_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (_, own) = owner.get(&format!("/api/v1/cooperatives/{coop_id}")).await;
    assert_eq!(
        own["status_reason"], "Bán hàng giả nhãn mác",
        "the cooperative sees why"
    );

    admin
        .post(
            &format!("/api/v1/admin/cooperatives/{coop_id}/decision"),
            json!({"decision": "reinstate"}),
        )
        .await;
    assert_eq!(count(list().await), 1);

    let (status, problem) = admin
        .post(
            &format!("/api/v1/admin/cooperatives/{coop_id}/decision"),
            json!({"decision": "reject", "reason": "Sai mã số"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a verified cooperative cannot be rejected: {problem}"
    );
}

#[tokio::test]
async fn an_administrator_rejects_a_certificate_with_a_reason() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let coop =
        crate::support::verified_cooperative(&admin, &owner, "5300123456", "Hợp tác xã A").await;
    let (product, _) = published_product(&owner, coop, "Gạo Séng Cù").await;
    let (_, cert) = owner
        .post(
            &format!("/api/v1/products/{product}/certificates"),
            json!({"stars": 5, "certificate_number": "99/QĐ", "issuing_level": "national", "issued_on": "2025-01-01", "expires_on": "2028-01-01"}),
        )
        .await;
    let path = format!("/api/v1/admin/certificates/{}/decision", cert["id"]);
    let (status, _) = admin.post(&path, json!({"decision": "reject"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, rejected) = admin
        .post(
            &path,
            json!({"decision": "reject", "reason": "Không có trong quyết định công nhận"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rejected["status"], "rejected");
    let (_, detail) = app
        .admin_free_get(&format!("/api/v1/products/{product}"))
        .await;
    assert_eq!(detail["ocop"], serde_json::Value::Null);
}

#[tokio::test]
async fn the_admin_page_verifies_a_cooperative_from_a_form() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let (_, coop) = owner
        .post(
            "/api/v1/cooperatives",
            cooperative_body("5300123456", "Hợp tác xã Mận Bắc Hà"),
        )
        .await;
    let id = coop["id"].as_i64().unwrap();
    let (status, html) = admin.page("/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Hợp tác xã Mận Bắc Hà"));
    let response = admin
        .form(
            &format!("/admin/cooperatives/{id}/decision"),
            &[("decision", "reject"), ("reason", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("id=\"reason-error\""),
        "the error is shown beside the field"
    );
    let response = admin
        .form(
            &format!("/admin/cooperatives/{id}/decision"),
            &[("decision", "verify")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, coop) = owner.get(&format!("/api/v1/cooperatives/{id}")).await;
    assert_eq!(coop["status"], "verified");
}
