//! Pages and API endpoints for a forgotten password and for changing one's password.

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Authenticated, SESSION_COOKIE, change_password, confirm_reset, request_reset};
use crate::AppState;
use crate::error::{AppResult, FieldErrors};
use crate::http::client::ClientAddr;
use crate::http::extract::{ApiJson, PageForm};
use crate::http::page::{PageContext, render, render_with_status};

/// The shortest time a reset request takes to answer, whatever it found: a known and an
/// unknown identifier look alike from outside, even to a stopwatch.
const REQUEST_FLOOR: Duration = Duration::from_millis(250);

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/account/forgot-password",
            get(forgot_page).post(forgot_submit),
        )
        .route(
            "/account/reset-password",
            get(reset_page).post(reset_submit),
        )
        .route(
            "/account/password",
            get(password_page).post(password_submit),
        )
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_request_reset))
        .routes(routes!(api_confirm_reset))
        .routes(routes!(api_change_password))
}

async fn request_with_floor(state: &AppState, identifier: &str) -> AppResult<()> {
    let floor = tokio::time::Instant::now() + REQUEST_FLOOR;
    let outcome = request_reset(&state.db, &state.config, identifier).await;
    tokio::time::sleep_until(floor).await;
    if let Err(err) = outcome {
        // Logged, never shown: an error must not tell an existing account from another.
        tracing::error!(error = %err, "password reset request failed");
    }
    Ok(())
}

/// The session token of the request (bearer or cookie).
fn session_of(headers: &HeaderMap, jar: &CookieJar) -> String {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned())
        .or_else(|| jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()))
        .unwrap_or_default()
}

// ---------------------------------------------------------------- pages

#[derive(Debug, Default, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    identifier: String,
}

#[derive(Template)]
#[template(path = "accounts/forgot_password.html")]
struct ForgotPage {
    ctx: PageContext,
    identifier: String,
    sent: bool,
    by_phone: bool,
    /// Where a code sent by SMS or Zalo is typed in.
    code_link: String,
}

async fn forgot_page(ctx: PageContext) -> AppResult<Response> {
    render(&ForgotPage {
        ctx,
        identifier: String::new(),
        sent: false,
        by_phone: false,
        code_link: String::new(),
    })
}

async fn forgot_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    PageForm(form): PageForm<ForgotForm>,
) -> AppResult<Response> {
    state.limits.check_login(client, &form.identifier).await?;
    request_with_floor(&state, &form.identifier).await?;
    let by_phone = !form.identifier.contains('@');
    let code_link = format!(
        "/account/reset-password?identifier={}",
        crate::http::page::urlencode(&form.identifier)
    );
    render(&ForgotPage {
        ctx,
        identifier: form.identifier,
        sent: true,
        by_phone,
        code_link,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    new_password: String,
}

#[derive(Template)]
#[template(path = "accounts/reset_password.html")]
struct ResetPage {
    ctx: PageContext,
    token: String,
    identifier: String,
    /// The token came in a link: it is not shown as a field to type.
    from_link: bool,
    errors: FieldErrors,
}

async fn reset_page(ctx: PageContext, Query(form): Query<ResetForm>) -> AppResult<Response> {
    render(&ResetPage {
        ctx,
        from_link: !form.token.is_empty() && form.identifier.is_empty(),
        token: form.token,
        identifier: form.identifier,
        errors: FieldErrors::default(),
    })
}

async fn reset_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    PageForm(form): PageForm<ResetForm>,
) -> AppResult<Response> {
    let account_key = if form.identifier.is_empty() {
        &form.token
    } else {
        &form.identifier
    };
    state.limits.check_login(client, account_key).await?;
    let identifier = Some(form.identifier.as_str()).filter(|i| !i.trim().is_empty());
    match confirm_reset(
        &state.db,
        &state.config,
        identifier,
        &form.token,
        &form.new_password,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/login?reset=1").into_response()),
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            render_with_status(
                status,
                &ResetPage {
                    ctx,
                    from_link: !form.token.is_empty() && form.identifier.is_empty(),
                    token: form.token,
                    identifier: form.identifier,
                    errors,
                },
            )
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

#[derive(Template)]
#[template(path = "accounts/change_password.html")]
struct PasswordPage {
    ctx: PageContext,
    done: bool,
    errors: FieldErrors,
}

async fn password_page(ctx: PageContext, Authenticated(_): Authenticated) -> AppResult<Response> {
    render(&PasswordPage {
        ctx,
        done: false,
        errors: FieldErrors::default(),
    })
}

async fn password_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    jar: CookieJar,
    PageForm(form): PageForm<PasswordForm>,
) -> AppResult<Response> {
    state
        .limits
        .check_login(client, &format!("user:{}", user.id))
        .await?;
    let session = session_of(&headers, &jar);
    match change_password(
        &state.db,
        user.id,
        &session,
        &form.current_password,
        &form.new_password,
    )
    .await
    {
        Ok(()) => render(&PasswordPage {
            ctx,
            done: true,
            errors: FieldErrors::default(),
        }),
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            render_with_status(
                status,
                &PasswordPage {
                    ctx,
                    done: false,
                    errors,
                },
            )
        }
    }
}

// ---------------------------------------------------------------- API

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequest {
    /// The account's e-mail address or mobile number.
    identifier: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetAccepted {
    /// Always `accepted`: the answer does not tell whether an account exists.
    status: &'static str,
}

/// Ask for a password reset: an e-mail with a link, or a six-digit code by SMS or Zalo.
#[utoipa::path(post, path = "/auth/password-reset", tag = "accounts",
    request_body = ResetRequest,
    responses(
        (status = 202, body = ResetAccepted, description = "Accepted, whether or not an account has this identifier"),
        (status = 429, body = crate::error::Problem, description = "Too many attempts"),
    ))]
async fn api_request_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<ResetRequest>,
) -> AppResult<Response> {
    state.limits.check_login(client, &body.identifier).await?;
    request_with_floor(&state, &body.identifier).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ResetAccepted { status: "accepted" }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetConfirmation {
    /// The token of the e-mailed link, or the six-digit code.
    token: String,
    new_password: String,
    /// With a code: the phone number it was sent to.
    #[serde(default)]
    identifier: Option<String>,
}

/// Set a new password with a reset link's token (or a code and its phone number); every
/// session of the account ends.
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "accounts",
    request_body = ResetConfirmation,
    responses(
        (status = 204, description = "Password set; log in with it"),
        (status = 422, body = crate::error::Problem, description = "`token` not valid (used, expired, unknown) or `new_password` refused"),
        (status = 429, body = crate::error::Problem, description = "Too many attempts"),
    ))]
async fn api_confirm_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<ResetConfirmation>,
) -> AppResult<Response> {
    let identifier = body.identifier.as_deref().filter(|i| !i.trim().is_empty());
    state
        .limits
        .check_login(client, identifier.unwrap_or(&body.token))
        .await?;
    confirm_reset(
        &state.db,
        &state.config,
        identifier,
        &body.token,
        &body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Change the password of the logged-in account; its other sessions end.
#[utoipa::path(post, path = "/me/password", tag = "accounts",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; this session stays, the others end"),
        (status = 401, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem, description = "`current_password` wrong or `new_password` refused"),
        (status = 429, body = crate::error::Problem, description = "Too many attempts"),
    ))]
async fn api_change_password(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    jar: CookieJar,
    ApiJson(body): ApiJson<PasswordChange>,
) -> AppResult<Response> {
    state
        .limits
        .check_login(client, &format!("user:{}", user.id))
        .await?;
    let session = session_of(&headers, &jar);
    change_password(
        &state.db,
        user.id,
        &session,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
