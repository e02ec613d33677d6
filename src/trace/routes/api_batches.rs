//! The trace API of batches: batches, their events and their EPCIS document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::accounts::Authenticated;
use crate::catalog::access;
use crate::changes::Change;
use crate::entities::batches as batch_rows;
use crate::error::{AppError, AppResult, Problem};
use crate::http::extract::{ApiJson, ApiPath};
use crate::trace::batches::{self, BatchInput};
use crate::trace::epcis;
use crate::trace::events::{self, EventInput, EventView};

/// A batch as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchView {
    pub id: i64,
    pub product_id: i64,
    pub cooperative_id: i64,
    pub lot_code: String,
    pub harvested_on: Option<NaiveDate>,
    pub produced_on: Option<NaiveDate>,
    pub best_before: Option<NaiveDate>,
    pub quantity: i64,
    pub quantity_unit: String,
    pub origin_commune_code: String,
    pub origin: String,
    pub plot_name: Option<String>,
    pub plot_latitude: Option<f64>,
    pub plot_longitude: Option<f64>,
    pub certifications: String,
    pub certification_document_url: Option<String>,
}

fn batch_view(state: &AppState, b: &batch_rows::Model) -> BatchView {
    BatchView {
        id: b.id,
        product_id: b.product_id,
        cooperative_id: b.cooperative_id,
        lot_code: b.lot_code.clone(),
        harvested_on: b.harvested_on,
        produced_on: b.produced_on,
        best_before: b.best_before,
        quantity: b.quantity,
        quantity_unit: b.quantity_unit.clone(),
        origin_commune_code: b.origin_commune_code.clone(),
        origin: state.reference.place_name(&b.origin_commune_code),
        plot_name: b.plot_name.clone(),
        plot_latitude: b.plot_latitude,
        plot_longitude: b.plot_longitude,
        certifications: b.certifications.clone(),
        certification_document_url: b.certification_document_url.clone(),
    }
}

/// The batches of a product (members of its cooperative).
#[utoipa::path(get, path = "/products/{id}/batches", tag = "trace",
    params(("id" = i64, Path, description = "Product id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [BatchView]), (status = 404, body = Problem)))]
pub(super) async fn list_batches(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<BatchView>>> {
    let (product, _) = access::managed_product(&state.db, &user, id).await?;
    let rows = batches::of_product(&state.db, product.id).await?;
    Ok(Json(rows.iter().map(|b| batch_view(&state, b)).collect()))
}

/// Record a batch (lot) of a product.
#[utoipa::path(post, path = "/products/{id}/batches", tag = "trace",
    params(("id" = i64, Path, description = "Product id")),
    request_body = BatchInput,
    responses((status = 401, body = Problem, description = "Not logged in"), 
        (status = 201, body = BatchView),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Lot code already used for this product"),
        (status = 422, body = Problem),
    ))]
pub(super) async fn create_batch(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<BatchInput>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let details = body.parse(&state.reference)?;
    let batch = batches::create(&state.db, &user, &membership, &product, details).await?;
    Ok((StatusCode::CREATED, Json(batch_view(&state, &batch))).into_response())
}

/// A batch (members).
#[utoipa::path(get, path = "/batches/{id}", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = BatchView), (status = 404, body = Problem)))]
pub(super) async fn get_batch(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<BatchView>> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    Ok(Json(batch_view(&state, &batch)))
}

/// A batch's trace events in time order (members).
#[utoipa::path(get, path = "/batches/{id}/events", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [EventView]), (status = 404, body = Problem)))]
pub(super) async fn list_events(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<EventView>>> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    Ok(Json(
        events::of_batch(&state.db, &state.reference, batch.id).await?,
    ))
}

/// Record a trace event on a batch.
#[utoipa::path(post, path = "/batches/{id}/events", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    request_body = EventInput,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 201, body = EventView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn record_event(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<EventInput>,
) -> AppResult<Response> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let details = body.parse(&state.reference)?;
    let event = events::record(&state.db, &user, &batch, details).await?;
    state.changes.publish(&[Change::Batch(batch.id)]).await;
    let view = events::of_batch(&state.db, &state.reference, batch.id)
        .await?
        .into_iter()
        .find(|e| e.id == event.id)
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The batch's history as an EPCIS 2.0 JSON-LD document.
#[utoipa::path(get, path = "/batches/{id}/epcis", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, description = "EPCISDocument (application/ld+json)"), (status = 404, body = Problem)))]
pub(super) async fn export_epcis(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let (batch, product, _) = batches::managed(&state.db, &user, id).await?;
    let events = events::of_batch(&state.db, &state.reference, batch.id).await?;
    let inputs = epcis::input_classes(&state.db, &state.config.public_url, &events).await?;
    let gtin =
        crate::catalog::variants::gtin_of_variant(&state.db, &product, batch.variant_id).await?;
    let document = epcis::document(
        &state.config.public_url,
        &product,
        &batch,
        gtin.as_deref(),
        &events,
        &inputs,
    );
    Ok((
        [(header::CONTENT_TYPE, "application/ld+json")],
        Json(document),
    )
        .into_response())
}
