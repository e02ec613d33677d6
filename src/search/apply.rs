//! Bringing a search index up to date with the database: the documents of changed products go
//! in (or out, when no longer listed), and a rebuilt index replays the changes written while it
//! was being built.
//!
//! Every path that feeds an index goes through here — the indexer draining the outbox, the
//! live index catching up at start-up or after a swap, both rebuilds — and reads the
//! products' committed state, never the state at enqueue time, so applying a product twice
//! is harmless. What to apply comes from the caller (outbox rows, a replay window); how far
//! it got is the caller's to record.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::documents;
use super::model::SearchIndex;
use super::outbox;
use crate::reference::ReferenceData;

/// Brings the documents of `product_ids` in `index` up to date with the database.
pub async fn apply_products(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    index: &dyn SearchIndex,
    product_ids: &[i64],
) -> anyhow::Result<()> {
    let changes = documents::changes_for(db, reference, product_ids).await?;
    if !changes.upserts.is_empty() {
        index.upsert(changes.upserts).await?;
    }
    if !changes.deletes.is_empty() {
        index.delete(changes.deletes).await?;
    }
    Ok(())
}

/// Applies to a freshly rebuilt index every change written since its rebuild began: outbox
/// rows above `after_id`, and rows enqueued since `since` if given (see
/// [`outbox::products_changed_since`]).
pub async fn replay(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    index: &dyn SearchIndex,
    after_id: i64,
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<usize> {
    let product_ids = outbox::products_changed_since(db, after_id, since).await?;
    for chunk in product_ids.chunks(500) {
        apply_products(db, reference, index, chunk).await?;
    }
    index.refresh().await?;
    Ok(product_ids.len())
}
