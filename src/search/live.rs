//! The search index the app uses right now: the embedded index of the live generation, or a
//! Meilisearch client. Held in the app's state (`AppState::search`); the indexer swaps the
//! embedded index when a rebuilt generation is swapped in, and searches in flight keep the
//! index they started with.

use std::sync::{Arc, RwLock};

use sea_orm::ConnectionTrait;
use tokio::sync::Notify;

use super::generations::GenerationStore;
use super::model::{SearchDocument, SearchError, SearchIndex, SearchQuery, SearchResults};
use crate::config::Config;
use crate::reference::ReferenceData;

/// Which backend serves searches.
pub enum Backend {
    /// The embedded tantivy index, in generations under the data directory.
    Embedded(GenerationStore),
    /// A Meilisearch server shared by every app server.
    Meilisearch,
    /// No index opened: command-line tools that do not search.
    Detached,
}

/// The live index, swappable, with the bell that wakes the indexer.
pub struct LiveIndex {
    index: RwLock<Arc<dyn SearchIndex>>,
    generation: RwLock<Option<String>>,
    backend: Backend,
    wake: Notify,
}

impl std::fmt::Debug for LiveIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveIndex")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl LiveIndex {
    /// Opens the configured backend. For the embedded index: the live generation, or (first
    /// start, or an unreadable index) a fresh one built from the database right now — quick
    /// for a small catalogue, and what `reindex` would do for a big one.
    pub async fn open(
        config: &Config,
        db: &impl ConnectionTrait,
        reference: &ReferenceData,
    ) -> anyhow::Result<Self> {
        if let Some(meili) = &config.meilisearch {
            let index = super::meili::MeiliIndex::connect(meili).await?;
            return Ok(Self::with_index(
                Arc::new(index),
                None,
                Backend::Meilisearch,
            ));
        }
        let store = GenerationStore::new(&config.data_dir)?;
        let opened = match store.current() {
            Some(pointer) => match store.open(&pointer.generation) {
                Ok(index) => Some((pointer, index)),
                Err(err) => {
                    tracing::error!(generation = %pointer.generation, error = %err,
                        "the search index cannot be opened; rebuilding it from the database");
                    None
                }
            },
            None => None,
        };
        let (pointer, index) = match opened {
            Some(found) => found,
            None => {
                let report = store.rebuild(db, reference).await?;
                tracing::info!(
                    documents = report.pointer.documents,
                    elapsed_ms = report.elapsed.as_millis() as u64,
                    "built the search index from the database"
                );
                // Nothing else could have written to it: no replay needed.
                store.mark_replayed(&report.pointer.generation)?;
                let index = store.open(&report.pointer.generation)?;
                (report.pointer, index)
            }
        };
        if !store.is_replayed(&pointer.generation) {
            // A rebuild swapped in while no server ran, or a server stopped mid-replay.
            super::apply::replay(
                db,
                reference,
                &index,
                pointer.replay_after_id,
                pointer.replay_since,
            )
            .await?;
            store.mark_replayed(&pointer.generation)?;
        }
        store.remove_other_generations(&pointer.generation);
        Ok(Self::with_index(
            Arc::new(index),
            Some(pointer.generation),
            Backend::Embedded(store),
        ))
    }

    /// No index: for command-line tools that write to the database but never search (their
    /// writes reach the index through the outbox, drained by the server).
    pub fn detached() -> Self {
        Self::with_index(Arc::new(ClosedIndex), None, Backend::Detached)
    }

    /// A live index over any backend (tests give an in-memory one).
    pub fn with_index(
        index: Arc<dyn SearchIndex>,
        generation: Option<String>,
        backend: Backend,
    ) -> Self {
        Self {
            index: RwLock::new(index),
            generation: RwLock::new(generation),
            backend,
            wake: Notify::new(),
        }
    }

    /// The index to search now.
    pub fn current(&self) -> Arc<dyn SearchIndex> {
        match self.index.read() {
            Ok(index) => index.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The live embedded generation, if any.
    pub fn generation(&self) -> Option<String> {
        match self.generation.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Switches searches to another index (a rebuilt generation).
    pub fn replace(&self, index: Arc<dyn SearchIndex>, generation: Option<String>) {
        match self.index.write() {
            Ok(mut slot) => *slot = index,
            Err(poisoned) => *poisoned.into_inner() = index,
        }
        match self.generation.write() {
            Ok(mut slot) => *slot = generation,
            Err(poisoned) => *poisoned.into_inner() = generation,
        }
    }

    /// Releases the index (its files and writer lock) once the server has stopped: later calls
    /// fail with a backend error instead of touching a closed index.
    pub fn close(&self) {
        self.replace(Arc::new(ClosedIndex), None);
    }

    /// Wakes the indexer: something was just written to the outbox.
    pub fn wake_indexer(&self) {
        self.wake.notify_one();
    }

    /// Resolves when [`Self::wake_indexer`] was called (once per call, at most one stored).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Searches the live index.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        self.current().search(query).await
    }

    /// Name suggestions from the live index.
    pub async fn suggest(&self, prefix: &str, limit: usize) -> Result<Vec<String>, SearchError> {
        self.current().suggest(prefix, limit).await
    }
}

/// Stands in for the index after [`LiveIndex::close`].
struct ClosedIndex;

fn closed() -> SearchError {
    SearchError::Backend("the search index is closed".into())
}

#[async_trait::async_trait]
impl SearchIndex for ClosedIndex {
    async fn upsert(&self, _: Vec<SearchDocument>) -> Result<(), SearchError> {
        Err(closed())
    }
    async fn delete(&self, _: Vec<i64>) -> Result<(), SearchError> {
        Err(closed())
    }
    async fn refresh(&self) -> Result<(), SearchError> {
        Err(closed())
    }
    async fn search(&self, _: &SearchQuery) -> Result<SearchResults, SearchError> {
        Err(closed())
    }
    async fn suggest(&self, _: &str, _: usize) -> Result<Vec<String>, SearchError> {
        Err(closed())
    }
    async fn count(&self) -> Result<u64, SearchError> {
        Err(closed())
    }
}
