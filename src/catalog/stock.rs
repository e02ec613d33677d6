//! Stock adjustments: the only way a cooperative changes a product's stock.
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
use crate::entities::{products, stock_adjustments};
use crate::error::{AppError, AppResult, FieldErrors};

/// A stock change as the API receives it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct StockAdjustmentRequest {
    /// Units added (positive) or taken away (negative: breakage, samples, a stock count).
    pub delta: i64,
    /// Why, for the cooperative's records (3 to 200 characters).
    pub reason: String,
}

/// A stock change as a page form sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StockAdjustmentForm {
    pub delta: String,
    pub reason: String,
}

/// A validated stock change.
#[derive(Debug, Clone)]
pub struct NewStockAdjustment {
    pub delta: i64,
    pub reason: String,
}

/// A recorded stock change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockAdjustmentView {
    pub id: i64,
    pub product_id: i64,
    pub delta: i64,
    /// The product's stock after the change.
    pub stock_quantity: i64,
    pub reason: String,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<stock_adjustments::Model> for StockAdjustmentView {
    fn from(m: stock_adjustments::Model) -> Self {
        Self {
            id: m.id,
            product_id: m.product_id,
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

fn parse(delta: Result<i64, FieldIssue>, reason: &str) -> AppResult<NewStockAdjustment> {
    let mut errors = FieldErrors::default();
    let delta = errors.take("delta", delta.and_then(parse_delta));
    let reason = errors.take("reason", bounded_text(reason, 3, 200));
    match (delta, reason) {
        (Some(delta), Some(reason)) => Ok(NewStockAdjustment { delta, reason }),
        _ => Err(errors.into_error()),
    }
}

impl StockAdjustmentRequest {
    pub fn parse(&self) -> AppResult<NewStockAdjustment> {
        parse(Ok(self.delta), &self.reason)
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
        parse(delta, &self.reason)
    }
}

/// Applies a stock change to `product_id`, recorded with who made it. Refused (409
/// `insufficient_stock`) when it would take the stock below zero, as things are now: units
/// reserved by checkouts are already out of the stock figure.
pub async fn adjust(
    db: &(impl ConnectionTrait + TransactionTrait),
    product_id: i64,
    change: NewStockAdjustment,
    actor_user_id: i64,
) -> AppResult<stock_adjustments::Model> {
    let txn = crate::db::begin_write(db).await?;
    let changed = products::Entity::update_many()
        .col_expr(
            products::Column::StockQuantity,
            Expr::col(products::Column::StockQuantity).add(change.delta),
        )
        .col_expr(products::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(products::Column::Id.eq(product_id))
        .filter(
            Expr::col(products::Column::StockQuantity)
                .add(change.delta)
                .gte(0),
        )
        .filter(
            Expr::col(products::Column::StockQuantity)
                .add(change.delta)
                .lte(MAX_STOCK),
        )
        .exec(&txn)
        .await?
        .rows_affected;
    let product = products::Entity::find_by_id(product_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if changed != 1 {
        return Err(AppError::conflict(
            "insufficient_stock",
            "delta",
            format!(
                "the product has {} units in stock now; the change would take it outside 0 to {MAX_STOCK}",
                product.stock_quantity
            ),
        ));
    }
    let row = stock_adjustments::ActiveModel {
        product_id: Set(product_id),
        delta: Set(change.delta),
        stock_after: Set(product.stock_quantity),
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
