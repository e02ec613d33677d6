//! The search side of the catalogue's outbox ([`crate::catalog::outbox`]): claiming the rows
//! to index, recording how each attempt went, and finding what a rebuilt index must replay.
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
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entities::search_outbox;

/// How long processed rows are kept for replay after an index rebuild. A rebuild that takes
/// longer than this could miss changes; 100,000 products build in well under a minute.
pub const PROCESSED_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Longest wait between two attempts at a failing row.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

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

/// How far before the rebuild's start the replay reaches back by time, on PostgreSQL, to catch
/// a transaction that took its outbox id before the rebuild started and committed after it
/// (ids come from a sequence, so they are not in commit order). A write transaction open longer
/// than this could be missed by a rebuild; the app's last milliseconds. SQLite needs no margin:
/// its single writer takes ids in commit order, so every row committed after the mark has a
/// higher id.
pub const REPLAY_MARGIN: Duration = Duration::from_secs(30);

/// Where a rebuild's replay by time starts: `None` on SQLite (ids suffice), the rebuild's
/// start minus [`REPLAY_MARGIN`] on PostgreSQL.
pub fn replay_window_start(
    db: &impl ConnectionTrait,
    started: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    (db.get_database_backend() == sea_orm::DbBackend::Postgres).then(|| {
        started
            - chrono::Duration::from_std(REPLAY_MARGIN).unwrap_or_else(|_| chrono::Duration::zero())
    })
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
