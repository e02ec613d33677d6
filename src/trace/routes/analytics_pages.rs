//! The scan analytics pages of a cooperative and of the administrators.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::accounts::{Authenticated, CurrentUser};
use crate::catalog::access;
use crate::error::{AppResult, FieldErrors};
use crate::http::extract::{ApiPath, PageForm};
use crate::http::page::{PageContext, render_with_status};
use crate::trace::analytics::{ScanAnalytics, scan_analytics};
use crate::trace::flags::{self, FlagReviewRequest};

#[derive(Template)]
#[template(path = "workspace/scans.html")]
struct ScansPage {
    ctx: PageContext,
    title: String,
    analytics: ScanAnalytics,
    /// This page's address, where a flag review returns.
    back: String,
    notice: Option<String>,
    /// The flagged stamp whose review form had errors, and the errors.
    review_errors: Option<(i64, FieldErrors)>,
}

impl ScansPage {
    /// The review form errors of one flagged stamp (none for the others).
    fn errors_for(&self, stamp_id: i64) -> FieldErrors {
        match &self.review_errors {
            Some((id, errors)) if *id == stamp_id => errors.clone(),
            _ => FieldErrors::default(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct NoticeParams {
    notice: Option<String>,
}

/// Whose scans a page shows: one cooperative's, or (administrators) everyone's.
enum Scope {
    Cooperative(i64),
    Everyone,
}

async fn scans_page(
    state: &AppState,
    ctx: PageContext,
    user: &CurrentUser,
    scope: Scope,
    notice: Option<String>,
    review_errors: Option<(i64, FieldErrors)>,
    status: StatusCode,
) -> AppResult<Response> {
    let (title, cooperative, back) = match scope {
        Scope::Cooperative(id) => {
            let membership = access::membership(&state.db, user, id).await?;
            (
                membership.cooperative.name,
                Some(id),
                format!("/workspace/cooperatives/{id}/scans"),
            )
        }
        Scope::Everyone => {
            user.require_admin()?;
            (
                ctx.t.get("admin.title").to_owned(),
                None,
                "/admin/scans".to_owned(),
            )
        }
    };
    let analytics = scan_analytics(&state.db, &state.reference, cooperative, 30).await?;
    render_with_status(
        status,
        &ScansPage {
            ctx,
            title,
            analytics,
            back,
            notice: notice.filter(|n| n == "reviewed"),
            review_errors,
        },
    )
}

pub(super) async fn cooperative_scans(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    Query(params): Query<NoticeParams>,
) -> AppResult<Response> {
    scans_page(
        &state,
        ctx,
        &user,
        Scope::Cooperative(id),
        params.notice,
        None,
        StatusCode::OK,
    )
    .await
}

pub(super) async fn admin_scans(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    Query(params): Query<NoticeParams>,
) -> AppResult<Response> {
    scans_page(
        &state,
        ctx,
        &user,
        Scope::Everyone,
        params.notice,
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct FlagReviewForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    /// `admin` when sent from the administrators' page.
    #[serde(default)]
    from: String,
}

/// A flag review from an analytics page: back to it with a notice, or the page again with the
/// errors beside the stamp's form.
pub(super) async fn review_flag_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<FlagReviewForm>,
) -> AppResult<Response> {
    let request = FlagReviewRequest {
        decision: form.decision,
        reason: form.reason,
    };
    match flags::review(&state.db, &state.scans, &user, id, &request).await {
        Ok(_) => {
            let back = if form.from == "admin" && user.is_admin {
                "/admin/scans".to_owned()
            } else {
                let cooperative = flags::cooperative_of(&state.db, id).await?;
                format!("/workspace/cooperatives/{cooperative}/scans")
            };
            Ok(Redirect::to(&format!("{back}?notice=reviewed#flagged")).into_response())
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            let scope = if form.from == "admin" && user.is_admin {
                Scope::Everyone
            } else {
                Scope::Cooperative(flags::cooperative_of(&state.db, id).await?)
            };
            scans_page(&state, ctx, &user, scope, None, Some((id, errors)), status).await
        }
    }
}
