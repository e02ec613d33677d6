//! The dashboard's aggregate queries. Each is one `GROUP BY` over columns that an index of
//! migration `m20261122_000009` (or an older one) covers, built with sea-query so that the
//! same code runs on SQLite and PostgreSQL.
//!
//! Months are never computed with date functions, which differ between the two databases and
//! would need the time zone. Orders are put in months with a `CASE` over the month boundaries
//! as bound instants (`paid_at < $2 THEN 0 WHEN paid_at < $3 THEN 1 …`), Vietnamese midnights
//! computed in Rust. Stamps are counted per issue instant and scans per Vietnamese day (which
//! they carry), both far fewer groups than rows, and added up per month here.
//!
//! The queries are independent and run at the same time ([`super::compute`]), each on its own
//! pooled connection.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QuerySelect, StatementBuilder,
};

use super::{CooperativeCounts, CopyCounts, OrderCounts, Window};
use crate::catalog::CooperativeStatus;
use crate::entities::{cooperatives, fake_reports, orders, products, scans, stamps};
use crate::error::AppResult;
use crate::orders::OrderStatus;
use crate::trace::analytics::{self, ScanScope, cooperatives_of_province};

/// `CAST(SUM(CASE WHEN condition THEN 1 ELSE 0 END) AS BIGINT)`: PostgreSQL would otherwise
/// answer `numeric` for some sums, which does not decode as an integer.
fn count_if(condition: Expr) -> Expr {
    Func::cast_as(
        Func::sum(Expr::case(condition, 1).finally(0)),
        Alias::new("BIGINT"),
    )
    .into()
}

fn count_all() -> Expr {
    Expr::cust("COUNT(*)")
}

fn sum_bigint(column: &str) -> Expr {
    Func::cast_as(
        Func::sum(Expr::col(Alias::new(column))),
        Alias::new("BIGINT"),
    )
    .into()
}

async fn rows<T: FromQueryResult>(
    db: &impl ConnectionTrait,
    query: &SelectStatement,
) -> AppResult<Vec<T>> {
    let statement = StatementBuilder::build(query, &db.get_database_backend());
    Ok(T::find_by_statement(statement).all(db).await?)
}

/// Certified OCOP products by star, online ones, and all online products, per province (or
/// per commune of `province`). Places without any product are absent.
pub async fn products_by_place(
    db: &impl ConnectionTrait,
    province: Option<&str>,
    today: NaiveDate,
) -> AppResult<Vec<(String, super::ProductCounts)>> {
    #[derive(FromQueryResult)]
    struct Row {
        place: String,
        three: i64,
        four: i64,
        five: i64,
        ocop_online: i64,
        online: i64,
    }
    let place = match province {
        Some(_) => products::Column::CommuneCode,
        None => products::Column::ProvinceCode,
    };
    // The same rule as the product badge: a rating of 3 to 5 stars whose certificate has not
    // expired (`OcopBadge::of`).
    let valid = || products::Column::OcopExpiresOn.gte(today);
    let stars = |n: i16| count_if(products::Column::OcopStars.eq(n).and(valid()));
    let mut query = Query::select();
    query
        .expr_as(Expr::col((products::Entity, place)), Alias::new("place"))
        .expr_as(stars(3), Alias::new("three"))
        .expr_as(stars(4), Alias::new("four"))
        .expr_as(stars(5), Alias::new("five"))
        .expr_as(
            count_if(
                products::Column::OcopStars
                    .between(3, 5)
                    .and(valid())
                    .and(products::Column::Listed.eq(true)),
            ),
            Alias::new("ocop_online"),
        )
        .expr_as(
            count_if(products::Column::Listed.eq(true)),
            Alias::new("online"),
        )
        .from(products::Entity)
        .group_by_col((products::Entity, place));
    if let Some(code) = province {
        query.and_where(products::Column::ProvinceCode.eq(code));
    }
    Ok(rows::<Row>(db, &query)
        .await?
        .into_iter()
        .map(|r| {
            (
                r.place,
                super::ProductCounts {
                    three_stars: r.three,
                    four_stars: r.four,
                    five_stars: r.five,
                    ocop: r.three + r.four + r.five,
                    ocop_online: r.ocop_online,
                    online: r.online,
                },
            )
        })
        .collect())
}

/// Cooperatives by status per province (or per commune of `province`).
pub async fn cooperatives_by_place(
    db: &impl ConnectionTrait,
    province: Option<&str>,
) -> AppResult<Vec<(String, CooperativeCounts)>> {
    #[derive(FromQueryResult)]
    struct Row {
        place: String,
        status: String,
        n: i64,
    }
    let place = match province {
        Some(_) => cooperatives::Column::CommuneCode,
        None => cooperatives::Column::ProvinceCode,
    };
    let mut query = Query::select();
    query
        .expr_as(
            Expr::col((cooperatives::Entity, place)),
            Alias::new("place"),
        )
        .column((cooperatives::Entity, cooperatives::Column::Status))
        .expr_as(count_all(), Alias::new("n"))
        .from(cooperatives::Entity)
        .group_by_col((cooperatives::Entity, place))
        .group_by_col((cooperatives::Entity, cooperatives::Column::Status));
    if let Some(code) = province {
        query.and_where(cooperatives::Column::ProvinceCode.eq(code));
    }
    let mut by_place: HashMap<String, CooperativeCounts> = HashMap::new();
    for row in rows::<Row>(db, &query).await? {
        let counts = by_place.entry(row.place).or_default();
        match CooperativeStatus::parse(&row.status) {
            Some(CooperativeStatus::Verified) => counts.verified += row.n,
            Some(CooperativeStatus::Pending) => counts.pending += row.n,
            Some(CooperativeStatus::Suspended) => counts.suspended += row.n,
            _ => {}
        }
    }
    Ok(by_place.into_iter().collect())
}

/// `CASE WHEN column < b1 THEN 0 WHEN column < b2 THEN 1 … ELSE 11 END` for a column already
/// limited to `[b0, b12)`: the index of the month the value falls in.
fn month_index<C>(column: C, window: &Window) -> Expr
where
    C: ColumnTrait + Copy,
{
    let bounds = window.boundaries();
    // The ends of months 0 to 10; month 11 is what remains.
    let mut ends = bounds
        .iter()
        .skip(1)
        .take(bounds.len().saturating_sub(2))
        .zip(0i32..);
    let Some((first_end, _)) = ends.next() else {
        return Expr::val(0);
    };
    let mut case = Expr::case(column.lt(*first_end), 0);
    let mut last = 0;
    for (end, month) in ends {
        case = case.case(column.lt(*end), month);
        last = month;
    }
    case.finally(last + 1).into()
}

/// Folds `(month index, value)` rows into one value per month of the window.
fn per_month<T: Default + Clone>(rows: impl IntoIterator<Item = (i32, T)>) -> Vec<T> {
    let mut months = vec![T::default(); super::MONTHS];
    for (index, value) in rows {
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| months.get_mut(i)) {
            *slot = value;
        }
    }
    months
}

/// Orders paid in each month of the window and not cancelled since, with their goods value and
/// commission.
pub async fn orders_by_month(
    db: &impl ConnectionTrait,
    province: Option<&str>,
    window: &Window,
) -> AppResult<Vec<OrderCounts>> {
    #[derive(FromQueryResult)]
    struct Row {
        month: i32,
        n: i64,
        goods: i64,
        commission: i64,
    }
    let bounds = window.boundaries();
    let (Some(start), Some(end)) = (bounds.first(), bounds.last()) else {
        return Ok(per_month(Vec::<(i32, OrderCounts)>::new()));
    };
    let mut inner = Query::select();
    inner
        .expr_as(
            month_index(orders::Column::PaidAt, window),
            Alias::new("month"),
        )
        .column(orders::Column::SubtotalVnd)
        .column(orders::Column::CommissionVnd)
        .from(orders::Entity)
        .and_where(orders::Column::PaidAt.gte(*start))
        .and_where(orders::Column::PaidAt.lt(*end))
        .and_where(orders::Column::Status.ne(OrderStatus::Cancelled.as_str()));
    if let Some(code) = province {
        inner.and_where(orders::Column::CooperativeId.in_subquery(cooperatives_of_province(code)));
    }
    let mut query = Query::select();
    query
        .column(Alias::new("month"))
        .expr_as(count_all(), Alias::new("n"))
        .expr_as(sum_bigint("subtotal_vnd"), Alias::new("goods"))
        .expr_as(sum_bigint("commission_vnd"), Alias::new("commission"))
        .from_subquery(inner, Alias::new("paid"))
        .group_by_col(Alias::new("month"));
    Ok(per_month(rows::<Row>(db, &query).await?.into_iter().map(
        |r| {
            (
                r.month,
                OrderCounts {
                    paid_orders: r.n,
                    goods_vnd: r.goods,
                    commission_vnd: r.commission,
                },
            )
        },
    )))
}

/// Stamps issued in each month of the window.
///
/// Stamps are issued in bulk, tens of thousands sharing one `issued_at`, so grouping by the
/// instant itself returns a row per issue (a few thousand in a year) from an ordered read of
/// `idx_stamps_issued`, and the months are added up here: three times faster on SQLite than
/// a `CASE` over every stamp.
pub async fn stamps_by_month(
    db: &impl ConnectionTrait,
    province: Option<&str>,
    window: &Window,
) -> AppResult<Vec<i64>> {
    let bounds = window.boundaries();
    let (Some(start), Some(end)) = (bounds.first(), bounds.last()) else {
        return Ok(vec![0; super::MONTHS]);
    };
    let mut query = stamps::Entity::find()
        .select_only()
        .column(stamps::Column::IssuedAt)
        .column_as(count_all(), "n")
        .filter(stamps::Column::IssuedAt.gte(*start))
        .filter(stamps::Column::IssuedAt.lt(*end))
        .group_by(stamps::Column::IssuedAt);
    if let Some(code) = province {
        query =
            query.filter(stamps::Column::CooperativeId.in_subquery(cooperatives_of_province(code)));
    }
    let mut months = vec![0; super::MONTHS];
    for (issued_at, n) in query.into_tuple::<(DateTime<Utc>, i64)>().all(db).await? {
        let day = crate::clock::to_vietnam_time(issued_at).date_naive();
        if let Some(month) = window.month_of(day).and_then(|i| months.get_mut(i)) {
            *month += n;
        }
    }
    Ok(months)
}

fn scan_scope(province: Option<&str>) -> ScanScope {
    match province {
        Some(code) => ScanScope::Province(code.to_owned()),
        None => ScanScope::Everything,
    }
}

/// Scans in the window: per month, and per reported province (`None`: not reported).
pub async fn scans_by_month_and_place(
    db: &impl ConnectionTrait,
    province: Option<&str>,
    window: &Window,
) -> AppResult<(Vec<i64>, HashMap<Option<String>, i64>)> {
    let mut months = vec![0; super::MONTHS];
    let mut places: HashMap<Option<String>, i64> = HashMap::new();
    let rows =
        analytics::scans_per_day_and_province(db, &scan_scope(province), window.start()).await?;
    for (day, place, n) in rows {
        if let Some(month) = window.month_of(day).and_then(|i| months.get_mut(i)) {
            *month += n;
            *places.entry(place).or_default() += n;
        }
    }
    Ok((months, places))
}

/// The copies table before names are attached.
pub struct CopyFigures {
    /// Per reported province; `None` for scans and reports without a place.
    pub by_place: Vec<(Option<String>, CopyCounts)>,
    /// Stamps flagged now, scanned in the window or not.
    pub flagged_stamps: i64,
}

/// Flagged stamps scanned in each reported province during the window, their scans there, and
/// the fake reports made there; limited to the stamps (and reports about the products) of
/// `province`'s cooperatives when given.
pub async fn copies_by_reported_province(
    db: &impl ConnectionTrait,
    province: Option<&str>,
    window: &Window,
) -> AppResult<CopyFigures> {
    #[derive(FromQueryResult)]
    struct FlaggedRow {
        place: Option<String>,
        stamps: i64,
        n: i64,
    }
    #[derive(FromQueryResult)]
    struct ReportRow {
        place: Option<String>,
        n: i64,
    }
    // Few stamps are flagged: the join starts from them (`idx_stamps_flagged`) and reaches
    // their scans through `idx_scans_stamp`, never reading the other scans.
    let mut flagged = Query::select();
    flagged
        .expr_as(
            Expr::col((scans::Entity, scans::Column::ProvinceCode)),
            Alias::new("place"),
        )
        .expr_as(
            Func::count_distinct(Expr::col((scans::Entity, scans::Column::StampId))),
            Alias::new("stamps"),
        )
        .expr_as(count_all(), Alias::new("n"))
        .from(stamps::Entity)
        .inner_join(
            scans::Entity,
            Expr::col((scans::Entity, scans::Column::StampId))
                .equals((stamps::Entity, stamps::Column::Id)),
        )
        .and_where(stamps::Column::Flagged.eq(true))
        .and_where(scans::Column::ScannedOn.gte(window.start()))
        .group_by_col((scans::Entity, scans::Column::ProvinceCode));
    let bounds = window.boundaries();
    let start = bounds
        .first()
        .copied()
        .unwrap_or_else(|| super::vietnam_midnight(window.start()));
    let mut reports = Query::select();
    reports
        .expr_as(
            Expr::col((fake_reports::Entity, fake_reports::Column::ProvinceCode)),
            Alias::new("place"),
        )
        .expr_as(count_all(), Alias::new("n"))
        .from(fake_reports::Entity)
        .and_where(fake_reports::Column::CreatedAt.gte(start))
        .group_by_col((fake_reports::Entity, fake_reports::Column::ProvinceCode));
    let mut flagged_total = stamps::Entity::find().filter(stamps::Column::Flagged.eq(true));
    if let Some(code) = province {
        flagged
            .and_where(stamps::Column::CooperativeId.in_subquery(cooperatives_of_province(code)));
        reports.and_where(
            fake_reports::Column::CooperativeId.in_subquery(cooperatives_of_province(code)),
        );
        flagged_total = flagged_total
            .filter(stamps::Column::CooperativeId.in_subquery(cooperatives_of_province(code)));
    }
    let mut by_place: HashMap<Option<String>, CopyCounts> = HashMap::new();
    for row in rows::<FlaggedRow>(db, &flagged).await? {
        let counts = by_place.entry(row.place).or_default();
        counts.flagged_stamps = row.stamps;
        counts.flagged_scans = row.n;
    }
    for row in rows::<ReportRow>(db, &reports).await? {
        by_place.entry(row.place).or_default().fake_reports = row.n;
    }
    let flagged_stamps = i64::try_from(flagged_total.count(db).await?).unwrap_or(i64::MAX);
    Ok(CopyFigures {
        by_place: by_place.into_iter().collect(),
        flagged_stamps,
    })
}
