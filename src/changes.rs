//! What a write changed, told to the read caches that hold it.
//!
//! The caches of product pages and scan pages answer without the database; a write forgets
//! exactly the entries it changed, nothing else, so that a flood of unrelated writes (or of
//! anonymous POSTs) cannot keep every read on the database. Handlers publish a [`Change`] after
//! their transaction commits:
//! - on this app server the entries are forgotten at once, so the writer sees its change;
//! - with Redis (`OCOP_REDIS_URL`) the change also goes to every other app server, which applies
//!   it before its very next cached read (see [`crate::shared`]); without Redis, other servers'
//!   entries expire on their own (a second for products, fifteen for origins, and voided stamps
//!   are watched for every second).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::catalog::cache::ProductCache;
use crate::search::live::LiveIndex;
use crate::trace::origin::TraceCache;

/// One change, as precise as the writer knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", content = "id", rename_all = "snake_case")]
pub enum Change {
    /// A product's details, status, photos, certificate or GTIN.
    Product(i64),
    /// A cooperative's details or status: all its products and batches.
    Cooperative(i64),
    /// A batch's details or trace events.
    Batch(i64),
    /// Stamps were issued (a code once unknown may now exist).
    StampsIssued,
    /// Stamps were voided.
    StampsVoided,
    /// Anything: a server that missed changes forgets every cached entry.
    Everything,
}

/// The caches a change may concern.
pub struct ChangeFeed {
    products: Arc<ProductCache>,
    trace: Arc<TraceCache>,
    search: Arc<LiveIndex>,
    shared: Option<Arc<crate::shared::Shared>>,
}

impl ChangeFeed {
    pub fn new(
        products: Arc<ProductCache>,
        trace: Arc<TraceCache>,
        search: Arc<LiveIndex>,
        shared: Option<Arc<crate::shared::Shared>>,
    ) -> Self {
        Self {
            products,
            trace,
            search,
            shared,
        }
    }

    /// Tells this server's caches, and the other app servers' through Redis, what changed.
    /// Call after the write committed.
    pub async fn publish(&self, changes: &[Change]) {
        self.apply(changes).await;
        if let Some(shared) = &self.shared
            && let Err(err) = shared.publish_changes(changes).await
        {
            // The other servers' entries expire on their own: late, not lost.
            tracing::warn!(error = %err, "telling the other app servers of a change failed");
        }
    }

    /// Forgets what `changes` made stale in this server's caches.
    pub async fn apply(&self, changes: &[Change]) {
        let mut reindex = false;
        for change in changes {
            match *change {
                Change::Product(id) => {
                    self.products.forget_product(id);
                    self.trace.forget_origins_of_product(id);
                    reindex = true;
                }
                Change::Cooperative(id) => {
                    self.products.forget_cooperative(id);
                    self.trace.forget_origins_of_cooperative(id);
                    reindex = true;
                }
                Change::Batch(id) => self.trace.forget_origin(id),
                Change::StampsIssued => self.trace.forget_unknown(),
                Change::StampsVoided => self.trace.forget_voided().await,
                Change::Everything => {
                    self.products.clear();
                    self.trace.forget_everything();
                    reindex = true;
                }
            }
        }
        // The write enqueued its products for search: index them now rather than at the next
        // poll.
        if reindex {
            self.search.wake_indexer();
        }
    }

    /// Applies the changes other app servers published since the last call (nothing to do
    /// without Redis). Called before cached reads, so that the very next request after a write
    /// on another server sees it.
    pub async fn catch_up(&self) {
        if let Some(shared) = &self.shared {
            match shared.changes_since_last::<Change>().await {
                Ok((_, true)) => self.apply(&[Change::Everything]).await,
                Ok((changes, false)) if !changes.is_empty() => self.apply(&changes).await,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "reading other servers' changes failed"),
            }
        }
    }
}

/// Applies other app servers' changes every second, so that caches are current even between
/// requests (only with Redis; the requests themselves catch up first).
pub fn spawn_watch(feed: Arc<ChangeFeed>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if feed.shared.is_none() {
            return;
        }
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            feed.catch_up().await;
        }
    })
}
