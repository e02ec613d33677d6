//! Content negotiation for addresses that answer people and programs alike (the GS1 Digital
//! Link resolver): what a request asks for, and the answers that are not a page.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ErrorInfo;
use crate::error::AppError;

/// The media type of an RFC 9264 linkset in JSON.
pub const LINKSET_JSON: &str = "application/linkset+json";

fn accept(headers: &HeaderMap) -> String {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase()
}

/// Whether the request asks for a linkset (`Accept: application/linkset+json`).
pub fn wants_linkset(headers: &HeaderMap) -> bool {
    accept(headers).contains(LINKSET_JSON)
}

/// Whether the client is a program that reads JSON rather than a browser: its errors are
/// problem documents, not pages.
pub fn wants_json(headers: &HeaderMap) -> bool {
    let accept = accept(headers);
    accept.contains("json") && !accept.contains("text/html")
}

/// A linkset document, with its media type.
pub fn linkset(document: &serde_json::Value) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(LINKSET_JSON))],
        serde_json::to_vec(document).unwrap_or_default(),
    )
        .into_response();
    vary_on_accept(&mut response);
    response
}

/// A `Link` header value naming `href` as the linkset of the answer.
pub fn linkset_link(href: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "<{href}>; rel=\"linkset\"; type=\"{LINKSET_JSON}\""
    ))
    .ok()
}

/// Adds the `Link` header naming the answer's linkset, and says the answer depends on
/// `Accept`.
pub fn with_linkset_link(mut response: Response, linkset_href: &str) -> Response {
    if let Some(value) = linkset_link(linkset_href) {
        response.headers_mut().append(header::LINK, value);
    }
    vary_on_accept(&mut response);
    response
}

/// A temporary redirect (307, as GS1-conformant resolvers answer), or `None` when the
/// target cannot be a header value.
pub fn redirect(status: StatusCode, location: &str) -> Option<Response> {
    let location = HeaderValue::from_str(location).ok()?;
    Some((status, [(header::LOCATION, location)]).into_response())
}

fn vary_on_accept(response: &mut Response) {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept"));
}

/// An error as its client reads it: a problem document for a program (the page middleware
/// leaves it as it is), a page for a person.
pub fn error(err: AppError, json: bool) -> Response {
    let mut response = err.into_response();
    if json {
        response.extensions_mut().remove::<ErrorInfo>();
    }
    response
}

/// A permanent redirect (308) to the canonical path of an address, keeping the query, when
/// `requested` (path and query as received) is another way of writing it.
pub fn canonical_redirect(requested: &str, canonical: &str) -> Option<Response> {
    let (path, query) = match requested.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (requested, None),
    };
    if path == canonical {
        return None;
    }
    let location = match query {
        Some(query) => format!("{canonical}?{query}"),
        None => canonical.to_owned(),
    };
    redirect(StatusCode::PERMANENT_REDIRECT, &location)
}
