//! What the cart and order endpoints and pages show (a checkout's payment view is
//! [`crate::payments::views`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::cart::CooperativeGroup;
use crate::catalog::views::{CooperativeRef, PlaceView};
use crate::domain::Money;
use crate::entities::{order_events, order_items, orders};
use crate::reference::ReferenceData;

/// One cart line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartLineView {
    pub product_id: i64,
    /// The size bought.
    pub variant_id: i64,
    pub slug: String,
    pub name: String,
    /// The variant's label, e.g. "Hũ 250 g".
    pub unit: String,
    /// Weight of one unit in grams.
    pub weight_grams: i64,
    pub unit_price_vnd: i64,
    pub quantity: i64,
    pub line_total_vnd: i64,
    pub line_total_display: String,
    /// Units in stock now.
    pub stock_quantity: i64,
    /// Whether this line can be checked out as it is (for sale, enough stock).
    pub available: bool,
}

/// A cooperative's part of the cart: it becomes one order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartGroupView {
    pub cooperative: CooperativeRef,
    pub lines: Vec<CartLineView>,
    pub subtotal_vnd: i64,
    /// The parcel's weight: the lines' variant weights times their quantities.
    pub parcel_weight_grams: i64,
    /// `same_province`, `same_region` or `elsewhere` for the province asked for; `null` when
    /// none was (the fee is then the highest, elsewhere).
    pub zone: Option<String>,
    /// The delivery fee by the cooperative's rate table (0 past its free-shipping threshold).
    pub delivery_fee_vnd: i64,
    pub delivery_fee_display: String,
    pub total_vnd: i64,
    pub total_display: String,
}

/// The cart.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartView {
    pub groups: Vec<CartGroupView>,
    pub total_vnd: i64,
    pub total_display: String,
    pub item_count: i64,
    /// Every line can be checked out.
    pub ready: bool,
    /// The payment methods the checkout accepts: `vietqr`, then `vnpay`, `momo` and `stripe`
    /// (card) when the platform has them configured.
    pub payment_methods: Vec<String>,
    /// Products the cart of this visitor could not bring along at login (shown once).
    pub left_out: Vec<super::cart::LeftOut>,
    /// The province the delivery fees are for, when one was given.
    pub province_code: Option<String>,
}

impl CartView {
    pub fn new(groups: &[CooperativeGroup]) -> Self {
        let groups: Vec<CartGroupView> = groups
            .iter()
            .map(|g| CartGroupView {
                cooperative: CooperativeRef {
                    id: g.cooperative.id,
                    slug: g.cooperative.slug.clone(),
                    name: g.cooperative.name.clone(),
                },
                lines: g
                    .lines
                    .iter()
                    .map(|l| {
                        let total = l.line_total_vnd();
                        CartLineView {
                            product_id: l.product.id,
                            variant_id: l.variant.id,
                            slug: l.product.slug.clone(),
                            name: l.product.name.clone(),
                            unit: l.variant.label.clone(),
                            weight_grams: l.variant.weight_grams,
                            unit_price_vnd: l.unit_price_vnd(),
                            quantity: l.quantity,
                            line_total_vnd: total,
                            line_total_display: Money::from_dong(total).to_string(),
                            stock_quantity: l.variant.stock_quantity,
                            available: l.available,
                        }
                    })
                    .collect(),
                subtotal_vnd: g.subtotal_vnd,
                parcel_weight_grams: g.parcel_weight_grams,
                zone: g.zone.map(|z| z.as_str().to_owned()),
                delivery_fee_vnd: g.delivery_fee_vnd,
                delivery_fee_display: Money::from_dong(g.delivery_fee_vnd).to_string(),
                total_vnd: g.total_vnd(),
                total_display: Money::from_dong(g.total_vnd()).to_string(),
            })
            .collect();
        let total = groups
            .iter()
            .map(|g| g.total_vnd)
            .fold(0i64, i64::saturating_add);
        Self {
            ready: !groups.is_empty() && groups.iter().all(|g| g.lines.iter().all(|l| l.available)),
            item_count: groups
                .iter()
                .flat_map(|g| &g.lines)
                .map(|l| l.quantity)
                .sum(),
            total_vnd: total,
            total_display: Money::from_dong(total).to_string(),
            groups,
            payment_methods: vec![super::PaymentMethod::VietQr.as_str().to_owned()],
            left_out: Vec::new(),
            province_code: None,
        }
    }
}

/// One line of an order (as it was sold).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderItemView {
    /// The order line's id (a review names it).
    pub id: i64,
    pub product_id: i64,
    /// The size sold.
    pub variant_id: i64,
    pub product_name: String,
    /// The variant's label when it was sold.
    pub unit: String,
    pub unit_price_vnd: i64,
    pub quantity: i64,
    pub line_total_vnd: i64,
    /// The lot (batch) the line was packed from, once shipped with one.
    pub batch_id: Option<i64>,
    /// That lot's code, as printed on its labels (public, as on the origin page). The stamps
    /// packed on the parcel are never shown.
    pub lot_code: Option<String>,
}

/// One step of an order's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderEventView {
    pub status: String,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// An order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    pub id: i64,
    /// What people read and say: `DH` and the id.
    pub number: String,
    pub status: String,
    pub payment_reference: String,
    pub cooperative: CooperativeRef,
    pub subtotal_vnd: i64,
    pub delivery_fee_vnd: i64,
    pub total_vnd: i64,
    pub total_display: String,
    /// The platform's commission (shown to the cooperative and administrators).
    pub commission_vnd: i64,
    pub recipient_name: String,
    pub recipient_phone: String,
    pub street: String,
    pub place: PlaceView,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// The carrier's own tracking page, when the carrier has a public one.
    pub tracking_url: Option<String>,
    /// The parcel's weight in grams, as checked out (orders before issue 18 have none).
    pub parcel_weight_grams: Option<i64>,
    /// `same_province`, `same_region` or `elsewhere`, as checked out.
    pub shipping_zone: Option<String>,
    pub cancel_reason: Option<String>,
    pub cancelled_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub items: Vec<OrderItemView>,
    pub history: Vec<OrderEventView>,
}

/// The order number people read: `DH000123`.
pub fn order_number(id: i64) -> String {
    format!("DH{id:06}")
}

impl OrderView {
    pub fn new(
        order: &orders::Model,
        payment_reference: &str,
        cooperative: CooperativeRef,
        items: &[order_items::Model],
        history: &[order_events::Model],
        reference: &ReferenceData,
        lot_codes: &HashMap<i64, String>,
    ) -> Self {
        Self {
            id: order.id,
            number: order_number(order.id),
            status: order.status.clone(),
            payment_reference: payment_reference.to_owned(),
            cooperative,
            subtotal_vnd: order.subtotal_vnd,
            delivery_fee_vnd: order.delivery_fee_vnd,
            total_vnd: order.total_vnd,
            total_display: Money::from_dong(order.total_vnd).to_string(),
            commission_vnd: order.commission_vnd,
            recipient_name: order.recipient_name.clone(),
            recipient_phone: order.recipient_phone.clone(),
            street: order.street.clone(),
            place: PlaceView::new(reference, &order.commune_code),
            carrier: order.carrier.clone(),
            tracking_number: order.tracking_number.clone(),
            tracking_url: match (&order.carrier, &order.tracking_number) {
                (Some(carrier), Some(number)) => crate::domain::tracking_link(carrier, number),
                _ => None,
            },
            parcel_weight_grams: order.parcel_weight_grams,
            shipping_zone: order.shipping_zone.clone(),
            cancel_reason: order.cancel_reason.clone(),
            cancelled_by: order.cancelled_by.clone(),
            created_at: order.created_at,
            paid_at: order.paid_at,
            items: items
                .iter()
                .map(|i| OrderItemView {
                    id: i.id,
                    product_id: i.product_id,
                    variant_id: i.variant_id,
                    product_name: i.product_name.clone(),
                    unit: i.unit.clone(),
                    unit_price_vnd: i.unit_price_vnd,
                    quantity: i.quantity,
                    line_total_vnd: i.line_total_vnd,
                    batch_id: i.batch_id,
                    lot_code: i.batch_id.and_then(|b| lot_codes.get(&b).cloned()),
                })
                .collect(),
            history: history
                .iter()
                .map(|e| OrderEventView {
                    status: e.status.clone(),
                    note: e.note.clone(),
                    at: e.at,
                })
                .collect(),
        }
    }
}
