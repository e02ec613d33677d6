//! Stock adjustments: the only way a cooperative changes a product's stock. Stock is kept per
//! variant ([`super::variants`]); an adjustment names one (the first when none is named) and
//! the product's sum follows in the same transaction.
//!
//! Checkout takes units and expiry or cancellation gives them back
//! ([`crate::orders::stock`]), concurrently with the cooperative's own changes. A product edit
//! that wrote back a stock figure loaded into a form earlier would undo those (and oversell
//! once the expiries add their units on top), so an edit never touches stock. A change is a
//! delta with a reason: one conditional update that adds it only while the result stays at
//! or above zero, recorded in `stock_adjustments` (who, why, the stock after) in the same
//! transaction, with the search outbox told (a product may come back in stock or sell out).

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::outbox::enqueue_products;
use super::products::MAX_STOCK;
use crate::domain::{FieldIssue, bounded_text};
use crate::entities::{product_variants, products, stock_adjustments};
use crate::error::{AppError, AppResult, FieldErrors};

/// A stock change as the API receives it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct StockAdjustmentRequest {
    /// Units added (positive) or taken away (negative: breakage, samples, a stock count).
    pub delta: i64,
    /// Why, for the cooperative's records (3 to 200 characters).
    pub reason: String,
    /// Which variant (size) of the product; its first variant when left out.
    pub variant_id: Option<i64>,
}

/// A stock change as a page form sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StockAdjustmentForm {
    pub delta: String,
    pub reason: String,
    pub variant_id: String,
}

/// A validated stock change.
#[derive(Debug, Clone)]
pub struct NewStockAdjustment {
    pub delta: i64,
    pub reason: String,
    pub variant_id: Option<i64>,
}

/// A recorded stock change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockAdjustmentView {
    pub id: i64,
    pub product_id: i64,
    pub variant_id: Option<i64>,
    pub delta: i64,
    /// The variant's stock after the change.
    pub stock_quantity: i64,
    pub reason: String,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<stock_adjustments::Model> for StockAdjustmentView {
    fn from(m: stock_adjustments::Model) -> Self {
        Self {
            id: m.id,
            product_id: m.product_id,
            variant_id: m.variant_id,
            delta: m.delta,
            stock_quantity: m.stock_after,
            reason: m.reason,
            created_at: m.created_at,
        }
    }
}

fn parse_delta(delta: i64) -> Result<i64, FieldIssue> {
    if delta == 0 || delta.abs() > MAX_STOCK {
        Err(FieldIssue::new(
            "invalid_quantity",
            format!("a whole number of units other than 0, from -{MAX_STOCK} to {MAX_STOCK}"),
        ))
    } else {
        Ok(delta)
    }
}

fn parse(
    delta: Result<i64, FieldIssue>,
    reason: &str,
    variant_id: Result<Option<i64>, FieldIssue>,
) -> AppResult<NewStockAdjustment> {
    let mut errors = FieldErrors::default();
    let delta = errors.take("delta", delta.and_then(parse_delta));
    let reason = errors.take("reason", bounded_text(reason, 3, 200));
    let variant_id = errors.take("variant_id", variant_id);
    match (delta, reason, variant_id) {
        (Some(delta), Some(reason), Some(variant_id)) => Ok(NewStockAdjustment {
            delta,
            reason,
            variant_id,
        }),
        _ => Err(errors.into_error()),
    }
}

impl StockAdjustmentRequest {
    pub fn parse(&self) -> AppResult<NewStockAdjustment> {
        parse(Ok(self.delta), &self.reason, Ok(self.variant_id))
    }
}

impl StockAdjustmentForm {
    pub fn parse(&self) -> AppResult<NewStockAdjustment> {
        let text = self.delta.trim();
        let delta = text
            .strip_prefix('+')
            .unwrap_or(text)
            .parse::<i64>()
            .map_err(|_| FieldIssue::new("invalid_quantity", "a whole number such as 20 or -3"));
        let variant_id = match self.variant_id.trim() {
            "" => Ok(None),
            text => text
                .parse::<i64>()
                .map(Some)
                .map_err(|_| FieldIssue::new("unknown_variant", "choose a variant of the product")),
        };
        parse(delta, &self.reason, variant_id)
    }
}

/// Applies a stock change to a variant of `product_id` (its first when the change names
/// none), recorded with who made it. Refused (409 `insufficient_stock`) when it would take the
/// variant's stock below zero, as things are now: units reserved by checkouts are already out
/// of the stock figure. A variant of another product is not found (404).
pub async fn adjust(
    db: &(impl ConnectionTrait + TransactionTrait),
    product_id: i64,
    change: NewStockAdjustment,
    actor_user_id: i64,
) -> AppResult<stock_adjustments::Model> {
    let txn = crate::db::begin_write(db).await?;
    let variant = super::variants::resolve(&txn, product_id, change.variant_id)
        .await?
        .ok_or_else(|| {
            FieldErrors::single(
                "variant_id",
                FieldIssue::new("unknown_variant", "choose a variant of the product"),
            )
        })?;
    let changed = product_variants::Entity::update_many()
        .col_expr(
            product_variants::Column::StockQuantity,
            Expr::col(product_variants::Column::StockQuantity).add(change.delta),
        )
        .col_expr(product_variants::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(product_variants::Column::Id.eq(variant.id))
        .filter(
            Expr::col(product_variants::Column::StockQuantity)
                .add(change.delta)
                .gte(0),
        )
        .filter(
            Expr::col(product_variants::Column::StockQuantity)
                .add(change.delta)
                .lte(MAX_STOCK),
        )
        .exec(&txn)
        .await?
        .rows_affected;
    let variant = product_variants::Entity::find_by_id(variant.id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if changed != 1 {
        return Err(AppError::conflict(
            "insufficient_stock",
            "delta",
            format!(
                "{} has {} units in stock now; the change would take it outside 0 to {MAX_STOCK}",
                variant.label, variant.stock_quantity
            ),
        ));
    }
    products::Entity::update_many()
        .col_expr(
            products::Column::StockQuantity,
            Expr::col(products::Column::StockQuantity).add(change.delta),
        )
        .col_expr(products::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(products::Column::Id.eq(product_id))
        .exec(&txn)
        .await?;
    let row = stock_adjustments::ActiveModel {
        product_id: Set(product_id),
        variant_id: Set(Some(variant.id)),
        delta: Set(change.delta),
        stock_after: Set(variant.stock_quantity),
        reason: Set(change.reason),
        actor_user_id: Set(actor_user_id),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    enqueue_products(&txn, &[product_id]).await?;
    txn.commit().await?;
    Ok(row)
}

/// A product's latest stock changes, newest first.
pub async fn recent(
    db: &impl ConnectionTrait,
    product_id: i64,
    limit: u64,
) -> AppResult<Vec<StockAdjustmentView>> {
    use sea_orm::{QueryOrder, QuerySelect};
    Ok(stock_adjustments::Entity::find()
        .filter(stock_adjustments::Column::ProductId.eq(product_id))
        .order_by_desc(stock_adjustments::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}
