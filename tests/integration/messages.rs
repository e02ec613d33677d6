//! Messages: the outbox written with the event, senders that drain it into a real SMTP
//! server (aiosmtpd on localhost), retries through an outage, nothing doubled.

use std::time::Duration;

use ocop_market::config::{BankWebhookConfig, Config, Secret};
use ocop_market::entities::message_outbox;
use ocop_market::payments::bank;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::smtp_sink::SmtpSink;
use crate::support::{TestApp, User, into_json, published_product, verified_cooperative};

const BANK_SECRET: &str = "bank-notification-secret";

/// The app with bank notifications on and e-mail going to `sink`, its sender looking often.
pub async fn app_with_mail(sink: &SmtpSink, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let url = sink.url();
    TestApp::spawn_with(move |config| {
        config.commerce.bank_webhook = Some(BankWebhookConfig::generic(Secret::new(BANK_SECRET)));
        config.messages.smtp_url = Some(Secret::new(url));
        config.messages.mail_from = "OCOP Market <no-reply@ocop.test>".into();
        config.messages.poll_interval = Duration::from_millis(50);
        config.messages.smtp_timeout = Duration::from_secs(5);
        adjust(config);
    })
    .await
}

/// A verified cooperative owned by `a@htx.vn` selling one product (250.000 đ, 30.000 đ
/// delivery).
pub struct Shop {
    pub admin: User,
    pub owner: User,
    pub cooperative: i64,
    pub product: i64,
}

pub async fn shop(app: &TestApp) -> Shop {
    let admin = app.admin().await;
    let owner = app.user("a@htx.vn").await;
    let coop = verified_cooperative(&admin, &owner, "5100000001", "HTX Mật ong Gia Phú").await;
    let (product, _) = published_product(&owner, coop, "Mật ong bạc hà").await;
    Shop {
        admin,
        owner,
        cooperative: coop,
        product,
    }
}

/// A logged-in shopper checks out two units of `product`; the checkout's JSON.
pub async fn checkout(app: &TestApp, shopper: &User, product: i64) -> Value {
    let (status, body) = shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": product, "quantity": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = shopper
        .post(
            "/api/v1/checkout",
            json!({
                "recipient_name": "Nguyễn Thị Lan",
                "recipient_phone": "+84 912 345 678",
                "province_code": "15",
                "commune_code": "02923",
                "street": "Thôn Cóc 1",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let _ = app;
    body
}

/// A signed bank notification of the generic format.
pub async fn notify(
    app: &TestApp,
    transaction_id: &str,
    amount: i64,
    description: &str,
) -> StatusCode {
    let body =
        json!({"transaction_id": transaction_id, "amount": amount, "description": description})
            .to_string();
    let now = chrono::Utc::now().timestamp();
    let response = app
        .client()
        .post(app.url("/api/v1/webhooks/bank"))
        .header("content-type", "application/json")
        .header("X-Timestamp", now.to_string())
        .header("X-Signature", bank::sign(BANK_SECRET, now, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    into_json(response).await.0
}

/// Whether a text fits two SMS segments (GSM-7: 306 characters; UCS-2: 134).
pub fn sms_fits(text: &str) -> bool {
    ocop_market::messages::render::sms_segments(text) <= 2
}

/// Waits until the outbox holds no message still to send.
async fn outbox_drained(app: &TestApp, limit: Duration) {
    let start = std::time::Instant::now();
    loop {
        let pending = message_outbox::Entity::find()
            .filter(message_outbox::Column::SentAt.is_null())
            .filter(message_outbox::Column::FailedAt.is_null())
            .all(app.db())
            .await
            .unwrap();
        if pending.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "messages still unsent: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_paid_checkout_emails_the_cooperative_owner_and_the_shopper_once() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let app = app_with_mail(&sink, |_| {}).await;
    let shop = shop(&app).await;
    let shopper = app.user("lan@example.vn").await;
    let done = checkout(&app, &shopper, shop.product).await;
    let amount = done["payment"]["amount_vnd"].as_i64().unwrap();
    assert_eq!(amount, 530_000);
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();
    let order_id = done["orders"][0]["id"].as_i64().unwrap();
    let number = format!("DH{order_id:06}");

    assert_eq!(
        notify(&app, "FT-1001", amount, &reference).await,
        StatusCode::OK
    );
    let to_owner = sink
        .wait_for(
            "a@htx.vn",
            "order_paid_cooperative",
            1,
            Duration::from_secs(10),
        )
        .await;
    let to_shopper = sink
        .wait_for(
            "lan@example.vn",
            "order_paid_shopper",
            1,
            Duration::from_secs(10),
        )
        .await;
    for mail in [&to_owner[0], &to_shopper[0]] {
        assert!(mail.body.contains(&number), "order number in {}", mail.body);
        assert!(mail.body.contains("530.000 ₫"), "amount in {}", mail.body);
        assert!(mail.body.contains("Thôn Cóc 1"), "address in {}", mail.body);
        assert!(
            mail.body.contains("Mật ong bạc hà"),
            "items in {}",
            mail.body
        );
        assert!(
            mail.header("Content-Type")
                .unwrap_or_default()
                .starts_with("text/plain"),
            "a plain-text e-mail"
        );
    }
    // The cooperative's notice can be turned off in one click; the shopper's receipt cannot.
    assert!(
        to_owner[0]
            .header("List-Unsubscribe")
            .unwrap()
            .contains("/unsubscribe/")
    );
    assert_eq!(
        to_owner[0].header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(to_shopper[0].header("List-Unsubscribe"), None);

    // The bank sends the same notification again: nothing more is sent.
    assert_eq!(
        notify(&app, "FT-1001", amount, &reference).await,
        StatusCode::OK
    );
    outbox_drained(&app, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.to("a@htx.vn", "order_paid_cooperative").len(), 1);
    assert_eq!(sink.to("lan@example.vn", "order_paid_shopper").len(), 1);
    let _ = shop.owner;
    let _ = shop.admin;
}

#[tokio::test]
async fn smtp_down_for_thirty_seconds_delays_messages_and_loses_none() {
    let Some(mut sink) = SmtpSink::start().await else {
        return;
    };
    let app = app_with_mail(&sink, |config| {
        config.messages.retry_base = Duration::from_secs(1);
        config.messages.retry_max = Duration::from_secs(4);
    })
    .await;
    let shop = shop(&app).await;
    let shopper = app.user("lan@example.vn").await;
    let done = checkout(&app, &shopper, shop.product).await;
    let amount = done["payment"]["amount_vnd"].as_i64().unwrap();
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();

    sink.stop();
    assert_eq!(
        notify(&app, "FT-2001", amount, &reference).await,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    let rows = message_outbox::Entity::find()
        .filter(
            message_outbox::Column::Template
                .is_in(["order_paid_cooperative", "order_paid_shopper"]),
        )
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert!(row.sent_at.is_none() && row.failed_at.is_none(), "{row:?}");
        assert!(row.attempts >= 3, "retried during the outage: {row:?}");
        assert!(row.last_error.is_some());
    }

    sink.resume().await;
    sink.wait_for(
        "a@htx.vn",
        "order_paid_cooperative",
        1,
        Duration::from_secs(15),
    )
    .await;
    sink.wait_for(
        "lan@example.vn",
        "order_paid_shopper",
        1,
        Duration::from_secs(15),
    )
    .await;
    outbox_drained(&app, Duration::from_secs(10)).await;
    assert_eq!(sink.to("a@htx.vn", "order_paid_cooperative").len(), 1);
    assert_eq!(sink.to("lan@example.vn", "order_paid_shopper").len(), 1);
}

#[tokio::test]
async fn without_an_smtp_server_e_mails_are_written_as_eml_files() {
    let app = TestApp::spawn_with(|config| {
        config.commerce.bank_webhook = Some(BankWebhookConfig::generic(Secret::new(BANK_SECRET)));
        config.messages.poll_interval = Duration::from_millis(50);
    })
    .await;
    let shop = shop(&app).await;
    let shopper = app.user("lan@example.vn").await;
    let done = checkout(&app, &shopper, shop.product).await;
    let amount = done["payment"]["amount_vnd"].as_i64().unwrap();
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();
    assert_eq!(
        notify(&app, "FT-3001", amount, &reference).await,
        StatusCode::OK
    );
    outbox_drained(&app, Duration::from_secs(10)).await;
    let dir = app.state.config.data_dir.join("outbox-mail");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.contains("To: a@htx.vn")
                && f.contains("X-OCOP-Message: order_paid_cooperative")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.contains("To: lan@example.vn")
            && f.contains("X-OCOP-Message: order_paid_shopper")),
        "{files:?}"
    );
}

#[tokio::test]
async fn the_one_click_unsubscribe_link_is_honoured() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let app = app_with_mail(&sink, |_| {}).await;
    let shop = shop(&app).await;
    let shopper = app.user("lan@example.vn").await;
    let done = checkout(&app, &shopper, shop.product).await;
    let amount = done["payment"]["amount_vnd"].as_i64().unwrap();
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();
    assert_eq!(
        notify(&app, "FT-4001", amount, &reference).await,
        StatusCode::OK
    );
    let mail = sink
        .wait_for(
            "a@htx.vn",
            "order_paid_cooperative",
            1,
            Duration::from_secs(10),
        )
        .await
        .remove(0);
    let header = mail.header("List-Unsubscribe").unwrap();
    let link = header
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        link.starts_with(&format!("{}/unsubscribe/", app.base)),
        "{link}"
    );
    assert!(mail.body.contains(&link), "the text names the link too");

    // Opening the link changes nothing; it shows what the button would stop.
    let page = app.client().get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Đơn hàng mới đã thanh toán")
    );
    let (_, prefs) = shop.owner.get("/api/v1/me/notifications").await;
    assert_eq!(prefs["unsubscribed"], json!([]));

    // The mail system's one-click POST (RFC 8058), from its own servers: no cookie, no Origin.
    let response = app
        .client()
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, prefs) = shop.owner.get("/api/v1/me/notifications").await;
    assert_eq!(prefs["unsubscribed"], json!(["order_paid_cooperative"]));
    // A forged token changes nothing.
    let forged = format!("{}x", link);
    let response = app.client().post(&forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // The next paid order: the shopper hears, the owner who unsubscribed does not.
    let done = checkout(&app, &shopper, shop.product).await;
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();
    assert_eq!(
        notify(&app, "FT-4002", amount, &reference).await,
        StatusCode::OK
    );
    sink.wait_for(
        "lan@example.vn",
        "order_paid_shopper",
        2,
        Duration::from_secs(10),
    )
    .await;
    outbox_drained(&app, Duration::from_secs(10)).await;
    assert_eq!(sink.to("a@htx.vn", "order_paid_cooperative").len(), 1);
}

#[tokio::test]
async fn notification_choices_are_read_and_changed_by_the_member() {
    let app = TestApp::spawn().await;
    let user = app.user("lan@example.vn").await;
    let (status, prefs) = user.get("/api/v1/me/notifications").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(prefs["channel"], "email");
    assert_eq!(prefs["locale"], "vi", "Vietnamese by default");
    assert!(
        prefs["optional"]
            .as_array()
            .unwrap()
            .contains(&json!("payout_recorded"))
    );
    assert!(
        !prefs["optional"]
            .as_array()
            .unwrap()
            .contains(&json!("password_reset"))
    );

    // SMS needs a phone number this account does not have.
    let (status, problem) = user
        .put("/api/v1/me/notifications", json!({"channel": "sms"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(crate::support::names_field(&problem, "channel"));
    let (status, problem) = user
        .put(
            "/api/v1/me/notifications",
            json!({"channel": "email", "locale": "fr"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(crate::support::names_field(&problem, "locale"));

    let (status, prefs) = user
        .put(
            "/api/v1/me/notifications",
            json!({"channel": "email", "locale": "en", "unsubscribed": ["payout_recorded", "password_reset"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    assert_eq!(prefs["locale"], "en");
    assert_eq!(
        prefs["unsubscribed"],
        json!(["payout_recorded"]),
        "security messages cannot be turned off"
    );
    let anonymous = app.admin_free_get("/api/v1/me/notifications").await;
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn each_step_of_an_order_and_the_provinces_decisions_reach_who_they_concern() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    // No return window: the completed order's money is available for the payout at once.
    let app = app_with_mail(&sink, |config| {
        config.commerce.return_window = Duration::ZERO;
    })
    .await;
    let shop = shop(&app).await;
    let mail = sink
        .wait_for(
            "a@htx.vn",
            "cooperative_verified",
            1,
            Duration::from_secs(10),
        )
        .await;
    assert!(mail[0].body.contains("HTX Mật ong Gia Phú"));

    let shopper = app.user("lan@example.vn").await;
    let done = checkout(&app, &shopper, shop.product).await;
    let instructions = sink
        .wait_for(
            "lan@example.vn",
            "checkout_instructions",
            1,
            Duration::from_secs(10),
        )
        .await;
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();
    assert!(
        instructions[0].body.contains(&reference),
        "the transfer text"
    );
    assert!(instructions[0].body.contains("530.000 ₫"));
    assert!(
        instructions[0]
            .body
            .contains(&format!("{}/payments/{reference}?token=", app.base)),
        "a link back to the payment page: {}",
        instructions[0].body
    );
    let order = done["orders"][0]["id"].as_i64().unwrap();
    let path = |action: &str| format!("/api/v1/orders/{order}/{action}");
    assert_eq!(
        notify(&app, "FT-5001", 530_000, &reference).await,
        StatusCode::OK
    );
    let (status, _) = shop.owner.post(&path("accept"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    sink.wait_for(
        "lan@example.vn",
        "order_accepted",
        1,
        Duration::from_secs(10),
    )
    .await;
    let (status, _) = shop
        .owner
        .post(
            &path("ship"),
            json!({"carrier": "GHN", "tracking_number": "GHN8842"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let shipped = sink
        .wait_for(
            "lan@example.vn",
            "order_shipped",
            1,
            Duration::from_secs(10),
        )
        .await;
    assert!(shipped[0].body.contains("GHN8842"));
    assert!(
        shipped[0]
            .body
            .contains("https://donhang.ghn.vn/?order_code=GHN8842"),
        "the carrier's tracking link: {}",
        shipped[0].body
    );
    shop.owner.post(&path("deliver"), json!({})).await;
    sink.wait_for(
        "lan@example.vn",
        "order_delivered",
        1,
        Duration::from_secs(10),
    )
    .await;
    shop.owner.post(&path("complete"), json!({})).await;
    let (status, payout) = shop
        .admin
        .post(
            "/api/v1/admin/payouts",
            json!({"cooperative_id": shop.cooperative, "amount_vnd": 200_000, "bank_reference": "PAYOUT-77"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{payout}");
    let paid_out = sink
        .wait_for("a@htx.vn", "payout_recorded", 1, Duration::from_secs(10))
        .await;
    assert!(paid_out[0].body.contains("200.000 ₫") && paid_out[0].body.contains("PAYOUT-77"));

    // The shopper cancels a paid order before it is accepted: the cooperative hears of it,
    // the shopper hears the refund is on its way.
    let done = checkout(&app, &shopper, shop.product).await;
    let reference = done["payment"]["reference"].as_str().unwrap().to_owned();
    let order = done["orders"][0]["id"].as_i64().unwrap();
    assert_eq!(
        notify(&app, "FT-5002", 530_000, &reference).await,
        StatusCode::OK
    );
    let (status, body) = shopper
        .post(&format!("/api/v1/orders/{order}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cancelled = sink
        .wait_for(
            "a@htx.vn",
            "order_cancelled_by_shopper",
            1,
            Duration::from_secs(10),
        )
        .await;
    assert!(cancelled[0].body.contains(&format!("DH{order:06}")));
    sink.wait_for(
        "lan@example.vn",
        "order_cancelled_shopper",
        1,
        Duration::from_secs(10),
    )
    .await;

    // A rejected cooperative is told why.
    let other = app.user("b@htx.vn").await;
    let (status, coop) = other
        .post(
            "/api/v1/cooperatives",
            crate::support::cooperative_body("5100000009", "HTX Chè Bảo Thắng"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{coop}");
    let (status, body) = shop
        .admin
        .post(
            &format!("/api/v1/admin/cooperatives/{}/decision", coop["id"]),
            json!({"decision": "reject", "reason": "Thiếu giấy đăng ký hợp tác xã"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rejected = sink
        .wait_for(
            "b@htx.vn",
            "cooperative_rejected",
            1,
            Duration::from_secs(10),
        )
        .await;
    assert!(rejected[0].body.contains("Thiếu giấy đăng ký hợp tác xã"));
}

/// Sets the app's clock to noon (Vietnam) on `date`.
fn set_day(app: &TestApp, date: chrono::NaiveDate) {
    let noon = date.and_hms_opt(5, 0, 0).unwrap().and_utc();
    app.state.clock.set(noon);
}

#[tokio::test]
async fn certificate_reminders_come_90_30_and_7_days_before_expiry_and_administrators_get_a_digest()
{
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let app = app_with_mail(&sink, |_| {}).await;
    let expires = chrono::NaiveDate::from_ymd_opt(2027, 6, 30).unwrap();
    set_day(&app, expires - chrono::Days::new(120));
    let shop = shop(&app).await;
    let (status, cert) = shop
        .owner
        .post(
            &format!("/api/v1/products/{}/certificates", shop.product),
            json!({"stars": 4, "certificate_number": "12/QĐ-UBND", "issuing_level": "province",
                   "issued_on": "2024-06-30", "expires_on": expires.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cert}");
    // The certificate waits for review: the next day's digest to administrators says so.
    set_day(&app, expires - chrono::Days::new(119));
    let digest = sink
        .wait_for("admin@test.vn", "admin_digest", 1, Duration::from_secs(10))
        .await;
    assert!(
        digest[0].body.contains("0 hợp tác xã và 1 chứng nhận"),
        "{}",
        digest[0].body
    );
    let (status, body) = shop
        .admin
        .post(
            &format!("/api/v1/admin/certificates/{}/decision", cert["id"]),
            json!({"decision": "verify"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let reminders = || sink.to("a@htx.vn", "certificate_expiring");
    for (days_before, expected) in [(100, 0), (90, 1), (60, 1), (30, 2), (29, 2), (7, 3), (3, 3)] {
        set_day(&app, expires - chrono::Days::new(days_before));
        if expected > reminders().len() {
            let found = sink
                .wait_for(
                    "a@htx.vn",
                    "certificate_expiring",
                    expected,
                    Duration::from_secs(10),
                )
                .await;
            let newest = found
                .iter()
                .find(|m| m.body.contains(&format!("còn {days_before} ngày")))
                .unwrap_or_else(|| panic!("a reminder saying {days_before} days: {found:?}"));
            assert!(newest.body.contains("Mật ong bạc hà") && newest.body.contains("30/06/2027"));
        } else {
            // A day that owes nothing: give the sender a few rounds, then count.
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        outbox_drained(&app, Duration::from_secs(10)).await;
        assert_eq!(
            reminders().len(),
            expected,
            "{days_before} days before expiry"
        );
    }
    // Nothing waits for review any more: no further digest.
    assert_eq!(sink.to("admin@test.vn", "admin_digest").len(), 1);
}

#[tokio::test]
async fn the_settings_page_changes_notification_choices_and_contact_without_javascript() {
    let app = TestApp::spawn().await;
    let user = app.user("lan@example.vn").await;
    let (status, html) = user.page("/account/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<label for=\"locale\">"));
    assert!(html.contains("name=\"off.payout_recorded\""));
    assert!(
        !html.contains("name=\"off.password_reset\""),
        "security mail cannot be turned off"
    );

    let response = user
        .form(
            "/account/settings/notifications",
            &[
                ("channel", "email"),
                ("locale", "en"),
                ("off.payout_recorded", "1"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, prefs) = user.get("/api/v1/me/notifications").await;
    assert_eq!(prefs["locale"], "en");
    assert_eq!(prefs["unsubscribed"], json!(["payout_recorded"]));
    let (_, html) = user.page("/account/settings?saved=1").await;
    assert!(html.contains("name=\"off.payout_recorded\" value=\"1\" checked"));
    assert!(html.contains("Đã lưu."), "the saved notice");

    // SMS without a phone number: the error stands beside the field.
    let response = user
        .form(
            "/account/settings/notifications",
            &[("channel", "sms"), ("locale", "vi")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("id=\"channel-error\"")
    );
    let response = user
        .form(
            "/account/settings/contact",
            &[("identifier", "not an address")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("id=\"identifier-error\"")
    );
    let response = user
        .form("/account/settings/contact", &[("identifier", "0912345678")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<label for=\"code\"")
    );
    let anonymous = app
        .client()
        .get(app.url("/account/settings"))
        .send()
        .await
        .unwrap();
    assert_ne!(anonymous.status(), StatusCode::OK);
}
