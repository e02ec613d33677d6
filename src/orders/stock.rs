//! Stock: taken at checkout, handed back when an unpaid checkout ends or a paid order is
//! cancelled, taken again when a late payment revives an expired checkout.
//!
//! Invariant: stock is never negative. Stock is taken with one conditional update per product
//! (`stock_quantity = stock_quantity - q WHERE stock_quantity >= q AND listed`), in product id
//! order. PostgreSQL re-checks the condition after waiting for a concurrent buyer's row lock,
//! and SQLite runs one writer at a time, so racing buyers can never take more than there is,
//! and the fixed order keeps two checkouts from deadlocking. Every change tells search through
//! the outbox, in the same transaction.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

use super::cart::CooperativeGroup;
use crate::entities::{order_items, products};
use crate::error::{AppError, AppResult};

/// Takes each line's quantity from stock, or fails naming the first product without enough.
/// Search learns of the new stock through the outbox, in the same transaction.
pub async fn reserve_stock(
    db: &impl ConnectionTrait,
    groups: &[CooperativeGroup],
) -> AppResult<()> {
    let mut lines: Vec<_> = groups.iter().flat_map(|g| &g.lines).collect();
    lines.sort_by_key(|l| l.product.id);
    let ids: Vec<i64> = lines.iter().map(|l| l.product.id).collect();
    crate::catalog::outbox::enqueue_products(db, &ids).await?;
    for line in lines {
        if !take_units(db, line.product.id, line.quantity, true).await? {
            return Err(AppError::conflict(
                "out_of_stock",
                "quantity",
                format!(
                    "not enough {} in stock for {} {}",
                    line.product.name, line.quantity, line.product.unit
                ),
            ));
        }
    }
    Ok(())
}

/// Takes `quantity` units of a product when there are that many (and, with `only_listed`,
/// when it is for sale): one conditional update, so racing buyers cannot oversell. `false`
/// when nothing was taken.
async fn take_units(
    db: &impl ConnectionTrait,
    product_id: i64,
    quantity: i64,
    only_listed: bool,
) -> AppResult<bool> {
    let mut update = products::Entity::update_many()
        .col_expr(
            products::Column::StockQuantity,
            Expr::col(products::Column::StockQuantity).sub(quantity),
        )
        .filter(products::Column::Id.eq(product_id))
        .filter(products::Column::StockQuantity.gte(quantity));
    if only_listed {
        update = update.filter(products::Column::Listed.eq(true));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// The items of `order_ids` in product id order (the order stock rows are locked in, so
/// two transactions never deadlock), with search told that their stock changes.
async fn stock_lines_of(
    db: &impl ConnectionTrait,
    order_ids: &[i64],
) -> AppResult<Vec<order_items::Model>> {
    let items = order_items::Entity::find()
        .filter(order_items::Column::OrderId.is_in(order_ids.to_vec()))
        .order_by_asc(order_items::Column::ProductId)
        .all(db)
        .await?;
    let ids: Vec<i64> = items.iter().map(|i| i.product_id).collect();
    crate::catalog::outbox::enqueue_products(db, &ids).await?;
    Ok(items)
}

/// Hands stock back (cancellation, expiry).
pub async fn release_stock(db: &impl ConnectionTrait, order_ids: &[i64]) -> AppResult<()> {
    for item in stock_lines_of(db, order_ids).await? {
        products::Entity::update_many()
            .col_expr(
                products::Column::StockQuantity,
                Expr::col(products::Column::StockQuantity).add(item.quantity),
            )
            .filter(products::Column::Id.eq(item.product_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Takes stock again for the orders of a payment that arrived after its reservation expired.
/// Returns `false`, taking nothing, when any product no longer has enough.
pub async fn retake_stock(db: &DatabaseTransaction, order_ids: &[i64]) -> AppResult<bool> {
    let savepoint = db.begin().await?;
    for item in stock_lines_of(&savepoint, order_ids).await? {
        if !take_units(&savepoint, item.product_id, item.quantity, false).await? {
            savepoint.rollback().await?;
            return Ok(false);
        }
    }
    savepoint.commit().await?;
    Ok(true)
}
