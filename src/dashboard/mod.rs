//! The province dashboard: the figures provincial departments report, for administrators.
//!
//! - OCOP products by star and how many of them are listed online ("159 of 163"), by province,
//!   or by commune of one province;
//! - cooperatives by status (verified, pending, suspended), by the same places;
//! - paid orders and revenue per month;
//! - stamps issued and scans recorded per month, and scans by the province the scanner
//!   reported;
//! - likely copies (flagged stamps and their scans) and fake reports, by reported province.
//!
//! Every figure is an aggregate query ([`queries`]) over indexed columns, so the page stays
//! fast at 100,000 products and millions of scans; the computed figures are kept for a short
//! while ([`DashboardCache`]) because the page is read far more often than it changes
//! meaningfully. The page draws its charts as SVG on the server ([`charts`]) and every table
//! downloads as CSV ([`export`]); the JSON API serves the same [`Dashboard`].
//!
//! Periods follow the Vietnamese calendar (UTC+7): the last 12 months are the current month
//! and the 11 before it.
//!
//! Revenue comes from the orders, not the ledger: a province asks what was sold in a month,
//! so an order counts in the month it was paid, with its goods (subtotal, without delivery)
//! and the commission taken on them, and an order cancelled after payment does not count at
//! all. The ledger books a cancellation as a reversal in the month it happens, which answers
//! a different question (the platform's cash position); over all time the two agree.

pub mod charts;
pub mod export;
pub mod queries;
mod routes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::catalog::params::QueryChecker;
use crate::error::AppResult;
use crate::reference::ReferenceData;

pub use routes::{api_routes, page_routes};

/// Months shown in the per-month figures.
pub const MONTHS: usize = 12;

/// Query parameters of the page, the CSV files and the API.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardParams {
    /// Province code (e.g. `15` for Lào Cai): figures of that province's cooperatives and
    /// products, places broken down by commune. Absent or empty: the whole country, by
    /// province.
    pub province: Option<String>,
    /// `1` to recompute the figures now instead of using ones computed in the last minute.
    pub fresh: Option<String>,
}

/// What the dashboard shows: the whole country, or one province.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DashboardFilter {
    /// A province code known to the reference data.
    pub province: Option<String>,
}

impl DashboardParams {
    /// The filter, with an unknown province refused (400 naming the field), and whether the
    /// figures must be recomputed.
    pub fn parse(&self, reference: &ReferenceData) -> AppResult<(DashboardFilter, bool)> {
        let mut check = QueryChecker::new(reference);
        let province = check.province(&self.province);
        let fresh = check.boolean("fresh", &self.fresh).unwrap_or(false);
        check.finish()?;
        Ok((DashboardFilter { province }, fresh))
    }
}

impl DashboardFilter {
    /// `?province=…` for links and downloads, empty for the whole country.
    pub fn query(&self) -> String {
        match &self.province {
            Some(code) => format!("?province={}", crate::http::page::urlencode(code)),
            None => String::new(),
        }
    }
}

/// A province or commune, or (empty code) "not reported".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Place {
    /// Province or commune code; empty when the place was not reported.
    pub code: String,
    pub name: String,
}

/// OCOP products of one place. Certified means a verified certificate of 3 to 5 stars that
/// has not expired; online means listed in the public catalogue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProductCounts {
    pub three_stars: i64,
    pub four_stars: i64,
    pub five_stars: i64,
    /// Certified OCOP products (the three star counts added up).
    pub ocop: i64,
    /// Certified OCOP products listed online.
    pub ocop_online: i64,
    /// All products listed online, OCOP or not.
    pub online: i64,
}

impl ProductCounts {
    fn add(&mut self, other: &Self) {
        self.three_stars += other.three_stars;
        self.four_stars += other.four_stars;
        self.five_stars += other.five_stars;
        self.ocop += other.ocop;
        self.ocop_online += other.ocop_online;
        self.online += other.online;
    }

    /// Share of certified products that are online, in whole percent (0 without any).
    pub fn online_percent(&self) -> i64 {
        if self.ocop == 0 {
            0
        } else {
            self.ocop_online * 100 / self.ocop
        }
    }

    fn is_empty(&self) -> bool {
        self.ocop == 0 && self.online == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProductRow {
    pub place: Place,
    #[serde(flatten)]
    pub counts: ProductCounts,
}

/// Cooperatives of one place by status (rejected applications are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct CooperativeCounts {
    pub verified: i64,
    pub pending: i64,
    pub suspended: i64,
}

impl CooperativeCounts {
    fn add(&mut self, other: &Self) {
        self.verified += other.verified;
        self.pending += other.pending;
        self.suspended += other.suspended;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CooperativeRow {
    pub place: Place,
    #[serde(flatten)]
    pub counts: CooperativeCounts,
}

/// Orders paid in one month (and not cancelled since).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderCounts {
    pub paid_orders: i64,
    /// Value of the goods, without delivery fees, in đồng.
    pub goods_vnd: i64,
    /// The platform's commission on those goods, in đồng.
    pub commission_vnd: i64,
}

impl OrderCounts {
    fn add(&mut self, other: &Self) {
        self.paid_orders += other.paid_orders;
        self.goods_vnd += other.goods_vnd;
        self.commission_vnd += other.commission_vnd;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderMonth {
    /// `YYYY-MM`.
    pub month: String,
    #[serde(flatten)]
    pub counts: OrderCounts,
}

/// Stamps issued and scans recorded in one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StampCounts {
    pub stamps_issued: i64,
    /// Every recorded scan; for the whole country this includes scans of codes no stamp has.
    pub scans: i64,
}

impl StampCounts {
    fn add(&mut self, other: &Self) {
        self.stamps_issued += other.stamps_issued;
        self.scans += other.scans;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StampMonth {
    /// `YYYY-MM`.
    pub month: String,
    #[serde(flatten)]
    pub counts: StampCounts,
}

/// Scans in the period by the province the scanner reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ScanPlaceRow {
    pub place: Place,
    pub scans: i64,
}

/// Signs of counterfeiting reported in one province during the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct CopyCounts {
    /// Stamps flagged as likely copies that were scanned there.
    pub flagged_stamps: i64,
    /// Scans of flagged stamps there.
    pub flagged_scans: i64,
    /// Fake reports naming that province as the place of purchase.
    pub fake_reports: i64,
}

impl CopyCounts {
    fn is_empty(&self) -> bool {
        self.flagged_stamps == 0 && self.flagged_scans == 0 && self.fake_reports == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CopyRow {
    pub place: Place,
    #[serde(flatten)]
    pub counts: CopyCounts,
}

/// Totals of the copies table. A stamp scanned in two provinces appears in both rows, so the
/// flagged stamps total counts each stamp once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct CopyTotals {
    /// Every stamp currently flagged as a likely copy, scanned in the period or not.
    pub flagged_stamps: i64,
    pub flagged_scans: i64,
    pub fake_reports: i64,
}

/// Every figure of the dashboard for one filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Dashboard {
    /// When these figures were computed.
    pub generated_at: DateTime<Utc>,
    /// The province the figures are limited to; none for the whole country.
    pub province: Option<Place>,
    /// `province` when places are provinces, `commune` when they are communes of `province`.
    pub place_level: String,
    /// First and last day of the period of the per-month figures (Vietnamese calendar).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub products: Vec<ProductRow>,
    pub products_total: ProductCounts,
    pub cooperatives: Vec<CooperativeRow>,
    pub cooperatives_total: CooperativeCounts,
    pub orders: Vec<OrderMonth>,
    pub orders_total: OrderCounts,
    pub stamps: Vec<StampMonth>,
    pub stamps_total: StampCounts,
    pub scan_places: Vec<ScanPlaceRow>,
    /// Scans in the period whose scanner reported no province.
    pub scans_place_not_reported: i64,
    pub copies: Vec<CopyRow>,
    pub copies_total: CopyTotals,
}

/// The 12 months ending with the current one, in Vietnamese time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// First day of each month, oldest first.
    pub months: Vec<NaiveDate>,
    /// First day of the month after the last.
    pub end: NaiveDate,
    pub today: NaiveDate,
}

impl Window {
    pub fn ending(today: NaiveDate) -> Self {
        let mut first = first_of_month(today);
        let mut months = vec![first];
        while months.len() < MONTHS {
            first = first_of_month(first - chrono::Duration::days(1));
            months.push(first);
        }
        months.reverse();
        Self {
            months,
            end: first_of_month(first_of_month(today) + chrono::Duration::days(32)),
            today,
        }
    }

    pub fn start(&self) -> NaiveDate {
        self.months.first().copied().unwrap_or(self.today)
    }

    /// The instants the months start at, and the end: 13 boundaries.
    pub fn boundaries(&self) -> Vec<DateTime<Utc>> {
        self.months
            .iter()
            .chain(std::iter::once(&self.end))
            .map(|day| vietnam_midnight(*day))
            .collect()
    }

    /// Which month a day falls in.
    pub fn month_of(&self, day: NaiveDate) -> Option<usize> {
        if day < self.start() || day >= self.end {
            return None;
        }
        self.months.iter().rposition(|first| *first <= day)
    }

    fn labels(&self) -> Vec<String> {
        self.months
            .iter()
            .map(|d| format!("{:04}-{:02}", d.year(), d.month()))
            .collect()
    }
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day - chrono::Duration::days(i64::from(day.day0()))
}

/// Midnight at the start of `day` in Vietnam (UTC+7, no daylight saving), as a UTC instant.
pub fn vietnam_midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&(day.and_time(NaiveTime::MIN) - chrono::Duration::hours(7)))
}

/// Computes every figure of the dashboard from the database.
pub async fn compute(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    filter: &DashboardFilter,
    now: DateTime<Utc>,
) -> AppResult<Dashboard> {
    let today = crate::clock::to_vietnam_time(now).date_naive();
    let window = Window::ending(today);
    let province = filter.province.as_deref();
    let place_name = |code: &str| -> String {
        let found = match province {
            Some(_) => reference.commune(code).map(|c| c.name.clone()),
            None => reference.province(code).map(|p| p.short_name.clone()),
        };
        found.unwrap_or_else(|| code.to_owned())
    };
    let province_name = |code: &str| -> String {
        reference
            .province(code)
            .map(|p| p.short_name.clone())
            .unwrap_or_else(|| code.to_owned())
    };

    // Independent aggregates: on a connection pool each runs on its own connection, so the
    // slowest one, not their sum, sets the time.
    let (
        product_rows,
        cooperative_rows,
        order_counts,
        issued,
        (scans_by_month, scans_by_place),
        copy_figures,
    ) = tokio::try_join!(
        queries::products_by_place(db, province, today),
        queries::cooperatives_by_place(db, province),
        queries::orders_by_month(db, province, &window),
        queries::stamps_by_month(db, province, &window),
        queries::scans_by_month_and_place(db, province, &window),
        queries::copies_by_reported_province(db, province, &window),
    )?;

    let mut products: Vec<ProductRow> = product_rows
        .into_iter()
        .filter(|(_, counts)| !counts.is_empty())
        .map(|(code, counts)| ProductRow {
            place: Place {
                name: place_name(&code),
                code,
            },
            counts,
        })
        .collect();
    products.sort_by(|a, b| {
        b.counts
            .ocop
            .cmp(&a.counts.ocop)
            .then(b.counts.online.cmp(&a.counts.online))
            .then_with(|| a.place.name.cmp(&b.place.name))
    });
    let mut products_total = ProductCounts::default();
    for row in &products {
        products_total.add(&row.counts);
    }

    let mut cooperatives: Vec<CooperativeRow> = cooperative_rows
        .into_iter()
        .filter(|(_, c)| c.verified + c.pending + c.suspended > 0)
        .map(|(code, counts)| CooperativeRow {
            place: Place {
                name: place_name(&code),
                code,
            },
            counts,
        })
        .collect();
    cooperatives.sort_by(|a, b| {
        b.counts
            .verified
            .cmp(&a.counts.verified)
            .then(b.counts.pending.cmp(&a.counts.pending))
            .then_with(|| a.place.name.cmp(&b.place.name))
    });
    let mut cooperatives_total = CooperativeCounts::default();
    for row in &cooperatives {
        cooperatives_total.add(&row.counts);
    }

    let labels = window.labels();
    let orders: Vec<OrderMonth> = labels
        .iter()
        .zip(order_counts)
        .map(|(month, counts)| OrderMonth {
            month: month.clone(),
            counts,
        })
        .collect();
    let mut orders_total = OrderCounts::default();
    for month in &orders {
        orders_total.add(&month.counts);
    }

    let stamps: Vec<StampMonth> = labels
        .iter()
        .zip(issued.into_iter().zip(scans_by_month))
        .map(|(month, (stamps_issued, scans))| StampMonth {
            month: month.clone(),
            counts: StampCounts {
                stamps_issued,
                scans,
            },
        })
        .collect();
    let mut stamps_total = StampCounts::default();
    for month in &stamps {
        stamps_total.add(&month.counts);
    }

    let scans_place_not_reported = scans_by_place.get(&None).copied().unwrap_or(0);
    let mut scan_places: Vec<ScanPlaceRow> = scans_by_place
        .into_iter()
        .filter_map(|(code, scans)| {
            code.map(|code| ScanPlaceRow {
                place: Place {
                    name: province_name(&code),
                    code,
                },
                scans,
            })
        })
        .collect();
    scan_places.sort_by(|a, b| {
        b.scans
            .cmp(&a.scans)
            .then_with(|| a.place.name.cmp(&b.place.name))
    });

    let mut copies: Vec<CopyRow> = copy_figures
        .by_place
        .into_iter()
        .filter(|(_, counts)| !counts.is_empty())
        .map(|(code, counts)| CopyRow {
            place: match code {
                Some(code) => Place {
                    name: province_name(&code),
                    code,
                },
                None => Place {
                    code: String::new(),
                    name: String::new(),
                },
            },
            counts,
        })
        .collect();
    // Known places first, most reports first; "not reported" last.
    copies.sort_by(|a, b| {
        a.place
            .code
            .is_empty()
            .cmp(&b.place.code.is_empty())
            .then(b.counts.fake_reports.cmp(&a.counts.fake_reports))
            .then(b.counts.flagged_scans.cmp(&a.counts.flagged_scans))
            .then_with(|| a.place.name.cmp(&b.place.name))
    });
    let copies_total = CopyTotals {
        flagged_stamps: copy_figures.flagged_stamps,
        flagged_scans: copies.iter().map(|r| r.counts.flagged_scans).sum(),
        fake_reports: copies.iter().map(|r| r.counts.fake_reports).sum(),
    };

    Ok(Dashboard {
        generated_at: now,
        province: province.map(|code| Place {
            code: code.to_owned(),
            name: province_name(code),
        }),
        place_level: if province.is_some() {
            "commune"
        } else {
            "province"
        }
        .to_owned(),
        from: window.start(),
        to: today,
        products,
        products_total,
        cooperatives,
        cooperatives_total,
        orders,
        orders_total,
        stamps,
        stamps_total,
        scan_places,
        scans_place_not_reported,
        copies,
        copies_total,
    })
}

/// Recently computed figures, per filter, for `ttl` (`OCOP_DASHBOARD_CACHE_SECS`). Requests
/// for the same filter that arrive while it is being computed wait for that computation
/// instead of starting their own, so an expired entry costs one computation, not one per
/// waiting administrator. Each app server keeps its own; a minute-old figure is acceptable
/// for monthly reporting, and `?fresh=1` recomputes on demand.
pub struct DashboardCache {
    ttl: Duration,
    slots: Mutex<HashMap<DashboardFilter, Arc<tokio::sync::Mutex<Option<Cached>>>>>,
}

struct Cached {
    at: Instant,
    figures: Arc<Dashboard>,
}

impl DashboardCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The figures for `filter`: cached ones unless they are too old or `fresh` asks for new
    /// ones, computed by `compute` otherwise.
    pub async fn get_or_compute<F, Fut>(
        &self,
        filter: &DashboardFilter,
        fresh: bool,
        compute: F,
    ) -> AppResult<Arc<Dashboard>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<Dashboard>>,
    {
        if self.ttl.is_zero() {
            return compute().await.map(Arc::new);
        }
        let slot = {
            // A panic elsewhere while the map was held leaves it usable: it only holds slots.
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(filter.clone()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if !fresh
            && let Some(cached) = slot.as_ref()
            && cached.at.elapsed() < self.ttl
        {
            return Ok(cached.figures.clone());
        }
        let figures = Arc::new(compute().await?);
        *slot = Some(Cached {
            at: Instant::now(),
            figures: figures.clone(),
        });
        Ok(figures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_window_is_the_current_month_and_the_eleven_before() {
        let window = Window::ending(day(2026, 3, 15));
        assert_eq!(window.months.len(), 12);
        assert_eq!(window.months[0], day(2025, 4, 1));
        assert_eq!(window.months[11], day(2026, 3, 1));
        assert_eq!(window.end, day(2026, 4, 1));
        assert_eq!(window.month_of(day(2025, 4, 1)), Some(0));
        assert_eq!(window.month_of(day(2025, 12, 31)), Some(8));
        assert_eq!(window.month_of(day(2026, 3, 31)), Some(11));
        assert_eq!(window.month_of(day(2025, 3, 31)), None);
        assert_eq!(window.month_of(day(2026, 4, 1)), None);
        assert_eq!(Window::ending(day(2026, 12, 31)).end, day(2027, 1, 1));
    }

    #[test]
    fn months_start_at_midnight_in_vietnam() {
        let window = Window::ending(day(2026, 3, 15));
        let bounds = window.boundaries();
        assert_eq!(bounds.len(), 13);
        assert_eq!(bounds[0].to_rfc3339(), "2025-03-31T17:00:00+00:00");
        assert_eq!(bounds[12].to_rfc3339(), "2026-03-31T17:00:00+00:00");
    }
}
