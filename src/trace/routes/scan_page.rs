//! The public scan page a stamp's QR opens, in its three URL forms (plain, signed, GS1 Digital
//! Link), the fake report sent from it, and the published stamp keys. The verdict comes from
//! [`verdict`]; the page's rendering is in `scan_view`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;

use super::scan_view::{ScanPage, ScanValues, scan_skeleton};
use crate::AppState;
use crate::domain::{Gtin, LotCode, StampCode};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::client::ClientAddr;
use crate::http::extract::{ApiPath, PageForm};
use crate::http::negotiate;
use crate::http::page::{PageContext, render_with_status};
use crate::http::skeleton;
use crate::trace::fake_reports::{self, FakeReportForm};
use crate::trace::resolver::{self, Answer};
use crate::trace::scans::{ScanInput, Verdict};
use crate::trace::signing::SignedParts;
use crate::trace::verdict::{self, PageClient};

pub const CLIENT_COOKIE: &str = "ocop_client";

#[derive(Debug, Default, Deserialize)]
pub struct ScanParams {
    /// Province where the person bought the package (opt-in).
    province: Option<String>,
    lat: Option<String>,
    lon: Option<String>,
    /// A GS1 link type (Digital Link form only): the linkset, or a redirect to one link.
    #[serde(rename = "linkType")]
    link_type: Option<String>,
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

/// What a scan page request carries besides the state: who asks and how.
struct ScanRequest<'a> {
    ctx: PageContext,
    jar: CookieJar,
    headers: &'a HeaderMap,
    client: std::net::IpAddr,
    params: &'a ScanParams,
}

/// What the scan page may show of the code it judges.
enum Disclosure {
    /// The address the visitor opened carries the code: show it; reports go to `/s/{CODE}/report`.
    Code,
    /// It does not (a Digital Link with the printed number): never show the code; reports go to
    /// the opened address with `/report`.
    Hidden { report_action: String },
}

async fn scan_response(
    state: &AppState,
    request: ScanRequest<'_>,
    code: Option<StampCode>,
    disclosure: Disclosure,
) -> AppResult<Response> {
    let ScanRequest {
        ctx,
        jar,
        headers,
        client,
        params,
    } = request;
    // Another app server's void, suspension or edit is seen by this very request.
    state.changes.catch_up().await;
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
    let (shown_code, report_action) = match disclosure {
        Disclosure::Code => (code.as_str(), format!("/s/{code}/report")),
        Disclosure::Hidden { report_action } => ("", report_action),
    };
    let values = ScanValues::new(&ctx, &verdict, shown_code, serial, false, &report_action)?;
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

pub(super) async fn scan_plain(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
    Query(params): Query<ScanParams>,
) -> AppResult<Response> {
    state.limits.check_scan(client).await?;
    let code = StampCode::parse(&code).ok();
    scan_response(
        &state,
        ScanRequest {
            ctx,
            jar,
            headers: &headers,
            client,
            params: &params,
        },
        code,
        Disclosure::Code,
    )
    .await
}

pub(super) async fn scan_signed(
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
    // Rate-limited before the signature is checked: a bad signature makes the server read the
    // keys of earlier secrets from the database.
    state.limits.check_scan(client).await?;
    let code =
        verdict::resolve_signed(&state.db, &state.signer, &state.config.public_url, &parts).await?;
    scan_response(
        &state,
        ScanRequest {
            ctx,
            jar,
            headers: &headers,
            client,
            params: &params,
        },
        code,
        Disclosure::Code,
    )
    .await
}

pub(super) async fn scan_digital_link(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    headers: HeaderMap,
    ApiPath((gtin, lot, serial)): ApiPath<(String, String, String)>,
    Query(params): Query<ScanParams>,
) -> AppResult<Response> {
    let json = negotiate::wants_json(&headers);
    let answer = resolver::negotiate(
        negotiate::wants_linkset(&headers),
        params.link_type.as_deref(),
    );
    // The canonical address of the link (14-digit GTIN, the lot as stored), when it is one.
    let canonical = match (Gtin::parse_exact(&gtin), LotCode::parse(&lot)) {
        (Ok(g), Ok(l)) if crate::domain::DigitalLink::check_serial(&serial) => Some((
            g.clone(),
            l.clone(),
            resolver::stamp_path(&g, l.as_str(), &serial),
        )),
        _ => None,
    };
    if let Some((_, _, path)) = &canonical
        && let Some(redirect) = negotiate::canonical_redirect(&ctx.path, path)
    {
        return Ok(redirect);
    }
    if answer != Answer::Page {
        return Ok(
            stamp_links(&state, &ctx, client, answer, canonical, &serial)
                .await
                .unwrap_or_else(|err| negotiate::error(err, json)),
        );
    }
    let linkset_href = canonical.as_ref().map(|(_, _, path)| {
        format!(
            "{}?linkType=linkset",
            resolver::absolute(&state.config.public_url, path)
        )
    });
    state.limits.check_scan(client).await?;
    let linked = verdict::resolve_digital_link(&state.db, &gtin, &lot, &serial).await?;
    let disclosure = match &linked {
        Some(stamp) if !stamp.code_in_link => Disclosure::Hidden {
            report_action: digital_link_report_action(&gtin, &lot, &serial),
        },
        // An unknown link shows nothing either way: its serial is what the visitor typed.
        None => Disclosure::Hidden {
            report_action: digital_link_report_action(&gtin, &lot, &serial),
        },
        Some(_) => Disclosure::Code,
    };
    let response = scan_response(
        &state,
        ScanRequest {
            ctx,
            jar,
            headers: &headers,
            client,
            params: &params,
        },
        linked.map(|l| l.code),
        disclosure,
    )
    .await?;
    Ok(match linkset_href {
        Some(href) => negotiate::with_linkset_link(response, &href),
        None => response,
    })
}

/// The linkset of a stamp's Digital Link, or a redirect to one of its links: read without
/// judging or counting a scan. The links name the lot and product pages and the address the
/// visitor holds, never another address with the code.
async fn stamp_links(
    state: &AppState,
    ctx: &PageContext,
    client: std::net::IpAddr,
    answer: Answer,
    canonical: Option<(Gtin, LotCode, String)>,
    serial: &str,
) -> AppResult<Response> {
    let (gtin, lot, path) = canonical.ok_or(AppError::NotFound)?;
    state.limits.check_scan(client).await?;
    state.changes.catch_up().await;
    verdict::resolve_digital_link(&state.db, gtin.as_gtin14(), lot.as_str(), serial)
        .await?
        .ok_or(AppError::NotFound)?;
    let (item, origin) =
        resolver::resolve_lot(&state.db, &state.trace_cache, &state.reference, &gtin, &lot)
            .await?
            .ok_or(AppError::NotFound)?;
    let public_url = &state.config.public_url;
    let stamp_uri = resolver::absolute(public_url, &path);
    let lot_uri = resolver::absolute(public_url, &resolver::lot_path(&gtin, lot.as_str()));
    let links = resolver::links_of_stamp(public_url, ctx.t, &item, &origin, &lot_uri, &stamp_uri);
    let mut response = match answer {
        Answer::Linkset => negotiate::linkset(&resolver::linkset(&stamp_uri, &links)),
        Answer::Link(link_type) => resolver::target(&links, link_type)
            .and_then(|link| negotiate::redirect(StatusCode::TEMPORARY_REDIRECT, &link.href))
            .ok_or(AppError::NotFound)?,
        // Pages are answered by the caller.
        Answer::Page => return Err(AppError::NotFound),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn digital_link_report_action(gtin: &str, lot: &str, serial: &str) -> String {
    use crate::http::page::urlencode;
    format!(
        "/01/{}/10/{}/21/{}/report",
        urlencode(gtin),
        urlencode(lot),
        urlencode(serial)
    )
}

pub(super) async fn report_fake(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    ApiPath(code): ApiPath<String>,
    PageForm(form): PageForm<FakeReportForm>,
) -> AppResult<Response> {
    state.limits.check_report(client).await?;
    let stamp_code = StampCode::parse(&code).ok();
    report_response(
        &state,
        ctx,
        client,
        code,
        stamp_code,
        Disclosure::Code,
        form,
    )
    .await
}

/// A report sent from the page of a Digital Link (whose code may not be shown).
pub(super) async fn report_fake_digital_link(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    ApiPath((gtin, lot, serial)): ApiPath<(String, String, String)>,
    PageForm(form): PageForm<FakeReportForm>,
) -> AppResult<Response> {
    state.limits.check_report(client).await?;
    let linked = verdict::resolve_digital_link(&state.db, &gtin, &lot, &serial).await?;
    let report_action = digital_link_report_action(&gtin, &lot, &serial);
    let (stored, stamp_code, disclosure) = match linked {
        Some(stamp) if stamp.code_in_link => (
            stamp.code.as_str().to_owned(),
            Some(stamp.code),
            Disclosure::Code,
        ),
        Some(stamp) => (
            stamp.code.as_str().to_owned(),
            Some(stamp.code),
            Disclosure::Hidden { report_action },
        ),
        // What the visitor holds is the link: keep it with the report.
        None => (
            format!("{gtin}/{lot}/{serial}"),
            None,
            Disclosure::Hidden { report_action },
        ),
    };
    report_response(&state, ctx, client, stored, stamp_code, disclosure, form).await
}

/// Stores a report and shows the page again (without counting a scan) with its outcome.
async fn report_response(
    state: &AppState,
    ctx: PageContext,
    client: std::net::IpAddr,
    code: String,
    stamp_code: Option<StampCode>,
    disclosure: Disclosure,
    form: FakeReportForm,
) -> AppResult<Response> {
    let (sent, errors) = match form.parse(&state.reference) {
        Ok(details) => {
            fake_reports::store(
                &state.db,
                &state.trace_cache,
                &state.hasher,
                &code,
                client,
                ctx.lang,
                details,
            )
            .await?;
            (true, FieldErrors::default())
        }
        Err(AppError::Validation(errors)) => (false, errors),
        Err(other) => return Err(other),
    };
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
    // Not a scan, so no history is read: never the genuine styling for a stamp the province
    // does not vouch for.
    let verdict = match &origin {
        Some(o) => match (&o.recall, o.not_vouched) {
            (Some(recall), _) => Verdict::Recalled {
                reason: recall.reason.clone(),
                advice: recall.advice.clone(),
                recalled_at: recall.recalled_at,
                cleared_at: recall.cleared_at,
            },
            (None, Some(reason)) => Verdict::NotVouched { reason },
            (None, None) => Verdict::GenuineFirstCheck,
        },
        None => Verdict::Unknown,
    };
    let code = stamp_code.map(|c| c.as_str().to_owned()).unwrap_or(code);
    let (shown_code, report_action) = match disclosure {
        Disclosure::Code => (code.as_str(), format!("/s/{code}/report")),
        Disclosure::Hidden { report_action } => ("", report_action),
    };
    let values = ScanValues::new(&ctx, &verdict, shown_code, serial, sent, &report_action)?;
    render_with_status(
        status,
        &ScanPage {
            report_errors: errors,
            ..ScanPage::new(ctx, values.into_slots(), origin, &state.reference.provinces)
        },
    )
}

pub(super) async fn published_keys(State(state): State<AppState>) -> AppResult<Response> {
    let keys =
        crate::trace::signing::published_keys(&state.db, &state.signer, &state.config.public_url)
            .await?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(keys),
    )
        .into_response())
}
