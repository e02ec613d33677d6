//! Working fake reports over the API: the cooperative's members and the province list them,
//! read one with its notes, and move it on with a note.

use axum::Json;
use axum::extract::State;

use crate::AppState;
use crate::accounts::Authenticated;
use crate::error::{AppResult, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::trace::fake_reports::{
    self, FakeReportDetail, FakeReportFilter, FakeReportStep, FakeReportView,
};

/// Fake reports, newest first: an administrator's of every cooperative (and of unknown codes),
/// a member's of their own cooperatives. The reporter's contact is never included.
#[utoipa::path(get, path = "/fake-reports", tag = "trace",
    params(FakeReportFilter),
    responses(
        (status = 200, body = [FakeReportView]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "Not a member of that cooperative"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn list_fake_reports(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiQuery(filter): ApiQuery<FakeReportFilter>,
) -> AppResult<Json<Vec<FakeReportView>>> {
    Ok(Json(fake_reports::list(&state.db, &user, &filter).await?))
}

/// One fake report with its notes, oldest first.
#[utoipa::path(get, path = "/fake-reports/{id}", tag = "trace",
    params(("id" = i64, Path, description = "Report id")),
    responses(
        (status = 200, body = FakeReportDetail),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn get_fake_report(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<FakeReportDetail>> {
    Ok(Json(fake_reports::detail(&state.db, &user, id).await?))
}

/// Move a fake report on (`looking`, `confirmed_fake`, `not_fake`…) with a note. Reaching an
/// outcome tells the reporter, once, when they left a contact.
#[utoipa::path(post, path = "/fake-reports/{id}/notes", tag = "trace",
    params(("id" = i64, Path, description = "Report id")),
    request_body = FakeReportStep,
    responses(
        (status = 200, body = FakeReportDetail),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn work_fake_report(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(step): ApiJson<FakeReportStep>,
) -> AppResult<Json<FakeReportDetail>> {
    Ok(Json(fake_reports::work(&state.db, &user, id, &step).await?))
}
