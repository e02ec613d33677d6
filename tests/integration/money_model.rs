//! The money model test (issue 16): random sequences of operations against the real app over
//! HTTP — checkouts from one to three cooperatives paid by bank notification (exact, short,
//! long, duplicated, reordered, late after expiry; amounts as numbers and as text) or by card
//! (Stripe events duplicated and out of order, refunds refused, rate-limited and retried),
//! cancellations by shopper and cooperative, shipping and delivery, payouts, stock adjustments
//! and expiries — checking after every step that the money adds up:
//!
//! - every ledger transaction balances;
//! - the bank account and the Stripe balance hold what the ledger says was received less what
//!   left (what the model sent in and took out, and what the Stripe stand-in refunded);
//! - no cooperative's available balance is negative, and payouts are what was paid out;
//! - no payment is credited twice, and Stripe refunds each platform refund at most once;
//! - for each product, stock + reserved + sold = what was ever added;
//! - every order's status agrees with its payment's.
//!
//! `OCOP_MODEL_STEPS` (default 2000) sets the length, `OCOP_MODEL_SEED` replays a run: the
//! seed and the last steps are printed with any failure.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use ocop_market::config::{BankWebhookConfig, Secret, StripeConfig};
use ocop_market::entities::{
    ledger_transactions, order_items, orders, payment_exceptions, payments, payouts, products,
    refunds,
};
use ocop_market::ledger::reports;
use ocop_market::payments::{balances, bank};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fake_stripe::{Failure, FakeStripe, event, signature_header};
use crate::support::{TestApp, User, into_json, published_product, verified_cooperative};

const BANK_SECRET: &str = "model-bank-secret";
const STRIPE_SECRET: &str = "whsec_model";

/// One checkout the model made.
#[derive(Debug, Clone)]
struct Checkout {
    id: i64,
    reference: String,
    amount: i64,
    card: bool,
    session_id: Option<String>,
    /// The session as Stripe reported it once paid (its payment intent).
    paid_session: Option<Value>,
    shopper: usize,
}

struct Run {
    app: TestApp,
    fake: FakeStripe,
    rng: StdRng,
    seed: u64,
    admin: User,
    shoppers: Vec<User>,
    owners: Vec<User>,
    coops: Vec<i64>,
    products: Vec<(i64, usize)>,
    checkouts: Vec<Checkout>,
    /// Units ever added to each product (created with, plus adjustments).
    added: HashMap<i64, i64>,
    /// Bank transactions the model sent, by id: the amount that entered the account.
    bank_sent: BTreeMap<String, i64>,
    /// Money that entered the bank account (distinct transactions).
    bank_in: i64,
    /// Money that left it (payouts, bank refunds, queue items returned).
    bank_out: i64,
    /// Card payments reported to the app, by payment intent.
    stripe_reported: BTreeMap<String, i64>,
    paid_out: HashMap<i64, i64>,
    /// How Stripe answers for now (it may fail for a while, as it does).
    weather: Option<Failure>,
    counter: u64,
    log: Vec<String>,
    kinds: BTreeMap<&'static str, u32>,
}

macro_rules! check {
    ($run:expr, $cond:expr, $($arg:tt)*) => {
        if !$cond {
            $run.fail(&format!($($arg)*));
        }
    };
}

impl Run {
    fn fail(&self, message: &str) -> ! {
        let mut out = String::new();
        let _ = writeln!(out, "money model failed: {message}");
        let _ = writeln!(out, "replay with OCOP_MODEL_SEED={}", self.seed);
        let _ = writeln!(out, "last steps:");
        for line in self.log.iter().rev().take(25).rev() {
            let _ = writeln!(out, "  {line}");
        }
        panic!("{out}");
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    fn note(&mut self, kind: &'static str, line: String) {
        *self.kinds.entry(kind).or_default() += 1;
        self.log.push(line);
    }

    /// An amount as a bank-notification service may write it.
    fn amount_json(&mut self, amount: i64) -> Value {
        match self.rng.random_range(0..5) {
            0 => json!(format!("{amount}.00")),
            1 => json!(vietnamese(amount)),
            2 => json!(format!("{amount},00")),
            _ => json!(amount),
        }
    }

    async fn notify(&mut self, transaction_id: &str, amount: i64, description: &str) -> String {
        let amount_json = self.amount_json(amount);
        let body = json!({"transaction_id": transaction_id, "amount": amount_json, "description": description})
            .to_string();
        let now = chrono::Utc::now().timestamp();
        let response = self
            .app
            .client()
            .post(self.app.url("/api/v1/webhooks/bank"))
            .header("content-type", "application/json")
            .header("X-Timestamp", now.to_string())
            .header("X-Signature", bank::sign(BANK_SECRET, now, body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, answer) = into_json(response).await;
        check!(
            self,
            status == StatusCode::OK,
            "bank notification: {status} {answer}"
        );
        let outcome = answer["transfers"][0]["outcome"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if outcome != "duplicate" {
            check!(
                self,
                !self.bank_sent.contains_key(transaction_id),
                "transaction {transaction_id} counted twice ({outcome})"
            );
            self.bank_sent.insert(transaction_id.to_owned(), amount);
            self.bank_in += amount;
        } else {
            check!(
                self,
                self.bank_sent.contains_key(transaction_id),
                "a new transaction {transaction_id} was called a duplicate"
            );
        }
        outcome
    }

    async fn stripe_event(&mut self, event: &Value) -> String {
        let body = serde_json::to_vec(event).unwrap();
        let at = chrono::Utc::now().timestamp();
        let response = self
            .app
            .client()
            .post(self.app.url("/api/v1/webhooks/stripe"))
            .header("content-type", "application/json")
            .header(
                "stripe-signature",
                signature_header(&[STRIPE_SECRET], at, &body),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, answer) = into_json(response).await;
        check!(
            self,
            status == StatusCode::OK,
            "Stripe event: {status} {answer}"
        );
        answer["outcome"].as_str().unwrap_or_default().to_owned()
    }

    fn pick_checkout(&mut self, card: Option<bool>) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.checkouts.len())
            .filter(|&i| card.is_none_or(|c| self.checkouts[i].card == c))
            .collect();
        if candidates.is_empty() {
            None
        } else {
            Some(candidates[self.rng.random_range(0..candidates.len())])
        }
    }

    async fn payment(&self, id: i64) -> payments::Model {
        payments::Entity::find_by_id(id)
            .one(self.app.db())
            .await
            .unwrap()
            .unwrap()
    }

    // ---------------------------------------------------------------- operations

    async fn checkout(&mut self) {
        let shopper = self.rng.random_range(0..self.shoppers.len());
        let coops = self.rng.random_range(1..=3usize);
        let mut lines = Vec::new();
        for coop in 0..coops {
            let of_coop: Vec<i64> = self
                .products
                .iter()
                .filter(|(_, c)| *c == coop)
                .map(|(p, _)| *p)
                .collect();
            let product = of_coop[self.rng.random_range(0..of_coop.len())];
            let quantity = self.rng.random_range(1..=3);
            lines.push((product, quantity));
        }
        for (product, quantity) in &lines {
            let (status, body) = self.shoppers[shopper]
                .post(
                    "/api/v1/cart/items",
                    json!({"product_id": product, "quantity": quantity}),
                )
                .await;
            check!(
                self,
                status == StatusCode::OK || status == StatusCode::CONFLICT,
                "add to cart: {status} {body}"
            );
        }
        let card = self.rng.random_bool(0.35);
        let body = json!({
            "recipient_name": "Nguyễn Thị Lan",
            "recipient_phone": "0912345678",
            "province_code": "15",
            "commune_code": "02923",
            "street": "Thôn Cóc 1",
            "payment_method": if card { "stripe" } else { "vietqr" },
        });
        let (status, view) = self.shoppers[shopper].post("/api/v1/checkout", body).await;
        if status != StatusCode::CREATED {
            let stripe_down = card
                && self.weather.is_some()
                && (status == StatusCode::BAD_GATEWAY || status == StatusCode::SERVICE_UNAVAILABLE);
            check!(
                self,
                status == StatusCode::CONFLICT
                    || status == StatusCode::UNPROCESSABLE_ENTITY
                    || stripe_down,
                "checkout: {status} {view}"
            );
            // Out of stock: the cart is emptied for the next try.
            let (_, cart) = self.shoppers[shopper].get("/api/v1/cart").await;
            for group in cart["groups"].as_array().into_iter().flatten() {
                for line in group["lines"].as_array().into_iter().flatten() {
                    let id = line["product_id"].as_i64().unwrap_or_default();
                    self.shoppers[shopper]
                        .send(
                            reqwest::Method::DELETE,
                            &format!("/api/v1/cart/items/{id}"),
                            json!({}),
                        )
                        .await;
                }
            }
            self.note("checkout_refused", format!("checkout refused: {status}"));
            return;
        }
        let reference = view["payment"]["reference"].as_str().unwrap().to_owned();
        let payment = payments::Entity::find()
            .filter(payments::Column::Reference.eq(&reference))
            .one(self.app.db())
            .await
            .unwrap()
            .unwrap();
        let checkout = Checkout {
            id: payment.id,
            reference: reference.clone(),
            amount: payment.amount_vnd,
            card,
            session_id: payment.stripe_session_id.clone(),
            paid_session: None,
            shopper,
        };
        check!(
            self,
            !card || checkout.session_id.is_some(),
            "a card checkout without a session"
        );
        self.note(
            "checkout",
            format!(
                "checkout {reference} {} đ {} order(s) card={card}",
                checkout.amount,
                view["orders"].as_array().map_or(0, Vec::len)
            ),
        );
        self.checkouts.push(checkout);
    }

    async fn pay_by_bank(&mut self) {
        let Some(i) = self.pick_checkout(Some(false)) else {
            return;
        };
        let checkout = self.checkouts[i].clone();
        let description = format!("NGUYEN VAN A CK {}", checkout.reference);
        match self.rng.random_range(0..10) {
            // Short, then the rest (in either order).
            0 | 1 => {
                let first = self.rng.random_range(1..checkout.amount);
                let a = self.next_id("FT");
                let b = self.next_id("FT");
                let parts = if self.rng.random_bool(0.5) {
                    [(a, first), (b, checkout.amount - first)]
                } else {
                    [(b, checkout.amount - first), (a, first)]
                };
                for (id, amount) in parts {
                    let outcome = self.notify(&id, amount, &description).await;
                    self.note(
                        "bank_split",
                        format!("bank {id} {amount} {} -> {outcome}", checkout.reference),
                    );
                }
            }
            // Too much.
            2 => {
                let id = self.next_id("FT");
                let amount = checkout.amount + self.rng.random_range(1..50_000);
                let outcome = self.notify(&id, amount, &description).await;
                self.note(
                    "bank_long",
                    format!("bank {id} {amount} {} -> {outcome}", checkout.reference),
                );
            }
            // The same notification twice.
            3 => {
                let id = self.next_id("FT");
                let first = self.notify(&id, checkout.amount, &description).await;
                let second = self.notify(&id, checkout.amount, &description).await;
                check!(self, second == "duplicate", "a replayed transfer: {second}");
                self.note(
                    "bank_duplicate",
                    format!(
                        "bank {id} twice {} -> {first}, {second}",
                        checkout.reference
                    ),
                );
            }
            // Late, after the reservation expired.
            4 => {
                self.expire(i).await;
                let id = self.next_id("FT");
                let outcome = self.notify(&id, checkout.amount, &description).await;
                self.note(
                    "bank_late",
                    format!("bank {id} late {} -> {outcome}", checkout.reference),
                );
            }
            // Money for nobody.
            5 => {
                let id = self.next_id("FT");
                let amount = self.rng.random_range(1_000..100_000);
                let outcome = self.notify(&id, amount, "ung ho dong bao lu lut").await;
                self.note(
                    "bank_unmatched",
                    format!("bank {id} {amount} unmatched -> {outcome}"),
                );
            }
            _ => {
                let id = self.next_id("FT");
                let outcome = self.notify(&id, checkout.amount, &description).await;
                self.note(
                    "bank_exact",
                    format!(
                        "bank {id} {} {} -> {outcome}",
                        checkout.amount, checkout.reference
                    ),
                );
            }
        }
    }

    async fn pay_by_card(&mut self) {
        let Some(i) = self.pick_checkout(Some(true)) else {
            return;
        };
        if self.rng.random_bool(0.15) {
            self.expire(i).await;
        }
        let session = match self.checkouts[i].paid_session.clone() {
            Some(session) => session,
            None => {
                let Some(session_id) = self.checkouts[i].session_id.clone() else {
                    return;
                };
                let short = self.rng.random_bool(0.05);
                let amount = short.then(|| self.checkouts[i].amount - 1_000);
                let session = self.fake.pay(&session_id, amount);
                self.checkouts[i].paid_session = Some(session.clone());
                session
            }
        };
        let intent = session["payment_intent"].as_str().unwrap().to_owned();
        let amount = session["amount_total"].as_i64().unwrap();
        let completed = event(
            &self.next_id("evt_"),
            "checkout.session.completed",
            session.clone(),
        );
        let succeeded = event(
            &self.next_id("evt_"),
            "payment_intent.succeeded",
            json!({
                "id": intent, "object": "payment_intent", "amount": amount,
                "amount_received": amount, "currency": "vnd", "status": "succeeded",
                "metadata": session["metadata"],
            }),
        );
        let events = match self.rng.random_range(0..4) {
            0 => vec![completed],
            1 => vec![succeeded.clone(), completed],
            2 => vec![completed.clone(), completed],
            _ => vec![succeeded],
        };
        let mut outcomes = Vec::new();
        for event in &events {
            outcomes.push(self.stripe_event(event).await);
        }
        self.stripe_reported.insert(intent.clone(), amount);
        self.note(
            "card_payment",
            format!(
                "card {} {intent} {amount} -> {outcomes:?}",
                self.checkouts[i].reference
            ),
        );
    }

    async fn expire(&mut self, i: usize) {
        let id = self.checkouts[i].id;
        payments::Entity::update_many()
            .col_expr(
                payments::Column::ExpiresAt,
                Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
            )
            .filter(payments::Column::Id.eq(id))
            .filter(payments::Column::Status.eq("pending"))
            .exec(self.app.db())
            .await
            .unwrap();
        let expired = ocop_market::orders::lifecycle::expire_due(self.app.db())
            .await
            .unwrap();
        let reference = self.checkouts[i].reference.clone();
        self.note("expiry", format!("expire {reference}: {expired} expired"));
    }

    async fn orders_of(&self, status: &str) -> Vec<orders::Model> {
        orders::Entity::find()
            .filter(orders::Column::Status.eq(status))
            .all(self.app.db())
            .await
            .unwrap()
    }

    async fn cancel(&mut self) {
        let by_shopper = self.rng.random_bool(0.5);
        let statuses: &[&str] = if by_shopper {
            &["pending_payment", "paid"]
        } else {
            &["paid", "accepted"]
        };
        let status = statuses[self.rng.random_range(0..statuses.len())];
        let list = self.orders_of(status).await;
        if list.is_empty() {
            return;
        }
        let order = list[self.rng.random_range(0..list.len())].clone();
        let path = format!("/api/v1/orders/{}/cancel", order.id);
        let (status, body) = if by_shopper {
            let Some(checkout) = self.checkouts.iter().find(|c| c.id == order.payment_id) else {
                return;
            };
            let shopper = checkout.shopper;
            self.shoppers[shopper].post(&path, json!({})).await
        } else {
            let owner = self
                .coops
                .iter()
                .position(|c| *c == order.cooperative_id)
                .unwrap();
            self.owners[owner]
                .post(&path, json!({"reason": "Hết hàng trong kho"}))
                .await
        };
        check!(
            self,
            status == StatusCode::OK || status == StatusCode::CONFLICT,
            "cancel: {status} {body}"
        );
        self.note(
            "cancel",
            format!(
                "cancel order {} ({}) by {} -> {status}",
                order.id,
                order.status,
                if by_shopper { "shopper" } else { "cooperative" }
            ),
        );
    }

    async fn advance(&mut self) {
        let (from, action) = match self.rng.random_range(0..4) {
            0 => ("paid", "accept"),
            1 => ("accepted", "ship"),
            2 => ("shipped", "deliver"),
            _ => ("delivered", "complete"),
        };
        let list = self.orders_of(from).await;
        if list.is_empty() {
            return;
        }
        let order = list[self.rng.random_range(0..list.len())].clone();
        let owner = self
            .coops
            .iter()
            .position(|c| *c == order.cooperative_id)
            .unwrap();
        let body = if action == "ship" {
            json!({"carrier": "VNPost", "tracking_number": format!("EV{}", order.id)})
        } else {
            json!({})
        };
        let (status, answer) = self.owners[owner]
            .post(&format!("/api/v1/orders/{}/{action}", order.id), body)
            .await;
        check!(
            self,
            status == StatusCode::OK,
            "{action} order {}: {status} {answer}",
            order.id
        );
        self.note("advance", format!("{action} order {}", order.id));
    }

    async fn payout(&mut self) {
        let coop = self.coops[self.rng.random_range(0..self.coops.len())];
        let balance =
            balances::of_cooperative(self.app.db(), coop, Duration::ZERO, chrono::Utc::now())
                .await
                .unwrap();
        let too_much = self.rng.random_bool(0.2);
        let amount = if too_much || balance.available_vnd <= 0 {
            balance.available_vnd.max(0) + self.rng.random_range(1..10_000)
        } else {
            self.rng.random_range(1..=balance.available_vnd)
        };
        let reference = self.next_id("PO");
        let (status, body) = self
            .admin
            .post(
                "/api/v1/admin/payouts",
                json!({"cooperative_id": coop, "amount_vnd": amount, "bank_reference": reference}),
            )
            .await;
        if amount <= balance.available_vnd {
            check!(
                self,
                status == StatusCode::OK,
                "payout of {amount} ≤ {}: {status} {body}",
                balance.available_vnd
            );
            self.bank_out += amount;
            *self.paid_out.entry(coop).or_default() += amount;
        } else {
            check!(
                self,
                status == StatusCode::CONFLICT,
                "payout of {amount} > {}: {status} {body}",
                balance.available_vnd
            );
        }
        self.note(
            "payout",
            format!(
                "payout {amount} to {coop} (available {}) -> {status}",
                balance.available_vnd
            ),
        );
    }

    async fn refunds(&mut self) {
        let open = refunds::Entity::find()
            .filter(refunds::Column::Status.ne("succeeded"))
            .all(self.app.db())
            .await
            .unwrap();
        if open.is_empty() {
            return;
        }
        let refund = open[self.rng.random_range(0..open.len())].clone();
        let payment = self.payment(refund.payment_id).await;
        if payment.method != "stripe" {
            // A bank refund: the administrator transfers it and records the reference.
            let (status, body) = self
                .admin
                .post(
                    &format!("/api/v1/admin/refunds/{}/complete", refund.id),
                    json!({"bank_reference": format!("RF{}", refund.id)}),
                )
                .await;
            check!(
                self,
                status == StatusCode::OK,
                "bank refund: {status} {body}"
            );
            self.bank_out += refund.amount_vnd;
            self.note(
                "bank_refund",
                format!("bank refund {} {} đ", refund.id, refund.amount_vnd),
            );
            return;
        }
        match refund.status.as_str() {
            "pending" => {
                let failure = match self.rng.random_range(0..6) {
                    0 => Some(Failure::Refuse),
                    1 => Some(Failure::RateLimited),
                    2 => Some(Failure::Conflict),
                    _ => None,
                };
                self.fake.fail(failure.or(self.weather));
                ocop_market::payments::refund_sender::submit_pending_refunds(&self.app.state).await;
                self.fake.fail(self.weather);
                self.note(
                    "card_refund_send",
                    format!("send card refunds ({failure:?})"),
                );
            }
            "failed" => {
                let (status, body) = self
                    .admin
                    .post(
                        &format!("/api/v1/admin/refunds/{}/retry", refund.id),
                        json!({}),
                    )
                    .await;
                check!(self, status == StatusCode::OK, "retry: {status} {body}");
                self.note(
                    "card_refund_retry",
                    format!("retry card refund {}", refund.id),
                );
            }
            "submitted" => {
                let intent = payment.provider_payment_id.clone().unwrap_or_default();
                let charge = json!({
                    "id": format!("ch_for_{intent}"), "object": "charge",
                    "amount": payment.amount_vnd, "amount_refunded": refund.amount_vnd,
                    "currency": "vnd", "payment_intent": intent, "refunded": true,
                    "refunds": {"object": "list", "data": [{
                        "id": refund.provider_refund_id, "object": "refund",
                        "amount": refund.amount_vnd, "currency": "vnd",
                        "payment_intent": intent, "status": "succeeded",
                        "metadata": {"refund_id": refund.id.to_string()},
                    }]},
                });
                let event = event(&self.next_id("evt_"), "charge.refunded", charge);
                let first = self.stripe_event(&event).await;
                if self.rng.random_bool(0.3) {
                    let again = self.stripe_event(&event).await;
                    check!(
                        self,
                        again == "duplicate",
                        "charge.refunded replayed: {again}"
                    );
                }
                self.note(
                    "card_refund_confirmed",
                    format!("charge.refunded {} -> {first}", refund.id),
                );
            }
            _ => {}
        }
    }

    async fn resolve_exception(&mut self) {
        let open = payment_exceptions::Entity::find()
            .filter(payment_exceptions::Column::Status.eq("open"))
            .all(self.app.db())
            .await
            .unwrap();
        // Bank money only: it is sent back from the bank account.
        let bank: Vec<_> = open
            .into_iter()
            .filter(|e| {
                e.bank_transaction_id
                    .as_ref()
                    .is_some_and(|id| self.bank_sent.contains_key(id))
            })
            .collect();
        if bank.is_empty() {
            return;
        }
        let item = bank[self.rng.random_range(0..bank.len())].clone();
        let (status, body) = self
            .admin
            .post(
                &format!("/api/v1/admin/payment-exceptions/{}/resolve", item.id),
                json!({"resolution": "Đã chuyển trả", "returned_with_bank_reference": format!("BACK{}", item.id)}),
            )
            .await;
        check!(self, status == StatusCode::OK, "resolve: {status} {body}");
        self.bank_out += item.amount_vnd;
        self.note(
            "exception_returned",
            format!("returned queue item {} ({} đ)", item.id, item.amount_vnd),
        );
    }

    async fn stock_change(&mut self) {
        let (product, coop) = self.products[self.rng.random_range(0..self.products.len())];
        let delta = match self.rng.random_range(-5..=20i64) {
            0 => 1,
            d => d,
        };
        let (status, body) = self.owners[coop]
            .post(
                &format!("/api/v1/products/{product}/stock"),
                json!({"delta": delta, "reason": "Kiểm kho"}),
            )
            .await;
        if status == StatusCode::OK {
            *self.added.get_mut(&product).unwrap() += delta;
        } else {
            check!(
                self,
                status == StatusCode::CONFLICT && delta < 0,
                "stock {delta}: {status} {body}"
            );
        }
        // A description edit from a form loaded earlier never touches stock.
        let (status, body) = self.owners[coop]
            .put(
                &format!("/api/v1/products/{product}"),
                json!({
                    "name": format!("Sản phẩm {product}"), "category_code": "food-processed",
                    "price_vnd": 250000, "unit": "chai 500 ml",
                    "description": format!("Mô tả {}", self.counter),
                }),
            )
            .await;
        check!(self, status == StatusCode::OK, "edit: {status} {body}");
        self.note("stock", format!("stock {delta:+} on {product} -> {status}"));
    }

    // ---------------------------------------------------------------- invariants

    async fn check_invariants(&mut self) {
        let db = self.app.db();
        let unbalanced = reports::unbalanced_transactions(db).await.unwrap();
        check!(
            self,
            unbalanced.is_empty(),
            "unbalanced ledger transactions {unbalanced:?}"
        );

        // Provider cash.
        let bank_cash = reports::account_sum(db, "cash:bank").await.unwrap();
        check!(
            self,
            bank_cash == self.bank_in - self.bank_out,
            "cash:bank is {bank_cash}, the account holds {} in - {} out",
            self.bank_in,
            self.bank_out
        );
        let all_refunds = refunds::Entity::find().all(db).await.unwrap();
        let all_payments: HashMap<i64, payments::Model> = payments::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let card_refunded: i64 = all_refunds
            .iter()
            .filter(|r| r.status == "succeeded" && all_payments[&r.payment_id].method == "stripe")
            .map(|r| r.amount_vnd)
            .sum();
        let stripe_in: i64 = self.stripe_reported.values().sum();
        let stripe_cash = reports::account_sum(db, "cash:stripe").await.unwrap();
        check!(
            self,
            stripe_cash == stripe_in - card_refunded,
            "cash:stripe is {stripe_cash}: {stripe_in} reported - {card_refunded} refunded"
        );
        // Stripe refunded each platform refund at most once, and exactly what was owed.
        let mut created: HashMap<i64, Vec<i64>> = HashMap::new();
        for refund in self.fake.refunds_created() {
            let id: i64 = refund["metadata"]["refund_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_default();
            created
                .entry(id)
                .or_default()
                .push(refund["amount"].as_i64().unwrap_or_default());
        }
        for (id, amounts) in &created {
            let Some(refund) = all_refunds.iter().find(|r| r.id == *id) else {
                self.fail(&format!("Stripe refunded an unknown refund {id}"));
            };
            check!(
                self,
                amounts.len() == 1,
                "refund {id} paid {} times at Stripe",
                amounts.len()
            );
            check!(
                self,
                amounts[0] == refund.amount_vnd,
                "refund {id}: Stripe {} vs {}",
                amounts[0],
                refund.amount_vnd
            );
        }
        for refund in all_refunds.iter().filter(|r| {
            all_payments[&r.payment_id].method == "stripe"
                && (r.status == "submitted" || r.status == "succeeded")
        }) {
            check!(
                self,
                created.contains_key(&refund.id),
                "refund {} is {} but Stripe never made it",
                refund.id,
                refund.status
            );
        }

        // Cooperatives' balances.
        for &coop in &self.coops {
            let balance = balances::of_cooperative(db, coop, Duration::ZERO, chrono::Utc::now())
                .await
                .unwrap();
            check!(
                self,
                balance.available_vnd >= 0,
                "cooperative {coop}: {balance:?}"
            );
            check!(
                self,
                balance.pending_vnd >= 0,
                "cooperative {coop}: {balance:?}"
            );
            let paid = self.paid_out.get(&coop).copied().unwrap_or(0);
            check!(
                self,
                balance.paid_out_vnd == paid,
                "cooperative {coop} paid out {} (model {paid})",
                balance.paid_out_vnd
            );
        }
        let payout_rows: i64 = payouts::Entity::find()
            .all(db)
            .await
            .unwrap()
            .iter()
            .map(|p| p.amount_vnd)
            .sum();
        let model_paid: i64 = self.paid_out.values().sum();
        check!(
            self,
            payout_rows == model_paid,
            "payouts recorded {payout_rows}, made {model_paid}"
        );

        // No payment credited twice; orders agree with their payments.
        let mut received: HashMap<i64, u32> = HashMap::new();
        for txn in ledger_transactions::Entity::find()
            .filter(ledger_transactions::Column::Kind.eq("payment_received"))
            .all(db)
            .await
            .unwrap()
        {
            *received
                .entry(txn.payment_id.unwrap_or_default())
                .or_default() += 1;
        }
        let all_orders = orders::Entity::find().all(db).await.unwrap();
        for payment in all_payments.values() {
            let count = received.get(&payment.id).copied().unwrap_or(0);
            check!(
                self,
                count <= 1,
                "payment {} credited {count} times",
                payment.reference
            );
            let of_payment: Vec<&orders::Model> = all_orders
                .iter()
                .filter(|o| o.payment_id == payment.id)
                .collect();
            for order in &of_payment {
                let agrees = match payment.status.as_str() {
                    "pending" => order.status == "pending_payment",
                    "expired" | "cancelled" => order.status == "cancelled",
                    "paid" => order.status != "pending_payment",
                    _ => false,
                };
                check!(
                    self,
                    agrees,
                    "order {} is {} but its payment {} is {}",
                    order.id,
                    order.status,
                    payment.reference,
                    payment.status
                );
                if payment.status == "paid" && order.status == "cancelled" {
                    check!(
                        self,
                        all_refunds.iter().any(|r| r.order_id == Some(order.id)),
                        "paid order {} cancelled without a refund",
                        order.id
                    );
                }
            }
            if payment.status == "paid" {
                check!(
                    self,
                    count == 1,
                    "paid payment {} has {count} receipts booked",
                    payment.reference
                );
            }
        }

        // Stock + reserved + sold = added.
        let live: HashMap<i64, &orders::Model> = all_orders
            .iter()
            .filter(|o| o.status != "cancelled")
            .map(|o| (o.id, o))
            .collect();
        let mut held: HashMap<i64, i64> = HashMap::new();
        for item in order_items::Entity::find().all(db).await.unwrap() {
            if live.contains_key(&item.order_id) {
                *held.entry(item.product_id).or_default() += item.quantity;
            }
        }
        for product in products::Entity::find().all(db).await.unwrap() {
            let Some(added) = self.added.get(&product.id).copied() else {
                continue;
            };
            let held = held.get(&product.id).copied().unwrap_or(0);
            check!(
                self,
                product.stock_quantity >= 0,
                "product {} stock {}",
                product.id,
                product.stock_quantity
            );
            check!(
                self,
                product.stock_quantity + held == added,
                "product {}: stock {} + reserved/sold {held} != added {added}",
                product.id,
                product.stock_quantity
            );
        }
    }
}

/// `amount` with Vietnamese thousands grouping (285.000).
fn vietnamese(amount: i64) -> String {
    let digits = amount.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

async fn run(seed: u64, steps: usize) {
    let fake = FakeStripe::start().await;
    let stripe = StripeConfig {
        secret_key: Secret::new("sk_test_model"),
        webhook_secrets: vec![Secret::new(STRIPE_SECRET)],
        api_base: fake.base.clone(),
        timeout: Duration::from_secs(2),
    };
    let app = TestApp::spawn_with(move |config| {
        config.commerce.bank_webhook = Some(BankWebhookConfig::generic(Secret::new(BANK_SECRET)));
        config.commerce.stripe = Some(stripe);
        config.commerce.return_window = Duration::ZERO;
    })
    .await;
    let admin = app.admin().await;
    let mut owners = Vec::new();
    let mut coops = Vec::new();
    let mut products_made = Vec::new();
    let mut added = HashMap::new();
    for (i, name) in [
        "HTX Mật ong Gia Phú",
        "HTX Chè Bảo Thắng",
        "HTX Gạo Séng Cù",
    ]
    .iter()
    .enumerate()
    {
        let owner = app.user(&format!("owner{i}@htx.vn")).await;
        let coop = verified_cooperative(&admin, &owner, &format!("51000000{i:02}"), name).await;
        for p in 0..2 {
            let (product, _) =
                published_product(&owner, coop, &format!("{name} sản phẩm {p}")).await;
            added.insert(product, 40);
            products_made.push((product, i));
        }
        owners.push(owner);
        coops.push(coop);
    }
    let shoppers = vec![
        app.user("lan@example.vn").await,
        app.user("minh@example.vn").await,
    ];
    let mut run = Run {
        app,
        fake,
        rng: StdRng::seed_from_u64(seed),
        seed,
        admin,
        shoppers,
        owners,
        coops,
        products: products_made,
        checkouts: Vec::new(),
        added,
        bank_sent: BTreeMap::new(),
        bank_in: 0,
        bank_out: 0,
        stripe_reported: BTreeMap::new(),
        paid_out: HashMap::new(),
        weather: None,
        counter: 0,
        log: Vec::new(),
        kinds: BTreeMap::new(),
    };
    let started = Instant::now();
    for step in 0..steps {
        run.log.push(format!("--- step {step}"));
        match run.rng.random_range(0..100) {
            0..22 => run.checkout().await,
            22..40 => run.pay_by_bank().await,
            40..50 => run.pay_by_card().await,
            50..58 => run.cancel().await,
            58..74 => run.advance().await,
            74..80 => run.payout().await,
            80..90 => run.refunds().await,
            90..93 => run.resolve_exception().await,
            93..97 => run.stock_change().await,
            97 => {
                // Stripe's weather changes: fine most of the time, sometimes refusing,
                // rate-limiting or answering 409 for a while.
                run.weather = match run.rng.random_range(0..6) {
                    0 => Some(Failure::Refuse),
                    1 => Some(Failure::RateLimited),
                    2 => Some(Failure::ApiError),
                    _ => None,
                };
                run.fake.fail(run.weather);
                let weather = run.weather;
                run.note("stripe_weather", format!("Stripe now {weather:?}"));
            }
            _ => {
                if let Some(i) = run.pick_checkout(None) {
                    run.expire(i).await;
                }
            }
        }
        run.check_invariants().await;
    }
    eprintln!(
        "money model: seed {seed}, {steps} steps in {:.1} s on {}; operations {:?}",
        started.elapsed().as_secs_f64(),
        if run.app.state.config.is_sqlite() {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        run.kinds
    );
    for kind in [
        "checkout",
        "bank_exact",
        "bank_split",
        "bank_late",
        "bank_duplicate",
        "card_payment",
        "cancel",
        "advance",
        "payout",
        "card_refund_confirmed",
        "card_refund_retry",
        "bank_refund",
        "expiry",
    ] {
        if steps >= 1000 {
            check!(
                run,
                run.kinds.contains_key(kind),
                "the run never did {kind}"
            );
        }
    }
}

#[tokio::test]
async fn random_sequences_of_money_operations_keep_every_invariant() {
    let seed = std::env::var("OCOP_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let steps = std::env::var("OCOP_MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    eprintln!("money model: OCOP_MODEL_SEED={seed} OCOP_MODEL_STEPS={steps}");
    run(seed, steps).await;
}
