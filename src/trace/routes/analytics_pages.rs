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
use crate::trace::fake_reports::{self, FakeReportStatus, FakeReportStep};
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
    /// The form that had errors, and the errors.
    form_errors: FormErrors,
    /// The statuses a fake report can be moved to, for the select.
    report_statuses: &'static [FakeReportStatus],
}

/// Which form on the page came back with errors.
#[derive(Default)]
enum FormErrors {
    #[default]
    None,
    /// The review form of a flagged stamp.
    Flag(i64, FieldErrors),
    /// The form that works a fake report.
    Report(i64, FieldErrors),
}

impl ScansPage {
    /// The review form errors of one flagged stamp (none for the others).
    fn errors_for(&self, stamp_id: i64) -> FieldErrors {
        match &self.form_errors {
            FormErrors::Flag(id, errors) if *id == stamp_id => errors.clone(),
            _ => FieldErrors::default(),
        }
    }

    /// The errors of one fake report's form (none for the others).
    fn report_errors_for(&self, report_id: i64) -> FieldErrors {
        match &self.form_errors {
            FormErrors::Report(id, errors) if *id == report_id => errors.clone(),
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
    form_errors: FormErrors,
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
            notice: notice.filter(|n| n == "reviewed" || n == "report_updated"),
            form_errors,
            report_statuses: FakeReportStatus::ALL,
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
        FormErrors::None,
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
        FormErrors::None,
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
            scans_page(
                &state,
                ctx,
                &user,
                scope,
                None,
                FormErrors::Flag(id, errors),
                status,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct FakeReportStepForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    note: String,
    /// `admin` when sent from the administrators' page.
    #[serde(default)]
    from: String,
}

/// A step on a fake report from an analytics page: back to it with a notice, or the page again
/// with the errors beside the report's form.
pub(super) async fn work_fake_report_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<FakeReportStepForm>,
) -> AppResult<Response> {
    let step = FakeReportStep {
        status: form.status,
        note: form.note,
    };
    let from_admin = form.from == "admin" && user.is_admin;
    match fake_reports::work(&state.db, &user, id, &step).await {
        Ok(detail) => {
            let back = match (from_admin, detail.report.cooperative_id) {
                (false, Some(cooperative)) => {
                    format!("/workspace/cooperatives/{cooperative}/scans")
                }
                _ => "/admin/scans".to_owned(),
            };
            Ok(Redirect::to(&format!("{back}?notice=report_updated#report-{id}")).into_response())
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            // The form's errors come back only to someone who may see the report.
            let report = fake_reports::detail(&state.db, &user, id).await?;
            let scope = match (from_admin, report.report.cooperative_id) {
                (false, Some(cooperative)) => Scope::Cooperative(cooperative),
                _ => Scope::Everyone,
            };
            scans_page(
                &state,
                ctx,
                &user,
                scope,
                None,
                FormErrors::Report(id, errors),
                status,
            )
            .await
        }
    }
}
