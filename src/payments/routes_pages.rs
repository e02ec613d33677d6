//! HTML pages (being written).

use axum::Router;

use crate::AppState;

pub fn page_routes() -> Router<AppState> {
    Router::new()
}
