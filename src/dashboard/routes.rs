//! The dashboard's page (`/admin/dashboard`), its CSV files (`/admin/dashboard/{table}.csv`)
//! and the JSON API (`GET /api/v1/admin/dashboard`), all for administrators and all with the
//! same `?province=` filter.

use std::borrow::Borrow;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::charts::{self, Chart, PALETTE, Series};
use super::export::{self, Table};
use super::{Dashboard, DashboardFilter, DashboardParams, Place, compute};
use crate::AppState;
use crate::accounts::Authenticated;
use crate::error::{AppError, AppResult, FieldErrors, Problem};
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::page::{PageContext, render_with_status};
use crate::i18n::{Lang, Messages};
use crate::reference::Province;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/dashboard", get(dashboard_page))
        .route("/admin/dashboard/{file}", get(dashboard_csv))
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(api_dashboard))
}

/// The figures for `filter`, from the cache unless `fresh`.
async fn figures(
    state: &AppState,
    filter: &DashboardFilter,
    fresh: bool,
) -> AppResult<Arc<Dashboard>> {
    state
        .dashboard
        .get_or_compute(filter, fresh, || {
            compute(&state.db, &state.reference, filter, Utc::now())
        })
        .await
}

/// The province dashboard's figures (administrators): OCOP products by star and online, by
/// place; cooperatives by status; paid orders and revenue per month; stamps issued and scans
/// per month; scans, likely copies and fake reports by reported province.
#[utoipa::path(get, path = "/admin/dashboard", tag = "admin", params(DashboardParams),
    responses(
        (status = 200, body = Dashboard),
        (status = 400, body = Problem, description = "Unknown province code"),
        (status = 401, body = Problem),
        (status = 403, body = Problem),
    ))]
async fn api_dashboard(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiQuery(params): ApiQuery<DashboardParams>,
) -> AppResult<Json<Dashboard>> {
    user.require_admin()?;
    let (filter, fresh) = params.parse(&state.reference)?;
    let figures = figures(&state, &filter, fresh).await?;
    Ok(Json(Dashboard::clone(&figures)))
}

async fn dashboard_csv(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    lang: Lang,
    ApiPath(file): ApiPath<String>,
    ApiQuery(params): ApiQuery<DashboardParams>,
) -> AppResult<Response> {
    user.require_admin()?;
    let table = Table::from_file_name(&file).ok_or(AppError::NotFound)?;
    let (filter, fresh) = params.parse(&state.reference)?;
    let figures = figures(&state, &filter, fresh).await?;
    let body = export::table_csv(&figures, table, lang.messages())?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}\"",
                    export::file_name(&figures, table)
                ),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// The SVG of each chart; empty when its table has no rows.
#[derive(Default)]
struct ChartSvgs {
    products: String,
    cooperatives: String,
    orders: String,
    goods: String,
    issued: String,
    scans: String,
    scan_places: String,
    copies: String,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    ctx: PageContext,
    provinces: Vec<Province>,
    /// The chosen province code, empty for the whole country.
    selected: String,
    errors: FieldErrors,
    figures: Option<Arc<Dashboard>>,
    charts: ChartSvgs,
    /// `?province=…` of the current filter, for the CSV links.
    query: String,
    /// Lots under recall now, everywhere (read at each view, never cached).
    recalls: Vec<crate::trace::recalls::OpenRecall>,
}

impl DashboardPage {
    fn n(&self, value: impl Borrow<i64>) -> String {
        charts::grouped(*value.borrow(), self.ctx.lang)
    }

    fn vnd(&self, value: impl Borrow<i64>) -> String {
        format!("{} ₫", charts::grouped(*value.borrow(), self.ctx.lang))
    }

    fn date(&self, at: &chrono::DateTime<Utc>) -> String {
        crate::clock::to_vietnam_time(*at)
            .format("%d/%m/%Y")
            .to_string()
    }

    fn month(&self, month: &str) -> String {
        month_label(month)
    }

    fn place(&self, place: &Place) -> String {
        if place.code.is_empty() {
            self.ctx.t.get("dashboard.not_reported").to_owned()
        } else {
            place.name.clone()
        }
    }

    fn csv_href(&self, table: &str) -> String {
        format!("/admin/dashboard/{table}.csv{}", self.query)
    }

    fn is_commune_level(&self) -> bool {
        self.figures
            .as_ref()
            .is_some_and(|f| f.place_level == "commune")
    }

    fn place_header(&self) -> &str {
        if self.is_commune_level() {
            self.ctx.t.get("dashboard.commune")
        } else {
            self.ctx.t.get("dashboard.province")
        }
    }

    fn headline(&self, figures: &Dashboard) -> String {
        self.ctx.t.format(
            "dashboard.headline",
            &[
                ("online", &self.n(figures.products_total.ocop_online)),
                ("ocop", &self.n(figures.products_total.ocop)),
            ],
        )
    }

    fn period(&self, figures: &Dashboard) -> String {
        self.ctx.t.format(
            "dashboard.period",
            &[
                ("from", &figures.from.format("%d/%m/%Y").to_string()),
                ("to", &figures.to.format("%d/%m/%Y").to_string()),
            ],
        )
    }

    fn generated(&self, figures: &Dashboard) -> String {
        let at = crate::clock::to_vietnam_time(figures.generated_at);
        self.ctx.t.format(
            "dashboard.generated",
            &[("time", &at.format("%H:%M:%S %d/%m/%Y").to_string())],
        )
    }

    fn copies_note(&self, figures: &Dashboard) -> String {
        self.ctx.t.format(
            "dashboard.copies_note",
            &[("count", &self.n(figures.copies_total.flagged_stamps))],
        )
    }

    fn refresh_href(&self) -> String {
        if self.query.is_empty() {
            "/admin/dashboard?fresh=1".to_owned()
        } else {
            format!("/admin/dashboard{}&fresh=1", self.query)
        }
    }
}

/// `2026-03` → `03/2026`.
fn month_label(month: &str) -> String {
    match month.split_once('-') {
        Some((year, m)) => format!("{m}/{year}"),
        None => month.to_owned(),
    }
}

/// `2026-03` → `03/26`, short enough for a column.
fn short_month(month: &str) -> String {
    match month.split_once('-') {
        Some((year, m)) => format!("{m}/{}", year.get(2..).unwrap_or(year)),
        None => month.to_owned(),
    }
}

fn draw(figures: &Dashboard, t: &Messages, lang: Lang) -> ChartSvgs {
    let note = t.get("dashboard.chart_note").to_owned();
    let series = |keys: &[&str]| -> Vec<Series> {
        keys.iter()
            .zip(PALETTE)
            .map(|(key, color)| Series {
                name: t.get(key).to_owned(),
                color,
            })
            .collect()
    };
    let chart = |id: &str, title: &str, keys: &[&str], rows: Vec<(String, Vec<i64>)>| Chart {
        id: format!("chart-{id}"),
        title: t.get(title).to_owned(),
        description: note.clone(),
        series: series(keys),
        rows,
    };
    let name = |place: &Place| {
        if place.code.is_empty() {
            t.get("dashboard.not_reported").to_owned()
        } else {
            place.name.clone()
        }
    };
    let full = |v: i64| charts::grouped(v, lang);
    let short = |v: i64| charts::compact(v, lang);
    let bars_if_any = |chart: Chart| {
        if chart.rows.is_empty() {
            String::new()
        } else {
            charts::bars(&chart, full)
        }
    };
    let months = |values: &dyn Fn(usize) -> i64| -> Vec<(String, Vec<i64>)> {
        figures
            .orders
            .iter()
            .enumerate()
            .map(|(i, m)| (short_month(&m.month), vec![values(i)]))
            .collect()
    };
    ChartSvgs {
        products: bars_if_any(chart(
            "products",
            "dashboard.products_chart",
            &["dashboard.ocop", "dashboard.ocop_online"],
            figures
                .products
                .iter()
                .map(|r| (name(&r.place), vec![r.counts.ocop, r.counts.ocop_online]))
                .collect(),
        )),
        cooperatives: bars_if_any(chart(
            "cooperatives",
            "dashboard.cooperatives_chart",
            &[
                "dashboard.verified",
                "dashboard.pending",
                "dashboard.suspended",
            ],
            figures
                .cooperatives
                .iter()
                .map(|r| {
                    (
                        name(&r.place),
                        vec![r.counts.verified, r.counts.pending, r.counts.suspended],
                    )
                })
                .collect(),
        )),
        orders: charts::columns(
            &chart(
                "orders",
                "dashboard.orders_chart",
                &["dashboard.paid_orders"],
                months(&|i| figures.orders.get(i).map_or(0, |m| m.counts.paid_orders)),
            ),
            short,
        ),
        goods: charts::columns(
            &chart(
                "goods",
                "dashboard.goods_chart",
                &["dashboard.goods"],
                months(&|i| figures.orders.get(i).map_or(0, |m| m.counts.goods_vnd)),
            ),
            short,
        ),
        issued: charts::columns(
            &chart(
                "issued",
                "dashboard.issued_chart",
                &["dashboard.stamps_issued"],
                months(&|i| figures.stamps.get(i).map_or(0, |m| m.counts.stamps_issued)),
            ),
            short,
        ),
        scans: charts::columns(
            &chart(
                "scans",
                "dashboard.scans_chart",
                &["dashboard.scans"],
                months(&|i| figures.stamps.get(i).map_or(0, |m| m.counts.scans)),
            ),
            short,
        ),
        scan_places: bars_if_any(chart(
            "scan-places",
            "dashboard.scan_places_chart",
            &["dashboard.scans"],
            figures
                .scan_places
                .iter()
                .map(|r| (name(&r.place), vec![r.scans]))
                .collect(),
        )),
        copies: bars_if_any(chart(
            "copies",
            "dashboard.copies_chart",
            &[
                "dashboard.flagged_stamps",
                "dashboard.flagged_scans",
                "dashboard.fake_reports",
            ],
            figures
                .copies
                .iter()
                .map(|r| {
                    (
                        name(&r.place),
                        vec![
                            r.counts.flagged_stamps,
                            r.counts.flagged_scans,
                            r.counts.fake_reports,
                        ],
                    )
                })
                .collect(),
        )),
    }
}

async fn dashboard_page(
    State(state): State<AppState>,
    ctx: PageContext,
    ApiQuery(params): ApiQuery<DashboardParams>,
) -> AppResult<Response> {
    let user = ctx.user.clone().ok_or(AppError::Unauthenticated)?;
    user.require_admin()?;
    let provinces = state.reference.provinces.clone();
    let recalls = crate::trace::recalls::open_recalls(&state.db).await?;
    match params.parse(&state.reference) {
        Ok((filter, fresh)) => {
            let figures = figures(&state, &filter, fresh).await?;
            let charts = draw(&figures, ctx.t, ctx.lang);
            render_with_status(
                StatusCode::OK,
                &DashboardPage {
                    ctx,
                    provinces,
                    selected: filter.province.clone().unwrap_or_default(),
                    errors: FieldErrors::default(),
                    query: filter.query(),
                    figures: Some(figures),
                    charts,
                    recalls,
                },
            )
        }
        // A filter that does not parse: the form again with the error beside the field.
        Err(AppError::InvalidParameters(errors)) => render_with_status(
            StatusCode::BAD_REQUEST,
            &DashboardPage {
                ctx,
                provinces,
                selected: String::new(),
                errors,
                figures: None,
                charts: ChartSvgs::default(),
                query: String::new(),
                recalls,
            },
        ),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_labelled_the_vietnamese_way() {
        assert_eq!(month_label("2026-03"), "03/2026");
        assert_eq!(short_month("2026-03"), "03/26");
    }
}
