//! The reviews API: a product's reviews, a buyer's new review and its photos, the
//! cooperative's answer, anyone's report, an administrator's hiding.

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AnswerRequest, ReasonRequest, ReviewPage, ReviewRequest, ReviewView};
use crate::AppState;
use crate::accounts::{Authenticated, Viewer};
use crate::catalog::products;
use crate::changes::Change;
use crate::error::{AppError, AppResult, Problem};
use crate::http::client::ClientAddr;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::media::PhotoImage;
use crate::media::routes::{MAX_UPLOAD_BODY, read_upload};

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reviews, create_review))
        .routes(routes!(upload_review_photo))
        .routes(routes!(answer_review))
        .routes(routes!(report_review))
        .routes(routes!(hide_review))
        .routes(routes!(keep_review))
        .routes(routes!(unhide_review))
        .routes(routes!(reported_reviews))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewListParams {
    /// Page number from 1 (20 reviews a page, newest first).
    page: Option<u64>,
}

/// A public product's visible reviews, newest first.
#[utoipa::path(get, path = "/products/{id}/reviews", tag = "catalog",
    params(("id" = i64, Path, description = "Product id"), ReviewListParams),
    responses((status = 200, body = ReviewPage), (status = 404, body = Problem)))]
async fn list_reviews(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<ReviewListParams>,
) -> AppResult<Json<ReviewPage>> {
    let record = state.product_cache.by_id(&state.db, id).await?;
    if !products::is_public(&record.product, &record.cooperative) {
        return Err(AppError::NotFound);
    }
    let page = params.page.unwrap_or(1).clamp(1, 10_000);
    Ok(Json(super::visible_of_product(&state.db, id, page).await?))
}

/// Review a line of one of your delivered orders: 1 to 5 stars and a text, once per line,
/// within 90 days of the delivery. Photos are added after with `POST /reviews/{id}/photos`.
#[utoipa::path(post, path = "/products/{id}/reviews", tag = "shop",
    params(("id" = i64, Path, description = "Product id")),
    request_body = ReviewRequest,
    responses((status = 401, body = Problem, description = "Not logged in"),
        (status = 201, body = ReviewView),
        (status = 409, body = Problem, description = "`order_not_delivered`, `already_reviewed` or `review_window_closed`"),
        (status = 422, body = Problem, description = "Stars outside 1–5, a text too long, or an order line that is not yours")))]
async fn create_review(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReviewRequest>,
) -> AppResult<(StatusCode, Json<ReviewView>)> {
    let review = super::create(&state.db, &user, id, &body, &[], state.clock.now()).await?;
    state
        .changes
        .publish(&[Change::Product(review.product_id)])
        .await;
    let view = one_view(&state, review).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn one_view(
    state: &AppState,
    review: crate::entities::reviews::Model,
) -> AppResult<ReviewView> {
    super::views(&state.db, vec![review], true)
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ReviewPhotoUpload {
    /// JPEG, PNG or WebP, at most 20 MB; metadata is stripped.
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
}

/// Add a photo to your review (at most 3).
#[utoipa::path(post, path = "/reviews/{id}/photos", tag = "shop",
    params(("id" = i64, Path, description = "Review id")),
    request_body(content = ReviewPhotoUpload, content_type = "multipart/form-data"),
    responses((status = 401, body = Problem, description = "Not logged in"),
        (status = 201, body = PhotoImage), (status = 404, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn upload_review_photo(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<PhotoImage>)> {
    // The author only; checked before the upload is read.
    let review = super::by_id(&state.db, id).await?;
    if review.user_id != user.id {
        return Err(AppError::NotFound);
    }
    let _receiving = state.photos.admit().await?;
    let upload = read_upload(multipart, state.photos.limits().max_bytes).await?;
    let photo = super::add_photo(&state.db, &state.photos, &user, id, upload).await?;
    Ok((StatusCode::CREATED, Json(photo)))
}

/// Answer a review of your cooperative's product (once).
#[utoipa::path(post, path = "/reviews/{id}/answer", tag = "workspace",
    params(("id" = i64, Path, description = "Review id")),
    request_body = AnswerRequest,
    responses((status = 401, body = Problem, description = "Not logged in"),
        (status = 200, body = ReviewView), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`already_answered`")))]
async fn answer_review(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AnswerRequest>,
) -> AppResult<Json<ReviewView>> {
    let review = super::answer(&state.db, &user, id, &body, state.clock.now()).await?;
    Ok(Json(one_view(&state, review).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportReceived {
    pub received: bool,
}

/// Report a review that breaks the rules (anyone; limited per network).
#[utoipa::path(post, path = "/reviews/{id}/report", tag = "catalog",
    params(("id" = i64, Path, description = "Review id")),
    request_body = ReasonRequest,
    responses((status = 202, body = ReportReceived), (status = 404, body = Problem),
        (status = 429, body = Problem)))]
async fn report_review(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    ClientAddr(client): ClientAddr,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> AppResult<(StatusCode, Json<ReportReceived>)> {
    state.limits.check_report(client).await?;
    super::report(
        &state.db,
        &state.hasher,
        viewer.as_ref(),
        client,
        id,
        &body,
        state.clock.now(),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReportReceived { received: true }),
    ))
}

/// Hide a review, with the reason (administrators). It leaves the product's rating.
#[utoipa::path(post, path = "/reviews/{id}/hide", tag = "admin",
    params(("id" = i64, Path, description = "Review id")),
    request_body = ReasonRequest,
    responses((status = 401, body = Problem, description = "Not logged in"),
        (status = 200, body = ReviewView), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
async fn hide_review(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> AppResult<Json<ReviewView>> {
    let review = super::hide(&state.db, &user, id, &body, state.clock.now()).await?;
    state
        .changes
        .publish(&[Change::Product(review.product_id)])
        .await;
    Ok(Json(one_view(&state, review).await?))
}

/// Keep a reported review as it is: its open reports leave the administrators' queue
/// (administrators).
#[utoipa::path(post, path = "/reviews/{id}/keep", tag = "admin",
    params(("id" = i64, Path, description = "Review id")),
    responses((status = 401, body = Problem, description = "Not logged in"),
        (status = 200, body = ReviewView), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
async fn keep_review(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ReviewView>> {
    let review = super::keep(&state.db, &user, id, state.clock.now()).await?;
    Ok(Json(one_view(&state, review).await?))
}

/// Show a hidden review again: it counts in the product's rating again (administrators).
#[utoipa::path(post, path = "/reviews/{id}/unhide", tag = "admin",
    params(("id" = i64, Path, description = "Review id")),
    responses((status = 401, body = Problem, description = "Not logged in"),
        (status = 200, body = ReviewView), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
async fn unhide_review(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<ReviewView>> {
    let review = super::unhide(&state.db, &user, id).await?;
    state
        .changes
        .publish(&[Change::Product(review.product_id)])
        .await;
    Ok(Json(one_view(&state, review).await?))
}

/// The reviews reported and not handled yet, most reported first, and the recently hidden
/// ones (administrators).
#[utoipa::path(get, path = "/admin/reported-reviews", tag = "admin",
    responses((status = 401, body = Problem, description = "Not logged in"),
        (status = 200, body = super::ModerationQueue), (status = 403, body = Problem)))]
async fn reported_reviews(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> AppResult<Json<super::ModerationQueue>> {
    user.require_admin()?;
    Ok(Json(super::moderation_queue(&state.db).await?))
}
