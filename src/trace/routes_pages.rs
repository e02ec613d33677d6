//! Trace pages: the public origin page a stamp's QR opens (and its GS1 Digital Link and
//! signed forms), fake reports, and the cooperative's batch, stamp and analytics pages.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;

use super::analytics::{ScanAnalytics, scan_analytics};
use super::batches::{self, BatchInput};
use super::events::{self, EventInput, EventView};
use super::fake_reports::{self, FakeReportForm};
use super::origin::OriginView;
use super::scans::{ScanInput, Verdict};
use super::signing::SignedParts;
use super::stamps::{self, RollSummary, VoidSelection};
use super::verdict::{self, PageClient};
use super::{EventType, VoidReason};
use crate::AppState;
use crate::accounts::Authenticated;
use crate::catalog::access;
use crate::catalog::views::CooperativeView;
use crate::domain::{FieldIssue, StampCode};
use crate::entities::batches as batch_rows;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::extract::{ApiPath, PageForm};
use crate::http::page::{PageContext, render, render_form_error, render_with_status};
use crate::http::rate_limit::ClientAddr;
use crate::http::skeleton::{self, Skeleton};
use crate::i18n::{Lang, Messages};
use crate::reference::Province;

pub const CLIENT_COOKIE: &str = "ocop_client";

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/s/{code}", get(scan_plain))
        .route("/S/{code}", get(scan_plain))
        .route("/s/{code}/{lot}/{serial}/{signature}", get(scan_signed))
        .route("/S/{code}/{lot}/{serial}/{signature}", get(scan_signed))
        .route("/01/{gtin}/10/{lot}/21/{serial}", get(scan_digital_link))
        .route("/s/{code}/report", post(report_fake))
        .route("/.well-known/ocop-stamp-keys.json", get(published_keys))
        .route(
            "/workspace/products/{id}/batches/new",
            get(new_batch_page).post(new_batch_submit),
        )
        .route("/workspace/batches/{id}", get(batch_page))
        .route("/workspace/batches/{id}/events", post(event_submit))
        .route(
            "/workspace/batches/{id}/photos",
            post(batch_photo_submit)
                .layer(DefaultBodyLimit::max(crate::media::routes::MAX_UPLOAD_BODY)),
        )
        .route("/workspace/batches/{id}/stamps", post(issue_submit))
        .route("/workspace/batches/{id}/stamps/void", post(void_submit))
        .route(
            "/workspace/batches/{id}/labels.pdf",
            get(super::routes_api::labels_pdf),
        )
        .route(
            "/workspace/batches/{id}/stamps.csv",
            get(super::routes_api::stamps_csv),
        )
        .route("/workspace/cooperatives/{id}/scans", get(cooperative_scans))
        .route("/admin/scans", get(admin_scans))
}

// ---------------------------------------------------------------- the public scan page

#[derive(Debug, Default, Deserialize)]
pub struct ScanParams {
    /// Province where the person bought the package (opt-in).
    province: Option<String>,
    lat: Option<String>,
    lon: Option<String>,
}

#[derive(Template)]
#[template(path = "scan.html")]
struct ScanPage<'a> {
    ctx: PageContext,
    /// What changes with every scan (see [`ScanValues`]).
    slots: ScanSlots,
    origin: Option<Arc<OriginView>>,
    provinces: &'a [Province],
    reported_province: Option<String>,
    /// The person shared their (rounded) position with this check.
    shared_position: bool,
    scan_js_path: &'static str,
    report_errors: FieldErrors,
}

impl<'a> ScanPage<'a> {
    /// A scan page as nearly every scan shows it: no place of purchase or position given, no
    /// report form errors.
    fn new(
        ctx: PageContext,
        slots: ScanSlots,
        origin: Option<Arc<OriginView>>,
        provinces: &'a [Province],
    ) -> Self {
        Self {
            ctx,
            slots,
            origin,
            provinces,
            reported_province: None,
            shared_position: false,
            scan_js_path: crate::http::assets::scan_js_path(),
            report_errors: FieldErrors::default(),
        }
    }

    fn category(&self, origin: &OriginView) -> String {
        match self.ctx.lang {
            Lang::Vi => origin.category_vi.clone(),
            Lang::En => origin.category_en.clone(),
        }
    }

    fn event_key(&self, event: &EventView) -> String {
        event.type_key()
    }
}

/// A value of the scan page that changes with every scan, already escaped for where it goes;
/// or, while the page's skeleton is rendered, the marker of its slot.
enum Slot {
    Value(String),
    Marker(usize),
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(value) => f.write_str(value),
            Self::Marker(index) => f.write_str(&skeleton::marker(*index)),
        }
    }
}

/// The scan page's slots, in the order they appear on the page.
struct ScanSlots {
    title: Slot,
    lang_switch_href: Slot,
    verdict: Slot,
    code: Slot,
}

impl ScanSlots {
    const COUNT: usize = 4;

    fn markers() -> Self {
        Self {
            title: Slot::Marker(0),
            lang_switch_href: Slot::Marker(1),
            verdict: Slot::Marker(2),
            code: Slot::Marker(3),
        }
    }
}

/// What changes with every scan, rendered and escaped, in slot order: the page title, the
/// language link (it returns to this address), the verdict with the code and serial, and the
/// code in the report form's address.
struct ScanValues([String; ScanSlots::COUNT]);

impl ScanValues {
    fn new(
        ctx: &PageContext,
        verdict: &Verdict,
        code: &str,
        serial: i64,
        report_sent: bool,
    ) -> AppResult<Self> {
        let words = VerdictWords::new(ctx.t, verdict);
        let section = VerdictSection {
            t: ctx.t,
            words: &words,
            code,
            serial,
            report_sent,
        }
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering a verdict failed: {e}")))?;
        Ok(Self([
            escape_html(&words.title),
            escape_html(&ctx.lang_switch_href()),
            section,
            escape_html(code),
        ]))
    }

    fn as_strs(&self) -> [&str; ScanSlots::COUNT] {
        self.0.each_ref().map(String::as_str)
    }

    fn into_slots(self) -> ScanSlots {
        let [title, lang_switch_href, verdict, code] = self.0.map(Slot::Value);
        ScanSlots {
            title,
            lang_switch_href,
            verdict,
            code,
        }
    }
}

fn escape_html(text: &str) -> String {
    match askama::filters::escape(text, askama::filters::Html) {
        Ok(escaped) => escaped.to_string(),
        Err(never) => match never {},
    }
}

/// The verdict box and the code line under it.
#[derive(Template)]
#[template(path = "scan_verdict.html")]
struct VerdictSection<'a> {
    t: &'static Messages,
    words: &'a VerdictWords,
    code: &'a str,
    serial: i64,
    report_sent: bool,
}

/// A verdict in the visitor's words.
struct VerdictWords {
    /// CSS class of the verdict box: `ok`, `warn` or `bad`.
    class: &'static str,
    title: String,
    text: String,
}

impl VerdictWords {
    fn new(t: &'static Messages, verdict: &Verdict) -> Self {
        let date = |at: &chrono::DateTime<chrono::Utc>| {
            crate::clock::to_vietnam_time(*at)
                .format("%d/%m/%Y")
                .to_string()
        };
        let checked = |key: &str, others: u32, since: &chrono::DateTime<chrono::Utc>| {
            t.format(
                key,
                &[("count", &others.to_string()), ("date", &date(since))],
            )
        };
        let (class, title, text) = match verdict {
            Verdict::GenuineFirstCheck => (
                "ok",
                "scan.first_title",
                t.get("scan.first_text").to_owned(),
            ),
            Verdict::GenuineCheckedByYou { first_checked_at } => (
                "ok",
                "scan.yours_title",
                t.format("scan.yours_text", &[("date", &date(first_checked_at))]),
            ),
            Verdict::GenuineCheckedBefore {
                other_checkers,
                since,
            } => (
                "warn",
                "scan.seen_title",
                checked("scan.seen_text", *other_checkers, since),
            ),
            Verdict::LikelyCopy {
                other_checkers,
                since,
                ..
            } => (
                "bad",
                "scan.copy_title",
                checked("scan.copy_text", *other_checkers, since),
            ),
            Verdict::Voided { reason } => (
                "bad",
                "scan.voided_title",
                t.format(
                    "scan.voided_text",
                    &[("reason", t.get(&format!("scan.void_{}", reason.as_str())))],
                ),
            ),
            Verdict::Unknown => (
                "bad",
                "scan.unknown_title",
                t.get("scan.unknown_text").to_owned(),
            ),
        };
        Self {
            class,
            title: t.get(title).to_owned(),
            text,
        }
    }
}

/// Who is scanning (see [`verdict::identify_page_client`]) and what they chose to share; a
/// client seen for the first time is given its cookie.
fn scan_client(
    state: &AppState,
    jar: CookieJar,
    headers: &HeaderMap,
    client: std::net::IpAddr,
    params: &ScanParams,
) -> (CookieJar, ScanInput) {
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let PageClient {
        mut input,
        new_cookie,
    } = verdict::identify_page_client(
        &state.hasher,
        jar.get(CLIENT_COOKIE).map(|c| c.value()),
        client,
        header_text(header::USER_AGENT),
        header_text(header::ACCEPT_LANGUAGE),
    );
    let jar = match new_cookie {
        Some(value) => jar.add(
            Cookie::build((CLIENT_COOKIE, value))
                .path("/")
                .http_only(true)
                .secure(state.config.secure_cookies())
                .same_site(SameSite::Lax)
                .max_age(cookie::time::Duration::days(730))
                .build(),
        ),
        None => jar,
    };
    let coordinate = |v: &Option<String>| v.as_deref().and_then(|t| t.parse::<f64>().ok());
    verdict::add_place(
        &state.reference,
        &mut input,
        params.province.as_deref(),
        coordinate(&params.lat),
        coordinate(&params.lon),
    );
    (jar, input)
}

async fn scan_response(
    state: &AppState,
    ctx: PageContext,
    jar: CookieJar,
    headers: &HeaderMap,
    client: std::net::IpAddr,
    code: Option<StampCode>,
    params: &ScanParams,
) -> AppResult<Response> {
    state.limits.check_scan(client)?;
    let (jar, input) = scan_client(state, jar, headers, client, params);
    let reported_province = input.province_code.clone();
    let shared_position = input.position.is_some();
    let (verdict, found) = match &code {
        Some(code) => {
            verdict::judge(
                &state.trace_cache,
                &state.reference,
                &state.scans,
                code,
                input,
            )
            .await?
        }
        None => (Verdict::Unknown, None),
    };
    let code = code.map(|c| c.as_str().to_owned()).unwrap_or_default();
    let serial = found.as_ref().map_or(0, |(stamp, _)| stamp.serial);
    let values = ScanValues::new(&ctx, &verdict, &code, serial, false)?;
    // A plain check of a known code by a visitor who is not logged in: nearly every scan, and
    // the same page for all but the values.
    let plain = ctx.user.is_none() && reported_province.is_none() && !shared_position;
    let skeleton = match &found {
        Some((stamp, origin)) if plain => scan_skeleton(state, &ctx, stamp.batch_id, origin)?,
        _ => None,
    };
    let mut response = match skeleton {
        Some(skeleton) => {
            let values = values.as_strs();
            let gzip = skeleton::accepts_gzip(
                headers
                    .get_all(header::ACCEPT_ENCODING)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            );
            let mut response = if gzip {
                ([(header::CONTENT_ENCODING, "gzip")], skeleton.gzip(&values)).into_response()
            } else {
                skeleton.text(&values).into_response()
            };
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            response
        }
        None => {
            let status = if found.is_some() {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            let page = ScanPage {
                reported_province,
                shared_position,
                ..ScanPage::new(
                    ctx,
                    values.into_slots(),
                    found.map(|(_, origin)| origin),
                    &state.reference.provinces,
                )
            };
            render_with_status(status, &page)?
        }
    };
    // A verdict depends on the history: never cache it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((jar, response).into_response())
}

/// The skeleton of a batch's scan page in the visitor's language, rendered on first use and
/// kept as long as the batch's origin is (`None` if its markers did not come out intact).
fn scan_skeleton(
    state: &AppState,
    ctx: &PageContext,
    batch_id: i64,
    origin: &Arc<OriginView>,
) -> AppResult<Option<Arc<Skeleton>>> {
    state.trace_cache.page(batch_id, ctx.lang, origin, || {
        let page = ScanPage::new(
            PageContext::anonymous(ctx.lang, String::new()),
            ScanSlots::markers(),
            Some(origin.clone()),
            &state.reference.provinces,
        );
        let rendered = page.render().map_err(|e| {
            AppError::Internal(anyhow::anyhow!("rendering a scan page failed: {e}"))
        })?;
        let skeleton = Skeleton::from_rendered(&rendered, ScanSlots::COUNT);
        if skeleton.is_none() {
            tracing::warn!(batch_id, "the scan page's slots did not render intact");
        }
        Ok(skeleton)
    })
}

async fn scan_plain(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
    Query(params): Query<ScanParams>,
) -> AppResult<Response> {
    let code = StampCode::parse(&code).ok();
    scan_response(&state, ctx, jar, &headers, client, code, &params).await
}

async fn scan_signed(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    headers: HeaderMap,
    ApiPath((code, lot, serial, signature)): ApiPath<(String, String, String, String)>,
    Query(params): Query<ScanParams>,
) -> AppResult<Response> {
    let parts = SignedParts {
        code: &code,
        lot: &lot,
        serial: &serial,
        signature: &signature,
    };
    let code =
        verdict::resolve_signed(&state.db, &state.signer, &state.config.public_url, &parts).await?;
    scan_response(&state, ctx, jar, &headers, client, code, &params).await
}

async fn scan_digital_link(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    headers: HeaderMap,
    ApiPath((gtin, lot, serial)): ApiPath<(String, String, String)>,
    Query(params): Query<ScanParams>,
) -> AppResult<Response> {
    let code = verdict::resolve_digital_link(&state.db, &gtin, &lot, &serial).await?;
    scan_response(&state, ctx, jar, &headers, client, code, &params).await
}

async fn report_fake(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
    PageForm(form): PageForm<FakeReportForm>,
) -> AppResult<Response> {
    state.limits.check_report(client)?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parsed = form.parse(&state.reference);
    let stamp_code = StampCode::parse(&code).ok();
    let (sent, errors) = match parsed {
        Ok(details) => {
            fake_reports::store(
                &state.db,
                &state.trace_cache,
                &state.hasher,
                &code,
                client,
                user_agent,
                details,
            )
            .await?;
            (true, FieldErrors::default())
        }
        Err(AppError::Validation(errors)) => (false, errors),
        Err(other) => return Err(other),
    };
    // Show the origin again (without counting a scan) with the report's outcome.
    let origin = match &stamp_code {
        Some(c) => verdict::origin_without_scan(&state.trace_cache, &state.reference, c).await?,
        None => None,
    };
    let status = if sent {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let (serial, origin) = match origin {
        Some((serial, origin)) => (serial, Some(origin)),
        None => (0, None),
    };
    let verdict = if origin.is_some() {
        Verdict::GenuineFirstCheck
    } else {
        Verdict::Unknown
    };
    let code = stamp_code.map(|c| c.as_str().to_owned()).unwrap_or(code);
    let values = ScanValues::new(&ctx, &verdict, &code, serial, sent)?;
    render_with_status(
        status,
        &ScanPage {
            report_errors: errors,
            ..ScanPage::new(ctx, values.into_slots(), origin, &state.reference.provinces)
        },
    )
}

async fn published_keys(State(state): State<AppState>) -> AppResult<Response> {
    let keys =
        super::signing::published_keys(&state.db, &state.signer, &state.config.public_url).await?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(keys),
    )
        .into_response())
}

// ---------------------------------------------------------------- workspace

#[derive(Template)]
#[template(path = "workspace/batch_form.html")]
struct BatchFormPage {
    ctx: PageContext,
    product_id: i64,
    product_name: String,
    form: BatchInput,
    errors: FieldErrors,
}

async fn new_batch_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let (product, _) = access::managed_product(&state.db, &user, id).await?;
    render(&BatchFormPage {
        ctx,
        product_id: product.id,
        product_name: product.name,
        form: BatchInput {
            quantity_unit: "hộp".into(),
            ..Default::default()
        },
        errors: FieldErrors::default(),
    })
}

async fn new_batch_submit(
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
    match result {
        Ok(batch) => Ok(Redirect::to(&format!("/workspace/batches/{}", batch.id)).into_response()),
        Err(err) => render_form_error(err, |errors| BatchFormPage {
            ctx,
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
    sample_links: Vec<(i64, String)>,
    event_form: EventInput,
    event_errors: FieldErrors,
    stamp_errors: FieldErrors,
    /// The batch's photos in display order: id and image.
    photos: Vec<(i64, crate::media::PhotoImage)>,
    photo_errors: FieldErrors,
    notice: Option<String>,
}

impl BatchPage {
    fn event_types(&self) -> &'static [EventType] {
        EventType::ALL
    }

    fn void_reasons(&self) -> &'static [VoidReason] {
        VoidReason::ALL
    }
}

#[derive(Debug, Default, Deserialize)]
struct BatchPageParams {
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
    } = forms;
    let (batch, product, membership) = batches::managed(&state.db, user, batch_id).await?;
    let events = events::of_batch(&state.db, &state.reference, batch.id).await?;
    let rolls = stamps::rolls_of(&state.db, batch.id).await?;
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
            sample_links,
            event_form,
            event_errors,
            stamp_errors,
            photos,
            photo_errors,
            notice,
        },
    )
}

/// Adds a batch photo from the batch page's upload form; a refused file shows its reason
/// beside the file field.
async fn batch_photo_submit(
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

async fn batch_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    Query(params): Query<BatchPageParams>,
) -> AppResult<Response> {
    let notice = params
        .notice
        .filter(|n| ["issued", "voided", "event"].contains(&n.as_str()));
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

async fn event_submit(
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
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

#[derive(Debug, Default, Deserialize)]
struct IssueForm {
    #[serde(default)]
    count: String,
    #[serde(default)]
    signed: Option<String>,
}

async fn issue_submit(
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
            stamps::issue(
                &state.db,
                &state.signer,
                &batch,
                count,
                form.signed.is_some(),
                |_| Ok(()),
            )
            .await?;
            Ok(Redirect::to(&format!("/workspace/batches/{id}?notice=issued")).into_response())
        }
        Err(issue) => {
            let mut errors = FieldErrors::default();
            errors.add("count", issue);
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
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct VoidForm {
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

async fn void_submit(
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
            state.trace_cache.forget_voided().await;
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
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "workspace/scans.html")]
struct ScansPage {
    ctx: PageContext,
    title: String,
    analytics: ScanAnalytics,
}

async fn cooperative_scans(
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

async fn admin_scans(
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

#[cfg(test)]
mod tests {
    use std::io::Read;

    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::catalog::views::PlaceView;
    use crate::reference::ReferenceData;

    /// An origin whose texts hold everything a template must escape, and a stray slot marker
    /// character in a note.
    fn origin() -> Arc<OriginView> {
        let occurred_at = chrono::FixedOffset::east_opt(7 * 3600)
            .and_then(|tz| tz.with_ymd_and_hms(2025, 10, 20, 6, 0, 0).single())
            .expect("a valid time");
        Arc::new(OriginView {
            product_id: 1,
            product_name: "Mật ong <bạc hà> & \"rừng\"".into(),
            product_slug: "mat-ong".into(),
            product_is_public: true,
            photo: None,
            unit: "chai".into(),
            gtin: None,
            category_vi: "Thực phẩm".into(),
            category_en: "Food".into(),
            cooperative_name: "HTX 'Gia Phú'".into(),
            cooperative_slug: "htx-gia-phu".into(),
            cooperative_phone: "0912345678".into(),
            place: PlaceView {
                commune_code: "1".into(),
                commune_name: "Xã Gia Phú".into(),
                province_code: "15".into(),
                province_name: "Lào Cai".into(),
            },
            lot_code: "MO-2025-11".into(),
            harvested_on: NaiveDate::from_ymd_opt(2025, 10, 20),
            produced_on: None,
            best_before: NaiveDate::from_ymd_opt(2027, 10, 20),
            quantity: 500,
            quantity_unit: "chai".into(),
            certifications: "VietGAP".into(),
            certificate: None,
            badge: None,
            events: vec![EventView {
                id: 1,
                event_type: EventType::Commissioning,
                occurred_at,
                commune_code: "1".into(),
                place: "Thôn Cóc".into(),
                latitude: None,
                longitude: None,
                actor: "Tổ <sản xuất>".into(),
                note: "lọc hai lần \u{1}".into(),
                input_lots: Vec::new(),
                input_batch_ids: Vec::new(),
            }],
        })
    }

    fn page<'a>(
        ctx: PageContext,
        slots: ScanSlots,
        origin: &Arc<OriginView>,
        reference: &'a ReferenceData,
    ) -> ScanPage<'a> {
        ScanPage::new(ctx, slots, Some(origin.clone()), &reference.provinces)
    }

    #[test]
    fn a_filled_skeleton_is_the_page_rendered_directly_byte_for_byte() {
        let reference = ReferenceData::embedded();
        let origin = origin();
        let since = Utc
            .with_ymd_and_hms(2026, 11, 30, 3, 0, 0)
            .single()
            .unwrap();
        let verdicts = [
            Verdict::GenuineFirstCheck,
            Verdict::GenuineCheckedByYou {
                first_checked_at: since,
            },
            Verdict::GenuineCheckedBefore {
                other_checkers: 3,
                since,
            },
            Verdict::LikelyCopy {
                other_checkers: 9,
                since,
                provinces: 2,
            },
            Verdict::Voided {
                reason: VoidReason::Lost,
            },
        ];
        for lang in [Lang::Vi, Lang::En] {
            let skeleton_page = page(
                PageContext::anonymous(lang, String::new()),
                ScanSlots::markers(),
                &origin,
                &reference,
            );
            let skeleton = Skeleton::from_rendered(&skeleton_page.render().unwrap(), 4)
                .expect("the markers come out intact despite the stray character");
            for verdict in &verdicts {
                // A path a visitor can choose, with characters that need escaping.
                let ctx = PageContext::anonymous(lang, "/s/ABCD?x=\"><b>".into());
                let values = ScanValues::new(&ctx, verdict, "ABCD", 7, false).unwrap();
                let filled = skeleton.text(&values.as_strs());
                let direct = page(ctx, values.into_slots(), &origin, &reference)
                    .render()
                    .unwrap();
                assert_eq!(String::from_utf8(filled).unwrap(), direct, "{verdict:?}");
                let mut gunzipped = String::new();
                let values = ScanValues::new(
                    &PageContext::anonymous(lang, "/s/ABCD?x=\"><b>".into()),
                    verdict,
                    "ABCD",
                    7,
                    false,
                )
                .unwrap();
                flate2::read::GzDecoder::new(&skeleton.gzip(&values.as_strs())[..])
                    .read_to_string(&mut gunzipped)
                    .unwrap();
                assert_eq!(gunzipped, direct);
                assert!(!direct.contains("<bạc hà>") && !direct.contains("\"><b>"));
            }
        }
    }
}
