//! Our own CSS and JavaScript, compiled into the binary. The stylesheet is small and inlined in
//! every page (one round trip on slow networks; its hash goes into the CSP); the script is
//! optional enhancement, served under a content-hashed name with an immutable cache header.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use data_encoding::{BASE64, HEXLOWER};
use sha2::{Digest, Sha256};

pub const CSS: &str = include_str!("../../frontend/static/app.css");
pub const JS: &str = include_str!("../../frontend/static/app.js");
/// Search suggestions while typing (see `frontend/static/search.js`).
pub const SEARCH_JS: &str = include_str!("../../frontend/static/search.js");

/// `/static/{name}.{first 12 hex digits of the content's SHA-256}.js`.
fn hashed_path(name: &str, content: &str) -> String {
    let digest = HEXLOWER.encode(&Sha256::digest(content.as_bytes()));
    format!("/static/{name}.{}.js", &digest[..12])
}

static JS_PATH: LazyLock<String> = LazyLock::new(|| hashed_path("app", JS));
static SEARCH_JS_PATH: LazyLock<String> = LazyLock::new(|| hashed_path("search", SEARCH_JS));

/// `sha256-…` source of the inline stylesheet, for the Content-Security-Policy.
pub static CSS_HASH_SOURCE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "'sha256-{}'",
        BASE64.encode(&Sha256::digest(CSS.as_bytes()))
    )
});

pub fn js_path() -> &'static str {
    JS_PATH.as_str()
}

pub fn search_js_path() -> &'static str {
    SEARCH_JS_PATH.as_str()
}

pub async fn serve_js() -> Response {
    script(JS)
}

pub async fn serve_search_js() -> Response {
    script(SEARCH_JS)
}

fn script(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}
