//! The public shop: home, product list, product and cooperative pages.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::AppState;
use crate::catalog::cooperatives;
use crate::catalog::products::{self, ProductFilter, ProductListParams};
use crate::catalog::views::{CooperativeView, Paged, ProductDetail, ProductSummary};
use crate::clock::today_in_vietnam;
use crate::error::AppResult;
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::page::{PageContext, render, urlencode};
use crate::reference::{CategoryGroup, Province};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/products", get(product_list))
        .route("/products/{slug}", get(product_page))
        .route("/cooperatives/{slug}", get(cooperative_page))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: PageContext,
    newest: Vec<ProductSummary>,
    provinces: Vec<(Province, i64)>,
    groups: Vec<CategoryGroup>,
}

async fn home(State(state): State<AppState>, ctx: PageContext) -> AppResult<Response> {
    let filter = ProductFilter {
        page: 1,
        per_page: 12,
        ..Default::default()
    };
    let mut newest = products::list_public(
        &state.db,
        &state.reference,
        &filter,
        ctx.lang,
        today_in_vietnam(),
    )
    .await?
    .items;
    crate::trace::recalls::mark_recalled(&state.db, &mut newest).await?;
    let mut provinces: Vec<(Province, i64)> = state
        .product_cache
        .public_counts_by_province(&state.db)
        .await?
        .iter()
        .filter_map(|(code, count)| state.reference.province(code).map(|p| (p.clone(), *count)))
        .collect();
    provinces.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    render(&HomePage {
        ctx,
        newest,
        provinces,
        groups: state.reference.groups.clone(),
    })
}

#[derive(Template)]
#[template(path = "products/list.html")]
struct ProductListPage {
    ctx: PageContext,
    page: Paged<ProductSummary>,
    filter: ProductFilter,
    provinces: Vec<Province>,
    groups: Vec<CategoryGroup>,
    /// Query string of the current filters without `page`, for pagination links.
    base_query: String,
}

impl ProductListPage {
    fn page_href(&self, page: u64) -> String {
        if self.base_query.is_empty() {
            format!("/products?page={page}")
        } else {
            format!("/products?{}&page={page}", self.base_query)
        }
    }

    fn selected(&self, value: &Option<String>, option: &str) -> bool {
        value.as_deref() == Some(option)
    }

    fn min_price_text(&self) -> String {
        self.filter
            .min_price
            .map(|v| v.to_string())
            .unwrap_or_default()
    }

    fn max_price_text(&self) -> String {
        self.filter
            .max_price
            .map(|v| v.to_string())
            .unwrap_or_default()
    }
}

fn filter_query(filter: &ProductFilter) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &filter.province {
        parts.push(format!("province={}", urlencode(v)));
    }
    if let Some(v) = &filter.commune {
        parts.push(format!("commune={}", urlencode(v)));
    }
    if let Some(v) = &filter.category {
        parts.push(format!("category={}", urlencode(v)));
    }
    if let Some(v) = filter.min_stars {
        parts.push(format!("stars={v}"));
    }
    if let Some(v) = filter.min_price {
        parts.push(format!("min_price={v}"));
    }
    if let Some(v) = filter.max_price {
        parts.push(format!("max_price={v}"));
    }
    if filter.sort != Default::default() {
        parts.push(format!("sort={}", filter.sort.as_str()));
    }
    parts.join("&")
}

async fn product_list(
    State(state): State<AppState>,
    ctx: PageContext,
    ApiQuery(params): ApiQuery<ProductListParams>,
) -> AppResult<Response> {
    let filter = params.parse(&state.reference)?;
    let mut page = products::list_public(
        &state.db,
        &state.reference,
        &filter,
        ctx.lang,
        today_in_vietnam(),
    )
    .await?;
    crate::trace::recalls::mark_recalled(&state.db, &mut page.items).await?;
    render(&ProductListPage {
        ctx,
        page,
        base_query: filter_query(&filter),
        filter,
        provinces: state.reference.provinces.clone(),
        groups: state.reference.groups.clone(),
    })
}

#[derive(Template)]
#[template(path = "products/show.html")]
struct ProductPage {
    ctx: PageContext,
    product: ProductDetail,
    /// The size asked for (`?variant=`, as a GS1 Digital Link of a size's GTIN sends it).
    chosen_variant: Option<i64>,
    /// The product's recent batches, from the scan page's origin data (no stamp codes).
    origins: Vec<std::sync::Arc<crate::trace::origin::OriginView>>,
    reviews: crate::reviews::ReviewPage,
    /// Whether the viewer may answer reviews (a member of the selling cooperative).
    can_answer: bool,
    notice: Option<&'static str>,
    /// An open recall of one of the product's lots: shown instead of the buy button.
    recall: Option<crate::trace::scans::RecallNotice>,
}

impl ProductPage {
    fn recall_date(&self, recall: &crate::trace::scans::RecallNotice) -> String {
        let date = crate::clock::to_vietnam_time(recall.recalled_at)
            .format("%d/%m/%Y")
            .to_string();
        self.ctx
            .t
            .format("product.recalled_text", &[("date", &date)])
    }
}

impl ProductPage {
    /// Whether the size `id` is the one chosen when the page opens: the size asked for when it
    /// is in stock, else the first size in stock.
    fn is_picked(&self, id: &i64) -> bool {
        let asked = self.chosen_variant.filter(|c| {
            self.product
                .variants
                .iter()
                .any(|v| v.id == *c && v.stock_quantity > 0)
        });
        match asked {
            Some(chosen) => chosen == *id,
            None => self.product.is_first_pick(id),
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ProductPageQuery {
    /// The size to choose, if it is in stock.
    variant: Option<i64>,
    reported: Option<String>,
    answered: Option<String>,
    hidden: Option<String>,
}

async fn product_page(
    State(state): State<AppState>,
    ctx: PageContext,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(query): ApiQuery<ProductPageQuery>,
) -> AppResult<Response> {
    state.changes.catch_up().await;
    let record = state.product_cache.public_by_slug(&state.db, &slug).await?;
    let product = record.detail(&state.reference, ctx.lang);
    let origins = crate::trace::origin::recent_of_product(
        &state.trace_cache,
        &state.db,
        &state.reference,
        record.product.id,
    )
    .await?;
    // Read each time, not cached: a recall must show on every app server at once.
    let recall = crate::trace::recalls::open_of_product(&state.db, record.product.id).await?;
    let reviews = crate::reviews::visible_of_product(&state.db, record.product.id, 1).await?;
    let can_answer = match &ctx.user {
        Some(user) => {
            crate::catalog::access::is_member(&state.db, user, record.cooperative.id).await?
        }
        None => false,
    };
    let notice = if query.reported.is_some() {
        Some("review.reported")
    } else if query.answered.is_some() {
        Some("review.answered")
    } else if query.hidden.is_some() {
        Some("review.hidden_done")
    } else {
        None
    };
    render(&ProductPage {
        ctx,
        product,
        chosen_variant: query.variant,
        origins,
        reviews,
        can_answer,
        notice,
        recall,
    })
}

#[derive(Template)]
#[template(path = "cooperatives/show.html")]
struct CooperativePage {
    ctx: PageContext,
    cooperative: CooperativeView,
    products: Vec<ProductSummary>,
}

async fn cooperative_page(
    State(state): State<AppState>,
    ctx: PageContext,
    ApiPath(slug): ApiPath<String>,
) -> AppResult<Response> {
    let coop = cooperatives::public_by_slug(&state.db, &slug).await?;
    let today = today_in_vietnam();
    let mut products: Vec<ProductSummary> =
        products::public_of_cooperative(&state.db, coop.id, 500)
            .await?
            .iter()
            .map(|p| ProductSummary::new(p, &coop, &state.reference, ctx.lang, today))
            .collect();
    crate::trace::recalls::mark_recalled(&state.db, &mut products).await?;
    render(&CooperativePage {
        ctx,
        cooperative: CooperativeView::new(&coop, &state.reference),
        products,
    })
}
