//! The search outbox: how a database write tells search that a product changed.
//!
//! The catalogue keeps this journal of "these products changed"; search reads it
//! ([`crate::search::outbox`]) and never writes a catalogue row, so the catalogue needs nothing
//! of search.
//!
//! # For code that writes products (catalogue, admin, checkout, seeding)
//!
//! Any write that changes what search shows about a product — name, description, category,
//! price, stock (in stock or not), `sold_count`, status, certificate stars, or anything of its
//! cooperative (status, name, commune) — must call [`enqueue_products`] (or
//! [`enqueue_cooperative_products`] for every product of a cooperative) **with the same
//! transaction** as the write. The row commits or rolls back with the change, so search can
//! never miss a committed change, even if the process dies right after the commit: the
//! indexer ([`crate::search::indexer`]) drains the rows into the search index, in this process
//! or after a restart, usually within a fraction of a second.
//!
//! Enqueueing is cheap (one small insert) and idempotent in effect: the indexer reads the
//! product's current state when it gets to the row, so enqueueing a product twice, or one that
//! did not really change, costs a little work and nothing else.
//!
//! # The table
//!
//! `search_outbox(id, product_id, enqueued_at, attempts, next_attempt_at, processed_at,
//! last_error)`. Rows are written here with `processed_at` unset and due at once; everything
//! else about them (claims, retries, retention) belongs to the reader,
//! [`crate::search::outbox`].

use chrono::Utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, Set};

use crate::entities::{products, search_outbox};

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
