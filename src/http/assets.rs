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

static JS_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = HEXLOWER.encode(&Sha256::digest(JS.as_bytes()));
    format!("/static/app.{}.js", &digest[..12])
});

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

pub async fn serve_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        JS,
    )
        .into_response()
}
