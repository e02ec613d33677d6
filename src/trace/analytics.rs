//! Scan analytics: scans per day, by reported province, flagged stamps and fake reports — for
//! one cooperative, or (administrators) for every cooperative.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::fake_reports::{FakeReportNoteView, FakeReportView};
use crate::entities::{
    batches, cooperatives, fake_report_notes, fake_reports, products, scans, stamps,
};
use crate::error::AppResult;
use crate::reference::ReferenceData;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayCount {
    pub day: NaiveDate,
    pub scans: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProvinceCount {
    pub province_code: String,
    pub province_name: String,
    pub scans: i64,
}

/// A stamp flagged as a likely copy, for review. Never its code: the list is read by the
/// province too, and a code is secret until its package is opened.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlaggedStamp {
    pub stamp_id: i64,
    pub serial: i64,
    pub lot_code: String,
    pub product_name: String,
    pub scan_count: i64,
    pub distinct_clients: i32,
    pub flag_reason: Option<String>,
    pub flagged_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Reviewed and confirmed as a copy.
    pub confirmed: bool,
    pub last_scanned_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A fake report on the analytics pages: the report as `fake_reports` shows it, with its
/// province named and the steps taken.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FakeReportWithNotes {
    #[serde(flatten)]
    pub report: FakeReportView,
    pub province_name: Option<String>,
    /// The steps taken, oldest first.
    pub notes: Vec<FakeReportNoteView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScanAnalytics {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub stamps_issued: u64,
    pub scans_total: u64,
    /// Scans of codes no stamp has (administrators only; 0 for a cooperative).
    pub unknown_code_scans: u64,
    pub per_day: Vec<DayCount>,
    pub by_province: Vec<ProvinceCount>,
    pub flagged: Vec<FlaggedStamp>,
    pub fake_reports: Vec<FakeReportWithNotes>,
}

impl ScanAnalytics {
    /// Height of a day's bar in a 100-unit chart.
    pub fn bar(&self, scans: &i64) -> i64 {
        let max = self
            .per_day
            .iter()
            .map(|d| d.scans)
            .max()
            .unwrap_or(0)
            .max(1);
        scans * 100 / max
    }
}

/// Whose scans a figure counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanScope {
    /// Every recorded scan, codes no stamp has included.
    Everything,
    /// Scans of one cooperative's stamps.
    Cooperative(i64),
    /// Scans of the stamps of the cooperatives based in one province (by province code).
    Province(String),
}

impl ScanScope {
    /// The condition on `scans` rows.
    pub fn condition(&self) -> Condition {
        match self {
            Self::Everything => Condition::all(),
            Self::Cooperative(id) => Condition::all().add(scans::Column::CooperativeId.eq(*id)),
            Self::Province(code) => Condition::all()
                .add(scans::Column::CooperativeId.in_subquery(cooperatives_of_province(code))),
        }
    }
}

/// `SELECT id FROM cooperatives WHERE province_code = ?`, for `IN` filters: a subquery keeps
/// the outer query on its own table's indexes (cooperative id first) instead of a join.
pub fn cooperatives_of_province(code: &str) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(cooperatives::Column::Id)
        .from(cooperatives::Entity)
        .and_where(cooperatives::Column::ProvinceCode.eq(code))
        .to_owned()
}

/// Scans per Vietnamese calendar day and reported province (`None`: not reported) from `from`
/// on, oldest day first. One pass over the `(scanned_on, province_code)` index answers both
/// the per-day and the per-province figures.
pub async fn scans_per_day_and_province(
    db: &impl ConnectionTrait,
    scope: &ScanScope,
    from: NaiveDate,
) -> AppResult<Vec<(NaiveDate, Option<String>, i64)>> {
    Ok(scans::Entity::find()
        .select_only()
        .column(scans::Column::ScannedOn)
        .column(scans::Column::ProvinceCode)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(scope.condition())
        .filter(scans::Column::ScannedOn.gte(from))
        .group_by(scans::Column::ScannedOn)
        .group_by(scans::Column::ProvinceCode)
        .order_by_asc(scans::Column::ScannedOn)
        .into_tuple()
        .all(db)
        .await?)
}

/// Analytics over the last `days` days; `cooperative_id` `None` means every cooperative.
pub async fn scan_analytics(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    cooperative_id: Option<i64>,
    days: i64,
) -> AppResult<ScanAnalytics> {
    let to = crate::clock::today_in_vietnam();
    let from = to - Duration::days(days - 1);
    let scope = match cooperative_id {
        Some(id) => ScanScope::Cooperative(id),
        None => ScanScope::Everything,
    };
    let own_scans = || scope.condition();
    let mut per_day: Vec<(NaiveDate, i64)> = Vec::new();
    let mut by_province: HashMap<String, i64> = HashMap::new();
    for (day, province, n) in scans_per_day_and_province(db, &scope, from).await? {
        match per_day.last_mut() {
            Some((last, total)) if *last == day => *total += n,
            _ => per_day.push((day, n)),
        }
        if let Some(code) = province {
            *by_province.entry(code).or_default() += n;
        }
    }
    let scans_total = scans::Entity::find()
        .filter(own_scans())
        .filter(scans::Column::StampId.is_not_null())
        .count(db)
        .await?;
    let unknown_code_scans = if cooperative_id.is_none() {
        scans::Entity::find()
            .filter(scans::Column::StampId.is_null())
            .count(db)
            .await?
    } else {
        0
    };
    let mut stamp_query = stamps::Entity::find();
    if let Some(id) = cooperative_id {
        stamp_query = stamp_query.filter(stamps::Column::CooperativeId.eq(id));
    }
    let stamps_issued = stamp_query.clone().count(db).await?;
    let flagged_rows = stamp_query
        .filter(
            Condition::any()
                .add(stamps::Column::Flagged.eq(true))
                .add(stamps::Column::FlagConfirmed.eq(true)),
        )
        .order_by_desc(stamps::Column::LastScannedAt)
        .limit(100)
        .all(db)
        .await?;
    let batch_ids: Vec<i64> = flagged_rows.iter().map(|s| s.batch_id).collect();
    let batch_rows = batches::Entity::find()
        .filter(batches::Column::Id.is_in(batch_ids))
        .all(db)
        .await?;
    let product_ids: Vec<i64> = batch_rows.iter().map(|b| b.product_id).collect();
    let product_rows = products::Entity::find()
        .filter(products::Column::Id.is_in(product_ids))
        .all(db)
        .await?;
    let flagged = flagged_rows
        .iter()
        .map(|s| {
            let batch = batch_rows.iter().find(|b| b.id == s.batch_id);
            let product = batch.and_then(|b| product_rows.iter().find(|p| p.id == b.product_id));
            FlaggedStamp {
                stamp_id: s.id,
                serial: s.serial,
                lot_code: batch.map(|b| b.lot_code.clone()).unwrap_or_default(),
                product_name: product.map(|p| p.name.clone()).unwrap_or_default(),
                scan_count: s.scan_count,
                distinct_clients: s.distinct_clients,
                flag_reason: s.flag_reason.clone(),
                flagged_at: s.flagged_at,
                confirmed: s.flag_confirmed,
                last_scanned_at: s.last_scanned_at,
            }
        })
        .collect();
    let mut report_query = fake_reports::Entity::find();
    if let Some(id) = cooperative_id {
        report_query = report_query.filter(fake_reports::Column::CooperativeId.eq(id));
    }
    let report_rows = report_query
        .order_by_desc(fake_reports::Column::Id)
        .limit(100)
        .all(db)
        .await?;
    let mut notes_of = notes_by_report(db, report_rows.iter().map(|r| r.id)).await?;
    let fake_reports = report_rows
        .into_iter()
        .map(|r| FakeReportWithNotes {
            province_name: r
                .province_code
                .as_deref()
                .and_then(|c| reference.province(c))
                .map(|p| p.short_name.clone()),
            notes: notes_of.remove(&r.id).unwrap_or_default(),
            report: FakeReportView::of(&r),
        })
        .collect();
    let mut by_province: Vec<ProvinceCount> = by_province
        .into_iter()
        .map(|(code, scans)| ProvinceCount {
            province_name: reference
                .province(&code)
                .map(|p| p.short_name.clone())
                .unwrap_or_else(|| code.clone()),
            province_code: code,
            scans,
        })
        .collect();
    by_province.sort_by_key(|p| std::cmp::Reverse(p.scans));
    Ok(ScanAnalytics {
        from,
        to,
        stamps_issued,
        scans_total,
        unknown_code_scans,
        per_day: per_day
            .into_iter()
            .map(|(day, scans)| DayCount { day, scans })
            .collect(),
        by_province,
        flagged,
        fake_reports,
    })
}

/// The notes of some fake reports, oldest first, by report.
async fn notes_by_report(
    db: &impl ConnectionTrait,
    report_ids: impl Iterator<Item = i64>,
) -> AppResult<HashMap<i64, Vec<FakeReportNoteView>>> {
    let ids: Vec<i64> = report_ids.collect();
    let mut by_report: HashMap<i64, Vec<FakeReportNoteView>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_report);
    }
    for note in &fake_report_notes::Entity::find()
        .filter(fake_report_notes::Column::ReportId.is_in(ids))
        .order_by_asc(fake_report_notes::Column::Id)
        .all(db)
        .await?
    {
        by_report
            .entry(note.report_id)
            .or_default()
            .push(FakeReportNoteView::of(note));
    }
    Ok(by_report)
}
