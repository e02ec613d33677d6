//! The province's administrators: they verify or reject cooperatives and OCOP certificates
//! (always with a reason when refusing), and suspend cooperatives, which takes their products
//! out of the public catalogue at once (visibility is computed from the cooperative's status).

mod routes;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionSession, TransactionTrait,
};

use crate::accounts::CurrentUser;
use crate::catalog::certificates::refresh_product_rating;
use crate::catalog::products::refresh_listing_of_cooperative;
use crate::catalog::review_fingerprint;
use crate::catalog::{CertificateStatus, CooperativeStatus};
use crate::domain::{FieldIssue, bounded_text};
use crate::entities::{cooperatives, ocop_certificates, products};
use crate::error::{AppError, AppResult, FieldErrors};

pub use routes::{api_routes, page_routes};

/// What an administrator decides about a cooperative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CooperativeDecision {
    Verify,
    Reject,
    Suspend,
    Reinstate,
}

impl CooperativeDecision {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "verify" => Some(Self::Verify),
            "reject" => Some(Self::Reject),
            "suspend" => Some(Self::Suspend),
            "reinstate" => Some(Self::Reinstate),
            _ => None,
        }
    }

    fn needs_reason(self) -> bool {
        matches!(self, Self::Reject | Self::Suspend)
    }

    /// The status this decision leads to, if allowed from `from`.
    fn target(self, from: CooperativeStatus) -> Option<CooperativeStatus> {
        use CooperativeStatus as S;
        match (self, from) {
            (Self::Verify, S::Pending | S::Rejected) => Some(S::Verified),
            (Self::Reject, S::Pending) => Some(S::Rejected),
            (Self::Suspend, S::Verified) => Some(S::Suspended),
            (Self::Reinstate, S::Suspended) => Some(S::Verified),
            _ => None,
        }
    }
}

fn parse_reason(decision_needs_reason: bool, reason: &str) -> AppResult<Option<String>> {
    if decision_needs_reason {
        bounded_text(reason, 3, 500)
            .map(Some)
            .map_err(|issue| FieldErrors::single("reason", issue))
    } else if reason.trim().is_empty() {
        Ok(None)
    } else {
        bounded_text(reason, 1, 500)
            .map(Some)
            .map_err(|issue| FieldErrors::single("reason", issue))
    }
}

/// Applies an administrator's decision to a cooperative. `fingerprint` is the
/// [`crate::catalog::cooperatives::review_fingerprint`] of the details the administrator
/// reviewed: a decision on details that changed since is refused (409 `stale_review`). A
/// verification records what was verified; a cooperative reinstated after changing those
/// details goes back to review instead.
pub async fn decide_cooperative(
    db: &(impl ConnectionTrait + TransactionTrait),
    admin: &CurrentUser,
    cooperative_id: i64,
    decision: CooperativeDecision,
    reason: &str,
    fingerprint: Option<&str>,
) -> AppResult<cooperatives::Model> {
    admin.require_admin()?;
    let reason = parse_reason(decision.needs_reason(), reason)?;
    let txn = crate::db::begin_write(db).await?;
    let mut query = cooperatives::Entity::find_by_id(cooperative_id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    let coop = query.one(&txn).await?.ok_or(AppError::NotFound)?;
    let current = review_fingerprint(&coop);
    if let Some(reviewed) = fingerprint.map(str::trim).filter(|f| !f.is_empty())
        && reviewed != current
    {
        return Err(AppError::conflict(
            "stale_review",
            "fingerprint",
            "the cooperative's registration, name or bank account changed since you reviewed \
             it; review it again",
        ));
    }
    let from = CooperativeStatus::parse(&coop.status).unwrap_or(CooperativeStatus::Pending);
    let to = decision.target(from).ok_or_else(|| {
        AppError::conflict(
            "invalid_transition",
            "decision",
            format!(
                "a {} cooperative cannot be given this decision",
                from.as_str()
            ),
        )
    })?;
    let to = if decision == CooperativeDecision::Reinstate
        && coop
            .reviewed_fingerprint
            .as_deref()
            .is_some_and(|f| f != current)
    {
        CooperativeStatus::Pending
    } else {
        to
    };
    let mut row: cooperatives::ActiveModel = coop.into();
    row.status = Set(to.as_str().to_owned());
    row.status_reason = Set(reason);
    row.reviewed_at = Set(Some(Utc::now()));
    row.updated_at = Set(Utc::now());
    if to == CooperativeStatus::Verified {
        row.reviewed_fingerprint = Set(Some(current));
    }
    // The cooperative's products appear or disappear with it, in the same transaction.
    let updated = row.update(&txn).await?;
    refresh_listing_of_cooperative(&txn, updated.id, to).await?;
    if to == CooperativeStatus::Verified {
        crate::catalog::gtins::settle_cooperative(&txn, &updated).await?;
    }
    crate::messages::events::cooperative_decided(&txn, &updated).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Verifies or rejects a certificate and updates the product's badge in the same transaction.
pub async fn decide_certificate(
    db: &(impl ConnectionTrait + TransactionTrait),
    admin: &CurrentUser,
    certificate_id: i64,
    verify: bool,
    reason: &str,
) -> AppResult<ocop_certificates::Model> {
    admin.require_admin()?;
    let reason = parse_reason(!verify, reason)?;
    let txn = crate::db::begin_write(db).await?;
    let cert = ocop_certificates::Entity::find_by_id(certificate_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let product_id = cert.product_id;
    let mut row: ocop_certificates::ActiveModel = cert.into();
    row.status = Set(if verify {
        CertificateStatus::Verified
    } else {
        CertificateStatus::Rejected
    }
    .as_str()
    .to_owned());
    row.status_reason = Set(reason);
    row.reviewed_at = Set(Some(Utc::now()));
    row.reviewed_by = Set(Some(admin.id));
    let cert = row.update(&txn).await?;
    refresh_product_rating(&txn, product_id).await?;
    txn.commit().await?;
    Ok(cert)
}

/// Cooperatives in a given status, oldest first (the verification queue).
pub async fn cooperatives_in(
    db: &impl ConnectionTrait,
    status: CooperativeStatus,
    limit: u64,
) -> AppResult<Vec<cooperatives::Model>> {
    Ok(cooperatives::Entity::find()
        .filter(cooperatives::Column::Status.eq(status.as_str()))
        .order_by_asc(cooperatives::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Certificates in a given status, oldest first.
pub async fn certificates_in(
    db: &impl ConnectionTrait,
    status: CertificateStatus,
    limit: u64,
) -> AppResult<Vec<ocop_certificates::Model>> {
    Ok(ocop_certificates::Entity::find()
        .filter(ocop_certificates::Column::Status.eq(status.as_str()))
        .order_by_asc(ocop_certificates::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Certificates in `status` with the name of the product each is for, oldest first.
pub async fn certificates_with_product_names(
    db: &impl ConnectionTrait,
    status: CertificateStatus,
    limit: u64,
) -> AppResult<Vec<(ocop_certificates::Model, String)>> {
    let certificates = certificates_in(db, status, limit).await?;
    let product_ids: Vec<i64> = certificates.iter().map(|c| c.product_id).collect();
    let names: std::collections::HashMap<i64, String> = products::Entity::find()
        .select_only()
        .column(products::Column::Id)
        .column(products::Column::Name)
        .filter(products::Column::Id.is_in(product_ids))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(certificates
        .into_iter()
        .map(|c| {
            let name = names.get(&c.product_id).cloned().unwrap_or_default();
            (c, name)
        })
        .collect())
}

/// A decision name from a form or path that is not one of ours.
pub fn unknown_decision() -> AppError {
    FieldErrors::single(
        "decision",
        FieldIssue::new("invalid_decision", "verify, reject, suspend or reinstate"),
    )
}
