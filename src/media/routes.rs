//! Photo endpoints: the API for uploads, order and deletion, the workspace's move and delete
//! buttons, and the public photo files. The upload forms of the product and batch pages live
//! with those pages and share [`read_upload`].

use axum::Json;
use axum::Router;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::processing::Rejection;
use super::{PhotoImage, PhotoOwner, ordered, parse_widths, url_of};
use crate::AppState;
use crate::accounts::{Authenticated, CurrentUser};
use crate::catalog::access;
use crate::entities::photos;
use crate::error::{AppError, AppResult, FieldErrors, Problem};
use crate::http::extract::{ApiJson, ApiPath, PageForm};

/// Largest request body of an upload: the largest photo plus the multipart framing.
pub const MAX_UPLOAD_BODY: usize = 20 * 1024 * 1024 + 256 * 1024;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_product_photos, upload_product_photo))
        .routes(routes!(reorder_product_photos))
        .routes(routes!(list_batch_photos, upload_batch_photo))
        .routes(routes!(delete_photo))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY))
}

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/media/photos/{name}", get(photo_file))
        .route("/workspace/photos/{id}/move", post(move_submit))
        .route("/workspace/photos/{id}/delete", post(delete_submit))
}

/// The `photo` file of a multipart form, at most the configured size. Other fields are
/// skipped. A body that is not multipart, or a form without a file, is a clear error.
pub async fn read_upload(
    multipart: Result<Multipart, MultipartRejection>,
    max_bytes: usize,
) -> AppResult<Bytes> {
    let mut multipart = multipart.map_err(|_| AppError::UnsupportedMediaType {
        expected: "multipart/form-data with a `photo` file field",
    })?;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Err(Rejection::Empty.into()),
            Err(err) => return Err(upload_error(&err, max_bytes)),
        };
        if field.name() != Some("photo") {
            continue;
        }
        let mut field = field;
        let mut bytes = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > max_bytes {
                        return Err(Rejection::TooLarge { max_bytes }.into());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => return Err(upload_error(&err, max_bytes)),
            }
        }
        return Ok(Bytes::from(bytes));
    }
}

/// Receives one uploaded photo for `owner`: waits for a receiving place, reads the `photo`
/// field and adds it. Every upload form and endpoint goes through here.
pub async fn receive(
    state: &AppState,
    user: &crate::accounts::CurrentUser,
    cooperative_id: i64,
    owner: PhotoOwner,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<photos::Model> {
    let _receiving = state.photos.admit().await?;
    let upload = read_upload(multipart, state.photos.limits().max_bytes).await?;
    let photo = state
        .photos
        .add(&state.db, user, cooperative_id, owner, upload)
        .await?;
    state.changes.publish(&[change_of(owner)]).await;
    Ok(photo)
}

/// What a change to the photos of `owner` changes in the caches (a product's photos show on
/// its page and, the cover, on its scan pages).
pub fn change_of(owner: PhotoOwner) -> crate::changes::Change {
    match owner {
        PhotoOwner::Product(id) => crate::changes::Change::Product(id),
        PhotoOwner::Batch(id) => crate::changes::Change::Batch(id),
    }
}

fn upload_error(err: &axum::extract::multipart::MultipartError, max_bytes: usize) -> AppError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Rejection::TooLarge { max_bytes }.into()
    } else {
        AppError::bad_request(
            "malformed_upload",
            format!("the upload could not be read: {err}"),
        )
    }
}

/// A photo as the API describes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoDetail {
    pub id: i64,
    /// 0 for the first (cover) photo.
    pub position: i32,
    #[serde(flatten)]
    pub image: PhotoImage,
    pub variants: Vec<PhotoVariant>,
    pub created_at: DateTime<Utc>,
}

/// One stored width of a photo.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoVariant {
    pub width: u32,
    pub url: String,
}

impl PhotoDetail {
    fn of(photo: &photos::Model) -> Self {
        Self {
            id: photo.id,
            position: photo.position,
            image: PhotoImage::of(photo),
            variants: parse_widths(&photo.widths)
                .into_iter()
                .map(|width| PhotoVariant {
                    width,
                    url: url_of(&photo.digest, width),
                })
                .collect(),
            created_at: photo.created_at,
        }
    }
}

/// The multipart form of an upload (for the API description).
#[derive(ToSchema)]
#[allow(dead_code)]
struct PhotoUpload {
    /// JPEG, PNG or WebP, at most 20 MB and 50 megapixels.
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
}

/// A new order for photos.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PhotoOrder {
    /// Every photo id of the product, first (cover) photo first.
    pub photo_ids: Vec<i64>,
}

/// A product's photos in display order (members of its cooperative).
#[utoipa::path(get, path = "/products/{id}/photos", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [PhotoDetail]), (status = 404, body = Problem)))]
async fn list_product_photos(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<PhotoDetail>>> {
    access::managed_product(&state.db, &user, id).await?;
    photo_list(&state, PhotoOwner::Product(id)).await
}

/// Upload a product photo: it is turned upright, stripped of metadata (GPS positions
/// included) and stored in several widths. The first photo is the product's cover.
#[utoipa::path(post, path = "/products/{id}/photos", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    request_body(content = PhotoUpload, content_type = "multipart/form-data"),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 201, body = PhotoDetail), (status = 404, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn upload_product_photo(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<PhotoDetail>)> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let photo = receive(
        &state,
        &user,
        membership.cooperative.id,
        PhotoOwner::Product(product.id),
        multipart,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(PhotoDetail::of(&photo))))
}

/// Put a product's photos in a new order; the first becomes the cover.
#[utoipa::path(put, path = "/products/{id}/photos/order", tag = "workspace",
    params(("id" = i64, Path, description = "Product id")),
    request_body = PhotoOrder,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [PhotoDetail]), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
async fn reorder_product_photos(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(order): ApiJson<PhotoOrder>,
) -> AppResult<Json<Vec<PhotoDetail>>> {
    access::managed_product(&state.db, &user, id).await?;
    let photos = state
        .photos
        .reorder(&state.db, PhotoOwner::Product(id), &order.photo_ids)
        .await?;
    state
        .changes
        .publish(&[change_of(PhotoOwner::Product(id))])
        .await;
    Ok(Json(photos.iter().map(PhotoDetail::of).collect()))
}

/// A batch's photos (members of its cooperative).
#[utoipa::path(get, path = "/batches/{id}/photos", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [PhotoDetail]), (status = 404, body = Problem)))]
async fn list_batch_photos(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<PhotoDetail>>> {
    crate::trace::batches::managed(&state.db, &user, id).await?;
    photo_list(&state, PhotoOwner::Batch(id)).await
}

/// Upload a batch photo (the harvest, the drying racks, the packing line…).
#[utoipa::path(post, path = "/batches/{id}/photos", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    request_body(content = PhotoUpload, content_type = "multipart/form-data"),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 201, body = PhotoDetail), (status = 404, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn upload_batch_photo(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<PhotoDetail>)> {
    let (batch, _, membership) = crate::trace::batches::managed(&state.db, &user, id).await?;
    let photo = receive(
        &state,
        &user,
        membership.cooperative.id,
        PhotoOwner::Batch(batch.id),
        multipart,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(PhotoDetail::of(&photo))))
}

/// Delete a photo and its files.
#[utoipa::path(delete, path = "/photos/{id}", tag = "workspace",
    params(("id" = i64, Path, description = "Photo id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 204), (status = 404, body = Problem)))]
async fn delete_photo(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    let photo = managed_photo(&state.db, &user, id).await?;
    let owner = photo_owner_change(&photo);
    state.photos.delete(&state.db, photo).await?;
    state.changes.publish(&owner).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn photo_list(state: &AppState, owner: PhotoOwner) -> AppResult<Json<Vec<PhotoDetail>>> {
    Ok(Json(
        ordered(&state.db, owner)
            .await?
            .iter()
            .map(PhotoDetail::of)
            .collect(),
    ))
}

// ---------------------------------------------------------------- pages

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MoveForm {
    direction: String,
}

/// What changing `photo` changes in the caches.
fn photo_owner_change(photo: &photos::Model) -> Vec<crate::changes::Change> {
    match (photo.product_id, photo.batch_id) {
        (_, Some(batch)) => vec![crate::changes::Change::Batch(batch)],
        (Some(product), None) => vec![crate::changes::Change::Product(product)],
        (None, None) => Vec::new(),
    }
}

/// Where the workspace shows a photo's owner.
fn owner_page(photo: &photos::Model) -> String {
    match (photo.product_id, photo.batch_id) {
        (_, Some(batch)) => format!("/workspace/batches/{batch}#photos"),
        (Some(product), None) => format!("/workspace/products/{product}#photos"),
        (None, None) => "/workspace".to_owned(),
    }
}

async fn move_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<MoveForm>,
) -> AppResult<Response> {
    let photo = managed_photo(&state.db, &user, id).await?;
    let up = match form.direction.as_str() {
        "up" => true,
        "down" => false,
        _ => {
            return Err(FieldErrors::single(
                "direction",
                crate::domain::FieldIssue::new("invalid_direction", "up or down"),
            ));
        }
    };
    state.photos.move_photo(&state.db, &photo, up).await?;
    state.changes.publish(&photo_owner_change(&photo)).await;
    Ok(Redirect::to(&owner_page(&photo)).into_response())
}

async fn delete_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let photo = managed_photo(&state.db, &user, id).await?;
    let back = owner_page(&photo);
    let owner = photo_owner_change(&photo);
    state.photos.delete(&state.db, photo).await?;
    state.changes.publish(&owner).await;
    Ok(Redirect::to(&back).into_response())
}

/// A photo file: `{32 hex digits}-{width}.jpg`. The name never changes meaning, so browsers
/// and proxies may keep it for a year without asking again.
async fn photo_file(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> AppResult<Response> {
    let (digest, width) = super::store::parse_file_name(&name).ok_or(AppError::NotFound)?;
    let bytes = state
        .photos
        .store()
        .get(digest, width)
        .await
        .map_err(AppError::Internal)?
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}

/// A photo `user` may manage (a member of its cooperative); "not found" for anyone else.
pub async fn managed_photo(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    photo_id: i64,
) -> AppResult<photos::Model> {
    let photo = super::photo_by_id(db, photo_id).await?;
    // A review's photo belongs to its author, not to the reviewed cooperative.
    if photo.review_id.is_some() {
        return Err(AppError::NotFound);
    }
    access::membership(db, user, photo.cooperative_id).await?;
    Ok(photo)
}
