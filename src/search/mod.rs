//! Catalogue search: one [`model::SearchIndex`] trait, the embedded tantivy backend
//! ([`embedded::EmbeddedIndex`]), and a backend-neutral conformance suite
//! ([`conformance`]) that every backend must pass.
//!
//! Not yet wired into the app: the transactional outbox, the indexer task, the Meilisearch
//! backend and the search pages and API come with the rest of the search issue.

pub mod conformance;
pub mod embedded;
pub mod model;

/// The synonym groups shipped with the app.
pub const SYNONYMS: &str = include_str!("../../assets/search/synonyms.txt");

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_embedded_backend_passes_the_conformance_suite() {
        let index = super::embedded::EmbeddedIndex::in_memory(super::SYNONYMS).unwrap();
        super::conformance::run_all(&index).await;
    }
}
