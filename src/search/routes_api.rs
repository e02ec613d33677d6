//! `GET /api/v1/search` and `GET /api/v1/search/suggestions`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, SearchPageView, SearchParams};
use crate::AppState;
use crate::clock::today_in_vietnam;
use crate::error::{AppResult, Problem};
use crate::http::extract::ApiQuery;
use crate::i18n::Lang;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_products))
        .routes(routes!(search_suggestions))
}

/// Searches listed products: words (diacritics optional, typos forgiven, last word as a
/// prefix), filters, disjunctive facet counts, sort and pages. Facet values are codes:
/// province, commune and category/group codes, cooperative ids; `stars` buckets are `3`
/// (3★ or more), `4`, `5`; `price_ranges` buckets are `0-100000`, `100000-300000`,
/// `300000-1000000`, `1000000-`.
#[utoipa::path(get, path = "/search", tag = "search", params(SearchParams),
    responses(
        (status = 200, body = SearchPageView),
        (status = 400, body = Problem, description = "A parameter is not valid; `errors` names it"),
        (status = 503, body = Problem, description = "The search backend is unavailable"),
    ))]
async fn search_products(
    State(state): State<AppState>,
    lang: Lang,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> AppResult<Json<SearchPageView>> {
    let query = params.parse(&state.reference, today_in_vietnam())?;
    let view = service::search(&state.db, &state.reference, &state.search, &query, lang).await?;
    Ok(Json(view))
}

/// The text typed so far.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SuggestionParams {
    /// What the shopper has typed so far.
    q: Option<String>,
}

/// Product names for the search box.
#[derive(Debug, Serialize, ToSchema)]
struct Suggestions {
    suggestions: Vec<String>,
}

/// Product names that complete what the shopper is typing (at most 8).
#[utoipa::path(get, path = "/search/suggestions", tag = "search", params(SuggestionParams),
    responses(
        (status = 200, body = Suggestions),
        (status = 503, body = Problem, description = "The search backend is unavailable"),
    ))]
async fn search_suggestions(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SuggestionParams>,
) -> AppResult<Json<Suggestions>> {
    let suggestions =
        service::suggestions(&state.search, params.q.as_deref().unwrap_or("")).await?;
    Ok(Json(Suggestions { suggestions }))
}
