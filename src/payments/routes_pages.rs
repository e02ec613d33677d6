//! The administrator's money desk at `/admin/payments`: the queue of transfers that did not
//! match, confirming a transfer by hand, refunds to send back by bank transfer, what each
//! cooperative is owed with the payout form, and the reconciliation report. Plain forms, no
//! JavaScript; each form's errors show beside its fields and keep what was typed.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::desk::{
    self, ExceptionView, ManualConfirmation, OwedView, PayoutRequest, RefundView, ResolveRequest,
};
use crate::AppState;
use crate::accounts::Authenticated;
use crate::domain::{FieldIssue, Money};
use crate::error::{AppResult, FieldErrors};
use crate::http::extract::{ApiPath, PageForm};
use crate::http::page::{PageContext, render_with_status};
use crate::ledger::reports::{self, ReconciliationLine};

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/payments", get(desk))
        .route(
            "/admin/payments/exceptions/{id}/resolve",
            post(resolve_submit),
        )
        .route("/admin/payments/confirm", post(confirm_submit))
        .route("/admin/payments/refunds/{id}/complete", post(refund_submit))
        .route("/admin/payments/refunds/{id}/retry", post(retry_submit))
        .route("/admin/payments/payouts", post(payout_submit))
}

#[derive(Template)]
#[template(path = "admin/payments.html")]
struct DeskPage {
    ctx: PageContext,
    exceptions: Vec<ExceptionView>,
    refunds: Vec<RefundView>,
    owed: Vec<OwedView>,
    reconciliation: Vec<ReconciliationLine>,
    /// Transactions whose entries do not sum to zero; always empty unless something is broken.
    unbalanced: Vec<i64>,
    notice: Option<&'static str>,
    /// Which form had an error (`confirm`, `payout`, `exception-{id}`, `refund-{id}`).
    error_target: String,
    errors: FieldErrors,
    confirm_form: ConfirmForm,
    payout_form: PayoutForm,
}

impl DeskPage {
    fn money(&self, dong: &i64) -> String {
        Money::from_dong(*dong).to_string()
    }
}

#[derive(Debug, Default, Deserialize)]
struct DeskParams {
    notice: Option<String>,
}

/// Notices a redirect may ask for, as message keys.
const NOTICES: [&str; 5] = ["resolved", "confirmed", "refunded", "resent", "paid_out"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct ConfirmForm {
    reference: String,
    bank_transaction_id: String,
    amount: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct PayoutForm {
    cooperative_id: String,
    amount: String,
    bank_reference: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct ResolveForm {
    resolution: String,
    returned_with_bank_reference: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct RefundForm {
    bank_reference: String,
}

/// A whole number of đồng typed in a form.
fn parse_amount(text: &str) -> Result<i64, FieldIssue> {
    Money::parse_price_text(text)
        .map(|m| m.dong())
        .map_err(|_| FieldIssue::new("invalid_amount", "a positive whole number of đồng"))
}

struct Forms {
    error_target: String,
    errors: FieldErrors,
    confirm_form: ConfirmForm,
    payout_form: PayoutForm,
}

impl Forms {
    fn clean() -> Self {
        Self {
            error_target: String::new(),
            errors: FieldErrors::default(),
            confirm_form: ConfirmForm::default(),
            payout_form: PayoutForm::default(),
        }
    }

    fn failed(target: impl Into<String>, errors: FieldErrors) -> Self {
        Self {
            error_target: target.into(),
            errors,
            ..Self::clean()
        }
    }
}

async fn render_desk(
    state: &AppState,
    ctx: PageContext,
    notice: Option<&'static str>,
    forms: Forms,
    status: StatusCode,
) -> AppResult<Response> {
    let exceptions = desk::open_exceptions(&state.db).await?;
    let refunds = desk::open_refund_views(&state.db).await?;
    let owed = desk::owed_cooperatives(&state.db, state.config.commerce.return_window).await?;
    let page = DeskPage {
        ctx,
        exceptions,
        refunds,
        owed,
        reconciliation: reports::reconciliation(&state.db).await?,
        unbalanced: reports::unbalanced_transactions(&state.db).await?,
        notice,
        error_target: forms.error_target,
        errors: forms.errors,
        confirm_form: forms.confirm_form,
        payout_form: forms.payout_form,
    };
    render_with_status(status, &page)
}

async fn desk(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    Query(params): Query<DeskParams>,
) -> AppResult<Response> {
    user.require_admin()?;
    let notice = params
        .notice
        .and_then(|n| NOTICES.iter().copied().find(|k| *k == n));
    render_desk(&state, ctx, notice, Forms::clean(), StatusCode::OK).await
}

/// Redirects to the desk after a successful form, or shows the desk again with the form's
/// errors; any other error passes through.
async fn answer(
    state: &AppState,
    ctx: PageContext,
    result: AppResult<()>,
    notice: &str,
    anchor: &str,
    failed: impl FnOnce(FieldErrors) -> Forms,
) -> AppResult<Response> {
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("/admin/payments?notice={notice}#{anchor}")).into_response())
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            render_desk(state, ctx, None, failed(errors), status).await
        }
    }
}

async fn resolve_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<ResolveForm>,
) -> AppResult<Response> {
    user.require_admin()?;
    let request = ResolveRequest {
        resolution: form.resolution,
        returned_with_bank_reference: Some(form.returned_with_bank_reference)
            .filter(|r| !r.trim().is_empty()),
    };
    let result = desk::resolve(&state.db, &user, id, request)
        .await
        .map(|_| ());
    answer(&state, ctx, result, "resolved", "queue", |errors| {
        Forms::failed(format!("exception-{id}"), errors)
    })
    .await
}

async fn confirm_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    PageForm(form): PageForm<ConfirmForm>,
) -> AppResult<Response> {
    user.require_admin()?;
    let result = match parse_amount(&form.amount) {
        Ok(amount_vnd) => desk::confirm_by_hand(
            &state.db,
            &user,
            ManualConfirmation {
                reference: form.reference.clone(),
                bank_transaction_id: form.bank_transaction_id.clone(),
                amount_vnd,
            },
        )
        .await
        .map(|_| ()),
        Err(issue) => Err(FieldErrors::single("amount_vnd", issue)),
    };
    answer(&state, ctx, result, "confirmed", "confirm", |errors| {
        Forms {
            confirm_form: form,
            ..Forms::failed("confirm", errors)
        }
    })
    .await
}

async fn refund_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<RefundForm>,
) -> AppResult<Response> {
    user.require_admin()?;
    let result = desk::complete_bank_refund(&state.db, id, &form.bank_reference)
        .await
        .map(|_| ());
    answer(&state, ctx, result, "refunded", "refunds", |errors| {
        Forms::failed(format!("refund-{id}"), errors)
    })
    .await
}

async fn retry_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    user.require_admin()?;
    let result = desk::retry_card_refund(&state.db, id).await.map(|_| ());
    if result.is_ok() {
        super::refund_sender::send_refunds_soon(&state);
    }
    answer(&state, ctx, result, "resent", "refunds", |errors| {
        Forms::failed(format!("refund-{id}"), errors)
    })
    .await
}

async fn payout_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    PageForm(form): PageForm<PayoutForm>,
) -> AppResult<Response> {
    user.require_admin()?;
    let mut errors = FieldErrors::default();
    let cooperative_id = errors.take(
        "cooperative_id",
        form.cooperative_id
            .trim()
            .parse::<i64>()
            .map_err(|_| FieldIssue::new("required", "choose a cooperative")),
    );
    let amount_vnd = errors.take("amount_vnd", parse_amount(&form.amount));
    let result = match (cooperative_id, amount_vnd) {
        (Some(cooperative_id), Some(amount_vnd)) if errors.is_empty() => desk::record_payout(
            &state.db,
            &user,
            PayoutRequest {
                cooperative_id,
                amount_vnd,
                bank_reference: form.bank_reference.clone(),
            },
            state.config.commerce.return_window,
        )
        .await
        .map(|_| ()),
        _ => Err(errors.into_error()),
    };
    answer(&state, ctx, result, "paid_out", "payouts", |errors| Forms {
        payout_form: form,
        ..Forms::failed("payout", errors)
    })
    .await
}
