//! Operations: `GET /metrics` in the Prometheus text format.
//!
//! Recorded as they happen (through the `metrics` facade): HTTP requests by route, method and
//! status, with their latency. Read when Prometheus asks: scans judged and written, the scan
//! writer's backlog, search outbox lag, and database pool use.
//!
//! The endpoint is open on a developer's machine. With `OCOP_METRICS_TOKEN` set it answers only
//! `Authorization: Bearer <token>`; in production mode without a token it does not exist (404):
//! the figures say how busy the platform is, which is nobody else's business.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::AppState;
use crate::error::AppError;

/// Request latency buckets, in seconds: from a cached scan page to a slow label sheet.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The process's one recorder. Installed once: every app in a process (tests start many)
/// records into it.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (a test harness) keeps receiving; ours renders
        // nothing then, which the metrics test would show.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the recorder (idempotent); call before serving.
pub fn install() {
    handle();
}

/// Counts each request and its latency by route template (never the raw path, which would let
/// a scraper of random URLs grow the series without bound).
pub async fn record_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn serve_metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    let token = state.config.metrics_token.as_ref();
    match token {
        None if state.config.production => return AppError::NoRoute.into_response(),
        None => {}
        Some(token) => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            let matches = given.is_some_and(|given| {
                use subtle::ConstantTimeEq;
                given.as_bytes().ct_eq(token.expose().as_bytes()).into()
            });
            if !matches {
                // A plain 401 for the scraper, not the login redirect pages answer.
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    "a bearer token is required\n",
                )
                    .into_response();
            }
        }
    }
    read_gauges(&state).await;
    let mut response = (StatusCode::OK, handle().render()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Figures read at scrape time rather than counted as they happen.
async fn read_gauges(state: &AppState) {
    let (judged, written) = state.scans.counts();
    metrics::gauge!("redis_in_use").set(if state.shared.is_some() { 1.0 } else { 0.0 });
    metrics::gauge!("scans_judged").set(judged as f64);
    metrics::gauge!("scans_written").set(written as f64);
    metrics::gauge!("scan_writer_backlog").set(state.scans.backlog().await as f64);
    if let Ok((pending, oldest_secs)) = outbox_lag(&state.db).await {
        metrics::gauge!("search_outbox_pending").set(pending as f64);
        metrics::gauge!("search_outbox_oldest_seconds").set(oldest_secs);
    }
    let (size, idle) = pool_use(&state.db);
    metrics::gauge!("db_pool_connections").set(f64::from(size));
    metrics::gauge!("db_pool_idle").set(idle as f64);
}

/// Outbox rows not yet indexed, and the age of the oldest.
async fn outbox_lag(db: &DatabaseConnection) -> Result<(i64, f64), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT count(*), coalesce(extract(epoch FROM now() - min(enqueued_at)), 0)::float8 \
             FROM search_outbox WHERE processed_at IS NULL"
        }
        _ => {
            "SELECT count(*), coalesce((julianday('now') - julianday(min(enqueued_at))) * 86400.0, 0.0) \
             FROM search_outbox WHERE processed_at IS NULL"
        }
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?;
    Ok(match row {
        Some(row) => (
            row.try_get_by_index::<i64>(0)?,
            row.try_get_by_index::<f64>(1)?,
        ),
        None => (0, 0.0),
    })
}

/// Connections open in the pool, and how many of them are idle.
fn pool_use(db: &DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    }
}
