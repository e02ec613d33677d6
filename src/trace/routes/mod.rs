//! Trace handlers: the public scan page and the cooperative's workspace pages (HTML), and the
//! trace JSON API. Each handler file calls the trace services (`verdict`, `fake_reports`,
//! `exports`, `batches`, `stamps`…) and none calls another; this file holds the route tables.

mod analytics_pages;
mod api_batches;
mod api_fake_reports;
mod api_recalls;
mod api_scans;
mod api_stamps;
mod batch_pages;
mod resolver_pages;
mod scan_page;
mod scan_view;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The trace pages.
pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/s/{code}", get(scan_page::scan_plain))
        .route("/S/{code}", get(scan_page::scan_plain))
        .route(
            "/s/{code}/{lot}/{serial}/{signature}",
            get(scan_page::scan_signed),
        )
        .route(
            "/S/{code}/{lot}/{serial}/{signature}",
            get(scan_page::scan_signed),
        )
        .route("/01/{gtin}", get(resolver_pages::resolve_item))
        .route("/01/{gtin}/10/{lot}", get(resolver_pages::resolve_lot))
        .route(
            "/01/{gtin}/10/{lot}/21/{serial}",
            get(scan_page::scan_digital_link),
        )
        .route("/s/{code}/report", post(scan_page::report_fake))
        .route(
            "/01/{gtin}/10/{lot}/21/{serial}/report",
            post(scan_page::report_fake_digital_link),
        )
        .route(
            "/.well-known/ocop-stamp-keys.json",
            get(scan_page::published_keys),
        )
        .route(
            "/workspace/products/{id}/batches/new",
            get(batch_pages::new_batch_page).post(batch_pages::new_batch_submit),
        )
        .route("/workspace/batches/{id}", get(batch_pages::batch_page))
        .route(
            "/workspace/batches/{id}/events",
            post(batch_pages::event_submit),
        )
        .route(
            "/workspace/batches/{id}/photos",
            post(batch_pages::batch_photo_submit)
                .layer(DefaultBodyLimit::max(crate::media::routes::MAX_UPLOAD_BODY)),
        )
        .route(
            "/workspace/batches/{id}/stamps",
            post(batch_pages::issue_submit),
        )
        .route(
            "/workspace/batches/{id}/stamps/void",
            post(batch_pages::void_submit),
        )
        .route(
            "/workspace/batches/{id}/recall",
            post(batch_pages::recall_submit),
        )
        .route(
            "/workspace/batches/{id}/recall/clear",
            post(batch_pages::clear_recall_submit),
        )
        .route(
            "/workspace/batches/{id}/labels.pdf",
            get(api_stamps::api_labels_pdf),
        )
        .route(
            "/workspace/batches/{id}/stamps.csv",
            get(api_stamps::api_stamps_csv),
        )
        .route(
            "/workspace/cooperatives/{id}/scans",
            get(analytics_pages::cooperative_scans),
        )
        .route("/admin/scans", get(analytics_pages::admin_scans))
        .route(
            "/workspace/stamps/{id}/flag-review",
            post(analytics_pages::review_flag_submit),
        )
        .route(
            "/workspace/fake-reports/{id}",
            post(analytics_pages::work_fake_report_submit),
        )
}

/// The trace JSON API.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            api_batches::list_batches,
            api_batches::create_batch
        ))
        .routes(routes!(api_batches::get_batch))
        .routes(routes!(api_batches::list_events, api_batches::record_event))
        .routes(routes!(api_batches::export_epcis))
        .routes(routes!(api_recalls::recall_batch, api_recalls::get_recall))
        .routes(routes!(api_recalls::clear_recall))
        .routes(routes!(api_recalls::batch_orders))
        .routes(routes!(api_stamps::list_stamps, api_stamps::issue_stamps))
        .routes(routes!(api_stamps::void_stamps))
        .routes(routes!(api_stamps::api_labels_pdf))
        .routes(routes!(api_stamps::api_stamps_csv))
        .routes(routes!(api_stamps::stamp_qr))
        .routes(routes!(api_stamps::review_flag))
        .routes(routes!(api_stamps::flag_reviews))
        .routes(routes!(api_scans::cooperative_scan_analytics))
        .routes(routes!(api_scans::admin_scan_analytics))
        .routes(routes!(api_scans::public_scan))
        .routes(routes!(api_scans::public_report))
        .routes(routes!(api_fake_reports::list_fake_reports))
        .routes(routes!(api_fake_reports::get_fake_report))
        .routes(routes!(api_fake_reports::work_fake_report))
}

/// A file to download: its content type, and the name a browser saves it under.
fn attachment(content_type: &'static str, file_name: &str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response()
}
