//! Message endpoints: each user's notification choices, one-click unsubscribing, and the
//! administrators' list of messages that could not be delivered.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Channel, Template, preferences, unsubscribe};
use crate::AppState;
use crate::accounts::Authenticated;
use crate::error::{AppError, AppResult};
use crate::http::extract::ApiJson;
use crate::http::page::{PageContext, render};
use crate::i18n::Lang;

pub fn page_routes() -> Router<AppState> {
    Router::new().route(
        "/unsubscribe/{token}",
        get(unsubscribe_page).post(unsubscribe_submit),
    )
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_failed_messages))
        .routes(routes!(api_get_notifications, api_put_notifications))
}

// ---------------------------------------------------------------- unsubscribe

#[derive(askama::Template)]
#[template(path = "messages/unsubscribe.html")]
struct UnsubscribePage {
    ctx: PageContext,
    token: String,
    kind: String,
    done: bool,
}

/// The page an unsubscribe link opens: it names the kind of message and asks to confirm
/// (a GET changes nothing: link checkers in mail systems open links).
async fn unsubscribe_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let (_, template) =
        unsubscribe::verify(state.config.secret_key.expose(), &token).ok_or(AppError::NotFound)?;
    let kind = ctx.t.get(&kind_key(template)).to_owned();
    render(&UnsubscribePage {
        ctx,
        token,
        kind,
        done: false,
    })
}

/// RFC 8058 one-click (`List-Unsubscribe=One-Click` posted by the mail system) and the
/// page's button: both end this kind of message for this user.
async fn unsubscribe_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let (user_id, template) =
        unsubscribe::verify(state.config.secret_key.expose(), &token).ok_or(AppError::NotFound)?;
    preferences::unsubscribe(&state.db, user_id, template).await?;
    let kind = ctx.t.get(&kind_key(template)).to_owned();
    render(&UnsubscribePage {
        ctx,
        token,
        kind,
        done: true,
    })
}

fn kind_key(template: Template) -> String {
    format!("message.{}.kind", template.as_str())
}

// ---------------------------------------------------------------- preferences

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NotificationsView {
    /// How messages reach this user.
    channel: Channel,
    /// The language of messages: `vi` or `en`.
    locale: String,
    /// Kinds of message this user does not want (security and purchase messages always come).
    unsubscribed: Vec<Template>,
    /// The kinds that can be turned off.
    optional: Vec<Template>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NotificationsForm {
    channel: Channel,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    unsubscribed: Vec<Template>,
}

async fn view_of(state: &AppState, user_id: i64) -> AppResult<NotificationsView> {
    let current = preferences::load(&state.db, user_id).await?;
    Ok(NotificationsView {
        channel: current.channel,
        locale: current.locale.code().to_owned(),
        unsubscribed: current.unsubscribed,
        optional: Template::ALL
            .iter()
            .copied()
            .filter(|t| t.can_unsubscribe())
            .collect(),
    })
}

/// The logged-in user's notification choices.
#[utoipa::path(get, path = "/me/notifications", tag = "messages",
    responses(
        (status = 200, body = NotificationsView),
        (status = 401, body = crate::error::Problem),
    ))]
async fn api_get_notifications(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> AppResult<axum::Json<NotificationsView>> {
    Ok(axum::Json(view_of(&state, user.id).await?))
}

/// Change the channel (e-mail, SMS or Zalo), language and unwanted kinds of message.
#[utoipa::path(put, path = "/me/notifications", tag = "messages",
    request_body = NotificationsForm,
    responses(
        (status = 200, body = NotificationsView),
        (status = 401, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem, description = "A channel without an address, or an unknown language"),
    ))]
async fn api_put_notifications(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiJson(form): ApiJson<NotificationsForm>,
) -> AppResult<axum::Json<NotificationsView>> {
    let locale = match form.locale.as_deref() {
        None => Lang::default(),
        Some(code) => Lang::parse(code).ok_or_else(|| {
            crate::error::FieldErrors::single(
                "locale",
                crate::domain::FieldIssue::new("invalid_locale", "use vi or en"),
            )
        })?,
    };
    preferences::save(&state.db, user.id, form.channel, locale, &form.unsubscribed).await?;
    Ok(axum::Json(view_of(&state, user.id).await?))
}

// ---------------------------------------------------------------- administrators

#[derive(Debug, Serialize, ToSchema)]
pub struct FailedMessageView {
    id: i64,
    template: String,
    channel: String,
    recipient: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    failed_at: Option<DateTime<Utc>>,
}

/// Messages that could not be delivered (refused for good, or still failing after
/// `OCOP_MESSAGE_GIVE_UP_HOURS`), newest first.
#[utoipa::path(get, path = "/admin/messages/failed", tag = "admin",
    responses(
        (status = 200, body = Vec<FailedMessageView>),
        (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem),
    ))]
async fn api_failed_messages(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> AppResult<Response> {
    user.require_admin()?;
    let rows = preferences::failed_messages(&state.db, 200).await?;
    let views: Vec<FailedMessageView> = rows
        .into_iter()
        .map(|m| FailedMessageView {
            id: m.id,
            template: m.template,
            channel: m.channel,
            recipient: m.recipient,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
            failed_at: m.failed_at,
        })
        .collect();
    Ok((StatusCode::OK, axum::Json(views)).into_response())
}
