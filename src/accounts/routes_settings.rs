//! The account settings page: how messages reach the user (channel, language, kinds turned
//! off), a new e-mail address or phone number confirmed by a code, and a link to change the
//! password. Works without JavaScript.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use sea_orm::EntityTrait;

use super::{Authenticated, confirm_change, request_change};
use crate::AppState;
use crate::entities::users;
use crate::error::{AppResult, FieldErrors};
use crate::http::client::ClientAddr;
use crate::http::extract::PageForm;
use crate::http::page::{PageContext, render_with_status};
use crate::i18n::Lang;
use crate::messages::{Channel, Template as MessageTemplate, preferences};

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/account/settings", get(settings_page))
        .route(
            "/account/settings/notifications",
            post(notifications_submit),
        )
        .route("/account/settings/contact", post(contact_submit))
        .route("/account/settings/contact/confirm", post(contact_confirm))
}

/// A kind of message the user may turn off, with whether it is off.
struct KindChoice {
    name: &'static str,
    label: String,
    off: bool,
}

#[derive(Template)]
#[template(path = "accounts/settings.html")]
struct SettingsPage {
    ctx: PageContext,
    email: String,
    phone: String,
    channel: &'static str,
    locale: &'static str,
    kinds: Vec<KindChoice>,
    /// A code was sent to a new address: the confirmation form is shown.
    code_sent: bool,
    notice: &'static str,
    errors: FieldErrors,
}

async fn page(
    state: &AppState,
    ctx: PageContext,
    user_id: i64,
    code_sent: bool,
    notice: &'static str,
    errors: FieldErrors,
    status: axum::http::StatusCode,
) -> AppResult<Response> {
    let current = preferences::load(&state.db, user_id).await?;
    let user = users::Entity::find_by_id(user_id).one(&state.db).await?;
    let (email, phone) = user
        .map(|u| (u.email.unwrap_or_default(), u.phone.unwrap_or_default()))
        .unwrap_or_default();
    let kinds = MessageTemplate::ALL
        .iter()
        .filter(|t| t.can_unsubscribe())
        .map(|t| KindChoice {
            name: t.as_str(),
            label: ctx
                .t
                .get(&format!("message.{}.kind", t.as_str()))
                .to_owned(),
            off: current.unsubscribed.contains(t),
        })
        .collect();
    render_with_status(
        status,
        &SettingsPage {
            ctx,
            email,
            phone,
            channel: current.channel.as_str(),
            locale: current.locale.code(),
            kinds,
            code_sent,
            notice,
            errors,
        },
    )
}

async fn settings_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let notice = if params.contains_key("saved") {
        "settings.saved"
    } else {
        ""
    };
    page(
        &state,
        ctx,
        user.id,
        false,
        notice,
        FieldErrors::default(),
        axum::http::StatusCode::OK,
    )
    .await
}

/// The notification form: `channel`, `locale`, and one `off.{kind}` checkbox per kind.
async fn notifications_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    PageForm(form): PageForm<HashMap<String, String>>,
) -> AppResult<Response> {
    let channel = form
        .get("channel")
        .and_then(|c| Channel::parse(c))
        .unwrap_or(Channel::Email);
    let locale = form
        .get("locale")
        .and_then(|l| Lang::parse(l))
        .unwrap_or_default();
    let off: Vec<MessageTemplate> = MessageTemplate::ALL
        .iter()
        .copied()
        .filter(|t| form.contains_key(&format!("off.{}", t.as_str())))
        .collect();
    match preferences::save(&state.db, user.id, channel, locale, &off).await {
        Ok(()) => Ok(Redirect::to("/account/settings?saved=1").into_response()),
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            page(&state, ctx, user.id, false, "", errors, status).await
        }
    }
}

async fn contact_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ClientAddr(client): ClientAddr,
    PageForm(form): PageForm<HashMap<String, String>>,
) -> AppResult<Response> {
    state
        .limits
        .check_login(client, &format!("user:{}", user.id))
        .await?;
    let identifier = form.get("identifier").map(String::as_str).unwrap_or("");
    match request_change(&state.db, &state.config, user.id, identifier).await {
        Ok(()) => {
            page(
                &state,
                ctx,
                user.id,
                true,
                "settings.code_sent",
                FieldErrors::default(),
                axum::http::StatusCode::OK,
            )
            .await
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            page(&state, ctx, user.id, false, "", errors, status).await
        }
    }
}

async fn contact_confirm(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ClientAddr(client): ClientAddr,
    PageForm(form): PageForm<HashMap<String, String>>,
) -> AppResult<Response> {
    state
        .limits
        .check_login(client, &format!("user:{}", user.id))
        .await?;
    let code = form.get("code").map(String::as_str).unwrap_or("");
    match confirm_change(&state.db, &state.config, user.id, code).await {
        Ok(_) => {
            page(
                &state,
                ctx,
                user.id,
                false,
                "settings.contact_changed",
                FieldErrors::default(),
                axum::http::StatusCode::OK,
            )
            .await
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            page(&state, ctx, user.id, true, "", errors, status).await
        }
    }
}
