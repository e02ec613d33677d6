//! Backend-neutral catalogue search: the documents the app feeds in, the queries it asks,
//! the results it gets back, and the [`SearchIndex`] trait every backend implements
//! (the embedded tantivy index in [`super::embedded`], later a Meilisearch client).
//!
//! The contract below is what the conformance suite (`search::conformance`) checks; a backend
//! that passes the suite can replace another without the pages noticing.
//!
//! # Query semantics (the contract)
//!
//! - Text is NFC-normalised; matching ignores case and Vietnamese diacritics (`đ` counts as
//!   `d`), so "mat ong" finds "Mật ong" and "duong phen" finds "Đường phèn".
//! - Every query word must match (AND), in any searchable field: name, short name,
//!   description, category names (Vietnamese and English), cooperative, commune and province
//!   names. At most the first [`MAX_QUERY_WORDS`] words count.
//! - Typos are tolerated by word length, as Meilisearch does: none under 5 letters, one from 5,
//!   two from 9; a typo on the first letter counts twice.
//! - The last word also matches as a prefix (results as you type) unless the text ends with
//!   a space.
//! - Synonym groups (see [`parse_synonyms`] and `assets/search/synonyms.txt`) expand a query
//!   word or phrase to the other members of its groups.
//! - Empty text (or text without any word) browses: every document matching the filters.
//! - Relevance: a match in the name beats one elsewhere; when the query word carries tone
//!   marks, a name word with the same marks beats one without ("đường" ranks "Đường phèn"
//!   above "Dương …"); exact words beat prefixes, which beat typos; the query as a phrase in
//!   the name earns a bonus. Equal relevance is broken by `sold_count`, then by newest.
//!
//! # Facets
//!
//! Facet counts are **disjunctive**: the counts of one facet are computed with every filter
//! applied except the filters on that facet itself (so choosing a province still shows how
//! many results each other province would give). The filter that each facet ignores:
//!
//! | facet | ignores |
//! | --- | --- |
//! | `provinces` | `province` |
//! | `communes` | `commune` |
//! | `categories`, `groups` | `category` |
//! | `stars` | `min_stars` |
//! | `price_ranges` | `min_price`, `max_price` |
//! | `in_stock` | `in_stock` |
//! | `cooperatives` | `cooperative_id` |
//!
//! Values are codes (province, commune, category and group codes; cooperative ids in decimal),
//! never display names. `stars` and `price_ranges` always list all their buckets in a fixed
//! order, zero counts included; the other lists hold only values with a non-zero count,
//! by decreasing count then increasing value, at most [`MAX_FACET_VALUES`] of them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Words of a query text beyond this many are ignored (Meilisearch does the same).
pub const MAX_QUERY_WORDS: usize = 10;

/// Longest list a facet returns (Meilisearch's default `maxValuesPerFacet`).
pub const MAX_FACET_VALUES: usize = 100;

/// Largest `per_page` a query may ask for.
pub const MAX_PER_PAGE: u32 = 100;

/// The project's synonym groups, `assets/search/synonyms.txt`; parse with [`parse_synonyms`].
pub const DEFAULT_SYNONYMS: &str = include_str!("../../assets/search/synonyms.txt");

/// The price buckets of [`Facets::price_ranges`], as `(value, from, to)`: `from <= price < to`,
/// the last one open-ended.
pub const PRICE_RANGES: [(&str, i64, Option<i64>); 4] = [
    ("0-100000", 0, Some(100_000)),
    ("100000-300000", 100_000, Some(300_000)),
    ("300000-1000000", 300_000, Some(1_000_000)),
    ("1000000-", 1_000_000, None),
];

/// One product as search sees it (built by the app from the database).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchDocument {
    /// The product's id; upserting the same id replaces the document.
    pub product_id: i64,
    /// Full product name, shown in results and highlighted.
    pub name: String,
    /// Short name (label or card title).
    pub short_name: String,
    /// Plain-text description.
    pub description: String,
    /// OCOP category code, e.g. `food-tea`.
    pub category_code: String,
    /// OCOP product group code, e.g. `food`.
    pub group_code: String,
    /// Category name in Vietnamese, e.g. "Chè".
    pub category_name_vi: String,
    /// Category name in English, e.g. "Tea".
    pub category_name_en: String,
    /// The selling cooperative's id.
    pub cooperative_id: i64,
    /// The selling cooperative's name.
    pub cooperative_name: String,
    /// Statistics office province code, e.g. `15` (Lào Cai).
    pub province_code: String,
    /// Province name, e.g. "Tỉnh Lào Cai".
    pub province_name: String,
    /// Statistics office commune code, e.g. `02923`.
    pub commune_code: String,
    /// Commune name, e.g. "Xã Gia Phú".
    pub commune_name: String,
    /// Price in đồng.
    pub price_vnd: i64,
    /// Stars of the product's OCOP certificate, if it has one.
    pub ocop_stars: Option<i16>,
    /// Last day the certificate is valid; `None` with stars means no known end.
    pub ocop_expires_on: Option<NaiveDate>,
    /// Whether the product can be ordered now.
    pub in_stock: bool,
    /// Units sold, for ranking.
    pub sold_count: i64,
    /// When the product was published, for "newest".
    pub published_at: DateTime<Utc>,
    /// Stars of the product's visible reviews, summed, and how many there are.
    #[serde(default)]
    pub rating_sum: i64,
    #[serde(default)]
    pub rating_count: i64,
}

impl SearchDocument {
    /// The average stars in thousandths (4.5 → 4500), 0 without reviews: the "rating" sort key.
    pub fn rating_key(&self) -> i64 {
        if self.rating_count > 0 {
            self.rating_sum.saturating_mul(1000) / self.rating_count
        } else {
            0
        }
    }
}

/// Order of the results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    /// Best text match first (ties: most sold, then newest); newest first when browsing.
    #[default]
    Relevance,
    /// Cheapest first.
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// Most recently published first.
    Newest,
    /// Most sold first.
    BestSelling,
    /// Best average review first (products without reviews last).
    Rating,
}

/// A search or browse request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// What the shopper typed; may be empty (browse with filters).
    pub text: String,
    /// Province code filter.
    pub province: Option<String>,
    /// Commune code filter.
    pub commune: Option<String>,
    /// A category code, or a group code (= any of its categories).
    pub category: Option<String>,
    /// 1 to 5: a certificate valid on `today` with at least these stars.
    pub min_stars: Option<i16>,
    /// Lowest price, inclusive.
    pub min_price: Option<i64>,
    /// Highest price, inclusive.
    pub max_price: Option<i64>,
    /// Only products in stock (`true`) or out of stock (`false`).
    pub in_stock: Option<bool>,
    /// Only this cooperative's products.
    pub cooperative_id: Option<i64>,
    /// Order of the hits.
    pub sort: SearchSort,
    /// Page number, from 1.
    pub page: u32,
    /// Hits per page, 1 to [`MAX_PER_PAGE`].
    pub per_page: u32,
    /// Whether to compute [`Facets`].
    pub with_facets: bool,
    /// The day certificates are checked against.
    pub today: NaiveDate,
}

impl SearchQuery {
    /// A first page of 20 hits by relevance for `text`, without filters or facets.
    pub fn new(text: impl Into<String>, today: NaiveDate) -> Self {
        Self {
            text: text.into(),
            province: None,
            commune: None,
            category: None,
            min_stars: None,
            min_price: None,
            max_price: None,
            in_stock: None,
            cooperative_id: None,
            sort: SearchSort::Relevance,
            page: 1,
            per_page: 20,
            with_facets: false,
            today,
        }
    }

    /// Checks the paging and star bounds; backends call this before searching.
    pub fn validate(&self) -> Result<(), SearchError> {
        if self.page == 0 {
            return Err(SearchError::InvalidQuery("page starts at 1".into()));
        }
        if self.per_page == 0 || self.per_page > MAX_PER_PAGE {
            return Err(SearchError::InvalidQuery(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        if let Some(stars) = self.min_stars
            && !(1..=5).contains(&stars)
        {
            return Err(SearchError::InvalidQuery(
                "min_stars must be between 1 and 5".into(),
            ));
        }
        Ok(())
    }
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The product's id.
    pub product_id: i64,
    /// Backend-specific relevance; only its order within one response means anything.
    pub score: f32,
    /// Name with matched words wrapped in `<mark>…</mark>`, HTML-escaped otherwise.
    pub highlighted_name: String,
}

/// One facet value and how many results have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    /// A code, an id in decimal, or a bucket name.
    pub value: String,
    /// Number of matching documents.
    pub count: u64,
}

/// Facet counts of a search (disjunctive; see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facets {
    /// By province code.
    pub provinces: Vec<FacetCount>,
    /// By commune code.
    pub communes: Vec<FacetCount>,
    /// By category code.
    pub categories: Vec<FacetCount>,
    /// By group code.
    pub groups: Vec<FacetCount>,
    /// Values `"3"`, `"4"`, `"5"`: certificates valid on `today` with 3★ or more, 4★ or more,
    /// 5★.
    pub stars: Vec<FacetCount>,
    /// The [`PRICE_RANGES`] buckets, in that order.
    pub price_ranges: Vec<FacetCount>,
    /// How many results are in stock.
    pub in_stock: u64,
    /// By cooperative id (in decimal).
    pub cooperatives: Vec<FacetCount>,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// The requested page of hits.
    pub hits: Vec<SearchHit>,
    /// Exact number of documents matching the query and filters.
    pub total: u64,
    /// Facet counts, when asked for.
    pub facets: Option<Facets>,
}

/// Why a search backend call failed. User input never panics; it may give `InvalidQuery`.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query's paging or bounds are out of range.
    #[error("invalid search query: {0}")]
    InvalidQuery(String),
    /// The backend failed (I/O, corrupt index, unreachable server, …).
    #[error("search backend error: {0}")]
    Backend(String),
}

/// A catalogue search index.
#[async_trait::async_trait]
pub trait SearchIndex: Send + Sync {
    /// Adds or replaces documents (by product_id).
    async fn upsert(&self, docs: Vec<SearchDocument>) -> Result<(), SearchError>;
    /// Removes documents by product id; unknown ids are ignored.
    async fn delete(&self, product_ids: Vec<i64>) -> Result<(), SearchError>;
    /// Makes every accepted change visible to searches (commit + reload); a no-op where a backend does it itself.
    async fn refresh(&self) -> Result<(), SearchError>;
    /// Runs a search or browse.
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError>;
    /// Prefix suggestions for the search box (names), at most `limit`.
    async fn suggest(&self, prefix: &str, limit: usize) -> Result<Vec<String>, SearchError>;
    /// Number of searchable documents.
    async fn count(&self) -> Result<u64, SearchError>;
}

/// Parses synonym groups: one group per line, members separated by commas, `#` starts a
/// comment line, blank lines are skipped. Members are trimmed; groups with fewer than two
/// members are dropped.
pub fn parse_synonyms(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            line.split(',')
                .map(str::trim)
                .filter(|member| !member.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|group| group.len() >= 2)
        .collect()
}

/// The [`PRICE_RANGES`] bucket a price falls in (prices below 0 count in the first).
pub fn price_range_index(price_vnd: i64) -> usize {
    PRICE_RANGES
        .iter()
        .rposition(|(_, from, _)| price_vnd >= *from)
        .unwrap_or(0)
}

/// Whether a document's certificate is valid on `today` with at least `min_stars`.
pub fn has_valid_stars(
    stars: Option<i16>,
    expires_on: Option<NaiveDate>,
    min_stars: i16,
    today: NaiveDate,
) -> bool {
    match stars {
        Some(stars) => stars >= min_stars && expires_on.is_none_or(|end| end >= today),
        None => false,
    }
}

/// Appends `text` HTML-escaped (for highlighted names, which carry `<mark>` tags).
pub(crate) fn escape_html_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

impl From<SearchError> for crate::error::AppError {
    fn from(err: crate::search::model::SearchError) -> Self {
        match err {
            SearchError::InvalidQuery(message) => {
                Self::bad_request("invalid_search_query", message)
            }
            SearchError::Backend(cause) => {
                // The cause stays in the log; the client learns only that search is down.
                tracing::error!(error = %cause, "search backend error");
                Self::SearchUnavailable
            }
        }
    }
}
