//! Pages and API endpoints for registration, login and logout.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{
    Authenticated, NewAccount, SESSION_COOKIE, authenticate, create_session, delete_session,
    register,
};
use crate::AppState;
use crate::config::Config;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::client::ClientAddr;
use crate::http::extract::{ApiJson, PageForm};
use crate::http::page::{PageContext, local_redirect_target, render, render_with_status};

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/register", get(register_page).post(register_submit))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", axum::routing::post(logout_submit))
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_register))
        .routes(routes!(api_login))
        .routes(routes!(api_logout))
        .routes(routes!(api_me))
}

fn session_cookie(config: &Config, token: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .secure(config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(
            config.session_ttl.as_secs() as i64,
        ))
        .build()
}

fn removal_cookie() -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, "")).path("/").build()
}

// ---------------------------------------------------------------- pages

#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    display_name: String,
}

#[derive(Template)]
#[template(path = "accounts/register.html")]
struct RegisterPage {
    ctx: PageContext,
    form: RegisterForm,
    errors: FieldErrors,
}

async fn register_page(ctx: PageContext) -> AppResult<Response> {
    render(&RegisterPage {
        ctx,
        form: RegisterForm::default(),
        errors: FieldErrors::default(),
    })
}

async fn register_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    PageForm(form): PageForm<RegisterForm>,
) -> AppResult<Response> {
    let account = match NewAccount::parse(&form.identifier, &form.password, &form.display_name) {
        Ok(account) => account,
        Err(AppError::Validation(errors)) => {
            let form = RegisterForm {
                password: String::new(),
                ..form
            };
            return render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &RegisterPage { ctx, form, errors },
            );
        }
        Err(other) => return Err(other),
    };
    state.limits.check_registration(client).await?;
    let identifier = account.identifier.as_str().to_owned();
    register(&state.db, account).await?;
    // The same answer whether the account is new or existed already.
    Ok(Redirect::to(&format!(
        "/login?registered=1&identifier={}",
        crate::http::page::urlencode(&identifier)
    ))
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginParams {
    next: Option<String>,
    registered: Option<String>,
    identifier: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    ctx: PageContext,
    identifier: String,
    next: String,
    registered: bool,
    failed: bool,
}

async fn login_page(ctx: PageContext, Query(params): Query<LoginParams>) -> AppResult<Response> {
    render(&LoginPage {
        ctx,
        identifier: params.identifier.unwrap_or_default(),
        next: local_redirect_target(params.next.as_deref()).to_owned(),
        registered: params.registered.is_some(),
        failed: false,
    })
}

async fn login_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    PageForm(form): PageForm<LoginForm>,
) -> AppResult<Response> {
    state.limits.check_login(client, &form.identifier).await?;
    let next = local_redirect_target(form.next.as_deref()).to_owned();
    match authenticate(&state.db, &form.identifier, &form.password).await? {
        Some(user) => {
            let token = create_session(&state.db, user.id, state.config.session_ttl).await?;
            let jar = jar.add(session_cookie(&state.config, token));
            Ok((jar, Redirect::to(&next)).into_response())
        }
        None => render_with_status(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                ctx,
                identifier: form.identifier,
                next,
                registered: false,
                failed: true,
            },
        ),
    }
}

async fn logout_submit(State(state): State<AppState>, jar: CookieJar) -> AppResult<Response> {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        delete_session(&state.db, cookie.value()).await?;
    }
    Ok((jar.add(removal_cookie()), Redirect::to("/")).into_response())
}

// ---------------------------------------------------------------- API

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// An e-mail address or a Vietnamese mobile number.
    identifier: String,
    password: String,
    display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    /// Always `accepted`: the answer does not reveal whether the identifier was already taken.
    status: &'static str,
    /// What to do next: log in with the identifier and password.
    next: &'static str,
}

/// Register an account.
#[utoipa::path(post, path = "/auth/register", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 202, body = RegisterResponse, description = "Registration accepted; log in next"),
        (status = 422, body = crate::error::Problem, description = "Invalid fields"),
        (status = 429, body = crate::error::Problem, description = "Too many attempts"),
    ))]
async fn api_register(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> AppResult<Response> {
    let account = NewAccount::parse(&body.identifier, &body.password, &body.display_name)?;
    state.limits.check_registration(client).await?;
    register(&state.db, account).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(RegisterResponse {
            status: "accepted",
            next: "/api/v1/auth/login",
        }),
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    identifier: String,
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Session token for `Authorization: Bearer`; also set as the session cookie.
    token: String,
    user: MeView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    id: i64,
    display_name: String,
    is_admin: bool,
}

/// Log in and start a session.
#[utoipa::path(post, path = "/auth/login", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, body = crate::error::Problem, description = "Wrong identifier or password"),
        (status = 429, body = crate::error::Problem, description = "Too many attempts"),
    ))]
async fn api_login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    ApiJson(body): ApiJson<LoginRequest>,
) -> AppResult<Response> {
    state.limits.check_login(client, &body.identifier).await?;
    let Some(user) = authenticate(&state.db, &body.identifier, &body.password).await? else {
        return Err(AppError::Unauthenticated);
    };
    let token = create_session(&state.db, user.id, state.config.session_ttl).await?;
    let jar = jar.add(session_cookie(&state.config, token.clone()));
    Ok((
        jar,
        axum::Json(LoginResponse {
            token,
            user: MeView {
                id: user.id,
                display_name: user.display_name,
                is_admin: user.is_admin,
            },
        }),
    )
        .into_response())
}

/// End the current session.
#[utoipa::path(post, path = "/auth/logout", tag = "accounts",
    responses((status = 204, description = "Logged out")))]
async fn api_logout(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
) -> AppResult<Response> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    if let Some(token) = bearer.or_else(|| jar.get(SESSION_COOKIE).map(|c| c.value().to_owned())) {
        delete_session(&state.db, &token).await?;
    }
    Ok((jar.add(removal_cookie()), StatusCode::NO_CONTENT).into_response())
}

/// The logged-in user.
#[utoipa::path(get, path = "/me", tag = "accounts",
    responses(
        (status = 200, body = MeView),
        (status = 401, body = crate::error::Problem),
    ))]
async fn api_me(Authenticated(user): Authenticated) -> axum::Json<MeView> {
    axum::Json(MeView {
        id: user.id,
        display_name: user.display_name,
        is_admin: user.is_admin,
    })
}
