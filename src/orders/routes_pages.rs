//! The shopper's cart, checkout, payment and order pages, and the cooperative's order desk.
//! Every page works without JavaScript; the payment page keeps itself up to date while unpaid
//! (polling with JavaScript, a timed refresh without).

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::OrderStatus;
use super::cart::{self, CartOwner, cart_cookie, cart_owner};
use super::checkout::{self, CheckoutRequest};
use super::lifecycle::{self, Actor};
use super::packing::{self, LineNeed, LotChoice};
use super::queries::{self, OrderRole, cart_view, seller_order};
use super::views::{CartView, OrderView};
use crate::AppState;
use crate::accounts::{Authenticated, Viewer};
use crate::catalog::access;
use crate::domain::Money;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::client::ClientAddr;
use crate::http::extract::{ApiPath, ApiQuery, PageForm};
use crate::http::page::{PageContext, render, render_form_error};
use crate::ledger::reports;
use crate::payments::cancellation::cancel_as;
use crate::payments::vietqr;
use crate::payments::views::{CheckoutView, PaymentView, checkout_view};
use crate::qr::{self, EcLevel};
use crate::reference::{Commune, Province};

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/cart", get(cart_page))
        .route("/cart/add", post(cart_add))
        .route("/cart/items/{product_id}", post(cart_set))
        .route("/cart/items/{product_id}/remove", post(cart_remove))
        .route("/checkout", get(checkout_page).post(checkout_submit))
        .route("/payments/{reference}", get(payment_page))
        .route("/payments/{reference}/cancel", post(payment_cancel))
        .route("/orders", get(orders_page))
        .route("/orders/{id}", get(order_page))
        .route("/orders/{id}/cancel", post(order_cancel))
        .route("/orders/{id}/complete", post(order_complete))
        .route(
            "/workspace/cooperatives/{id}/orders",
            get(cooperative_orders_page),
        )
        .route(
            "/workspace/orders/{id}/{action}",
            post(cooperative_order_action),
        )
}

#[derive(Template)]
#[template(path = "shop/cart.html")]
struct CartPage {
    ctx: PageContext,
    cart: CartView,
    error: Option<&'static str>,
    provinces: Vec<Province>,
}

impl CartPage {
    fn is_province(&self, province: &Province) -> bool {
        self.cart.province_code.as_deref() == Some(province.code.as_str())
    }
}

/// The cookie that remembers the province a shopper priced delivery to, so the cart keeps its
/// fees after a quantity change.
const PROVINCE_COOKIE: &str = "ocop_province";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CartPageQuery {
    province_code: Option<String>,
}

/// The cart, with delivery priced for the province picked in its form (a plain GET form: no
/// JavaScript needed), or the one picked before.
async fn cart_page(
    State(state): State<AppState>,
    ctx: PageContext,
    jar: CookieJar,
    ApiQuery(query): ApiQuery<CartPageQuery>,
) -> AppResult<Response> {
    let asked = query
        .province_code
        .or_else(|| jar.get(PROVINCE_COOKIE).map(|c| c.value().to_owned()));
    // A province not in the list is as good as none.
    let province =
        super::shipping::checked_province(&state.reference, asked.as_deref()).unwrap_or_default();
    let cart =
        queries::cart_view_for(&state, &cart_owner(&ctx.user, &jar), province.as_deref()).await?;
    let jar = match &province {
        Some(code) => jar.add(
            axum_extra::extract::cookie::Cookie::build((PROVINCE_COOKIE, code.clone()))
                .path("/")
                .http_only(true)
                .same_site(axum_extra::extract::cookie::SameSite::Lax)
                .max_age(cookie::time::Duration::days(30))
                .build(),
        ),
        None => jar,
    };
    let page = render(&CartPage {
        ctx,
        cart,
        error: None,
        provinces: state.reference.provinces.clone(),
    })?;
    Ok((jar, page).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CartLineForm {
    product_id: String,
    /// The size picked on the product page (a radio group); the first when absent.
    variant_id: String,
    quantity: String,
}

fn parse_variant(variant_id: &str) -> AppResult<Option<i64>> {
    match variant_id.trim() {
        "" => Ok(None),
        text => text.parse::<i64>().map(Some).map_err(|_| {
            FieldErrors::single(
                "variant_id",
                crate::domain::FieldIssue::new("unknown_variant", "choose a size"),
            )
        }),
    }
}

/// A cart change refused: the cart again, with the reason.
async fn cart_error(
    state: &AppState,
    ctx: PageContext,
    owner: &CartOwner,
    err: AppError,
) -> AppResult<Response> {
    let cart = cart_view(state, owner).await?;
    render_form_error(err, |errors| CartPage {
        error: errors.iter().next().map(|e| e.code),
        ctx,
        cart,
        provinces: state.reference.provinces.clone(),
    })
}

fn parse_line(product_id: &str, quantity: &str) -> AppResult<(i64, i64)> {
    let mut errors = FieldErrors::default();
    let product = product_id.trim().parse::<i64>().ok();
    if product.is_none() {
        errors.add(
            "product_id",
            crate::domain::FieldIssue::new("product_unavailable", "this product is not for sale"),
        );
    }
    let quantity = quantity
        .trim()
        .parse::<i64>()
        .map_err(|_| {
            crate::domain::FieldIssue::new(
                "quantity_not_positive",
                "the quantity must be at least 1",
            )
        })
        .and_then(cart::parse_quantity);
    let quantity = errors.take("quantity", quantity);
    match (product, quantity) {
        (Some(p), Some(q)) => Ok((p, q)),
        _ => Err(errors.into_error()),
    }
}

async fn cart_add(
    State(state): State<AppState>,
    ctx: PageContext,
    jar: CookieJar,
    PageForm(form): PageForm<CartLineForm>,
) -> AppResult<Response> {
    let owner = cart_owner(&ctx.user, &jar);
    let (product, quantity, variant) = match parse_line(&form.product_id, &form.quantity)
        .and_then(|(p, q)| Ok((p, q, parse_variant(&form.variant_id)?)))
    {
        Ok(line) => line,
        Err(err) => return cart_error(&state, ctx, &owner, err).await,
    };
    let (cart_row, token) = cart::find_or_create(&state.db, &owner).await?;
    if let Err(err) =
        cart::add_line(&state.db, cart_row.id, product, variant, quantity, false).await
    {
        return cart_error(&state, ctx, &owner, err).await;
    }
    let jar = match token {
        Some(token) => jar.add(cart_cookie(&state.config, token)),
        None => jar,
    };
    Ok((jar, Redirect::to("/cart")).into_response())
}

async fn cart_set(
    State(state): State<AppState>,
    ctx: PageContext,
    jar: CookieJar,
    ApiPath(product_id): ApiPath<i64>,
    PageForm(form): PageForm<CartLineForm>,
) -> AppResult<Response> {
    let owner = cart_owner(&ctx.user, &jar);
    let (quantity, variant) = match parse_line(&product_id.to_string(), &form.quantity)
        .and_then(|(_, q)| Ok((q, parse_variant(&form.variant_id)?)))
    {
        Ok(line) => line,
        Err(err) => return cart_error(&state, ctx, &owner, err).await,
    };
    let cart_row = cart::find(&state.db, &owner)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Err(err) =
        cart::add_line(&state.db, cart_row.id, product_id, variant, quantity, true).await
    {
        return cart_error(&state, ctx, &owner, err).await;
    }
    Ok(Redirect::to("/cart").into_response())
}

#[derive(Debug, Default, Deserialize)]
struct RemoveQuery {
    variant_id: Option<i64>,
}

async fn cart_remove(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
    jar: CookieJar,
    ApiPath(product_id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<RemoveQuery>,
) -> AppResult<Response> {
    if let Some(cart_row) = cart::find(&state.db, &cart_owner(&viewer, &jar)).await? {
        cart::remove_line(&state.db, cart_row.id, product_id, query.variant_id).await?;
    }
    Ok(Redirect::to("/cart").into_response())
}

#[derive(Template)]
#[template(path = "shop/checkout.html")]
struct CheckoutPage {
    ctx: PageContext,
    cart: CartView,
    form: CheckoutRequest,
    errors: FieldErrors,
    provinces: Vec<Province>,
    communes: Vec<Commune>,
    stripe_enabled: bool,
    vnpay_enabled: bool,
    momo_enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProvinceChoice {
    province: Option<String>,
}

fn checkout_page_for(
    state: &AppState,
    ctx: PageContext,
    cart: CartView,
    mut form: CheckoutRequest,
    errors: FieldErrors,
) -> CheckoutPage {
    let provinces = state.reference.provinces.clone();
    if state.reference.province(&form.province_code).is_none() {
        form.province_code = "15".into(); // Lào Cai, where the first cooperatives are
    }
    let communes: Vec<Commune> = state
        .reference
        .communes
        .iter()
        .filter(|c| c.province_code == form.province_code)
        .cloned()
        .collect();
    if form.checkout_key.is_none() {
        form.checkout_key = Some(crate::domain::token::new_token());
    }
    CheckoutPage {
        ctx,
        cart,
        form,
        errors,
        provinces,
        communes,
        stripe_enabled: state.stripe.is_some(),
        vnpay_enabled: state.vnpay.is_some(),
        momo_enabled: state.momo.is_some(),
    }
}

async fn checkout_page(
    State(state): State<AppState>,
    ctx: PageContext,
    jar: CookieJar,
    ApiQuery(choice): ApiQuery<ProvinceChoice>,
) -> AppResult<Response> {
    let cart = cart_view(&state, &cart_owner(&ctx.user, &jar)).await?;
    if cart.groups.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    let form = CheckoutRequest {
        province_code: choice.province.unwrap_or_default(),
        ..Default::default()
    };
    render(&checkout_page_for(
        &state,
        ctx,
        cart,
        form,
        FieldErrors::default(),
    ))
}

async fn checkout_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    jar: CookieJar,
    client: ClientAddr,
    PageForm(form): PageForm<CheckoutRequest>,
) -> AppResult<Response> {
    let owner = cart_owner(&ctx.user, &jar);
    let result = match form.parse(&state.reference, &state.payment_methods()) {
        Ok(request) => {
            checkout::checkout(&state.db, &state.config, &owner, ctx.user.as_ref(), request).await
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(outcome) => {
            if let Some(url) =
                crate::payments::gateway::start(&state, &outcome, &owner, client.0).await?
            {
                return Ok(Redirect::to(&url).into_response());
            }
            let view: CheckoutView = checkout_view(&state, &outcome, None).await?;
            let local = view
                .payment_url
                .trim_start_matches(&state.config.public_url)
                .to_owned();
            Ok(Redirect::to(&local).into_response())
        }
        Err(err) => {
            let cart = cart_view(&state, &owner).await?;
            render_form_error(err, |errors| {
                checkout_page_for(&state, ctx, cart, form, errors)
            })
        }
    }
}

#[derive(Template)]
#[template(path = "shop/payment.html")]
struct PaymentPage {
    ctx: PageContext,
    /// The page token, for the cancel form.
    token: String,
    view: CheckoutView,
    qr_svg: String,
    bank_name: String,
    expires_text: String,
    /// The JSON twin of this page, which `app.js` polls while the payment is pending.
    poll_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenQuery {
    token: Option<String>,
}

async fn payment_page(
    State(state): State<AppState>,
    ctx: PageContext,
    ApiPath(reference): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> AppResult<Response> {
    let payment = queries::payment_for(
        &state.db,
        &reference,
        query.token.as_deref(),
        ctx.user.as_ref(),
    )
    .await?;
    let payment = crate::payments::stripe::refresh_if_returning(&state, payment).await?;
    let orders = queries::of_payment(&state.db, payment.id).await?;
    let view = CheckoutView {
        payment: PaymentView::new(&payment, &state.config.commerce.collecting_account),
        orders: queries::views(&state.db, &state.reference, &orders).await?,
        payment_url: String::new(),
        redirect_url: None,
    };
    let qr_svg = match &view.payment.bank_transfer {
        Some(bank) => qr::QrMatrix::encode(&bank.vietqr_payload, EcLevel::M)
            .map(|m| qr::render_svg(&m, 280))
            .map_err(|e| AppError::Internal(anyhow::anyhow!("VietQR code: {e}")))?,
        None => String::new(),
    };
    let expires_text = (payment.expires_at + chrono::Duration::hours(7))
        .format("%H:%M %d/%m/%Y")
        .to_string();
    let poll_url = (view.payment.status == "pending").then(|| {
        let mut url = format!("/api/v1/payments/{}", view.payment.reference);
        if let Some(token) = &query.token {
            url.push_str("?token=");
            url.push_str(&crate::http::page::urlencode(token));
        }
        url
    });
    render(&PaymentPage {
        token: query.token.clone().unwrap_or_default(),
        poll_url,
        bank_name: vietqr::bank_short_name(&state.config.commerce.collecting_account.bank_bin)
            .to_owned(),
        ctx,
        view,
        qr_svg,
        expires_text,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TokenForm {
    token: String,
}

/// Gives up an unpaid checkout from its payment page; whoever may see the page may do it (the
/// token holder, the buyer, an administrator).
async fn payment_cancel(
    State(state): State<AppState>,
    ctx: PageContext,
    ApiPath(reference): ApiPath<String>,
    PageForm(form): PageForm<TokenForm>,
) -> AppResult<Response> {
    let token = Some(form.token.as_str()).filter(|t| !t.is_empty());
    let payment = queries::payment_for(&state.db, &reference, token, ctx.user.as_ref()).await?;
    let actor = Actor {
        user_id: ctx.user.as_ref().map(|u| u.id),
    };
    lifecycle::cancel_checkout(&state.db, &payment, actor).await?;
    let back = match token {
        Some(token) => format!(
            "/payments/{}?token={}",
            payment.reference,
            crate::http::page::urlencode(token)
        ),
        None => format!("/payments/{}", payment.reference),
    };
    Ok(Redirect::to(&back).into_response())
}

#[derive(Template)]
#[template(path = "shop/orders.html")]
struct OrdersPage {
    ctx: PageContext,
    orders: Vec<OrderView>,
}

async fn orders_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
) -> AppResult<Response> {
    let list = queries::of_buyer(&state.db, user.id, 100).await?;
    let orders = queries::views(&state.db, &state.reference, &list).await?;
    render(&OrdersPage { ctx, orders })
}

#[derive(Template)]
#[template(path = "shop/order.html")]
struct OrderPage {
    ctx: PageContext,
    order: OrderView,
    can_cancel: bool,
    can_complete: bool,
    errors: FieldErrors,
    /// The buyer's review state of each line (empty for the cooperative).
    line_reviews: std::collections::HashMap<i64, crate::reviews::LineReview>,
}

impl OrderPage {
    fn review_open(&self, item_id: &i64) -> bool {
        matches!(
            self.line_reviews.get(item_id),
            Some(crate::reviews::LineReview::Open)
        )
    }

    fn review_of(&self, item_id: &i64) -> Option<&crate::reviews::ReviewView> {
        match self.line_reviews.get(item_id) {
            Some(crate::reviews::LineReview::Reviewed(view)) => Some(view),
            _ => None,
        }
    }
}

async fn order_page_for(
    state: &AppState,
    ctx: PageContext,
    user: &crate::accounts::CurrentUser,
    id: i64,
    errors: FieldErrors,
) -> AppResult<OrderPage> {
    let (order, role) = queries::order_for(&state.db, user, id).await?;
    let status = OrderStatus::parse(&order.status);
    let view = queries::views(&state.db, &state.reference, std::slice::from_ref(&order))
        .await?
        .pop()
        .ok_or(AppError::NotFound)?;
    let line_reviews = if role == OrderRole::Buyer {
        crate::reviews::lines_of_order(&state.db, &order, state.clock.now()).await?
    } else {
        std::collections::HashMap::new()
    };
    Ok(OrderPage {
        ctx,
        line_reviews,
        can_cancel: role == OrderRole::Buyer
            && matches!(
                status,
                Some(OrderStatus::PendingPayment | OrderStatus::Paid)
            ),
        can_complete: role == OrderRole::Buyer && status == Some(OrderStatus::Delivered),
        order: view,
        errors,
    })
}

async fn order_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    render(&order_page_for(&state, ctx, &user, id, FieldErrors::default()).await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReasonForm {
    reason: String,
}

async fn order_cancel(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    PageForm(form): PageForm<ReasonForm>,
) -> AppResult<Response> {
    match cancel_as(&state, &user, id, &form.reason).await {
        Ok(_) => Ok(Redirect::to(&format!("/orders/{id}")).into_response()),
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            let page = order_page_for(&state, ctx, &user, id, errors).await?;
            crate::http::page::render_with_status(status, &page)
        }
    }
}

async fn order_complete(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    let (_, role) = queries::order_for(&state.db, &user, id).await?;
    if role != OrderRole::Buyer {
        return Err(AppError::Forbidden);
    }
    lifecycle::complete(
        &state.db,
        id,
        Actor {
            user_id: Some(user.id),
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/orders/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "workspace/orders.html")]
pub(super) struct CooperativeOrdersPage {
    ctx: PageContext,
    cooperative_id: i64,
    cooperative_name: String,
    balance_display: String,
    orders: Vec<OrderView>,
    error: Option<&'static str>,
    /// The lots each line of an accepted order may be packed from, by order line.
    lots: HashMap<i64, Vec<LotChoice>>,
    /// The order whose ship form was refused, and why (beside its fields).
    pub(super) ship_order: Option<i64>,
    pub(super) ship_errors: FieldErrors,
    no_errors: FieldErrors,
}

impl CooperativeOrdersPage {
    fn lots_of(&self, item_id: &i64) -> &[LotChoice] {
        self.lots
            .get(item_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn ship_errors_of(&self, order_id: &i64) -> &FieldErrors {
        if self.ship_order == Some(*order_id) {
            &self.ship_errors
        } else {
            &self.no_errors
        }
    }

    /// "còn 12" / "12 left".
    fn left_label(&self, remaining: &i64) -> String {
        self.ctx
            .t
            .format("packing.left", &[("count", &remaining.to_string())])
    }
}

pub(super) async fn cooperative_orders_for(
    state: &AppState,
    ctx: PageContext,
    user: &crate::accounts::CurrentUser,
    id: i64,
    error: Option<&'static str>,
) -> AppResult<CooperativeOrdersPage> {
    let membership = access::membership(&state.db, user, id).await?;
    let list = queries::of_cooperative(&state.db, id, None, 200).await?;
    let orders = queries::views(&state.db, &state.reference, &list).await?;
    let needs: Vec<LineNeed> = orders
        .iter()
        .filter(|o| o.status == OrderStatus::Accepted.as_str())
        .flat_map(|o| &o.items)
        .map(|i| LineNeed {
            item_id: i.id,
            product_id: i.product_id,
            variant_id: i.variant_id,
            quantity: i.quantity,
        })
        .collect();
    Ok(CooperativeOrdersPage {
        ctx,
        cooperative_id: id,
        cooperative_name: membership.cooperative.name,
        balance_display: Money::from_dong(reports::cooperative_balance(&state.db, id).await?)
            .to_string(),
        lots: packing::lot_choices(&state.db, id, &needs).await?,
        orders,
        error,
        ship_order: None,
        ship_errors: FieldErrors::default(),
        no_errors: FieldErrors::default(),
    })
}

async fn cooperative_orders_page(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Response> {
    render(&cooperative_orders_for(&state, ctx, &user, id, None).await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OrderActionForm {
    reason: String,
}

async fn cooperative_order_action(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath((id, action)): ApiPath<(i64, String)>,
    PageForm(form): PageForm<OrderActionForm>,
) -> AppResult<Response> {
    let order = seller_order(&state.db, &user, id).await?;
    let actor = Actor {
        user_id: Some(user.id),
    };
    let result = match action.as_str() {
        "accept" => lifecycle::accept(&state.db, id, actor).await.map(|_| ()),
        "deliver" => lifecycle::deliver(&state.db, id, actor).await.map(|_| ()),
        "cancel" => cancel_as(&state, &user, id, &form.reason).await.map(|_| ()),
        _ => return Err(AppError::NoRoute),
    };
    let back = format!(
        "/workspace/cooperatives/{}/orders#o{id}",
        order.cooperative_id
    );
    match result {
        Ok(()) => Ok(Redirect::to(&back).into_response()),
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            let code = errors.iter().next().map(|e| e.code);
            let page =
                cooperative_orders_for(&state, ctx, &user, order.cooperative_id, code).await?;
            crate::http::page::render_with_status(status, &page)
        }
    }
}
