//! The GS1 Digital Link resolver's pages for a trade item (`/01/{gtin}`: its product page with
//! the size chosen) and a lot (`/01/{gtin}/10/{lot}`: the lot's origin page). Each also answers
//! its linkset (RFC 9264) to `Accept: application/linkset+json` or `?linkType=linkset`, and
//! redirects to one of its links for `?linkType=gs1:…`. Neither reads nor counts a stamp: the
//! lot page is about the lot, not a package. Links are built by [`resolver`].

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::domain::{Gtin, LotCode};
use crate::error::{AppError, AppResult};
use crate::http::client::ClientAddr;
use crate::http::extract::ApiPath;
use crate::http::negotiate;
use crate::http::page::{PageContext, render};
use crate::i18n::Lang;
use crate::trace::origin::OriginView;
use crate::trace::resolver::{self, Answer, Link};

#[derive(Debug, Default, Deserialize)]
pub(super) struct ResolverParams {
    #[serde(rename = "linkType")]
    link_type: Option<String>,
}

#[derive(Template)]
#[template(path = "lot.html")]
struct LotPage {
    ctx: PageContext,
    origin: Arc<OriginView>,
    gtin: String,
    /// The product page with this size chosen, while the product is on sale.
    product_href: Option<String>,
    /// The message key of why the province does not vouch for the lot now, if it does not.
    not_vouched: Option<String>,
}

impl LotPage {
    /// "Recalled on …", and when the remaining stock was confirmed safe, if it was.
    fn recall_text(&self, recall: &crate::trace::scans::RecallNotice) -> String {
        let date = |at| {
            crate::clock::to_vietnam_time(at)
                .format("%d/%m/%Y")
                .to_string()
        };
        let mut text = self
            .ctx
            .t
            .format("scan.recalled_text", &[("date", &date(recall.recalled_at))]);
        if let Some(cleared) = recall.cleared_at {
            text.push(' ');
            text.push_str(
                &self
                    .ctx
                    .t
                    .format("scan.recalled_cleared", &[("date", &date(cleared))]),
            );
        }
        text
    }

    fn category(&self) -> &str {
        match self.ctx.lang {
            Lang::Vi => &self.origin.category_vi,
            Lang::En => &self.origin.category_en,
        }
    }
}

pub(super) async fn resolve_item(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    ApiPath(gtin): ApiPath<String>,
    Query(params): Query<ResolverParams>,
) -> Response {
    let json = negotiate::wants_json(&headers);
    let answer = resolver::negotiate(
        negotiate::wants_linkset(&headers),
        params.link_type.as_deref(),
    );
    let result = async {
        let gtin = Gtin::parse_exact(&gtin).map_err(|_| AppError::NotFound)?;
        if let Some(redirect) =
            negotiate::canonical_redirect(&ctx.path, &resolver::item_path(&gtin))
        {
            return Ok(redirect);
        }
        state.limits.check_scan(client).await?;
        state.changes.catch_up().await;
        let item = resolver::trade_item(&state.db, &gtin)
            .await?
            .ok_or(AppError::NotFound)?;
        let has_lots = resolver::has_lots(&state.db, &item).await?;
        let links = resolver::links_of_item(&state.config.public_url, ctx.t, &item, has_lots);
        let anchor = resolver::absolute(&state.config.public_url, &resolver::item_path(&gtin));
        // A product off sale has no page to go to: no links, so 404.
        answer_with(answer, &anchor, &links, None)
    }
    .await;
    result.unwrap_or_else(|err| negotiate::error(err, json))
}

pub(super) async fn resolve_lot(
    State(state): State<AppState>,
    ctx: PageContext,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    ApiPath((gtin, lot)): ApiPath<(String, String)>,
    Query(params): Query<ResolverParams>,
) -> Response {
    let json = negotiate::wants_json(&headers);
    let answer = resolver::negotiate(
        negotiate::wants_linkset(&headers),
        params.link_type.as_deref(),
    );
    let result = async {
        let (Ok(gtin), Ok(lot)) = (Gtin::parse_exact(&gtin), LotCode::parse(&lot)) else {
            return Err(AppError::NotFound);
        };
        let canonical = resolver::lot_path(&gtin, lot.as_str());
        if let Some(redirect) = negotiate::canonical_redirect(&ctx.path, &canonical) {
            return Ok(redirect);
        }
        state.limits.check_scan(client).await?;
        state.changes.catch_up().await;
        let (item, origin) =
            resolver::resolve_lot(&state.db, &state.trace_cache, &state.reference, &gtin, &lot)
                .await?
                .ok_or(AppError::NotFound)?;
        let anchor = resolver::absolute(&state.config.public_url, &canonical);
        let links =
            resolver::links_of_lot(&state.config.public_url, ctx.t, &item, &origin, &anchor);
        let page = match answer {
            Answer::Page => Some(LotPage {
                product_href: item.public.then(|| resolver::product_path(&item)),
                not_vouched: origin.not_vouched.map(|reason| {
                    let name = serde_json::to_value(reason)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    format!("scan.not_vouched_{name}")
                }),
                gtin: gtin.display_form().to_owned(),
                origin,
                ctx,
            }),
            _ => None,
        };
        answer_with(answer, &anchor, &links, page.as_ref())
    }
    .await;
    result.unwrap_or_else(|err| negotiate::error(err, json))
}

/// The answer asked for: the linkset, a redirect to one link, or the page (rendered, or, for
/// a trade item, the default link) with a `Link` header naming the linkset.
fn answer_with(
    answer: Answer,
    anchor: &str,
    links: &[Link],
    page: Option<&LotPage>,
) -> AppResult<Response> {
    if links.is_empty() {
        return Err(AppError::NotFound);
    }
    let linkset_href = format!("{anchor}?linkType=linkset");
    let response = match (answer, page) {
        (Answer::Linkset, _) => return Ok(negotiate::linkset(&resolver::linkset(anchor, links))),
        (Answer::Page, Some(page)) => render(page)?,
        (Answer::Page, None) => redirect_to(resolver::target(links, None))?,
        (Answer::Link(link_type), _) => redirect_to(resolver::target(links, link_type))?,
    };
    Ok(negotiate::with_linkset_link(response, &linkset_href))
}

fn redirect_to(link: Option<&Link>) -> AppResult<Response> {
    link.and_then(|l| negotiate::redirect(StatusCode::TEMPORARY_REDIRECT, &l.href))
        .ok_or(AppError::NotFound)
}
