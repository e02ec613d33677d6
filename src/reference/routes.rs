//! Reference data for forms and API clients.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{AppError, AppResult, Problem};
use crate::http::extract::ApiPath;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_provinces))
        .routes(routes!(list_communes))
        .routes(routes!(list_categories))
}

#[derive(Serialize, ToSchema)]
pub struct ProvinceView {
    code: String,
    name: String,
    short_name: String,
    kind: String,
}

#[derive(Serialize, ToSchema)]
pub struct CommuneView {
    code: String,
    name: String,
    kind: String,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryView {
    code: String,
    name_vi: String,
    name_en: String,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryGroupView {
    code: String,
    name_vi: String,
    name_en: String,
    categories: Vec<CategoryView>,
}

/// The 34 provinces and centrally-run cities (since 1 July 2025).
#[utoipa::path(get, path = "/provinces", tag = "reference",
    responses((status = 200, body = [ProvinceView])))]
async fn list_provinces(State(state): State<AppState>) -> Json<Vec<ProvinceView>> {
    Json(
        state
            .reference
            .provinces
            .iter()
            .map(|p| ProvinceView {
                code: p.code.clone(),
                name: p.name.clone(),
                short_name: p.short_name.clone(),
                kind: p.kind.clone(),
            })
            .collect(),
    )
}

/// The communes, wards and special zones of a province.
#[utoipa::path(get, path = "/provinces/{code}/communes", tag = "reference",
    params(("code" = String, Path, description = "Province code")),
    responses((status = 200, body = [CommuneView]), (status = 404, body = Problem)))]
async fn list_communes(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> AppResult<Json<Vec<CommuneView>>> {
    if state.reference.province(&code).is_none() {
        return Err(AppError::NotFound);
    }
    Ok(Json(
        state
            .reference
            .communes_of(&code)
            .map(|c| CommuneView {
                code: c.code.clone(),
                name: c.name.clone(),
                kind: c.kind.clone(),
            })
            .collect(),
    ))
}

/// OCOP product groups and their categories.
#[utoipa::path(get, path = "/categories", tag = "reference",
    responses((status = 200, body = [CategoryGroupView])))]
async fn list_categories(State(state): State<AppState>) -> Json<Vec<CategoryGroupView>> {
    Json(
        state
            .reference
            .groups
            .iter()
            .map(|g| CategoryGroupView {
                code: g.code.clone(),
                name_vi: g.name_vi.clone(),
                name_en: g.name_en.clone(),
                categories: g
                    .categories
                    .iter()
                    .map(|c| CategoryView {
                        code: c.code.clone(),
                        name_vi: c.name_vi.clone(),
                        name_en: c.name_en.clone(),
                    })
                    .collect(),
            })
            .collect(),
    )
}
