//! A cooperative's sales by size: `GET /api/v1/cooperatives/{id}/sales` and the page
//! `/workspace/cooperatives/{id}/sales` (members only; anyone else gets 404, as for every
//! cooperative resource).

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sales::{self, DEFAULT_DAYS, MAX_DAYS, SalesBySize};
use crate::AppState;
use crate::accounts::Authenticated;
use crate::catalog::access;
use crate::domain::FieldIssue;
use crate::error::{AppResult, FieldErrors, Problem};
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::page::{PageContext, render, render_with_status};

/// The windows the page offers, in days.
const PAGE_WINDOWS: [u32; 4] = [7, 30, 90, 365];

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(cooperative_sales))
}

pub fn page_routes() -> Router<AppState> {
    Router::new().route("/workspace/cooperatives/{id}/sales", get(sales_page))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SalesQuery {
    /// The window in days, 1 to 366 (30 when left out).
    pub days: Option<String>,
}

fn parse_days(days: Option<&str>) -> Result<u32, FieldIssue> {
    match days.map(str::trim) {
        None | Some("") => Ok(DEFAULT_DAYS),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| {
                FieldIssue::new(
                    "invalid_days",
                    format!("a whole number of days, 1 to {MAX_DAYS}"),
                )
            }),
    }
}

/// What each size of the cooperative's products sold over the last `days` days (paid orders
/// not cancelled since), with its stock now, best sellers first (members).
#[utoipa::path(get, path = "/cooperatives/{id}/sales", tag = "workspace",
    params(("id" = i64, Path, description = "Cooperative id"), SalesQuery),
    responses((status = 200, body = SalesBySize), (status = 401, body = Problem, description = "Not logged in"),
        (status = 404, body = Problem), (status = 422, body = Problem, description = "Days out of range")))]
async fn cooperative_sales(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<SalesQuery>,
) -> AppResult<Json<SalesBySize>> {
    let membership = access::membership(&state.db, &user, id).await?;
    let days =
        parse_days(query.days.as_deref()).map_err(|issue| FieldErrors::single("days", issue))?;
    Ok(Json(
        sales::by_size(&state.db, membership.cooperative.id, days).await?,
    ))
}

#[derive(Template)]
#[template(path = "workspace/sales.html")]
struct SalesPage {
    ctx: PageContext,
    cooperative_name: String,
    sales: SalesBySize,
    windows: [u32; 4],
    errors: FieldErrors,
}

async fn sales_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<SalesQuery>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    let (days, errors) = match parse_days(query.days.as_deref()) {
        Ok(days) => (days, FieldErrors::default()),
        Err(issue) => {
            let mut errors = FieldErrors::default();
            errors.add("days", issue);
            (DEFAULT_DAYS, errors)
        }
    };
    let page = SalesPage {
        ctx,
        cooperative_name: membership.cooperative.name.clone(),
        sales: sales::by_size(&state.db, membership.cooperative.id, days).await?,
        windows: PAGE_WINDOWS,
        errors,
    };
    if page.errors.is_empty() {
        render(&page)
    } else {
        render_with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, &page)
    }
}
