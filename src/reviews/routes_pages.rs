//! The review forms: the buyer's review beside each line of a delivered order (with up to
//! three photos), and on the product page the cooperative's answer, anyone's report and an
//! administrator's hiding. Every form works without JavaScript and comes back to its page.

use axum::Router;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use bytes::Bytes;
use serde::Deserialize;

use super::{AnswerRequest, MAX_REVIEW_PHOTOS, ReasonRequest, ReviewRequest};
use crate::AppState;
use crate::accounts::{Authenticated, Viewer};
use crate::changes::Change;
use crate::entities::products;
use crate::error::{AppError, AppResult};
use crate::http::client::ClientAddr;
use crate::http::extract::{ApiPath, PageForm};
use crate::media::routes::MAX_UPLOAD_BODY;
use sea_orm::EntityTrait;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/orders/{order_id}/items/{item_id}/review",
            post(review_submit)
                // The text fields and up to three photos.
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY * 3)),
        )
        .route("/reviews/{id}/answer", post(answer_submit))
        .route("/reviews/{id}/report", post(report_submit))
        .route("/reviews/{id}/hide", post(hide_submit))
        .route("/reviews/{id}/keep", post(keep_submit))
        .route("/reviews/{id}/unhide", post(unhide_submit))
}

/// The fields of the review form, read from its multipart body.
#[derive(Default)]
struct ReviewForm {
    stars: String,
    body: String,
    photos: Vec<Bytes>,
}

async fn read_review_form(
    multipart: Result<Multipart, MultipartRejection>,
    max_photo_bytes: usize,
) -> AppResult<ReviewForm> {
    let mut multipart = multipart.map_err(|_| AppError::UnsupportedMediaType {
        expected: "multipart/form-data",
    })?;
    let mut form = ReviewForm::default();
    let malformed = |err: axum::extract::multipart::MultipartError| {
        AppError::bad_request(
            "malformed_upload",
            format!("the form could not be read: {err}"),
        )
    };
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        match field.name() {
            Some("stars") => form.stars = field.text().await.map_err(malformed)?,
            Some("body") => form.body = field.text().await.map_err(malformed)?,
            Some("photo") => {
                let bytes = field.bytes().await.map_err(malformed)?;
                // A file input left empty sends an empty part.
                if bytes.is_empty() {
                    continue;
                }
                if bytes.len() > max_photo_bytes {
                    return Err(crate::media::processing::Rejection::TooLarge {
                        max_bytes: max_photo_bytes,
                    }
                    .into());
                }
                if form.photos.len() as u64 >= MAX_REVIEW_PHOTOS {
                    return Err(crate::error::FieldErrors::single(
                        "photo",
                        crate::domain::FieldIssue::new(
                            "review_photo_limit",
                            format!("a review carries at most {MAX_REVIEW_PHOTOS} photos"),
                        ),
                    ));
                }
                form.photos.push(bytes);
            }
            _ => {}
        }
    }
    Ok(form)
}

/// The buyer reviews an order line; back to the order page.
async fn review_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath((order_id, item_id)): ApiPath<(i64, i64)>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let _receiving = state.photos.admit().await?;
    let form = read_review_form(multipart, state.photos.limits().max_bytes).await?;
    let item = crate::entities::order_items::Entity::find_by_id(item_id)
        .one(&state.db)
        .await?
        .filter(|i| i.order_id == order_id)
        .ok_or(AppError::NotFound)?;
    let request = ReviewRequest {
        order_item_id: item.id,
        stars: form.stars.trim().parse().unwrap_or(0),
        body: form.body,
    };
    // The photos are processed and stored first; their rows commit with the review.
    let mut stored = Vec::with_capacity(form.photos.len());
    for photo in form.photos {
        match state.photos.store_upload(photo).await {
            Ok(processed) => stored.push(processed),
            Err(err) => {
                state.photos.discard(&stored).await;
                return Err(err);
            }
        }
    }
    let created = super::create(
        &state.db,
        &user,
        item.product_id,
        &request,
        &stored,
        state.clock.now(),
    )
    .await;
    let review = match created {
        Ok(review) => review,
        Err(err) => {
            state.photos.discard(&stored).await;
            return Err(err);
        }
    };
    state
        .changes
        .publish(&[Change::Product(review.product_id)])
        .await;
    Ok(Redirect::to(&format!("/orders/{order_id}#line-{item_id}")).into_response())
}

/// Back to the reviewed product's page, at its reviews.
async fn back_to_product(state: &AppState, product_id: i64, note: &str) -> AppResult<Response> {
    let slug = products::Entity::find_by_id(product_id)
        .one(&state.db)
        .await?
        .map(|p| p.slug)
        .ok_or(AppError::NotFound)?;
    Ok(Redirect::to(&format!("/products/{slug}?{note}#reviews")).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AnswerForm {
    answer: String,
}

async fn answer_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<AnswerForm>,
) -> AppResult<Response> {
    let request = AnswerRequest {
        answer: form.answer,
    };
    let review = super::answer(&state.db, &user, id, &request, state.clock.now()).await?;
    back_to_product(&state, review.product_id, "answered=1").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReasonForm {
    reason: String,
    /// `admin` when the form is on the administrators' page, which the answer goes back to.
    back: String,
}

/// The administrators' queue of reported reviews.
const ADMIN_QUEUE: &str = "/admin#reviews";

async fn report_submit(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    ClientAddr(client): ClientAddr,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<ReasonForm>,
) -> AppResult<Response> {
    state.limits.check_report(client).await?;
    let request = ReasonRequest {
        reason: form.reason,
    };
    let review = super::visible_by_id(&state.db, viewer.as_ref(), id).await?;
    super::report(
        &state.db,
        &state.hasher,
        viewer.as_ref(),
        client,
        id,
        &request,
        state.clock.now(),
    )
    .await?;
    back_to_product(&state, review.product_id, "reported=1").await
}

async fn hide_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<ReasonForm>,
) -> AppResult<Response> {
    let request = ReasonRequest {
        reason: form.reason,
    };
    let review = super::hide(&state.db, &user, id, &request, state.clock.now()).await?;
    state
        .changes
        .publish(&[Change::Product(review.product_id)])
        .await;
    if form.back == "admin" {
        return Ok(Redirect::to(ADMIN_QUEUE).into_response());
    }
    back_to_product(&state, review.product_id, "hidden=1").await
}

async fn keep_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    super::keep(&state.db, &user, id, state.clock.now()).await?;
    Ok(Redirect::to(ADMIN_QUEUE).into_response())
}

async fn unhide_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let review = super::unhide(&state.db, &user, id).await?;
    state
        .changes
        .publish(&[Change::Product(review.product_id)])
        .await;
    Ok(Redirect::to(ADMIN_QUEUE).into_response())
}
