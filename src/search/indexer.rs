//! The indexer: a background task that brings the live index up to date with the outbox.
//!
//! It runs in every app server (the server starts it beside the HTTP listener). Each round it
//! 1. swaps in a rebuilt generation if `ocop-market reindex` wrote a new pointer (embedded
//!    backend; see [`super::generations`]),
//! 2. takes outbox rows in batches, reads the products' current state, upserts the listed ones
//!    and deletes the others, refreshes the index, and only then records the progress — so a
//!    crash at any point leaves the rows to be done again (indexing is idempotent),
//! 3. on failure counts the attempt and retries the rows later with exponential backoff.
//!
//! **Which rows.** The servers share a Meilisearch index, so they share the rows: each row is
//! claimed by one server. Each server's embedded index is its own, so each server follows the
//! whole outbox with its own position ([`super::follow`]): every index sees every change, and
//! rows are still marked processed (by whichever server gets there first) for the purge.
//!
//! Freshness: a local write wakes it at once ([`LiveIndex::wake_indexer`], called by the change
//! feed); writes by other processes are seen by polling every `search_poll_interval` (200 ms by
//! default). A change is searchable well within a second on every server.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::apply;
use super::follow::{Follower, Position};
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
    let mut follower = match live.backend() {
        Backend::Embedded(store) => Some(start_following(&db, store, &live, settings).await),
        Backend::Meilisearch | Backend::Detached => None,
    };
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        if *stopped.borrow() {
            return;
        }
        match swap_in_new_generation(&db, &reference, &live).await {
            Ok(Some(pointer)) => {
                follower = Some(Follower::new(
                    Position::at(pointer.replay_after_id),
                    db.get_database_backend(),
                    settings.delay,
                ));
            }
            Ok(None) => {}
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "cannot switch to the rebuilt search index");
            }
        }
        if let Some(follower) = follower.as_mut() {
            if retry_at.is_none_or(|at| tokio::time::Instant::now() >= at) {
                retry_at = follow_once(&db, &reference, &live, settings, follower).await;
            }
        } else {
            drain_claimed(&db, &reference, &live, settings, &stopped).await;
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

/// Where this server's embedded index takes up the outbox: where it saved its position, or
/// right after the rows its generation was built or replayed from.
async fn start_following(
    db: &DatabaseConnection,
    store: &super::generations::GenerationStore,
    live: &LiveIndex,
    settings: IndexerSettings,
) -> Follower {
    let backend = db.get_database_backend();
    let generation = live.generation().unwrap_or_default();
    let saved = store.position(&generation);
    let position = match (saved, store.current()) {
        (Some(saved), _) => saved,
        (None, Some(pointer)) => {
            let after =
                super::follow::start_after(db, pointer.replay_after_id, pointer.replay_since)
                    .await
                    .unwrap_or(pointer.replay_after_id);
            Position::at(after)
        }
        (None, None) => Position::at(0),
    };
    Follower::new(position, backend, settings.delay)
}

/// Follows the outbox as far as it goes now; on failure, when to try again.
async fn follow_once(
    db: &DatabaseConnection,
    reference: &ReferenceData,
    live: &LiveIndex,
    settings: IndexerSettings,
    follower: &mut Follower,
) -> Option<tokio::time::Instant> {
    let due_before = Utc::now()
        - chrono::Duration::from_std(settings.delay).unwrap_or_else(|_| chrono::Duration::zero());
    let mut failures = 0;
    loop {
        let reading = match follower.read(db, settings.batch_size, due_before).await {
            Ok(reading) => reading,
            Err(err) => {
                tracing::warn!(error = %err, "reading the search outbox failed");
                return Some(tokio::time::Instant::now() + outbox::backoff(1));
            }
        };
        if !follower.moves(&reading) {
            return None;
        }
        let full = reading.rows.len() as u64 >= settings.batch_size;
        let index = live.current();
        if !reading.rows.is_empty()
            && let Err(err) = apply_rows(db, reference, index.as_ref(), &reading.rows).await
        {
            failures += 1;
            let _ = record_failure(db, &reading.rows, &err).await;
            return Some(tokio::time::Instant::now() + outbox::backoff(failures));
        }
        let processed: Vec<i64> = ids_of(&reading.rows);
        follower.advance(reading);
        if let (Backend::Embedded(store), Some(generation)) = (live.backend(), live.generation())
            && let Err(err) = store.save_position(&generation, follower.position())
        {
            tracing::warn!(error = %err, "saving the search position failed");
        }
        // For the purge (and the pending count): the first server to index a row marks it.
        if let Err(err) = outbox::mark_processed(db, &processed, Utc::now()).await {
            tracing::warn!(error = %err, "marking outbox rows processed failed");
        }
        if !full {
            return None;
        }
    }
}

/// Claims and applies batches until the due rows run out (the Meilisearch backend).
async fn drain_claimed(
    db: &DatabaseConnection,
    reference: &ReferenceData,
    live: &LiveIndex,
    settings: IndexerSettings,
    stopped: &watch::Receiver<bool>,
) {
    loop {
        match drain_once(db, reference, live, settings).await {
            Ok(claimed) if claimed as u64 >= settings.batch_size && !*stopped.borrow() => {}
            Ok(_) => return,
            Err(err) => {
                tracing::warn!(error = %err, "reading the search outbox failed");
                return;
            }
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
) -> anyhow::Result<Option<super::generations::GenerationPointer>> {
    let Backend::Embedded(store) = live.backend() else {
        return Ok(None);
    };
    let Some(pointer) = store.current() else {
        return Ok(None);
    };
    if live.generation().as_deref() == Some(pointer.generation.as_str()) {
        return Ok(None);
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
    let keep = pointer.generation.clone();
    tokio::spawn(async move {
        // Searches that started on the old index finish in milliseconds; its files are
        // removed after that (on Unix, open files would survive removal anyway).
        tokio::time::sleep(Duration::from_secs(5)).await;
        store.remove_other_generations(&keep);
    });
    Ok(Some(pointer))
}
