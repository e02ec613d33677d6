//! Who may manage what. Every private read or write of a cooperative's data starts here.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::MemberRole;
use crate::accounts::CurrentUser;
use crate::entities::{cooperative_members, cooperatives, products};
use crate::error::{AppError, AppResult};

/// A cooperative as one of its members sees it.
#[derive(Debug, Clone)]
pub struct Membership {
    pub cooperative: cooperatives::Model,
    pub role: MemberRole,
}

impl Membership {
    pub fn require_owner(&self) -> AppResult<()> {
        match self.role {
            MemberRole::Owner => Ok(()),
            MemberRole::Staff => Err(AppError::Forbidden),
        }
    }
}

/// Refuses what only a verified cooperative may do (issue and print stamps): until the
/// province verifies a cooperative, nothing it prints may read as vouched for.
pub fn require_verified(cooperative: &cooperatives::Model) -> AppResult<()> {
    if cooperative.status == super::CooperativeStatus::Verified.as_str() {
        Ok(())
    } else {
        Err(AppError::Conflict {
            code: "cooperative_not_verified",
            field: None,
            message: "stamps can be issued and printed after the province verifies your \
                      cooperative (and not while it is suspended)"
                .into(),
        })
    }
}

/// Reads the cooperative `cooperative_id` and refuses unless it is verified (see
/// [`require_verified`]).
pub async fn require_verified_id(db: &impl ConnectionTrait, cooperative_id: i64) -> AppResult<()> {
    let cooperative = cooperatives::Entity::find_by_id(cooperative_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    require_verified(&cooperative)
}

/// The cooperative `cooperative_id` if `user` is one of its members; "not found" otherwise,
/// whether or not it exists.
pub async fn membership(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    cooperative_id: i64,
) -> AppResult<Membership> {
    let member = cooperative_members::Entity::find_by_id((cooperative_id, user.id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let cooperative = cooperatives::Entity::find_by_id(cooperative_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let role = MemberRole::parse(&member.role).unwrap_or(MemberRole::Staff);
    Ok(Membership { cooperative, role })
}

/// A product `user` may manage (a member of its cooperative), with that membership.
pub async fn managed_product(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    product_id: i64,
) -> AppResult<(products::Model, Membership)> {
    let product = products::Entity::find_by_id(product_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let membership = membership(db, user, product.cooperative_id).await?;
    Ok((product, membership))
}

/// Whether `user` belongs to the cooperative (for read access to non-public data).
pub async fn is_member(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    cooperative_id: i64,
) -> AppResult<bool> {
    Ok(
        cooperative_members::Entity::find_by_id((cooperative_id, user.id))
            .one(db)
            .await?
            .is_some(),
    )
}

/// The cooperatives `user_id` is a member of.
pub async fn cooperatives_of(db: &impl ConnectionTrait, user_id: i64) -> AppResult<Vec<i64>> {
    Ok(cooperative_members::Entity::find()
        .filter(cooperative_members::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.cooperative_id)
        .collect())
}
