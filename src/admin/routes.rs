//! Administrator pages and API: verification queues and decisions.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{
    CooperativeDecision, certificates_in, certificates_with_product_names, cooperatives_in,
    decide_certificate, decide_cooperative, unknown_decision,
};
use crate::AppState;
use crate::accounts::{Authenticated, CurrentUser};
use crate::catalog::gtins::{self, GtinDispute};
use crate::catalog::views::{CertificateView, CooperativePrivateView};
use crate::catalog::{CertificateStatus, CooperativeStatus};
use crate::changes::Change;
use crate::clock::today_in_vietnam;
use crate::domain::Gtin;
use crate::error::{AppError, AppResult, FieldErrors, Problem};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, PageForm};
use crate::http::page::{PageContext, render_with_status};

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(admin_page))
        .route(
            "/admin/cooperatives/{id}/decision",
            post(decide_cooperative_submit),
        )
        .route(
            "/admin/certificates/{id}/decision",
            post(decide_certificate_submit),
        )
        .route("/admin/gtins/{gtin}/owner", post(award_gtin_submit))
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list_cooperatives))
        .routes(routes!(api_decide_cooperative))
        .routes(routes!(api_list_certificates))
        .routes(routes!(api_decide_certificate))
        .routes(routes!(api_gtin_disputes))
        .routes(routes!(api_award_gtin))
}

// ---------------------------------------------------------------- API

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusParams {
    /// `pending` (default), `verified`, `rejected` or `suspended` (cooperatives only).
    status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DecisionRequest {
    /// Cooperatives: `verify`, `reject`, `suspend`, `reinstate`. Certificates: `verify`, `reject`.
    decision: String,
    /// Required when rejecting or suspending.
    #[serde(default)]
    reason: String,
    /// Cooperatives: the `review_fingerprint` of the details reviewed; a decision on details
    /// that changed since is refused (409 `stale_review`).
    #[serde(default)]
    fingerprint: Option<String>,
}

fn require_admin(user: &CurrentUser) -> AppResult<()> {
    user.require_admin()
}

/// Cooperatives by verification status (administrators).
#[utoipa::path(get, path = "/admin/cooperatives", tag = "admin", params(StatusParams),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [CooperativePrivateView]), (status = 403, body = Problem)))]
async fn api_list_cooperatives(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiQuery(params): ApiQuery<StatusParams>,
) -> AppResult<Json<Vec<CooperativePrivateView>>> {
    require_admin(&user)?;
    let status = match params.status.as_deref() {
        None => CooperativeStatus::Pending,
        Some(s) => CooperativeStatus::parse(s)
            .ok_or_else(|| AppError::bad_request("invalid_status", "unknown status"))?,
    };
    let coops = cooperatives_in(&state.db, status, 500).await?;
    Ok(Json(
        coops
            .iter()
            .map(|c| CooperativePrivateView::new(c, &state.reference, None))
            .collect(),
    ))
}

/// Verify, reject, suspend or reinstate a cooperative (administrators).
#[utoipa::path(post, path = "/admin/cooperatives/{id}/decision", tag = "admin",
    params(("id" = i64, Path, description = "Cooperative id")),
    request_body = DecisionRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), 
        (status = 200, body = CooperativePrivateView),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Not allowed from the current status, or the details changed since the review (`stale_review`)"),
        (status = 422, body = Problem, description = "Missing reason or unknown decision"),
    ))]
async fn api_decide_cooperative(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DecisionRequest>,
) -> AppResult<Json<CooperativePrivateView>> {
    require_admin(&user)?;
    let decision = CooperativeDecision::parse(&body.decision).ok_or_else(unknown_decision)?;
    let coop = decide_cooperative(
        &state.db,
        &user,
        id,
        decision,
        &body.reason,
        body.fingerprint.as_deref(),
    )
    .await?;
    state.changes.publish(&[Change::Cooperative(coop.id)]).await;
    Ok(Json(CooperativePrivateView::new(
        &coop,
        &state.reference,
        None,
    )))
}

/// Certificates by verification status (administrators).
#[utoipa::path(get, path = "/admin/certificates", tag = "admin", params(StatusParams),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [CertificateView]), (status = 403, body = Problem)))]
async fn api_list_certificates(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiQuery(params): ApiQuery<StatusParams>,
) -> AppResult<Json<Vec<CertificateView>>> {
    require_admin(&user)?;
    let status = match params.status.as_deref() {
        None => CertificateStatus::Pending,
        Some(s) => CertificateStatus::parse(s)
            .ok_or_else(|| AppError::bad_request("invalid_status", "unknown status"))?,
    };
    let today = today_in_vietnam();
    let certs = certificates_in(&state.db, status, 500).await?;
    Ok(Json(
        certs
            .iter()
            .map(|c| CertificateView::new(c, today))
            .collect(),
    ))
}

fn certificate_decision(text: &str) -> AppResult<bool> {
    match text {
        "verify" => Ok(true),
        "reject" => Ok(false),
        _ => Err(unknown_decision()),
    }
}

/// Verify or reject an OCOP certificate (administrators).
#[utoipa::path(post, path = "/admin/certificates/{id}/decision", tag = "admin",
    params(("id" = i64, Path, description = "Certificate id")),
    request_body = DecisionRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), 
        (status = 200, body = CertificateView),
        (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 422, body = Problem),
    ))]
async fn api_decide_certificate(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DecisionRequest>,
) -> AppResult<Json<CertificateView>> {
    require_admin(&user)?;
    let verify = certificate_decision(&body.decision)?;
    let cert = decide_certificate(&state.db, &user, id, verify, &body.reason).await?;
    state
        .changes
        .publish(&[Change::Product(cert.product_id)])
        .await;
    Ok(Json(CertificateView::new(&cert, today_in_vietnam())))
}

/// GTINs that verified cooperatives claim against each other, with the current owner of each
/// (administrators).
#[utoipa::path(get, path = "/admin/gtin-disputes", tag = "admin",
    responses(
        (status = 200, body = [GtinDispute]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
async fn api_gtin_disputes(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> AppResult<Json<Vec<GtinDispute>>> {
    require_admin(&user)?;
    Ok(Json(gtins::disputes(&state.db).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AwardRequest {
    /// The size (of a verified cooperative, claiming this GTIN) that gets it.
    #[serde(default)]
    variant_id: Option<i64>,
    /// Or the product whose size claiming this GTIN gets it.
    #[serde(default)]
    product_id: Option<i64>,
}

/// Give a disputed GTIN to one product: the current owner loses it if another, and every other
/// claim is refused (administrators).
#[utoipa::path(post, path = "/admin/gtins/{gtin}/owner", tag = "admin",
    params(("gtin" = String, Path, description = "The GTIN (8, 12, 13 or 14 digits)")),
    request_body = AwardRequest,
    responses(
        (status = 204, description = "The size owns the GTIN"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such claim"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The product's cooperative is not verified"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn api_award_gtin(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(gtin): ApiPath<String>,
    ApiJson(body): ApiJson<AwardRequest>,
) -> AppResult<StatusCode> {
    require_admin(&user)?;
    let gtin = Gtin::parse(&gtin).map_err(|issue| FieldErrors::single("gtin", issue))?;
    award_gtin(&state, &user, &gtin, body.product_id, body.variant_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn award_gtin(
    state: &AppState,
    admin: &CurrentUser,
    gtin: &Gtin,
    product_id: Option<i64>,
    variant_id: Option<i64>,
) -> AppResult<()> {
    let txn = crate::db::begin_write(&state.db).await?;
    let changed = gtins::award(&txn, admin, gtin, product_id, variant_id).await?;
    txn.commit().await?;
    let changes: Vec<Change> = changed.into_iter().map(Change::Product).collect();
    state.changes.publish(&changes).await;
    Ok(())
}

// ---------------------------------------------------------------- pages

/// A pending certificate with the product it is for.
pub struct CertificateRow {
    pub certificate: CertificateView,
    pub product_name: String,
}

#[derive(Template)]
#[template(path = "admin/index.html")]
struct AdminPage {
    ctx: PageContext,
    pending: Vec<CooperativePrivateView>,
    verified: Vec<CooperativePrivateView>,
    suspended: Vec<CooperativePrivateView>,
    certificates: Vec<CertificateRow>,
    gtin_disputes: Vec<GtinDispute>,
    /// Reported reviews to keep or hide, and hidden ones to show again.
    review_queue: crate::reviews::ModerationQueue,
    /// Messages that could not be delivered (refused for good, or given up on).
    failed_messages: Vec<FailedMessageRow>,
    /// The item whose form had an error, and the error.
    error_target: String,
    errors: FieldErrors,
}

/// A message that could not be delivered, as the administrators' page lists it.
struct FailedMessageRow {
    kind: String,
    channel: String,
    recipient: String,
    attempts: i32,
    error: String,
    failed_at: String,
}

async fn admin_page(State(state): State<AppState>, ctx: PageContext) -> AppResult<Response> {
    render_admin(
        &state,
        ctx,
        String::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn render_admin(
    state: &AppState,
    ctx: PageContext,
    error_target: String,
    errors: FieldErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let user = ctx.user.clone().ok_or(AppError::Unauthenticated)?;
    require_admin(&user)?;
    let view = |status| async move {
        Ok::<_, AppError>(
            cooperatives_in(&state.db, status, 200)
                .await?
                .iter()
                .map(|c| CooperativePrivateView::new(c, &state.reference, None))
                .collect::<Vec<_>>(),
        )
    };
    let pending = view(CooperativeStatus::Pending).await?;
    let verified = view(CooperativeStatus::Verified).await?;
    let suspended = view(CooperativeStatus::Suspended).await?;
    let today = today_in_vietnam();
    let certificates = certificates_with_product_names(&state.db, CertificateStatus::Pending, 200)
        .await?
        .iter()
        .map(|(c, product_name)| CertificateRow {
            certificate: CertificateView::new(c, today),
            product_name: product_name.clone(),
        })
        .collect();
    render_with_status(
        status,
        &AdminPage {
            ctx,
            pending,
            verified,
            suspended,
            certificates,
            gtin_disputes: gtins::disputes(&state.db).await?,
            review_queue: crate::reviews::moderation_queue(&state.db).await?,
            failed_messages: crate::messages::preferences::failed_messages(&state.db, 50)
                .await?
                .into_iter()
                .map(|m| FailedMessageRow {
                    kind: m.template,
                    channel: m.channel,
                    recipient: m.recipient,
                    attempts: m.attempts,
                    error: m.last_error.unwrap_or_default(),
                    failed_at: m
                        .failed_at
                        .map(|at| {
                            crate::clock::to_vietnam_time(at)
                                .format("%d/%m/%Y %H:%M")
                                .to_string()
                        })
                        .unwrap_or_default(),
                })
                .collect(),
            error_target,
            errors,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    fingerprint: String,
}

async fn decide_cooperative_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<DecisionForm>,
) -> AppResult<Response> {
    let result = match CooperativeDecision::parse(&form.decision) {
        Some(decision) => {
            match decide_cooperative(
                &state.db,
                &user,
                id,
                decision,
                &form.reason,
                Some(&form.fingerprint),
            )
            .await
            {
                Ok(coop) => {
                    state.changes.publish(&[Change::Cooperative(coop.id)]).await;
                    Ok(())
                }
                Err(err) => Err(err),
            }
        }
        None => Err(unknown_decision()),
    };
    finish_decision(&state, ctx, format!("coop-{id}"), result).await
}

async fn decide_certificate_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<DecisionForm>,
) -> AppResult<Response> {
    let result = match certificate_decision(&form.decision) {
        Ok(verify) => match decide_certificate(&state.db, &user, id, verify, &form.reason).await {
            Ok(cert) => {
                state
                    .changes
                    .publish(&[Change::Product(cert.product_id)])
                    .await;
                Ok(())
            }
            Err(err) => Err(err),
        },
        Err(e) => Err(e),
    };
    finish_decision(&state, ctx, format!("cert-{id}"), result).await
}

async fn finish_decision(
    state: &AppState,
    ctx: PageContext,
    target: String,
    result: AppResult<()>,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to("/admin").into_response()),
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            render_admin(state, ctx, target, errors, status).await
        }
    }
}

#[derive(Debug, Deserialize)]
struct AwardForm {
    #[serde(default)]
    product_id: Option<i64>,
    #[serde(default)]
    variant_id: Option<i64>,
}

async fn award_gtin_submit(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(gtin): ApiPath<String>,
    PageForm(form): PageForm<AwardForm>,
) -> AppResult<Response> {
    require_admin(&user)?;
    let gtin = Gtin::parse(&gtin).map_err(|issue| FieldErrors::single("gtin", issue))?;
    award_gtin(&state, &user, &gtin, form.product_id, form.variant_id).await?;
    Ok(Redirect::to("/admin#gtins").into_response())
}
