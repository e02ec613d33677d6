//! Who owns a GTIN.
//!
//! A GTIN (the barcode number of a trade item) belongs to one brand owner, and Digital Link
//! stamps (`/01/{GTIN}/…`) resolve through it, so it must not go to whoever types it first.
//! The rules:
//! - A GTIN names one trade item, so one size: the rules below are per variant.
//!   `product_variants.gtin` (unique) holds only a GTIN the size **owns**: its cooperative is
//!   verified and no other size owned it first. What a cooperative typed is `gtin_claim`.
//! - A cooperative that is not verified yet only **claims** (`pending`): it blocks nobody,
//!   and its claim is settled when the province verifies it.
//! - A verified cooperative claiming a GTIN that another verified cooperative owns does not get
//!   it and does not take it away: the claim is `disputed` and waits in the administrators'
//!   queue, who give the GTIN to one size (the others become `refused`).
//! - One cooperative cannot give one GTIN to two of its own sizes (409 `gtin_taken`).

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

/// Records what GTIN a size claims (`None`: none) and settles the claim. Call inside the
/// transaction that writes the variant; `cooperative` is its product's cooperative.
pub async fn claim(
    db: &impl ConnectionTrait,
    variant: product_variants::Model,
    gtin: Option<&Gtin>,
    cooperative: &cooperatives::Model,
) -> AppResult<product_variants::Model> {
    let wanted = gtin.map(|g| g.as_gtin14().to_owned());
    if wanted == variant.gtin_claim && variant.gtin_status.is_some() == wanted.is_some() {
        return Ok(variant);
    }
    let mut row: product_variants::ActiveModel = variant.into();
    row.gtin = Set(None);
    row.gtin_claim = Set(wanted);
    row.gtin_status = Set(None);
    let variant = row.update(db).await?;
    settle(db, variant, cooperative).await
}

/// Records what GTIN a product's first size claims: the GTIN field of the product form, which
/// edits the product and its first size together.
pub async fn claim_first(
    db: &impl ConnectionTrait,
    product: &products::Model,
    gtin: Option<&Gtin>,
    cooperative: &cooperatives::Model,
) -> AppResult<()> {
    let first = product_variants::Entity::find()
        .filter(product_variants::Column::ProductId.eq(product.id))
        .order_by_asc(product_variants::Column::Position)
        .order_by_asc(product_variants::Column::Id)
        .one(db)
        .await?;
    if let Some(first) = first {
        claim(db, first, gtin, cooperative).await?;
    }
    Ok(())
}

/// Settles a size's claim against the cooperative's status and the current owner.
pub async fn settle(
    db: &impl ConnectionTrait,
    variant: product_variants::Model,
    cooperative: &cooperatives::Model,
) -> AppResult<product_variants::Model> {
    let Some(wanted) = variant.gtin_claim.clone() else {
        return set_status(db, variant, None, None).await;
    };
    if variant.gtin.as_deref() == Some(wanted.as_str()) {
        return Ok(variant);
    }
    if variant.gtin_status.as_deref() == Some(GtinStatus::Refused.as_str()) {
        return Ok(variant);
    }
    if cooperative.status != CooperativeStatus::Verified.as_str() {
        return set_status(db, variant, None, Some(GtinStatus::Pending)).await;
    }
    let owner = product_variants::Entity::find()
        .filter(product_variants::Column::Gtin.eq(wanted.as_str()))
        .filter(product_variants::Column::Id.ne(variant.id))
        .find_also_related(products::Entity)
        .one(db)
        .await?;
    match owner {
        Some((_, Some(owner))) if owner.cooperative_id == cooperative.id => Err(gtin_taken()),
        Some(_) => set_status(db, variant, None, Some(GtinStatus::Disputed)).await,
        None => set_status(db, variant, Some(wanted), Some(GtinStatus::Owned)).await,
    }
}

/// Settles the waiting claims of a cooperative the province just verified (or reinstated).
pub async fn settle_cooperative(
    db: &impl ConnectionTrait,
    cooperative: &cooperatives::Model,
) -> AppResult<()> {
    let waiting = product_variants::Entity::find()
        .inner_join(products::Entity)
        .filter(products::Column::CooperativeId.eq(cooperative.id))
        .filter(product_variants::Column::GtinStatus.eq(GtinStatus::Pending.as_str()))
        .order_by_asc(product_variants::Column::ProductId)
        .order_by_asc(product_variants::Column::Position)
        .order_by_asc(product_variants::Column::Id)
        .all(db)
        .await?;
    for variant in waiting {
        match settle(db, variant, cooperative).await {
            Ok(_) => {}
            // Two of its own sizes claimed one GTIN while it waited: the first keeps it, the
            // other stays pending for the cooperative to correct.
            Err(AppError::Conflict { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

async fn set_status(
    db: &impl ConnectionTrait,
    variant: product_variants::Model,
    gtin: Option<String>,
    status: Option<GtinStatus>,
) -> AppResult<product_variants::Model> {
    if variant.gtin == gtin && variant.gtin_status.as_deref() == status.map(GtinStatus::as_str) {
        return Ok(variant);
    }
    let product_id = variant.product_id;
    let mut row: product_variants::ActiveModel = variant.into();
    row.gtin = Set(gtin);
    row.gtin_status = Set(status.map(|s| s.as_str().to_owned()));
    let variant = row.update(db).await.map_err(|err| {
        if crate::error::is_unique_violation(&err) {
            // Another size took it between the check and the write.
            gtin_taken()
        } else {
            err.into()
        }
    })?;
    enqueue_products(db, &[product_id]).await?;
    Ok(variant)
}

/// A claim in the administrators' queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GtinDispute {
    pub gtin: String,
    /// The size that holds the GTIN now, if any.
    pub owner: Option<ClaimView>,
    /// Sizes whose verified cooperatives claim it too.
    pub claims: Vec<ClaimView>,
}

/// One size's claim on a GTIN.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClaimView {
    pub product_id: i64,
    pub product_name: String,
    pub variant_id: i64,
    /// The size, e.g. "Hũ 250 g".
    pub variant_label: String,
    pub cooperative_id: i64,
    pub cooperative_name: String,
}

/// Every disputed GTIN with its current owner and its claimants.
pub async fn disputes(db: &impl ConnectionTrait) -> AppResult<Vec<GtinDispute>> {
    let disputed = product_variants::Entity::find()
        .filter(product_variants::Column::GtinStatus.eq(GtinStatus::Disputed.as_str()))
        .order_by_asc(product_variants::Column::GtinClaim)
        .order_by_asc(product_variants::Column::Id)
        .all(db)
        .await?;
    let mut out: Vec<GtinDispute> = Vec::new();
    for variant in disputed {
        let Some(gtin) = variant.gtin_claim.clone() else {
            continue;
        };
        let view = claim_view(db, &variant).await?;
        match out.last_mut() {
            Some(last) if last.gtin == gtin => last.claims.push(view),
            _ => {
                let owner = match product_variants::Entity::find()
                    .filter(product_variants::Column::Gtin.eq(gtin.as_str()))
                    .one(db)
                    .await?
                {
                    Some(owner) => Some(claim_view(db, &owner).await?),
                    None => None,
                };
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

async fn claim_view(
    db: &impl ConnectionTrait,
    variant: &product_variants::Model,
) -> AppResult<ClaimView> {
    let (product, coop) = products::Entity::find_by_id(variant.product_id)
        .find_also_related(cooperatives::Entity)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(ClaimView {
        product_id: product.id,
        product_name: product.name,
        variant_id: variant.id,
        variant_label: variant.label.clone(),
        cooperative_id: product.cooperative_id,
        cooperative_name: coop.map(|c| c.name).unwrap_or_default(),
    })
}

/// An administrator gives `gtin` to a size that claims it: `variant_id`, or the size of
/// `product_id` that claims it (one of them is needed). The current owner, if another, loses
/// it, and every other claim is refused. Answers the products changed.
pub async fn award(
    db: &impl ConnectionTrait,
    admin: &CurrentUser,
    gtin: &Gtin,
    product_id: Option<i64>,
    variant_id: Option<i64>,
) -> AppResult<Vec<i64>> {
    admin.require_admin()?;
    let gtin = gtin.as_gtin14();
    let mut winner =
        product_variants::Entity::find().filter(product_variants::Column::GtinClaim.eq(gtin));
    match (variant_id, product_id) {
        (None, None) => {
            return Err(crate::error::FieldErrors::single(
                "variant_id",
                crate::domain::FieldIssue::new("required", "name the size that gets the GTIN"),
            ));
        }
        (variant, product) => {
            if let Some(id) = variant {
                winner = winner.filter(product_variants::Column::Id.eq(id));
            }
            if let Some(id) = product {
                winner = winner.filter(product_variants::Column::ProductId.eq(id));
            }
        }
    }
    let winner = winner.one(db).await?.ok_or(AppError::NotFound)?;
    let verified = products::Entity::find_by_id(winner.product_id)
        .find_also_related(cooperatives::Entity)
        .one(db)
        .await?
        .and_then(|(_, coop)| coop)
        .is_some_and(|c| c.status == CooperativeStatus::Verified.as_str());
    if !verified {
        return Err(AppError::conflict(
            "cooperative_not_verified",
            "product_id",
            "a GTIN goes only to a product of a verified cooperative",
        ));
    }
    let claimants = product_variants::Entity::find()
        .filter(product_variants::Column::GtinClaim.eq(gtin))
        .filter(product_variants::Column::Id.ne(winner.id))
        .all(db)
        .await?;
    let losers: Vec<i64> = claimants.iter().map(|v| v.id).collect();
    product_variants::Entity::update_many()
        .col_expr(
            product_variants::Column::Gtin,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            product_variants::Column::GtinStatus,
            Expr::value(GtinStatus::Refused.as_str()),
        )
        .filter(product_variants::Column::Id.is_in(losers))
        .exec(db)
        .await?;
    let mut changed: Vec<i64> = claimants.iter().map(|v| v.product_id).collect();
    enqueue_products(db, &changed).await?;
    changed.push(winner.product_id);
    set_status(db, winner, Some(gtin.to_owned()), Some(GtinStatus::Owned)).await?;
    changed.sort_unstable();
    changed.dedup();
    Ok(changed)
}

fn gtin_taken() -> AppError {
    AppError::conflict(
        "gtin_taken",
        "gtin",
        "another product of this cooperative already has this GTIN",
    )
}

/// The trade item a GTIN names: the size (variant) that owns it and its product. `None` when
/// no size owns it (unowned, pending or disputed claims name nothing). Every Digital Link
/// resolves its `/01/{gtin}` through this.
pub async fn trade_item(
    db: &impl ConnectionTrait,
    gtin: &Gtin,
) -> AppResult<Option<(products::Model, product_variants::Model)>> {
    let found = product_variants::Entity::find()
        .filter(product_variants::Column::Gtin.eq(gtin.as_gtin14()))
        .find_also_related(products::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(variant, product)| product.map(|product| (product, variant))))
}
