//! The suite's state and the helpers every check uses: run a query, record a failure, expect
//! ids among the hits or not.

use super::fixtures::{documents, today};
use crate::search::model::{SearchDocument, SearchIndex, SearchQuery, SearchResults};

/// The index under test, the fixed documents, and the failed checks so far.
pub(super) struct Suite<'a> {
    pub(super) index: &'a dyn SearchIndex,
    pub(super) docs: Vec<SearchDocument>,
    pub(super) failures: Vec<String>,
}

impl<'a> Suite<'a> {
    /// A suite over `index` with the fixed documents, before seeding.
    pub(super) fn new(index: &'a dyn SearchIndex) -> Self {
        Self {
            index,
            docs: documents(),
            failures: Vec::new(),
        }
    }
}

pub(super) fn query(text: &str) -> SearchQuery {
    SearchQuery::new(text, today())
}

pub(super) fn browse() -> SearchQuery {
    let mut query = query("");
    query.per_page = 100;
    query
}

pub(super) fn ids(results: &SearchResults) -> Vec<i64> {
    results.hits.iter().map(|hit| hit.product_id).collect()
}

impl Suite<'_> {
    pub(super) fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(what());
        }
    }

    pub(super) fn doc(&self, id: i64) -> Option<&SearchDocument> {
        self.docs.iter().find(|doc| doc.product_id == id)
    }

    pub(super) async fn search(&mut self, query: &SearchQuery) -> SearchResults {
        match self.index.search(query).await {
            Ok(results) => results,
            Err(error) => {
                self.failures
                    .push(format!("search {:?} failed: {error}", query.text));
                SearchResults {
                    hits: Vec::new(),
                    total: 0,
                    facets: None,
                }
            }
        }
    }

    pub(super) async fn text(&mut self, text: &str) -> SearchResults {
        let mut query = query(text);
        query.per_page = 100;
        self.search(&query).await
    }

    /// Checks that `text` finds every id of `expected` among its hits.
    pub(super) async fn finds(&mut self, text: &str, expected: &[i64]) {
        let results = self.text(text).await;
        let found = ids(&results);
        for id in expected {
            self.check(found.contains(id), || {
                format!("{text:?} should find product {id}; found {found:?}")
            });
        }
    }

    /// Checks that `text` finds none of `unexpected`.
    pub(super) async fn misses(&mut self, text: &str, unexpected: &[i64]) {
        let results = self.text(text).await;
        let found = ids(&results);
        for id in unexpected {
            self.check(!found.contains(id), || {
                format!("{text:?} should not find product {id}; found {found:?}")
            });
        }
    }

    pub(super) async fn seed(&mut self) {
        if let Err(error) = self.index.upsert(self.docs.clone()).await {
            self.failures
                .push(format!("upsert of the fixed documents failed: {error}"));
        }
        if let Err(error) = self.index.refresh().await {
            self.failures.push(format!("refresh failed: {error}"));
        }
        let expected = self.docs.len() as u64;
        match self.index.count().await {
            Ok(count) => self.check(count == expected, || {
                format!("count() should be {expected} after seeding an empty index, is {count}")
            }),
            Err(error) => self.failures.push(format!("count failed: {error}")),
        }
    }
}
