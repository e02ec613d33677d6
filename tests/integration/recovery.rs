//! A forgotten password, over HTTP: the request, the e-mail (through a real SMTP server), the
//! link, the new password; no answer that tells whether an account exists.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::messages::app_with_mail;
use crate::smtp_sink::SmtpSink;
use crate::support::{PASSWORD, TestApp, into_json, names_field};

async fn login(app: &TestApp, identifier: &str, password: &str) -> StatusCode {
    app.client()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"identifier": identifier, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_the_emailed_link_once() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let app = app_with_mail(&sink, |_| {}).await;
    let user = app.user("lan@example.vn").await;
    let other_session = app.user_session("lan@example.vn").await;
    assert_eq!(user.get("/api/v1/me").await.0, StatusCode::OK);

    let (status, body) = app
        .admin_free_post(
            "/api/v1/auth/password-reset",
            json!({"identifier": "lan@example.vn"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mail = sink
        .wait_for(
            "lan@example.vn",
            "password_reset",
            1,
            Duration::from_secs(10),
        )
        .await
        .remove(0);
    assert_eq!(
        mail.header("List-Unsubscribe"),
        None,
        "security mail has no unsubscribe"
    );
    let prefix = format!("{}/account/reset-password?token=", app.base);
    let link = mail
        .body
        .split_whitespace()
        .find(|w| w.starts_with(&prefix))
        .unwrap_or_else(|| panic!("a reset link in {}", mail.body))
        .to_owned();
    let token = link[prefix.len()..].to_owned();

    // The link opens a page (no JavaScript needed) whose form sets the password.
    let browser = app.client();
    let page = browser.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("value=\"{token}\"")),
        "the token rides in the form"
    );
    assert!(html.contains("<label for=\"new_password\""));
    let response = browser
        .post(app.url("/account/reset-password"))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("token", token.as_str()),
            ("new_password", "mot-mat-khau-moi-2026"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // Every old session ended; the new password works, the old one does not.
    assert_eq!(user.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let response = other_session
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&app, "lan@example.vn", "mot-mat-khau-moi-2026").await,
        StatusCode::OK
    );
    assert_eq!(
        login(&app, "lan@example.vn", PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );

    // The token works once.
    let (status, problem) = app
        .admin_free_post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": "yet-another-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(names_field(&problem, "token"), "{problem}");
    assert_eq!(
        login(&app, "lan@example.vn", "mot-mat-khau-moi-2026").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_reset_request_answers_alike_for_known_and_unknown_accounts() {
    let app = TestApp::spawn().await;
    app.user("lan@example.vn").await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..3 {
        for (identifier, timings) in [
            ("lan@example.vn".to_owned(), &mut known),
            (format!("nobody{i}@example.vn"), &mut unknown),
        ] {
            let started = Instant::now();
            let response = app
                .client()
                .post(app.url("/api/v1/auth/password-reset"))
                .json(&json!({"identifier": identifier}))
                .send()
                .await
                .unwrap();
            let elapsed = started.elapsed();
            let (status, body) = into_json(response).await;
            assert_eq!(status, StatusCode::ACCEPTED);
            assert_eq!(body, json!({"status": "accepted"}));
            timings.push(elapsed);
        }
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[1], unknown[1]);
    assert!(k >= Duration::from_millis(250) && u >= Duration::from_millis(250));
    let ratio = k.as_secs_f64() / u.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "median {k:?} for a known account, {u:?} for an unknown one"
    );
    // The same for a phone number.
    let (status, body) = app
        .admin_free_post(
            "/api/v1/auth/password-reset",
            json!({"identifier": "0987654321"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::ACCEPTED, json!({"status": "accepted"}))
    );
}

#[tokio::test]
async fn a_phone_account_resets_with_a_six_digit_code() {
    let app = TestApp::spawn_with(|config| {
        config.messages.poll_interval = Duration::from_millis(50);
    })
    .await;
    app.user("0912345678").await;
    let (status, _) = app
        .admin_free_post(
            "/api/v1/auth/password-reset",
            json!({"identifier": "0912 345 678"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // No SMS provider configured: the text is written where the operator can read it.
    let dir = app.state.config.data_dir.join("outbox-sms");
    let mut text = String::new();
    for _ in 0..200 {
        if let Some(file) = std::fs::read_dir(&dir).ok().and_then(|mut d| d.next()) {
            text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(text.starts_with("To: 0912345678"), "{text}");
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("a six-digit code in {text}"))
        .to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, problem) = app
        .admin_free_post(
            "/api/v1/auth/password-reset/confirm",
            json!({"identifier": "0912345678", "token": wrong, "new_password": "mat-khau-moi-2026"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(names_field(&problem, "token"));
    let (status, problem) = app
        .admin_free_post(
            "/api/v1/auth/password-reset/confirm",
            json!({"identifier": "0912345678", "token": code, "new_password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(names_field(&problem, "new_password"), "{problem}");
    let (status, body) = app
        .admin_free_post(
            "/api/v1/auth/password-reset/confirm",
            json!({"identifier": "0912345678", "token": code, "new_password": "mat-khau-moi-2026"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        login(&app, "0912345678", "mat-khau-moi-2026").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let user = app.user("lan@example.vn").await;
    let other = app.user_session("lan@example.vn").await;
    let (status, problem) = user
        .post(
            "/api/v1/me/password",
            json!({"current_password": "wrong-password", "new_password": "mat-khau-moi-2026"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(names_field(&problem, "current_password"));
    let (status, _) = user
        .post(
            "/api/v1/me/password",
            json!({"current_password": PASSWORD, "new_password": "mat-khau-moi-2026"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        user.get("/api/v1/me").await.0,
        StatusCode::OK,
        "this session stays"
    );
    let response = other.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the others end"
    );
    assert_eq!(
        login(&app, "lan@example.vn", "mat-khau-moi-2026").await,
        StatusCode::OK
    );
}
