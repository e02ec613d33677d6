//! Staff invitations over the API and as pages: the owner makes, lists and revokes invitations;
//! the invitee opens the link, logs in and accepts. See [`super::invitations`].

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access;
use super::invitations::{self, NewInvitation};
use super::views::CooperativePrivateView;
use crate::AppState;
use crate::accounts::Authenticated;
use crate::entities::cooperative_invitations;
use crate::error::{AppResult, Problem};
use crate::http::client::ClientAddr;
use crate::http::extract::{ApiJson, ApiPath, PageForm};
use crate::http::page::{PageContext, render, urlencode};

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invitation, list_invitations))
        .routes(routes!(revoke_invitation))
        .routes(routes!(accept_invitation))
}

pub fn page_routes() -> Router<AppState> {
    Router::new().route(
        "/invitations/{code}",
        get(invitation_page).post(accept_invitation_submit),
    )
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct InvitationRequest {
    /// Optional: the e-mail or mobile number of the only account that may accept. Whether such
    /// an account exists is not checked, and the answer is the same either way.
    #[serde(default, deserialize_with = "crate::domain::null_as_default")]
    pub identifier: String,
}

/// An open invitation, as its cooperative's owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: i64,
    pub role: String,
    /// The account it is reserved for, when the owner named one.
    pub identifier: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl InvitationView {
    fn of(invitation: &cooperative_invitations::Model) -> Self {
        Self {
            id: invitation.id,
            role: invitation.role.clone(),
            identifier: invitation.identifier.clone(),
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
        }
    }
}

/// A new invitation: the code and link are shown this once (only their hash is kept).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInvitation {
    #[serde(flatten)]
    pub invitation: InvitationView,
    /// `ABCDE-FGHJK`, to read out or type in.
    pub code: String,
    /// The link to hand over: opening it while logged in lets the invitee accept.
    pub accept_url: String,
}

impl CreatedInvitation {
    fn of(state: &AppState, created: &NewInvitation) -> Self {
        Self {
            invitation: InvitationView::of(&created.invitation),
            code: created.code.clone(),
            accept_url: accept_url(state, &created.code),
        }
    }
}

fn accept_url(state: &AppState, code: &str) -> String {
    format!(
        "{}/invitations/{}",
        state.config.public_url,
        urlencode(code)
    )
}

/// Invite someone to join as staff (the owner). Answers the same whether or not an account
/// exists for the identifier given.
#[utoipa::path(post, path = "/cooperatives/{id}/invitations", tag = "workspace",
    params(("id" = i64, Path, description = "Cooperative id")),
    request_body = InvitationRequest,
    responses(
        (status = 201, body = CreatedInvitation),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Only the owner invites"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Too many open invitations"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_invitation(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<InvitationRequest>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    let created = invitations::invite(
        &state.db,
        &membership,
        &user,
        Some(body.identifier.as_str()),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedInvitation::of(&state, &created)),
    )
        .into_response())
}

/// The cooperative's open invitations (the owner).
#[utoipa::path(get, path = "/cooperatives/{id}/invitations", tag = "workspace",
    params(("id" = i64, Path, description = "Cooperative id")),
    responses(
        (status = 200, body = [InvitationView]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_invitations(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<InvitationView>>> {
    let membership = access::membership(&state.db, &user, id).await?;
    membership.require_owner()?;
    let open = invitations::open_of(&state.db, id).await?;
    Ok(Json(open.iter().map(InvitationView::of).collect()))
}

/// Revoke an open invitation (the owner).
#[utoipa::path(delete, path = "/cooperatives/{id}/invitations/{invitation_id}", tag = "workspace",
    params(
        ("id" = i64, Path, description = "Cooperative id"),
        ("invitation_id" = i64, Path, description = "Invitation id"),
    ),
    responses(
        (status = 204, description = "Revoked (or already used)"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
async fn revoke_invitation(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath((id, invitation_id)): ApiPath<(i64, i64)>,
) -> AppResult<StatusCode> {
    let membership = access::membership(&state.db, &user, id).await?;
    invitations::revoke(&state.db, &membership, invitation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptRequest {
    /// The invitation's code (`ABCDE-FGHJK`; case, dash and spaces do not matter).
    pub code: String,
}

/// Accept an invitation: the caller becomes staff of its cooperative. An unknown, used,
/// revoked or expired code, or one reserved for another account, is 404 alike.
#[utoipa::path(post, path = "/invitations/accept", tag = "workspace",
    request_body = AcceptRequest,
    responses(
        (status = 200, body = CooperativePrivateView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
async fn accept_invitation(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    client: ClientAddr,
    ApiJson(body): ApiJson<AcceptRequest>,
) -> AppResult<Json<CooperativePrivateView>> {
    state.limits.check_invitation(client.0).await?;
    let cooperative = invitations::accept(&state.db, &user, &body.code).await?;
    let membership = access::membership(&state.db, &user, cooperative.id).await?;
    Ok(Json(CooperativePrivateView::new(
        &membership.cooperative,
        &state.reference,
        Some(membership.role),
    )))
}

#[derive(Template)]
#[template(path = "workspace/invitation.html")]
struct InvitationPage {
    ctx: PageContext,
    code: String,
    /// The cooperative's name, or `None` for a code that cannot be accepted.
    cooperative: Option<String>,
}

/// The page an invitation link opens: whom it is from, and a button to accept (or a link to log
/// in first).
async fn invitation_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let cooperative = match &ctx.user {
        // Only a logged-in visitor learns which cooperative a code is for.
        Some(_) => invitations::cooperative_of(&state.db, &code)
            .await?
            .map(|c| c.name),
        None => None,
    };
    let status = if ctx.user.is_some() && cooperative.is_none() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let mut response = render(&InvitationPage {
        ctx,
        code,
        cooperative,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
struct AcceptForm {}

async fn accept_invitation_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    client: ClientAddr,
    Path(code): Path<String>,
    PageForm(_form): PageForm<AcceptForm>,
) -> AppResult<Response> {
    state.limits.check_invitation(client.0).await?;
    let cooperative = invitations::accept(&state.db, &user, &code).await?;
    Ok(Redirect::to(&format!("/workspace/cooperatives/{}", cooperative.id)).into_response())
}
