//! Reading carts, orders and payments for display, and who may read them: the buyer, members
//! of the selling cooperative and administrators. Anyone else gets "not found", as for other
//! private data.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::cart::{self, CartOwner};
use super::views::{CartView, OrderView};
use crate::AppState;
use crate::accounts::CurrentUser;
use crate::catalog::access;
use crate::catalog::views::CooperativeRef;
use crate::domain::token::hash_token;
use crate::entities::{batches, cooperatives, order_events, order_items, orders, payments};
use crate::error::{AppError, AppResult};
use crate::reference::ReferenceData;

/// How the viewer relates to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderRole {
    Buyer,
    Seller,
    Administrator,
}

/// An order the viewer may see, and as whom. A buyer who is also a member of the selling
/// cooperative counts as the seller.
pub async fn order_for(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    order_id: i64,
) -> AppResult<(orders::Model, OrderRole)> {
    let order = orders::Entity::find_by_id(order_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if access::is_member(db, user, order.cooperative_id).await? {
        return Ok((order, OrderRole::Seller));
    }
    if order.buyer_user_id == Some(user.id) {
        return Ok((order, OrderRole::Buyer));
    }
    if user.is_admin {
        return Ok((order, OrderRole::Administrator));
    }
    Err(AppError::NotFound)
}

/// The order's seller, or 404 (403 is not used: it would reveal the order exists).
pub async fn seller_order(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    id: i64,
) -> AppResult<orders::Model> {
    match order_for(db, user, id).await? {
        (order, OrderRole::Seller) => Ok(order),
        (_, OrderRole::Buyer | OrderRole::Administrator) => Err(AppError::Forbidden),
    }
}

/// A payment by reference, for its buyer, an administrator, or whoever holds its page token.
pub async fn payment_for(
    db: &impl ConnectionTrait,
    reference: &str,
    token: Option<&str>,
    user: Option<&CurrentUser>,
) -> AppResult<payments::Model> {
    let payment = payments::Entity::find()
        .filter(payments::Column::Reference.eq(reference.trim().to_ascii_uppercase()))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let by_token = token.is_some_and(|t| hash_token(t) == payment.access_token_hash);
    let by_user = user.is_some_and(|u| u.is_admin || payment.buyer_user_id == Some(u.id));
    if by_token || by_user {
        Ok(payment)
    } else {
        Err(AppError::NotFound)
    }
}

/// A payment by id, read again after a change (the caller already checked access).
pub async fn payment_by_id(db: &impl ConnectionTrait, id: i64) -> AppResult<payments::Model> {
    payments::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Full views of `orders` (items, history, cooperative, payment reference), in their order.
pub async fn views(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    list: &[orders::Model],
) -> AppResult<Vec<OrderView>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = list.iter().map(|o| o.id).collect();
    let items = order_items::Entity::find()
        .filter(order_items::Column::OrderId.is_in(ids.clone()))
        .order_by_asc(order_items::Column::Id)
        .all(db)
        .await?;
    let mut lot_ids: Vec<i64> = items.iter().filter_map(|i| i.batch_id).collect();
    lot_ids.sort_unstable();
    lot_ids.dedup();
    let lot_codes: std::collections::HashMap<i64, String> = batches::Entity::find()
        .select_only()
        .column(batches::Column::Id)
        .column(batches::Column::LotCode)
        .filter(batches::Column::Id.is_in(lot_ids))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let events = order_events::Entity::find()
        .filter(order_events::Column::OrderId.is_in(ids))
        .order_by_asc(order_events::Column::Id)
        .all(db)
        .await?;
    let coop_ids: Vec<i64> = list.iter().map(|o| o.cooperative_id).collect();
    let coops = cooperatives::Entity::find()
        .filter(cooperatives::Column::Id.is_in(coop_ids))
        .all(db)
        .await?;
    let payment_ids: Vec<i64> = list.iter().map(|o| o.payment_id).collect();
    let references: Vec<(i64, String)> = payments::Entity::find()
        .select_only()
        .column(payments::Column::Id)
        .column(payments::Column::Reference)
        .filter(payments::Column::Id.is_in(payment_ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(list
        .iter()
        .map(|order| {
            let coop = coops
                .iter()
                .find(|c| c.id == order.cooperative_id)
                .map(|c| CooperativeRef {
                    id: c.id,
                    slug: c.slug.clone(),
                    name: c.name.clone(),
                })
                .unwrap_or(CooperativeRef {
                    id: order.cooperative_id,
                    slug: String::new(),
                    name: String::new(),
                });
            let payment_reference = references
                .iter()
                .find(|(id, _)| *id == order.payment_id)
                .map(|(_, r)| r.as_str())
                .unwrap_or_default();
            let order_items: Vec<_> = items
                .iter()
                .filter(|i| i.order_id == order.id)
                .cloned()
                .collect();
            let history: Vec<_> = events
                .iter()
                .filter(|e| e.order_id == order.id)
                .cloned()
                .collect();
            OrderView::new(
                order,
                payment_reference,
                coop,
                &order_items,
                &history,
                reference,
                &lot_codes,
            )
        })
        .collect())
}

/// The cart of `owner` as shown, read fresh (prices, stock, availability), with the payment
/// methods the checkout accepts.
pub async fn cart_view(state: &AppState, owner: &CartOwner) -> AppResult<CartView> {
    cart_view_for(state, owner, None).await
}

/// The cart with each cooperative's parcel priced for delivery to `province` (a checked
/// province code).
pub async fn cart_view_for(
    state: &AppState,
    owner: &CartOwner,
    province: Option<&str>,
) -> AppResult<CartView> {
    let (groups, left_out) = match cart::find(&state.db, owner).await? {
        Some(cart) => (
            cart::priced_groups(
                &state.db,
                cart.id,
                province,
                &state.config.commerce.default_shipping_rates,
            )
            .await?,
            cart::take_merge_note(&state.db, &cart).await?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    let mut view = CartView::new(&groups);
    view.province_code = province.map(str::to_owned);
    view.left_out = left_out;
    view.payment_methods = state
        .payment_methods()
        .into_iter()
        .map(|method| method.as_str().to_owned())
        .collect();
    Ok(view)
}

/// The orders of a payment.
pub async fn of_payment(
    db: &impl ConnectionTrait,
    payment_id: i64,
) -> AppResult<Vec<orders::Model>> {
    Ok(orders::Entity::find()
        .filter(orders::Column::PaymentId.eq(payment_id))
        .order_by_asc(orders::Column::Id)
        .all(db)
        .await?)
}

/// A shopper's orders, newest first.
pub async fn of_buyer(
    db: &impl ConnectionTrait,
    user_id: i64,
    limit: u64,
) -> AppResult<Vec<orders::Model>> {
    Ok(orders::Entity::find()
        .filter(orders::Column::BuyerUserId.eq(user_id))
        .order_by_desc(orders::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// A cooperative's orders, newest first, optionally in one status.
pub async fn of_cooperative(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
    status: Option<super::OrderStatus>,
    limit: u64,
) -> AppResult<Vec<orders::Model>> {
    let mut query = orders::Entity::find().filter(orders::Column::CooperativeId.eq(cooperative_id));
    if let Some(status) = status {
        query = query.filter(orders::Column::Status.eq(status.as_str()));
    }
    Ok(query
        .order_by_desc(orders::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}
