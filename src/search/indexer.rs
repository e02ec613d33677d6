//! The indexer: a background task that drains the search outbox into the live index.
//!
//! It runs in every app server (the server starts it beside the HTTP listener). Each round it
//! 1. swaps in a rebuilt generation if `ocop-market reindex` wrote a new pointer (embedded
//!    backend; see [`super::generations`]),
//! 2. claims due outbox rows in batches, reads the products' current state, upserts the listed
//!    ones and deletes the others, refreshes the index, and only then marks the rows processed
//!    — so a crash at any point leaves them to be done again (indexing is idempotent),
//! 3. on failure counts the attempt and retries the rows later with exponential backoff.
//!
//! Freshness: a local write wakes it at once ([`LiveIndex::wake_indexer`], called by the
//! write middleware); writes by other processes are seen by polling every
//! `search_poll_interval` (200 ms by default). A change is searchable well within a second.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::apply;
use super::live::{Backend, LiveIndex};
use super::model::SearchIndex;
use super::outbox;
use crate::reference::ReferenceData;

/// How the indexer paces itself (from [`crate::config::Config`]).
#[derive(Debug, Clone, Copy)]
pub struct IndexerSettings {
    /// Longest wait between two looks at the outbox.
    pub poll_interval: Duration,
    /// Rows are left alone until they are this old (0 in production; a test and operations
    /// knob, `OCOP_SEARCH_INDEXER_DELAY_MS`, to hold indexing back deterministically).
    pub delay: Duration,
    /// Rows claimed per batch.
    pub batch_size: u64,
}

/// The running indexer task.
pub struct IndexerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl IndexerHandle {
    /// Asks the indexer to stop after its current batch and waits for it.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "the search indexer ended abnormally");
        }
    }
}

/// Starts the indexer. It catches up with whatever is pending at once.
pub fn spawn(
    db: DatabaseConnection,
    reference: Arc<ReferenceData>,
    live: Arc<LiveIndex>,
    settings: IndexerSettings,
) -> IndexerHandle {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(run(db, reference, live, settings, stopped));
    IndexerHandle { stop, task }
}

/// How often processed rows older than the retention are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

async fn run(
    db: DatabaseConnection,
    reference: Arc<ReferenceData>,
    live: Arc<LiveIndex>,
    settings: IndexerSettings,
    mut stopped: watch::Receiver<bool>,
) {
    let mut last_purge = std::time::Instant::now();
    loop {
        if *stopped.borrow() {
            return;
        }
        if let Err(err) = swap_in_new_generation(&db, &reference, &live).await {
            tracing::error!(error = %format!("{err:#}"), "cannot switch to the rebuilt search index");
        }
        loop {
            match drain_once(&db, &reference, &live, settings).await {
                Ok(claimed) if claimed as u64 >= settings.batch_size && !*stopped.borrow() => {
                    continue;
                }
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "reading the search outbox failed");
                    break;
                }
            }
        }
        if last_purge.elapsed() >= PURGE_EVERY {
            last_purge = std::time::Instant::now();
            let before = Utc::now()
                - chrono::Duration::from_std(outbox::PROCESSED_RETENTION)
                    .unwrap_or_else(|_| chrono::Duration::days(1));
            if let Err(err) = outbox::purge_processed(&db, before).await {
                tracing::warn!(error = %err, "purging the search outbox failed");
            }
        }
        tokio::select! {
            () = live.woken() => {}
            () = tokio::time::sleep(settings.poll_interval) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Claims one batch of due rows and applies it; returns how many rows it claimed.
async fn drain_once(
    db: &DatabaseConnection,
    reference: &ReferenceData,
    live: &LiveIndex,
    settings: IndexerSettings,
) -> Result<usize, sea_orm::DbErr> {
    let due_before = Utc::now()
        - chrono::Duration::from_std(settings.delay).unwrap_or_else(|_| chrono::Duration::zero());
    let index = live.current();
    let batch = Batch {
        reference,
        index: index.as_ref(),
        size: settings.batch_size,
        due_before,
    };
    let (rows, failure) = if db.get_database_backend() == DbBackend::Postgres {
        // Rows stay locked (FOR UPDATE SKIP LOCKED) until this transaction ends, so other app
        // servers skip them; marking them processed commits with the release.
        let txn = crate::db::begin_write(db).await?;
        let outcome = batch.claim_and_apply(&txn).await?;
        if outcome.1.is_none() {
            txn.commit().await?;
        } else {
            txn.rollback().await?;
        }
        outcome
    } else {
        // SQLite: one writer per database and one indexer per embedded index, so no claim is
        // needed; and no transaction is held across the indexing, which would have to upgrade
        // a read snapshot to a write lock and fail when an app write came in between.
        batch.claim_and_apply(db).await?
    };
    if let Some(err) = failure {
        // Recorded outside the claiming transaction, which has been rolled back.
        record_failure(db, &rows, &err).await?;
    }
    Ok(rows.len())
}

/// One round of the indexer: which rows, and where they go.
struct Batch<'a> {
    reference: &'a ReferenceData,
    index: &'a dyn SearchIndex,
    size: u64,
    due_before: chrono::DateTime<Utc>,
}

impl Batch<'_> {
    /// Claims due rows on `conn` and indexes them, marking them processed on `conn` when that
    /// worked; returns the rows and, when indexing failed, why (to be recorded by the caller).
    async fn claim_and_apply(
        &self,
        conn: &impl ConnectionTrait,
    ) -> Result<
        (
            Vec<crate::entities::search_outbox::Model>,
            Option<anyhow::Error>,
        ),
        sea_orm::DbErr,
    > {
        let rows = outbox::claim_due(conn, self.size, self.due_before).await?;
        if rows.is_empty() {
            return Ok((rows, None));
        }
        match apply_rows(conn, self.reference, self.index, &rows).await {
            Ok(()) => {
                outbox::mark_processed(conn, &ids_of(&rows), Utc::now()).await?;
                Ok((rows, None))
            }
            Err(err) => Ok((rows, Some(err))),
        }
    }
}

fn ids_of(rows: &[crate::entities::search_outbox::Model]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

async fn record_failure(
    db: &DatabaseConnection,
    rows: &[crate::entities::search_outbox::Model],
    err: &anyhow::Error,
) -> Result<(), sea_orm::DbErr> {
    let message = format!("{err:#}");
    tracing::warn!(rows = rows.len(), error = %message, "indexing failed; retrying with backoff");
    outbox::mark_failed(db, rows, &message, Utc::now()).await
}

async fn apply_rows(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    index: &dyn SearchIndex,
    rows: &[crate::entities::search_outbox::Model],
) -> anyhow::Result<()> {
    let mut product_ids: Vec<i64> = rows.iter().map(|r| r.product_id).collect();
    product_ids.sort_unstable();
    product_ids.dedup();
    apply::apply_products(db, reference, index, &product_ids).await?;
    index.refresh().await?;
    Ok(())
}

/// If `CURRENT` names another generation than the live one: open it, replay, switch, and
/// remove the old one after in-flight searches had time to finish.
async fn swap_in_new_generation(
    db: &DatabaseConnection,
    reference: &ReferenceData,
    live: &LiveIndex,
) -> anyhow::Result<()> {
    let Backend::Embedded(store) = live.backend() else {
        return Ok(());
    };
    let Some(pointer) = store.current() else {
        return Ok(());
    };
    if live.generation().as_deref() == Some(pointer.generation.as_str()) {
        return Ok(());
    }
    let index = store.open(&pointer.generation)?;
    let replayed = apply::replay(
        db,
        reference,
        &index,
        pointer.replay_after_id,
        pointer.replay_since,
    )
    .await?;
    store.mark_replayed(&pointer.generation)?;
    live.replace(Arc::new(index), Some(pointer.generation.clone()));
    tracing::info!(
        generation = %pointer.generation,
        documents = pointer.documents,
        replayed,
        "switched to the rebuilt search index"
    );
    let store = store.clone();
    let keep = pointer.generation;
    tokio::spawn(async move {
        // Searches that started on the old index finish in milliseconds; its files are
        // removed after that (on Unix, open files would survive removal anyway).
        tokio::time::sleep(Duration::from_secs(5)).await;
        store.remove_other_generations(&keep);
    });
    Ok(())
}
