//! The scan analytics pages of a cooperative and of the administrators.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::AppState;
use crate::accounts::Authenticated;
use crate::catalog::access;
use crate::error::AppResult;
use crate::http::extract::ApiPath;
use crate::http::page::{PageContext, render};
use crate::trace::analytics::{ScanAnalytics, scan_analytics};

#[derive(Template)]
#[template(path = "workspace/scans.html")]
struct ScansPage {
    ctx: PageContext,
    title: String,
    analytics: ScanAnalytics,
}

pub(super) async fn cooperative_scans(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    let analytics = scan_analytics(&state.db, &state.reference, Some(id), 30).await?;
    render(&ScansPage {
        ctx,
        title: membership.cooperative.name,
        analytics,
    })
}

pub(super) async fn admin_scans(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
) -> AppResult<Response> {
    user.require_admin()?;
    let analytics = scan_analytics(&state.db, &state.reference, None, 30).await?;
    let title = ctx.t.get("admin.title").to_owned();
    render(&ScansPage {
        ctx,
        title,
        analytics,
    })
}
