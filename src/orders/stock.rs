//! Stock: taken at checkout, handed back when an unpaid checkout ends or a paid order is
//! cancelled, taken again when a late payment revives an expired checkout.
//!
//! Invariant: stock is never negative. Stock is kept per variant (size) of a product, and is
//! taken with one conditional update per variant (`stock_quantity = stock_quantity - q WHERE
//! stock_quantity >= q`), then the product's sum follows (with, at checkout, the condition
//! that the product is still listed). PostgreSQL re-checks the condition after waiting for a
//! concurrent buyer's row lock, and SQLite runs one writer at a time, so racing buyers can
//! never take more than there is. Rows are locked in one fixed order — per product in id
//! order, its variants (in id order) and then the product — which every writer of stock
//! follows ([`crate::catalog::variants`]), so two checkouts never deadlock. Every change tells
//! search through the outbox, in the same transaction.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

use super::cart::CooperativeGroup;
use crate::entities::{order_items, product_variants, products};
use crate::error::{AppError, AppResult};

/// One variant's units to take or give back.
struct StockLine {
    product_id: i64,
    variant_id: i64,
    quantity: i64,
}

/// Takes each line's quantity from stock, or fails naming the first variant without enough.
/// Search learns of the new stock through the outbox, in the same transaction.
pub async fn reserve_stock(
    db: &impl ConnectionTrait,
    groups: &[CooperativeGroup],
) -> AppResult<()> {
    let mut lines: Vec<_> = groups.iter().flat_map(|g| &g.lines).collect();
    lines.sort_by_key(|l| (l.product.id, l.variant.id));
    let ids: Vec<i64> = lines.iter().map(|l| l.product.id).collect();
    crate::catalog::outbox::enqueue_products(db, &ids).await?;
    let stock_lines: Vec<StockLine> = lines
        .iter()
        .map(|l| StockLine {
            product_id: l.product.id,
            variant_id: l.variant.id,
            quantity: l.quantity,
        })
        .collect();
    if let Some(short) = take_lines(db, &stock_lines, true).await? {
        let line = lines
            .iter()
            .find(|l| l.variant.id == short)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("short line vanished")))?;
        return Err(AppError::conflict(
            "out_of_stock",
            "quantity",
            format!(
                "not enough {} ({}) in stock for {}",
                line.product.name, line.variant.label, line.quantity
            ),
        ));
    }
    Ok(())
}

/// Takes the lines (sorted by product, then variant) from stock, variant rows first and then
/// each product's sum. Answers the first variant without enough (or whose product is no
/// longer listed, with `only_listed`), after which the caller must roll back.
async fn take_lines(
    db: &impl ConnectionTrait,
    lines: &[StockLine],
    only_listed: bool,
) -> AppResult<Option<i64>> {
    for product_lines in lines.chunk_by(|a, b| a.product_id == b.product_id) {
        for line in product_lines {
            let taken = product_variants::Entity::update_many()
                .col_expr(
                    product_variants::Column::StockQuantity,
                    Expr::col(product_variants::Column::StockQuantity).sub(line.quantity),
                )
                .filter(product_variants::Column::Id.eq(line.variant_id))
                .filter(product_variants::Column::ProductId.eq(line.product_id))
                .filter(product_variants::Column::StockQuantity.gte(line.quantity))
                .exec(db)
                .await?
                .rows_affected
                == 1;
            if !taken {
                return Ok(Some(line.variant_id));
            }
        }
        let total: i64 = product_lines.iter().map(|l| l.quantity).sum();
        let mut update = products::Entity::update_many()
            .col_expr(
                products::Column::StockQuantity,
                Expr::col(products::Column::StockQuantity).sub(total),
            )
            .filter(products::Column::Id.eq(product_lines[0].product_id));
        if only_listed {
            update = update.filter(products::Column::Listed.eq(true));
        }
        if update.exec(db).await?.rows_affected != 1 {
            return Ok(Some(product_lines[0].variant_id));
        }
    }
    Ok(None)
}

/// The items of `order_ids` in lock order (product, then variant), with search told that their
/// stock changes.
async fn stock_lines_of(db: &impl ConnectionTrait, order_ids: &[i64]) -> AppResult<Vec<StockLine>> {
    let items = order_items::Entity::find()
        .filter(order_items::Column::OrderId.is_in(order_ids.to_vec()))
        .order_by_asc(order_items::Column::ProductId)
        .order_by_asc(order_items::Column::VariantId)
        .all(db)
        .await?;
    let ids: Vec<i64> = items.iter().map(|i| i.product_id).collect();
    crate::catalog::outbox::enqueue_products(db, &ids).await?;
    Ok(items
        .into_iter()
        .map(|i| StockLine {
            product_id: i.product_id,
            variant_id: i.variant_id,
            quantity: i.quantity,
        })
        .collect())
}

/// Hands stock back (cancellation, expiry).
pub async fn release_stock(db: &impl ConnectionTrait, order_ids: &[i64]) -> AppResult<()> {
    let lines = stock_lines_of(db, order_ids).await?;
    for product_lines in lines.chunk_by(|a, b| a.product_id == b.product_id) {
        for line in product_lines {
            product_variants::Entity::update_many()
                .col_expr(
                    product_variants::Column::StockQuantity,
                    Expr::col(product_variants::Column::StockQuantity).add(line.quantity),
                )
                .filter(product_variants::Column::Id.eq(line.variant_id))
                .exec(db)
                .await?;
        }
        let total: i64 = product_lines.iter().map(|l| l.quantity).sum();
        products::Entity::update_many()
            .col_expr(
                products::Column::StockQuantity,
                Expr::col(products::Column::StockQuantity).add(total),
            )
            .filter(products::Column::Id.eq(product_lines[0].product_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Takes stock again for the orders of a payment that arrived after its reservation expired.
/// Returns `false`, taking nothing, when any variant no longer has enough.
pub async fn retake_stock(db: &DatabaseTransaction, order_ids: &[i64]) -> AppResult<bool> {
    let savepoint = db.begin().await?;
    let lines = stock_lines_of(&savepoint, order_ids).await?;
    if take_lines(&savepoint, &lines, false).await?.is_some() {
        savepoint.rollback().await?;
        return Ok(false);
    }
    savepoint.commit().await?;
    Ok(true)
}
