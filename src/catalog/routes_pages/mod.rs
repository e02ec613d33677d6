//! The catalogue's HTML pages: the public shop and the cooperative workspace. Every page works
//! without JavaScript; forms answer 422 with the errors beside the fields and keep the input.

mod public;
mod variants;
mod workspace;

use axum::Router;

use crate::AppState;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .merge(public::routes())
        .merge(workspace::routes())
        .merge(variants::routes())
}
