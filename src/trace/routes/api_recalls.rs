//! The recall API of a lot: recall it, clear it, read the recall and the order lines packed
//! from it. The rules are in `trace::recalls`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::accounts::Authenticated;
use crate::changes::Change;
use crate::entities::batches as batch_rows;
use crate::error::{AppError, AppResult, Problem};
use crate::http::extract::{ApiJson, ApiPath};
use crate::trace::recalls::{self, RecallInput, RecallView, ShippedLine};

/// Tells every app server's caches that the lot's stamps and its product changed (the API and
/// the batch page's recall forms).
pub(super) async fn publish(state: &AppState, batch: &batch_rows::Model) {
    state
        .changes
        .publish(&[Change::Batch(batch.id), Change::Product(batch.product_id)])
        .await;
}

async fn view(state: &AppState, batch: &batch_rows::Model) -> AppResult<RecallView> {
    recalls::view_of(&state.db, batch)
        .await?
        .ok_or(AppError::NotFound)
}

/// Recall a lot (members of its cooperative, or the province): every stamp of the lot reads
/// "recalled" with the reason and advice, every buyer of a line packed from it is told once,
/// and its product is withdrawn from sale until the recall is cleared.
#[utoipa::path(post, path = "/batches/{id}/recall", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    request_body = RecallInput,
    responses(
        (status = 201, body = RecallView),
        (status = 401, body = Problem, description = "Not logged in"),
        (status = 404, body = Problem, description = "No such batch of the user's cooperative"),
        (status = 409, body = Problem, description = "`already_recalled`"),
        (status = 422, body = Problem),
    ))]
pub(super) async fn recall_batch(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RecallInput>,
) -> AppResult<Response> {
    let batch = recalls::accessible(&state.db, &user, id).await?;
    let details = body.parse()?;
    recalls::recall(&state.db, &user, &batch, details).await?;
    publish(&state, &batch).await;
    Ok((StatusCode::CREATED, Json(view(&state, &batch).await?)).into_response())
}

/// The lot's recall with its figures: units shipped and in stock, buyers told, scans since
/// (members, or the province); 404 when the lot was never recalled.
#[utoipa::path(get, path = "/batches/{id}/recall", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    responses(
        (status = 200, body = RecallView),
        (status = 401, body = Problem, description = "Not logged in"),
        (status = 404, body = Problem),
    ))]
pub(super) async fn get_recall(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<RecallView>> {
    let batch = recalls::accessible(&state.db, &user, id).await?;
    Ok(Json(view(&state, &batch).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ClearRecallRequest {
    /// Must be `true`: the remaining stock of the lot was checked and is safe.
    pub remaining_stock_safe: bool,
}

/// Clear a lot's open recall once its remaining stock is confirmed safe: the product goes back
/// on sale; the lot's stamps keep reading "recalled", with the date it was cleared. A recall
/// made by the province is cleared only by the province.
#[utoipa::path(post, path = "/batches/{id}/recall/clear", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    request_body = ClearRecallRequest,
    responses(
        (status = 200, body = RecallView),
        (status = 401, body = Problem, description = "Not logged in"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`not_recalled` or `recalled_by_province`"),
        (status = 422, body = Problem, description = "The confirmation is missing"),
    ))]
pub(super) async fn clear_recall(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ClearRecallRequest>,
) -> AppResult<Json<RecallView>> {
    let batch = recalls::accessible(&state.db, &user, id).await?;
    recalls::clear(&state.db, &user, &batch, body.remaining_stock_safe).await?;
    publish(&state, &batch).await;
    Ok(Json(view(&state, &batch).await?))
}

/// The order lines packed from a lot (members, or the province): order number, quantity and
/// whether the buyer was told of a recall; no buyer's name, phone or address.
#[utoipa::path(get, path = "/batches/{id}/orders", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    responses(
        (status = 200, body = [ShippedLine]),
        (status = 401, body = Problem, description = "Not logged in"),
        (status = 404, body = Problem),
    ))]
pub(super) async fn batch_orders(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<ShippedLine>>> {
    let batch = recalls::accessible(&state.db, &user, id).await?;
    Ok(Json(recalls::shipped_lines(&state.db, &batch).await?))
}
