//! The trace API of stamps: listing, issuing and voiding them, their QR codes, and a batch's
//! label sheet and print-shop CSV.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::accounts::Authenticated;
use crate::changes::Change;
use crate::domain::{FieldIssue, StampCode};
use crate::error::{AppError, AppResult, FieldErrors, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::qr::{self, EcLevel, QrMatrix};
use crate::trace::batches;
use crate::trace::exports::{self, CsvParams, LabelParams};
use crate::trace::flags::{self, FlagReviewRequest, FlagReviewView};
use crate::trace::stamps::{self, IssueRequest, IssuedRoll, VoidRequest};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// From 1.
    page: Option<u64>,
    /// 1 to 1000 (default 100).
    per_page: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StampView {
    pub serial: i64,
    pub code: String,
    pub roll: i32,
    pub status: String,
    pub void_reason: Option<String>,
    /// What the QR encodes.
    pub qr_url: String,
    pub scan_count: i64,
    pub distinct_clients: i32,
    pub flagged: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StampPage {
    pub items: Vec<StampView>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

/// A batch's stamps by serial (members).
#[utoipa::path(get, path = "/batches/{id}/stamps", tag = "trace",
    params(("id" = i64, Path, description = "Batch id"), PageParams),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = StampPage), (status = 404, body = Problem)))]
pub(super) async fn list_stamps(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> AppResult<Json<StampPage>> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let page = params.page.unwrap_or(1).max(1);
    let per_page = params.per_page.unwrap_or(100).clamp(1, 1000);
    let (rows, total) = stamps::of_batch(&state.db, batch.id, page, per_page).await?;
    Ok(Json(StampPage {
        items: rows
            .iter()
            .map(|s| StampView {
                serial: s.serial,
                code: s.code.clone(),
                roll: s.roll,
                status: s.status.clone(),
                void_reason: s.void_reason.clone(),
                qr_url: stamps::qr_url(&state.config.public_url, s, &batch.lot_code),
                scan_count: s.scan_count,
                distinct_clients: s.distinct_clients,
                flagged: s.flagged,
            })
            .collect(),
        page,
        per_page,
        total,
    }))
}

/// Issue 1 to 100,000 stamps for a batch, in one transaction.
#[utoipa::path(post, path = "/batches/{id}/stamps", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    request_body = IssueRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 201, body = IssuedRoll), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn issue_stamps(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<IssueRequest>,
) -> AppResult<Response> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let count =
        stamps::parse_count(body.count).map_err(|issue| FieldErrors::single("count", issue))?;
    let roll = stamps::issue(&state.db, &state.signer, &batch, count, body.signed, |_| {
        Ok(())
    })
    .await?;
    state.changes.publish(&[Change::StampsIssued]).await;
    Ok((StatusCode::CREATED, Json(roll)).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoidResult {
    pub voided: u64,
}

/// Void one stamp, a serial range or a whole roll.
#[utoipa::path(post, path = "/batches/{id}/stamps/void", tag = "trace",
    params(("id" = i64, Path, description = "Batch id")),
    request_body = VoidRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = VoidResult), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn void_stamps(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<VoidRequest>,
) -> AppResult<Json<VoidResult>> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let voided = stamps::void(&state.db, &batch, &body.selection, &body.reason).await?;
    state.changes.publish(&[Change::StampsVoided]).await;
    Ok(Json(VoidResult { voided }))
}

/// A batch's label sheet (PDF, A4, vector QR codes).
#[utoipa::path(get, path = "/batches/{id}/labels.pdf", tag = "trace",
    params(("id" = i64, Path, description = "Batch id"), LabelParams),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, description = "application/pdf"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn api_labels_pdf(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<LabelParams>,
) -> AppResult<Response> {
    let (batch, product, _) = batches::managed(&state.db, &user, id).await?;
    let pdf = exports::label_sheet(
        &state.db,
        &state.config.public_url,
        &batch,
        &product,
        &params,
    )
    .await?;
    Ok(super::attachment(
        "application/pdf",
        &exports::file_name(&batch, "pdf"),
        pdf,
    ))
}

/// A batch's stamps as CSV for a print shop.
#[utoipa::path(get, path = "/batches/{id}/stamps.csv", tag = "trace",
    params(("id" = i64, Path, description = "Batch id"), CsvParams),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, description = "text/csv"), (status = 404, body = Problem)))]
pub(super) async fn api_stamps_csv(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<CsvParams>,
) -> AppResult<Response> {
    let (batch, product, _) = batches::managed(&state.db, &user, id).await?;
    let csv = exports::stamps_csv(
        &state.db,
        &state.config.public_url,
        &batch,
        &product,
        &params,
    )
    .await?;
    Ok(super::attachment(
        "text/csv; charset=utf-8",
        &exports::file_name(&batch, "csv"),
        csv,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrParams {
    /// `svg` (default) or `png`.
    format: Option<String>,
    /// Pixels, 64 to 4096 (default 512).
    size: Option<u32>,
    /// Error correction: L, M (default), Q or H.
    ec: Option<String>,
}

/// One stamp's QR code as SVG or PNG (members of its cooperative).
#[utoipa::path(get, path = "/stamps/{code}/qr", tag = "trace",
    params(("code" = String, Path, description = "Stamp code"), QrParams),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, description = "image/svg+xml or image/png"), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn stamp_qr(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(code): ApiPath<String>,
    ApiQuery(params): ApiQuery<QrParams>,
) -> AppResult<Response> {
    let code = StampCode::parse(&code).map_err(|_| AppError::NotFound)?;
    let stamp = stamps::by_code(&state.db, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let (batch, _, _) = batches::managed(&state.db, &user, stamp.batch_id).await?;
    let ec = match params.ec.as_deref() {
        None => EcLevel::M,
        Some(text) => EcLevel::parse(text).ok_or_else(|| {
            FieldErrors::single("ec", FieldIssue::new("invalid_ec_level", "L, M, Q or H"))
        })?,
    };
    let size = params.size.unwrap_or(512);
    if !(64..=4096).contains(&size) {
        return Err(FieldErrors::single(
            "size",
            FieldIssue::new("invalid_size", "64 to 4096 pixels"),
        ));
    }
    let url = stamps::qr_url(&state.config.public_url, &stamp, &batch.lot_code);
    let matrix = QrMatrix::encode(&url, ec)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("QR encoding: {e}")))?;
    match params.format.as_deref().unwrap_or("svg") {
        "svg" => Ok((
            [(header::CONTENT_TYPE, "image/svg+xml")],
            qr::render_svg(&matrix, size),
        )
            .into_response()),
        "png" => {
            let png = tokio::task::spawn_blocking(move || qr::render_png(&matrix, size))
                .await
                .map_err(|e| AppError::Internal(e.into()))?
                .map_err(|e| AppError::Internal(anyhow::anyhow!("PNG: {e}")))?;
            Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
        }
        _ => Err(FieldErrors::single(
            "format",
            FieldIssue::new("invalid_format", "svg or png"),
        )),
    }
}

/// Review a stamp's likely-copy flag: clear it (not a copy) or confirm it (a copied code), with
/// a reason (members of its cooperative, administrators).
#[utoipa::path(post, path = "/stamps/{id}/flag-review", tag = "trace",
    params(("id" = i64, Path, description = "Stamp id (from the scan analytics)")),
    request_body = FlagReviewRequest,
    responses(
        (status = 201, body = FlagReviewView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "No flag waiting for that decision"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn review_flag(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<FlagReviewRequest>,
) -> AppResult<Response> {
    let review = flags::review(&state.db, &state.scans, &user, id, &body).await?;
    Ok((StatusCode::CREATED, Json(review)).into_response())
}

/// The reviews of a stamp's flag, newest first: the audit trail.
#[utoipa::path(get, path = "/stamps/{id}/flag-reviews", tag = "trace",
    params(("id" = i64, Path, description = "Stamp id")),
    responses(
        (status = 200, body = [FlagReviewView]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn flag_reviews(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<FlagReviewView>>> {
    Ok(Json(flags::reviews_of(&state.db, &user, id).await?))
}
