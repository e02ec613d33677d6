//! The catalogue's JSON API. Handlers parse, authorise, call the services and shape views.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::certificates::{self, CertificateRequest};
use super::cooperatives::{self, CooperativeInput};
use super::products::{self, ProductListParams, ProductRequest};
use super::stock::{self, StockAdjustmentRequest, StockAdjustmentView};
use super::variants::{self, VariantRequest, VariantView};
use super::views::{
    CertificateView, CooperativePrivateView, CooperativeView, Paged, ProductDetail, ProductSummary,
};
use super::{ProductStatus, access};
use crate::AppState;
use crate::accounts::{Authenticated, Viewer};
use crate::changes::Change;
use crate::clock::today_in_vietnam;
use crate::error::{AppError, AppResult, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::i18n::Lang;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(get_product, update_product, delete_product))
        .routes(routes!(publish_product))
        .routes(routes!(archive_product))
        .routes(routes!(adjust_stock))
        .routes(routes!(add_variant))
        .routes(routes!(update_variant, delete_variant))
        .routes(routes!(list_certificates, record_certificate))
        .routes(routes!(create_cooperative))
        .routes(routes!(get_cooperative, update_cooperative))
        .routes(routes!(list_cooperative_products, create_product))
        .routes(routes!(my_cooperatives))
}

/// Published products of verified cooperatives, filtered.
#[utoipa::path(get, path = "/products", tag = "catalog", params(ProductListParams),
    responses(
        (status = 200, body = Paged<ProductSummary>),
        (status = 400, body = Problem, description = "A filter is not valid; `errors` names it"),
    ))]
async fn list_products(
    State(state): State<AppState>,
    lang: Lang,
    ApiQuery(params): ApiQuery<ProductListParams>,
) -> AppResult<Json<Paged<ProductSummary>>> {
    let filter = params.parse(&state.reference)?;
    let page = products::list_public(
        &state.db,
        &state.reference,
        &filter,
        lang,
        today_in_vietnam(),
    )
    .await?;
    Ok(Json(page))
}

/// A product's detail view read fresh from the database (after a write).
async fn fresh_detail(
    state: &AppState,
    product: crate::entities::products::Model,
    cooperative: crate::entities::cooperatives::Model,
    lang: Lang,
) -> AppResult<ProductDetail> {
    let record = super::cache::ProductRecord::load(&state.db, product, cooperative).await?;
    Ok(record.detail(&state.reference, lang))
}

/// A product: public ones for everyone; drafts and archived ones for their cooperative's
/// members and administrators only (404 for anyone else).
#[utoipa::path(get, path = "/products/{id}", tag = "catalog",
    params(("id" = i64, Path, description = "Product id")),
    responses((status = 200, body = ProductDetail), (status = 404, body = Problem)))]
async fn get_product(
    State(state): State<AppState>,
    lang: Lang,
    Viewer(viewer): Viewer,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ProductDetail>> {
    state.changes.catch_up().await;
    let record = state.product_cache.by_id(&state.db, id).await?;
    if !products::is_public(&record.product, &record.cooperative) {
        let allowed = match &viewer {
            Some(user) if user.is_admin => true,
            Some(user) => access::is_member(&state.db, user, record.cooperative.id).await?,
            None => false,
        };
        if !allowed {
            return Err(AppError::NotFound);
        }
    }
    Ok(Json(record.detail(&state.reference, lang)))
}

/// Replace a product's details (members of its cooperative).
#[utoipa::path(put, path = "/products/{id}", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    request_body = ProductRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), 
        (status = 200, body = ProductDetail),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "GTIN already used, or a stock figure other than the stock now (`stock_is_adjusted`)"),
        (status = 422, body = Problem),
    ))]
async fn update_product(
    State(state): State<AppState>,
    lang: Lang,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ProductRequest>,
) -> AppResult<Json<ProductDetail>> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let details = body.parse(&state.reference)?;
    if let Some(sent) = body.stock_quantity
        && sent != product.stock_quantity
    {
        return Err(AppError::conflict(
            "stock_is_adjusted",
            "stock_quantity",
            format!(
                "stock is {} now, not {sent}: an edit does not change stock; send a change with \
                 POST /api/v1/products/{id}/stock, or leave stock_quantity out",
                product.stock_quantity
            ),
        ));
    }
    let product = products::update(&state.db, product, &membership.cooperative, details).await?;
    state.changes.publish(&[Change::Product(product.id)]).await;
    Ok(Json(
        fresh_detail(&state, product, membership.cooperative, lang).await?,
    ))
}

/// Add units to a product's stock or take them away, with a reason (members of its
/// cooperative). Never below zero: 409 `insufficient_stock`.
#[utoipa::path(post, path = "/products/{id}/stock", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    request_body = StockAdjustmentRequest,
    responses((status = 401, body = Problem, description = "Not logged in"),
        (status = 200, body = StockAdjustmentView),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The stock would go below zero"),
        (status = 422, body = Problem),
    ))]
async fn adjust_stock(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<StockAdjustmentRequest>,
) -> AppResult<Json<StockAdjustmentView>> {
    let (product, _) = access::managed_product(&state.db, &user, id).await?;
    let change = body.parse()?;
    let row = stock::adjust(&state.db, product.id, change, user.id).await?;
    state.changes.publish(&[Change::Product(product.id)]).await;
    Ok(Json(row.into()))
}

/// Add a variant (size) to a product, with its own price, weight, SKU and initial stock
/// (members of its cooperative).
#[utoipa::path(post, path = "/products/{id}/variants", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    request_body = VariantRequest,
    responses((status = 401, body = Problem, description = "Not logged in"),
        (status = 201, body = VariantView),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The product has the most variants"),
        (status = 422, body = Problem),
    ))]
async fn add_variant(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<VariantRequest>,
) -> AppResult<Response> {
    let (product, _) = access::managed_product(&state.db, &user, id).await?;
    let variant = variants::add(&state.db, &product, body.parse()?).await?;
    state.changes.publish(&[Change::Product(product.id)]).await;
    Ok((StatusCode::CREATED, Json(VariantView::new(&variant))).into_response())
}

/// Change a variant's label, price, weight and SKU, never its stock (members of its
/// cooperative).
#[utoipa::path(put, path = "/products/{id}/variants/{variant_id}", tag = "workspace",
    params(("id" = i64, Path, description = "Product id"),
        ("variant_id" = i64, Path, description = "Variant id")),
    request_body = VariantRequest,
    responses((status = 401, body = Problem, description = "Not logged in"),
        (status = 200, body = VariantView),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "A stock figure other than the stock now (`stock_is_adjusted`)"),
        (status = 422, body = Problem),
    ))]
async fn update_variant(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath((id, variant_id)): ApiPath<(i64, i64)>,
    ApiJson(body): ApiJson<VariantRequest>,
) -> AppResult<Json<VariantView>> {
    let (product, _) = access::managed_product(&state.db, &user, id).await?;
    let parsed = body.parse()?;
    if let Some(sent) = body.stock_quantity {
        let current = variants::resolve(&state.db, product.id, Some(variant_id))
            .await?
            .ok_or(AppError::NotFound)?;
        if sent != current.stock_quantity {
            return Err(AppError::conflict(
                "stock_is_adjusted",
                "stock_quantity",
                format!(
                    "stock is {} now, not {sent}: an edit does not change stock; send a change \
                     with POST /api/v1/products/{id}/stock, or leave stock_quantity out",
                    current.stock_quantity
                ),
            ));
        }
    }
    let variant = variants::update(&state.db, &product, variant_id, parsed).await?;
    state.changes.publish(&[Change::Product(product.id)]).await;
    Ok(Json(VariantView::new(&variant)))
}

/// Delete a variant that has no orders and no batches (not the first one).
#[utoipa::path(delete, path = "/products/{id}/variants/{variant_id}", tag = "workspace",
    params(("id" = i64, Path, description = "Product id"),
        ("variant_id" = i64, Path, description = "Variant id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 204),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_variant(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath((id, variant_id)): ApiPath<(i64, i64)>,
) -> AppResult<StatusCode> {
    let (product, _) = access::managed_product(&state.db, &user, id).await?;
    variants::delete(&state.db, &product, variant_id).await?;
    state.changes.publish(&[Change::Product(product.id)]).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a product that has no batches and no orders, with its photos (members of its
/// cooperative). A product with either answers 409 `product_in_use`: archive it instead.
#[utoipa::path(delete, path = "/products/{id}", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_product(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<axum::http::StatusCode> {
    let (product, _) = access::managed_product(&state.db, &user, id).await?;
    products::delete(&state.db, &state.photos, product).await?;
    state.changes.publish(&[Change::Product(id)]).await;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

async fn change_status(
    state: &AppState,
    user: &crate::accounts::CurrentUser,
    id: i64,
    status: ProductStatus,
    lang: Lang,
) -> AppResult<Json<ProductDetail>> {
    let (product, membership) = access::managed_product(&state.db, user, id).await?;
    let product = products::set_status(&state.db, product, status).await?;
    state.changes.publish(&[Change::Product(product.id)]).await;
    Ok(Json(
        fresh_detail(state, product, membership.cooperative, lang).await?,
    ))
}

/// Publish a product. It becomes public once its cooperative is verified.
#[utoipa::path(post, path = "/products/{id}/publish", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = ProductDetail), (status = 404, body = Problem)))]
async fn publish_product(
    State(state): State<AppState>,
    lang: Lang,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ProductDetail>> {
    change_status(&state, &user, id, ProductStatus::Published, lang).await
}

/// Archive a product: it leaves the public catalogue but stays in the cooperative's records.
#[utoipa::path(post, path = "/products/{id}/archive", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = ProductDetail), (status = 404, body = Problem)))]
async fn archive_product(
    State(state): State<AppState>,
    lang: Lang,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ProductDetail>> {
    change_status(&state, &user, id, ProductStatus::Archived, lang).await
}

/// Every certificate recorded for a product (members of its cooperative).
#[utoipa::path(get, path = "/products/{id}/certificates", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [CertificateView]), (status = 404, body = Problem)))]
async fn list_certificates(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<CertificateView>>> {
    let (product, _) = access::managed_product(&state.db, &user, id).await?;
    let today = today_in_vietnam();
    let certs = certificates::of_product(&state.db, product.id).await?;
    Ok(Json(
        certs
            .iter()
            .map(|c| CertificateView::new(c, today))
            .collect(),
    ))
}

/// Record an OCOP certificate for a product; it waits for the province's verification.
#[utoipa::path(post, path = "/products/{id}/certificates", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    request_body = CertificateRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), 
        (status = 201, body = CertificateView),
        (status = 404, body = Problem),
        (status = 422, body = Problem),
    ))]
async fn record_certificate(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CertificateRequest>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let details = body.parse()?;
    let cert = certificates::record(&state.db, &membership, &product, details).await?;
    Ok((
        StatusCode::CREATED,
        Json(CertificateView::new(&cert, today_in_vietnam())),
    )
        .into_response())
}

/// Register a cooperative; the caller becomes its owner and it waits for verification.
#[utoipa::path(post, path = "/cooperatives", tag = "workspace",
    request_body = CooperativeInput,
    responses(
        (status = 201, body = CooperativePrivateView),
        (status = 401, body = Problem),
        (status = 409, body = Problem, description = "Registration number already registered"),
        (status = 422, body = Problem),
    ))]
async fn create_cooperative(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiJson(body): ApiJson<CooperativeInput>,
) -> AppResult<Response> {
    let details = body.parse(&state.reference)?;
    let coop = cooperatives::create(&state.db, &user, details).await?;
    Ok((
        StatusCode::CREATED,
        Json(CooperativePrivateView::new(
            &coop,
            &state.reference,
            Some(super::MemberRole::Owner),
        )),
    )
        .into_response())
}

/// A cooperative. Members and administrators get the private view (bank account,
/// registration, status reason); everyone else sees verified cooperatives only.
#[utoipa::path(get, path = "/cooperatives/{id}", tag = "catalog",
    params(("id" = i64, Path, description = "Cooperative id")),
    responses(
        (status = 200, body = CooperativeView, description = "The public view; members and administrators get the private view, which adds the fields of CooperativePrivateView"),
        (status = 404, body = Problem),
    ))]
async fn get_cooperative(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    if let Some(user) = &viewer {
        if let Ok(membership) = access::membership(&state.db, user, id).await {
            return Ok(Json(CooperativePrivateView::new(
                &membership.cooperative,
                &state.reference,
                Some(membership.role),
            ))
            .into_response());
        }
        if user.is_admin
            && let Some(coop) = cooperatives::by_id(&state.db, id).await?
        {
            return Ok(
                Json(CooperativePrivateView::new(&coop, &state.reference, None)).into_response(),
            );
        }
    }
    let coop = cooperatives::public_by_id(&state.db, id).await?;
    Ok(Json(CooperativeView::new(&coop, &state.reference)).into_response())
}

/// Update a cooperative's details (its owner). Changing the registration number, commune or
/// bank account sends a verified cooperative back to verification.
#[utoipa::path(put, path = "/cooperatives/{id}", tag = "workspace",
    params(("id" = i64, Path, description = "Cooperative id")),
    request_body = CooperativeInput,
    responses((status = 401, body = Problem, description = "Not logged in"), 
        (status = 200, body = CooperativePrivateView),
        (status = 403, body = Problem, description = "Staff may not edit the cooperative"),
        (status = 404, body = Problem),
        (status = 422, body = Problem),
    ))]
async fn update_cooperative(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CooperativeInput>,
) -> AppResult<Json<CooperativePrivateView>> {
    let membership = access::membership(&state.db, &user, id).await?;
    let details = body.parse(&state.reference)?;
    let coop = cooperatives::update(&state.db, &membership, details).await?;
    state.changes.publish(&[Change::Cooperative(coop.id)]).await;
    Ok(Json(CooperativePrivateView::new(
        &coop,
        &state.reference,
        Some(membership.role),
    )))
}

/// A cooperative's products: every product, drafts included, for its members; the public
/// products of a verified cooperative for everyone else.
#[utoipa::path(get, path = "/cooperatives/{id}/products", tag = "catalog",
    params(("id" = i64, Path, description = "Cooperative id")),
    responses((status = 200, body = [ProductSummary]), (status = 404, body = Problem)))]
async fn list_cooperative_products(
    State(state): State<AppState>,
    lang: Lang,
    Viewer(viewer): Viewer,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<ProductSummary>>> {
    let today = today_in_vietnam();
    if let Some(user) = &viewer
        && let Ok(membership) = access::membership(&state.db, user, id).await
    {
        let rows = products::of_cooperative(&state.db, &membership).await?;
        return Ok(Json(
            rows.iter()
                .map(|p| {
                    ProductSummary::new(p, &membership.cooperative, &state.reference, lang, today)
                })
                .collect(),
        ));
    }
    let coop = cooperatives::public_by_id(&state.db, id).await?;
    let rows = products::public_of_cooperative(&state.db, coop.id, 1000).await?;
    Ok(Json(
        rows.iter()
            .map(|p| ProductSummary::new(p, &coop, &state.reference, lang, today))
            .collect(),
    ))
}

/// Create a draft product in the cooperative (members).
#[utoipa::path(post, path = "/cooperatives/{id}/products", tag = "workspace",
    params(("id" = i64, Path, description = "Cooperative id")),
    request_body = ProductRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), 
        (status = 201, body = ProductDetail),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "GTIN already used"),
        (status = 422, body = Problem),
    ))]
async fn create_product(
    State(state): State<AppState>,
    lang: Lang,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ProductRequest>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    let details = body.parse(&state.reference)?;
    let product = products::create(&state.db, &membership, details).await?;
    let detail = fresh_detail(&state, product, membership.cooperative, lang).await?;
    Ok((StatusCode::CREATED, Json(detail)).into_response())
}

/// The cooperatives the caller belongs to.
#[utoipa::path(get, path = "/me/cooperatives", tag = "workspace",
    responses((status = 200, body = [CooperativePrivateView]), (status = 401, body = Problem)))]
async fn my_cooperatives(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> AppResult<Json<Vec<CooperativePrivateView>>> {
    let memberships = cooperatives::of_user(&state.db, &user).await?;
    Ok(Json(
        memberships
            .iter()
            .map(|m| CooperativePrivateView::new(&m.cooperative, &state.reference, Some(m.role)))
            .collect(),
    ))
}
