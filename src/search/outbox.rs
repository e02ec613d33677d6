//! The search outbox: how a database write tells search that a product changed.
//!
//! # For code that writes products (catalogue, admin, checkout, seeding)
//!
//! Any write that changes what search shows about a product — name, description, category,
//! price, stock (in stock or not), `sold_count`, status, certificate stars, or anything of its
//! cooperative (status, name, commune) — must call [`enqueue_products`] (or
//! [`enqueue_cooperative_products`] for every product of a cooperative) **with the same
//! transaction** as the write. The row commits or rolls back with the change, so search can
//! never miss a committed change, even if the process dies right after the commit: the
//! indexer ([`super::indexer`]) drains the rows into the search index, in this process or
//! after a restart, usually within a fraction of a second.
//!
//! Enqueueing is cheap (one small insert) and idempotent in effect: the indexer reads the
//! product's current state when it gets to the row, so enqueueing a product twice, or one that
//! did not really change, costs a little work and nothing else.
//!
//! # The table
//!
//! `search_outbox(id, product_id, enqueued_at, attempts, next_attempt_at, processed_at,
//! last_error)`. Pending rows have `processed_at IS NULL`; a failed attempt pushes
//! `next_attempt_at` back exponentially. Processed rows stay for [`PROCESSED_RETENTION`] so
//! that an index rebuilt by `ocop-market reindex` can replay the changes made while it was
//! being built (see [`super::generations`]), and are purged after that.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::entities::{products, search_outbox};

/// How long processed rows are kept for replay after an index rebuild. A rebuild that takes
/// longer than this could miss changes; 100,000 products build in well under a minute.
pub const PROCESSED_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Longest wait between two attempts at a failing row.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Records, in the caller's transaction, that these products changed and their search
/// documents must be rebuilt (or removed, if they are no longer listed or no longer exist).
///
/// Call it with the **same transaction** (or connection, for a single-statement write) as the
/// change itself, after or before the change in that transaction — the indexer reads the
/// product's committed state, never the state at enqueue time. Checkout must call it when it
/// changes `stock_quantity` (reservation, release, sold out) or `sold_count` (payment).
///
/// Duplicate ids are fine; an empty slice does nothing.
pub async fn enqueue_products(db: &impl ConnectionTrait, product_ids: &[i64]) -> Result<(), DbErr> {
    if product_ids.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let mut ids = product_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(1000) {
        let rows = chunk.iter().map(|&product_id| search_outbox::ActiveModel {
            product_id: Set(product_id),
            enqueued_at: Set(now),
            attempts: Set(0),
            next_attempt_at: Set(now),
            processed_at: Set(None),
            last_error: Set(None),
            ..Default::default()
        });
        search_outbox::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
}

/// Like [`enqueue_products`] for every product of these cooperatives (whatever their status):
/// call it in the transaction that changes what shoppers see of a cooperative (verified,
/// suspended, reinstated, renamed, moved to another commune).
pub async fn enqueue_cooperative_products(
    db: &impl ConnectionTrait,
    cooperative_ids: &[i64],
) -> Result<(), DbErr> {
    if cooperative_ids.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    for chunk in cooperative_ids.chunks(500) {
        let select = Query::select()
            .column(products::Column::Id)
            .expr(Expr::value(now))
            .expr(Expr::value(0))
            .expr(Expr::value(now))
            .from(products::Entity)
            .and_where(products::Column::CooperativeId.is_in(chunk.iter().copied()))
            .to_owned();
        let insert = Query::insert()
            .into_table(search_outbox::Entity)
            .columns([
                search_outbox::Column::ProductId,
                search_outbox::Column::EnqueuedAt,
                search_outbox::Column::Attempts,
                search_outbox::Column::NextAttemptAt,
            ])
            .select_from(select)
            .map_err(|err| DbErr::Custom(err.to_string()))?
            .to_owned();
        db.execute(&insert).await?;
    }
    Ok(())
}

/// Claims up to `limit` pending rows that are due, oldest first.
///
/// Call it inside a transaction and mark the rows in that same transaction. On PostgreSQL the
/// rows are locked with `FOR UPDATE SKIP LOCKED`: several app servers (sharing one Meilisearch
/// index) each take different rows and none waits for another. SQLite has a single writer and
/// no row locks; there one indexer per database is assumed (the embedded index belongs to
/// one app server anyway).
pub async fn claim_due(
    txn: &impl ConnectionTrait,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Vec<search_outbox::Model>, DbErr> {
    let mut query = search_outbox::Entity::find()
        .filter(search_outbox::Column::ProcessedAt.is_null())
        .filter(search_outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(search_outbox::Column::Id)
        .limit(limit);
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    query.all(txn).await
}

/// Marks claimed rows as processed.
pub async fn mark_processed(
    db: &impl ConnectionTrait,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in ids.chunks(1000) {
        search_outbox::Entity::update_many()
            .col_expr(search_outbox::Column::ProcessedAt, Expr::value(now))
            .filter(search_outbox::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The wait before the next attempt after `attempts` failed ones: 1 s, 2 s, 4 s… up to
/// [`MAX_BACKOFF`].
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF)
}

/// Records a failed attempt on rows: counts it, remembers the error and schedules the next
/// attempt with exponential backoff.
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    rows: &[search_outbox::Model],
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let error: String = error.chars().take(2000).collect();
    // Rows of one batch nearly always share their attempt count: one update per count.
    let mut by_attempts: std::collections::BTreeMap<i32, Vec<i64>> = Default::default();
    for row in rows {
        by_attempts
            .entry(row.attempts.saturating_add(1))
            .or_default()
            .push(row.id);
    }
    for (attempts, ids) in by_attempts {
        let wait = chrono::Duration::from_std(backoff(attempts))
            .unwrap_or_else(|_| chrono::Duration::seconds(300));
        for chunk in ids.chunks(1000) {
            search_outbox::Entity::update_many()
                .col_expr(search_outbox::Column::Attempts, Expr::value(attempts))
                .col_expr(
                    search_outbox::Column::NextAttemptAt,
                    Expr::value(now + wait),
                )
                .col_expr(search_outbox::Column::LastError, Expr::value(error.clone()))
                .filter(search_outbox::Column::Id.is_in(chunk.iter().copied()))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// The highest row id so far (0 when the outbox is empty): the start of a rebuild's replay.
pub async fn high_water_mark(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let max: Option<Option<i64>> = search_outbox::Entity::find()
        .select_only()
        .column_as(search_outbox::Column::Id.max(), "max_id")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}

/// The products of rows written after a rebuild started, processed or not: rows with an id
/// above `after_id`, and rows enqueued since `since` if given (which catches, on PostgreSQL, a
/// transaction that took its id before the rebuild started but committed after).
pub async fn products_changed_since(
    db: &impl ConnectionTrait,
    after_id: i64,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<i64>, DbErr> {
    let mut changed = Condition::any().add(search_outbox::Column::Id.gt(after_id));
    if let Some(since) = since {
        changed = changed.add(search_outbox::Column::EnqueuedAt.gte(since));
    }
    let mut ids: Vec<i64> = search_outbox::Entity::find()
        .select_only()
        .column(search_outbox::Column::ProductId)
        .filter(changed)
        .into_tuple()
        .all(db)
        .await?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Marks as processed the pending rows whose change a rebuilt index already holds: rows up to
/// `up_to_id` (enqueued before `before`, if given: see [`products_changed_since`]). Saves the
/// server a second pass over them after a swap.
pub async fn mark_covered_by_rebuild(
    db: &impl ConnectionTrait,
    up_to_id: i64,
    before: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut update = search_outbox::Entity::update_many()
        .col_expr(search_outbox::Column::ProcessedAt, Expr::value(now))
        .filter(search_outbox::Column::ProcessedAt.is_null())
        .filter(search_outbox::Column::Id.lte(up_to_id));
    if let Some(before) = before {
        update = update.filter(search_outbox::Column::EnqueuedAt.lt(before));
    }
    let result = update.exec(db).await?;
    Ok(result.rows_affected)
}

/// Deletes rows processed before `before`.
pub async fn purge_processed(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let result = search_outbox::Entity::delete_many()
        .filter(search_outbox::Column::ProcessedAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Number of rows waiting to be indexed (for health checks and tests).
pub async fn pending_count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    search_outbox::Entity::find()
        .filter(search_outbox::Column::ProcessedAt.is_null())
        .count(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(12), MAX_BACKOFF);
        assert_eq!(backoff(0), Duration::from_secs(1));
    }
}
