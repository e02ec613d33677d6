//! What a cooperative sold, size by size: units and goods value of its paid orders over a
//! window of days, beside each size's stock, so it can see which sizes to make more of.
//!
//! An order counts from the moment it was paid, unless it was cancelled since (its money went
//! back). Sizes that sold nothing are listed too, with zeros: a size that does not sell is
//! worth seeing.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::OrderStatus;
use crate::domain::Money;
use crate::entities::{order_items, orders, product_variants, products};
use crate::error::AppResult;

/// Longest window a report covers, in days.
pub const MAX_DAYS: u32 = 366;
/// The window when none is asked for.
pub const DEFAULT_DAYS: u32 = 30;

/// One size's sales in the window.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SizeSales {
    pub product_id: i64,
    pub product_name: String,
    pub variant_id: i64,
    /// The size, e.g. "Hũ 250 g".
    pub variant_label: String,
    /// Units in stock now.
    pub stock_quantity: i64,
    /// Units in orders paid in the window and not cancelled.
    pub units_sold: i64,
    /// Their goods value in đồng (before delivery fees).
    pub goods_vnd: i64,
    pub goods_display: String,
}

/// A cooperative's sales by size over the last `days` days.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SalesBySize {
    pub cooperative_id: i64,
    pub days: u32,
    pub sizes: Vec<SizeSales>,
    pub units_sold: i64,
    pub goods_vnd: i64,
    pub goods_display: String,
}

/// The sales of every size of the cooperative's products over the last `days` days (the caller
/// checked the reader is a member and `days` is within [`MAX_DAYS`]), best sellers first.
pub async fn by_size(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
    days: u32,
) -> AppResult<SalesBySize> {
    #[derive(FromQueryResult)]
    struct Sold {
        variant_id: i64,
        units: i64,
        goods: i64,
    }
    let since = Utc::now() - Duration::days(i64::from(days));
    // Cast, so both backends answer a BIGINT (PostgreSQL's SUM of a BIGINT is a NUMERIC).
    let sum = |column: order_items::Column| {
        Func::cast_as(
            Func::sum(Expr::col((order_items::Entity, column))),
            Alias::new("BIGINT"),
        )
    };
    let mut query = Query::select();
    query
        .column((order_items::Entity, order_items::Column::VariantId))
        .expr_as(sum(order_items::Column::Quantity), Alias::new("units"))
        .expr_as(sum(order_items::Column::LineTotalVnd), Alias::new("goods"))
        .from(order_items::Entity)
        .inner_join(
            orders::Entity,
            Expr::col((orders::Entity, orders::Column::Id))
                .equals((order_items::Entity, order_items::Column::OrderId)),
        )
        .and_where(Expr::col((orders::Entity, orders::Column::CooperativeId)).eq(cooperative_id))
        .and_where(Expr::col((orders::Entity, orders::Column::PaidAt)).gte(since))
        .and_where(
            Expr::col((orders::Entity, orders::Column::Status)).ne(OrderStatus::Cancelled.as_str()),
        )
        .group_by_col((order_items::Entity, order_items::Column::VariantId));
    let sold: HashMap<i64, Sold> = Sold::find_by_statement(db.get_database_backend().build(&query))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.variant_id, s))
        .collect();

    let sizes = product_variants::Entity::find()
        .find_also_related(products::Entity)
        .filter(products::Column::CooperativeId.eq(cooperative_id))
        .order_by_asc(product_variants::Column::ProductId)
        .order_by_asc(product_variants::Column::Position)
        .all(db)
        .await?;
    let mut rows: Vec<SizeSales> = sizes
        .into_iter()
        .filter_map(|(variant, product)| {
            let product = product?;
            let (units, goods) = sold.get(&variant.id).map_or((0, 0), |s| (s.units, s.goods));
            Some(SizeSales {
                product_id: product.id,
                product_name: product.name,
                variant_id: variant.id,
                variant_label: variant.label,
                stock_quantity: variant.stock_quantity,
                units_sold: units,
                goods_vnd: goods,
                goods_display: Money::from_dong(goods).to_string(),
            })
        })
        .collect();
    // Best sellers first; a stable sort keeps each product's sizes in their order.
    rows.sort_by_key(|b| std::cmp::Reverse(b.goods_vnd));
    let units_sold = rows.iter().map(|r| r.units_sold).sum();
    let goods_vnd = rows.iter().map(|r| r.goods_vnd).sum();
    Ok(SalesBySize {
        cooperative_id,
        days,
        sizes: rows,
        units_sold,
        goods_vnd,
        goods_display: Money::from_dong(goods_vnd).to_string(),
    })
}
