//! Money paths a review found wrong (issue 16): bank amounts and directions, card refunds
//! sent once, payouts of earned money only. Each test failed before its fix.

use ocop_market::config::{BankWebhookConfig, Secret};
use ocop_market::entities::payments;
use ocop_market::payments::bank;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::checkout::{BANK_SECRET, balance, checkout, ledger, shop};
use crate::support::{TestApp, into_json};

async fn app_with_format(format: &str) -> TestApp {
    let format = format.to_owned();
    TestApp::spawn_with(move |config| {
        config.commerce.bank_webhook =
            Some(BankWebhookConfig::preset(&format, Secret::new(BANK_SECRET)).unwrap());
    })
    .await
}

/// Posts `body` as the notification service would, signed.
async fn notify_raw(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    let body = body.to_string();
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
    into_json(response).await
}

async fn payment(app: &TestApp, reference: &str) -> payments::Model {
    payments::Entity::find()
        .filter(payments::Column::Reference.eq(reference))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
}

fn outcomes(answer: &Value) -> Vec<&str> {
    answer["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["outcome"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_text_amount_with_a_zero_fraction_pays_its_value_not_a_hundred_times_more() {
    let app = app_with_format("generic").await;
    let shop = shop(&app).await;
    let (_, done) = checkout(&app, &[(shop.product_a, 1)]).await;
    let reference = done["payment"]["reference"].as_str().unwrap();

    // 1,500 đồng written "1500.00" is 1,500 đồng: short of the 280,000 owed.
    let (status, answer) = notify_raw(
        &app,
        &json!({"transaction_id": "FT-1", "amount": "1500.00", "description": reference}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(outcomes(&answer), ["underpaid"]);
    assert_eq!(payment(&app, reference).await.status, "pending");

    // The rest, in Vietnamese grouping with a zero fraction.
    let (status, answer) = notify_raw(
        &app,
        &json!({"transaction_id": "FT-2", "amount": "278.500,00", "description": reference}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, queue) = shop.admin.get("/api/v1/admin/payment-exceptions").await;
    let amounts: Vec<i64> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["amount_vnd"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts[0], 1_500, "{queue}");
    assert_eq!(
        balance(&ledger(&shop.admin).await, "cash:bank"),
        280_000,
        "exactly what arrived"
    );

    // A fraction of a đồng is never guessed: the service is told, nothing is recorded.
    let (_, other) = checkout(&app, &[(shop.product_b, 1)]).await;
    let other_ref = other["payment"]["reference"].as_str().unwrap();
    let (status, problem) = notify_raw(
        &app,
        &json!({"transaction_id": "FT-3", "amount": "280000.5", "description": other_ref}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["code"], "unreadable_transfer");
    assert!(
        problem["detail"].as_str().unwrap().contains("/amount"),
        "{problem}"
    );
    assert_eq!(payment(&app, other_ref).await.received_vnd, 0);
    let (_, answer) = notify_raw(
        &app,
        &json!({"transaction_id": "FT-3", "amount": "280.000", "description": other_ref}),
    )
    .await;
    assert_eq!(
        outcomes(&answer),
        ["paid"],
        "the corrected resend still settles"
    );
}

#[tokio::test]
async fn a_casso_batch_skips_money_out_settles_the_rest_and_queues_what_it_cannot_read() {
    let app = app_with_format("casso").await;
    let shop = shop(&app).await;
    let (_, first) = checkout(&app, &[(shop.product_a, 1)]).await;
    let (_, second) = checkout(&app, &[(shop.product_b, 1)]).await;
    let ref1 = first["payment"]["reference"].as_str().unwrap();
    let ref2 = second["payment"]["reference"].as_str().unwrap();
    let batch = json!({"error": 0, "data": [
        // A refund going out whose description carries a reference: never money in.
        {"tid": "FT-OUT", "amount": -280000, "description": format!("hoan tien {ref1}")},
        {"tid": "FT-IN", "amount": "280.000", "description": format!("NGUYEN VAN A {ref1}")},
        {"tid": "FT-ODD", "amount": "1.5", "description": "?"},
        {"tid": "FT-IN2", "amount": 280000, "description": ref2},
    ]});
    let (status, answer) = notify_raw(&app, &batch).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        outcomes(&answer),
        ["outgoing_ignored", "paid", "refused", "paid"]
    );
    assert!(
        answer["transfers"][2]["problem"]
            .as_str()
            .unwrap()
            .contains("/amount")
    );
    assert_eq!(payment(&app, ref1).await.received_vnd, 280_000);
    assert_eq!(payment(&app, ref2).await.status, "paid");

    // Casso resends the same batch: nothing moves twice, the odd item stays queued once.
    let (status, answer) = notify_raw(&app, &batch).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        outcomes(&answer),
        ["outgoing_ignored", "duplicate", "duplicate", "duplicate"]
    );
    let (_, queue) = shop.admin.get("/api/v1/admin/payment-exceptions").await;
    let queue = queue.as_array().unwrap();
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(queue[0]["kind"], "unreadable_transfer");
    assert_eq!(queue[0]["amount_vnd"], 0);
    let books = ledger(&shop.admin).await;
    assert_eq!(balance(&books, "cash:bank"), 560_000);
    assert_eq!(balance(&books, "suspense:unmatched"), 0);

    // The administrator closes the unreadable item; nothing was booked, nothing is unbooked.
    let id = queue[0]["id"].as_i64().unwrap();
    let (status, body) = shop
        .admin
        .post(
            &format!("/api/v1/admin/payment-exceptions/{id}/resolve"),
            json!({"resolution": "1,5 đ test transfer", "returned_with_bank_reference": "FT-BACK"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(balance(&ledger(&shop.admin).await, "cash:bank"), 560_000);
}

#[tokio::test]
async fn sepay_money_out_is_ignored_and_its_direction_is_required() {
    let app = app_with_format("sepay").await;
    let shop = shop(&app).await;
    let (_, done) = checkout(&app, &[(shop.product_a, 1)]).await;
    let reference = done["payment"]["reference"].as_str().unwrap();
    let (status, answer) = notify_raw(
        &app,
        &json!({"id": 1, "transferType": "out", "transferAmount": 280000, "content": reference}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(outcomes(&answer), ["outgoing_ignored"]);
    let (status, problem) = notify_raw(
        &app,
        &json!({"id": 2, "transferAmount": 280000, "content": reference}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("transferType"));
    assert_eq!(payment(&app, reference).await.received_vnd, 0);
    let (_, answer) = notify_raw(
        &app,
        &json!({"id": 3, "transferType": "in", "transferAmount": "280000.00", "content": reference}),
    )
    .await;
    assert_eq!(outcomes(&answer), ["paid"]);
}

mod card_refunds {
    use std::time::Duration;

    use ocop_market::entities::refunds;
    use ocop_market::payments::refund_sender::submit_pending_refunds;
    use reqwest::StatusCode;
    use sea_orm::EntityTrait;
    use serde_json::json;

    use crate::fake_stripe::{Failure, FakeStripe, event};
    use crate::stripe::{
        SECRET, app_with, assert_ledger, card_checkout, charge_refunded, completed, send, shop,
    };
    use crate::support::{TestApp, eventually};

    async fn refund_row(app: &TestApp) -> refunds::Model {
        refunds::Entity::find()
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
    }

    /// Runs the refund sender, as its periodic task would, until the refund is in `status`:
    /// on a loaded machine one run may time out (the client waits one second here), which
    /// releases the refund for the next run under the same key.
    async fn status_is(app: &TestApp, status: &str) {
        eventually(|| async {
            submit_pending_refunds(&app.state).await;
            refunds::Entity::find()
                .one(app.db())
                .await
                .unwrap()
                .is_some_and(|r| r.status == status)
        })
        .await;
    }

    #[tokio::test]
    async fn racing_refund_senders_make_one_refund_and_stripes_conflict_never_fails_it() {
        let fake = FakeStripe::start().await;
        let app = app_with(&fake, &[SECRET]).await;
        let shop = shop(&app).await;
        let checkout = card_checkout(&app, &shop).await;
        let paid = fake.pay(&checkout.session_id, None);
        assert_eq!(send(&app, &completed("evt_pay", &paid)).await, "paid");

        // Stripe answers slowly: the cancellation's own sender and two more (another app
        // server's periodic task, say) all find the refund pending.
        fake.fail(Some(Failure::Delay(Duration::from_millis(400))));
        let (status, _) = shop
            .shopper
            .post(
                &format!("/api/v1/orders/{}/cancel", checkout.order_id),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        tokio::join!(
            submit_pending_refunds(&app.state),
            submit_pending_refunds(&app.state)
        );
        fake.fail(None);
        status_is(&app, "submitted").await;
        submit_pending_refunds(&app.state).await;
        assert_eq!(fake.refunds_created().len(), 1, "one refund at Stripe");
        let refund = refund_row(&app).await;
        assert_eq!(
            refund.refunded_vnd,
            Some(checkout.amount),
            "Stripe's amount"
        );
        assert!(refund.provider_refund_id.is_some());

        // Nothing failed, so an administrator cannot send it again under a new key.
        let (status, _) = shop
            .admin
            .post(
                &format!("/api/v1/admin/refunds/{}/retry", refund.id),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(fake.refunds_created().len(), 1);
        assert_ledger(&shop.admin, "refunds:payable", -checkout.amount).await;
    }

    #[tokio::test]
    async fn rate_limits_conflicts_and_server_errors_are_retried_under_the_same_key() {
        for failure in [Failure::RateLimited, Failure::Conflict, Failure::ApiError] {
            let fake = FakeStripe::start().await;
            let app = app_with(&fake, &[SECRET]).await;
            let shop = shop(&app).await;
            let checkout = card_checkout(&app, &shop).await;
            let paid = fake.pay(&checkout.session_id, None);
            let intent = paid["payment_intent"].as_str().unwrap().to_owned();
            assert_eq!(send(&app, &completed("evt_pay", &paid)).await, "paid");
            fake.fail(Some(failure));
            let (status, _) = shop
                .shopper
                .post(
                    &format!("/api/v1/orders/{}/cancel", checkout.order_id),
                    json!({}),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            submit_pending_refunds(&app.state).await;
            status_is(&app, "pending").await;
            let refund = refund_row(&app).await;
            assert!(refund.last_error.is_some(), "{failure:?}");
            assert_eq!(fake.refunds_created().len(), 0);

            fake.fail(None);
            submit_pending_refunds(&app.state).await;
            status_is(&app, "submitted").await;
            let key = format!("refund-{}", refund.id);
            assert!(
                fake.calls_to("POST", "/v1/refunds")
                    .iter()
                    .all(|c| c.idempotency_key.as_deref() == Some(key.as_str())),
                "{failure:?}: one key throughout"
            );
            assert_eq!(fake.refunds_created_with_key(&key), 1);
            assert_eq!(fake.refunds_created().len(), 1);

            // charge.refunded completes it with what Stripe says it refunded.
            let submitted = refund_row(&app).await;
            let charge = charge_refunded(&intent, checkout.amount, &submitted, true);
            assert_eq!(
                send(&app, &event("evt_refunded", "charge.refunded", charge)).await,
                "refunds_completed"
            );
            let done = refund_row(&app).await;
            assert_eq!(done.status, "succeeded");
            assert_eq!(done.refunded_vnd, Some(checkout.amount));
            assert_ledger(&shop.admin, "refunds:payable", 0).await;
            assert_ledger(&shop.admin, "cash:stripe", 0).await;
        }
    }
}

mod payouts {
    use std::time::Duration;

    use ocop_market::config::{BankWebhookConfig, Secret};
    use ocop_market::entities::order_events;
    use reqwest::StatusCode;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use serde_json::{Value, json};

    use crate::checkout::{BANK_SECRET, checkout, notify, shop};
    use crate::support::{TestApp, User};

    async fn app(window_days: u64) -> TestApp {
        TestApp::spawn_with(move |config| {
            config.commerce.bank_webhook =
                Some(BankWebhookConfig::generic(Secret::new(BANK_SECRET)));
            config.commerce.return_window = Duration::from_secs(window_days * 24 * 3600);
        })
        .await
    }

    async fn payout(admin: &User, coop: i64, amount: i64, reference: &str) -> (StatusCode, Value) {
        admin
            .post(
                "/api/v1/admin/payouts",
                json!({"cooperative_id": coop, "amount_vnd": amount, "bank_reference": reference}),
            )
            .await
    }

    async fn deliver(owner: &User, order: i64) {
        for (action, body) in [
            ("accept", json!({})),
            (
                "ship",
                json!({"carrier": "VNPost", "tracking_number": "EV1"}),
            ),
            ("deliver", json!({})),
        ] {
            let (status, body) = owner
                .post(&format!("/api/v1/orders/{order}/{action}"), body)
                .await;
            assert_eq!(status, StatusCode::OK, "{action}: {body}");
        }
    }

    /// One paid order of cooperative A (280,000 đ: 267,500 đ owed after the 5 % commission).
    async fn paid_order(app: &TestApp, product: i64, transfer: &str) -> i64 {
        let (_, done) = checkout(app, &[(product, 1)]).await;
        let reference = done["payment"]["reference"].as_str().unwrap();
        let (_, answer) = notify(app, transfer, 280_000, reference).await;
        assert_eq!(answer["transfers"][0]["outcome"], "paid");
        done["orders"][0]["id"].as_i64().unwrap()
    }

    #[tokio::test]
    async fn only_money_from_delivered_orders_past_the_return_window_is_paid_out() {
        let app = app(7).await;
        let shop = shop(&app).await;
        let order = paid_order(&app, shop.product_a, "FT-P1").await;

        // Paid, not delivered: owed, but pending; the cooperative could still cancel it.
        let (status, problem) = payout(&shop.admin, shop.coop_a, 100_000, "PO-1").await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(problem["code"], "payout_exceeds_balance");
        let (_, html) = shop.admin.page("/admin/payments").await;
        assert!(html.contains("267.500"), "the pending balance is shown");

        // Delivered today: still within the 7-day return window.
        deliver(&shop.owner_a, order).await;
        let (_, statement) = shop
            .owner_a
            .get(&format!("/api/v1/cooperatives/{}/statement", shop.coop_a))
            .await;
        assert_eq!(
            statement["balances"],
            json!({"owed_vnd": 267_500, "pending_vnd": 267_500, "available_vnd": 0, "paid_out_vnd": 0})
        );
        let (status, _) = payout(&shop.admin, shop.coop_a, 100_000, "PO-1").await;
        assert_eq!(status, StatusCode::CONFLICT);

        // Eight days later the money is earned.
        order_events::Entity::update_many()
            .col_expr(
                order_events::Column::At,
                Expr::value(chrono::Utc::now() - chrono::Duration::days(8)),
            )
            .filter(order_events::Column::OrderId.eq(order))
            .exec(app.db())
            .await
            .unwrap();
        let (status, body) = payout(&shop.admin, shop.coop_a, 267_501, "PO-1").await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (status, body) = payout(&shop.admin, shop.coop_a, 267_500, "PO-1").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["available_after_vnd"], 0);
        assert_eq!(body["balance_after_vnd"], 0);
        let (_, statement) = shop
            .owner_a
            .get(&format!("/api/v1/cooperatives/{}/statement", shop.coop_a))
            .await;
        assert_eq!(
            statement["balances"],
            json!({"owed_vnd": 0, "pending_vnd": 0, "available_vnd": 0, "paid_out_vnd": 267_500})
        );
    }

    #[tokio::test]
    async fn two_payouts_at_once_cannot_both_spend_the_available_balance() {
        let app = app(0).await;
        let shop = shop(&app).await;
        let order = paid_order(&app, shop.product_a, "FT-P2").await;
        deliver(&shop.owner_a, order).await;
        for round in 0..3 {
            let references: Vec<String> = (0..4).map(|i| format!("PO-{round}-{i}")).collect();
            let answers = futures_util::future::join_all(
                references
                    .iter()
                    .map(|reference| payout(&shop.admin, shop.coop_a, 200_000, reference)),
            )
            .await;
            let ok = answers
                .iter()
                .filter(|(status, _)| *status == StatusCode::OK)
                .count();
            assert!(ok <= 1, "{answers:?}");
            assert!(
                answers
                    .iter()
                    .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
                "{answers:?}"
            );
            if round == 0 {
                assert_eq!(ok, 1, "{answers:?}");
            }
        }
        let paid_out: i64 = ocop_market::entities::payouts::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .iter()
            .map(|p| p.amount_vnd)
            .sum();
        assert_eq!(paid_out, 200_000);
    }
}

mod stock {
    use ocop_market::entities::stock_adjustments;
    use reqwest::StatusCode;
    use sea_orm::EntityTrait;
    use serde_json::json;

    use crate::checkout::{app, checkout, expire_now, form, shop, stock};

    #[tokio::test]
    async fn a_product_edit_never_undoes_reservations_and_stock_moves_only_by_adjustments() {
        let app = app().await;
        let shop = shop(&app).await;
        let id = shop.product_a;
        let path = format!("/api/v1/products/{id}");
        // The cooperative opens its product: 40 in stock.
        let (_, loaded) = shop.owner_a.get(&path).await;
        assert_eq!(loaded["stock_quantity"], 40);
        // Meanwhile a shopper reserves 3.
        let (_, done) = checkout(&app, &[(id, 3)]).await;
        assert_eq!(stock(&app, id).await, 37);
        // The cooperative saves what it loaded: the stale stock figure is refused.
        let edit = |stock: Option<i64>| {
            let mut body = json!({
                "name": "Mật ong bạc hà", "category_code": "food-processed",
                "price_vnd": 250000, "unit": "chai 500 ml",
                "description": "Mô tả mới",
            });
            if let Some(stock) = stock {
                body["stock_quantity"] = json!(stock);
            }
            body
        };
        let (status, problem) = shop.owner_a.put(&path, edit(Some(40))).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(problem["code"], "stock_is_adjusted");
        assert_eq!(stock(&app, id).await, 37);
        // A description edit (without stock, or with the stock as it is) never touches it.
        let (status, body) = shop.owner_a.put(&path, edit(None)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = shop.owner_a.put(&path, edit(Some(37))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["description"], "Mô tả mới");
        // Nor does the page's edit form, whatever a stale page still posts.
        let response = form(
            &shop.owner_a.client,
            &app,
            &format!("/workspace/products/{id}"),
            &[
                ("name", "Mật ong bạc hà"),
                ("category_code", "food-processed"),
                ("price", "250000"),
                ("unit", "chai 500 ml"),
                ("stock_quantity", "40"),
                ("description", "Từ trang"),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(stock(&app, id).await, 37);
        // The reservation expires: exactly its 3 units come back.
        expire_now(&app, done["payment"]["reference"].as_str().unwrap()).await;
        ocop_market::orders::lifecycle::expire_due(app.db())
            .await
            .unwrap();
        assert_eq!(stock(&app, id).await, 40, "no oversell");

        // Adjustments: a delta with a reason, never below zero, only by the cooperative.
        let stock_path = format!("/api/v1/products/{id}/stock");
        let (status, body) = shop
            .owner_a
            .post(
                &stock_path,
                json!({"delta": 10, "reason": "Nhập hàng từ vườn"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["stock_quantity"], 50);
        let (status, problem) = shop
            .owner_a
            .post(&stock_path, json!({"delta": -51, "reason": "Kiểm kho"}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(problem["code"], "insufficient_stock");
        let (status, _) = shop
            .owner_a
            .post(&stock_path, json!({"delta": 0, "reason": ""}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = shop
            .owner_b
            .post(
                &stock_path,
                json!({"delta": 5, "reason": "không phải của tôi"}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(stock(&app, id).await, 50);

        // The page form: applied, or refused beside its field.
        let page = format!("/workspace/products/{id}/stock");
        let response = form(
            &shop.owner_a.client,
            &app,
            &page,
            &[("delta", "+5"), ("reason", "Nhập thêm")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let response = form(
            &shop.owner_a.client,
            &app,
            &page,
            &[("delta", "năm"), ("reason", "Nhập thêm")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("id=\"delta-error\"")
        );
        let (_, html) = shop
            .owner_a
            .page(&format!("/workspace/products/{id}"))
            .await;
        assert!(html.contains("Nhập hàng từ vườn") && html.contains("55"));
        assert_eq!(stock(&app, id).await, 55);
        let recorded = stock_adjustments::Entity::find()
            .all(app.db())
            .await
            .unwrap();
        assert_eq!(
            recorded.iter().map(|a| a.delta).collect::<Vec<_>>(),
            vec![10, 5]
        );
        assert!(recorded.iter().all(|a| a.actor_user_id > 0));
    }
}

mod cart_merge {
    use ocop_market::entities::{cart_items, carts, products};
    use reqwest::StatusCode;
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, NotSet, QueryFilter, Set};
    use serde_json::{Value, json};

    use crate::checkout::{address, app, shop};
    use crate::support::{PASSWORD, TestApp, into_json};

    async fn log_in(app: &TestApp, client: &reqwest::Client, identifier: &str) {
        let response = client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"identifier": identifier, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    async fn get_cart(app: &TestApp, client: &reqwest::Client) -> (StatusCode, Value) {
        into_json(client.get(app.url("/api/v1/cart")).send().await.unwrap()).await
    }

    async fn add(app: &TestApp, client: &reqwest::Client, product: i64, quantity: i64) {
        let response = client
            .post(app.url("/api/v1/cart/items"))
            .json(&json!({"product_id": product, "quantity": quantity}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_visitor_cart_with_a_product_no_longer_for_sale_merges_the_rest_and_says_so() {
        let app = app().await;
        let shop = shop(&app).await;
        let lan = app.user("lan@example.vn").await;
        add(&app, &lan.client, shop.product_b, 1).await;
        // On another phone, before logging in, Lan fills a cart.
        let phone = app.client();
        add(&app, &phone, shop.product_a, 2).await;
        add(&app, &phone, shop.product_b, 2).await;
        // The honey is taken off sale meanwhile.
        let (status, _) = shop
            .owner_a
            .post(
                &format!("/api/v1/products/{}/archive", shop.product_a),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        log_in(&app, &phone, "lan@example.vn").await;

        let (status, cart) = get_cart(&app, &phone).await;
        assert_eq!(status, StatusCode::OK, "{cart}");
        assert_eq!(cart["left_out"].as_array().unwrap().len(), 1, "{cart}");
        assert_eq!(cart["left_out"][0]["product_id"], shop.product_a);
        assert_eq!(cart["left_out"][0]["reason"], "unavailable");
        assert_eq!(cart["groups"][0]["lines"][0]["product_id"], shop.product_b);
        assert_eq!(cart["groups"][0]["lines"][0]["quantity"], 3);
        // Said once; the session goes on: the page, the cart and checkout all work.
        let (_, cart) = get_cart(&app, &phone).await;
        assert_eq!(cart["left_out"], json!([]));
        let response = phone.get(app.url("/cart")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let (status, done) = into_json(
            phone
                .post(app.url("/api/v1/checkout"))
                .json(&address())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{done}");
    }

    #[tokio::test]
    async fn a_merge_that_would_pass_fifty_lines_keeps_the_cart_and_names_what_did_not_fit() {
        let app = app().await;
        let shop = shop(&app).await;
        let lan = app.user("lan@example.vn").await;
        add(&app, &lan.client, shop.product_b, 1).await;
        // Lan's account cart already holds 50 products.
        let template = products::Entity::find_by_id(shop.product_b)
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        let cart = carts::Entity::find()
            .filter(carts::Column::UserId.eq(lan.id))
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        for i in 0..49 {
            let mut row: products::ActiveModel = template.clone().into();
            row.id = NotSet;
            row.slug = Set(format!("{}-{i}", template.slug));
            let product = row.insert(app.db()).await.unwrap();
            // Its one variant, as a product written through the app has.
            ocop_market::catalog::variants::backfill(app.db())
                .await
                .unwrap();
            let variant = ocop_market::catalog::variants::resolve(app.db(), product.id, None)
                .await
                .unwrap()
                .unwrap();
            cart_items::ActiveModel {
                cart_id: Set(cart.id),
                product_id: Set(product.id),
                variant_id: Set(variant.id),
                quantity: Set(1),
                added_at: Set(chrono::Utc::now()),
                ..Default::default()
            }
            .insert(app.db())
            .await
            .unwrap();
        }
        let phone = app.client();
        add(&app, &phone, shop.product_a, 1).await;
        add(&app, &phone, shop.product_b, 1).await;
        log_in(&app, &phone, "lan@example.vn").await;
        let (status, cart) = get_cart(&app, &phone).await;
        assert_eq!(status, StatusCode::OK, "{cart}");
        assert_eq!(cart["left_out"][0]["product_id"], shop.product_a);
        assert_eq!(cart["left_out"][0]["reason"], "cart_full");
        assert_eq!(
            cart["item_count"], 51,
            "49 + 2 units of the product both carts held"
        );
        let (status, _) = get_cart(&app, &phone).await;
        assert_eq!(status, StatusCode::OK);
    }
}

mod cooperative_review {
    use reqwest::StatusCode;
    use serde_json::{Value, json};

    use crate::support::{TestApp, User, cooperative_body};

    async fn pending_view(admin: &User, id: i64, status: &str) -> Value {
        let (status_code, list) = admin
            .get(&format!("/api/v1/admin/cooperatives?status={status}"))
            .await;
        assert_eq!(status_code, StatusCode::OK, "{list}");
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("cooperative {id} is not {status}: {list}"))
    }

    async fn decide(
        admin: &User,
        id: i64,
        decision: &str,
        fingerprint: &Value,
    ) -> (StatusCode, Value) {
        admin
            .post(
                &format!("/api/v1/admin/cooperatives/{id}/decision"),
                json!({"decision": decision, "fingerprint": fingerprint, "reason": "Đã kiểm tra"}),
            )
            .await
    }

    #[tokio::test]
    async fn a_decision_is_on_what_was_reviewed_and_a_later_rename_or_new_account_goes_back_to_review()
     {
        let app = TestApp::spawn().await;
        let admin = app.admin().await;
        let owner = app.user("owner@htx.vn").await;
        let (status, coop) = owner
            .post(
                "/api/v1/cooperatives",
                cooperative_body("5100000009", "HTX Mật ong Gia Phú"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{coop}");
        let id = coop["id"].as_i64().unwrap();
        let path = format!("/api/v1/cooperatives/{id}");

        // The province reviews the application…
        let reviewed = pending_view(&admin, id, "pending").await["review_fingerprint"].clone();
        // …while the cooperative swaps its bank account.
        let mut body = cooperative_body("5100000009", "HTX Mật ong Gia Phú");
        body["bank_account_number"] = json!("9999999999");
        let (status, _) = owner.put(&path, body.clone()).await;
        assert_eq!(status, StatusCode::OK);
        let (status, problem) = decide(&admin, id, "verify", &reviewed).await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(problem["code"], "stale_review");
        pending_view(&admin, id, "pending").await;

        // Reviewed again, verified: what was verified is recorded.
        let reviewed = pending_view(&admin, id, "pending").await["review_fingerprint"].clone();
        let (status, body_after) = decide(&admin, id, "verify", &reviewed).await;
        assert_eq!(status, StatusCode::OK, "{body_after}");
        assert_eq!(body_after["status"], "verified");

        // A rename after verification goes back to review, as a new account does.
        body["name"] = json!("HTX Mật ong Hà Giang");
        let (status, renamed) = owner.put(&path, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{renamed}");
        assert_eq!(renamed["status"], "pending", "{renamed}");
        let reviewed = pending_view(&admin, id, "pending").await["review_fingerprint"].clone();
        let (status, _) = decide(&admin, id, "verify", &reviewed).await;
        assert_eq!(status, StatusCode::OK);
        body["bank_account_holder"] = json!("NGUYEN VAN B");
        let (_, changed) = owner.put(&path, body.clone()).await;
        assert_eq!(changed["status"], "pending", "{changed}");

        // The same through the administrator's page: the form carries what was shown.
        let reviewed = pending_view(&admin, id, "pending").await["review_fingerprint"].clone();
        body["bank_account_number"] = json!("1111111111");
        owner.put(&path, body.clone()).await;
        let response = crate::checkout::form(
            &admin.client,
            &app,
            &format!("/admin/cooperatives/{id}/decision"),
            &[
                ("decision", "verify"),
                ("fingerprint", reviewed.as_str().unwrap()),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        pending_view(&admin, id, "pending").await;
        let (_, html) = admin.page("/admin").await;
        let current = pending_view(&admin, id, "pending").await["review_fingerprint"].clone();
        assert!(
            html.contains(current.as_str().unwrap()),
            "the page carries the fingerprint"
        );
    }
}

mod disputes {
    use ocop_market::entities::orders;
    use ocop_market::ledger::reports;
    use sea_orm::EntityTrait;
    use serde_json::json;

    use crate::fake_stripe::{FakeStripe, event};
    use crate::stripe::{SECRET, app_with, assert_ledger, card_checkout, completed, send, shop};

    #[tokio::test]
    async fn disputes_and_refunds_made_in_stripes_dashboard_reach_the_ledger_and_the_cooperative() {
        let fake = FakeStripe::start().await;
        let app = app_with(&fake, &[SECRET]).await;
        let shop = shop(&app).await;
        let checkout = card_checkout(&app, &shop).await;
        let paid = fake.pay(&checkout.session_id, None);
        let intent = paid["payment_intent"].as_str().unwrap().to_owned();
        assert_eq!(send(&app, &completed("evt_pay", &paid)).await, "paid");
        let order = orders::Entity::find_by_id(checkout.order_id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        let coop = order.cooperative_id;
        let owed = reports::cooperative_balance(app.db(), coop).await.unwrap();
        assert_eq!(owed, order.total_vnd - order.commission_vnd);

        // The shopper's bank disputes the whole charge: Stripe takes the money back.
        let dispute = |status: &str| {
            json!({"id": "dp_test_1", "object": "dispute", "amount": checkout.amount,
                   "currency": "vnd", "charge": format!("ch_for_{intent}"),
                   "payment_intent": intent, "status": status, "reason": "fraudulent"})
        };
        let opened = event(
            "evt_dp_1",
            "charge.dispute.created",
            dispute("needs_response"),
        );
        assert_eq!(send(&app, &opened).await, "dispute_opened");
        assert_eq!(send(&app, &opened).await, "duplicate");
        let again = event(
            "evt_dp_1b",
            "charge.dispute.created",
            dispute("needs_response"),
        );
        assert_eq!(send(&app, &again).await, "already_recorded");
        assert_ledger(&shop.admin, "cash:stripe", 0).await;
        assert_eq!(
            reports::cooperative_balance(app.db(), coop).await.unwrap(),
            0
        );
        assert_ledger(&shop.admin, "revenue:commission", 0).await;

        // Won: the money comes back, and what the cooperative is owed with it.
        let won = event("evt_dp_2", "charge.dispute.closed", dispute("won"));
        assert_eq!(send(&app, &won).await, "dispute_won");
        let won_again = event("evt_dp_3", "charge.dispute.closed", dispute("won"));
        assert_eq!(send(&app, &won_again).await, "already_recorded");
        assert_ledger(&shop.admin, "cash:stripe", checkout.amount).await;
        assert_eq!(
            reports::cooperative_balance(app.db(), coop).await.unwrap(),
            owed
        );

        // Someone refunds 100,000 đ in Stripe's dashboard: the platform did not start it.
        let charge = json!({
            "id": format!("ch_for_{intent}"), "object": "charge", "amount": checkout.amount,
            "amount_refunded": 100_000, "currency": "vnd", "payment_intent": intent,
            "refunded": false,
            "refunds": {"object": "list", "data": [{
                "id": "re_dashboard_1", "object": "refund", "amount": 100_000, "currency": "vnd",
                "payment_intent": intent, "status": "succeeded", "metadata": {},
            }]},
        });
        let refunded = event("evt_re_dash", "charge.refunded", charge.clone());
        assert_eq!(send(&app, &refunded).await, "external_refund_recorded");
        let refunded_again = event("evt_re_dash_2", "charge.refunded", charge);
        assert_eq!(send(&app, &refunded_again).await, "no_matching_refund");
        assert_ledger(&shop.admin, "cash:stripe", checkout.amount - 100_000).await;
        let after = reports::cooperative_balance(app.db(), coop).await.unwrap();
        assert!(after < owed && after > owed - 100_000, "{after} of {owed}");
        let commission = reports::account_sum(app.db(), "revenue:commission")
            .await
            .unwrap();
        assert_eq!(
            -commission + after,
            checkout.amount - 100_000,
            "the cooperative and the commission bear the refund between them"
        );
    }
}
