//! Server-side sessions. The cookie holds 256 random bits; the database holds only their
//! SHA-256, so reading the database does not let anyone act as a user.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::AppState;
use crate::domain::token::{hash_token, new_token};
use crate::entities::{sessions, users};
use crate::error::{AppError, AppResult};

pub const SESSION_COOKIE: &str = "ocop_session";

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub display_name: String,
    pub is_admin: bool,
}

impl CurrentUser {
    pub fn require_admin(&self) -> AppResult<()> {
        if self.is_admin {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// Starts a session and returns the token to hand to the client.
pub async fn create_session(
    db: &impl ConnectionTrait,
    user_id: i64,
    ttl: std::time::Duration,
) -> AppResult<String> {
    let token = new_token();
    let now = Utc::now();
    sessions::ActiveModel {
        token_hash: Set(hash_token(&token)),
        user_id: Set(user_id),
        created_at: Set(now),
        expires_at: Set(now + ttl),
    }
    .insert(db)
    .await?;
    Ok(token)
}

pub async fn delete_session(db: &impl ConnectionTrait, token: &str) -> AppResult<()> {
    sessions::Entity::delete_by_id(hash_token(token))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes expired sessions; run periodically by the server.
pub async fn purge_expired_sessions(db: &impl ConnectionTrait) -> AppResult<u64> {
    let result = sessions::Entity::delete_many()
        .filter(sessions::Column::ExpiresAt.lt(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

async fn resolve(db: &impl ConnectionTrait, token: &str) -> AppResult<Option<CurrentUser>> {
    // A token of the wrong shape cannot be ours; skip the query.
    if token.len() != 43 {
        return Ok(None);
    }
    let Some(session) = sessions::Entity::find_by_id(hash_token(token))
        .filter(sessions::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(users::Entity::find_by_id(session.user_id)
        .one(db)
        .await?
        .map(|user| CurrentUser {
            id: user.id,
            display_name: user.display_name,
            is_admin: user.is_admin,
        }))
}

/// The session token of a request: the cookie, or `Authorization: Bearer` for API clients.
pub fn session_token(parts: &Parts) -> Option<String> {
    if let Some(bearer) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    CookieJar::from_headers(&parts.headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

/// The user of the request, if logged in.
#[derive(Debug, Clone)]
pub struct Viewer(pub Option<CurrentUser>);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(viewer.clone());
        }
        let user = match session_token(parts) {
            Some(token) => resolve(&state.db, &token).await?,
            None => None,
        };
        let viewer = Viewer(user);
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

/// The logged-in user; 401 (or, on pages, a redirect to the login page) otherwise.
#[derive(Debug, Clone)]
pub struct Authenticated(pub CurrentUser);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Viewer::from_request_parts(parts, state).await? {
            Viewer(Some(user)) => Ok(Self(user)),
            Viewer(None) => Err(AppError::Unauthenticated),
        }
    }
}
