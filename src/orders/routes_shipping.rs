//! The cooperative's shipping rate table page: weight bands × zones, the fee per extra
//! kilogram and the free-shipping threshold, edited in a plain form (no JavaScript). The API's
//! `GET`/`PUT /api/v1/cooperatives/{id}/shipping-rates` edit the same table.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::shipping::{self, RateTable, WeightBand};
use crate::AppState;
use crate::accounts::Authenticated;
use crate::catalog::access;
use crate::domain::FieldIssue;
use crate::error::{AppResult, FieldErrors};
use crate::http::extract::{ApiPath, PageForm};
use crate::http::page::{PageContext, render, render_with_status};

/// Band rows the form offers (a table may have up to [`shipping::MAX_BANDS`]; empty rows are
/// left out).
const FORM_ROWS: usize = 6;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/workspace/cooperatives/{id}/shipping",
        get(rates_page).post(rates_submit),
    )
}

/// One row of the form, as typed.
struct RowInput {
    max_grams: String,
    same_province: String,
    same_region: String,
    elsewhere: String,
}

#[derive(Template)]
#[template(path = "workspace/shipping.html")]
struct RatesPage {
    ctx: PageContext,
    cooperative_id: i64,
    cooperative_name: String,
    rows: Vec<RowInput>,
    extra: RowInput,
    free_over: String,
    errors: FieldErrors,
}

fn row_of(band: &WeightBand) -> RowInput {
    RowInput {
        max_grams: band.max_grams.to_string(),
        same_province: band.same_province_vnd.to_string(),
        same_region: band.same_region_vnd.to_string(),
        elsewhere: band.elsewhere_vnd.to_string(),
    }
}

fn empty_row() -> RowInput {
    RowInput {
        max_grams: String::new(),
        same_province: String::new(),
        same_region: String::new(),
        elsewhere: String::new(),
    }
}

async fn rates_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    let table = shipping::table_of(
        &state.db,
        membership.cooperative.id,
        &state.config.commerce.default_shipping_rates,
    )
    .await?;
    let mut rows: Vec<RowInput> = table.bands.iter().map(row_of).collect();
    rows.resize_with(FORM_ROWS.max(rows.len()), empty_row);
    render(&RatesPage {
        ctx,
        cooperative_id: membership.cooperative.id,
        cooperative_name: membership.cooperative.name.clone(),
        rows,
        extra: row_of(&table.extra_kg),
        free_over: table
            .free_shipping_over_vnd
            .map(|v| v.to_string())
            .unwrap_or_default(),
        errors: FieldErrors::default(),
    })
}

fn number(form: &BTreeMap<String, String>, key: &str) -> Result<Option<i64>, FieldIssue> {
    match form.get(key).map(|v| v.trim().replace(['.', ',', ' '], "")) {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| FieldIssue::new("invalid_fee", "a whole number")),
    }
}

fn band(form: &BTreeMap<String, String>, prefix: &str) -> Result<Option<WeightBand>, FieldIssue> {
    let fee = |zone: &str| number(form, &format!("{prefix}_{zone}"));
    let max = number(form, &format!("{prefix}_max"))?;
    let (sp, sr, el) = (fee("sp")?, fee("sr")?, fee("el")?);
    if max.is_none() && sp.is_none() && sr.is_none() && el.is_none() {
        return Ok(None);
    }
    Ok(Some(WeightBand {
        max_grams: max.unwrap_or(0),
        same_province_vnd: sp.unwrap_or(0),
        same_region_vnd: sr.unwrap_or(0),
        elsewhere_vnd: el.unwrap_or(0),
    }))
}

fn parse_form(form: &BTreeMap<String, String>) -> Result<RateTable, (&'static str, FieldIssue)> {
    let mut bands = Vec::new();
    for i in 0..shipping::MAX_BANDS {
        if let Some(b) = band(form, &format!("band{i}")).map_err(|e| ("bands", e))? {
            bands.push(b);
        }
    }
    let extra_kg = band(form, "extra")
        .map_err(|e| ("bands", e))?
        .unwrap_or(RateTable::flat(0).extra_kg);
    let table = RateTable {
        bands,
        extra_kg,
        free_shipping_over_vnd: number(form, "free_over").map_err(|_| {
            (
                "free_shipping_over_vnd",
                FieldIssue::new("invalid_threshold", "a whole number of đồng"),
            )
        })?,
    };
    table.validate()?;
    Ok(table)
}

async fn rates_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let membership = access::membership(&state.db, &user, id).await?;
    match parse_form(&form) {
        Ok(table) => {
            shipping::save_table(&state.db, membership.cooperative.id, &table).await?;
            Ok(Redirect::to(&format!("/workspace/cooperatives/{id}/shipping")).into_response())
        }
        Err((field, issue)) => {
            let text = |key: String| form.get(&key).cloned().unwrap_or_default();
            let row = |prefix: String| RowInput {
                max_grams: text(format!("{prefix}_max")),
                same_province: text(format!("{prefix}_sp")),
                same_region: text(format!("{prefix}_sr")),
                elsewhere: text(format!("{prefix}_el")),
            };
            let page = RatesPage {
                ctx,
                cooperative_id: membership.cooperative.id,
                cooperative_name: membership.cooperative.name.clone(),
                rows: (0..FORM_ROWS).map(|i| row(format!("band{i}"))).collect(),
                extra: row("extra".to_owned()),
                free_over: text("free_over".to_owned()),
                errors: {
                    let mut errors = FieldErrors::default();
                    errors.add(field, issue);
                    errors
                },
            };
            render_with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
