//! The shopping cart. A visitor's cart is found by a random token in the `ocop_cart` cookie;
//! a logged-in shopper's by their account. When a visitor with a cart logs in, the cart
//! follows them: its lines are merged into the account's cart the next time it is read.
//!
//! The cart holds only variant ids (a size of a product) and quantities. Prices, stock and availability are read
//! fresh whenever the cart is shown or checked out, so a cart never shows a stale price.

use std::collections::BTreeMap;

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use super::{MAX_CART_LINES, MAX_QUANTITY_PER_LINE};
use crate::accounts::CurrentUser;
use crate::catalog::products;
use crate::config::Config;
use crate::domain::FieldIssue;
use crate::domain::token::{hash_token, new_token};
use crate::entities::{
    cart_items, carts, cooperatives, product_variants, products as product_rows,
};
use crate::error::{AppError, AppResult, FieldErrors};

/// Name of the cookie that carries a visitor's cart token.
pub const CART_COOKIE: &str = "ocop_cart";

/// The cart cookie for a new visitor cart.
pub fn cart_cookie(config: &Config, token: String) -> Cookie<'static> {
    Cookie::build((CART_COOKIE, token))
        .path("/")
        .http_only(true)
        .secure(config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::days(30))
        .build()
}

/// The cart owner of a request: the logged-in user and the visitor's cart cookie.
pub fn cart_owner(viewer: &Option<CurrentUser>, jar: &CookieJar) -> CartOwner {
    CartOwner::new(
        viewer.as_ref(),
        jar.get(CART_COOKIE).map(|c| c.value().to_owned()),
    )
}

/// Who a cart belongs to: the logged-in user, and/or the visitor's cart token.
#[derive(Debug, Clone, Default)]
pub struct CartOwner {
    pub user_id: Option<i64>,
    pub token: Option<String>,
}

impl CartOwner {
    pub fn new(user: Option<&CurrentUser>, token: Option<String>) -> Self {
        Self {
            user_id: user.map(|u| u.id),
            token,
        }
    }
}

/// A quantity a shopper asked for: 1 to [`MAX_QUANTITY_PER_LINE`].
pub fn parse_quantity(quantity: i64) -> Result<i64, FieldIssue> {
    if quantity < 1 {
        Err(FieldIssue::new(
            "quantity_not_positive",
            "the quantity must be at least 1",
        ))
    } else if quantity > MAX_QUANTITY_PER_LINE {
        Err(FieldIssue::new(
            "quantity_too_large",
            format!("at most {MAX_QUANTITY_PER_LINE} units of one product per order"),
        ))
    } else {
        Ok(quantity)
    }
}

/// The existing cart of `owner`, merging a visitor cart into the account's cart when the
/// visitor has logged in since. `None` when there is no cart yet.
pub async fn find(db: &DatabaseConnection, owner: &CartOwner) -> AppResult<Option<carts::Model>> {
    let txn = crate::db::begin_write(db).await?;
    let by_token = match &owner.token {
        Some(token) => {
            carts::Entity::find()
                .filter(carts::Column::TokenHash.eq(hash_token(token)))
                .one(&txn)
                .await?
        }
        None => None,
    };
    let Some(user_id) = owner.user_id else {
        txn.commit().await?;
        return Ok(by_token);
    };
    let by_user = carts::Entity::find()
        .filter(carts::Column::UserId.eq(user_id))
        .one(&txn)
        .await?;
    let cart = match (by_user, by_token) {
        (Some(user_cart), Some(visitor_cart)) if visitor_cart.user_id.is_none() => {
            merge_into(&txn, &visitor_cart, &user_cart).await?;
            // Read again: the merge may have noted what it left out.
            carts::Entity::find_by_id(user_cart.id).one(&txn).await?
        }
        (Some(user_cart), _) => Some(user_cart),
        // The visitor's cart becomes the account's cart.
        (None, Some(visitor_cart)) if visitor_cart.user_id.is_none() => {
            let mut row: carts::ActiveModel = visitor_cart.into();
            row.user_id = Set(Some(user_id));
            row.token_hash = Set(None);
            row.updated_at = Set(Utc::now());
            Some(row.update(&txn).await?)
        }
        (None, _) => None,
    };
    txn.commit().await?;
    Ok(cart)
}

/// A product a visitor's cart could not bring into the account's cart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LeftOut {
    pub product_id: i64,
    /// The product's name, when it still exists.
    pub name: String,
    /// `unavailable` (no longer for sale) or `cart_full` (the cart holds the most products).
    pub reason: String,
}

/// Moves a visitor cart's lines into the account's cart (quantities add up, capped) and
/// deletes the visitor cart. What cannot move (a product no longer for sale, a line past the
/// cart's limit) is left out, never failing the merge (which would fail every later cart and
/// checkout request of the session); what was left out is noted on the cart for the shopper.
async fn merge_into(
    db: &impl ConnectionTrait,
    from: &carts::Model,
    into: &carts::Model,
) -> AppResult<()> {
    let lines = cart_items::Entity::find()
        .filter(cart_items::Column::CartId.eq(from.id))
        .order_by_asc(cart_items::Column::Id)
        .all(db)
        .await?;
    let mut left_out = Vec::new();
    for line in lines {
        let reason = match add_line(
            db,
            into.id,
            line.product_id,
            Some(line.variant_id),
            line.quantity,
            false,
        )
        .await
        {
            Ok(()) => continue,
            Err(AppError::Validation(_)) => "unavailable",
            Err(AppError::Conflict {
                code: "cart_full", ..
            }) => "cart_full",
            Err(other) => return Err(other),
        };
        let name = product_rows::Entity::find_by_id(line.product_id)
            .one(db)
            .await?
            .map(|p| p.name)
            .unwrap_or_default();
        left_out.push(LeftOut {
            product_id: line.product_id,
            name,
            reason: reason.to_owned(),
        });
    }
    if !left_out.is_empty() {
        let mut note = parse_note(into.merge_note.as_deref());
        note.extend(left_out);
        carts::Entity::update_many()
            .col_expr(
                carts::Column::MergeNote,
                sea_orm::sea_query::Expr::value(serde_json::to_string(&note).ok()),
            )
            .filter(carts::Column::Id.eq(into.id))
            .exec(db)
            .await?;
    }
    cart_items::Entity::delete_many()
        .filter(cart_items::Column::CartId.eq(from.id))
        .exec(db)
        .await?;
    carts::Entity::delete_by_id(from.id).exec(db).await?;
    Ok(())
}

fn parse_note(note: Option<&str>) -> Vec<LeftOut> {
    note.and_then(|n| serde_json::from_str(n).ok())
        .unwrap_or_default()
}

/// What the last merge left out, once: the note is cleared as it is read.
pub async fn take_merge_note(
    db: &impl ConnectionTrait,
    cart: &carts::Model,
) -> AppResult<Vec<LeftOut>> {
    let Some(note) = cart.merge_note.as_deref() else {
        return Ok(Vec::new());
    };
    let cleared = carts::Entity::update_many()
        .col_expr(
            carts::Column::MergeNote,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(carts::Column::Id.eq(cart.id))
        .filter(carts::Column::MergeNote.eq(note))
        .exec(db)
        .await?
        .rows_affected;
    Ok(if cleared == 1 {
        parse_note(Some(note))
    } else {
        Vec::new()
    })
}

/// The cart of `owner`, created when there is none. Returns the cart and, for a visitor who
/// had no cart, the new token to set in their cookie.
pub async fn find_or_create(
    db: &DatabaseConnection,
    owner: &CartOwner,
) -> AppResult<(carts::Model, Option<String>)> {
    if let Some(cart) = find(db, owner).await? {
        return Ok((cart, None));
    }
    let now = Utc::now();
    let (token, token_hash) = match owner.user_id {
        Some(_) => (None, None),
        None => {
            let token = new_token();
            let hash = hash_token(&token);
            (Some(token), Some(hash))
        }
    };
    carts::Entity::insert(carts::ActiveModel {
        token_hash: Set(token_hash),
        user_id: Set(owner.user_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(carts::Column::UserId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    // Either this insert made the cart, or a concurrent request of the same user did.
    let lookup = CartOwner {
        user_id: owner.user_id,
        token: token.clone(),
    };
    let cart = find(db, &lookup)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("cart vanished after insert")))?;
    Ok((cart, token))
}

/// Adds `quantity` units of a variant of a product (its first variant when `variant_id` is
/// `None`), or sets the quantity when `replace`, refusing a product that is not for sale, a
/// variant of another product, a line over the per-line limit and a cart with too many lines.
pub async fn add_line(
    db: &impl ConnectionTrait,
    cart_id: i64,
    product_id: i64,
    variant_id: Option<i64>,
    quantity: i64,
    replace: bool,
) -> AppResult<()> {
    let product = products::public_products()
        .filter(product_rows::Column::Id.eq(product_id))
        .one(db)
        .await?
        .ok_or_else(|| {
            FieldErrors::single(
                "product_id",
                FieldIssue::new("product_unavailable", "this product is not for sale"),
            )
        })?;
    crate::trace::recalls::require_on_sale(db, product.id, &product.name).await?;
    let variant = crate::catalog::variants::resolve(db, product.id, variant_id)
        .await?
        .ok_or_else(|| {
            FieldErrors::single(
                "variant_id",
                FieldIssue::new("unknown_variant", "choose a variant of this product"),
            )
        })?;
    let existing = cart_items::Entity::find()
        .filter(cart_items::Column::CartId.eq(cart_id))
        .filter(cart_items::Column::VariantId.eq(variant.id))
        .one(db)
        .await?;
    let wanted = match (&existing, replace) {
        (Some(line), false) => line.quantity.saturating_add(quantity),
        _ => quantity,
    }
    .min(MAX_QUANTITY_PER_LINE);
    match existing {
        Some(line) => {
            let mut row: cart_items::ActiveModel = line.into();
            row.quantity = Set(wanted);
            row.update(db).await?;
        }
        None => {
            let lines = cart_items::Entity::find()
                .filter(cart_items::Column::CartId.eq(cart_id))
                .count(db)
                .await?;
            if lines >= MAX_CART_LINES as u64 {
                return Err(AppError::conflict(
                    "cart_full",
                    "product_id",
                    format!("a cart holds at most {MAX_CART_LINES} different products or sizes"),
                ));
            }
            cart_items::ActiveModel {
                cart_id: Set(cart_id),
                product_id: Set(product.id),
                variant_id: Set(variant.id),
                quantity: Set(wanted),
                added_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

/// Removes a product's line of one variant from the cart (every size of it when `variant_id`
/// is `None`); removing what is not there is not an error.
pub async fn remove_line(
    db: &impl ConnectionTrait,
    cart_id: i64,
    product_id: i64,
    variant_id: Option<i64>,
) -> AppResult<()> {
    let mut delete = cart_items::Entity::delete_many()
        .filter(cart_items::Column::CartId.eq(cart_id))
        .filter(cart_items::Column::ProductId.eq(product_id));
    if let Some(variant_id) = variant_id {
        delete = delete.filter(cart_items::Column::VariantId.eq(variant_id));
    }
    delete.exec(db).await?;
    Ok(())
}

/// Empties a cart (after a checkout).
pub async fn clear(db: &impl ConnectionTrait, cart_id: i64) -> AppResult<()> {
    cart_items::Entity::delete_many()
        .filter(cart_items::Column::CartId.eq(cart_id))
        .exec(db)
        .await?;
    Ok(())
}

/// One cart line with today's product and variant facts.
#[derive(Debug, Clone)]
pub struct PricedLine {
    pub product: product_rows::Model,
    /// The size bought: its price and stock are the line's.
    pub variant: product_variants::Model,
    pub quantity: i64,
    /// Whether the variant can be bought now (listed, enough stock).
    pub available: bool,
}

impl PricedLine {
    pub fn unit_price_vnd(&self) -> i64 {
        self.variant.price_vnd
    }

    pub fn line_total_vnd(&self) -> i64 {
        self.variant.price_vnd.saturating_mul(self.quantity)
    }
}

/// The lines of one cooperative in a cart: one parcel, with its weight and delivery fee.
#[derive(Debug, Clone)]
pub struct CooperativeGroup {
    pub cooperative: cooperatives::Model,
    pub lines: Vec<PricedLine>,
    pub subtotal_vnd: i64,
    /// The lines' variant weights times their quantities.
    pub parcel_weight_grams: i64,
    /// Where the parcel goes; `None` when no province was given (the fee is then the
    /// highest, "elsewhere").
    pub zone: Option<super::shipping::ShippingZone>,
    pub delivery_fee_vnd: i64,
}

impl CooperativeGroup {
    pub fn total_vnd(&self) -> i64 {
        self.subtotal_vnd.saturating_add(self.delivery_fee_vnd)
    }
}

/// A cart's lines read fresh, grouped by cooperative (in a stable order), each group's parcel
/// priced for delivery to `province` (a checked province code) by its cooperative's rate
/// table ([`super::shipping`]).
pub async fn priced_groups(
    db: &impl ConnectionTrait,
    cart_id: i64,
    province: Option<&str>,
    platform_rates: &super::shipping::RateTable,
) -> AppResult<Vec<CooperativeGroup>> {
    let lines = cart_items::Entity::find()
        .filter(cart_items::Column::CartId.eq(cart_id))
        .order_by_asc(cart_items::Column::Id)
        .all(db)
        .await?;
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = lines.iter().map(|l| l.product_id).collect();
    let rows = product_rows::Entity::find()
        .filter(product_rows::Column::Id.is_in(ids))
        .find_also_related(cooperatives::Entity)
        .all(db)
        .await?;
    let by_id: BTreeMap<i64, (product_rows::Model, cooperatives::Model)> = rows
        .into_iter()
        .filter_map(|(p, c)| Some((p.id, (p, c?))))
        .collect();
    let variant_ids: Vec<i64> = lines.iter().map(|l| l.variant_id).collect();
    let variants = crate::catalog::variants::by_ids(db, &variant_ids).await?;
    let mut groups: Vec<CooperativeGroup> = Vec::new();
    for line in lines {
        let Some((product, coop)) = by_id.get(&line.product_id) else {
            continue;
        };
        let Some(variant) = variants
            .get(&line.variant_id)
            .filter(|v| v.product_id == product.id)
        else {
            continue;
        };
        let available =
            products::is_public(product, coop) && variant.stock_quantity >= line.quantity;
        let priced = PricedLine {
            product: product.clone(),
            variant: variant.clone(),
            quantity: line.quantity,
            available,
        };
        match groups.iter_mut().find(|g| g.cooperative.id == coop.id) {
            Some(group) => group.lines.push(priced),
            None => groups.push(CooperativeGroup {
                cooperative: coop.clone(),
                lines: vec![priced],
                subtotal_vnd: 0,
                parcel_weight_grams: 0,
                zone: None,
                delivery_fee_vnd: 0,
            }),
        }
    }
    for group in &mut groups {
        group.subtotal_vnd = group
            .lines
            .iter()
            .map(PricedLine::line_total_vnd)
            .fold(0i64, i64::saturating_add);
        group.parcel_weight_grams = group
            .lines
            .iter()
            .map(|l| l.variant.weight_grams.saturating_mul(l.quantity))
            .fold(0i64, i64::saturating_add);
        let table = super::shipping::table_of(db, group.cooperative.id, platform_rates).await?;
        let quote = super::shipping::quote(
            &table,
            &group.cooperative.province_code,
            province,
            group.parcel_weight_grams,
            group.subtotal_vnd,
        );
        group.zone = quote.zone;
        group.delivery_fee_vnd = quote.fee_vnd;
    }
    Ok(groups)
}
