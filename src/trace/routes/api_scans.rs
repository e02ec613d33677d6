//! The public scan API (a check of a code, a fake report) and scan analytics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::accounts::Authenticated;
use crate::catalog::access;
use crate::domain::{FieldIssue, StampCode};
use crate::error::{AppResult, FieldErrors, Problem};
use crate::http::client::ClientAddr;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::i18n::Lang;
use crate::trace::analytics::{ScanAnalytics, scan_analytics};
use crate::trace::events::EventView;
use crate::trace::fake_reports::{self, FakeReportForm};
use crate::trace::scans::Verdict;
use crate::trace::verdict;

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
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = ScanAnalytics), (status = 404, body = Problem)))]
pub(super) async fn cooperative_scan_analytics(
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
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = ScanAnalytics), (status = 403, body = Problem)))]
pub(super) async fn admin_scan_analytics(
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
pub(super) async fn public_scan(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
    ApiQuery(query): ApiQuery<ScanQuery>,
) -> AppResult<Response> {
    state.limits.check_scan(client).await?;
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
    state.changes.catch_up().await;
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
    /// An e-mail address or a Vietnamese mobile number to be told the outcome. It is used
    /// for that message only: no page or API shows it.
    #[serde(default)]
    contact: String,
}

/// Report a suspected fake (the code may be unknown). Rate-limited per client.
#[utoipa::path(post, path = "/scan/{code}/reports", tag = "trace",
    params(("code" = String, Path, description = "Stamp code as printed")),
    request_body = FakeReportRequest,
    responses((status = 202, description = "Report received"), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub(super) async fn public_report(
    State(state): State<AppState>,
    lang: Lang,
    ClientAddr(client): ClientAddr,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<FakeReportRequest>,
) -> AppResult<StatusCode> {
    state.limits.check_report(client).await?;
    let details = FakeReportForm {
        place_of_purchase: body.place_of_purchase,
        seller: body.seller,
        note: body.note,
        province: body.province,
        contact: body.contact,
    }
    .parse(&state.reference)?;
    let code: String = code.chars().take(40).collect();
    fake_reports::store(
        &state.db,
        &state.trace_cache,
        &state.hasher,
        &code,
        client,
        lang,
        details,
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}
