//! The trace JSON API (and the downloads the workspace pages link to).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::analytics::{ScanAnalytics, scan_analytics};
use super::batches::{self, BatchInput};
use super::epcis;
use super::events::{self, EventInput, EventView};
use super::exports::{self, CsvParams, LabelParams};
use super::fake_reports::{self, FakeReportForm};
use super::scans::Verdict;
use super::stamps::{self, IssueRequest, IssuedRoll, VoidRequest};
use super::verdict;
use crate::AppState;
use crate::accounts::Authenticated;
use crate::catalog::access;
use crate::domain::{FieldIssue, StampCode};
use crate::entities::batches as batch_rows;
use crate::error::{AppError, AppResult, FieldErrors, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::rate_limit::ClientAddr;
use crate::qr::{self, EcLevel, QrMatrix};

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_batches, create_batch))
        .routes(routes!(get_batch))
        .routes(routes!(list_events, record_event))
        .routes(routes!(export_epcis))
        .routes(routes!(list_stamps, issue_stamps))
        .routes(routes!(void_stamps))
        .routes(routes!(api_labels_pdf))
        .routes(routes!(api_stamps_csv))
        .routes(routes!(stamp_qr))
        .routes(routes!(cooperative_scan_analytics))
        .routes(routes!(admin_scan_analytics))
        .routes(routes!(public_scan))
        .routes(routes!(public_report))
}

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
    responses((status = 200, body = [BatchView]), (status = 404, body = Problem)))]
async fn list_batches(
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
    responses(
        (status = 201, body = BatchView),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Lot code already used for this product"),
        (status = 422, body = Problem),
    ))]
async fn create_batch(
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
    responses((status = 200, body = BatchView), (status = 404, body = Problem)))]
async fn get_batch(
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
    responses((status = 200, body = [EventView]), (status = 404, body = Problem)))]
async fn list_events(
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
    responses((status = 201, body = EventView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn record_event(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<EventInput>,
) -> AppResult<Response> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let details = body.parse(&state.reference)?;
    let event = events::record(&state.db, &user, &batch, details).await?;
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
    responses((status = 200, description = "EPCISDocument (application/ld+json)"), (status = 404, body = Problem)))]
async fn export_epcis(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let (batch, product, _) = batches::managed(&state.db, &user, id).await?;
    let events = events::of_batch(&state.db, &state.reference, batch.id).await?;
    let inputs = epcis::input_classes(&state.db, &state.config.public_url, &events).await?;
    let document = epcis::document(&state.config.public_url, &product, &batch, &events, &inputs);
    Ok((
        [(header::CONTENT_TYPE, "application/ld+json")],
        Json(document),
    )
        .into_response())
}

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
    responses((status = 200, body = StampPage), (status = 404, body = Problem)))]
async fn list_stamps(
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
    responses((status = 201, body = IssuedRoll), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn issue_stamps(
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
    responses((status = 200, body = VoidResult), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn void_stamps(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<VoidRequest>,
) -> AppResult<Json<VoidResult>> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let voided = stamps::void(&state.db, &batch, &body.selection, &body.reason).await?;
    state.trace_cache.forget_voided().await;
    Ok(Json(VoidResult { voided }))
}

/// Renders a batch's label sheet PDF.
pub(super) async fn labels_pdf(
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
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}\"",
                    exports::file_name(&batch, "pdf")
                ),
            ),
        ],
        pdf,
    )
        .into_response())
}

/// A batch's label sheet (PDF, A4, vector QR codes).
#[utoipa::path(get, path = "/batches/{id}/labels.pdf", tag = "trace",
    params(("id" = i64, Path, description = "Batch id"), LabelParams),
    responses((status = 200, description = "application/pdf"), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn api_labels_pdf(
    state: State<AppState>,
    user: Authenticated,
    id: ApiPath<i64>,
    params: ApiQuery<LabelParams>,
) -> AppResult<Response> {
    labels_pdf(state, user, id, params).await
}

/// Renders a batch's print-shop CSV.
pub(super) async fn stamps_csv(
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
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}\"",
                    exports::file_name(&batch, "csv")
                ),
            ),
        ],
        csv,
    )
        .into_response())
}

/// A batch's stamps as CSV for a print shop.
#[utoipa::path(get, path = "/batches/{id}/stamps.csv", tag = "trace",
    params(("id" = i64, Path, description = "Batch id"), CsvParams),
    responses((status = 200, description = "text/csv"), (status = 404, body = Problem)))]
async fn api_stamps_csv(
    state: State<AppState>,
    user: Authenticated,
    id: ApiPath<i64>,
    params: ApiQuery<CsvParams>,
) -> AppResult<Response> {
    stamps_csv(state, user, id, params).await
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
    responses((status = 200, description = "image/svg+xml or image/png"), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn stamp_qr(
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// Days back from today, 1 to 366 (default 30).
    days: Option<i64>,
}

fn days(params: &AnalyticsParams) -> AppResult<i64> {
    match params.days {
        None => Ok(30),
        Some(d @ 1..=366) => Ok(d),
        Some(_) => Err(FieldErrors::single(
            "days",
            FieldIssue::new("invalid_days", "1 to 366"),
        )),
    }
}

/// Scan analytics of a cooperative (members).
#[utoipa::path(get, path = "/cooperatives/{id}/scan-analytics", tag = "trace",
    params(("id" = i64, Path, description = "Cooperative id"), AnalyticsParams),
    responses((status = 200, body = ScanAnalytics), (status = 404, body = Problem)))]
async fn cooperative_scan_analytics(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<AnalyticsParams>,
) -> AppResult<Json<ScanAnalytics>> {
    access::membership(&state.db, &user, id).await?;
    let days = days(&params)?;
    Ok(Json(
        scan_analytics(&state.db, &state.reference, Some(id), days).await?,
    ))
}

/// Scan analytics of every cooperative (administrators).
#[utoipa::path(get, path = "/admin/scan-analytics", tag = "admin", params(AnalyticsParams),
    responses((status = 200, body = ScanAnalytics), (status = 403, body = Problem)))]
async fn admin_scan_analytics(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiQuery(params): ApiQuery<AnalyticsParams>,
) -> AppResult<Json<ScanAnalytics>> {
    user.require_admin()?;
    let days = days(&params)?;
    Ok(Json(
        scan_analytics(&state.db, &state.reference, None, days).await?,
    ))
}

/// What a scan answers through the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScanResult {
    pub code: String,
    pub verdict: Verdict,
    pub serial: Option<i64>,
    pub product_name: Option<String>,
    pub cooperative_name: Option<String>,
    pub origin: Option<String>,
    pub lot_code: Option<String>,
    pub events: Vec<EventView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScanQuery {
    /// Province where the package was bought (opt-in).
    province: Option<String>,
    /// Opt-in position, decimal degrees (rounded to about a kilometre).
    lat: Option<f64>,
    lon: Option<f64>,
    /// A stable id of the scanning app installation, so that re-checks by the same phone are
    /// recognised.
    client_id: Option<String>,
}

/// Check a stamp code: the verdict and the origin. Counts as a scan; rate-limited per client.
#[utoipa::path(get, path = "/scan/{code}", tag = "trace",
    params(("code" = String, Path, description = "Stamp code"), ScanQuery),
    responses((status = 200, body = ScanResult), (status = 404, body = ScanResult, description = "Unknown code"), (status = 429, body = Problem)))]
async fn public_scan(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
    ApiQuery(query): ApiQuery<ScanQuery>,
) -> AppResult<Response> {
    state.limits.check_scan(client)?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut input = verdict::identify_app_client(
        &state.hasher,
        query.client_id.as_deref(),
        client,
        user_agent,
    );
    verdict::add_place(
        &state.reference,
        &mut input,
        query.province.as_deref(),
        query.lat,
        query.lon,
    );
    let parsed = StampCode::parse(&code).ok();
    let (verdict, found) = match &parsed {
        Some(c) => {
            verdict::judge(&state.trace_cache, &state.reference, &state.scans, c, input).await?
        }
        None => (Verdict::Unknown, None),
    };
    let status = if found.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let result = ScanResult {
        code: parsed.map(|c| c.as_str().to_owned()).unwrap_or(code),
        verdict,
        serial: found.as_ref().map(|(s, _)| s.serial),
        product_name: found.as_ref().map(|(_, o)| o.product_name.clone()),
        cooperative_name: found.as_ref().map(|(_, o)| o.cooperative_name.clone()),
        origin: found.as_ref().map(|(_, o)| o.place.label()),
        lot_code: found.as_ref().map(|(_, o)| o.lot_code.clone()),
        events: found.map(|(_, o)| o.events.clone()).unwrap_or_default(),
    };
    Ok((status, Json(result)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FakeReportRequest {
    place_of_purchase: String,
    #[serde(default)]
    seller: String,
    #[serde(default)]
    note: String,
    /// Province code where it was bought.
    #[serde(default)]
    province: String,
}

/// Report a suspected fake (the code may be unknown). Rate-limited per client.
#[utoipa::path(post, path = "/scan/{code}/reports", tag = "trace",
    params(("code" = String, Path, description = "Stamp code as printed")),
    request_body = FakeReportRequest,
    responses((status = 202, description = "Report received"), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn public_report(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<FakeReportRequest>,
) -> AppResult<StatusCode> {
    state.limits.check_report(client)?;
    let details = FakeReportForm {
        place_of_purchase: body.place_of_purchase,
        seller: body.seller,
        note: body.note,
        province: body.province,
    }
    .parse(&state.reference)?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let code: String = code.chars().take(40).collect();
    fake_reports::store(
        &state.db,
        &state.trace_cache,
        &state.hasher,
        &code,
        client,
        user_agent,
        details,
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}
