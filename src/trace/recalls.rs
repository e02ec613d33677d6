//! Recalls: a lot (batch) recalled with a reason and advice, by a member of its cooperative or
//! by the province (an administrator).
//!
//! What a recall does, at once and on every app server:
//! - **Stamps.** Every stamp of the lot, and only of that lot, reads "Recalled" with the reason
//!   and advice in place of any other verdict. The recall travels with the batch's origin
//!   (`origin::OriginView::recall`), which the scan page and the API judge against; the writer
//!   publishes `Change::Batch` (every server applies it before its next scan when they share
//!   Redis), and each server's recall watch ([`changed_since`], run every second beside the
//!   void watch) forgets the origins of lots recalled or cleared lately, so that no server
//!   keeps a stale origin for more than a second even if a change was never told.
//! - **Buyers.** Every order with a line packed from the lot (`order_items.batch_id`) gets one
//!   message on its buyer's channel with the reason and advice: one per order (the message
//!   names the order, so a buyer with two parcels knows which), recorded in `recall_notices`
//!   (unique `(recall_id, order_id)`) in the transaction of the outbox row, so an order is told
//!   once however often [`notify_buyers`] runs and on however many servers.
//! - **Sale.** The lot's product is withdrawn from sale while the recall is open: it cannot be
//!   added to a cart or checked out, and its page shows the recall instead of the buy button.
//!   Lists and search keep showing it, marked "recalled" ([`mark_recalled`]), so a buyer looking
//!   for it learns why it cannot be bought.
//!
//! **Clearing.** The cooperative (or the province) confirms the remaining stock is safe: the
//! product goes back on sale. The stamps keep reading "Recalled", with the date it was
//! cleared: a package in hand is from that lot, and may be one of those the recall was about.
//! A recall made by the province is cleared only by the province. A lot is recalled once: a
//! cleared recall stays the lot's record, and recalling it again is refused.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::scans::RecallNotice;
use crate::accounts::CurrentUser;
use crate::domain::{FieldIssue, bounded_text};
use crate::entities::{
    batch_recalls, batches, cooperatives, order_items, orders, products, recall_notices, scans,
    stamps,
};
use crate::error::{AppError, AppResult, FieldErrors, is_unique_violation};

/// Most characters of a reason or an advice.
pub const MAX_TEXT: usize = 500;

/// A recall as a form or the API sends it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct RecallInput {
    /// Why the lot is recalled (1–500 characters), e.g. "nhiễm nấm mốc".
    pub reason: String,
    /// What buyers should do (1–500 characters), e.g. "không sử dụng; trả lại để được hoàn tiền".
    pub advice: String,
}

/// A recall's texts, checked.
#[derive(Debug, Clone)]
pub struct RecallDetails {
    pub reason: String,
    pub advice: String,
}

impl RecallInput {
    pub fn parse(&self) -> AppResult<RecallDetails> {
        let mut errors = FieldErrors::default();
        let reason = errors.take("reason", bounded_text(&self.reason, 1, MAX_TEXT));
        let advice = errors.take("advice", bounded_text(&self.advice, 1, MAX_TEXT));
        match (reason, advice) {
            (Some(reason), Some(advice)) => Ok(RecallDetails { reason, advice }),
            _ => Err(errors.into_error()),
        }
    }
}

/// A batch `user` may recall, clear or read the recall of: a member of its cooperative, or an
/// administrator; "not found" for anyone else.
pub async fn accessible(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    batch_id: i64,
) -> AppResult<batches::Model> {
    if user.is_admin {
        return batches::Entity::find_by_id(batch_id)
            .one(db)
            .await?
            .ok_or(AppError::NotFound);
    }
    let (batch, _, _) = super::batches::managed(db, user, batch_id).await?;
    Ok(batch)
}

/// Recalls `batch` and asks for the buyers' messages, in one transaction. A lot already
/// recalled (open or cleared) is a conflict (`already_recalled`).
pub async fn recall(
    db: &DatabaseConnection,
    user: &CurrentUser,
    batch: &batches::Model,
    details: RecallDetails,
) -> AppResult<batch_recalls::Model> {
    let txn = crate::db::begin_write(db).await?;
    let row = batch_recalls::ActiveModel {
        batch_id: Set(batch.id),
        cooperative_id: Set(batch.cooperative_id),
        reason: Set(details.reason),
        advice: Set(details.advice),
        recalled_by: Set(user.id),
        by_administrator: Set(user.is_admin),
        recalled_at: Set(Utc::now()),
        cleared_at: Set(None),
        cleared_by: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|err| {
        if is_unique_violation(&err) {
            already_recalled()
        } else {
            err.into()
        }
    })?;
    notify_buyers(&txn, &row, &batch.lot_code).await?;
    txn.commit().await?;
    Ok(row)
}

fn already_recalled() -> AppError {
    AppError::conflict(
        "already_recalled",
        "reason",
        "this lot has already been recalled",
    )
}

/// Tells the buyer of every order with a line packed from the recalled lot, once per order:
/// the notice row and the message are written together, and an order already told is skipped.
/// Safe to run again (for lines packed from the lot later); returns how many were told now.
pub async fn notify_buyers(
    db: &impl ConnectionTrait,
    recall: &batch_recalls::Model,
    lot_code: &str,
) -> AppResult<u64> {
    let lines = order_items::Entity::find()
        .filter(order_items::Column::BatchId.eq(recall.batch_id))
        .order_by_asc(order_items::Column::Id)
        .all(db)
        .await?;
    let mut by_order: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for line in &lines {
        by_order
            .entry(line.order_id)
            .or_default()
            .push(format!("{} ({})", line.product_name, line.unit));
    }
    let mut told = 0;
    for (order_id, products) in by_order {
        let inserted = recall_notices::Entity::insert(recall_notices::ActiveModel {
            recall_id: Set(recall.id),
            order_id: Set(order_id),
            created_at: Set(Utc::now()),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::columns([
                recall_notices::Column::RecallId,
                recall_notices::Column::OrderId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        if inserted == 0 {
            continue;
        }
        let products: BTreeSet<String> = products.into_iter().collect();
        crate::messages::events::recall_notice(
            db,
            recall,
            order_id,
            &products.into_iter().collect::<Vec<_>>().join(", "),
            lot_code,
        )
        .await?;
        told += 1;
    }
    Ok(told)
}

/// Clears the open recall of `batch` once the remaining stock is confirmed safe: its product
/// goes back on sale. Refused without the confirmation (422), when the lot has no open recall
/// (`not_recalled`), and for a member when the province made the recall
/// (`recalled_by_province`).
pub async fn clear(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    batch: &batches::Model,
    remaining_stock_safe: bool,
) -> AppResult<batch_recalls::Model> {
    if !remaining_stock_safe {
        return Err(FieldErrors::single(
            "remaining_stock_safe",
            FieldIssue::new(
                "confirmation_required",
                "confirm that the remaining stock of the lot is safe",
            ),
        ));
    }
    let not_recalled = || {
        AppError::conflict(
            "not_recalled",
            "remaining_stock_safe",
            "this lot has no open recall",
        )
    };
    let recall = of_batch(db, batch.id)
        .await?
        .filter(|r| r.cleared_at.is_none())
        .ok_or_else(not_recalled)?;
    if recall.by_administrator && !user.is_admin {
        return Err(AppError::conflict(
            "recalled_by_province",
            "remaining_stock_safe",
            "the province recalled this lot: only the province can clear it",
        ));
    }
    let now = Utc::now();
    let cleared = batch_recalls::Entity::update_many()
        .col_expr(batch_recalls::Column::ClearedAt, Expr::value(now))
        .col_expr(batch_recalls::Column::ClearedBy, Expr::value(user.id))
        .filter(batch_recalls::Column::Id.eq(recall.id))
        .filter(batch_recalls::Column::ClearedAt.is_null())
        .exec(db)
        .await?;
    if cleared.rows_affected == 0 {
        return Err(not_recalled());
    }
    Ok(batch_recalls::Model {
        cleared_at: Some(now),
        cleared_by: Some(user.id),
        ..recall
    })
}

/// The recall of a batch (open or cleared), if it was ever recalled.
pub async fn of_batch(
    db: &impl ConnectionTrait,
    batch_id: i64,
) -> AppResult<Option<batch_recalls::Model>> {
    Ok(batch_recalls::Entity::find()
        .filter(batch_recalls::Column::BatchId.eq(batch_id))
        .one(db)
        .await?)
}

/// What a stamp of the batch tells its scanner about a recall, if the lot was ever recalled.
pub async fn notice_of_batch(
    db: &impl ConnectionTrait,
    batch_id: i64,
) -> AppResult<Option<RecallNotice>> {
    Ok(of_batch(db, batch_id).await?.as_ref().map(notice))
}

fn notice(recall: &batch_recalls::Model) -> RecallNotice {
    RecallNotice {
        reason: recall.reason.clone(),
        advice: recall.advice.clone(),
        recalled_at: recall.recalled_at,
        cleared_at: recall.cleared_at,
    }
}

/// The open recall of one of the product's lots, if any: the product is withdrawn from sale.
pub async fn open_of_product(
    db: &impl ConnectionTrait,
    product_id: i64,
) -> AppResult<Option<RecallNotice>> {
    Ok(batch_recalls::Entity::find()
        .filter(batch_recalls::Column::ClearedAt.is_null())
        .filter(
            batch_recalls::Column::BatchId.in_subquery(
                Query::select()
                    .column(batches::Column::Id)
                    .from(batches::Entity)
                    .and_where(batches::Column::ProductId.eq(product_id))
                    .to_owned(),
            ),
        )
        .order_by_desc(batch_recalls::Column::RecalledAt)
        .one(db)
        .await?
        .as_ref()
        .map(notice))
}

/// Which of `product_ids` are withdrawn from sale by an open recall of one of their lots, in
/// one query (lists and search call it on every page).
pub async fn recalled_among(
    db: &impl ConnectionTrait,
    product_ids: &[i64],
) -> AppResult<BTreeSet<i64>> {
    if product_ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let recalled: Vec<i64> = batches::Entity::find()
        .select_only()
        .column(batches::Column::ProductId)
        .filter(batches::Column::ProductId.is_in(product_ids.iter().copied()))
        .filter(batches::Column::Id.in_subquery(open_recall_batches()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(recalled.into_iter().collect())
}

/// The lots under an open recall, as a subquery.
fn open_recall_batches() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(batch_recalls::Column::BatchId)
        .from(batch_recalls::Entity)
        .and_where(batch_recalls::Column::ClearedAt.is_null())
        .to_owned()
}

/// Marks the products of a list withdrawn from sale by an open recall, so that lists and
/// search show them marked (one query when nothing is recalled).
pub async fn mark_recalled(
    db: &impl ConnectionTrait,
    items: &mut [crate::catalog::views::ProductSummary],
) -> AppResult<()> {
    let ids: Vec<i64> = items.iter().map(|p| p.id).collect();
    let recalled = recalled_among(db, &ids).await?;
    for item in items {
        item.recalled = recalled.contains(&item.id);
    }
    Ok(())
}

/// Refuses a product withdrawn from sale by an open recall (409 `product_recalled`).
pub async fn require_on_sale(
    db: &impl ConnectionTrait,
    product_id: i64,
    product_name: &str,
) -> AppResult<()> {
    match open_of_product(db, product_id).await? {
        Some(_) => Err(AppError::conflict(
            "product_recalled",
            "product_id",
            format!("{product_name} is withdrawn from sale: a lot of it was recalled"),
        )),
        None => Ok(()),
    }
}

/// A lot's recall with its figures, as the batch page and the API show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecallView {
    pub id: i64,
    pub batch_id: i64,
    pub lot_code: String,
    pub reason: String,
    pub advice: String,
    /// Whether the province (not the cooperative) recalled the lot.
    pub by_administrator: bool,
    pub recalled_at: DateTime<Utc>,
    /// When the remaining stock was confirmed safe; `None` while the recall is open.
    pub cleared_at: Option<DateTime<Utc>>,
    /// Units in order lines packed from the lot.
    pub units_shipped: i64,
    /// Units of the lot not shipped yet (its quantity less what shipped).
    pub units_in_stock: i64,
    /// Orders whose buyer was told.
    pub buyers_notified: u64,
    /// Scans of the lot's stamps since the recall.
    pub scans_since: u64,
}

/// The recall of `batch` with its figures, if the lot was ever recalled.
pub async fn view_of(
    db: &impl ConnectionTrait,
    batch: &batches::Model,
) -> AppResult<Option<RecallView>> {
    let Some(recall) = of_batch(db, batch.id).await? else {
        return Ok(None);
    };
    let units_shipped: i64 = order_items::Entity::find()
        .filter(order_items::Column::BatchId.eq(batch.id))
        .all(db)
        .await?
        .iter()
        .map(|l| l.quantity)
        .sum();
    Ok(Some(RecallView {
        id: recall.id,
        batch_id: batch.id,
        lot_code: batch.lot_code.clone(),
        units_shipped,
        units_in_stock: (batch.quantity - batch.quantity_shipped).max(0),
        buyers_notified: notices_of(db, recall.id).await?,
        scans_since: scans_since(db, batch.id, recall.recalled_at).await?,
        reason: recall.reason,
        advice: recall.advice,
        by_administrator: recall.by_administrator,
        recalled_at: recall.recalled_at,
        cleared_at: recall.cleared_at,
    }))
}

async fn notices_of(db: &impl ConnectionTrait, recall_id: i64) -> AppResult<u64> {
    Ok(recall_notices::Entity::find()
        .filter(recall_notices::Column::RecallId.eq(recall_id))
        .count(db)
        .await?)
}

/// Scans of the batch's stamps at or after `since` (written by the scan writers, so a scan of
/// the last moment may be counted a moment later).
async fn scans_since(
    db: &impl ConnectionTrait,
    batch_id: i64,
    since: DateTime<Utc>,
) -> AppResult<u64> {
    Ok(scans::Entity::find()
        .filter(scans::Column::ScannedAt.gte(since))
        .filter(
            scans::Column::StampId.in_subquery(
                Query::select()
                    .column(stamps::Column::Id)
                    .from(stamps::Entity)
                    .and_where(stamps::Column::BatchId.eq(batch_id))
                    .to_owned(),
            ),
        )
        .count(db)
        .await?)
}

/// An order line packed from a lot, as its cooperative sees it: no buyer's name, phone or
/// address (the order's own page has what the cooperative may see).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShippedLine {
    pub order_item_id: i64,
    pub order_id: i64,
    /// The order number people read (`DH000123`).
    pub order_number: String,
    pub product_name: String,
    pub unit: String,
    pub quantity: i64,
    pub order_status: String,
    /// Whether the order's buyer was told of the lot's recall.
    pub buyer_notified: bool,
}

/// The order lines packed from `batch`, oldest first.
pub async fn shipped_lines(
    db: &impl ConnectionTrait,
    batch: &batches::Model,
) -> AppResult<Vec<ShippedLine>> {
    let lines = order_items::Entity::find()
        .filter(order_items::Column::BatchId.eq(batch.id))
        .order_by_asc(order_items::Column::Id)
        .all(db)
        .await?;
    let order_ids: BTreeSet<i64> = lines.iter().map(|l| l.order_id).collect();
    let statuses: BTreeMap<i64, String> = orders::Entity::find()
        .filter(orders::Column::Id.is_in(order_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.status))
        .collect();
    let notified: BTreeSet<i64> = match of_batch(db, batch.id).await? {
        Some(recall) => recall_notices::Entity::find()
            .filter(recall_notices::Column::RecallId.eq(recall.id))
            .all(db)
            .await?
            .into_iter()
            .map(|n| n.order_id)
            .collect(),
        None => BTreeSet::new(),
    };
    Ok(lines
        .into_iter()
        .map(|line| ShippedLine {
            order_item_id: line.id,
            order_id: line.order_id,
            order_number: crate::messages::events::order_number(line.order_id),
            product_name: line.product_name,
            unit: line.unit,
            quantity: line.quantity,
            order_status: statuses.get(&line.order_id).cloned().unwrap_or_default(),
            buyer_notified: notified.contains(&line.order_id),
        })
        .collect())
}

/// An open recall as the province's dashboard lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpenRecall {
    pub batch_id: i64,
    pub lot_code: String,
    pub product_name: String,
    pub cooperative_name: String,
    pub reason: String,
    pub by_administrator: bool,
    pub recalled_at: DateTime<Utc>,
    pub buyers_notified: u64,
    pub scans_since: u64,
}

/// Every open recall, newest first, with how many buyers were told and how many scans came
/// since (recalls are few: a query or two each).
pub async fn open_recalls(db: &impl ConnectionTrait) -> AppResult<Vec<OpenRecall>> {
    let recalls = batch_recalls::Entity::find()
        .filter(batch_recalls::Column::ClearedAt.is_null())
        .order_by_desc(batch_recalls::Column::RecalledAt)
        .all(db)
        .await?;
    let mut open = Vec::with_capacity(recalls.len());
    for recall in recalls {
        let Some(batch) = batches::Entity::find_by_id(recall.batch_id).one(db).await? else {
            continue;
        };
        let product = products::Entity::find_by_id(batch.product_id)
            .one(db)
            .await?
            .map(|p| p.name)
            .unwrap_or_default();
        let cooperative = cooperatives::Entity::find_by_id(recall.cooperative_id)
            .one(db)
            .await?
            .map(|c| c.name)
            .unwrap_or_default();
        open.push(OpenRecall {
            batch_id: batch.id,
            lot_code: batch.lot_code,
            product_name: product,
            cooperative_name: cooperative,
            buyers_notified: notices_of(db, recall.id).await?,
            scans_since: scans_since(db, recall.batch_id, recall.recalled_at).await?,
            reason: recall.reason,
            by_administrator: recall.by_administrator,
            recalled_at: recall.recalled_at,
        });
    }
    Ok(open)
}

/// The batches whose recall was made or cleared after `since` (for the recall watch of the
/// origin cache), with the time of the latest of the two.
pub async fn changed_since(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>)>, sea_orm::DbErr> {
    Ok(batch_recalls::Entity::find()
        .filter(
            Condition::any()
                .add(batch_recalls::Column::RecalledAt.gt(since))
                .add(batch_recalls::Column::ClearedAt.gt(since)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.batch_id, r.cleared_at.unwrap_or(r.recalled_at)))
        .collect())
}
