//! The cart, checkout and orders JSON API. Handlers parse, authorise, call the services and
//! shape views.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::OrderStatus;
use super::cart::{self, CartOwner, cart_cookie, cart_owner};
use super::checkout::{self, CheckoutRequest};
use super::lifecycle::{self, Actor, Shipment};
use super::packing::{LineLotRequest, Packing};
use super::queries::{self, OrderRole, cart_view, seller_order};
use super::shipping::{self, RateTable};
use super::views::{CartView, OrderView};
use crate::AppState;
use crate::accounts::{Authenticated, Viewer};
use crate::catalog::access;
use crate::error::{AppError, AppResult, FieldErrors, Problem};
use crate::http::client::ClientAddr;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::ledger::reports::{self, StatementLine};
use crate::payments::cancellation::cancel_as;
use crate::payments::views::{CheckoutView, PaymentView, checkout_view};

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cart))
        .routes(routes!(add_to_cart))
        .routes(routes!(set_cart_quantity, remove_from_cart))
        .routes(routes!(create_checkout))
        .routes(routes!(get_payment))
        .routes(routes!(cancel_payment))
        .routes(routes!(my_orders))
        .routes(routes!(get_order))
        .routes(routes!(cancel_order))
        .routes(routes!(accept_order))
        .routes(routes!(ship_order))
        .routes(routes!(deliver_order))
        .routes(routes!(complete_order))
        .routes(routes!(cooperative_orders))
        .routes(routes!(cooperative_statement))
        .routes(routes!(get_shipping_rates, put_shipping_rates))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CartQuery {
    /// Province code to price delivery to (e.g. `15`); without it each parcel's fee is the
    /// highest (elsewhere) and its `zone` is `null`.
    pub province_code: Option<String>,
}

/// The shopper's cart, read fresh (prices, stock, availability), each cooperative's parcel
/// weighed and priced for delivery to `province_code`.
#[utoipa::path(get, path = "/cart", tag = "orders", params(CartQuery),
    responses((status = 200, body = CartView), (status = 422, body = Problem, description = "Unknown province")))]
async fn get_cart(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    jar: CookieJar,
    ApiQuery(query): ApiQuery<CartQuery>,
) -> AppResult<Json<CartView>> {
    let province = shipping::checked_province(&state.reference, query.province_code.as_deref())?;
    Ok(Json(
        queries::cart_view_for(&state, &cart_owner(&viewer, &jar), province.as_deref()).await?,
    ))
}

/// A cooperative's shipping rate table: its own, or the platform's default when it keeps none
/// (members of the cooperative).
#[utoipa::path(get, path = "/cooperatives/{id}/shipping-rates", tag = "workspace",
    params(("id" = i64, Path, description = "Cooperative id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = RateTable), (status = 404, body = Problem)))]
async fn get_shipping_rates(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<RateTable>> {
    let membership = access::membership(&state.db, &user, id).await?;
    Ok(Json(
        shipping::table_of(
            &state.db,
            membership.cooperative.id,
            &state.config.commerce.default_shipping_rates,
        )
        .await?,
    ))
}

/// Replace a cooperative's shipping rate table: weight bands (increasing), fees by zone, a fee
/// per started kilogram past the last band, an optional free-shipping threshold (members).
#[utoipa::path(put, path = "/cooperatives/{id}/shipping-rates", tag = "workspace",
    params(("id" = i64, Path, description = "Cooperative id")),
    request_body = RateTable,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = RateTable), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn put_shipping_rates(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RateTable>,
) -> AppResult<Json<RateTable>> {
    let membership = access::membership(&state.db, &user, id).await?;
    shipping::save_table(&state.db, membership.cooperative.id, &body).await?;
    Ok(Json(body))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct CartLineRequest {
    /// The product; may be left out when `variant_id` is given.
    pub product_id: i64,
    /// The variant (size) to buy; the product's first variant when left out.
    pub variant_id: Option<i64>,
    /// 1 to 999.
    pub quantity: i64,
}

/// The product of a cart request: the one named, or the variant's.
async fn product_of_line(
    state: &AppState,
    product_id: i64,
    variant_id: Option<i64>,
) -> AppResult<i64> {
    if product_id != 0 {
        return Ok(product_id);
    }
    let variant = match variant_id {
        Some(id) => crate::catalog::variants::by_ids(&state.db, &[id])
            .await?
            .remove(&id),
        None => None,
    };
    variant.map(|v| v.product_id).ok_or_else(|| {
        FieldErrors::single(
            "variant_id",
            crate::domain::FieldIssue::new("unknown_variant", "choose a product and a variant"),
        )
    })
}

/// Add units of a variant (size) of a product to the cart (a visitor gets a cart cookie).
#[utoipa::path(post, path = "/cart/items", tag = "orders", request_body = CartLineRequest,
    responses(
        (status = 200, body = CartView),
        (status = 409, body = Problem, description = "The cart holds too many products"),
        (status = 422, body = Problem, description = "Unknown product, product not for sale, bad quantity"),
    ))]
async fn add_to_cart(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    jar: CookieJar,
    ApiJson(body): ApiJson<CartLineRequest>,
) -> AppResult<Response> {
    let quantity =
        cart::parse_quantity(body.quantity).map_err(|i| FieldErrors::single("quantity", i))?;
    let owner = cart_owner(&viewer, &jar);
    let product_id = product_of_line(&state, body.product_id, body.variant_id).await?;
    let (cart_row, new_token) = cart::find_or_create(&state.db, &owner).await?;
    cart::add_line(
        &state.db,
        cart_row.id,
        product_id,
        body.variant_id,
        quantity,
        false,
    )
    .await?;
    let owner = CartOwner {
        token: new_token.clone().or(owner.token),
        ..owner
    };
    let view = cart_view(&state, &owner).await?;
    let jar = match new_token {
        Some(token) => jar.add(cart_cookie(&state.config, token)),
        None => jar,
    };
    Ok((jar, Json(view)).into_response())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct QuantityRequest {
    /// 1 to 999.
    pub quantity: i64,
    /// Which variant of the product; its first variant when left out.
    pub variant_id: Option<i64>,
}

/// Set the quantity of a product (one variant of it) already in the cart.
#[utoipa::path(put, path = "/cart/items/{product_id}", tag = "orders",
    params(("product_id" = i64, Path, description = "Product id")),
    request_body = QuantityRequest,
    responses((status = 200, body = CartView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn set_cart_quantity(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    jar: CookieJar,
    ApiPath(product_id): ApiPath<i64>,
    ApiJson(body): ApiJson<QuantityRequest>,
) -> AppResult<Json<CartView>> {
    let quantity =
        cart::parse_quantity(body.quantity).map_err(|i| FieldErrors::single("quantity", i))?;
    let owner = cart_owner(&viewer, &jar);
    let cart_row = cart::find(&state.db, &owner)
        .await?
        .ok_or(AppError::NotFound)?;
    cart::add_line(
        &state.db,
        cart_row.id,
        product_id,
        body.variant_id,
        quantity,
        true,
    )
    .await?;
    Ok(Json(cart_view(&state, &owner).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VariantQuery {
    /// Only this variant of the product; every variant of it when left out.
    pub variant_id: Option<i64>,
}

/// Remove a product (or one variant of it) from the cart.
#[utoipa::path(delete, path = "/cart/items/{product_id}", tag = "orders",
    params(("product_id" = i64, Path, description = "Product id"), VariantQuery),
    responses((status = 200, body = CartView)))]
async fn remove_from_cart(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    jar: CookieJar,
    ApiPath(product_id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<VariantQuery>,
) -> AppResult<Json<CartView>> {
    let owner = cart_owner(&viewer, &jar);
    if let Some(cart_row) = cart::find(&state.db, &owner).await? {
        cart::remove_line(&state.db, cart_row.id, product_id, query.variant_id).await?;
    }
    Ok(Json(cart_view(&state, &owner).await?))
}

/// Check out the cart: one payment, one order per cooperative, stock reserved until the
/// payment expires. Sending the same `checkout_key` again returns the first checkout.
#[utoipa::path(post, path = "/checkout", tag = "orders", request_body = CheckoutRequest,
    responses(
        (status = 201, body = CheckoutView),
        (status = 200, body = CheckoutView, description = "The checkout made earlier with this key"),
        (status = 409, body = Problem, description = "Out of stock, product no longer for sale, total too large"),
        (status = 422, body = Problem, description = "Empty cart or invalid delivery details"),
    ))]
async fn create_checkout(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    jar: CookieJar,
    client: ClientAddr,
    ApiJson(body): ApiJson<CheckoutRequest>,
) -> AppResult<Response> {
    let request = body.parse(&state.reference, &state.payment_methods())?;
    let owner = cart_owner(&viewer, &jar);
    let outcome =
        checkout::checkout(&state.db, &state.config, &owner, viewer.as_ref(), request).await?;
    let redirect = crate::payments::gateway::start(&state, &outcome, &owner, client.0).await?;
    let view = checkout_view(&state, &outcome, redirect).await?;
    let status = if outcome.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(view)).into_response())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentTokenQuery {
    /// The token from the payment page link (not needed by the logged-in buyer).
    pub token: Option<String>,
}

/// A checkout's payment and orders: for the buyer, an administrator, or the holder of the
/// payment page's token. Poll it to see the payment arrive.
#[utoipa::path(get, path = "/payments/{reference}", tag = "orders",
    params(("reference" = String, Path, description = "Payment reference, e.g. OCOPK7M2Q9AB"), PaymentTokenQuery),
    responses((status = 200, body = CheckoutView), (status = 404, body = Problem)))]
async fn get_payment(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    ApiPath(reference): ApiPath<String>,
    ApiQuery(query): ApiQuery<PaymentTokenQuery>,
) -> AppResult<Json<CheckoutView>> {
    let payment = queries::payment_for(
        &state.db,
        &reference,
        query.token.as_deref(),
        viewer.as_ref(),
    )
    .await?;
    let payment = crate::payments::stripe::refresh_if_returning(&state, payment).await?;
    Ok(Json(payment_view(&state, &payment).await?))
}

/// A payment with its orders as the API shows it after the checkout (no page token in the URL).
async fn payment_view(
    state: &AppState,
    payment: &crate::entities::payments::Model,
) -> AppResult<CheckoutView> {
    let orders = queries::of_payment(&state.db, payment.id).await?;
    Ok(CheckoutView {
        payment: PaymentView::new(payment, &state.config.commerce.collecting_account),
        orders: queries::views(&state.db, &state.reference, &orders).await?,
        payment_url: format!("{}/payments/{}", state.config.public_url, payment.reference),
        redirect_url: None,
    })
}

/// Give up an unpaid checkout: its orders are cancelled and the stock returns at once. For
/// the buyer, an administrator, or the holder of the payment page's token; 409 once the
/// payment is no longer waiting.
#[utoipa::path(post, path = "/payments/{reference}/cancel", tag = "orders",
    params(("reference" = String, Path, description = "Payment reference"), PaymentTokenQuery),
    responses((status = 200, body = CheckoutView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn cancel_payment(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    ApiPath(reference): ApiPath<String>,
    ApiQuery(query): ApiQuery<PaymentTokenQuery>,
) -> AppResult<Json<CheckoutView>> {
    let payment = queries::payment_for(
        &state.db,
        &reference,
        query.token.as_deref(),
        viewer.as_ref(),
    )
    .await?;
    let actor = Actor {
        user_id: viewer.as_ref().map(|u| u.id),
    };
    lifecycle::cancel_checkout(&state.db, &payment, actor).await?;
    // Read again for the new status; access was checked above.
    let payment = queries::payment_by_id(&state.db, payment.id).await?;
    Ok(Json(payment_view(&state, &payment).await?))
}

/// The logged-in shopper's orders, newest first.
#[utoipa::path(get, path = "/orders", tag = "orders",
    responses((status = 200, body = [OrderView]), (status = 401, body = Problem)))]
async fn my_orders(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
) -> AppResult<Json<Vec<OrderView>>> {
    let list = queries::of_buyer(&state.db, user.id, 100).await?;
    Ok(Json(
        queries::views(&state.db, &state.reference, &list).await?,
    ))
}

async fn one_view(
    state: &AppState,
    order: &crate::entities::orders::Model,
) -> AppResult<OrderView> {
    queries::views(&state.db, &state.reference, std::slice::from_ref(order))
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

/// An order with its items and history (its buyer, the selling cooperative, administrators).
#[utoipa::path(get, path = "/orders/{id}", tag = "orders",
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = OrderView), (status = 404, body = Problem)))]
async fn get_order(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<OrderView>> {
    let (order, _) = queries::order_for(&state.db, &user, id).await?;
    Ok(Json(one_view(&state, &order).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct CancelRequest {
    /// Why; required when the cooperative cancels.
    pub reason: String,
}

/// Cancel an order. The shopper may cancel before the cooperative accepts it (an unpaid
/// checkout is cancelled whole); the cooperative may cancel a paid or accepted order, with a
/// reason. A paid order is refunded.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders",
    params(("id" = i64, Path, description = "Order id")),
    request_body = CancelRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn cancel_order(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CancelRequest>,
) -> AppResult<Json<OrderView>> {
    let order = cancel_as(&state, &user, id, &body.reason).await?;
    Ok(Json(one_view(&state, &order).await?))
}

/// The cooperative accepts a paid order.
#[utoipa::path(post, path = "/orders/{id}/accept", tag = "workspace",
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn accept_order(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<OrderView>> {
    seller_order(&state.db, &user, id).await?;
    let order = lifecycle::accept(
        &state.db,
        id,
        Actor {
            user_id: Some(user.id),
        },
    )
    .await?;
    Ok(Json(one_view(&state, &order).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ShipRequest {
    /// One of `vnpost`, `viettel_post`, `ghn`, `ghtk`, `jt`, `other` (their names, e.g.
    /// "Viettel Post", are understood too).
    pub carrier: String,
    /// The carrier's name when `carrier` is `other`.
    #[serde(default)]
    pub carrier_name: String,
    pub tracking_number: String,
    /// The lot (batch) each line was packed from; optional. A line named here takes its
    /// units from that lot (409 `lot_exhausted` when the lot has fewer left, `lot_recalled`
    /// when it is recalled). A line given neither a lot nor stamps records no lot.
    pub lines: Vec<LineLotRequest>,
    /// Codes of the stamps put on the parcel; optional. Each must be an active stamp of the
    /// cooperative, of a line's product and size, not on another parcel already (409
    /// `stamp_already_packed`); a line's stamps are all of one lot, which becomes the line's
    /// lot, and number at most the line's units. Never shown to the buyer.
    pub stamp_codes: Vec<String>,
}

/// The cooperative hands the order to a carrier, optionally naming the lot of each line and
/// the stamps on the parcel; all is checked first and recorded with the move, or nothing is.
#[utoipa::path(post, path = "/orders/{id}/ship", tag = "workspace",
    params(("id" = i64, Path, description = "Order id")),
    request_body = ShipRequest,
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn ship_order(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ShipRequest>,
) -> AppResult<Json<OrderView>> {
    seller_order(&state.db, &user, id).await?;
    let shipment =
        Shipment::parse_with_other(&body.carrier, &body.carrier_name, &body.tracking_number)?;
    let packing = Packing::parse(&body.lines, &body.stamp_codes)?;
    let order = lifecycle::ship(
        &state.db,
        id,
        shipment,
        &packing,
        Actor {
            user_id: Some(user.id),
        },
    )
    .await?;
    Ok(Json(one_view(&state, &order).await?))
}

/// The cooperative records the delivery.
#[utoipa::path(post, path = "/orders/{id}/deliver", tag = "workspace",
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn deliver_order(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<OrderView>> {
    seller_order(&state.db, &user, id).await?;
    let order = lifecycle::deliver(
        &state.db,
        id,
        Actor {
            user_id: Some(user.id),
        },
    )
    .await?;
    Ok(Json(one_view(&state, &order).await?))
}

/// The shopper (or the cooperative) closes a delivered order.
#[utoipa::path(post, path = "/orders/{id}/complete", tag = "orders",
    params(("id" = i64, Path, description = "Order id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = OrderView), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn complete_order(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<OrderView>> {
    let (_, role) = queries::order_for(&state.db, &user, id).await?;
    if role == OrderRole::Administrator {
        return Err(AppError::Forbidden);
    }
    let order = lifecycle::complete(
        &state.db,
        id,
        Actor {
            user_id: Some(user.id),
        },
    )
    .await?;
    Ok(Json(one_view(&state, &order).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// Only orders in this status.
    pub status: Option<String>,
}

/// A cooperative's orders, newest first (its members only).
#[utoipa::path(get, path = "/cooperatives/{id}/orders", tag = "workspace",
    params(("id" = i64, Path, description = "Cooperative id"), OrderListQuery),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = [OrderView]), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn cooperative_orders(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<OrderListQuery>,
) -> AppResult<Json<Vec<OrderView>>> {
    access::membership(&state.db, &user, id).await?;
    let status = parse_status_filter(query.status.as_deref())?;
    let list = queries::of_cooperative(&state.db, id, status, 200).await?;
    Ok(Json(
        queries::views(&state.db, &state.reference, &list).await?,
    ))
}

pub(crate) fn parse_status_filter(status: Option<&str>) -> AppResult<Option<OrderStatus>> {
    match status.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => OrderStatus::parse(text).map(Some).ok_or_else(|| {
            FieldErrors::single(
                "status",
                crate::domain::FieldIssue::new("unknown_status", "not an order status"),
            )
        }),
    }
}

/// A cooperative's statement: what the platform owes it and every movement.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct StatementView {
    pub cooperative_id: i64,
    pub balance_vnd: i64,
    /// What is owed, split into pending (not delivered, or within the return window) and
    /// available (what a payout may take), and what was paid out.
    pub balances: crate::payments::balances::Balances,
    pub lines: Vec<StatementLine>,
}

/// A cooperative's statement (its members only).
#[utoipa::path(get, path = "/cooperatives/{id}/statement", tag = "workspace",
    params(("id" = i64, Path, description = "Cooperative id")),
    responses((status = 401, body = Problem, description = "Not logged in"), (status = 200, body = StatementView), (status = 404, body = Problem)))]
async fn cooperative_statement(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<StatementView>> {
    access::membership(&state.db, &user, id).await?;
    Ok(Json(StatementView {
        cooperative_id: id,
        balance_vnd: reports::cooperative_balance(&state.db, id).await?,
        balances: crate::payments::balances::of_cooperative(
            &state.db,
            id,
            state.config.commerce.return_window,
            chrono::Utc::now(),
        )
        .await?,
        lines: reports::cooperative_statement(&state.db, id).await?,
    }))
}
