//! How an [`AppError`] is written on the wire.
//!
//! Every error answers `application/problem+json` (RFC 9457) with a stable `code`; validation
//! errors list every field that was refused. Page routes re-render the same error as HTML in
//! the visitor's language (see [`super::middleware::render_page_errors`]), from the
//! [`ErrorInfo`] attached to the response.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, FieldErrors, Problem};

/// Attached to every error response so that page routes can re-render it as HTML.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub status: StatusCode,
    pub code: &'static str,
    pub fields: FieldErrors,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let detail = match &self {
            Self::Database(err) if status.is_server_error() => {
                tracing::error!(error = %err, "database error");
                "internal error".to_owned()
            }
            Self::Database(_) => "the request conflicts with existing data".to_owned(),
            Self::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let fields = self.field_errors();
        let problem = Problem {
            kind: format!("urn:ocop-market:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            detail,
            errors: fields.0.clone(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let AppError::ServiceUnavailable(_) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(5u64));
        }
        if let Self::ProviderUnavailable(_) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(30u64));
        }
        if let Self::RateLimited { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response.extensions_mut().insert(ErrorInfo {
            status,
            code,
            fields,
        });
        response
    }
}
