//! Our own CSS and JavaScript, compiled into the binary. The stylesheet is small and inlined in
//! every page (one round trip on slow networks; its hash goes into the CSP); the script is
//! optional enhancement, served under a content-hashed name with an immutable cache header, as
//! is the site icon (without one, every browser asks for `/favicon.ico` and logs a 404).

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use data_encoding::{BASE64, HEXLOWER};
use sha2::{Digest, Sha256};

pub const CSS: &str = include_str!("../../frontend/static/app.css");
pub const JS: &str = include_str!("../../frontend/static/app.js");
/// Search suggestions while typing (see `frontend/static/search.js`).
pub const SEARCH_JS: &str = include_str!("../../frontend/static/search.js");
/// The scan page's opt-in position button (see `frontend/static/scan.js`).
pub const SCAN_JS: &str = include_str!("../../frontend/static/scan.js");
/// The site icon, a few hundred bytes of SVG.
pub const ICON: &str = include_str!("../../frontend/static/icon.svg");

/// `/static/{name}.{first 12 hex digits of the content's SHA-256}.{extension}`.
fn hashed_path(name: &str, extension: &str, content: &str) -> String {
    let digest = HEXLOWER.encode(&Sha256::digest(content.as_bytes()));
    format!("/static/{name}.{}.{extension}", &digest[..12])
}

static JS_PATH: LazyLock<String> = LazyLock::new(|| hashed_path("app", "js", JS));
static SEARCH_JS_PATH: LazyLock<String> = LazyLock::new(|| hashed_path("search", "js", SEARCH_JS));
static SCAN_JS_PATH: LazyLock<String> = LazyLock::new(|| hashed_path("scan", "js", SCAN_JS));
static ICON_PATH: LazyLock<String> = LazyLock::new(|| hashed_path("icon", "svg", ICON));

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

pub fn scan_js_path() -> &'static str {
    SCAN_JS_PATH.as_str()
}

pub fn icon_path() -> &'static str {
    ICON_PATH.as_str()
}

pub async fn serve_js() -> Response {
    script(JS)
}

pub async fn serve_search_js() -> Response {
    script(SEARCH_JS)
}

pub async fn serve_scan_js() -> Response {
    script(SCAN_JS)
}

pub async fn serve_icon() -> Response {
    immutable("image/svg+xml", ICON)
}

/// `/favicon.ico`, asked for by clients that do not read the pages' icon link (a bookmark, a
/// download): the current icon.
pub async fn favicon() -> Response {
    axum::response::Redirect::temporary(icon_path()).into_response()
}

fn script(body: &'static str) -> Response {
    immutable("text/javascript; charset=utf-8", body)
}

fn immutable(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}
