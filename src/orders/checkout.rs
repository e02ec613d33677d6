//! Checkout: one payment for the whole cart, one order per cooperative, and the stock taken in
//! the same database transaction ([`super::stock`]). On SQLite the transaction starts
//! `IMMEDIATE` ([`crate::db::begin_write`]), so a checkout waits its turn for the write lock
//! instead of failing when another commits between its reads and its writes.
//!
//! The checkout's payment row is the reservation: it carries the reference to pay, the page
//! token and the expiry. This module creates it; [`super::lifecycle`] ends it unpaid (cancelled
//! or expired); [`crate::payments::settle`] marks it paid.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::cart::{self, CartOwner, CooperativeGroup};
use super::lifecycle::{self, Actor};
use super::stock;
use super::{CancelledBy, OrderStatus, PaymentMethod, PaymentStatus};
use crate::accounts::CurrentUser;
use crate::config::Config;
use crate::domain::token::{derived_token, hash_token, new_token};
use crate::domain::{CROCKFORD, FieldIssue, Phone, bounded_text};
use crate::entities::{order_events, order_items, orders, payments};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::reference::ReferenceData;

/// Largest amount one checkout may come to: what a Vietnamese instant transfer carries.
pub const MAX_CHECKOUT_TOTAL_VND: i64 = 500_000_000;

/// What the shopper submits at checkout (JSON or form).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct CheckoutRequest {
    /// Who receives the parcel.
    pub recipient_name: String,
    /// Vietnamese mobile number, typed any way (`+84 912 345 678`, `0912.345.678`).
    pub recipient_phone: String,
    /// Province code (statistics office), e.g. `15`.
    pub province_code: String,
    /// Commune or ward code in that province, e.g. `02923`.
    pub commune_code: String,
    /// House number, street, hamlet.
    pub street: String,
    /// `vietqr` (default) or `stripe` (when the platform has Stripe configured).
    pub payment_method: Option<String>,
    /// A random key the form (or API client) sends with the checkout; submitting the same
    /// key again returns the first checkout instead of a second one.
    pub checkout_key: Option<String>,
}

/// A delivery address that has been checked against the reference data.
#[derive(Debug, Clone)]
pub struct DeliveryAddress {
    pub recipient_name: String,
    pub recipient_phone: Phone,
    pub province_code: String,
    pub commune_code: String,
    pub street: String,
}

/// A checked checkout request.
#[derive(Debug, Clone)]
pub struct ValidCheckout {
    pub address: DeliveryAddress,
    pub method: PaymentMethod,
    pub checkout_key: Option<String>,
}

impl CheckoutRequest {
    /// Checks every field, reporting all refused fields at once.
    pub fn parse(
        &self,
        reference: &ReferenceData,
        available: &[PaymentMethod],
    ) -> AppResult<ValidCheckout> {
        let mut errors = FieldErrors::default();
        let recipient_name =
            errors.take("recipient_name", bounded_text(&self.recipient_name, 2, 120));
        let recipient_phone = errors.take("recipient_phone", Phone::parse(&self.recipient_phone));
        let street = errors.take("street", bounded_text(&self.street, 3, 300));
        let province = reference.province(self.province_code.trim());
        if province.is_none() {
            errors.add(
                "province_code",
                FieldIssue::new("unknown_province", "choose a province from the list"),
            );
        }
        match reference.commune(self.commune_code.trim()) {
            None => errors.add(
                "commune_code",
                FieldIssue::new("unknown_commune", "choose a commune from the list"),
            ),
            Some(commune) => {
                if let Some(province) = province
                    && commune.province_code != province.code
                {
                    errors.add(
                        "commune_code",
                        FieldIssue::new(
                            "commune_not_in_province",
                            format!("{} is not in {}", commune.name, province.name),
                        ),
                    );
                }
            }
        }
        let method = match self.payment_method.as_deref().map(str::trim) {
            None | Some("") => Some(PaymentMethod::VietQr),
            Some(name) => match PaymentMethod::parse(name) {
                Some(method) if available.contains(&method) => Some(method),
                Some(_) => {
                    errors.add(
                        "payment_method",
                        FieldIssue::new(
                            "payment_method_unavailable",
                            "this payment method is not available",
                        ),
                    );
                    None
                }
                None => {
                    errors.add(
                        "payment_method",
                        FieldIssue::new(
                            "unknown_payment_method",
                            "choose vietqr, vnpay, momo or stripe",
                        ),
                    );
                    None
                }
            },
        };
        let checkout_key = match self.checkout_key.as_deref().map(str::trim) {
            None | Some("") => None,
            // At least 16 characters: sending a key again returns that checkout's payment page,
            // so a key must be as hard to guess as a token.
            Some(key)
                if (16..=64).contains(&key.len())
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                Some(key.to_owned())
            }
            Some(_) => {
                errors.add(
                    "checkout_key",
                    FieldIssue::new("invalid_checkout_key", "16 to 64 letters, digits, - or _"),
                );
                None
            }
        };
        match (
            recipient_name,
            recipient_phone,
            street,
            method,
            errors.is_empty(),
        ) {
            (Some(recipient_name), Some(recipient_phone), Some(street), Some(method), true) => {
                Ok(ValidCheckout {
                    address: DeliveryAddress {
                        recipient_name,
                        recipient_phone,
                        province_code: self.province_code.trim().to_owned(),
                        commune_code: self.commune_code.trim().to_owned(),
                        street,
                    },
                    method,
                    checkout_key,
                })
            }
            _ => Err(errors.into_error()),
        }
    }
}

/// What a checkout created.
#[derive(Debug, Clone)]
pub struct CheckoutOutcome {
    pub payment: payments::Model,
    pub orders: Vec<orders::Model>,
    /// The bearer token for the payment page (shown once; only its hash is stored).
    pub access_token: String,
    /// The checkout key had been used before: this is the earlier checkout.
    pub replayed: bool,
}

/// Commission on an order's goods, rounded down to the đồng.
pub fn commission_on(subtotal_vnd: i64, commission_bps: u32) -> i64 {
    let commission = i128::from(subtotal_vnd) * i128::from(commission_bps) / 10_000;
    i64::try_from(commission).unwrap_or(i64::MAX)
}

/// A new payment reference: `OCOP` and 8 Crockford characters (40 random bits), short
/// enough for a transfer's purpose field and unambiguous when typed by hand.
pub fn new_payment_reference() -> String {
    let bytes: [u8; 5] = rand::random();
    format!("OCOP{}", CROCKFORD.encode(&bytes))
}

/// Turns the cart of `owner` into a payment and orders, taking the stock.
pub async fn checkout(
    db: &DatabaseConnection,
    config: &Config,
    owner: &CartOwner,
    buyer: Option<&CurrentUser>,
    request: ValidCheckout,
) -> AppResult<CheckoutOutcome> {
    if let Some(key) = &request.checkout_key
        && let Some(outcome) = replay(db, config, key, buyer).await?
    {
        return Ok(outcome);
    }
    let Some(cart) = cart::find(db, owner).await? else {
        return Err(cart_empty());
    };
    match create(db, config, cart.id, buyer, &request).await {
        // Two submissions of one key raced; the other one won.
        Err(AppError::Database(err))
            if request.checkout_key.is_some() && crate::error::is_unique_violation(&err) =>
        {
            let key = request.checkout_key.as_deref().unwrap_or_default();
            replay(db, config, key, buyer)
                .await?
                .ok_or(AppError::Database(err))
        }
        other => other,
    }
}

async fn create(
    db: &DatabaseConnection,
    settings: &Config,
    cart_id: i64,
    buyer: Option<&CurrentUser>,
    request: &ValidCheckout,
) -> AppResult<CheckoutOutcome> {
    let config = &settings.commerce;
    let now = Utc::now();
    let access_token = match &request.checkout_key {
        Some(key) => page_token(settings, key),
        None => new_token(),
    };
    let txn = crate::db::begin_write(db).await?;
    let payment = payments::ActiveModel {
        reference: Set(new_payment_reference()),
        access_token_hash: Set(hash_token(&access_token)),
        checkout_key: Set(request.checkout_key.clone()),
        buyer_user_id: Set(buyer.map(|b| b.id)),
        method: Set(request.method.as_str().to_owned()),
        status: Set(PaymentStatus::Pending.as_str().to_owned()),
        amount_vnd: Set(0),
        received_vnd: Set(0),
        expires_at: Set(now + config.reservation_ttl),
        paid_at: Set(None),
        provider_payment_id: Set(None),
        stripe_session_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;

    let groups = cart::priced_groups(
        &txn,
        cart_id,
        Some(&request.address.province_code),
        &config.default_shipping_rates,
    )
    .await?;
    check_groups(&groups)?;
    refuse_recalled(&txn, &groups).await?;
    stock::reserve_stock(&txn, &groups).await?;

    let mut created = Vec::with_capacity(groups.len());
    let mut amount = 0i64;
    for group in &groups {
        let total = group.total_vnd();
        amount = amount.saturating_add(total);
        let order = orders::ActiveModel {
            payment_id: Set(payment.id),
            cooperative_id: Set(group.cooperative.id),
            buyer_user_id: Set(buyer.map(|b| b.id)),
            status: Set(OrderStatus::PendingPayment.as_str().to_owned()),
            subtotal_vnd: Set(group.subtotal_vnd),
            delivery_fee_vnd: Set(group.delivery_fee_vnd),
            parcel_weight_grams: Set(Some(group.parcel_weight_grams)),
            shipping_zone: Set(group.zone.map(|z| z.as_str().to_owned())),
            total_vnd: Set(total),
            commission_vnd: Set(commission_on(group.subtotal_vnd, config.commission_bps)),
            recipient_name: Set(request.address.recipient_name.clone()),
            recipient_phone: Set(request.address.recipient_phone.as_str().to_owned()),
            province_code: Set(request.address.province_code.clone()),
            commune_code: Set(request.address.commune_code.clone()),
            street: Set(request.address.street.clone()),
            carrier: Set(None),
            tracking_number: Set(None),
            cancel_reason: Set(None),
            cancelled_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            paid_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let items = group.lines.iter().map(|line| order_items::ActiveModel {
            order_id: Set(order.id),
            product_id: Set(line.product.id),
            variant_id: Set(line.variant.id),
            product_name: Set(line.product.name.clone()),
            unit: Set(line.variant.label.clone()),
            unit_price_vnd: Set(line.unit_price_vnd()),
            quantity: Set(line.quantity),
            line_total_vnd: Set(line.line_total_vnd()),
            ..Default::default()
        });
        order_items::Entity::insert_many(items).exec(&txn).await?;
        order_events::ActiveModel {
            order_id: Set(order.id),
            status: Set(OrderStatus::PendingPayment.as_str().to_owned()),
            actor_user_id: Set(buyer.map(|b| b.id)),
            note: Set(None),
            at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        created.push(order);
    }
    let mut row: payments::ActiveModel = payment.into();
    row.amount_vnd = Set(amount);
    let payment = row.update(&txn).await?;
    if let Some(buyer) = buyer
        && request.method == PaymentMethod::VietQr
    {
        crate::messages::events::checkout_instructions(
            &txn,
            settings,
            buyer.id,
            &payment,
            &access_token,
        )
        .await?;
    }
    cart::clear(&txn, cart_id).await?;
    txn.commit().await?;
    Ok(CheckoutOutcome {
        payment,
        orders: created,
        access_token,
        replayed: false,
    })
}

/// Refuses an empty cart, a product no longer for sale and a total above the limit, before
/// any stock is touched.
fn check_groups(groups: &[CooperativeGroup]) -> AppResult<()> {
    if groups.is_empty() {
        return Err(cart_empty());
    }
    for line in groups.iter().flat_map(|g| &g.lines) {
        if line.product.status != crate::catalog::ProductStatus::Published.as_str()
            || !line.product.listed
        {
            return Err(AppError::conflict(
                "product_unavailable",
                "product_id",
                format!(
                    "{} is no longer for sale; remove it from the cart",
                    line.product.name
                ),
            ));
        }
    }
    let total = groups
        .iter()
        .map(CooperativeGroup::total_vnd)
        .fold(0i64, i64::saturating_add);
    if total > MAX_CHECKOUT_TOTAL_VND {
        return Err(AppError::conflict(
            "checkout_total_too_large",
            "cart",
            format!(
                "one checkout may come to at most {MAX_CHECKOUT_TOTAL_VND} đồng; split the cart"
            ),
        ));
    }
    Ok(())
}

/// Refuses a cart holding a product withdrawn from sale by a recall of one of its lots
/// (`product_recalled`, naming it), before any stock is touched.
async fn refuse_recalled(
    db: &impl sea_orm::ConnectionTrait,
    groups: &[CooperativeGroup],
) -> AppResult<()> {
    let ids: Vec<i64> = groups
        .iter()
        .flat_map(|g| &g.lines)
        .map(|l| l.product.id)
        .collect();
    let recalled = crate::trace::recalls::recalled_among(db, &ids).await?;
    match groups
        .iter()
        .flat_map(|g| &g.lines)
        .find(|l| recalled.contains(&l.product.id))
    {
        Some(line) => Err(AppError::conflict(
            "product_recalled",
            "product_id",
            format!(
                "{} is recalled and withdrawn from sale; remove it from the cart",
                line.product.name
            ),
        )),
        None => Ok(()),
    }
}

/// Cancels a card checkout whose payment could not be started (the provider failed): the
/// stock returns at once and the products go back into the shopper's cart, so nothing is lost
/// and they can try again.
pub async fn abandon(
    db: &DatabaseConnection,
    outcome: &CheckoutOutcome,
    owner: &CartOwner,
) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let cancelled = lifecycle::cancel_unpaid_payment(
        &txn,
        outcome.payment.id,
        PaymentStatus::Cancelled,
        CancelledBy::PaymentProvider,
        Some("the card payment could not be started".into()),
        Actor {
            user_id: outcome.payment.buyer_user_id,
        },
    )
    .await?;
    txn.commit().await?;
    if !cancelled {
        return Ok(());
    }
    let Some(cart_row) = cart::find(db, owner).await? else {
        return Ok(());
    };
    let order_ids: Vec<i64> = outcome.orders.iter().map(|o| o.id).collect();
    let items = order_items::Entity::find()
        .filter(order_items::Column::OrderId.is_in(order_ids))
        .order_by_asc(order_items::Column::Id)
        .all(db)
        .await?;
    for item in items {
        // A product that stopped being for sale meanwhile simply stays out of the cart.
        if let Err(err) = cart::add_line(
            db,
            cart_row.id,
            item.product_id,
            Some(item.variant_id),
            item.quantity,
            false,
        )
        .await
        {
            tracing::info!(product_id = item.product_id, error = %err, "not put back in the cart");
        }
    }
    Ok(())
}

/// The payment page token of a checkout made with `key`: derived from the key and the
/// server's secret, so a replay of the checkout hands out the same token and every link
/// already given out (a Stripe return URL, a bookmarked payment page) keeps working. Knowing
/// the key was already enough to replay the checkout; the secret keeps it unguessable.
fn page_token(config: &Config, key: &str) -> String {
    derived_token(config.secret_key.expose(), "checkout-page", key)
}

/// The checkout made earlier with `key`, with its page token (the caller proved it holds the
/// key).
async fn replay(
    db: &DatabaseConnection,
    config: &Config,
    key: &str,
    buyer: Option<&CurrentUser>,
) -> AppResult<Option<CheckoutOutcome>> {
    let Some(payment) = payments::Entity::find()
        .filter(payments::Column::CheckoutKey.eq(key))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if payment.buyer_user_id.is_some() && payment.buyer_user_id != buyer.map(|b| b.id) {
        return Err(AppError::conflict(
            "checkout_key_used",
            "checkout_key",
            "this checkout key was already used",
        ));
    }
    let access_token = page_token(config, key);
    if hash_token(&access_token) != payment.access_token_hash {
        // A checkout made before page tokens were derived: hand out a new one.
        let mut row: payments::ActiveModel = payment.clone().into();
        row.access_token_hash = Set(hash_token(&access_token));
        row.update(db).await?;
    }
    let orders = orders::Entity::find()
        .filter(orders::Column::PaymentId.eq(payment.id))
        .all(db)
        .await?;
    Ok(Some(CheckoutOutcome {
        payment,
        orders,
        access_token,
        replayed: true,
    }))
}

fn cart_empty() -> AppError {
    FieldErrors::single(
        "cart",
        FieldIssue::new("cart_empty", "the cart is empty; add a product first"),
    )
}
