use reqwest::StatusCode;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, into_json};

#[tokio::test]
async fn a_visitor_registers_with_an_email_and_logs_in() {
    let app = TestApp::spawn().await;
    let user = app.user("mai@example.vn").await;
    let (status, me) = user.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], user.id);
    assert_eq!(me["is_admin"], false);
}

#[tokio::test]
async fn a_visitor_registers_with_a_phone_number_typed_any_way() {
    let app = TestApp::spawn().await;
    app.user("+84 912 345 678").await;
    // The same number in national form logs into the same account.
    let response = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"identifier": "0912345678", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_account_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.user("mai@example.vn").await;
    let client = app.client();
    let wrong = client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"identifier": "mai@example.vn", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    let (wrong_status, wrong_body) = into_json(wrong).await;
    let unknown = client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"identifier": "nobody@example.vn", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    let (unknown_status, unknown_body) = into_json(unknown).await;
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_status, unknown_status);
    assert_eq!(wrong_body, unknown_body);
}

#[tokio::test]
async fn registering_a_taken_identifier_reveals_nothing_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.user("mai@example.vn").await;
    let before = app.snapshot().await;
    let response = app
        .client()
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"identifier": "MAI@example.vn", "password": "another password", "display_name": "Kẻ mạo danh"}))
        .send()
        .await
        .unwrap();
    let (status, body) = into_json(response).await;
    assert_eq!(status, StatusCode::ACCEPTED, "same answer as a new account");
    assert_eq!(body["status"], "accepted");
    assert_eq!(app.snapshot().await, before, "no second account");
    // The original password still works and the second one does not.
    let client = app.client();
    let ok = client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"identifier": "mai@example.vn", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let hijack = client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"identifier": "mai@example.vn", "password": "another password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(hijack.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_cross_site_form_post_is_rejected() {
    let app = TestApp::spawn().await;
    let user = app.user("mai@example.vn").await;
    let before = app.snapshot().await;
    for (header, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let response = user
            .client
            .post(user.url("/workspace/cooperatives/new"))
            .header(header, value)
            .form(&[
                ("name", "Hợp tác xã giả"),
                ("registration_number", "5300000001"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{header}: {value}"
        );
        let login = app
            .client()
            .post(app.url("/login"))
            .header(header, value)
            .form(&[("identifier", "mai@example.vn"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            login.status(),
            StatusCode::FORBIDDEN,
            "login {header}: {value}"
        );
    }
    assert_eq!(app.snapshot().await, before);
    // The same form from the site itself goes through to validation.
    let response = user
        .form(
            "/workspace/cooperatives/new",
            &[("name", "Hợp tác xã thật")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let app = TestApp::spawn().await;
    let user = app.user("mai@example.vn").await;
    let token = user.token.clone();
    let app = app.restart().await;
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let user = app.user("mai@example.vn").await;
    let (status, _) = user.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_login_attempts_are_slowed_down() {
    let app = TestApp::spawn_with(|config| config.login_attempts_per_minute = 5).await;
    let client = app.client();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let response = client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"identifier": "mai@example.vn", "password": "guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5..], [StatusCode::TOO_MANY_REQUESTS; 2]);
}

#[tokio::test]
async fn the_login_page_logs_in_and_sets_a_protected_cookie() {
    let app = TestApp::spawn().await;
    app.user("mai@example.vn").await;
    let client = app.client();
    let response = client
        .post(app.url("/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("identifier", "mai@example.vn"),
            ("password", PASSWORD),
            ("next", "/workspace"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/workspace");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    // A `next` pointing elsewhere is not followed.
    let response = app
        .client()
        .post(app.url("/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("identifier", "mai@example.vn"),
            ("password", PASSWORD),
            ("next", "//evil.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/");
}
