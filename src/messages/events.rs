//! The messages that events of the marketplace ask for, written in the event's transaction.
//!
//! Part of the write side: reads entities only (orders, their items, members, places), never
//! the services that cause the events, so every service can call in.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::outbox::{self, NewMessage, to_user};
use super::{Channel, Template};
use crate::config::Config;
use crate::domain::Money;
use crate::entities::{
    batch_recalls, batches, communes, cooperative_members, cooperatives, fake_reports, order_items,
    orders, payments, payouts, products, provinces, stamps,
};
use crate::error::AppResult;
use crate::i18n::Lang;

/// Parameters of a template, built up by name.
#[derive(Debug, Default, Clone)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.insert(name.to_owned(), value.into());
        self
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

/// The order number people read (`DH000123`), as the order pages show it.
pub fn order_number(id: i64) -> String {
    format!("DH{id:06}")
}

/// The carrier's own tracking page, for the carriers whose address is known.
pub fn tracking_link(carrier: &str, tracking_number: &str) -> Option<String> {
    crate::domain::tracking_link(carrier, tracking_number)
}

/// After a checkout to be paid by bank transfer: the VietQR details and the link back to the
/// payment page, to the shopper (in the checkout's transaction).
pub async fn checkout_instructions(
    db: &impl ConnectionTrait,
    config: &Config,
    user_id: i64,
    payment: &payments::Model,
    access_token: &str,
) -> AppResult<()> {
    let account = &config.commerce.collecting_account;
    let params = Params::default()
        .with("reference", payment.reference.clone())
        .with("total", Money::from_dong(payment.amount_vnd).to_string())
        .with("bank", format!("BIN {}", account.bank_bin))
        .with("account_number", account.account_number.clone())
        .with("account_name", account.account_name.clone())
        .with(
            "link",
            format!(
                "{}/payments/{}?token={access_token}",
                config.public_url, payment.reference
            ),
        );
    to_user(
        db,
        user_id,
        Template::CheckoutInstructions,
        &format!("checkout:{}", payment.id),
        params.into_map(),
    )
    .await?;
    Ok(())
}

/// The messages an order's move to `status` asks for (called with the order's history entry,
/// in the same transaction).
pub async fn order_status_changed(
    db: &impl ConnectionTrait,
    order_id: i64,
    status: &str,
) -> AppResult<()> {
    if !matches!(
        status,
        "paid" | "accepted" | "shipped" | "delivered" | "cancelled"
    ) {
        return Ok(());
    }
    let Some(order) = orders::Entity::find_by_id(order_id).one(db).await? else {
        return Ok(());
    };
    // An unpaid checkout that lapsed or was abandoned owes nobody a message: the cooperative
    // never heard of it, and no money moved.
    if status == "cancelled" && order.paid_at.is_none() {
        return Ok(());
    }
    let base = order_params(db, &order).await?;
    match status {
        "paid" => {
            let key = format!("order-paid:{order_id}");
            for member in members(db, order.cooperative_id).await? {
                to_user(
                    db,
                    member,
                    Template::OrderPaidCooperative,
                    &key,
                    base.clone().into_map(),
                )
                .await?;
            }
            {
                to_shopper(
                    db,
                    &order,
                    Template::OrderPaidShopper,
                    &format!("order-paid-shopper:{order_id}"),
                    base.into_map(),
                )
                .await?;
            }
        }
        "accepted" | "delivered" => {
            let template = if status == "accepted" {
                Template::OrderAccepted
            } else {
                Template::OrderDelivered
            };
            to_shopper(
                db,
                &order,
                template,
                &format!("order-{status}:{order_id}"),
                base.into_map(),
            )
            .await?;
        }
        "shipped" => {
            let carrier = order.carrier.clone().unwrap_or_default();
            let number = order.tracking_number.clone().unwrap_or_default();
            let link = tracking_link(&carrier, &number).unwrap_or_default();
            let params = base
                .with("carrier", carrier)
                .with("tracking_number", number)
                .with("tracking_link", link);
            to_shopper(
                db,
                &order,
                Template::OrderShipped,
                &format!("order-shipped:{order_id}"),
                params.into_map(),
            )
            .await?;
        }
        "cancelled" => {
            let by = order.cancelled_by.as_deref().unwrap_or("");
            let reason = order.cancel_reason.clone().unwrap_or_default();
            let params = base.with("reason", reason);
            if by == "shopper" {
                for member in members(db, order.cooperative_id).await? {
                    to_user(
                        db,
                        member,
                        Template::OrderCancelledByShopper,
                        &format!("order-cancelled-by-shopper:{order_id}"),
                        params.clone().into_map(),
                    )
                    .await?;
                }
            }
            // An unpaid checkout that lapsed owes nothing and tells nobody.
            if order.paid_at.is_some() {
                to_shopper(
                    db,
                    &order,
                    Template::OrderCancelledShopper,
                    &format!("order-cancelled:{order_id}"),
                    params.into_map(),
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The province's decision on a cooperative, to its members: verified, or rejected with the
/// reason. Each decision is its own message (keyed by the time of the review).
pub async fn cooperative_decided(
    db: &impl ConnectionTrait,
    cooperative: &cooperatives::Model,
) -> AppResult<()> {
    let template = match cooperative.status.as_str() {
        "verified" => Template::CooperativeVerified,
        "rejected" => Template::CooperativeRejected,
        _ => return Ok(()),
    };
    let at = cooperative
        .reviewed_at
        .map_or(0, |at| at.timestamp_millis());
    let params = Params::default()
        .with("cooperative", cooperative.name.clone())
        .with(
            "reason",
            cooperative.status_reason.clone().unwrap_or_default(),
        );
    for member in members(db, cooperative.id).await? {
        to_user(
            db,
            member,
            template,
            &format!("cooperative-{}:{}:{at}", cooperative.status, cooperative.id),
            params.clone().into_map(),
        )
        .await?;
    }
    Ok(())
}

/// A payout recorded by the platform, to the cooperative's members.
pub async fn payout_recorded(db: &impl ConnectionTrait, payout: &payouts::Model) -> AppResult<()> {
    let cooperative = cooperatives::Entity::find_by_id(payout.cooperative_id)
        .one(db)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let params = Params::default()
        .with("amount", Money::from_dong(payout.amount_vnd).to_string())
        .with("cooperative", cooperative)
        .with("reference", payout.bank_reference.clone());
    for member in members(db, payout.cooperative_id).await? {
        to_user(
            db,
            member,
            Template::PayoutRecorded,
            &format!("payout:{}", payout.id),
            params.clone().into_map(),
        )
        .await?;
    }
    Ok(())
}

/// The product and lot a stamp belongs to, named for its cooperative (never its code).
async fn stamp_params(db: &impl ConnectionTrait, stamp: &stamps::Model) -> AppResult<Params> {
    let batch = batches::Entity::find_by_id(stamp.batch_id).one(db).await?;
    let product = match &batch {
        Some(batch) => products::Entity::find_by_id(batch.product_id)
            .one(db)
            .await?
            .map(|p| p.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    let cooperative = cooperatives::Entity::find_by_id(stamp.cooperative_id)
        .one(db)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    Ok(Params::default()
        .with("product", product)
        .with("cooperative", cooperative)
        .with("lot", batch.map(|b| b.lot_code).unwrap_or_default())
        .with("serial", stamp.serial.to_string()))
}

/// A fake report about one of a cooperative's stamps, to its members (in the report's
/// transaction). Reports of unknown codes name no cooperative and tell no one.
pub async fn fake_report_created(
    db: &impl ConnectionTrait,
    report: &fake_reports::Model,
) -> AppResult<()> {
    let Some(stamp_id) = report.stamp_id else {
        return Ok(());
    };
    let Some(stamp) = stamps::Entity::find_by_id(stamp_id).one(db).await? else {
        return Ok(());
    };
    let mut detail = vec![report.place_of_purchase.clone()];
    if !report.seller.is_empty() {
        detail.push(report.seller.clone());
    }
    if !report.note.is_empty() {
        detail.push(report.note.clone());
    }
    let params = stamp_params(db, &stamp)
        .await?
        .with("detail", detail.join(" — "));
    for member in members(db, stamp.cooperative_id).await? {
        to_user(
            db,
            member,
            Template::FakeReport,
            &format!("fake-report:{}", report.id),
            params.clone().into_map(),
        )
        .await?;
    }
    Ok(())
}

/// The outcome of a fake report (`confirmed_fake` or `not_fake`), to the reporter when they
/// left a contact: once per outcome (`fake-report-outcome:{id}:{status}`), in the step's
/// transaction. The message names the product, never the contact or the cooperative's notes.
pub async fn fake_report_outcome(
    db: &impl ConnectionTrait,
    report: &fake_reports::Model,
    status: &str,
) -> AppResult<()> {
    let Some(contact) = report.reporter_contact.clone() else {
        return Ok(());
    };
    let lang = Lang::parse(&report.reporter_locale).unwrap_or_default();
    let product = match report.stamp_id {
        Some(stamp_id) => match stamps::Entity::find_by_id(stamp_id).one(db).await? {
            Some(stamp) => stamp_params(db, &stamp).await?.into_map().remove("product"),
            None => None,
        },
        None => None,
    };
    let product = product.filter(|p| !p.is_empty()).unwrap_or_else(|| {
        lang.messages()
            .get("message.fake_report_outcome.unknown_product")
            .to_owned()
    });
    let outcome = lang
        .messages()
        .get(&format!("fake_report.status.{status}"))
        .to_owned();
    let channel = if contact.contains('@') {
        Channel::Email
    } else {
        Channel::Sms
    };
    outbox::enqueue(
        db,
        NewMessage {
            dedupe_key: format!("fake-report-outcome:{}:{status}", report.id),
            user_id: None,
            recipient: contact,
            channel,
            template: Template::FakeReportOutcome,
            params: Params::default()
                .with("product", product)
                .with("outcome", outcome)
                .with("place", report.place_of_purchase.clone())
                .into_map(),
            locale: lang,
        },
    )
    .await?;
    Ok(())
}

/// A lot's recall, to the buyer of an order with lines packed from it (`products`, named
/// with their size), in the recall's transaction: once per recall and order
/// (`recall:{recall_id}:{order_id}`), always sent (it is about a purchase, and about safety).
/// `false` when the order is gone or its buyer cannot be reached.
pub async fn recall_notice(
    db: &impl ConnectionTrait,
    recall: &batch_recalls::Model,
    order_id: i64,
    products: &str,
    lot: &str,
) -> AppResult<bool> {
    let Some(order) = orders::Entity::find_by_id(order_id).one(db).await? else {
        return Ok(false);
    };
    let cooperative = cooperatives::Entity::find_by_id(order.cooperative_id)
        .one(db)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let params = Params::default()
        .with("order_number", order_number(order.id))
        .with("products", products)
        .with("lot", lot)
        .with("cooperative", cooperative)
        .with("reason", recall.reason.clone())
        .with("advice", recall.advice.clone());
    to_shopper(
        db,
        &order,
        Template::RecallNotice,
        &format!("recall:{}:{}", recall.id, order.id),
        params.into_map(),
    )
    .await
}

/// Stamps whose likely-copy flag a batch of scans may have raised, to their cooperatives'
/// members: one message per raising (`stamp-flagged:{stamp_id}:{flagged_at}`), so a flag that
/// stays up says nothing more and one raised again after a review is told again.
pub async fn stamps_flagged(db: &impl ConnectionTrait, stamp_ids: &[i64]) -> AppResult<()> {
    if stamp_ids.is_empty() {
        return Ok(());
    }
    let flagged = stamps::Entity::find()
        .filter(stamps::Column::Id.is_in(stamp_ids.iter().copied()))
        .filter(stamps::Column::Flagged.eq(true))
        .all(db)
        .await?;
    for stamp in flagged {
        let Some(at) = stamp.flagged_at else {
            continue;
        };
        let params = stamp_params(db, &stamp).await?;
        for member in members(db, stamp.cooperative_id).await? {
            to_user(
                db,
                member,
                Template::StampFlagged,
                &format!("stamp-flagged:{}:{}", stamp.id, at.timestamp_millis()),
                params.clone().into_map(),
            )
            .await?;
        }
    }
    Ok(())
}

/// A message to the order's shopper: by their chosen channel when they checked out logged
/// in; otherwise by SMS to the delivery phone number, in Vietnamese (a visitor's checkout
/// leaves no other address).
async fn to_shopper(
    db: &impl ConnectionTrait,
    order: &orders::Model,
    template: Template,
    key: &str,
    params: BTreeMap<String, String>,
) -> AppResult<bool> {
    match order.buyer_user_id {
        Some(user) => to_user(db, user, template, key, params).await,
        None => {
            outbox::enqueue(
                db,
                NewMessage {
                    dedupe_key: format!("{key}:phone"),
                    user_id: None,
                    recipient: order.recipient_phone.clone(),
                    channel: Channel::Sms,
                    template,
                    params,
                    locale: Lang::Vi,
                },
            )
            .await
        }
    }
}

/// The users of a cooperative, owner first.
pub async fn members(db: &impl ConnectionTrait, cooperative_id: i64) -> AppResult<Vec<i64>> {
    let mut rows = cooperative_members::Entity::find()
        .filter(cooperative_members::Column::CooperativeId.eq(cooperative_id))
        .order_by_asc(cooperative_members::Column::CreatedAt)
        .all(db)
        .await?;
    rows.sort_by_key(|m| m.role != "owner");
    Ok(rows.into_iter().map(|m| m.user_id).collect())
}

/// What every order message may name: number, cooperative, amount, items, address.
async fn order_params(db: &impl ConnectionTrait, order: &orders::Model) -> AppResult<Params> {
    let items = order_items::Entity::find()
        .filter(order_items::Column::OrderId.eq(order.id))
        .order_by_asc(order_items::Column::Id)
        .all(db)
        .await?;
    let lines: Vec<String> = items
        .iter()
        .map(|i| {
            format!(
                "- {} × {} ({}): {}",
                i.quantity,
                i.product_name,
                i.unit,
                Money::from_dong(i.line_total_vnd)
            )
        })
        .collect();
    let cooperative = cooperatives::Entity::find_by_id(order.cooperative_id)
        .one(db)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let commune = communes::Entity::find_by_id(order.commune_code.clone())
        .one(db)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let province = provinces::Entity::find_by_id(order.province_code.clone())
        .one(db)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    let address = [order.street.as_str(), commune.as_str(), province.as_str()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Params::default()
        .with("order_number", order_number(order.id))
        .with("cooperative", cooperative)
        .with("total", Money::from_dong(order.total_vnd).to_string())
        .with("items", lines.join("\n"))
        .with("item_count", items.len().to_string())
        .with("recipient_name", order.recipient_name.clone())
        .with("recipient_phone", order.recipient_phone.clone())
        .with("address", address))
}
