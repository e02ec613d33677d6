//! Issuing, voiding and listing stamps. Issuing is one transaction however many stamps
//! (1 to 100,000): all are issued or none.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::signing::StampSigner;
use super::{StampStatus, VoidReason};
use crate::catalog::access;
use crate::domain::{FieldIssue, LotCode, StampCode};
use crate::entities::{batches, stamps};
use crate::error::{AppError, AppResult, FieldErrors, is_unique_violation};

/// Most stamps one request may issue.
pub const MAX_ISSUE: u32 = 100_000;
const CHUNK: usize = 1000;

/// What to issue.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct IssueRequest {
    /// 1 to 100,000.
    pub count: i64,
    /// Sign the stamps for offline verification (longer QR codes).
    #[serde(default)]
    pub signed: bool,
}

/// What an issue produced.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedRoll {
    pub batch_id: i64,
    pub roll: i32,
    pub first_serial: i64,
    pub last_serial: i64,
    pub count: i64,
    pub signed: bool,
}

pub fn parse_count(count: i64) -> Result<u32, FieldIssue> {
    u32::try_from(count)
        .ok()
        .filter(|c| (1..=MAX_ISSUE).contains(c))
        .ok_or_else(|| FieldIssue::new("invalid_stamp_count", "1 to 100,000 stamps"))
}

/// Issues `count` new stamps for `batch` in one transaction, if its cooperative is verified
/// (409 `cooperative_not_verified` otherwise). `after_chunk` is called after each
/// chunk of rows is written (with the number written so far); an error from it, like any other,
/// rolls the whole issue back. Production passes a no-op; tests use it to fail midway.
pub async fn issue(
    db: &(impl ConnectionTrait + TransactionTrait),
    signer: &StampSigner,
    batch: &batches::Model,
    count: u32,
    signed: bool,
    mut after_chunk: impl FnMut(usize) -> AppResult<()>,
) -> AppResult<IssuedRoll> {
    let lot = LotCode::parse(&batch.lot_code)
        .map_err(|_| AppError::Internal(anyhow::anyhow!("stored lot code is not valid")))?;
    let txn = crate::db::begin_write(db).await?;
    // Read in the issuing transaction: a suspension committed before it is seen.
    access::require_verified_id(&txn, batch.cooperative_id).await?;
    let (last_serial, last_roll): (Option<i64>, Option<i32>) = stamps::Entity::find()
        .select_only()
        .column_as(stamps::Column::Serial.max(), "last_serial")
        .column_as(stamps::Column::Roll.max(), "last_roll")
        .filter(stamps::Column::BatchId.eq(batch.id))
        .into_tuple()
        .one(&txn)
        .await?
        .unwrap_or((None, None));
    let first_serial = last_serial.unwrap_or(0) + 1;
    let roll = last_roll.unwrap_or(0) + 1;
    let now = Utc::now();
    let mut written = 0usize;
    let mut rows = Vec::with_capacity(CHUNK);
    for i in 0..i64::from(count) {
        let serial = first_serial + i;
        let code = StampCode::generate();
        let (key_id, signature) = if signed {
            let sig = signer.sign(&code, &lot, serial);
            (Some(signer.key_id().to_owned()), Some(sig))
        } else {
            (None, None)
        };
        rows.push(stamps::ActiveModel {
            id: NotSet,
            batch_id: Set(batch.id),
            cooperative_id: Set(batch.cooperative_id),
            serial: Set(serial),
            code: Set(code.as_str().to_owned()),
            roll: Set(roll),
            status: Set(StampStatus::Active.as_str().to_owned()),
            void_reason: Set(None),
            voided_at: Set(None),
            key_id: Set(key_id),
            signature: Set(signature),
            issued_at: Set(now),
            scan_count: Set(0),
            distinct_clients: Set(0),
            first_scanned_at: Set(None),
            last_scanned_at: Set(None),
            flagged: Set(false),
            flag_reason: Set(None),
            flagged_at: Set(None),
            flag_cleared_at: Set(None),
            flag_confirmed: Set(false),
        });
        if rows.len() == CHUNK || i + 1 == i64::from(count) {
            written += rows.len();
            stamps::Entity::insert_many(std::mem::take(&mut rows))
                .exec(&txn)
                .await
                .map_err(|err| {
                    if is_unique_violation(&err) {
                        AppError::Conflict {
                            code: "concurrent_issue",
                            field: None,
                            message: "stamps were being issued for this batch at the same time; try again".into(),
                        }
                    } else {
                        err.into()
                    }
                })?;
            after_chunk(written)?;
        }
    }
    if signed {
        signer.publish(&txn).await?;
    }
    txn.commit().await?;
    Ok(IssuedRoll {
        batch_id: batch.id,
        roll,
        first_serial,
        last_serial: first_serial + i64::from(count) - 1,
        count: i64::from(count),
        signed,
    })
}

/// Which stamps of a batch to void.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "select")]
pub enum VoidSelection {
    /// One stamp.
    Serial { serial: i64 },
    /// Serials `from` to `to`, inclusive.
    Range { from: i64, to: i64 },
    /// A whole roll (one issue), e.g. reported lost.
    Roll { roll: i32 },
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct VoidRequest {
    #[serde(flatten)]
    pub selection: VoidSelection,
    /// `lost`, `damaged`, `misprinted`, `recalled` or `other`.
    pub reason: String,
}

/// Voids the selected active stamps of `batch`; returns how many were voided.
pub async fn void(
    db: &impl ConnectionTrait,
    batch: &batches::Model,
    selection: &VoidSelection,
    reason: &str,
) -> AppResult<u64> {
    let reason = VoidReason::parse(reason.trim()).ok_or_else(|| {
        FieldErrors::single(
            "reason",
            FieldIssue::new(
                "invalid_void_reason",
                "lost, damaged, misprinted, recalled or other",
            ),
        )
    })?;
    let mut update = stamps::Entity::update_many()
        .col_expr(
            stamps::Column::Status,
            Expr::value(StampStatus::Voided.as_str()),
        )
        .col_expr(stamps::Column::VoidReason, Expr::value(reason.as_str()))
        .col_expr(stamps::Column::VoidedAt, Expr::value(Utc::now()))
        .filter(stamps::Column::BatchId.eq(batch.id))
        .filter(stamps::Column::Status.eq(StampStatus::Active.as_str()));
    update = match *selection {
        VoidSelection::Serial { serial } => update.filter(stamps::Column::Serial.eq(serial)),
        VoidSelection::Range { from, to } => {
            if from < 1 || to < from || to - from >= i64::from(MAX_ISSUE) {
                return Err(FieldErrors::single(
                    "to",
                    FieldIssue::new(
                        "invalid_range",
                        "a range of serials from..to, at most 100,000",
                    ),
                ));
            }
            update
                .filter(stamps::Column::Serial.gte(from))
                .filter(stamps::Column::Serial.lte(to))
        }
        VoidSelection::Roll { roll } => update.filter(stamps::Column::Roll.eq(roll)),
    };
    Ok(update.exec(db).await?.rows_affected)
}

/// A page of a batch's stamps, by serial.
pub async fn of_batch(
    db: &impl ConnectionTrait,
    batch_id: i64,
    page: u64,
    per_page: u64,
) -> AppResult<(Vec<stamps::Model>, u64)> {
    let query = stamps::Entity::find()
        .filter(stamps::Column::BatchId.eq(batch_id))
        .order_by_asc(stamps::Column::Serial);
    let total = query.clone().count(db).await?;
    let rows = query
        .offset(page.saturating_sub(1) * per_page)
        .limit(per_page)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Every stamp of a batch, by serial (for label sheets and print-shop exports), optionally
/// only one roll, active ones only.
pub async fn all_active_of_batch(
    db: &impl ConnectionTrait,
    batch_id: i64,
    roll: Option<i32>,
) -> AppResult<Vec<stamps::Model>> {
    let mut query = stamps::Entity::find()
        .filter(stamps::Column::BatchId.eq(batch_id))
        .filter(stamps::Column::Status.eq(StampStatus::Active.as_str()))
        .order_by_asc(stamps::Column::Serial);
    if let Some(roll) = roll {
        query = query.filter(stamps::Column::Roll.eq(roll));
    }
    Ok(query.all(db).await?)
}

/// One roll (one issue) of a batch's stamps, summarised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollSummary {
    pub roll: i32,
    pub first_serial: i64,
    pub last_serial: i64,
    pub active: i64,
    pub voided: i64,
    pub signed: bool,
}

/// The rolls of a batch, by roll number: one grouped query, however many stamps (a batch may
/// hold hundreds of thousands).
pub async fn rolls_of(db: &impl ConnectionTrait, batch_id: i64) -> AppResult<Vec<RollSummary>> {
    use sea_orm::sea_query::{ExprTrait, Func};
    // SUM of a CASE rather than COUNT(…) FILTER: both databases read it, and both return a
    // 64-bit integer for it.
    let count_where =
        |condition: Expr| -> Expr { Func::sum(Expr::case(condition, 1).finally(0)).into() };
    let rows: Vec<(i32, i64, i64, i64, i64, i64)> = stamps::Entity::find()
        .select_only()
        .column(stamps::Column::Roll)
        .column_as(stamps::Column::Serial.min(), "first_serial")
        .column_as(stamps::Column::Serial.max(), "last_serial")
        .column_as(
            count_where(Expr::col(stamps::Column::Status).eq(StampStatus::Active.as_str())),
            "active",
        )
        .column_as(
            count_where(Expr::col(stamps::Column::Status).ne(StampStatus::Active.as_str())),
            "voided",
        )
        .column_as(
            count_where(Expr::col(stamps::Column::Signature).is_not_null()),
            "signed",
        )
        .filter(stamps::Column::BatchId.eq(batch_id))
        .group_by(stamps::Column::Roll)
        .order_by_asc(stamps::Column::Roll)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(roll, first_serial, last_serial, active, voided, signed)| RollSummary {
                roll,
                first_serial,
                last_serial,
                active,
                voided,
                signed: signed > 0,
            },
        )
        .collect())
}

/// The stamp with this code, if any.
pub async fn by_code(
    db: &impl ConnectionTrait,
    code: &StampCode,
) -> AppResult<Option<stamps::Model>> {
    Ok(stamps::Entity::find()
        .filter(stamps::Column::Code.eq(code.as_str()))
        .one(db)
        .await?)
}

/// The first `limit` active stamps of a batch, by serial (sample links on the batch page).
pub async fn first_active(
    db: &impl ConnectionTrait,
    batch_id: i64,
    limit: u64,
) -> AppResult<Vec<stamps::Model>> {
    Ok(stamps::Entity::find()
        .filter(stamps::Column::BatchId.eq(batch_id))
        .filter(stamps::Column::Status.eq(StampStatus::Active.as_str()))
        .order_by_asc(stamps::Column::Serial)
        .limit(limit)
        .all(db)
        .await?)
}

/// The base URL for QR codes: upper-cased when it has no path, so that the whole URL fits the
/// QR alphanumeric mode (scheme and host are case-insensitive).
pub fn qr_base(public_url: &str) -> String {
    let base = public_url.trim_end_matches('/');
    let has_path = base
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    if has_path {
        base.to_owned()
    } else {
        base.to_uppercase()
    }
}

/// The URL a stamp's QR code encodes.
pub fn qr_url(public_url: &str, stamp: &stamps::Model, lot: &str) -> String {
    let base = qr_base(public_url);
    let s = if base.chars().any(|c| c.is_ascii_lowercase()) {
        "s"
    } else {
        "S"
    };
    match &stamp.signature {
        Some(signature) => format!(
            "{base}/{s}/{}/{lot}/{}/{signature}",
            stamp.code, stamp.serial
        ),
        None => format!("{base}/{s}/{}", stamp.code),
    }
}

/// The GS1 Digital Link form of a stamp's URL for printing,
/// `{BASE}/01/{GTIN14}/10/{LOT}/21/{CODE}`: the code itself is the serial, so the page shows
/// the holder their code (see `verdict::LinkedStamp`). The base is upper-cased as in
/// [`qr_url`], so that a QR code encodes the whole URL in alphanumeric mode.
pub fn digital_link_url(
    public_url: &str,
    gtin: &crate::domain::Gtin,
    lot: &str,
    code: &str,
) -> String {
    crate::domain::DigitalLink {
        lot: Some(lot.to_owned()),
        serial: Some(code.to_owned()),
        ..crate::domain::DigitalLink::new(gtin.clone())
    }
    .uri(&qr_base(public_url))
}

/// Largest QR version a printed stamp may need: 57 × 57 modules, which small labels still
/// print sharply enough for any phone.
pub const MAX_LABEL_QR_VERSION: i16 = 10;

/// Checks that `url` fits a label's QR code (level M, version 10 at most): 422
/// `digital_link_too_long` otherwise (a very long public URL).
pub fn check_label_qr(url: &str) -> AppResult<()> {
    let fits = crate::qr::QrMatrix::encode(url, crate::qr::EcLevel::M)
        .is_ok_and(|m| m.version() <= MAX_LABEL_QR_VERSION);
    if fits {
        Ok(())
    } else {
        Err(FieldErrors::single(
            "digital_link",
            FieldIssue::new(
                "digital_link_too_long",
                format!(
                    "the Digital Link {url} needs a QR code larger than version {MAX_LABEL_QR_VERSION} at level M; print the short form"
                ),
            ),
        ))
    }
}

/// The ordinary link to a stamp's origin page.
pub fn link_url(public_url: &str, code: &str) -> String {
    format!("{}/s/{code}", public_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_urls_are_upper_case_when_the_base_allows_it() {
        assert_eq!(
            qr_base("https://ocop.example.vn/"),
            "HTTPS://OCOP.EXAMPLE.VN"
        );
        assert_eq!(
            qr_base("https://example.vn/ocop"),
            "https://example.vn/ocop"
        );
    }

    #[test]
    fn digital_links_fit_a_label_until_the_public_url_is_very_long() {
        let gtin = crate::domain::Gtin::parse("8934567890120").unwrap();
        let url = digital_link_url(
            "https://ocop.example.vn/",
            &gtin,
            "MO-2025-11",
            "7KQ2M9XW4RTV8HJC",
        );
        assert_eq!(
            url,
            "HTTPS://OCOP.EXAMPLE.VN/01/08934567890120/10/MO-2025-11/21/7KQ2M9XW4RTV8HJC"
        );
        assert!(check_label_qr(&url).is_ok());
        let version = crate::qr::QrMatrix::encode(&url, crate::qr::EcLevel::M)
            .unwrap()
            .version();
        assert!(version <= 5, "version {version}");
        let long_base = format!("https://example.vn/{}", "duong-dan-rat-dai/".repeat(12));
        let long = digital_link_url(&long_base, &gtin, "MO-2025-11", "7KQ2M9XW4RTV8HJC");
        let err = check_label_qr(&long).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            err.field_errors().code_for("digital_link"),
            Some("digital_link_too_long")
        );
    }

    #[test]
    fn stamp_counts_are_bounded() {
        assert!(parse_count(0).is_err());
        assert!(parse_count(100_001).is_err());
        assert_eq!(parse_count(100_000).unwrap(), 100_000);
    }
}
