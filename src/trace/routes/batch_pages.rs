//! The cooperative's workspace pages of a batch: recording it, its page with the forms for
//! events, photos, issuing and voiding stamps, and the label and CSV downloads it links to.

use askama::Template;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::accounts::Authenticated;
use crate::catalog::access;
use crate::catalog::views::CooperativeView;
use crate::changes::Change;
use crate::domain::FieldIssue;
use crate::entities::batches as batch_rows;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::extract::{ApiPath, PageForm};
use crate::http::page::{PageContext, render, render_form_error, render_with_status};
use crate::trace::batches::{self, BatchInput};
use crate::trace::events::{self, EventInput, EventView};
use crate::trace::recalls::{self, RecallInput, RecallView, ShippedLine};
use crate::trace::stamps::{self, RollSummary, VoidSelection};
use crate::trace::{EventType, VoidReason};

#[derive(Template)]
#[template(path = "workspace/batch_form.html")]
struct BatchFormPage {
    ctx: PageContext,
    product_id: i64,
    product_name: String,
    /// The product's sizes (id, label); a batch is of one.
    variants: Vec<(i64, String)>,
    form: BatchInput,
    errors: FieldErrors,
}

impl BatchFormPage {
    fn is_variant(&self, id: &i64) -> bool {
        self.form.variant_id == Some(*id)
    }
}

async fn variant_choices(state: &AppState, product_id: i64) -> AppResult<Vec<(i64, String)>> {
    Ok(crate::catalog::variants::of_product(&state.db, product_id)
        .await?
        .into_iter()
        .map(|v| (v.id, v.label))
        .collect())
}

pub(super) async fn new_batch_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let (product, _) = access::managed_product(&state.db, &user, id).await?;
    render(&BatchFormPage {
        ctx,
        product_id: product.id,
        variants: variant_choices(&state, product.id).await?,
        product_name: product.name,
        form: BatchInput {
            quantity_unit: "hộp".into(),
            ..Default::default()
        },
        errors: FieldErrors::default(),
    })
}

pub(super) async fn new_batch_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<BatchInput>,
) -> AppResult<Response> {
    let (product, membership) = access::managed_product(&state.db, &user, id).await?;
    let result = match form.parse(&state.reference) {
        Ok(details) => batches::create(&state.db, &user, &membership, &product, details).await,
        Err(e) => Err(e),
    };
    let variants = variant_choices(&state, product.id).await?;
    match result {
        Ok(batch) => Ok(Redirect::to(&format!("/workspace/batches/{}", batch.id)).into_response()),
        Err(err) => render_form_error(err, |errors| BatchFormPage {
            ctx,
            variants,
            product_id: product.id,
            product_name: product.name,
            form,
            errors,
        }),
    }
}

#[derive(Template)]
#[template(path = "workspace/batch.html")]
struct BatchPage {
    ctx: PageContext,
    cooperative: CooperativeView,
    product_id: i64,
    product_name: String,
    batch: batch_rows::Model,
    place: String,
    events: Vec<EventView>,
    rolls: Vec<RollSummary>,
    /// The batch's size has a GTIN: its rolls can print the GS1 Digital Link form.
    digital_link: bool,
    sample_links: Vec<(i64, String)>,
    event_form: EventInput,
    event_errors: FieldErrors,
    stamp_errors: FieldErrors,
    /// The batch's photos in display order: id and image.
    photos: Vec<(i64, crate::media::PhotoImage)>,
    photo_errors: FieldErrors,
    notice: Option<String>,
    /// The lot's recall with its figures, if it was ever recalled.
    recall: Option<RecallView>,
    /// The order lines packed from the lot.
    shipped: Vec<ShippedLine>,
    recall_form: RecallInput,
    recall_errors: FieldErrors,
}

impl BatchPage {
    /// "Recalled since …", or "recalled on … and cleared on …".
    fn recall_status(&self, recall: &RecallView) -> String {
        let date = |at: &chrono::DateTime<chrono::Utc>| {
            crate::clock::to_vietnam_time(*at)
                .format("%d/%m/%Y")
                .to_string()
        };
        match &recall.cleared_at {
            Some(cleared) => self.ctx.t.format(
                "recall.cleared",
                &[
                    ("date", &date(&recall.recalled_at)),
                    ("cleared", &date(cleared)),
                ],
            ),
            None => self
                .ctx
                .t
                .format("recall.open", &[("date", &date(&recall.recalled_at))]),
        }
    }

    fn event_types(&self) -> &'static [EventType] {
        EventType::ALL
    }

    fn void_reasons(&self) -> &'static [VoidReason] {
        VoidReason::ALL
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct BatchPageParams {
    notice: Option<String>,
}

/// The forms of the batch page as they should be shown again.
#[derive(Default)]
struct BatchForms {
    event_form: EventInput,
    event_errors: FieldErrors,
    stamp_errors: FieldErrors,
    photo_errors: FieldErrors,
    notice: Option<String>,
    recall_form: RecallInput,
    recall_errors: FieldErrors,
}

async fn render_batch_page(
    state: &AppState,
    ctx: PageContext,
    batch_id: i64,
    user: &crate::accounts::CurrentUser,
    forms: BatchForms,
    status: StatusCode,
) -> AppResult<Response> {
    let BatchForms {
        event_form,
        event_errors,
        stamp_errors,
        photo_errors,
        notice,
        recall_form,
        recall_errors,
    } = forms;
    let (batch, product, membership) = batches::managed(&state.db, user, batch_id).await?;
    let recall = recalls::view_of(&state.db, &batch).await?;
    let shipped = recalls::shipped_lines(&state.db, &batch).await?;
    let events = events::of_batch(&state.db, &state.reference, batch.id).await?;
    let rolls = stamps::rolls_of(&state.db, batch.id).await?;
    let digital_link =
        crate::catalog::variants::gtin_of_variant(&state.db, &product, batch.variant_id)
            .await?
            .is_some();
    let photos = crate::media::ordered(&state.db, crate::media::PhotoOwner::Batch(batch.id))
        .await?
        .iter()
        .map(|p| (p.id, crate::media::PhotoImage::of(p)))
        .collect();
    let sample_links = stamps::first_active(&state.db, batch.id, 3)
        .await?
        .iter()
        .map(|s| {
            (
                s.serial,
                stamps::link_url(&state.config.public_url, &s.code),
            )
        })
        .collect();
    render_with_status(
        status,
        &BatchPage {
            ctx,
            cooperative: CooperativeView::new(&membership.cooperative, &state.reference),
            product_id: product.id,
            product_name: product.name,
            place: state.reference.place_name(&batch.origin_commune_code),
            batch,
            events,
            rolls,
            digital_link,
            sample_links,
            event_form,
            event_errors,
            stamp_errors,
            photos,
            photo_errors,
            notice,
            recall,
            shipped,
            recall_form,
            recall_errors,
        },
    )
}

/// Adds a batch photo from the batch page's upload form; a refused file shows its reason
/// beside the file field.
pub(super) async fn batch_photo_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let (batch, _, membership) = batches::managed(&state.db, &user, id).await?;
    let added = crate::media::routes::receive(
        &state,
        &user,
        membership.cooperative.id,
        crate::media::PhotoOwner::Batch(batch.id),
        multipart,
    )
    .await
    .map(|_| ());
    match added {
        Ok(()) => Ok(Redirect::to(&format!("/workspace/batches/{id}#photos")).into_response()),
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            render_batch_page(
                &state,
                ctx,
                id,
                &user,
                BatchForms {
                    photo_errors: errors,
                    ..BatchForms::default()
                },
                status,
            )
            .await
        }
    }
}

pub(super) async fn batch_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    Query(params): Query<BatchPageParams>,
) -> AppResult<Response> {
    let notice = params
        .notice
        .filter(|n| ["issued", "voided", "event", "recalled", "cleared"].contains(&n.as_str()));
    render_batch_page(
        &state,
        ctx,
        id,
        &user,
        BatchForms {
            // Most events are recorded as they happen: the form starts at the current minute
            // in Vietnam, so a helper on a phone need not type a date and time.
            event_form: EventInput {
                event_type: "commissioning".into(),
                occurred_at: crate::clock::to_vietnam_time(chrono::Utc::now())
                    .format("%Y-%m-%dT%H:%M")
                    .to_string(),
                utc_offset: "+07:00".into(),
                ..Default::default()
            },
            notice,
            ..Default::default()
        },
        StatusCode::OK,
    )
    .await
}

pub(super) async fn event_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<EventInput>,
) -> AppResult<Response> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let result = match form.parse(&state.reference) {
        Ok(details) => events::record(&state.db, &user, &batch, details)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            state.changes.publish(&[Change::Batch(id)]).await;
            Ok(Redirect::to(&format!("/workspace/batches/{id}?notice=event")).into_response())
        }
        Err(AppError::Validation(errors)) => {
            render_batch_page(
                &state,
                ctx,
                id,
                &user,
                BatchForms {
                    event_form: form,
                    event_errors: errors,
                    stamp_errors: FieldErrors::default(),
                    photo_errors: FieldErrors::default(),
                    notice: None,
                    ..BatchForms::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct IssueForm {
    #[serde(default)]
    count: String,
    #[serde(default)]
    signed: Option<String>,
}

pub(super) async fn issue_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<IssueForm>,
) -> AppResult<Response> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let count = form
        .count
        .trim()
        .parse::<i64>()
        .map_err(|_| FieldIssue::new("invalid_stamp_count", "1 to 100,000 stamps"))
        .and_then(stamps::parse_count);
    match count {
        Ok(count) => {
            let issued = stamps::issue(
                &state.db,
                &state.signer,
                &batch,
                count,
                form.signed.is_some(),
                |_| Ok(()),
            )
            .await;
            match issued {
                Ok(_) => {
                    state.changes.publish(&[Change::StampsIssued]).await;
                    Ok(
                        Redirect::to(&format!("/workspace/batches/{id}?notice=issued"))
                            .into_response(),
                    )
                }
                // Shown beside the form: the cooperative waits for the province.
                Err(AppError::Conflict {
                    code: code @ "cooperative_not_verified",
                    message,
                    ..
                }) => {
                    stamp_form_error(&state, ctx, id, &user, FieldIssue::new(code, message)).await
                }
                Err(other) => Err(other),
            }
        }
        Err(issue) => stamp_form_error(&state, ctx, id, &user, issue).await,
    }
}

/// The batch page again, with an error beside the stamp form.
async fn stamp_form_error(
    state: &AppState,
    ctx: PageContext,
    id: i64,
    user: &crate::accounts::CurrentUser,
    issue: FieldIssue,
) -> AppResult<Response> {
    let status = if issue.code == "cooperative_not_verified" {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut errors = FieldErrors::default();
    errors.add("count", issue);
    render_batch_page(
        state,
        ctx,
        id,
        user,
        BatchForms {
            event_form: EventInput::default(),
            event_errors: FieldErrors::default(),
            stamp_errors: errors,
            photo_errors: FieldErrors::default(),
            notice: None,
            ..BatchForms::default()
        },
        status,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct VoidForm {
    #[serde(default)]
    select: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    roll: String,
    #[serde(default)]
    reason: String,
}

impl VoidForm {
    fn selection(&self) -> Result<VoidSelection, (&'static str, FieldIssue)> {
        let number = |field: &'static str, text: &str| {
            text.trim().parse::<i64>().ok().filter(|n| *n > 0).ok_or((
                field,
                FieldIssue::new("invalid_serial", "a serial number from 1"),
            ))
        };
        match self.select.as_str() {
            "serial" => Ok(VoidSelection::Serial {
                serial: number("from", &self.from)?,
            }),
            "range" => Ok(VoidSelection::Range {
                from: number("from", &self.from)?,
                to: number("to", &self.to)?,
            }),
            "roll" => Ok(VoidSelection::Roll {
                roll: i32::try_from(number("roll", &self.roll)?)
                    .map_err(|_| ("roll", FieldIssue::new("invalid_roll", "a roll number")))?,
            }),
            _ => Err((
                "select",
                FieldIssue::new("invalid_selection", "one stamp, a range or a roll"),
            )),
        }
    }
}

pub(super) async fn void_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<VoidForm>,
) -> AppResult<Response> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let result = match form.selection() {
        Ok(selection) => stamps::void(&state.db, &batch, &selection, &form.reason).await,
        Err((field, issue)) => Err(FieldErrors::single(field, issue)),
    };
    match result {
        Ok(_) => {
            state.changes.publish(&[Change::StampsVoided]).await;
            Ok(Redirect::to(&format!("/workspace/batches/{id}?notice=voided")).into_response())
        }
        Err(AppError::Validation(errors)) => {
            render_batch_page(
                &state,
                ctx,
                id,
                &user,
                BatchForms {
                    event_form: EventInput::default(),
                    event_errors: FieldErrors::default(),
                    stamp_errors: errors,
                    photo_errors: FieldErrors::default(),
                    notice: None,
                    ..BatchForms::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

/// Recalls the lot from the batch page's form; errors show beside the fields.
pub(super) async fn recall_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<RecallInput>,
) -> AppResult<Response> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let result = match form.parse() {
        Ok(details) => recalls::recall(&state.db, &user, &batch, details)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            super::api_recalls::publish(&state, &batch).await;
            Ok(
                Redirect::to(&format!("/workspace/batches/{id}?notice=recalled#recall"))
                    .into_response(),
            )
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            render_batch_page(
                &state,
                ctx,
                id,
                &user,
                BatchForms {
                    recall_form: form,
                    recall_errors: errors,
                    ..BatchForms::default()
                },
                status,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ClearRecallForm {
    #[serde(default)]
    remaining_stock_safe: Option<String>,
}

/// Clears the lot's recall once the remaining stock is confirmed safe (the box ticked).
pub(super) async fn clear_recall_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<ClearRecallForm>,
) -> AppResult<Response> {
    let (batch, _, _) = batches::managed(&state.db, &user, id).await?;
    let confirmed = form.remaining_stock_safe.is_some();
    match recalls::clear(&state.db, &user, &batch, confirmed).await {
        Ok(_) => {
            super::api_recalls::publish(&state, &batch).await;
            Ok(
                Redirect::to(&format!("/workspace/batches/{id}?notice=cleared#recall"))
                    .into_response(),
            )
        }
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            render_batch_page(
                &state,
                ctx,
                id,
                &user,
                BatchForms {
                    recall_errors: errors,
                    ..BatchForms::default()
                },
                status,
            )
            .await
        }
    }
}
