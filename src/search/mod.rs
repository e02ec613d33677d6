//! Catalogue search: one [`model::SearchIndex`] trait, the embedded tantivy backend
//! ([`embedded::EmbeddedIndex`], whose tests run the conformance suite in memory and on disk),
//! and a backend-neutral conformance suite ([`conformance`]) that every backend must pass.
//!
//! Not yet wired into the app: the transactional outbox, the indexer task, the Meilisearch
//! backend and the search pages and API come with the rest of the search issue.

pub mod conformance;
pub mod embedded;
pub mod model;
