//! Who owns a GTIN.
//!
//! A GTIN (the barcode number of a trade item) belongs to one brand owner, and Digital Link
//! stamps (`/01/{GTIN}/…`) resolve through it, so it must not go to whoever types it first.
//! The rules:
//! - `products.gtin` (unique) holds only a GTIN the product **owns**: its cooperative is
//!   verified and no other product owned it first. What a cooperative typed is `gtin_claim`.
//! - A cooperative that is not verified yet only **claims** (`pending`): it blocks nobody,
//!   and its claim is settled when the province verifies it.
//! - A verified cooperative claiming a GTIN that another verified cooperative owns does not get
//!   it and does not take it away: the claim is `disputed` and waits in the administrators'
//!   queue, who give the GTIN to one product (the others become `refused`).
//! - One cooperative cannot give one GTIN to two of its own products (409 `gtin_taken`).

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::CooperativeStatus;
use crate::accounts::CurrentUser;
use crate::catalog::outbox::enqueue_products;
use crate::domain::Gtin;
use crate::entities::{cooperatives, product_variants, products};
use crate::error::{AppError, AppResult};

crate::domain::text_enum! {
    /// Where a product's GTIN claim stands.
    GtinStatus {
        Owned => "owned",
        Pending => "pending",
        Disputed => "disputed",
        Refused => "refused",
    }
}

/// Records what GTIN a product claims (`None`: none) and settles the claim. Call inside the
/// transaction that writes the product; `cooperative` is the product's cooperative.
pub async fn claim(
    db: &impl ConnectionTrait,
    product: products::Model,
    gtin: Option<&Gtin>,
    cooperative: &cooperatives::Model,
) -> AppResult<products::Model> {
    let wanted = gtin.map(|g| g.as_gtin14().to_owned());
    if wanted == product.gtin_claim && product.gtin_status.is_some() == wanted.is_some() {
        return Ok(product);
    }
    let mut row: products::ActiveModel = product.into();
    row.gtin = Set(None);
    row.gtin_claim = Set(wanted);
    row.gtin_status = Set(None);
    let product = row.update(db).await?;
    settle(db, product, cooperative).await
}

/// Settles a product's claim against the cooperative's status and the current owner.
pub async fn settle(
    db: &impl ConnectionTrait,
    product: products::Model,
    cooperative: &cooperatives::Model,
) -> AppResult<products::Model> {
    let Some(wanted) = product.gtin_claim.clone() else {
        return set_status(db, product, None, None).await;
    };
    if product.gtin.as_deref() == Some(wanted.as_str()) {
        return Ok(product);
    }
    if product.gtin_status.as_deref() == Some(GtinStatus::Refused.as_str()) {
        return Ok(product);
    }
    if cooperative.status != CooperativeStatus::Verified.as_str() {
        return set_status(db, product, None, Some(GtinStatus::Pending)).await;
    }
    let owner = products::Entity::find()
        .filter(products::Column::Gtin.eq(wanted.as_str()))
        .filter(products::Column::Id.ne(product.id))
        .one(db)
        .await?;
    match owner {
        Some(owner) if owner.cooperative_id == product.cooperative_id => Err(gtin_taken()),
        Some(_) => set_status(db, product, None, Some(GtinStatus::Disputed)).await,
        None => set_status(db, product, Some(wanted), Some(GtinStatus::Owned)).await,
    }
}

/// Settles the waiting claims of a cooperative the province just verified (or reinstated).
pub async fn settle_cooperative(
    db: &impl ConnectionTrait,
    cooperative: &cooperatives::Model,
) -> AppResult<()> {
    let waiting = products::Entity::find()
        .filter(products::Column::CooperativeId.eq(cooperative.id))
        .filter(products::Column::GtinStatus.eq(GtinStatus::Pending.as_str()))
        .order_by_asc(products::Column::Id)
        .all(db)
        .await?;
    for product in waiting {
        match settle(db, product, cooperative).await {
            Ok(_) => {}
            // Two of its own products claimed one GTIN while it waited: the first keeps it,
            // the other stays disputed for an administrator to sort out.
            Err(AppError::Conflict { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

async fn set_status(
    db: &impl ConnectionTrait,
    product: products::Model,
    gtin: Option<String>,
    status: Option<GtinStatus>,
) -> AppResult<products::Model> {
    if product.gtin == gtin && product.gtin_status.as_deref() == status.map(GtinStatus::as_str) {
        return Ok(product);
    }
    let id = product.id;
    let mut row: products::ActiveModel = product.into();
    row.gtin = Set(gtin);
    row.gtin_status = Set(status.map(|s| s.as_str().to_owned()));
    let product = row.update(db).await.map_err(|err| {
        if crate::error::is_unique_violation(&err) {
            // Another product took it between the check and the write.
            gtin_taken()
        } else {
            err.into()
        }
    })?;
    enqueue_products(db, &[id]).await?;
    Ok(product)
}

/// A claim in the administrators' queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GtinDispute {
    pub gtin: String,
    /// The product that holds the GTIN now, if any.
    pub owner: Option<ClaimView>,
    /// Products whose verified cooperatives claim it too.
    pub claims: Vec<ClaimView>,
}

/// One product's claim on a GTIN.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClaimView {
    pub product_id: i64,
    pub product_name: String,
    pub cooperative_id: i64,
    pub cooperative_name: String,
}

/// Every disputed GTIN with its current owner and its claimants.
pub async fn disputes(db: &impl ConnectionTrait) -> AppResult<Vec<GtinDispute>> {
    let disputed = products::Entity::find()
        .filter(products::Column::GtinStatus.eq(GtinStatus::Disputed.as_str()))
        .order_by_asc(products::Column::GtinClaim)
        .order_by_asc(products::Column::Id)
        .find_also_related(cooperatives::Entity)
        .all(db)
        .await?;
    let mut out: Vec<GtinDispute> = Vec::new();
    for (product, coop) in disputed {
        let Some(gtin) = product.gtin_claim.clone() else {
            continue;
        };
        let view = claim_view(&product, coop.as_ref());
        match out.last_mut() {
            Some(last) if last.gtin == gtin => last.claims.push(view),
            _ => {
                let owner = products::Entity::find()
                    .filter(products::Column::Gtin.eq(gtin.as_str()))
                    .find_also_related(cooperatives::Entity)
                    .one(db)
                    .await?
                    .map(|(p, c)| claim_view(&p, c.as_ref()));
                out.push(GtinDispute {
                    gtin,
                    owner,
                    claims: vec![view],
                });
            }
        }
    }
    Ok(out)
}

fn claim_view(product: &products::Model, coop: Option<&cooperatives::Model>) -> ClaimView {
    ClaimView {
        product_id: product.id,
        product_name: product.name.clone(),
        cooperative_id: product.cooperative_id,
        cooperative_name: coop.map(|c| c.name.clone()).unwrap_or_default(),
    }
}

/// An administrator gives `gtin` to `product_id` (which must claim it): the current owner, if
/// another, loses it, and every other claim is refused. Answers the products changed.
pub async fn award(
    db: &impl ConnectionTrait,
    admin: &CurrentUser,
    gtin: &Gtin,
    product_id: i64,
) -> AppResult<Vec<i64>> {
    admin.require_admin()?;
    let gtin = gtin.as_gtin14();
    let winner = products::Entity::find_by_id(product_id)
        .filter(products::Column::GtinClaim.eq(gtin))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let verified = cooperatives::Entity::find_by_id(winner.cooperative_id)
        .one(db)
        .await?
        .is_some_and(|c| c.status == CooperativeStatus::Verified.as_str());
    if !verified {
        return Err(AppError::conflict(
            "cooperative_not_verified",
            "product_id",
            "a GTIN goes only to a product of a verified cooperative",
        ));
    }
    let claimants = products::Entity::find()
        .filter(products::Column::GtinClaim.eq(gtin))
        .filter(products::Column::Id.ne(winner.id))
        .all(db)
        .await?;
    let losers: Vec<i64> = claimants.iter().map(|p| p.id).collect();
    products::Entity::update_many()
        .col_expr(products::Column::Gtin, Expr::value(Option::<String>::None))
        .col_expr(
            products::Column::GtinStatus,
            Expr::value(GtinStatus::Refused.as_str()),
        )
        .filter(products::Column::Id.is_in(losers.clone()))
        .exec(db)
        .await?;
    let winner_id = winner.id;
    set_status(db, winner, Some(gtin.to_owned()), Some(GtinStatus::Owned)).await?;
    enqueue_products(db, &losers).await?;
    let mut changed = losers;
    changed.push(winner_id);
    Ok(changed)
}

fn gtin_taken() -> AppError {
    AppError::conflict(
        "gtin_taken",
        "gtin",
        "another product of this cooperative already has this GTIN",
    )
}

/// The trade item a GTIN names: the product that owns it and the size (variant) it is.
/// `None` when no product owns it (unowned, pending or disputed claims name nothing). Every
/// Digital Link resolves its `/01/{gtin}` through this.
pub async fn trade_item(
    db: &impl ConnectionTrait,
    gtin: &Gtin,
) -> AppResult<Option<(products::Model, product_variants::Model)>> {
    let Some(product) = products::Entity::find()
        .filter(products::Column::Gtin.eq(gtin.as_gtin14()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    // The product's GTIN names its first size.
    let variant = product_variants::Entity::find()
        .filter(product_variants::Column::ProductId.eq(product.id))
        .order_by_asc(product_variants::Column::Position)
        .order_by_asc(product_variants::Column::Id)
        .one(db)
        .await?;
    Ok(variant.map(|variant| (product, variant)))
}
