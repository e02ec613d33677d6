//! The Meilisearch backend: [`SearchIndex`] over a Meilisearch server through
//! `meilisearch-sdk`, used when `MEILI_URL` is configured (several app servers share it).
//!
//! How the contract of [`super::model`] maps onto Meilisearch:
//! - folding, typo tolerance by word length (1 typo from 5 letters, 2 from 9), the last word as
//!   a prefix, AND of all words (`matchingStrategy: all`) and synonyms are Meilisearch's own
//!   features, configured by [`settings`] at start-up;
//! - ranking: Meilisearch's rules, then `sold_count` and `published_ts` as tie-breakers;
//! - filters are a filter expression over filterable attributes; a certificate's validity on
//!   the query's day is `ocop_stars >= k AND ocop_expires_day >= today`;
//! - facet counts are disjunctive: one multi-search holds the main query and, for each facet
//!   whose own filter is set, the same query without that filter (`limit 0`, facets only);
//!   star buckets depend on the day, so each is a `limit 0` query counting its hits;
//! - `highlighted_name` is built here from the match positions, HTML-escaped, because
//!   Meilisearch's `_formatted` does not escape the text around the tags.
//!
//! Every write task is awaited and its final status checked: `wait_for_completion` returns
//! `Ok` for a task that failed.
//!
//! This module knows the server and the contract only; rebuilding the index from the
//! database ([`MeiliIndex::rebuild`]) lives in [`rebuild`], above the documents and the outbox.
//!
//! Not exercised against a live server in this repository's CI (none is available there): run
//! the conformance suite with `MEILI_URL` set (see the README).

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDate;
use meilisearch_sdk::client::Client;
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::search::{
    SearchQuery as MeiliQuery, SearchResults as MeiliResults, Selectors,
};
use meilisearch_sdk::settings::{MinWordSizeForTypos, Settings, TypoToleranceSettings};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::{Deserialize, Serialize};

use super::model::{
    DEFAULT_SYNONYMS, FacetCount, Facets, MAX_FACET_VALUES, PRICE_RANGES, SearchDocument,
    SearchError, SearchHit, SearchIndex, SearchQuery, SearchResults, SearchSort, parse_synonyms,
    price_range_index,
};
use crate::config::MeilisearchConfig;

mod rebuild;

/// How long a document or delete task may take before it counts as failed.
const TASK_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a settings task may take (it re-indexes everything on a big index).
const SETTINGS_TIMEOUT: Duration = Duration::from_secs(600);
const TASK_POLL: Duration = Duration::from_millis(20);
const PRIMARY_KEY: &str = "product_id";

/// A product as stored in Meilisearch.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MeiliDocument {
    product_id: i64,
    name: String,
    short_name: String,
    description: String,
    category_code: String,
    group_code: String,
    category_name_vi: String,
    category_name_en: String,
    cooperative_id: i64,
    cooperative_name: String,
    province_code: String,
    province_name: String,
    commune_code: String,
    commune_name: String,
    price_vnd: i64,
    /// The [`PRICE_RANGES`] bucket name, as a facet.
    price_range: String,
    /// 0 when the product has no certificate.
    ocop_stars: i16,
    /// Days since 1970-01-01 of the certificate's last valid day (`i32::MAX` when unknown).
    ocop_expires_day: i32,
    in_stock: bool,
    sold_count: i64,
    /// Average review stars in thousandths, 0 without reviews.
    rating_key: i64,
    /// Publication time in microseconds since the epoch.
    published_ts: i64,
}

fn day_number(date: NaiveDate) -> i32 {
    i32::try_from((date - NaiveDate::default()).num_days()).unwrap_or(i32::MAX)
}

impl From<&SearchDocument> for MeiliDocument {
    fn from(doc: &SearchDocument) -> Self {
        Self {
            product_id: doc.product_id,
            name: doc.name.clone(),
            short_name: doc.short_name.clone(),
            description: doc.description.clone(),
            category_code: doc.category_code.clone(),
            group_code: doc.group_code.clone(),
            category_name_vi: doc.category_name_vi.clone(),
            category_name_en: doc.category_name_en.clone(),
            cooperative_id: doc.cooperative_id,
            cooperative_name: doc.cooperative_name.clone(),
            province_code: doc.province_code.clone(),
            province_name: doc.province_name.clone(),
            commune_code: doc.commune_code.clone(),
            commune_name: doc.commune_name.clone(),
            price_vnd: doc.price_vnd,
            price_range: PRICE_RANGES[price_range_index(doc.price_vnd)].0.to_owned(),
            ocop_stars: doc.ocop_stars.unwrap_or(0),
            ocop_expires_day: doc.ocop_expires_on.map_or(i32::MAX, day_number),
            in_stock: doc.in_stock,
            sold_count: doc.sold_count,
            rating_key: doc.rating_key(),
            published_ts: doc.published_at.timestamp_micros(),
        }
    }
}

/// The fields a hit needs back.
#[derive(Debug, Deserialize)]
struct HitFields {
    product_id: i64,
    #[serde(default)]
    name: String,
}

/// The index settings the contract needs; applied at start-up and to a rebuilt index.
pub fn settings() -> Settings {
    let mut synonyms: HashMap<String, Vec<String>> = HashMap::new();
    for group in parse_synonyms(DEFAULT_SYNONYMS) {
        for member in &group {
            let others = group.iter().filter(|m| *m != member).cloned();
            synonyms
                .entry(member.to_lowercase())
                .or_default()
                .extend(others.map(|m| m.to_lowercase()));
        }
    }
    Settings::new()
        .with_searchable_attributes([
            "name",
            "short_name",
            "category_name_vi",
            "category_name_en",
            "cooperative_name",
            "commune_name",
            "province_name",
            "description",
        ])
        .with_filterable_attributes([
            "province_code",
            "commune_code",
            "category_code",
            "group_code",
            "cooperative_id",
            "price_vnd",
            "price_range",
            "ocop_stars",
            "ocop_expires_day",
            "in_stock",
        ])
        .with_sortable_attributes(["price_vnd", "published_ts", "sold_count", "rating_key"])
        .with_ranking_rules([
            "words",
            "typo",
            "proximity",
            "attribute",
            "sort",
            "exactness",
            "sold_count:desc",
            "published_ts:desc",
        ])
        .with_typo_tolerance(TypoToleranceSettings {
            enabled: Some(true),
            disable_on_attributes: None,
            disable_on_words: None,
            min_word_size_for_typos: Some(MinWordSizeForTypos {
                one_typo: Some(5),
                two_typos: Some(9),
            }),
            disable_on_numbers: Some(true),
        })
        .with_synonyms(synonyms)
        .with_max_values_per_facet(MAX_FACET_VALUES)
}

fn backend(error: impl std::fmt::Display) -> SearchError {
    SearchError::Backend(format!("meilisearch: {error}"))
}

/// The Meilisearch products index.
pub struct MeiliIndex {
    client: Client,
    uid: String,
}

impl std::fmt::Debug for MeiliIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeiliIndex")
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

impl MeiliIndex {
    /// Connects, checks the server is up and applies [`settings`] to the index (creating it).
    pub async fn connect(config: &MeilisearchConfig) -> Result<Self, SearchError> {
        Self::connect_to(config, &config.index).await
    }

    /// Like [`Self::connect`] for another index uid on the same server (tests, rebuilds).
    pub async fn connect_to(config: &MeilisearchConfig, uid: &str) -> Result<Self, SearchError> {
        let client = Client::new(
            config.url.clone(),
            config.api_key.as_ref().map(|k| k.expose().to_owned()),
        )
        .map_err(backend)?;
        client.health().await.map_err(backend)?;
        let this = Self {
            client,
            uid: uid.to_owned(),
        };
        let task = this
            .index()
            .set_settings(&settings())
            .await
            .map_err(backend)?;
        this.finish(task, SETTINGS_TIMEOUT).await?;
        Ok(this)
    }

    fn index(&self) -> Index {
        self.client.index(self.uid.clone())
    }

    /// Waits for a task and fails unless it succeeded.
    async fn finish(&self, task: TaskInfo, timeout: Duration) -> Result<(), SearchError> {
        let done = task
            .wait_for_completion(&self.client, Some(TASK_POLL), Some(timeout))
            .await
            .map_err(backend)?;
        match done {
            Task::Succeeded { .. } => Ok(()),
            Task::Failed { content } => Err(backend(format!(
                "task {} failed: {}",
                content.task.uid, content.error
            ))),
            other => Err(backend(format!(
                "task {} did not finish in time",
                other.get_uid()
            ))),
        }
    }

    /// Deletes the index (tests clean up with it).
    pub async fn delete_index(&self) -> Result<(), SearchError> {
        let task = self.client.delete_index(&self.uid).await.map_err(backend)?;
        self.finish(task, TASK_TIMEOUT).await
    }

    fn filter(query: &SearchQuery, skip: Skip) -> Vec<String> {
        let mut parts = Vec::new();
        if skip != Skip::Province
            && let Some(code) = &query.province
        {
            parts.push(format!("province_code = {}", quoted(code)));
        }
        if skip != Skip::Commune
            && let Some(code) = &query.commune
        {
            parts.push(format!("commune_code = {}", quoted(code)));
        }
        if skip != Skip::Category
            && let Some(code) = &query.category
        {
            parts.push(format!(
                "(category_code = {q} OR group_code = {q})",
                q = quoted(code)
            ));
        }
        if skip != Skip::Stars
            && let Some(stars) = query.min_stars
        {
            parts.push(stars_filter(stars, query.today));
        }
        if skip != Skip::Price {
            if let Some(min) = query.min_price {
                parts.push(format!("price_vnd >= {min}"));
            }
            if let Some(max) = query.max_price {
                parts.push(format!("price_vnd <= {max}"));
            }
        }
        if skip != Skip::InStock
            && let Some(in_stock) = query.in_stock
        {
            parts.push(format!("in_stock = {in_stock}"));
        }
        if skip != Skip::Cooperative
            && let Some(id) = query.cooperative_id
        {
            parts.push(format!("cooperative_id = {id}"));
        }
        parts
    }

    fn sort(query: &SearchQuery) -> &'static [&'static str] {
        match query.sort {
            SearchSort::Relevance if query.text.trim().is_empty() => &["published_ts:desc"],
            SearchSort::Relevance => &[],
            SearchSort::PriceAsc => &["price_vnd:asc"],
            SearchSort::PriceDesc => &["price_vnd:desc"],
            SearchSort::Newest => &["published_ts:desc"],
            SearchSort::BestSelling => &["sold_count:desc"],
            SearchSort::Rating => &["rating_key:desc"],
        }
    }
}

/// Which filter a facet query leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    Nothing,
    Province,
    Commune,
    Category,
    Stars,
    Price,
    InStock,
    Cooperative,
}

fn stars_filter(stars: i16, today: NaiveDate) -> String {
    format!(
        "(ocop_stars >= {stars} AND ocop_expires_day >= {})",
        day_number(today)
    )
}

/// A string as a Meilisearch filter value.
fn quoted(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

fn and(parts: &[String]) -> String {
    parts.join(" AND ")
}

fn facet_list(distribution: Option<&HashMap<String, usize>>) -> Vec<FacetCount> {
    let mut list: Vec<FacetCount> = distribution
        .into_iter()
        .flatten()
        .filter(|(_, count)| **count > 0)
        .map(|(value, count)| FacetCount {
            value: value.clone(),
            count: *count as u64,
        })
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    list.truncate(MAX_FACET_VALUES);
    list
}

/// `name` HTML-escaped, with the matched byte ranges wrapped in `<mark>`.
fn highlight(name: &str, ranges: &[(usize, usize)]) -> String {
    let mut ranges: Vec<(usize, usize)> = ranges
        .iter()
        .map(|&(start, len)| (start, (start + len).min(name.len())))
        .filter(|&(start, end)| {
            start < end && name.is_char_boundary(start) && name.is_char_boundary(end)
        })
        .collect();
    ranges.sort_unstable();
    let mut out = String::with_capacity(name.len() + 16);
    let mut at = 0;
    for (start, end) in ranges {
        if start < at {
            continue;
        }
        super::model::escape_html_into(&mut out, &name[at..start]);
        out.push_str("<mark>");
        super::model::escape_html_into(&mut out, &name[start..end]);
        out.push_str("</mark>");
        at = end;
    }
    super::model::escape_html_into(&mut out, &name[at..]);
    out
}

#[async_trait::async_trait]
impl SearchIndex for MeiliIndex {
    async fn upsert(&self, docs: Vec<SearchDocument>) -> Result<(), SearchError> {
        if docs.is_empty() {
            return Ok(());
        }
        let docs: Vec<MeiliDocument> = docs.iter().map(MeiliDocument::from).collect();
        let task = self
            .index()
            .add_or_replace(&docs, Some(PRIMARY_KEY))
            .await
            .map_err(backend)?;
        self.finish(task, TASK_TIMEOUT).await
    }

    async fn delete(&self, product_ids: Vec<i64>) -> Result<(), SearchError> {
        if product_ids.is_empty() {
            return Ok(());
        }
        let task = self
            .index()
            .delete_documents(&product_ids)
            .await
            .map_err(backend)?;
        self.finish(task, TASK_TIMEOUT).await
    }

    async fn refresh(&self) -> Result<(), SearchError> {
        // Every write above already waited for its task: nothing is pending.
        Ok(())
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        query.validate()?;
        let index = self.index();
        let text = query.text.clone();
        let sort = Self::sort(query);
        let main_filter = and(&Self::filter(query, Skip::Nothing));

        // Facets whose own filter is not set are counted on the main query; the others on a
        // query without their filter (disjunctive counts).
        let mut main_facets: Vec<&'static str> = Vec::new();
        let mut side: Vec<(Vec<&'static str>, String)> = Vec::new();
        if query.with_facets {
            let mut facet = |skip: Skip, set: bool, names: &[&'static str]| {
                if set {
                    side.push((names.to_vec(), and(&Self::filter(query, skip))));
                } else {
                    main_facets.extend_from_slice(names);
                }
            };
            facet(Skip::Province, query.province.is_some(), &["province_code"]);
            facet(Skip::Commune, query.commune.is_some(), &["commune_code"]);
            facet(
                Skip::Category,
                query.category.is_some(),
                &["category_code", "group_code"],
            );
            facet(
                Skip::Price,
                query.min_price.is_some() || query.max_price.is_some(),
                &["price_range"],
            );
            facet(Skip::InStock, query.in_stock.is_some(), &["in_stock"]);
            facet(
                Skip::Cooperative,
                query.cooperative_id.is_some(),
                &["cooperative_id"],
            );
        }
        let star_filters: Vec<String> = if query.with_facets {
            let base = Self::filter(query, Skip::Stars);
            (3..=5)
                .map(|k| {
                    let mut parts = base.clone();
                    parts.push(stars_filter(k, query.today));
                    and(&parts)
                })
                .collect()
        } else {
            Vec::new()
        };

        let page = query.page as usize;
        let per_page = query.per_page as usize;
        let mut main = MeiliQuery::new(&index);
        main.with_query(&text)
            .with_page(page)
            .with_hits_per_page(per_page)
            .with_attributes_to_retrieve(Selectors::Some(&["product_id", "name"]))
            .with_show_matches_position(true)
            .with_show_ranking_score(true)
            .with_matching_strategy(meilisearch_sdk::search::MatchingStrategies::ALL);
        if !main_filter.is_empty() {
            main.with_filter(&main_filter);
        }
        if !sort.is_empty() {
            main.with_sort(sort);
        }
        if !main_facets.is_empty() {
            main.with_facets(Selectors::Some(&main_facets));
        }
        let mut multi = self.client.multi_search();
        multi.with_search_query(main);
        for (names, filter) in &side {
            let mut facet_query = MeiliQuery::new(&index);
            facet_query
                .with_query(&text)
                .with_limit(0)
                .with_facets(Selectors::Some(names))
                .with_matching_strategy(meilisearch_sdk::search::MatchingStrategies::ALL);
            if !filter.is_empty() {
                facet_query.with_filter(filter);
            }
            multi.with_search_query(facet_query);
        }
        for filter in &star_filters {
            let mut star_query = MeiliQuery::new(&index);
            star_query
                .with_query(&text)
                .with_page(1)
                .with_hits_per_page(0)
                .with_filter(filter)
                .with_matching_strategy(meilisearch_sdk::search::MatchingStrategies::ALL);
            multi.with_search_query(star_query);
        }
        let response = multi.execute::<HitFields>().await.map_err(classify)?;
        let mut results = response.results.into_iter();
        let main: MeiliResults<HitFields> = results
            .next()
            .ok_or_else(|| backend("multi-search returned no result"))?;
        let total = main.total_hits.unwrap_or(main.hits.len()) as u64;
        let main_distribution = main.facet_distribution;
        let hits = main
            .hits
            .into_iter()
            .map(|hit| {
                let ranges: Vec<(usize, usize)> = hit
                    .matches_position
                    .as_ref()
                    .and_then(|m| m.get("name"))
                    .map(|list| list.iter().map(|r| (r.start, r.length)).collect())
                    .unwrap_or_default();
                SearchHit {
                    product_id: hit.result.product_id,
                    score: hit.ranking_score.unwrap_or(0.0) as f32,
                    highlighted_name: highlight(&hit.result.name, &ranges),
                }
            })
            .collect();
        let facets = if query.with_facets {
            // Each facet's counts come from the main query when its own filter is unset,
            // otherwise from the side query that leaves that filter out.
            let mut distributions: HashMap<String, HashMap<String, usize>> = HashMap::new();
            for (name, distribution) in main_distribution.into_iter().flatten() {
                if main_facets.contains(&name.as_str()) {
                    distributions.insert(name, distribution);
                }
            }
            for (names, _) in &side {
                let result = results
                    .next()
                    .ok_or_else(|| backend("multi-search returned too few results"))?;
                for (name, distribution) in result.facet_distribution.into_iter().flatten() {
                    if names.contains(&name.as_str()) {
                        distributions.insert(name, distribution);
                    }
                }
            }
            let mut stars = Vec::new();
            for k in 3..=5 {
                let result = results
                    .next()
                    .ok_or_else(|| backend("multi-search returned too few results"))?;
                stars.push(FacetCount {
                    value: k.to_string(),
                    count: result.total_hits.unwrap_or(0) as u64,
                });
            }
            let get = |name: &str| distributions.get(name);
            let price = get("price_range");
            Some(Facets {
                provinces: facet_list(get("province_code")),
                communes: facet_list(get("commune_code")),
                categories: facet_list(get("category_code")),
                groups: facet_list(get("group_code")),
                stars,
                price_ranges: PRICE_RANGES
                    .iter()
                    .map(|(name, _, _)| FacetCount {
                        value: (*name).to_owned(),
                        count: price.and_then(|d| d.get(*name)).copied().unwrap_or(0) as u64,
                    })
                    .collect(),
                in_stock: get("in_stock")
                    .and_then(|d| d.get("true"))
                    .copied()
                    .unwrap_or(0) as u64,
                cooperatives: facet_list(get("cooperative_id")),
            })
        } else {
            None
        };
        Ok(SearchResults {
            hits,
            total,
            facets,
        })
    }

    async fn suggest(&self, prefix: &str, limit: usize) -> Result<Vec<String>, SearchError> {
        if prefix.trim().is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let index = self.index();
        let results = MeiliQuery::new(&index)
            .with_query(prefix)
            .with_limit(limit)
            .with_attributes_to_search_on(&["name"])
            .with_attributes_to_retrieve(Selectors::Some(&["product_id", "name"]))
            .execute::<HitFields>()
            .await
            .map_err(backend)?;
        let mut names: Vec<String> = Vec::new();
        for hit in results.hits {
            if !names.contains(&hit.result.name) {
                names.push(hit.result.name);
            }
        }
        Ok(names)
    }

    async fn count(&self) -> Result<u64, SearchError> {
        let stats = self.index().get_stats().await.map_err(backend)?;
        Ok(stats.number_of_documents as u64)
    }
}

/// A Meilisearch error caused by the query is the caller's fault; anything else is the
/// backend's.
fn classify(error: meilisearch_sdk::errors::Error) -> SearchError {
    match &error {
        meilisearch_sdk::errors::Error::Meilisearch(inner)
            if inner.error_type == meilisearch_sdk::errors::ErrorType::InvalidRequest =>
        {
            SearchError::InvalidQuery(inner.error_message.clone())
        }
        _ => backend(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlight_marks_byte_ranges_and_escapes() {
        let name = "Mật ong <bạc hà>";
        assert_eq!(
            highlight(name, &[(0, "Mật".len())]),
            "<mark>Mật</mark> ong &lt;bạc hà&gt;"
        );
        // A range that splits a character is ignored rather than panicking.
        assert_eq!(highlight("Mật", &[(1, 1)]), "Mật");
    }

    #[test]
    fn filters_quote_codes_and_skip_their_own_facet() {
        let mut query = SearchQuery::new("mat ong", NaiveDate::default());
        query.province = Some("15\"x".into());
        query.min_stars = Some(4);
        let all = MeiliIndex::filter(&query, Skip::Nothing);
        assert_eq!(all[0], "province_code = \"15\\\"x\"");
        assert_eq!(all[1], "(ocop_stars >= 4 AND ocop_expires_day >= 0)");
        assert_eq!(MeiliIndex::filter(&query, Skip::Province).len(), 1);
    }

    #[test]
    fn synonyms_map_every_member_to_the_others() {
        let settings = serde_json::to_value(settings()).unwrap();
        let synonyms = settings["synonyms"].as_object().unwrap();
        assert!(!synonyms.is_empty());
        assert!(
            synonyms
                .values()
                .all(|others| others.as_array().is_some_and(|a| !a.is_empty()))
        );
    }
}
