//! The one error type of the app and its HTTP mapping.
//!
//! Every error answers `application/problem+json` (RFC 9457) with a stable `code`; validation
//! errors list every field that was refused. Page routes re-render the same error as HTML in
//! the visitor's language (see [`super::middleware::render_page_errors`]). A 5xx body never
//! says more than "internal error": the cause is logged with its chain.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;

use crate::domain::FieldIssue;

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("some fields are not valid")]
    Validation(FieldErrors),
    #[error("not found")]
    NotFound,
    #[error("no page or endpoint has this address")]
    NoRoute,
    #[error("you need to log in")]
    Unauthenticated,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{message}")]
    Conflict {
        code: &'static str,
        field: Option<&'static str>,
        message: String,
    },
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("the request body must be {expected}")]
    UnsupportedMediaType { expected: &'static str },
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Query parameters that do not parse or are out of range (400, with the fields named):
    /// for reads such as search, where the request is a query rather than a form to fix.
    #[error("some query parameters are not valid")]
    InvalidParameters(FieldErrors),
    /// The search backend failed or cannot be reached (503; retrying later may work).
    #[error("search is unavailable at the moment")]
    SearchUnavailable,
    #[error("database error")]
    Database(#[from] DbErr),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// One refused field: its name as the client sent it, a stable code and an explanation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

/// The refused fields of one request, collected so that a form shows every problem at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Records the issue if `result` is an error and hands back the value if not.
    pub fn take<T>(&mut self, field: &str, result: Result<T, FieldIssue>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(issue) => {
                self.add(field, issue);
                None
            }
        }
    }

    pub fn add(&mut self, field: &str, issue: FieldIssue) {
        self.0.push(FieldError {
            field: field.to_owned(),
            code: issue.code,
            message: issue.message,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was refused, the validation error otherwise.
    pub fn into_result(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self))
        }
    }

    /// The validation error; used once some `take` returned `None`.
    pub fn into_error(self) -> AppError {
        AppError::Validation(self)
    }

    pub fn single(field: &str, issue: FieldIssue) -> AppError {
        let mut errors = Self::default();
        errors.add(field, issue);
        errors.into_error()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// The code of the first error for `field`, for pages that show it beside the input.
    pub fn code_for(&self, field: &str) -> Option<&'static str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.code)
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; stable.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code, e.g. `validation_failed`, `not_found`.
    pub code: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Attached to every error response so that page routes can re-render it as HTML.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub status: StatusCode,
    pub code: &'static str,
    pub fields: FieldErrors,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::BadRequest { .. } | Self::InvalidParameters(_) => StatusCode::BAD_REQUEST,
            Self::SearchUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Database(err) => match classify_db_error(err) {
                Some(DbConstraint::Unique) => StatusCode::CONFLICT,
                Some(DbConstraint::ForeignKey) => StatusCode::UNPROCESSABLE_ENTITY,
                None => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::NotFound => "not_found",
            Self::NoRoute => "route_not_found",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::Conflict { code, .. } | Self::BadRequest { code, .. } => code,
            Self::InvalidParameters(_) => "invalid_parameters",
            Self::SearchUnavailable => "search_unavailable",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Database(err) => match classify_db_error(err) {
                Some(DbConstraint::Unique) => "conflict",
                Some(DbConstraint::ForeignKey) => "unknown_reference",
                None => "internal_error",
            },
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn conflict(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            field: Some(field),
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// For errors a form shows beside its fields (invalid fields, or a conflict on one field):
    /// the status to answer with and the field errors. Any other error is handed back.
    pub fn into_form_errors(self) -> Result<(StatusCode, FieldErrors), AppError> {
        match self {
            Self::Validation(errors) => Ok((StatusCode::UNPROCESSABLE_ENTITY, errors)),
            Self::Conflict { field: Some(_), .. } => {
                Ok((StatusCode::CONFLICT, self.field_errors()))
            }
            other => Err(other),
        }
    }

    fn field_errors(&self) -> FieldErrors {
        match self {
            Self::Validation(fields) | Self::InvalidParameters(fields) => fields.clone(),
            Self::Conflict {
                code,
                field: Some(field),
                message,
            } => {
                let mut errors = FieldErrors::default();
                errors.add(field, FieldIssue::new(code, message.clone()));
                errors
            }
            _ => FieldErrors::default(),
        }
    }
}

enum DbConstraint {
    Unique,
    ForeignKey,
}

fn classify_db_error(err: &DbErr) -> Option<DbConstraint> {
    match err.sql_err()? {
        SqlErr::UniqueConstraintViolation(_) => Some(DbConstraint::Unique),
        SqlErr::ForeignKeyConstraintViolation(_) => Some(DbConstraint::ForeignKey),
        _ => None,
    }
}

/// Whether a database error is a unique-constraint violation (a lost race on insert).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(classify_db_error(err), Some(DbConstraint::Unique))
}

impl From<crate::search::model::SearchError> for AppError {
    fn from(err: crate::search::model::SearchError) -> Self {
        use crate::search::model::SearchError;
        match err {
            SearchError::InvalidQuery(message) => {
                Self::bad_request("invalid_search_query", message)
            }
            SearchError::Backend(cause) => {
                // The cause stays in the log; the client learns only that search is down.
                tracing::error!(error = %cause, "search backend error");
                Self::SearchUnavailable
            }
        }
    }
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
