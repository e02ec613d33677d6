//! The SMS (eSMS.vn) and Zalo (ZNS) adapters against local stand-ins that answer as the
//! providers document, errors included; and the outbox through them: a 5xx is retried until
//! it goes, a permanent refusal stops at once and is shown to administrators.

use std::time::Duration;

use ocop_market::config::{EsmsConfig, Secret, ZaloConfig};
use ocop_market::entities::message_outbox;
use ocop_market::messages::channel::{MessageChannel, SendError};
use ocop_market::messages::esms::Esms;
use ocop_market::messages::zalo::Zalo;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::fake_sms::{
    ESMS_BRAND, ESMS_KEY, ESMS_SECRET, FakeProviders, ZALO_TEMPLATE, ZALO_TOKEN,
};
use crate::support::TestApp;

fn esms_config(base: &str) -> EsmsConfig {
    EsmsConfig {
        api_base: base.to_owned(),
        api_key: Secret::new(ESMS_KEY),
        secret_key: Secret::new(ESMS_SECRET),
        brandname: ESMS_BRAND.to_owned(),
        sandbox: false,
    }
}

fn zalo_config(base: &str) -> ZaloConfig {
    ZaloConfig {
        api_base: base.to_owned(),
        access_token: Secret::new(ZALO_TOKEN),
        template_id: ZALO_TEMPLATE.to_owned(),
    }
}

fn permanent_with(result: Result<(), SendError>, code: &str) {
    match result {
        Err(SendError::Permanent(message)) => assert!(message.contains(code), "{message}"),
        other => panic!("a permanent refusal with {code} expected, got {other:?}"),
    }
}

fn transient_with(result: Result<(), SendError>, code: &str) {
    match result {
        Err(SendError::Transient(message)) => assert!(message.contains(code), "{message}"),
        other => panic!("a retryable failure with {code} expected, got {other:?}"),
    }
}

#[tokio::test]
async fn the_esms_adapter_sends_and_reads_each_documented_answer() {
    let fake = FakeProviders::start().await;
    let sms = Esms::new(esms_config(&fake.base)).unwrap();
    sms.send("0912345678", "OCOP Market: mã 123456", "ocop-message-1")
        .await
        .unwrap();
    assert_eq!(
        fake.sms(),
        vec![(
            "84912345678".to_owned(),
            "OCOP Market: mã 123456".to_owned()
        )]
    );
    // The same message again (a crash after eSMS took it): 124, taken as sent, not resent.
    sms.send("0912345678", "OCOP Market: mã 123456", "ocop-message-1")
        .await
        .unwrap();
    assert_eq!(fake.sms().len(), 1);

    permanent_with(sms.send("12345", "x", "ocop-message-2").await, "108");
    let mut wrong_key = esms_config(&fake.base);
    wrong_key.secret_key = Secret::new("wrong");
    permanent_with(
        Esms::new(wrong_key)
            .unwrap()
            .send("0912345678", "x", "ocop-message-3")
            .await,
        "101",
    );
    let mut wrong_brand = esms_config(&fake.base);
    wrong_brand.brandname = "UNKNOWN".into();
    permanent_with(
        Esms::new(wrong_brand)
            .unwrap()
            .send("0912345678", "x", "ocop-message-4")
            .await,
        "104",
    );
    fake.set_balance(0);
    transient_with(sms.send("0912345678", "x", "ocop-message-5").await, "103");
    fake.set_balance(10);
    fake.fail_with_500(true);
    transient_with(sms.send("0912345678", "x", "ocop-message-6").await, "500");
    fake.fail_with_500(false);
    sms.send("0912345678", "x", "ocop-message-6").await.unwrap();
    assert_eq!(fake.sms().len(), 2);
}

#[tokio::test]
async fn the_zalo_adapter_sends_and_reads_each_documented_answer() {
    let fake = FakeProviders::start().await;
    let zalo = Zalo::new(zalo_config(&fake.base)).unwrap();
    zalo.send(
        "0912345678",
        "OCOP Market: đơn DH000001 đã giao.",
        "ocop-message-1",
    )
    .await
    .unwrap();
    assert_eq!(fake.zns().len(), 1);
    assert_eq!(fake.zns()[0].0, "84912345678");
    assert_eq!(
        fake.zns()[0].1,
        json!({"content": "OCOP Market: đơn DH000001 đã giao."})
    );

    permanent_with(zalo.send("12345", "x", "ocop-message-2").await, "-108");
    fake.without_zalo("84987654321");
    permanent_with(zalo.send("0987654321", "x", "ocop-message-3").await, "-118");
    let mut wrong_token = zalo_config(&fake.base);
    wrong_token.access_token = Secret::new("expired");
    permanent_with(
        Zalo::new(wrong_token)
            .unwrap()
            .send("0912345678", "x", "ocop-message-4")
            .await,
        "-124",
    );
    let mut unapproved = zalo_config(&fake.base);
    unapproved.template_id = "999999".into();
    permanent_with(
        Zalo::new(unapproved)
            .unwrap()
            .send("0912345678", "x", "ocop-message-5")
            .await,
        "-131",
    );
    fake.set_zns_quota(0);
    transient_with(zalo.send("0912345678", "x", "ocop-message-6").await, "-144");
    fake.set_zns_quota(10);
    fake.fail_with_500(true);
    transient_with(zalo.send("0912345678", "x", "ocop-message-7").await, "502");
    fake.fail_with_500(false);
    assert_eq!(fake.zns().len(), 1);
}

#[tokio::test]
async fn a_reset_code_by_sms_is_retried_through_a_5xx_and_a_refused_zalo_message_is_shown_to_administrators()
 {
    let fake = FakeProviders::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_with(move |config| {
        config.messages.sms = Some(esms_config(&base));
        config.messages.zalo = Some(zalo_config(&base));
        config.messages.poll_interval = Duration::from_millis(50);
        config.messages.retry_base = Duration::from_millis(200);
        config.messages.retry_max = Duration::from_millis(400);
    })
    .await;
    app.user("0912345678").await;
    fake.fail_with_500(true);
    let (status, _) = app
        .admin_free_post(
            "/api/v1/auth/password-reset",
            json!({"identifier": "0912345678"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    crate::support::eventually(|| async {
        message_outbox::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .iter()
            .any(|m| m.attempts >= 2 && m.sent_at.is_none())
    })
    .await;
    fake.fail_with_500(false);
    crate::support::eventually(|| async { fake.sms().len() == 1 }).await;
    let (phone, text) = fake.sms().remove(0);
    assert_eq!(phone, "84912345678");
    assert!(
        text.chars().filter(char::is_ascii_digit).count() >= 6,
        "{text}"
    );

    // A member who chose Zalo but has no Zalo account: refused for good at once.
    let member = app.user("0987654321").await;
    fake.without_zalo("84987654321");
    let (status, body) = member
        .put("/api/v1/me/notifications", json!({"channel": "zalo"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["channel"], "zalo");
    let (status, _) = app
        .admin_free_post(
            "/api/v1/auth/password-reset",
            json!({"identifier": "0987654321"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let admin = app.admin().await;
    crate::support::eventually(|| async {
        let (_, failed) = admin.get("/api/v1/admin/messages/failed").await;
        failed.as_array().is_some_and(|f| !f.is_empty())
    })
    .await;
    let (status, failed) = admin.get("/api/v1/admin/messages/failed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(failed[0]["channel"], "zalo");
    assert_eq!(failed[0]["attempts"], 1, "not retried");
    assert!(failed[0]["last_error"].as_str().unwrap().contains("-118"));
    // Only administrators see them.
    assert_eq!(
        member.get("/api/v1/admin/messages/failed").await.0,
        StatusCode::FORBIDDEN
    );
}
