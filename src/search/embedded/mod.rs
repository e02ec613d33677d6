//! The embedded search backend: a tantivy index in the app's own process.
//!
//! One [`IndexWriter`] behind a mutex takes every write; searches read the last committed
//! state through a manually reloaded reader, so a change shows once [`SearchIndex::refresh`]
//! has run. All CPU work runs on tokio's blocking pool.
//!
//! The parts, from the bottom up:
//! - `analysis`: NFC, folding, the indexing and query analyzers, typo budgets;
//! - `schema`: the fields, and how a document is written into them;
//! - `scoring`: the match kinds and their scores, and the bulk evaluation of a text query;
//! - `query`: from query text to a plan (words, prefixes, typos, synonyms) and a text query,
//!   and the highlighting of names;
//! - `segments`: the per-segment table that filters, facets and sorting read;
//! - `facets`: disjunctive facet counts;
//! - `collector`: the one pass that filters, counts facets and keeps the top hits.

use std::collections::HashSet;
use std::fmt::Display;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use tantivy::directory::MmapDirectory;
use tantivy::query::{AllQuery, Query};
use tantivy::schema::Value;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term,
};

use self::analysis::{Analysis, EXACT_TOKENIZER, FOLD_TOKENIZER, exact_analyzer, fold_analyzer};
use self::collector::{FilterSpec, SearchCollector};
use self::facets::FacetAccumulator;
use self::query::{QueryBuilder, Scope};
use self::schema::{Fields, build_schema, day_number};
use self::segments::SegmentCache;
use super::model::{
    SearchDocument, SearchError, SearchHit, SearchIndex, SearchQuery, SearchResults, SearchSort,
};

mod analysis;
mod collector;
mod facets;
mod query;
mod schema;
mod scoring;
mod segments;

/// Indexing threads: one indexes 100,000 products in about 2 s into a single segment and
/// leaves the other core of a small server to searches.
const WRITER_THREADS: usize = 1;
/// Writer memory budget of an on-disk index.
const WRITER_MEMORY_BYTES: usize = 50_000_000;
/// Writer memory budget of an in-memory (test) index: tantivy's minimum for one thread.
const IN_MEMORY_WRITER_BYTES: usize = 15_000_000;
/// Most suggestions one call returns.
const MAX_SUGGESTIONS: usize = 50;

fn backend(error: impl Display) -> SearchError {
    SearchError::Backend(error.to_string())
}

fn poisoned<T>(_: PoisonError<T>) -> SearchError {
    SearchError::Backend("search index lock poisoned by an earlier panic".into())
}

/// The single writer, and the ids it added since its last commit.
struct WriterState {
    writer: IndexWriter,
    pending: HashSet<i64>,
}

/// The index, its writer and reader, and the query side (analysis, synonyms, caches).
struct Engine {
    index: Index,
    reader: IndexReader,
    writer: Mutex<WriterState>,
    fields: Fields,
    queries: QueryBuilder,
    segments: Arc<SegmentCache>,
}

impl Engine {
    fn new(index: Index, synonyms: &str, memory: usize) -> Result<Self, SearchError> {
        let (schema, fields) = build_schema();
        if index.schema() != schema {
            return Err(SearchError::Backend(
                "the search index on disk has another schema; delete it and rebuild".into(),
            ));
        }
        index.tokenizers().register(FOLD_TOKENIZER, fold_analyzer());
        index
            .tokenizers()
            .register(EXACT_TOKENIZER, exact_analyzer());
        let writer = index
            .writer_with_num_threads(WRITER_THREADS, memory)
            .map_err(backend)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(backend)?;
        let queries = QueryBuilder::new(fields, synonyms);
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(WriterState {
                writer,
                pending: HashSet::new(),
            }),
            fields,
            queries,
            segments: Arc::new(SegmentCache::default()),
        })
    }

    fn stored_name(&self, searcher: &Searcher, address: DocAddress) -> Result<String, SearchError> {
        let doc: TantivyDocument = searcher.doc(address).map_err(backend)?;
        Ok(doc
            .get_first(self.fields.name)
            .and_then(|value| value.as_str())
            .unwrap_or_default()
            .to_owned())
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        query.validate()?;
        let mut analysis = Analysis::new();
        let plan = self.queries.plan(&query.text, Scope::All, &mut analysis);
        let searcher = self.reader.searcher();
        let tantivy_query: Box<dyn Query> = if plan.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(self.queries.text_query(&plan, Scope::All))
        };
        let sort = match query.sort {
            SearchSort::Relevance if plan.is_empty() => SearchSort::Newest,
            sort => sort,
        };
        let per_page = query.per_page as usize;
        let offset = (query.page as usize - 1).saturating_mul(per_page);
        let collector = SearchCollector {
            filters: FilterSpec {
                province: query.province.clone(),
                commune: query.commune.clone(),
                category: query.category.clone(),
                min_stars: query
                    .min_stars
                    .map(|stars| u8::try_from(stars).unwrap_or(0)),
                min_price: query.min_price,
                max_price: query.max_price,
                in_stock: query.in_stock,
                cooperative: query.cooperative_id.map(|id| id.to_string()),
                today: day_number(query.today),
            },
            sort,
            scored: !plan.is_empty(),
            wanted: offset.saturating_add(per_page),
            with_facets: query.with_facets,
            segments: Arc::clone(&self.segments),
        };
        let found = searcher
            .search(tantivy_query.as_ref(), &collector)
            .map_err(backend)?;
        let mut hits = Vec::new();
        for (key, address, score) in found.top.into_iter().skip(offset).take(per_page) {
            // The sort key ends with the negated product id.
            let product_id = key[3].saturating_neg();
            let name = self.stored_name(&searcher, address)?;
            hits.push(SearchHit {
                product_id,
                score,
                highlighted_name: plan.highlight(&name, &mut analysis),
            });
        }
        Ok(SearchResults {
            hits,
            total: found.total,
            facets: found.facets.map(FacetAccumulator::into_facets),
        })
    }

    fn suggest(&self, prefix: &str, limit: usize) -> Result<Vec<String>, SearchError> {
        let limit = limit.min(MAX_SUGGESTIONS);
        let mut analysis = Analysis::new();
        let plan = self.queries.plan(prefix, Scope::Name, &mut analysis);
        if plan.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let collector = SearchCollector {
            filters: FilterSpec::none(),
            sort: SearchSort::Relevance,
            scored: true,
            // Several products share a name (one per cooperative or pack size).
            wanted: limit.saturating_mul(4),
            with_facets: false,
            segments: Arc::clone(&self.segments),
        };
        let found = searcher
            .search(&self.queries.text_query(&plan, Scope::Name), &collector)
            .map_err(backend)?;
        let mut names: Vec<String> = Vec::new();
        for (_, address, _) in found.top {
            let name = self.stored_name(&searcher, address)?;
            if !names.contains(&name) {
                names.push(name);
                if names.len() == limit {
                    break;
                }
            }
        }
        Ok(names)
    }

    fn upsert(&self, docs: &[SearchDocument]) -> Result<(), SearchError> {
        let mut state = self.writer.lock().map_err(poisoned)?;
        // Every searcher is at the last commit: refresh reloads under this same lock.
        let searcher = self.reader.searcher();
        for doc in docs {
            let id = Term::from_field_i64(self.fields.product_id, doc.product_id);
            // A delete is queued only when there may be something to replace: tantivy keeps
            // every queued delete in memory until the commit (about 1 KB each), which would
            // more than double the memory of a full rebuild.
            if state.pending.contains(&doc.product_id)
                || searcher.doc_freq(&id).map_err(backend)? > 0
            {
                state.writer.delete_term(id);
            }
            state
                .writer
                .add_document(self.fields.document(doc))
                .map_err(backend)?;
            state.pending.insert(doc.product_id);
        }
        Ok(())
    }

    fn delete(&self, ids: &[i64]) -> Result<(), SearchError> {
        let state = self.writer.lock().map_err(poisoned)?;
        for &id in ids {
            state
                .writer
                .delete_term(Term::from_field_i64(self.fields.product_id, id));
        }
        Ok(())
    }

    fn refresh(&self) -> Result<(), SearchError> {
        let mut state = self.writer.lock().map_err(poisoned)?;
        state.writer.commit().map_err(backend)?;
        self.reader.reload().map_err(backend)?;
        state.pending.clear();
        drop(state);
        // Loads new segments now rather than in the next search.
        self.segments
            .refresh(&self.reader.searcher())
            .map_err(backend)
    }
}

/// The embedded tantivy search index. Cheap to clone (clones share the index).
#[derive(Clone)]
pub struct EmbeddedIndex {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for EmbeddedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIndex")
            .field("index", &self.engine.index)
            .finish_non_exhaustive()
    }
}

impl EmbeddedIndex {
    /// Creates an index in `dir` (which must exist), or opens the one there. `synonyms` is
    /// the text of a synonyms file (see [`super::model::parse_synonyms`]). An index built
    /// with another schema is refused: delete the directory and rebuild from the database.
    pub fn open(dir: &Path, synonyms: &str) -> Result<Self, SearchError> {
        let (schema, _) = build_schema();
        let directory = MmapDirectory::open(dir).map_err(backend)?;
        let index = Index::open_or_create(directory, schema).map_err(backend)?;
        Ok(Self {
            engine: Arc::new(Engine::new(index, synonyms, WRITER_MEMORY_BYTES)?),
        })
    }

    /// An empty index held in memory, for tests.
    pub fn in_memory(synonyms: &str) -> Result<Self, SearchError> {
        let (schema, _) = build_schema();
        let index = Index::create_in_ram(schema);
        Ok(Self {
            engine: Arc::new(Engine::new(index, synonyms, IN_MEMORY_WRITER_BYTES)?),
        })
    }

    /// Number of segments searches currently go through (for diagnostics).
    pub fn segment_count(&self) -> usize {
        self.engine.reader.searcher().segment_readers().len()
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, SearchError>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> Result<T, SearchError> + Send + 'static,
    {
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || work(&engine))
            .await
            .map_err(|error| SearchError::Backend(format!("search task failed: {error}")))?
    }
}

#[async_trait::async_trait]
impl SearchIndex for EmbeddedIndex {
    async fn upsert(&self, docs: Vec<SearchDocument>) -> Result<(), SearchError> {
        self.blocking(move |engine| engine.upsert(&docs)).await
    }

    async fn delete(&self, product_ids: Vec<i64>) -> Result<(), SearchError> {
        self.blocking(move |engine| engine.delete(&product_ids))
            .await
    }

    async fn refresh(&self) -> Result<(), SearchError> {
        self.blocking(Engine::refresh).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        let query = query.clone();
        self.blocking(move |engine| engine.search(&query)).await
    }

    async fn suggest(&self, prefix: &str, limit: usize) -> Result<Vec<String>, SearchError> {
        let prefix = prefix.to_owned();
        self.blocking(move |engine| engine.suggest(&prefix, limit))
            .await
    }

    async fn count(&self) -> Result<u64, SearchError> {
        self.blocking(|engine| Ok(engine.reader.searcher().num_docs()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::super::model::DEFAULT_SYNONYMS;
    use super::*;

    #[tokio::test]
    async fn in_memory_index_passes_the_conformance_suite() {
        let index = EmbeddedIndex::in_memory(DEFAULT_SYNONYMS).unwrap();
        conformance::run_all(&index).await;
    }

    #[tokio::test]
    async fn on_disk_index_passes_the_conformance_suite_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let index = EmbeddedIndex::open(dir.path(), DEFAULT_SYNONYMS).unwrap();
        conformance::run_all(&index).await;
        let count = index.count().await.unwrap();
        drop(index);
        let reopened = EmbeddedIndex::open(dir.path(), DEFAULT_SYNONYMS).unwrap();
        assert_eq!(reopened.count().await.unwrap(), count);
        let results = reopened
            .search(&SearchQuery::new("mat ong", conformance::today()))
            .await
            .unwrap();
        assert!(results.hits.iter().any(|hit| hit.product_id == 101));
    }

    #[test]
    fn highlight_escapes_html() {
        let mut out = String::new();
        crate::search::model::escape_html_into(&mut out, "<b>&\"'");
        assert_eq!(out, "&lt;b&gt;&amp;&quot;&#39;");
    }
}
