//! Rebuilding the Meilisearch index from the database, while searches keep going to the live
//! one: the Meilisearch counterpart of the embedded index's generations
//! ([`crate::search::generations`]).

use chrono::Utc;
use meilisearch_sdk::client::SwapIndexes;
use sea_orm::ConnectionTrait;

use super::{MeiliIndex, TASK_TIMEOUT, backend};
use crate::config::MeilisearchConfig;
use crate::reference::ReferenceData;
use crate::search::apply;
use crate::search::documents;
use crate::search::outbox;

impl MeiliIndex {
    /// Rebuilds the index from the database: fills a fresh `{uid}_rebuild` index, swaps it
    /// with the live one atomically (Meilisearch's swap), drops the old one, then replays the
    /// changes written while it was being filled. Searches never see a partial index.
    pub async fn rebuild(
        &self,
        config: &MeilisearchConfig,
        db: &impl ConnectionTrait,
        reference: &ReferenceData,
    ) -> anyhow::Result<u64> {
        let started = Utc::now();
        let replay_after_id = outbox::high_water_mark(db).await?;
        let staging = Self::connect_to(config, &format!("{}_rebuild", self.uid)).await?;
        let task = staging
            .index()
            .delete_all_documents()
            .await
            .map_err(backend)?;
        staging.finish(task, TASK_TIMEOUT).await?;
        let count = documents::fill(db, reference, &staging, 5_000).await?;
        let task = self
            .client
            .swap_indexes([&SwapIndexes {
                indexes: (self.uid.clone(), staging.uid.clone()),
                rename: None,
            }])
            .await
            .map_err(backend)?;
        self.finish(task, TASK_TIMEOUT).await?;
        staging.delete_index().await?;
        let replay_since = outbox::replay_window_start(db, started);
        apply::replay(db, reference, self, replay_after_id, replay_since).await?;
        Ok(count)
    }
}
