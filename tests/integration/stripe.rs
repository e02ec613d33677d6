//! Card payments through Stripe, against the local stand-in for Stripe's API
//! ([`crate::fake_stripe`]) and webhooks signed as Stripe signs them. Every test ends with a
//! balanced ledger.

use std::time::Duration;

use ocop_market::config::{Secret, StripeConfig};
use ocop_market::entities::{payments, products, refunds, webhook_events};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fake_stripe::{Failure, FakeStripe, event, signature_header};
use crate::support::{TestApp, User, eventually, published_product, verified_cooperative};

pub(crate) const SECRET: &str = "whsec_test_current";

/// The app with Stripe pointed at `fake`, webhook secrets `secrets`.
pub(crate) async fn app_with(fake: &FakeStripe, secrets: &[&str]) -> TestApp {
    let stripe = StripeConfig {
        secret_key: Secret::new("sk_test_fake_key"),
        webhook_secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
        api_base: fake.base.clone(),
        timeout: Duration::from_secs(1),
    };
    TestApp::spawn_with(move |config| config.commerce.stripe = Some(stripe)).await
}

pub(crate) struct Shop {
    pub(crate) admin: User,
    pub(crate) shopper: User,
    pub(crate) product_id: i64,
}

pub(crate) async fn shop(app: &TestApp) -> Shop {
    let admin = app.admin().await;
    let owner = app.user("owner@htx.vn").await;
    let cooperative = verified_cooperative(&admin, &owner, "5100123456", "HTX Chè Gia Phú").await;
    let (product_id, _) = published_product(&owner, cooperative, "Chè Shan tuyết").await;
    let shopper = app.user("shopper@example.vn").await;
    Shop {
        admin,
        shopper,
        product_id,
    }
}

/// A checkout request for `shopper` (the cart must hold something).
fn checkout_body(app: &TestApp, key: Option<&str>) -> Value {
    let commune = app
        .state
        .reference
        .commune("02923")
        .expect("reference commune");
    json!({
        "recipient_name": "Nguyễn Văn An",
        "recipient_phone": "0912345678",
        "province_code": commune.province_code,
        "commune_code": "02923",
        "street": "Số 12 đường Hoàng Liên",
        "payment_method": "stripe",
        "checkout_key": key,
    })
}

pub(crate) struct Checkout {
    pub(crate) reference: String,
    pub(crate) token_url: String,
    pub(crate) amount: i64,
    pub(crate) order_id: i64,
    pub(crate) session_id: String,
}

/// Puts 2 units in the cart and checks out by card.
pub(crate) async fn card_checkout(app: &TestApp, shop: &Shop) -> Checkout {
    let (status, cart) = shop
        .shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_id, "quantity": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    assert_eq!(cart["payment_methods"], json!(["vietqr", "stripe"]));
    let (status, view) = shop
        .shopper
        .post("/api/v1/checkout", checkout_body(app, None))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let reference = view["payment"]["reference"].as_str().unwrap().to_owned();
    let payment = payment_row(app, &reference).await;
    let session_id = payment.stripe_session_id.expect("the session is stored");
    assert_eq!(
        view["redirect_url"].as_str().unwrap(),
        format!("https://checkout.stripe.com/c/pay/{session_id}")
    );
    let payment_url = view["payment_url"].as_str().unwrap();
    let token_url = format!(
        "/api/v1/payments/{reference}?{}",
        payment_url.split_once('?').unwrap().1
    );
    Checkout {
        reference,
        token_url,
        amount: view["payment"]["amount_vnd"].as_i64().unwrap(),
        order_id: view["orders"][0]["id"].as_i64().unwrap(),
        session_id,
    }
}

pub(crate) async fn payment_row(app: &TestApp, reference: &str) -> payments::Model {
    payments::Entity::find()
        .filter(payments::Column::Reference.eq(reference))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

async fn stock(app: &TestApp, product_id: i64) -> i64 {
    products::Entity::find_by_id(product_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .stock_quantity
}

/// Posts `event` to the webhook signed with `secrets` at `timestamp` (now if `None`).
async fn post_event(
    app: &TestApp,
    event: &Value,
    secrets: &[&str],
    timestamp: Option<i64>,
) -> (StatusCode, Value) {
    let body = serde_json::to_vec(event).unwrap();
    let at = timestamp.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let response = app
        .client()
        .post(app.url("/api/v1/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature_header(secrets, at, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    crate::support::into_json(response).await
}

pub(crate) async fn send(app: &TestApp, event: &Value) -> String {
    let (status, body) = post_event(app, event, &[SECRET], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["outcome"].as_str().unwrap().to_owned()
}

pub(crate) fn completed(event_id: &str, session: &Value) -> Value {
    event(event_id, "checkout.session.completed", session.clone())
}

fn intent_succeeded(event_id: &str, session: &Value, amount: i64) -> Value {
    event(
        event_id,
        "payment_intent.succeeded",
        json!({
            "id": session["payment_intent"],
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": "vnd",
            "status": "succeeded",
            "metadata": session["metadata"],
        }),
    )
}

/// The ledger balances and the account has `expected`.
pub(crate) async fn assert_ledger(admin: &User, account: &str, expected: i64) {
    let (status, ledger) = admin.get("/api/v1/admin/ledger/balances").await;
    assert_eq!(status, StatusCode::OK, "{ledger}");
    assert_eq!(
        ledger["unbalanced_transactions"],
        json!([]),
        "every transaction balances"
    );
    let balance = ledger["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == account)
        .map_or(0, |a| a["balance_vnd"].as_i64().unwrap());
    assert_eq!(balance, expected, "{account} in {ledger}");
}

#[tokio::test]
async fn a_card_checkout_opens_a_vnd_session_and_a_webhook_before_the_return_pays_it() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;

    let creates = fake.calls_to("POST", "/v1/checkout/sessions");
    assert_eq!(creates.len(), 1);
    let payment = payment_row(&app, &checkout.reference).await;
    assert_eq!(
        creates[0].idempotency_key.as_deref().unwrap(),
        format!(
            "checkout-{}-{}",
            payment.id,
            &payment.access_token_hash[..16]
        )
    );
    let session = fake.session(&checkout.session_id);
    assert_eq!(session["currency"], "vnd");
    assert_eq!(session["amount_total"], checkout.amount, "whole đồng");
    assert_eq!(session["client_reference_id"], checkout.reference.as_str());
    assert_eq!(
        session["metadata"]["payment_reference"],
        checkout.reference.as_str()
    );
    let success = session["success_url"].as_str().unwrap();
    assert!(success.contains(&format!("/payments/{}?token=", checkout.reference)));
    assert!(success.ends_with("session_id={CHECKOUT_SESSION_ID}"));
    // The reservation lasts as long as the session can be paid (Stripe's 30 minutes at least).
    let expires = session["expires_at"].as_i64().unwrap();
    assert!(expires >= chrono::Utc::now().timestamp() + 30 * 60);
    assert!(payment.expires_at.timestamp() >= expires);

    let paid = fake.pay(&checkout.session_id, None);
    assert_eq!(send(&app, &completed("evt_1", &paid)).await, "paid");

    let (status, view) = shop.shopper.get(&checkout.token_url).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["payment"]["status"], "paid");
    assert_eq!(view["orders"][0]["status"], "paid");
    // A paid payment is not checked with Stripe again.
    assert!(fake.calls_to("GET", "/v1/checkout/sessions").is_empty());
    let payment = payment_row(&app, &checkout.reference).await;
    assert_eq!(
        payment.provider_payment_id.as_deref(),
        paid["payment_intent"].as_str()
    );
    assert_ledger(&shop.admin, "cash:stripe", checkout.amount).await;
}

#[tokio::test]
async fn the_return_is_checked_with_stripe_and_the_later_webhooks_change_nothing() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;

    // The redirect alone proves nothing: an unpaid session leaves the payment pending.
    let (_, view) = shop.shopper.get(&checkout.token_url).await;
    assert_eq!(view["payment"]["status"], "pending");
    assert_eq!(fake.calls_to("GET", "/v1/checkout/sessions").len(), 1);

    let paid = fake.pay(&checkout.session_id, None);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, view) = shop.shopper.get(&checkout.token_url).await;
    assert_eq!(view["payment"]["status"], "paid", "{view}");
    assert_eq!(fake.calls_to("GET", "/v1/checkout/sessions").len(), 2);

    assert_eq!(
        send(&app, &completed("evt_late_1", &paid)).await,
        "already_settled"
    );
    assert_eq!(
        send(
            &app,
            &intent_succeeded("evt_late_2", &paid, checkout.amount)
        )
        .await,
        "already_settled"
    );
    assert_ledger(&shop.admin, "cash:stripe", checkout.amount).await;
    let (_, exceptions) = shop.admin.get("/api/v1/admin/payment-exceptions").await;
    assert_eq!(exceptions, json!([]));
}

#[tokio::test]
async fn duplicate_and_concurrent_events_settle_the_money_once() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;
    let paid = fake.pay(&checkout.session_id, None);

    let first = completed("evt_dup", &paid);
    assert_eq!(send(&app, &first).await, "paid");
    assert_eq!(send(&app, &first).await, "duplicate");
    // The intent's own event is the same money.
    let intent = intent_succeeded("evt_intent", &paid, checkout.amount);
    let outcomes = futures_join(&app, &intent, 6).await;
    assert_eq!(
        outcomes.iter().filter(|o| *o == "already_settled").count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| o == "already_settled" || o == "duplicate")
    );
    assert_eq!(app.count(webhook_events::Entity).await, 2);
    let stored = webhook_events::Entity::find()
        .filter(webhook_events::Column::EventId.eq("evt_dup"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.provider, "stripe");
    assert_eq!(
        stored.payload,
        serde_json::to_string(&first).unwrap(),
        "raw payload kept"
    );
    assert_ledger(&shop.admin, "cash:stripe", checkout.amount).await;
}

/// Sends the same event `n` times at once; the outcomes.
async fn futures_join(app: &TestApp, event: &Value, n: usize) -> Vec<String> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let client = app.client();
        let url = app.url("/api/v1/webhooks/stripe");
        let body = serde_json::to_vec(event).unwrap();
        let header = signature_header(&[SECRET], chrono::Utc::now().timestamp(), &body);
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .header("stripe-signature", header)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            body["outcome"].as_str().unwrap().to_owned()
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

#[tokio::test]
async fn bad_signatures_and_stale_timestamps_are_refused_and_nothing_is_recorded() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;
    let paid = fake.pay(&checkout.session_id, None);
    let evt = completed("evt_forged", &paid);

    let (status, body) = post_event(&app, &evt, &["whsec_someone_else"], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "invalid_signature");

    let stale = chrono::Utc::now().timestamp() - 301;
    let (status, body) = post_event(&app, &evt, &[SECRET], Some(stale)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("window"),
        "{body}"
    );

    // A genuine signature over another body.
    let other = serde_json::to_vec(&completed("evt_other", &paid)).unwrap();
    let header = signature_header(&[SECRET], chrono::Utc::now().timestamp(), &other);
    let response = app
        .client()
        .post(app.url("/api/v1/webhooks/stripe"))
        .header("stripe-signature", header)
        .body(serde_json::to_vec(&evt).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = app
        .client()
        .post(app.url("/api/v1/webhooks/stripe"))
        .body(serde_json::to_vec(&evt).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(app.count(webhook_events::Entity).await, 0);
    assert_eq!(
        payment_row(&app, &checkout.reference).await.status,
        "pending"
    );
    assert_ledger(&shop.admin, "cash:stripe", 0).await;
}

#[tokio::test]
async fn during_a_secret_rotation_any_v1_under_any_configured_secret_is_accepted() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &["whsec_old", "whsec_new"]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;
    let paid = fake.pay(&checkout.session_id, None);
    // Two v1 signatures: one under a secret this platform does not hold, one under its new one.
    let (status, body) = post_event(
        &app,
        &completed("evt_rotated", &paid),
        &["whsec_unknown", "whsec_new"],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "paid");
    assert_ledger(&shop.admin, "cash:stripe", checkout.amount).await;
}

#[tokio::test]
async fn stripe_reporting_less_than_the_payment_leaves_it_unpaid_in_the_admin_queue() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;
    let short = checkout.amount - 1_000;
    let paid = fake.pay(&checkout.session_id, Some(short));

    assert_eq!(
        send(&app, &completed("evt_short", &paid)).await,
        "underpaid"
    );
    // The intent's event for the same money is not queued twice.
    assert_eq!(
        send(&app, &intent_succeeded("evt_short_pi", &paid, short)).await,
        "already_settled"
    );
    let payment = payment_row(&app, &checkout.reference).await;
    assert_eq!(payment.status, "pending");
    let (status, exceptions) = shop.admin.get("/api/v1/admin/payment-exceptions").await;
    assert_eq!(status, StatusCode::OK);
    let exceptions = exceptions.as_array().unwrap();
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert_eq!(exceptions[0]["kind"], "underpaid");
    assert_eq!(exceptions[0]["payment_id"], payment.id);
    assert_eq!(exceptions[0]["amount_vnd"], short);
    // The return check does not settle it either.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, view) = shop.shopper.get(&checkout.token_url).await;
    assert_eq!(view["payment"]["status"], "pending");
    assert_ledger(&shop.admin, "suspense:unmatched", -short).await;
    assert_ledger(&shop.admin, "cash:stripe", short).await;
}

async fn expire(app: &TestApp, reference: &str) {
    payments::Entity::update_many()
        .col_expr(
            payments::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .filter(payments::Column::Reference.eq(reference))
        .exec(app.db())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_payment_after_the_reservation_expired_is_revived_while_stock_remains() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;
    expire(&app, &checkout.reference).await;
    ocop_market::orders::lifecycle::expire_due(app.db())
        .await
        .unwrap();
    assert_eq!(
        stock(&app, shop.product_id).await,
        40,
        "stock returned on expiry"
    );

    let paid = fake.pay(&checkout.session_id, None);
    assert_eq!(
        send(&app, &completed("evt_late", &paid)).await,
        "revived_after_expiry"
    );
    assert_eq!(payment_row(&app, &checkout.reference).await.status, "paid");
    assert_eq!(stock(&app, shop.product_id).await, 38);
    assert_ledger(&shop.admin, "cash:stripe", checkout.amount).await;
}

#[tokio::test]
async fn a_payment_after_expiry_without_stock_is_refunded_through_stripe() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;
    expire(&app, &checkout.reference).await;
    ocop_market::orders::lifecycle::expire_due(app.db())
        .await
        .unwrap();
    crate::support::set_stock(app.db(), shop.product_id, 1).await;

    let paid = fake.pay(&checkout.session_id, None);
    assert_eq!(
        send(&app, &completed("evt_too_late", &paid)).await,
        "refund_opened"
    );
    let intent = paid["payment_intent"].as_str().unwrap().to_owned();
    let refund = refunds::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let stand_in = &fake;
    eventually(|| async move { !stand_in.calls_to("POST", "/v1/refunds").is_empty() }).await;
    let call = &fake.calls_to("POST", "/v1/refunds")[0];
    assert_eq!(
        call.idempotency_key.as_deref(),
        Some(format!("refund-{}", refund.id).as_str())
    );
    assert_eq!(call.form["payment_intent"], intent);
    assert_eq!(call.form["amount"], checkout.amount.to_string());
    let (db, refund_id) = (app.db(), refund.id);
    eventually(|| async move {
        refunds::Entity::find_by_id(refund_id)
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .status
            == "submitted"
    })
    .await;
    assert_ledger(&shop.admin, "refunds:payable", -checkout.amount).await;

    let submitted = refunds::Entity::find_by_id(refund.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let charge = charge_refunded(&intent, checkout.amount, &submitted, true);
    assert_eq!(
        send(&app, &event("evt_ch", "charge.refunded", charge)).await,
        "refunds_completed"
    );
    assert_ledger(&shop.admin, "refunds:payable", 0).await;
    assert_ledger(&shop.admin, "cash:stripe", 0).await;
    assert_eq!(stock(&app, shop.product_id).await, 1);
}

/// A `charge.refunded` object for `refund` (with the charge's refund list or without it).
pub(crate) fn charge_refunded(
    intent: &str,
    amount_refunded: i64,
    refund: &refunds::Model,
    with_list: bool,
) -> Value {
    let mut charge = json!({
        "id": format!("ch_for_{intent}"),
        "object": "charge",
        "amount": amount_refunded,
        "amount_refunded": amount_refunded,
        "currency": "vnd",
        "payment_intent": intent,
        "refunded": true,
    });
    if with_list {
        charge["refunds"] = json!({
            "object": "list",
            "data": [{
                "id": refund.provider_refund_id,
                "object": "refund",
                "amount": refund.amount_vnd,
                "currency": "vnd",
                "payment_intent": intent,
                "status": "succeeded",
                "metadata": {"refund_id": refund.id.to_string()},
            }],
        });
    }
    charge
}

#[tokio::test]
async fn a_paid_order_cancelled_by_the_shopper_is_refunded_by_stripe_and_confirmed_by_charge_refunded()
 {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;
    let paid = fake.pay(&checkout.session_id, None);
    assert_eq!(send(&app, &completed("evt_pay", &paid)).await, "paid");
    let intent = paid["payment_intent"].as_str().unwrap().to_owned();

    // Stripe is down when the shopper cancels: the refund waits, pending.
    fake.fail(Some(Failure::ApiError));
    let (status, order) = shop
        .shopper
        .post(
            &format!("/api/v1/orders/{}/cancel", checkout.order_id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["status"], "cancelled");
    // The cancellation's own sender may be calling Stripe (`sending`); it gives the refund
    // back as `pending` when Stripe fails.
    let db = app.db();
    let fake_ref = &fake;
    eventually(|| async move {
        // Pending after a call to Stripe: that sender is done with it.
        refund_row_status(db).await == "pending"
            && !fake_ref.calls_to("POST", "/v1/refunds").is_empty()
    })
    .await;
    let refund = refunds::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refund.amount_vnd, checkout.amount);
    assert_ledger(&shop.admin, "refunds:payable", -checkout.amount).await;

    // Sent again once Stripe answers, with the same idempotency key: one refund at Stripe.
    fake.fail(None);
    refund_sender_brings(&app, "submitted").await;
    ocop_market::payments::refund_sender::submit_pending_refunds(&app.state).await;
    let calls = fake.calls_to("POST", "/v1/refunds");
    assert!(calls.len() >= 2);
    assert!(
        calls
            .iter()
            .all(|c| c.idempotency_key.as_deref() == Some(format!("refund-{}", refund.id).as_str()))
    );
    let refund = refunds::Entity::find_by_id(refund.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refund.status, "submitted");
    assert!(
        refund
            .provider_refund_id
            .as_deref()
            .unwrap()
            .starts_with("re_test_")
    );
    let (_, open) = shop.admin.get("/api/v1/admin/refunds").await;
    assert_eq!(open[0]["status"], "submitted");

    let charge = charge_refunded(&intent, checkout.amount, &refund, true);
    let confirm = event("evt_refunded", "charge.refunded", charge);
    assert_eq!(send(&app, &confirm).await, "refunds_completed");
    assert_eq!(send(&app, &confirm).await, "duplicate");
    let refund = refunds::Entity::find_by_id(refund.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refund.status, "succeeded");
    assert_ledger(&shop.admin, "refunds:payable", 0).await;
    assert_ledger(&shop.admin, "cash:stripe", 0).await;
    assert_eq!(stock(&app, shop.product_id).await, 40);
}

#[tokio::test]
async fn charge_refunded_without_the_refund_list_completes_the_submitted_refunds_it_covers() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;
    let paid = fake.pay(&checkout.session_id, None);
    assert_eq!(send(&app, &completed("evt_pay", &paid)).await, "paid");
    let intent = paid["payment_intent"].as_str().unwrap().to_owned();
    let (status, _) = shop
        .shopper
        .post(
            &format!("/api/v1/orders/{}/cancel", checkout.order_id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Sent at cancellation, in the background: the cancellation does not wait for Stripe.
    let mut refund = refunds::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    for _ in 0..100 {
        if refund.status == "submitted" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        refund = refunds::Entity::find()
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(refund.status, "submitted", "sent at cancellation");

    // Less than the refund covers: nothing completes.
    let partial = charge_refunded(&intent, checkout.amount - 1, &refund, false);
    assert_eq!(
        send(&app, &event("evt_partial", "charge.refunded", partial)).await,
        "no_matching_refund"
    );
    let full = charge_refunded(&intent, checkout.amount, &refund, false);
    assert_eq!(
        send(&app, &event("evt_full", "charge.refunded", full)).await,
        "refunds_completed"
    );
    assert_ledger(&shop.admin, "refunds:payable", 0).await;
}

#[tokio::test]
async fn when_stripe_fails_or_times_out_at_checkout_the_error_is_clear_and_no_stock_is_lost() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let (status, _) = shop
        .shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_id, "quantity": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    for (failure, expected_status, code) in [
        (
            Failure::ApiError,
            StatusCode::BAD_GATEWAY,
            "payment_provider_error",
        ),
        (
            Failure::CardError,
            StatusCode::BAD_GATEWAY,
            "payment_provider_error",
        ),
        (
            Failure::Delay(Duration::from_secs(3)),
            StatusCode::SERVICE_UNAVAILABLE,
            "payment_provider_unavailable",
        ),
    ] {
        fake.fail(Some(failure));
        let (status, problem) = shop
            .shopper
            .post("/api/v1/checkout", checkout_body(&app, None))
            .await;
        assert_eq!(status, expected_status, "{failure:?}: {problem}");
        assert_eq!(problem["code"], code);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("bank transfer")
        );
        assert_eq!(stock(&app, shop.product_id).await, 40, "{failure:?}");
        let (_, cart) = shop.shopper.get("/api/v1/cart").await;
        assert_eq!(cart["item_count"], 3, "the cart is as it was: {cart}");
    }
    let cancelled = payments::Entity::find()
        .filter(payments::Column::Status.eq("cancelled"))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(cancelled.len(), 3);

    fake.fail(None);
    let (status, view) = shop
        .shopper
        .post("/api/v1/checkout", checkout_body(&app, None))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert!(
        view["redirect_url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );
    assert_eq!(stock(&app, shop.product_id).await, 37);
    assert_ledger(&shop.admin, "cash:stripe", 0).await;
}

#[tokio::test]
async fn a_replayed_card_checkout_gets_the_session_made_the_first_time() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let (status, _) = shop
        .shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_id, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = checkout_body(&app, Some("replayed-checkout-key-123"));
    let (status, first) = shop.shopper.post("/api/v1/checkout", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = shop.shopper.post("/api/v1/checkout", body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(first["redirect_url"], again["redirect_url"]);
    assert_eq!(fake.calls_to("POST", "/v1/checkout/sessions").len(), 1);
}

#[tokio::test]
async fn other_events_are_acknowledged_and_ignored_and_card_checkout_needs_stripe() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let (status, body) = post_event(
        &app,
        &event("evt_other", "customer.created", json!({"id": "cus_1"})),
        &[SECRET],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outcome"], "ignored");
    let (status, body) = post_event(&app, &json!({"id": "evt_x"}), &[SECRET], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Without Stripe configured, the webhook does not exist and card checkout is refused.
    let plain = TestApp::spawn().await;
    let (status, _) = post_event(&plain, &event("evt_1", "x", json!({})), &[SECRET], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let shop = shop(&plain).await;
    let (_, cart) = shop
        .shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_id, "quantity": 1}),
        )
        .await;
    assert_eq!(cart["payment_methods"], json!(["vietqr"]), "no card choice");
    let (status, problem) = shop
        .shopper
        .post("/api/v1/checkout", checkout_body(&plain, None))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(crate::support::names_field(&problem, "payment_method"));
}

async fn refund_row(app: &TestApp) -> refunds::Model {
    refunds::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_refund_stripe_refuses_waits_for_an_administrator_and_goes_again_under_a_new_key() {
    let fake = FakeStripe::start().await;
    let app = app_with(&fake, &[SECRET]).await;
    let shop = shop(&app).await;
    let checkout = card_checkout(&app, &shop).await;
    let paid = fake.pay(&checkout.session_id, None);
    assert_eq!(send(&app, &completed("evt_pay", &paid)).await, "paid");
    let intent = paid["payment_intent"].as_str().unwrap().to_owned();

    // Stripe refuses the refund (the charge is disputed): it is failed, with the reason.
    fake.fail(Some(Failure::Refuse));
    let (status, _) = shop
        .shopper
        .post(
            &format!("/api/v1/orders/{}/cancel", checkout.order_id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    refund_sender_brings(&app, "failed").await;
    let refund = refund_row(&app).await;
    assert!(refund.last_error.as_deref().unwrap().contains("disputed"));
    let key = format!("refund-{}", refund.id);
    let sent = fake.calls_to("POST", "/v1/refunds").len();
    // The sender leaves it alone from now on: the same key would only get the same refusal.
    ocop_market::payments::refund_sender::submit_pending_refunds(&app.state).await;
    assert_eq!(fake.calls_to("POST", "/v1/refunds").len(), sent);
    assert_ledger(&shop.admin, "refunds:payable", -checkout.amount).await;

    // The administrator sees why, fixes the cause at Stripe, and sends it again.
    let (_, html) = shop.admin.page("/admin/payments").await;
    assert!(html.contains("disputed") && html.contains("Gửi lại qua Stripe"));
    fake.fail(None);
    let (status, view) = shop
        .admin
        .post(
            &format!("/api/v1/admin/refunds/{}/retry", refund.id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["channel"], "card");
    refund_sender_brings(&app, "submitted").await;
    let keys: Vec<Option<String>> = fake
        .calls_to("POST", "/v1/refunds")
        .into_iter()
        .map(|c| c.idempotency_key)
        .collect();
    assert!(keys.contains(&Some(key.clone())));
    assert_eq!(
        keys.last().unwrap().as_deref(),
        Some(format!("{key}-2").as_str()),
        "a new key: the old one would replay the refusal"
    );
    let (status, _) = shop
        .admin
        .post(
            &format!("/api/v1/admin/refunds/{}/retry", refund.id),
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "only a failed refund goes again"
    );

    // Completed by charge.refunded…
    let submitted = refund_row(&app).await;
    let charge = charge_refunded(&intent, checkout.amount, &submitted, true);
    assert_eq!(
        send(&app, &event("evt_refunded", "charge.refunded", charge)).await,
        "refunds_completed"
    );
    assert_ledger(&shop.admin, "refunds:payable", 0).await;
    assert_ledger(&shop.admin, "cash:stripe", 0).await;

    // …then reversed by the bank (refund.failed): the shopper is owed the money again.
    let failed = event(
        "evt_refund_failed",
        "refund.failed",
        json!({
            "id": submitted.provider_refund_id,
            "object": "refund",
            "amount": checkout.amount,
            "currency": "vnd",
            "payment_intent": intent,
            "status": "failed",
            "failure_reason": "expired_or_canceled_card",
            "metadata": {"refund_id": submitted.id.to_string()},
        }),
    );
    assert_eq!(send(&app, &failed).await, "refund_failed");
    assert_eq!(send(&app, &failed).await, "duplicate");
    let refund = refund_row(&app).await;
    assert_eq!(refund.status, "failed");
    assert_eq!(
        refund.last_error.as_deref(),
        Some("expired_or_canceled_card")
    );
    assert_ledger(&shop.admin, "refunds:payable", -checkout.amount).await;
    assert_ledger(&shop.admin, "cash:stripe", checkout.amount).await;
}

/// Runs the refund sender, as its periodic task would, until the refund reaches `status`. One
/// run is not enough on a loaded machine: a call that times out (the client waits one second
/// here) releases the refund for the next run, which sends it again under the same key.
async fn refund_sender_brings(app: &TestApp, status: &str) {
    eventually(|| async {
        ocop_market::payments::refund_sender::submit_pending_refunds(&app.state).await;
        refund_row_status(app.db()).await == status
    })
    .await;
}

async fn refund_row_status(db: &sea_orm::DatabaseConnection) -> String {
    refunds::Entity::find()
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .status
}
