//! Extractors that turn every malformed request into a precise [`AppError`] rather than
//! axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::domain::FieldIssue;
use crate::error::{AppError, FieldErrors};

/// A JSON body. Wrong content type → 415; syntax error → 400 `malformed_json`; a value of the
/// wrong type or a missing field → 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(AppError::UnsupportedMediaType {
                expected: "application/json",
            });
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| AppError::bad_request("body_unreadable", rejection.body_text()))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON object into `T`, naming the offending field on a data error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // Every request body of this API is an object; serde would otherwise accept an array for
    // a struct and report positions instead of field names.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => {
            return Err(AppError::bad_request("malformed_json", "the body is empty"));
        }
        Some(_) => {
            return Err(AppError::bad_request(
                "invalid_body",
                "the body must be a JSON object",
            ));
        }
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(deserializer) {
        Ok(value) => Ok(value),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let message = inner.to_string();
            if inner.is_syntax() || inner.is_eof() {
                return Err(AppError::bad_request(
                    "malformed_json",
                    format!("the body is not valid JSON: {message}"),
                ));
            }
            // serde reports a missing field at the path of the object that lacks it.
            if let Some(rest) = message.strip_prefix("missing field `") {
                let name = rest.split('`').next().unwrap_or_default();
                let field = match path.as_str() {
                    "." | "" => name.to_owned(),
                    parent => format!("{}.{name}", parent.trim_start_matches('.')),
                };
                return Err(FieldErrors::single(
                    &field,
                    FieldIssue::new("required", format!("{name} is required")),
                ));
            }
            if path == "." {
                return Err(AppError::bad_request(
                    "invalid_body",
                    format!("the JSON body does not have the expected shape: {message}"),
                ));
            }
            Err(FieldErrors::single(
                path.trim_start_matches('.'),
                FieldIssue::new("invalid_type", message),
            ))
        }
    }
}

/// An `application/x-www-form-urlencoded` body. Page forms use all-`String` fields so that
/// every value reaches the domain parsers, which explain problems beside the field.
pub struct PageForm<T>(pub T);

impl<S, T> FromRequest<S> for PageForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(FormRejection::InvalidFormContentType(_)) => Err(AppError::UnsupportedMediaType {
                expected: "application/x-www-form-urlencoded",
            }),
            Err(rejection) => Err(AppError::bad_request("invalid_form", rejection.body_text())),
        }
    }
}

/// Query-string parameters; a malformed query is a 400 naming the problem.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection: QueryRejection| {
                AppError::bad_request("invalid_query", rejection.body_text())
            })
    }
}

/// Path parameters. A path that does not parse (`/products/abc`) names nothing: 404.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|_: PathRejection| AppError::NotFound)
    }
}
