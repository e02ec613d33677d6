//! The `/search` page: results, facets as plain links with counts, removable filters, sort
//! links and pages. Works without JavaScript; the header's search box on every page submits
//! here.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::model::{FacetCount, PRICE_RANGES, SearchQuery, SearchSort};
use super::service::{
    self, DEFAULT_PER_PAGE, Fallback, SORTS, SearchPageView, SearchParams, sort_name,
};
use crate::AppState;
use crate::clock::today_in_vietnam;
use crate::entities::cooperatives;
use crate::error::AppResult;
use crate::http::extract::ApiQuery;
use crate::http::page::{PageContext, render, urlencode};
use crate::reference::ReferenceData;

pub fn page_routes() -> Router<AppState> {
    Router::new().route("/search", get(search_page))
}

/// Values shown per facet; the rest are reachable by typing more precise words.
const FACET_VALUES_SHOWN: usize = 8;

/// One facet value as a link.
struct FacetLink {
    label: String,
    count: u64,
    href: String,
    active: bool,
}

/// One facet: a heading (message key) and its links.
struct FacetGroup {
    title_key: &'static str,
    links: Vec<FacetLink>,
}

/// A filter in force, with the link that removes it.
struct ActiveFilter {
    label: String,
    remove_href: String,
}

/// A sort option as a link.
struct SortLink {
    label_key: &'static str,
    href: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "search/results.html")]
struct SearchPage {
    ctx: PageContext,
    query: SearchQuery,
    view: SearchPageView,
    facets: Vec<FacetGroup>,
    active: Vec<ActiveFilter>,
    sorts: Vec<SortLink>,
    clear_href: String,
    prev_href: Option<String>,
    next_href: Option<String>,
    fallback_href: Option<String>,
    results_text: String,
}

impl SearchPage {
    fn suggestion_href(&self, text: &str) -> String {
        format!("/search?q={}", urlencode(text))
    }

    fn no_results_text(&self) -> String {
        self.ctx
            .t
            .format("search.no_results", &[("q", self.query.text.trim())])
    }

    fn fallback_title(&self, fallback: &Fallback) -> String {
        let count = fallback.total.to_string();
        if fallback.kind == "without_filters" {
            self.ctx
                .t
                .format("search.without_filters", &[("count", &count)])
        } else {
            self.ctx.t.format(
                "search.fewer_words",
                &[("count", &count), ("q", &fallback.text)],
            )
        }
    }
}

/// The query string of a search, without defaults.
fn href(query: &SearchQuery) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if !query.text.trim().is_empty() {
        pairs.push(("q", query.text.clone()));
    }
    let optional: [(&str, Option<String>); 8] = [
        ("province", query.province.clone()),
        ("commune", query.commune.clone()),
        ("category", query.category.clone()),
        ("min_stars", query.min_stars.map(|s| s.to_string())),
        ("min_price", query.min_price.map(|p| p.to_string())),
        ("max_price", query.max_price.map(|p| p.to_string())),
        ("in_stock", query.in_stock.map(|b| b.to_string())),
        ("cooperative", query.cooperative_id.map(|id| id.to_string())),
    ];
    pairs.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    if query.sort != SearchSort::Relevance {
        pairs.push(("sort", sort_name(query.sort).to_owned()));
    }
    if query.page > 1 {
        pairs.push(("page", query.page.to_string()));
    }
    if query.per_page != DEFAULT_PER_PAGE {
        pairs.push(("per_page", query.per_page.to_string()));
    }
    if pairs.is_empty() {
        return "/search".to_owned();
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    format!("/search?{}", encoded.join("&"))
}

/// The link for the current search changed by `change`, back on page 1.
fn changed(query: &SearchQuery, change: impl FnOnce(&mut SearchQuery)) -> String {
    let mut next = query.clone();
    next.page = 1;
    change(&mut next);
    href(&next)
}

fn price_label_key(value: &str) -> &'static str {
    match PRICE_RANGES.iter().position(|(name, _, _)| *name == value) {
        Some(0) => "search.price_0",
        Some(1) => "search.price_1",
        Some(2) => "search.price_2",
        _ => "search.price_3",
    }
}

async fn search_page(
    State(state): State<AppState>,
    ctx: PageContext,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> AppResult<Response> {
    let query = params.parse(&state.reference, today_in_vietnam())?;
    let mut view =
        service::search(&state.db, &state.reference, &state.search, &query, ctx.lang).await?;
    crate::trace::recalls::mark_recalled(&state.db, &mut view.hits).await?;
    if let Some(fallback) = view.fallback.as_mut() {
        crate::trace::recalls::mark_recalled(&state.db, &mut fallback.hits).await?;
    }
    let reference = &state.reference;
    let t = ctx.t;

    // Names of the cooperatives a facet or filter mentions.
    let mut coop_ids: Vec<i64> = view
        .facets
        .iter()
        .flat_map(|f| f.cooperatives.iter().take(FACET_VALUES_SHOWN))
        .filter_map(|c| c.value.parse().ok())
        .chain(query.cooperative_id)
        .collect();
    coop_ids.sort_unstable();
    coop_ids.dedup();
    let coop_names: Vec<(i64, String)> = cooperatives::Entity::find()
        .filter(cooperatives::Column::Id.is_in(coop_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let coop_name = |id: i64| {
        coop_names
            .iter()
            .find(|(cid, _)| *cid == id)
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| format!("#{id}"))
    };
    let province_name = |code: &str| {
        reference
            .province(code)
            .map(|p| p.short_name.clone())
            .unwrap_or_else(|| code.to_owned())
    };
    let commune_name = |code: &str| {
        reference
            .commune(code)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| code.to_owned())
    };
    let category_name = |code: &str| category_label(reference, code, ctx.lang);
    let stars_label = |stars: i16| t.get(stars_key(stars)).to_owned();

    let mut facets = Vec::new();
    if let Some(f) = &view.facets {
        let list = |values: &[FacetCount],
                    label: &dyn Fn(&str) -> String,
                    active: &dyn Fn(&str) -> bool,
                    apply: &dyn Fn(&mut SearchQuery, &str)| {
            values
                .iter()
                .filter(|v| v.count > 0)
                .take(FACET_VALUES_SHOWN)
                .map(|v| FacetLink {
                    label: label(&v.value),
                    count: v.count,
                    href: changed(&query, |q| apply(q, &v.value)),
                    active: active(&v.value),
                })
                .collect::<Vec<_>>()
        };
        facets.push(FacetGroup {
            title_key: "search.province",
            links: list(
                &f.provinces,
                &province_name,
                &|v| query.province.as_deref() == Some(v),
                &|q, v| {
                    q.province = Some(v.to_owned());
                    q.commune = None;
                },
            ),
        });
        facets.push(FacetGroup {
            title_key: "search.commune",
            links: list(
                &f.communes,
                &commune_name,
                &|v| query.commune.as_deref() == Some(v),
                &|q, v| q.commune = Some(v.to_owned()),
            ),
        });
        facets.push(FacetGroup {
            title_key: "search.category",
            links: list(
                &f.categories,
                &category_name,
                &|v| query.category.as_deref() == Some(v),
                &|q, v| q.category = Some(v.to_owned()),
            ),
        });
        facets.push(FacetGroup {
            title_key: "search.stars",
            links: list(
                &f.stars,
                &|v| stars_label(v.parse().unwrap_or(3)),
                &|v| query.min_stars.map(|s| s.to_string()).as_deref() == Some(v),
                &|q, v| q.min_stars = v.parse().ok(),
            ),
        });
        facets.push(FacetGroup {
            title_key: "search.price",
            links: list(
                &f.price_ranges,
                &|v| t.get(price_label_key(v)).to_owned(),
                &|v| {
                    PRICE_RANGES.iter().any(|(name, from, to)| {
                        *name == v
                            && query.min_price == Some(*from)
                            && query.max_price == to.map(|to| to - 1)
                    })
                },
                &|q, v| {
                    if let Some((_, from, to)) = PRICE_RANGES.iter().find(|(n, _, _)| *n == v) {
                        q.min_price = Some(*from);
                        q.max_price = to.map(|to| to - 1);
                    }
                },
            ),
        });
        let in_stock = [FacetCount {
            value: "true".into(),
            count: f.in_stock,
        }];
        facets.push(FacetGroup {
            title_key: "search.availability",
            links: list(
                &in_stock,
                &|_| t.get("search.in_stock").to_owned(),
                &|_| query.in_stock == Some(true),
                &|q, _| q.in_stock = Some(true),
            ),
        });
        facets.push(FacetGroup {
            title_key: "search.cooperative",
            links: list(
                &f.cooperatives,
                &|v| coop_name(v.parse().unwrap_or(0)),
                &|v| query.cooperative_id.map(|id| id.to_string()).as_deref() == Some(v),
                &|q, v| q.cooperative_id = v.parse().ok(),
            ),
        });
        facets.retain(|group| !group.links.is_empty());
    }

    let mut active = Vec::new();
    let mut add = |label: String, change: &dyn Fn(&mut SearchQuery)| {
        active.push(ActiveFilter {
            label,
            remove_href: changed(&query, change),
        });
    };
    if let Some(code) = &query.province {
        add(province_name(code), &|q| {
            q.province = None;
            q.commune = None;
        });
    }
    if let Some(code) = &query.commune {
        add(commune_name(code), &|q| q.commune = None);
    }
    if let Some(code) = &query.category {
        add(category_name(code), &|q| q.category = None);
    }
    if let Some(stars) = query.min_stars {
        add(stars_label(stars), &|q| q.min_stars = None);
    }
    if query.min_price.is_some() || query.max_price.is_some() {
        let label = format!(
            "{} – {}",
            query
                .min_price
                .map(|p| crate::domain::Money::from_dong(p).to_string())
                .unwrap_or_default(),
            query
                .max_price
                .map(|p| crate::domain::Money::from_dong(p).to_string())
                .unwrap_or_default()
        );
        add(label, &|q| {
            q.min_price = None;
            q.max_price = None;
        });
    }
    if let Some(in_stock) = query.in_stock {
        let key = if in_stock {
            "search.in_stock"
        } else {
            "search.sold_out"
        };
        add(t.get(key).to_owned(), &|q| q.in_stock = None);
    }
    if let Some(id) = query.cooperative_id {
        add(coop_name(id), &|q| q.cooperative_id = None);
    }

    let sorts = SORTS
        .iter()
        .map(|sort| SortLink {
            label_key: match sort {
                SearchSort::Relevance => "search.sort_relevance",
                SearchSort::PriceAsc => "search.sort_price_asc",
                SearchSort::PriceDesc => "search.sort_price_desc",
                SearchSort::Newest => "search.sort_newest",
                SearchSort::BestSelling => "search.sort_best_selling",
                SearchSort::Rating => "search.sort_rating",
            },
            href: changed(&query, |q| q.sort = *sort),
            active: query.sort == *sort,
        })
        .collect();
    let clear_href = changed(&query, |q| {
        let text = std::mem::take(&mut q.text);
        *q = SearchQuery::new(text, q.today);
    });
    let prev_href = (query.page > 1).then(|| {
        let mut q = query.clone();
        q.page -= 1;
        href(&q)
    });
    let next_href = view.has_more.then(|| {
        let mut q = query.clone();
        q.page += 1;
        href(&q)
    });
    let fallback_href = view.fallback.as_ref().map(|f| {
        if f.kind == "without_filters" {
            clear_href.clone()
        } else {
            changed(&query, |q| q.text = f.text.clone())
        }
    });
    let count = view.total.to_string();
    let results_text = if query.text.trim().is_empty() {
        t.format("search.results", &[("count", &count)])
    } else {
        t.format(
            "search.results_for",
            &[("count", &count), ("q", query.text.trim())],
        )
    };
    render(&SearchPage {
        ctx,
        query,
        view,
        facets,
        active,
        sorts,
        clear_href,
        prev_href,
        next_href,
        fallback_href,
        results_text,
    })
}

fn stars_key(stars: i16) -> &'static str {
    match stars {
        5 => "search.stars_5",
        4 => "search.stars_4",
        _ => "search.stars_3",
    }
}

fn category_label(reference: &ReferenceData, code: &str, lang: crate::i18n::Lang) -> String {
    if let Some(category) = reference.category(code) {
        return category.name(lang).to_owned();
    }
    reference
        .groups
        .iter()
        .find(|g| g.code == code)
        .map(|g| g.name(lang).to_owned())
        .unwrap_or_else(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_search_and_drop_defaults() {
        let mut query = SearchQuery::new("mật ong", chrono::NaiveDate::default());
        query.province = Some("15".into());
        query.page = 3;
        assert_eq!(
            href(&query),
            "/search?q=m%E1%BA%ADt%20ong&province=15&page=3"
        );
        assert_eq!(
            changed(&query, |q| q.sort = SearchSort::PriceAsc),
            "/search?q=m%E1%BA%ADt%20ong&province=15&sort=price_asc"
        );
        assert_eq!(
            href(&SearchQuery::new("", chrono::NaiveDate::default())),
            "/search"
        );
    }
}
