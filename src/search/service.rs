//! Searching the catalogue for shoppers: parse the request, ask the live index, and turn hits
//! into product summaries read from the database. The `/search` page and
//! `GET /api/v1/search` both call [`search`].

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::live::LiveIndex;
use super::model::{Facets, MAX_PER_PAGE, SearchQuery, SearchSort};
use crate::catalog::params::QueryChecker;
use crate::catalog::views::ProductSummary;
use crate::entities::{cooperatives, products};
use crate::error::AppResult;
use crate::i18n::Lang;
use crate::reference::ReferenceData;

/// Longest query text kept (longer input is cut, not refused: the index reads at most ten
/// words anyway).
pub const MAX_TEXT_CHARS: usize = 200;
/// Deepest page served: deep paging costs the index and no shopper reads page 500.
pub const MAX_PAGE: u32 = 500;
/// Default hits per page.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// Suggestions returned while typing.
pub const SUGGESTION_LIMIT: usize = 8;
/// Hits shown from a relaxed query when the real one found nothing.
const RELAXED_HITS: u32 = 6;
/// Relaxed searches tried at most when a search finds nothing.
const MAX_FALLBACK_TRIES: usize = 3;

/// A search as query parameters (page and API). Every value arrives as text and is checked
/// here, so a bad value is a 400 that names the field rather than a generic rejection.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What the shopper typed, e.g. `mat ong`. Diacritics optional, typos tolerated, the last
    /// word matches as a prefix. Empty: browse with the filters.
    pub q: Option<String>,
    /// Province code, e.g. `15`.
    pub province: Option<String>,
    /// Commune code, e.g. `02923`.
    pub commune: Option<String>,
    /// OCOP category code (`food-tea`) or group code (`food`).
    pub category: Option<String>,
    /// Minimum OCOP stars of a valid certificate, 1 to 5.
    pub min_stars: Option<String>,
    /// Lowest price in đồng.
    pub min_price: Option<String>,
    /// Highest price in đồng.
    pub max_price: Option<String>,
    /// `true`: only products in stock; `false`: only sold-out ones.
    pub in_stock: Option<String>,
    /// Only this cooperative's products (its id).
    pub cooperative: Option<String>,
    /// `relevance` (default), `price_asc`, `price_desc`, `newest`, `best_selling` or `rating`.
    pub sort: Option<String>,
    /// Page number, from 1.
    pub page: Option<String>,
    /// Hits per page, 1 to 100 (default 20).
    pub per_page: Option<String>,
    /// `false` to skip the facet counts (faster).
    pub facets: Option<String>,
}

/// Sort names as they appear in URLs.
pub fn sort_name(sort: SearchSort) -> &'static str {
    match sort {
        SearchSort::Relevance => "relevance",
        SearchSort::PriceAsc => "price_asc",
        SearchSort::PriceDesc => "price_desc",
        SearchSort::Newest => "newest",
        SearchSort::BestSelling => "best_selling",
        SearchSort::Rating => "rating",
    }
}

/// Every sort, in the order the page lists them.
pub const SORTS: [SearchSort; 6] = [
    SearchSort::Relevance,
    SearchSort::PriceAsc,
    SearchSort::PriceDesc,
    SearchSort::Newest,
    SearchSort::BestSelling,
    SearchSort::Rating,
];

impl SearchParams {
    /// Checks every parameter; all refused fields are named at once (400).
    pub fn parse(&self, reference: &ReferenceData, today: NaiveDate) -> AppResult<SearchQuery> {
        let mut check = QueryChecker::new(reference);
        let text: String = self
            .q
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_TEXT_CHARS)
            .collect();
        let mut query = SearchQuery::new(text, today);
        query.province = check.province(&self.province);
        query.commune = check.commune(&self.commune);
        // The index keeps each product's category and group, so the code is matched as given.
        query.category = check.category(&self.category).map(|c| c.code);
        query.min_stars = check.stars("min_stars", &self.min_stars, 1..=5);
        (query.min_price, query.max_price) = check.price_range(&self.min_price, &self.max_price);
        query.in_stock = check.boolean("in_stock", &self.in_stock);
        query.cooperative_id = check.number(
            "cooperative",
            &self.cooperative,
            1..=i64::MAX,
            "invalid_cooperative",
            "a cooperative id",
        );
        let sorts = SORTS.map(|sort| (sort_name(sort), sort));
        if let Some(sort) = check.choice("sort", &self.sort, &sorts, "invalid_sort") {
            query.sort = sort;
        }
        query.page = check.page(&self.page, MAX_PAGE);
        query.per_page = check.per_page(&self.per_page, MAX_PER_PAGE, DEFAULT_PER_PAGE);
        // Facets are on unless the request turns them off.
        query.with_facets = check.boolean("facets", &self.facets).unwrap_or(true);
        check.finish()?;
        Ok(query)
    }
}

/// What to offer when a search found nothing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Fallback {
    /// `without_filters` (the same words, no filter) or `fewer_words` (one word left out).
    pub kind: String,
    /// The query text of the relaxed search.
    pub text: String,
    /// How many products it finds.
    pub total: u64,
    /// Its first products (with `highlighted_name`).
    pub hits: Vec<ProductSummary>,
}

/// A page of search results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchPageView {
    /// The products of this page, best first, each with `highlighted_name`.
    pub hits: Vec<ProductSummary>,
    /// Products matching the query and filters.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub has_more: bool,
    /// Disjunctive facet counts (values are codes; see the API description).
    #[schema(value_type = Option<Object>)]
    pub facets: Option<Facets>,
    /// Only when nothing was found: a relaxed search that finds something.
    pub fallback: Option<Fallback>,
    /// Only when nothing was found: product names close to what was typed.
    pub suggestions: Vec<String>,
}

/// Runs a search and reads the hits' products from the database, in the index's order. Hits
/// the index still holds but the catalogue no longer lists (the indexer lags by a fraction of
/// a second) are left out.
pub async fn search(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    index: &LiveIndex,
    query: &SearchQuery,
    lang: Lang,
) -> AppResult<SearchPageView> {
    let results = index.search(query).await?;
    let hits = hit_views(db, reference, &results.hits, lang, query.today).await?;
    let seen = u64::from(query.page - 1) * u64::from(query.per_page) + results.hits.len() as u64;
    let mut view = SearchPageView {
        hits,
        total: results.total,
        page: query.page,
        per_page: query.per_page,
        has_more: seen < results.total,
        facets: results.facets,
        fallback: None,
        suggestions: Vec::new(),
    };
    if results.total == 0 {
        view.fallback = fallback(db, reference, index, query, lang).await?;
        if !query.text.trim().is_empty() {
            view.suggestions = index
                .suggest(query.text.trim(), SUGGESTION_LIMIT)
                .await
                .unwrap_or_default();
        }
    }
    Ok(view)
}

/// Whether a query has any filter set.
pub fn has_filters(query: &SearchQuery) -> bool {
    query.province.is_some()
        || query.commune.is_some()
        || query.category.is_some()
        || query.min_stars.is_some()
        || query.min_price.is_some()
        || query.max_price.is_some()
        || query.in_stock.is_some()
        || query.cooperative_id.is_some()
}

/// The nearest search that finds something: the same words without filters, else (without
/// filters) the words with one of them left out, the last one first (most often the typo or
/// the word still being typed). At most [`MAX_FALLBACK_TRIES`] searches.
async fn fallback(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    index: &LiveIndex,
    query: &SearchQuery,
    lang: Lang,
) -> AppResult<Option<Fallback>> {
    let mut candidates = Vec::new();
    if has_filters(query) {
        candidates.push(("without_filters", query.text.clone()));
    }
    let words: Vec<&str> = query.text.split_whitespace().collect();
    if words.len() > 1 {
        for left_out in (0..words.len()).rev() {
            let text = words
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != left_out)
                .map(|(_, w)| *w)
                .collect::<Vec<_>>()
                .join(" ");
            candidates.push(("fewer_words", text));
        }
    }
    candidates.truncate(MAX_FALLBACK_TRIES);
    for (kind, text) in candidates {
        let mut relaxed = SearchQuery::new(text.clone(), query.today);
        relaxed.per_page = RELAXED_HITS;
        let results = index.search(&relaxed).await?;
        if results.total > 0 {
            return Ok(Some(Fallback {
                kind: kind.to_owned(),
                text,
                total: results.total,
                hits: hit_views(db, reference, &results.hits, lang, query.today).await?,
            }));
        }
    }
    Ok(None)
}

async fn hit_views(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    hits: &[super::model::SearchHit],
    lang: Lang,
    today: NaiveDate,
) -> AppResult<Vec<ProductSummary>> {
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    // One query (products joined with their cooperatives) per page of hits: this read is most
    // of a search's cost after the index itself.
    let rows = products::Entity::find()
        .filter(products::Column::Id.is_in(hits.iter().map(|h| h.product_id)))
        .filter(products::Column::Listed.eq(true))
        .find_also_related(cooperatives::Entity)
        .all(db)
        .await?;
    Ok(hits
        .iter()
        .filter_map(|hit| {
            let (product, coop) = rows.iter().find(|(p, _)| p.id == hit.product_id)?;
            let mut summary = ProductSummary::new(product, coop.as_ref()?, reference, lang, today);
            summary.highlighted_name = Some(hit.highlighted_name.clone());
            Some(summary)
        })
        .collect())
}

/// Suggestions for the search box while typing: product names starting like `text`.
pub async fn suggestions(index: &LiveIndex, text: &str) -> AppResult<Vec<String>> {
    let text: String = text.chars().filter(|c| !c.is_control()).take(100).collect();
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    Ok(index.suggest(&text, SUGGESTION_LIMIT).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    fn params(pairs: &[(&str, &str)]) -> SearchParams {
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        serde_urlencoded_like(&query)
    }

    fn serde_urlencoded_like(query: &str) -> SearchParams {
        let mut p = SearchParams::default();
        for pair in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = Some(v.to_owned());
            match k {
                "q" => p.q = v,
                "min_stars" => p.min_stars = v,
                "per_page" => p.per_page = v,
                "page" => p.page = v,
                "sort" => p.sort = v,
                "min_price" => p.min_price = v,
                "max_price" => p.max_price = v,
                "province" => p.province = v,
                _ => {}
            }
        }
        p
    }

    fn fields(err: AppError) -> Vec<String> {
        match err {
            AppError::InvalidParameters(errors) => errors.iter().map(|e| e.field.clone()).collect(),
            other => panic!("expected invalid parameters, got {other:?}"),
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        let reference = ReferenceData::embedded();
        let today = NaiveDate::default();
        for (pairs, field) in [
            (vec![("per_page", "0")], "per_page"),
            (vec![("per_page", "1000")], "per_page"),
            (vec![("page", "0")], "page"),
            (vec![("min_stars", "9")], "min_stars"),
            (vec![("sort", "cheapest")], "sort"),
            (vec![("min_price", "abc")], "min_price"),
            (vec![("province", "99x")], "province"),
        ] {
            let err = params(&pairs).parse(&reference, today).unwrap_err();
            assert_eq!(fields(err), vec![field.to_owned()], "{pairs:?}");
        }
        let query = params(&[
            ("q", "mat ong"),
            ("sort", "best_selling"),
            ("min_stars", "4"),
        ])
        .parse(&reference, today)
        .unwrap();
        assert_eq!(query.text, "mat ong");
        assert_eq!(query.sort, SearchSort::BestSelling);
        assert_eq!(query.min_stars, Some(4));
        assert_eq!((query.page, query.per_page), (1, DEFAULT_PER_PAGE));
    }
}
