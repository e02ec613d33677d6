//! Backend-neutral conformance suite for [`SearchIndex`] implementations.
//!
//! It seeds a fixed set of realistic OCOP products of Lào Cai and Sơn La through the trait,
//! then checks the contract documented in [`super::model`]: folding, typos, prefixes,
//! synonyms, ranking, every filter, disjunctive facet counts (against a reference computed
//! here from the documents), sorting, paging, highlighting, suggestions, deletes and upserts.
//!
//! Run it from a test against a fresh, empty index built with
//! [`super::model::DEFAULT_SYNONYMS`]:
//!
//! ```ignore
//! #[tokio::test]
//! async fn embedded_index_conforms() {
//!     let index = EmbeddedIndex::in_memory(DEFAULT_SYNONYMS).unwrap();
//!     conformance::run_all(&index).await;
//! }
//! ```
//!
//! [`run_all`] panics with every failed check listed; [`run`] returns them instead. The
//! suite changes the index (it deletes and renames products at the end), so give it an index
//! of its own.
//!
//! Test code, left out of the production build: it is compiled for the library's own tests
//! and, through the `conformance` feature (which the crate's dev-dependency on itself turns
//! on), for the integration tests.

use super::model::SearchIndex;

pub use self::fixtures::{documents, today};
use self::suite::Suite;

mod filters;
mod fixtures;
mod results;
mod suite;
mod text;

/// Runs every check against `index` (which must be empty and use the project's synonyms)
/// and panics listing the checks that failed.
pub async fn run_all(index: &dyn SearchIndex) {
    let failures = run(index).await;
    assert!(
        failures.is_empty(),
        "{} search conformance check(s) failed:\n- {}",
        failures.len(),
        failures.join("\n- ")
    );
}

/// Runs every check against `index` (which must be empty and use the project's synonyms)
/// and returns a description of each failed check.
pub async fn run(index: &dyn SearchIndex) -> Vec<String> {
    let mut suite = Suite::new(index);
    suite.seed().await;
    if suite.failures.is_empty() {
        suite.matching().await;
        suite.typos().await;
        suite.ranking().await;
        suite.synonyms().await;
        suite.filters().await;
        suite.facets().await;
        suite.sorting_and_paging().await;
        suite.highlighting().await;
        suite.suggestions().await;
        suite.bad_input().await;
        suite.deletes_and_upserts().await;
    }
    suite.failures
}
