//! The one error type of the app: what went wrong, its HTTP status and its stable `code`.
//!
//! Services return [`AppResult`]; handlers pass it on. How an error is written on the wire
//! (`application/problem+json`, RFC 9457, or an HTML page in the visitor's language) is the
//! business of [`crate::http::error`], the one `IntoResponse` of this type. A 5xx body never
//! says more than "internal error": the cause is logged with its chain.

use std::borrow::Cow;

use axum::http::StatusCode;
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
    /// A webhook whose signature is missing, wrong or stale.
    #[error("{0}")]
    BadSignature(String),
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{message}")]
    Conflict {
        code: &'static str,
        /// The field refused, when one is: a name, or one built at run time
        /// (`lines[2].batch_id`).
        field: Option<Cow<'static, str>>,
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
    /// A part of the platform (Redis, say) did not answer: 503, worth retrying in a moment.
    #[error("{0}")]
    ServiceUnavailable(&'static str),
    /// A payment provider did not answer (in time): 503, worth retrying later.
    #[error("{0}")]
    ProviderUnavailable(String),
    /// A payment provider answered with an error: 502.
    #[error("{0}")]
    ProviderFailed(String),
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
pub struct FieldErrors(pub(crate) Vec<FieldError>);

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

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Unauthenticated | Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::BadRequest { .. } | Self::InvalidParameters(_) => StatusCode::BAD_REQUEST,
            Self::SearchUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ProviderUnavailable(_) | Self::ServiceUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::ProviderFailed(_) => StatusCode::BAD_GATEWAY,
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
            Self::BadSignature(_) => "invalid_signature",
            Self::Forbidden => "forbidden",
            Self::Conflict { code, .. } | Self::BadRequest { code, .. } => code,
            Self::InvalidParameters(_) => "invalid_parameters",
            Self::SearchUnavailable => "search_unavailable",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::ProviderUnavailable(_) => "payment_provider_unavailable",
            Self::ServiceUnavailable(_) => "service_unavailable",
            Self::ProviderFailed(_) => "payment_provider_error",
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
            field: Some(Cow::Borrowed(field)),
            message: message.into(),
        }
    }

    /// A conflict on a field whose name is built at run time, such as the index of a list
    /// item (`lines[2].batch_id`).
    pub fn conflict_at(code: &'static str, field: String, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            field: Some(Cow::Owned(field)),
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

    /// The refused fields this error names (none for most errors).
    pub fn field_errors(&self) -> FieldErrors {
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
