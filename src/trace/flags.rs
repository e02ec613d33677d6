//! Reviewing a likely-copy flag.
//!
//! A flag is evidence, not a judgement: a family passing a package around, or a shop showing
//! customers how the stamp works, can raise one. The cooperative (any member) or the province
//! (an administrator) reviews it and decides, with a reason:
//! - **clear**: not a copy; the stamp reads genuine again, and the flag comes back only on
//!   evidence from checkers who come after the clearing;
//! - **confirm**: a copied code; it reads "copied" to everyone from now on.
//!
//! Every decision is kept (who, when, why, what the evidence was), and the stamp's live scan
//! state (in this process or in Redis) learns it at once.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::scans::{FlagDecision, ScanService};
use crate::accounts::CurrentUser;
use crate::catalog::access;
use crate::domain::{FieldIssue, bounded_text};
use crate::entities::{stamp_flag_reviews, stamps};
use crate::error::{AppError, AppResult, FieldErrors};

/// A review as sent by a page or the API.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct FlagReviewRequest {
    /// `clear` (not a copy) or `confirm` (a copied code).
    #[serde(default)]
    pub decision: String,
    /// Why: 3 to 500 characters.
    #[serde(default)]
    pub reason: String,
}

/// One review of a stamp's flag.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlagReviewView {
    pub id: i64,
    pub decision: String,
    pub reason: String,
    /// What had raised the flag (`many_clients`, `far_apart_places`).
    pub flag_reason: Option<String>,
    /// Distinct checkers when it was reviewed.
    pub distinct_clients: i32,
    /// Reviewed by the province rather than the cooperative.
    pub by_administrator: bool,
    pub reviewed_at: chrono::DateTime<Utc>,
}

impl FlagReviewView {
    fn of(row: &stamp_flag_reviews::Model) -> Self {
        Self {
            id: row.id,
            decision: row.action.clone(),
            reason: row.reason.clone(),
            flag_reason: row.flag_reason.clone(),
            distinct_clients: row.distinct_clients,
            by_administrator: row.by_administrator,
            reviewed_at: row.reviewed_at,
        }
    }
}

/// The stamp `stamp_id` if `user` may review it (a member of its cooperative, or an
/// administrator); "not found" for anyone else.
async fn reviewable(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    stamp_id: i64,
) -> AppResult<stamps::Model> {
    let stamp = stamps::Entity::find_by_id(stamp_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if !user.is_admin && !access::is_member(db, user, stamp.cooperative_id).await? {
        return Err(AppError::NotFound);
    }
    Ok(stamp)
}

/// Records a review and applies it to the stamp's row and its live scan state.
pub async fn review(
    db: &(impl ConnectionTrait + TransactionTrait),
    scans: &ScanService,
    user: &CurrentUser,
    stamp_id: i64,
    request: &FlagReviewRequest,
) -> AppResult<FlagReviewView> {
    let mut errors = FieldErrors::default();
    let decision = errors.take(
        "decision",
        match request.decision.trim() {
            "clear" => Ok(FlagDecision::Clear),
            "confirm" => Ok(FlagDecision::Confirm),
            _ => Err(FieldIssue::new("invalid_decision", "clear or confirm")),
        },
    );
    let reason = errors.take("reason", bounded_text(&request.reason, 3, 500));
    let (Some(decision), Some(reason)) = (decision, reason) else {
        return Err(errors.into_error());
    };
    let txn = crate::db::begin_write(db).await?;
    let stamp = reviewable(&txn, user, stamp_id).await?;
    // The live state knows of a flag the scan writer has not stored yet.
    let (live_flagged, live_confirmed) = scans.flag_of(stamp_id).await?;
    let flagged = stamp.flagged || live_flagged;
    let confirmed = stamp.flag_confirmed || live_confirmed;
    let allowed = match decision {
        FlagDecision::Clear => flagged || confirmed,
        FlagDecision::Confirm => flagged && !confirmed,
    };
    if !allowed {
        return Err(AppError::conflict(
            "not_flagged",
            "decision",
            "this stamp has no flag waiting for that decision",
        ));
    }
    let now = Utc::now();
    let row = stamp_flag_reviews::ActiveModel {
        stamp_id: Set(stamp.id),
        cooperative_id: Set(stamp.cooperative_id),
        action: Set(match decision {
            FlagDecision::Clear => "clear",
            FlagDecision::Confirm => "confirm",
        }
        .to_owned()),
        reason: Set(reason),
        flag_reason: Set(stamp.flag_reason.clone()),
        distinct_clients: Set(stamp.distinct_clients),
        reviewed_by: Set(user.id),
        by_administrator: Set(user.is_admin),
        reviewed_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mut update: stamps::ActiveModel = stamp.into();
    match decision {
        FlagDecision::Clear => {
            update.flagged = Set(false);
            update.flag_confirmed = Set(false);
            update.flag_cleared_at = Set(Some(now));
        }
        FlagDecision::Confirm => {
            update.flagged = Set(true);
            update.flag_confirmed = Set(true);
        }
    }
    update.update(&txn).await?;
    txn.commit().await?;
    scans.review_flag(stamp_id, decision, now).await?;
    Ok(FlagReviewView::of(&row))
}

/// The cooperative a stamp belongs to ("not found" for no such stamp).
pub async fn cooperative_of(db: &impl ConnectionTrait, stamp_id: i64) -> AppResult<i64> {
    Ok(stamps::Entity::find_by_id(stamp_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?
        .cooperative_id)
}

/// A stamp's reviews, newest first (members of its cooperative and administrators).
pub async fn reviews_of(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    stamp_id: i64,
) -> AppResult<Vec<FlagReviewView>> {
    reviewable(db, user, stamp_id).await?;
    Ok(stamp_flag_reviews::Entity::find()
        .filter(stamp_flag_reviews::Column::StampId.eq(stamp_id))
        .order_by_desc(stamp_flag_reviews::Column::Id)
        .all(db)
        .await?
        .iter()
        .map(FlagReviewView::of)
        .collect())
}
