//! Middleware: HTML error pages for page routes and security headers for every response.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::assets::CSS_HASH_SOURCE;
use super::error::ErrorInfo;
use super::page::{PageContext, urlencode};
use crate::i18n::lang_of;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: PageContext,
    status: u16,
    title_key: &'static str,
    message_key: &'static str,
}

/// Page routes answer errors as HTML in the visitor's language; a page that needs a login
/// sends the visitor to the login page and back.
pub async fn render_page_errors(request: Request, next: Next) -> Response {
    let lang = lang_of(request.headers());
    let path = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let is_get = request.method() == axum::http::Method::GET;
    let response = next.run(request).await;
    let Some(info) = response.extensions().get::<ErrorInfo>().cloned() else {
        return response;
    };
    if info.status == StatusCode::UNAUTHORIZED {
        let back = if is_get { path.as_str() } else { "/" };
        return Redirect::to(&format!("/login?next={}", urlencode(back))).into_response();
    }
    let (title_key, message_key) = match info.status {
        StatusCode::NOT_FOUND => ("error.not_found_title", "error.not_found_text"),
        StatusCode::FORBIDDEN => ("error.forbidden_title", "error.forbidden_text"),
        StatusCode::TOO_MANY_REQUESTS => ("error.rate_limited_title", "error.rate_limited_text"),
        s if s.is_server_error() => ("error.internal_title", "error.internal_text"),
        _ => ("error.bad_request_title", "error.bad_request_text"),
    };
    let page = ErrorPage {
        ctx: PageContext::anonymous(lang, path),
        status: info.status.as_u16(),
        title_key,
        message_key,
    };
    match page.render() {
        Ok(html) => {
            let mut rendered = (info.status, axum::response::Html(html)).into_response();
            if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
                rendered
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry.clone());
            }
            rendered
        }
        Err(_) => response,
    }
}

/// Security headers. The CSP allows only our own resources and the inline stylesheet by hash.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Some(value) = CONTENT_SECURITY_POLICY.as_ref() {
        headers.insert(header::CONTENT_SECURITY_POLICY, value.clone());
    }
    response
}

/// The policy is the same for every response: built once (cloning a `HeaderValue` of static
/// bytes is a reference count, not a copy).
static CONTENT_SECURITY_POLICY: std::sync::LazyLock<Option<HeaderValue>> =
    std::sync::LazyLock::new(|| {
        let csp = format!(
            "default-src 'none'; style-src {}; script-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            CSS_HASH_SOURCE.as_str()
        );
        HeaderValue::from_str(&csp).ok()
    });
