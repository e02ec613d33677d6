//! VNPay and MoMo, against their local stand-ins ([`crate::fake_wallets`]): the attacker's
//! notifications first (forged, wrong amount, unknown reference, replayed), then whole
//! payments over HTTP, notifications reaching two app servers at once, late money, refunds
//! and a gateway that does not answer. Every test ends with a balanced ledger.

use std::collections::BTreeMap;
use std::time::Duration;

use ocop_market::config::{MomoConfig, Secret, VnpayConfig};
use ocop_market::entities::{payment_exceptions, products, refunds, webhook_events};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fake_wallets::{
    FakeMomo, FakeVnpay, MOMO_ACCESS, MOMO_PARTNER, MOMO_SECRET, VNPAY_SECRET, VNPAY_TMN,
    parse_query, vnpay_check_request, vnpay_signed_query,
};
use crate::stripe::{Shop, assert_ledger, payment_row, shop};
use crate::support::{TestApp, eventually};

fn vnpay_config(fake: &FakeVnpay) -> VnpayConfig {
    VnpayConfig {
        tmn_code: VNPAY_TMN.into(),
        hash_secret: Secret::new(VNPAY_SECRET),
        pay_url: fake.pay_url(),
        api_url: fake.api_url(),
        timeout: Duration::from_secs(1),
    }
}

fn momo_config(fake: &FakeMomo) -> MomoConfig {
    MomoConfig {
        partner_code: MOMO_PARTNER.into(),
        access_key: Secret::new(MOMO_ACCESS),
        secret_key: Secret::new(MOMO_SECRET),
        api_url: fake.base.clone(),
        timeout: Duration::from_secs(1),
    }
}

/// The app with both wallets pointed at the stand-ins (and VNPay's IPN URL set to the app).
async fn app_with(vnpay: &FakeVnpay, momo: &FakeMomo) -> TestApp {
    let (v, m) = (vnpay_config(vnpay), momo_config(momo));
    let app = TestApp::spawn_with(move |config| {
        config.commerce.vnpay = Some(v);
        config.commerce.momo = Some(m);
    })
    .await;
    vnpay.set_ipn_url(app.url("/api/v1/webhooks/vnpay"));
    app
}

struct Checkout {
    reference: String,
    redirect_url: String,
    amount: i64,
    order_id: i64,
    token_url: String,
}

/// Puts 2 units in the cart and checks out with `method`.
async fn checkout(app: &TestApp, shop: &Shop, method: &str) -> Checkout {
    let (status, cart) = shop
        .shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_id, "quantity": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    assert_eq!(cart["payment_methods"], json!(["vietqr", "vnpay", "momo"]));
    let (status, view) = shop
        .shopper
        .post("/api/v1/checkout", body(app, method))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let payment_url = view["payment_url"].as_str().unwrap();
    let reference = view["payment"]["reference"].as_str().unwrap().to_owned();
    Checkout {
        token_url: format!(
            "/api/v1/payments/{reference}?{}",
            payment_url.split_once('?').unwrap().1
        ),
        reference,
        redirect_url: view["redirect_url"].as_str().unwrap().to_owned(),
        amount: view["payment"]["amount_vnd"].as_i64().unwrap(),
        order_id: view["orders"][0]["id"].as_i64().unwrap(),
    }
}

fn body(app: &TestApp, method: &str) -> Value {
    let commune = app.state.reference.commune("02923").unwrap();
    json!({
        "recipient_name": "Nguyễn Văn An",
        "recipient_phone": "0912345678",
        "province_code": commune.province_code,
        "commune_code": "02923",
        "street": "Số 12 đường Hoàng Liên",
        "payment_method": method,
    })
}

/// Sends a VNPay IPN query to the app; VNPay's `RspCode`.
async fn vnpay_ipn(app: &TestApp, query: &str) -> String {
    let response = app
        .client()
        .get(format!("{}?{query}", app.url("/api/v1/webhooks/vnpay")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    answer["RspCode"].as_str().unwrap().to_owned()
}

async fn momo_ipn(app: &TestApp, ipn: &Value) -> StatusCode {
    app.client()
        .post(app.url("/api/v1/webhooks/momo"))
        .json(ipn)
        .send()
        .await
        .unwrap()
        .status()
}

async fn status_of(app: &TestApp, reference: &str) -> String {
    payment_row(app, reference).await.status
}

async fn events(app: &TestApp) -> u64 {
    webhook_events::Entity::find()
        .count(app.db())
        .await
        .unwrap()
}

async fn queue(app: &TestApp, kind: &str) -> Vec<payment_exceptions::Model> {
    payment_exceptions::Entity::find()
        .filter(payment_exceptions::Column::Kind.eq(kind))
        .all(app.db())
        .await
        .unwrap()
}

fn request_of(redirect_url: &str) -> BTreeMap<String, String> {
    vnpay_check_request(redirect_url).expect("the stand-in accepts the app's payment URL")
}

#[tokio::test]
async fn vnpay_ipn_answers_every_code_and_only_a_genuine_one_for_the_right_amount_pays() {
    let (vnpay, momo) = (FakeVnpay::start().await, FakeMomo::start().await);
    let app = app_with(&vnpay, &momo).await;
    let shop = shop(&app).await;
    let checkout = checkout(&app, &shop, "vnpay").await;
    let request = request_of(&checkout.redirect_url);
    assert_eq!(request["vnp_Amount"], (checkout.amount * 100).to_string());
    assert_eq!(request["vnp_TxnRef"], checkout.reference);

    // Forged: signed with another secret, or altered after signing.
    let genuine = vnpay.ipn_query(&request, &[]);
    let mut params = parse_query(&genuine);
    params.remove("vnp_SecureHash");
    assert_eq!(
        vnpay_ipn(&app, &vnpay_signed_query(&params, "not-the-secret")).await,
        "97"
    );
    let altered = genuine.replace("vnp_BankCode=NCB", "vnp_BankCode=VCB");
    assert_eq!(vnpay_ipn(&app, &altered).await, "97");
    assert_eq!(vnpay_ipn(&app, "").await, "97");
    assert_eq!(vnpay_ipn(&app, "vnp_Amount=1&vnp_Amount=2").await, "97");
    assert_eq!(events(&app).await, 0, "nothing recorded from a forgery");
    // Unknown reference, properly signed.
    let mut unknown = request.clone();
    unknown.insert("vnp_TxnRef".into(), "OCOPNOSUCH1".into());
    assert_eq!(vnpay_ipn(&app, &vnpay.ipn_query(&unknown, &[])).await, "01");
    // Wrong amounts: not a whole đồng, less than asked.
    let half = vnpay.ipn_query(
        &request,
        &[("vnp_Amount", &(checkout.amount * 100 + 50).to_string())],
    );
    assert_eq!(vnpay_ipn(&app, &half).await, "04");
    let less = vnpay.ipn_query(
        &request,
        &[("vnp_Amount", &((checkout.amount - 1000) * 100).to_string())],
    );
    assert_eq!(vnpay_ipn(&app, &less).await, "04");
    assert_eq!(
        vnpay_ipn(&app, &less).await,
        "04",
        "a replay answers the same"
    );
    assert_eq!(status_of(&app, &checkout.reference).await, "pending");
    assert_eq!(
        queue(&app, "wrong_amount").await.len(),
        1,
        "the money waits for an administrator"
    );
    // A declined payment changes nothing; the shopper may try again.
    let declined = vnpay.ipn_query(
        &request,
        &[("vnp_ResponseCode", "24"), ("vnp_TransactionStatus", "02")],
    );
    assert_eq!(vnpay_ipn(&app, &declined).await, "00");
    assert_eq!(status_of(&app, &checkout.reference).await, "pending");
    // The genuine one pays; its replay answers 02 and credits nothing more.
    assert_eq!(vnpay_ipn(&app, &genuine).await, "00");
    assert_eq!(status_of(&app, &checkout.reference).await, "paid");
    assert_eq!(vnpay_ipn(&app, &genuine).await, "02");
    // A declined attempt arriving after the payment (out of order) is already confirmed.
    let late_decline = vnpay.ipn_query(
        &request,
        &[("vnp_ResponseCode", "24"), ("vnp_TransactionStatus", "02")],
    );
    assert_eq!(vnpay_ipn(&app, &late_decline).await, "02");
    let payment = payment_row(&app, &checkout.reference).await;
    assert_eq!(
        payment.received_vnd,
        checkout.amount + checkout.amount - 1000
    );
    assert_ledger(&shop.admin, "cash:vnpay", 2 * checkout.amount - 1000).await;
    assert_ledger(&shop.admin, "suspense:unmatched", -(checkout.amount - 1000)).await;
}

#[tokio::test]
async fn a_vnpay_payment_over_http_is_confirmed_by_the_ipn_and_the_return_only_shows_it() {
    let (vnpay, momo) = (FakeVnpay::start().await, FakeMomo::start().await);
    let app = app_with(&vnpay, &momo).await;
    let shop = shop(&app).await;
    shop.shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_id, "quantity": 1}),
        )
        .await;
    let (_, form) = shop.shopper.page("/checkout").await;
    assert!(
        form.contains(r#"value="vnpay""#) && form.contains(r#"value="momo""#),
        "{form}"
    );
    let checkout = checkout(&app, &shop, "vnpay").await;
    assert!(checkout.redirect_url.starts_with(&vnpay.pay_url()));

    // The shopper's return with a forged "success" pays nothing.
    let request = request_of(&checkout.redirect_url);
    let forged_return = format!(
        "{}&vnp_ResponseCode=00&vnp_TransactionStatus=00&vnp_TxnRef={}",
        checkout.token_url.replace("/api/v1", ""),
        checkout.reference
    );
    let (status, page) = shop.shopper.page(&forged_return).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_of(&app, &checkout.reference).await, "pending");
    // The pending page sends the shopper back to VNPay, and offers a plain refresh.
    assert!(page.contains("Thanh toán qua VNPay"), "{page}");
    let hash = checkout
        .redirect_url
        .rsplit_once("vnp_SecureHash=")
        .unwrap()
        .1;
    assert!(page.contains(hash), "the link is VNPay's signed URL");
    assert!(page.contains("Kiểm tra lại trạng thái"));
    let (_, view) = shop.shopper.get(&checkout.token_url).await;
    assert_eq!(view["payment"]["gateway_url"], json!(checkout.redirect_url));

    // The shopper pays on VNPay's page: VNPay checks the URL's signature and calls the IPN.
    let paid: Value = reqwest::get(&checkout.redirect_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        paid["ipn_answer"],
        json!({"RspCode": "00", "Message": "Confirm Success"}),
        "{paid}"
    );
    assert_eq!(status_of(&app, &checkout.reference).await, "paid");
    // VNPay sends the shopper back: the page shows the payment, paid.
    let return_url = paid["return_url"].as_str().unwrap();
    let local = return_url.trim_start_matches(&app.url(""));
    let (status, page) = shop.shopper.page(local).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Đã thanh toán"),
        "the return page shows it paid"
    );
    let (_, order) = shop
        .shopper
        .get(&format!("/api/v1/orders/{}", checkout.order_id))
        .await;
    assert_eq!(order["status"], "paid");
    assert_ledger(&shop.admin, "cash:vnpay", checkout.amount).await;
    let _ = request;
}

#[tokio::test]
async fn the_same_vnpay_ipn_at_two_app_servers_at_once_credits_once() {
    let (vnpay, momo) = (FakeVnpay::start().await, FakeMomo::start().await);
    let app = app_with(&vnpay, &momo).await;
    let other = app.another_server().await;
    let shop = shop(&app).await;
    let checkout = checkout(&app, &shop, "vnpay").await;
    let ipn = vnpay.ipn_query(&request_of(&checkout.redirect_url), &[]);
    let (a, b, c, d) = tokio::join!(
        vnpay_ipn(&app, &ipn),
        vnpay_ipn(&other, &ipn),
        vnpay_ipn(&app, &ipn),
        vnpay_ipn(&other, &ipn)
    );
    let mut codes = vec![a, b, c, d];
    codes.sort();
    assert_eq!(codes, ["00", "02", "02", "02"]);
    let payment = payment_row(&app, &checkout.reference).await;
    assert_eq!(payment.received_vnd, checkout.amount);
    assert_ledger(&shop.admin, "cash:vnpay", checkout.amount).await;
}

async fn expire_without_stock(app: &TestApp, shop: &Shop, reference: &str) {
    ocop_market::entities::payments::Entity::update_many()
        .col_expr(
            ocop_market::entities::payments::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .filter(ocop_market::entities::payments::Column::Reference.eq(reference))
        .exec(app.db())
        .await
        .unwrap();
    ocop_market::orders::lifecycle::expire_due(app.db())
        .await
        .unwrap();
    crate::support::set_stock(app.db(), shop.product_id, 1).await;
}

async fn refund_row(app: &TestApp) -> refunds::Model {
    refunds::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_vnpay_payment_after_expiry_is_refunded_through_vnpay_once_vnpay_answers() {
    let (vnpay, momo) = (FakeVnpay::start().await, FakeMomo::start().await);
    let app = app_with(&vnpay, &momo).await;
    let shop = shop(&app).await;
    let checkout = checkout(&app, &shop, "vnpay").await;
    expire_without_stock(&app, &shop, &checkout.reference).await;
    // VNPay's refund API does not answer in time: the refund stays pending.
    vnpay.delay(Some(Duration::from_secs(3)));
    let ipn = vnpay.ipn_query(&request_of(&checkout.redirect_url), &[]);
    assert_eq!(
        vnpay_ipn(&app, &ipn).await,
        "00",
        "the money is acknowledged"
    );
    assert_eq!(status_of(&app, &checkout.reference).await, "expired");
    assert_ledger(&shop.admin, "refunds:payable", -checkout.amount).await;
    let (state, db) = (&app.state, app.db());
    eventually(|| async move {
        ocop_market::payments::refund_sender::submit_pending_refunds(state).await;
        let refund = refund_row_in(db).await;
        refund.status == "pending" && refund.last_error.is_some()
    })
    .await;
    assert!(vnpay.refunds().is_empty());

    // VNPay answers again: the refund is sent (full, 02), signed, and completed at once.
    vnpay.delay(None);
    let stand_in = &vnpay;
    eventually(|| async move {
        ocop_market::payments::refund_sender::submit_pending_refunds(state).await;
        refund_row_in(db).await.status == "succeeded" && !stand_in.refunds().is_empty()
    })
    .await;
    let sent = &vnpay.refunds()[0];
    assert_eq!(sent["vnp_TransactionType"], "02");
    assert_eq!(sent["vnp_Amount"], (checkout.amount * 100).to_string());
    assert_eq!(sent["vnp_TxnRef"], checkout.reference.as_str());
    assert!(vnpay.refused().is_empty());
    let refund = refund_row(&app).await;
    assert!(
        refund.provider_refund_id.is_some(),
        "VNPay's refund id is kept"
    );
    assert_eq!(refund.refunded_vnd, Some(checkout.amount));
    assert_ledger(&shop.admin, "refunds:payable", 0).await;
    assert_ledger(&shop.admin, "cash:vnpay", 0).await;
    // The IPN again: already handled, nothing more owed.
    assert_eq!(vnpay_ipn(&app, &ipn).await, "02");
    assert_eq!(refunds::Entity::find().count(app.db()).await.unwrap(), 1);
}

async fn refund_row_in(db: &sea_orm::DatabaseConnection) -> refunds::Model {
    refunds::Entity::find().one(db).await.unwrap().unwrap()
}

#[tokio::test]
async fn momo_ipn_refuses_forgeries_and_credits_a_genuine_one_once() {
    let (vnpay, momo) = (FakeVnpay::start().await, FakeMomo::start().await);
    let app = app_with(&vnpay, &momo).await;
    let shop = shop(&app).await;
    let checkout = checkout(&app, &shop, "momo").await;
    let order = momo.order(&checkout.reference).expect("MoMo got the order");
    assert_eq!(order["amount"], json!(checkout.amount));

    // Forged: altered after signing, another partner, garbage.
    let mut forged = momo.ipn(&checkout.reference, json!({}));
    forged["amount"] = json!(checkout.amount * 10);
    assert_eq!(momo_ipn(&app, &forged).await, StatusCode::UNAUTHORIZED);
    let other_partner = momo.ipn(&checkout.reference, json!({"partnerCode": "MOMOOTHER"}));
    assert_eq!(
        momo_ipn(&app, &other_partner).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        momo_ipn(&app, &json!({"orderId": checkout.reference})).await,
        StatusCode::UNAUTHORIZED
    );
    let not_json = app
        .client()
        .post(app.url("/api/v1/webhooks/momo"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(events(&app).await, 0, "nothing recorded from a forgery");

    // Wrong amount, genuinely signed: the money waits for an administrator.
    let wrong = momo.ipn(
        &checkout.reference,
        json!({"amount": checkout.amount - 1000}),
    );
    assert_eq!(momo_ipn(&app, &wrong).await, StatusCode::NO_CONTENT);
    assert_eq!(status_of(&app, &checkout.reference).await, "pending");
    assert_eq!(queue(&app, "wrong_amount").await.len(), 1);
    // Out of order: a failure notice after... then the success; the failure changes nothing.
    let failed = momo.ipn(
        &checkout.reference,
        json!({"resultCode": 1006, "message": "Người dùng từ chối."}),
    );
    let paid = momo.ipn(&checkout.reference, json!({}));
    assert_eq!(momo_ipn(&app, &paid).await, StatusCode::NO_CONTENT);
    assert_eq!(momo_ipn(&app, &failed).await, StatusCode::NO_CONTENT);
    assert_eq!(status_of(&app, &checkout.reference).await, "paid");
    // Replayed, and at two app servers at once: credited once.
    let other = app.another_server().await;
    let (a, b, c) = tokio::join!(
        momo_ipn(&app, &paid),
        momo_ipn(&other, &paid),
        momo_ipn(&other, &paid)
    );
    assert!([a, b, c].iter().all(|s| *s == StatusCode::NO_CONTENT));
    let payment = payment_row(&app, &checkout.reference).await;
    assert_eq!(
        payment.provider_payment_id,
        Some(paid["transId"].to_string())
    );
    assert_eq!(
        payment.received_vnd,
        checkout.amount + checkout.amount - 1000
    );
    assert_ledger(&shop.admin, "cash:momo", 2 * checkout.amount - 1000).await;
    // Money for an order MoMo knows but the platform does not: the administrator's queue.
    let mut unknown = paid.clone();
    unknown["orderId"] = json!("OCOPNOSUCH1");
    unknown["transId"] = json!(1);
    unknown["signature"] = json!(crate::fake_wallets::sha256(
        MOMO_SECRET,
        &crate::fake_wallets::momo_raw(&unknown, &crate::fake_wallets::MOMO_IPN_FIELDS)
    ));
    assert_eq!(momo_ipn(&app, &unknown).await, StatusCode::NO_CONTENT);
    assert_eq!(queue(&app, "unmatched").await.len(), 1);
}

#[tokio::test]
async fn a_momo_payment_over_http_is_paid_by_the_ipn_and_refunded_through_momo_on_cancel() {
    let (vnpay, momo) = (FakeVnpay::start().await, FakeMomo::start().await);
    let app = app_with(&vnpay, &momo).await;
    let shop = shop(&app).await;
    let checkout = checkout(&app, &shop, "momo").await;
    assert_eq!(
        checkout.redirect_url,
        format!("{}/pay/{}", momo.base, checkout.reference)
    );
    let order = momo.order(&checkout.reference).unwrap();
    assert_eq!(order["ipnUrl"], app.url("/api/v1/webhooks/momo"));
    assert_eq!(order["requestType"], "captureWallet");
    // The shopper pays in the MoMo app: MoMo posts the IPN, the app answers 204.
    let paid: Value = reqwest::get(&checkout.redirect_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(paid["ipn_status"], 204, "{paid}");
    assert_eq!(status_of(&app, &checkout.reference).await, "paid");
    let (_, view) = shop.shopper.get(&checkout.token_url).await;
    assert_eq!(view["payment"]["status"], "paid");
    assert_eq!(view["payment"]["gateway_url"], Value::Null);
    assert_ledger(&shop.admin, "cash:momo", checkout.amount).await;

    // The shopper cancels the paid order: the refund goes through MoMo's refund API.
    let (status, order) = shop
        .shopper
        .post(
            &format!("/api/v1/orders/{}/cancel", checkout.order_id),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
    let (state, db, stand_in) = (&app.state, app.db(), &momo);
    eventually(|| async move {
        ocop_market::payments::refund_sender::submit_pending_refunds(state).await;
        refund_row_in(db).await.status == "succeeded" && !stand_in.refunds().is_empty()
    })
    .await;
    assert!(
        momo.refused().is_empty(),
        "the stand-in accepted the signature"
    );
    let sent = &momo.refunds()[0];
    assert_eq!(sent["transId"], paid["transId"]);
    assert_eq!(sent["amount"], json!(checkout.amount));
    assert_eq!(momo.refunds().len(), 1, "refunded once");
    let refund = refund_row(&app).await;
    assert!(refund.provider_refund_id.is_some());
    assert_ledger(&shop.admin, "refunds:payable", 0).await;
    assert_ledger(&shop.admin, "cash:momo", 0).await;
}

#[tokio::test]
async fn a_momo_gateway_that_does_not_answer_gives_the_checkout_up_and_the_stock_back() {
    let (vnpay, momo) = (FakeVnpay::start().await, FakeMomo::start().await);
    let app = app_with(&vnpay, &momo).await;
    let shop = shop(&app).await;
    let before = products::Entity::find_by_id(shop.product_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .stock_quantity;
    momo.delay(Some(Duration::from_secs(3)));
    shop.shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_id, "quantity": 2}),
        )
        .await;
    let (status, problem) = shop
        .shopper
        .post("/api/v1/checkout", body(&app, "momo"))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    let after = products::Entity::find_by_id(shop.product_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .stock_quantity;
    assert_eq!(before, after, "the stock is back");
    let (_, cart) = shop.shopper.get("/api/v1/cart").await;
    assert_eq!(cart["groups"][0]["lines"][0]["quantity"], 2, "{cart}");
}

#[tokio::test]
async fn a_wallet_the_platform_has_not_configured_cannot_be_chosen() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    shop.shopper
        .post(
            "/api/v1/cart/items",
            json!({"product_id": shop.product_id, "quantity": 1}),
        )
        .await;
    for method in ["vnpay", "momo"] {
        let (status, problem) = shop
            .shopper
            .post("/api/v1/checkout", body(&app, method))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(crate::support::names_field(&problem, "payment_method"));
    }
    let (status, answer) = app
        .admin_free_get("/api/v1/webhooks/vnpay?vnp_TxnRef=x")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["RspCode"], "97");
    let status = momo_ipn(&app, &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn momo_money_after_expiry_is_refunded_through_momo_once_momo_answers() {
    let (vnpay, momo) = (FakeVnpay::start().await, FakeMomo::start().await);
    let app = app_with(&vnpay, &momo).await;
    let shop = shop(&app).await;
    let checkout = checkout(&app, &shop, "momo").await;
    expire_without_stock(&app, &shop, &checkout.reference).await;
    // MoMo's refund API does not answer in time: the refund stays pending.
    momo.delay(Some(Duration::from_secs(3)));
    let paid = momo.ipn(&checkout.reference, json!({}));
    assert_eq!(momo_ipn(&app, &paid).await, StatusCode::NO_CONTENT);
    assert_eq!(status_of(&app, &checkout.reference).await, "expired");
    assert_ledger(&shop.admin, "refunds:payable", -checkout.amount).await;
    let (state, db) = (&app.state, app.db());
    eventually(|| async move {
        ocop_market::payments::refund_sender::submit_pending_refunds(state).await;
        let refund = refund_row_in(db).await;
        refund.status == "pending" && refund.last_error.is_some()
    })
    .await;

    // MoMo answers again: refunded once, under the same refund order id.
    momo.delay(None);
    let stand_in = &momo;
    eventually(|| async move {
        ocop_market::payments::refund_sender::submit_pending_refunds(state).await;
        refund_row_in(db).await.status == "succeeded" && !stand_in.refunds().is_empty()
    })
    .await;
    let refunds_at_momo = momo.refunds();
    let order_ids: std::collections::HashSet<&Value> =
        refunds_at_momo.iter().map(|r| &r["orderId"]).collect();
    assert_eq!(
        order_ids.len(),
        1,
        "one refund order at MoMo: {refunds_at_momo:?}"
    );
    assert_eq!(refunds_at_momo[0]["transId"], paid["transId"]);
    assert_ledger(&shop.admin, "refunds:payable", 0).await;
    assert_ledger(&shop.admin, "cash:momo", 0).await;
    // The IPN again: nothing more owed.
    assert_eq!(momo_ipn(&app, &paid).await, StatusCode::NO_CONTENT);
    assert_eq!(refunds::Entity::find().count(app.db()).await.unwrap(), 1);
}
