//! Verified reviews: only the buyer of a delivered order reviews what they bought, once per
//! order line and within [`REVIEW_WINDOW_DAYS`] of the delivery; the selling cooperative
//! answers once; anyone reports a review; an administrator hides it with a reason.
//!
//! The product's `rating_sum` and `rating_count` change in the transaction that adds or hides
//! a review, together with the search outbox row, so product lists and search carry the
//! average without reading reviews, and a hidden review leaves the average at once.

pub mod routes_api;
pub mod routes_pages;

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::CurrentUser;
use crate::domain::{FieldIssue, bounded_text, optional_text, text_enum};
use crate::entities::{
    order_events, order_items, orders, products, review_reports, reviews, users,
};
use crate::error::{AppError, AppResult, FieldErrors, is_unique_violation};
use crate::http::client::Network;
use crate::media::processing::ProcessedPhoto;
use crate::media::{PhotoImage, PhotoService};
use crate::trace::scans::ClientHasher;

/// Days after the delivery during which the buyer may review the order's lines.
pub const REVIEW_WINDOW_DAYS: i64 = 90;
/// Most photos one review carries.
pub const MAX_REVIEW_PHOTOS: u64 = 3;
/// Longest review text, answer and reason, in characters.
const MAX_BODY: usize = 4000;
const MAX_REASON: usize = 500;
/// Reviews per page of a product's list.
pub const PER_PAGE: u64 = 20;

text_enum! {
    /// Whether a review shows: an administrator hides one that breaks the rules.
    ReviewStatus {
        Visible => "visible",
        Hidden => "hidden",
    }
}

/// A new review, from the API or the order page's form.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReviewRequest {
    /// The order line reviewed (an `items[].id` of one of your delivered orders).
    pub order_item_id: i64,
    /// 1 to 5.
    pub stars: i64,
    /// What you think of the product (up to 4000 characters; may be empty).
    #[serde(default)]
    pub body: String,
}

/// The cooperative's answer to a review.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AnswerRequest {
    pub answer: String,
}

/// Why a review is reported, or hidden.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonRequest {
    pub reason: String,
}

/// A review as the shop shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewView {
    pub id: i64,
    pub product_id: i64,
    pub stars: i16,
    pub body: String,
    /// The reviewer's display name, shortened to the first name and an initial.
    pub author: String,
    /// Every review comes from a delivered order.
    pub verified_purchase: bool,
    pub photos: Vec<PhotoImage>,
    pub answer: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub status: ReviewStatus,
    /// Why an administrator hid it (shown to administrators and the author only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl ReviewView {
    pub fn star_text(&self) -> String {
        let stars = usize::try_from(self.stars.clamp(0, 5)).unwrap_or(0);
        format!("{}{}", "★".repeat(stars), "☆".repeat(5 - stars))
    }
}

/// A page of a product's visible reviews.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewPage {
    pub items: Vec<ReviewView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Where an order line stands for its buyer: reviewable now, reviewed, or neither.
#[derive(Debug, Clone, Serialize)]
pub enum LineReview {
    Open,
    Reviewed(ReviewView),
    Closed,
}

fn validate(request: &ReviewRequest) -> AppResult<(i16, String)> {
    let mut errors = FieldErrors::default();
    let stars = errors.take(
        "stars",
        match request.stars {
            s @ 1..=5 => Ok(i16::try_from(s).unwrap_or(5)),
            _ => Err(FieldIssue::new(
                "invalid_rating",
                "a review gives 1 to 5 stars",
            )),
        },
    );
    let body = errors.take("body", optional_text(&request.body, MAX_BODY));
    match (stars, body) {
        (Some(stars), Some(body)) => Ok((stars, body.unwrap_or_default())),
        _ => Err(errors.into_error()),
    }
}

fn reason(text: &str) -> AppResult<String> {
    bounded_text(text, 2, MAX_REASON).map_err(|issue| FieldErrors::single("reason", issue))
}

/// When an order was delivered: its `delivered` event (orders move only forward).
async fn delivered_at(
    db: &impl ConnectionTrait,
    order: &orders::Model,
) -> AppResult<Option<DateTime<Utc>>> {
    if !matches!(order.status.as_str(), "delivered" | "completed") {
        return Ok(None);
    }
    let event = order_events::Entity::find()
        .filter(order_events::Column::OrderId.eq(order.id))
        .filter(order_events::Column::Status.eq("delivered"))
        .order_by_asc(order_events::Column::At)
        .one(db)
        .await?;
    Ok(Some(event.map_or(order.updated_at, |e| e.at)))
}

fn not_delivered() -> AppError {
    AppError::conflict(
        "order_not_delivered",
        "order_item_id",
        "only the lines of a delivered order can be reviewed",
    )
}

fn window_closed() -> AppError {
    AppError::conflict(
        "review_window_closed",
        "order_item_id",
        format!("a line can be reviewed within {REVIEW_WINDOW_DAYS} days of the delivery"),
    )
}

fn already_reviewed() -> AppError {
    AppError::conflict(
        "already_reviewed",
        "order_item_id",
        "this order line already has a review",
    )
}

/// The buyer's order line, checked: bought by `user`, delivered, within the window, not yet
/// reviewed. Someone else's line is "not found".
async fn reviewable_line(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    order_item_id: i64,
    now: DateTime<Utc>,
) -> AppResult<(order_items::Model, orders::Model)> {
    let item = order_items::Entity::find_by_id(order_item_id)
        .one(db)
        .await?
        .ok_or_else(unknown_line)?;
    let order = orders::Entity::find_by_id(item.order_id)
        .one(db)
        .await?
        .filter(|o| o.buyer_user_id == Some(user.id))
        .ok_or_else(unknown_line)?;
    let delivered = delivered_at(db, &order).await?.ok_or_else(not_delivered)?;
    if now - delivered > Duration::days(REVIEW_WINDOW_DAYS) {
        return Err(window_closed());
    }
    let existing = reviews::Entity::find()
        .filter(reviews::Column::OrderItemId.eq(item.id))
        .count(db)
        .await?;
    if existing > 0 {
        return Err(already_reviewed());
    }
    Ok((item, order))
}

fn unknown_line() -> AppError {
    FieldErrors::single(
        "order_item_id",
        FieldIssue::new("unknown_order_item", "none of your orders has this line"),
    )
}

/// Adds the buyer's review of an order line of `product_id`, the rows of its photos (already
/// stored by [`PhotoService::store_upload`], at most [`MAX_REVIEW_PHOTOS`]) and the product's
/// rating, in one transaction. The caller discards the stored photos if this fails.
pub async fn create(
    db: &DatabaseConnection,
    user: &CurrentUser,
    product_id: i64,
    request: &ReviewRequest,
    stored_photos: &[ProcessedPhoto],
    now: DateTime<Utc>,
) -> AppResult<reviews::Model> {
    let (stars, body) = validate(request)?;
    let txn = crate::db::begin_write(db).await?;
    let (item, order) = reviewable_line(&txn, user, request.order_item_id, now).await?;
    if item.product_id != product_id {
        return Err(unknown_line());
    }
    let inserted = reviews::ActiveModel {
        product_id: Set(item.product_id),
        cooperative_id: Set(order.cooperative_id),
        order_item_id: Set(item.id),
        user_id: Set(user.id),
        stars: Set(stars),
        body: Set(body),
        status: Set(ReviewStatus::Visible.as_str().to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let review = match inserted {
        Ok(review) => review,
        Err(err) if is_unique_violation(&err) => return Err(already_reviewed()),
        Err(err) => return Err(err.into()),
    };
    for (position, photo) in stored_photos
        .iter()
        .take(usize::try_from(MAX_REVIEW_PHOTOS).unwrap_or(3))
        .enumerate()
    {
        crate::media::insert_review_photo(
            &txn,
            user.id,
            review.cooperative_id,
            review.product_id,
            review.id,
            i32::try_from(position).unwrap_or(0),
            photo,
        )
        .await?;
    }
    adjust_rating(&txn, review.product_id, i64::from(stars), 1).await?;
    txn.commit().await?;
    Ok(review)
}

/// Adds `stars` to the product's rating sum and `count` to its count, and queues the product
/// for search (its document carries the rating).
async fn adjust_rating(
    db: &impl ConnectionTrait,
    product_id: i64,
    stars: i64,
    count: i64,
) -> AppResult<()> {
    products::Entity::update_many()
        .col_expr(
            products::Column::RatingSum,
            Expr::col(products::Column::RatingSum).add(stars),
        )
        .col_expr(
            products::Column::RatingCount,
            Expr::col(products::Column::RatingCount).add(count),
        )
        .filter(products::Column::Id.eq(product_id))
        .exec(db)
        .await?;
    crate::catalog::outbox::enqueue_products(db, &[product_id]).await?;
    Ok(())
}

/// A review by id ("not found" when there is none).
pub async fn by_id(db: &impl ConnectionTrait, review_id: i64) -> AppResult<reviews::Model> {
    reviews::Entity::find_by_id(review_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// A visible review by id; a hidden one is "not found" except to administrators.
pub async fn visible_by_id(
    db: &impl ConnectionTrait,
    viewer: Option<&CurrentUser>,
    review_id: i64,
) -> AppResult<reviews::Model> {
    let review = by_id(db, review_id).await?;
    let may_see = review.status == ReviewStatus::Visible.as_str()
        || viewer.is_some_and(|u| u.is_admin || u.id == review.user_id);
    if may_see {
        Ok(review)
    } else {
        Err(AppError::NotFound)
    }
}

/// Adds a photo to the author's review (at most [`MAX_REVIEW_PHOTOS`]).
pub async fn add_photo(
    db: &DatabaseConnection,
    photos: &PhotoService,
    user: &CurrentUser,
    review_id: i64,
    upload: bytes::Bytes,
) -> AppResult<PhotoImage> {
    let review = by_id(db, review_id).await?;
    if review.user_id != user.id {
        return Err(AppError::NotFound);
    }
    let too_many = || {
        FieldErrors::single(
            "photo",
            FieldIssue::new(
                "photo_limit",
                format!("a review carries at most {MAX_REVIEW_PHOTOS} photos"),
            ),
        )
    };
    if photo_count(db, review.id).await? >= MAX_REVIEW_PHOTOS {
        return Err(too_many());
    }
    let stored = photos.store_upload(upload).await?;
    let saved = async {
        let txn = crate::db::begin_write(db).await?;
        // Counted again in the write transaction: two uploads cannot both take the last place.
        let count = photo_count(&txn, review.id).await?;
        if count >= MAX_REVIEW_PHOTOS {
            return Err(too_many());
        }
        let row = crate::media::insert_review_photo(
            &txn,
            user.id,
            review.cooperative_id,
            review.product_id,
            review.id,
            i32::try_from(count).unwrap_or(0),
            &stored,
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }
    .await;
    match saved {
        Ok(row) => Ok(PhotoImage::of(&row)),
        Err(err) => {
            photos.discard(std::slice::from_ref(&stored)).await;
            Err(err)
        }
    }
}

async fn photo_count(db: &impl ConnectionTrait, review_id: i64) -> AppResult<u64> {
    Ok(crate::entities::photos::Entity::find()
        .filter(crate::entities::photos::Column::ReviewId.eq(review_id))
        .count(db)
        .await?)
}

/// The selling cooperative answers a review, once. Members of another cooperative get "not
/// found", as for any of its private data.
pub async fn answer(
    db: &DatabaseConnection,
    user: &CurrentUser,
    review_id: i64,
    request: &AnswerRequest,
    now: DateTime<Utc>,
) -> AppResult<reviews::Model> {
    let review = by_id(db, review_id).await?;
    crate::catalog::access::membership(db, user, review.cooperative_id).await?;
    let answer = bounded_text(&request.answer, 2, MAX_BODY)
        .map_err(|issue| FieldErrors::single("answer", issue))?;
    // Conditional: of two answers sent at once, one is kept.
    let updated = reviews::Entity::update_many()
        .col_expr(reviews::Column::Answer, Expr::value(Some(answer)))
        .col_expr(reviews::Column::AnsweredBy, Expr::value(Some(user.id)))
        .col_expr(reviews::Column::AnsweredAt, Expr::value(Some(now)))
        .filter(reviews::Column::Id.eq(review.id))
        .filter(reviews::Column::Answer.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(AppError::conflict(
            "already_answered",
            "answer",
            "the cooperative has answered this review already",
        ));
    }
    by_id(db, review.id).await
}

/// Stores anyone's report of a visible review. The caller has counted it against the
/// client's report budget.
pub async fn report(
    db: &DatabaseConnection,
    hasher: &ClientHasher,
    reporter: Option<&CurrentUser>,
    client: IpAddr,
    review_id: i64,
    request: &ReasonRequest,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let review = visible_by_id(db, reporter, review_id).await?;
    let reason = reason(&request.reason)?;
    review_reports::ActiveModel {
        review_id: Set(review.id),
        reporter_user_id: Set(reporter.map(|u| u.id)),
        client_hash: Set(hasher.network(Network::of(client)).hex()),
        reason: Set(reason),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// An administrator hides a review with a reason; it leaves the product's rating in the same
/// transaction. Hiding a hidden review changes nothing.
pub async fn hide(
    db: &DatabaseConnection,
    user: &CurrentUser,
    review_id: i64,
    request: &ReasonRequest,
    now: DateTime<Utc>,
) -> AppResult<reviews::Model> {
    user.require_admin()?;
    let reason = reason(&request.reason)?;
    let txn = crate::db::begin_write(db).await?;
    let review = by_id(&txn, review_id).await?;
    let updated = reviews::Entity::update_many()
        .col_expr(
            reviews::Column::Status,
            Expr::value(ReviewStatus::Hidden.as_str()),
        )
        .col_expr(reviews::Column::HiddenReason, Expr::value(Some(reason)))
        .col_expr(reviews::Column::HiddenBy, Expr::value(Some(user.id)))
        .col_expr(reviews::Column::HiddenAt, Expr::value(Some(now)))
        .filter(reviews::Column::Id.eq(review.id))
        .filter(reviews::Column::Status.eq(ReviewStatus::Visible.as_str()))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 1 {
        adjust_rating(&txn, review.product_id, -i64::from(review.stars), -1).await?;
    }
    handle_reports(&txn, review.id, now).await?;
    let review = by_id(&txn, review.id).await?;
    txn.commit().await?;
    Ok(review)
}

/// An administrator keeps a reported review as it is: its open reports leave the queue.
pub async fn keep(
    db: &DatabaseConnection,
    user: &CurrentUser,
    review_id: i64,
    now: DateTime<Utc>,
) -> AppResult<reviews::Model> {
    user.require_admin()?;
    let txn = crate::db::begin_write(db).await?;
    let review = by_id(&txn, review_id).await?;
    handle_reports(&txn, review.id, now).await?;
    txn.commit().await?;
    Ok(review)
}

/// An administrator shows a hidden review again (the hiding was a mistake): it counts in the
/// product's rating again, in the same transaction. Showing a visible review changes nothing.
pub async fn unhide(
    db: &DatabaseConnection,
    user: &CurrentUser,
    review_id: i64,
) -> AppResult<reviews::Model> {
    user.require_admin()?;
    let txn = crate::db::begin_write(db).await?;
    let review = by_id(&txn, review_id).await?;
    let updated = reviews::Entity::update_many()
        .col_expr(
            reviews::Column::Status,
            Expr::value(ReviewStatus::Visible.as_str()),
        )
        .col_expr(
            reviews::Column::HiddenReason,
            Expr::value(Option::<String>::None),
        )
        .col_expr(reviews::Column::HiddenBy, Expr::value(Option::<i64>::None))
        .col_expr(
            reviews::Column::HiddenAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(reviews::Column::Id.eq(review.id))
        .filter(reviews::Column::Status.eq(ReviewStatus::Hidden.as_str()))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 1 {
        adjust_rating(&txn, review.product_id, i64::from(review.stars), 1).await?;
    }
    let review = by_id(&txn, review.id).await?;
    txn.commit().await?;
    Ok(review)
}

/// Marks the review's open reports as handled.
async fn handle_reports(
    db: &impl ConnectionTrait,
    review_id: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    review_reports::Entity::update_many()
        .col_expr(review_reports::Column::HandledAt, Expr::value(Some(now)))
        .filter(review_reports::Column::ReviewId.eq(review_id))
        .filter(review_reports::Column::HandledAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Most reported reviews the administrators' queue shows at once.
const QUEUE_LENGTH: usize = 100;
/// Reasons shown per reported review (the latest).
const REASONS_SHOWN: usize = 3;

/// A review in the administrators' queue: its open reports and the product it is about.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportedReview {
    pub review: ReviewView,
    pub product_name: String,
    pub product_slug: String,
    /// Reports not handled yet.
    pub open_reports: u64,
    /// The latest reasons given, newest first.
    pub reasons: Vec<String>,
    pub first_reported_at: DateTime<Utc>,
}

/// The reviews with reports not handled yet, most reported first (administrators), and the
/// recently hidden ones, which an administrator may show again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModerationQueue {
    pub reported: Vec<ReportedReview>,
    pub recently_hidden: Vec<ReportedReview>,
}

/// What the administrators have to look at.
pub async fn moderation_queue(db: &impl ConnectionTrait) -> AppResult<ModerationQueue> {
    let open = review_reports::Entity::find()
        .filter(review_reports::Column::HandledAt.is_null())
        .order_by_desc(review_reports::Column::CreatedAt)
        .order_by_desc(review_reports::Column::Id)
        .all(db)
        .await?;
    let mut by_review: HashMap<i64, Vec<review_reports::Model>> = HashMap::new();
    for report in open {
        by_review.entry(report.review_id).or_default().push(report);
    }
    let reported_rows = reviews::Entity::find()
        .filter(reviews::Column::Id.is_in(by_review.keys().copied().collect::<Vec<_>>()))
        .filter(reviews::Column::Status.eq(ReviewStatus::Visible.as_str()))
        .all(db)
        .await?;
    let hidden_rows = reviews::Entity::find()
        .filter(reviews::Column::Status.eq(ReviewStatus::Hidden.as_str()))
        .order_by_desc(reviews::Column::HiddenAt)
        .order_by_desc(reviews::Column::Id)
        .limit(QUEUE_LENGTH as u64)
        .all(db)
        .await?;
    let product_ids: Vec<i64> = reported_rows
        .iter()
        .chain(&hidden_rows)
        .map(|r| r.product_id)
        .collect();
    let products: HashMap<i64, products::Model> = products::Entity::find()
        .filter(products::Column::Id.is_in(product_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let entry = |view: ReviewView, reports: &[review_reports::Model]| {
        let product = products.get(&view.product_id);
        ReportedReview {
            product_name: product.map(|p| p.name.clone()).unwrap_or_default(),
            product_slug: product.map(|p| p.slug.clone()).unwrap_or_default(),
            open_reports: reports.len() as u64,
            reasons: reports
                .iter()
                .take(REASONS_SHOWN)
                .map(|r| r.reason.clone())
                .collect(),
            first_reported_at: reports
                .iter()
                .map(|r| r.created_at)
                .min()
                .unwrap_or(view.created_at),
            review: view,
        }
    };
    let mut reported: Vec<ReportedReview> = views(db, reported_rows, true)
        .await?
        .into_iter()
        .map(|view| {
            let reports = by_review.get(&view.id).map(Vec::as_slice).unwrap_or(&[]);
            entry(view, reports)
        })
        .collect();
    reported.sort_by(|a, b| {
        b.open_reports
            .cmp(&a.open_reports)
            .then(a.first_reported_at.cmp(&b.first_reported_at))
    });
    reported.truncate(QUEUE_LENGTH);
    let recently_hidden = views(db, hidden_rows, true)
        .await?
        .into_iter()
        .map(|view| entry(view, &[]))
        .collect();
    Ok(ModerationQueue {
        reported,
        recently_hidden,
    })
}

/// Reviews with their photos and authors, as views (`with_reason`: show why hidden ones are).
pub async fn views(
    db: &impl ConnectionTrait,
    rows: Vec<reviews::Model>,
    with_reason: bool,
) -> AppResult<Vec<ReviewView>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut photos = crate::media::of_reviews(db, &ids).await?;
    let mut user_ids: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
    user_ids.sort_unstable();
    user_ids.dedup();
    let names: HashMap<i64, String> = if user_ids.is_empty() {
        HashMap::new()
    } else {
        users::Entity::find()
            .filter(users::Column::Id.is_in(user_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.id, short_name(&u.display_name)))
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|r| ReviewView {
            id: r.id,
            product_id: r.product_id,
            stars: r.stars,
            body: r.body,
            author: names.get(&r.user_id).cloned().unwrap_or_default(),
            verified_purchase: true,
            photos: photos.remove(&r.id).unwrap_or_default(),
            answer: r.answer,
            answered_at: r.answered_at,
            status: ReviewStatus::parse(&r.status).unwrap_or(ReviewStatus::Hidden),
            hidden_reason: if with_reason { r.hidden_reason } else { None },
            created_at: r.created_at,
        })
        .collect())
}

/// "Nguyễn Thị Lan" → "Lan N.": Vietnamese say the given name, which comes last.
fn short_name(display_name: &str) -> String {
    let words: Vec<&str> = display_name.split_whitespace().collect();
    match words.as_slice() {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [first, .., last] => {
            let initial: String = first.chars().take(1).collect();
            format!("{last} {initial}.")
        }
    }
}

/// A page (from 1) of a product's visible reviews, newest first.
pub async fn visible_of_product(
    db: &impl ConnectionTrait,
    product_id: i64,
    page: u64,
) -> AppResult<ReviewPage> {
    let page = Ord::max(page, 1);
    let query = reviews::Entity::find()
        .filter(reviews::Column::ProductId.eq(product_id))
        .filter(reviews::Column::Status.eq(ReviewStatus::Visible.as_str()));
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(reviews::Column::CreatedAt)
        .order_by_desc(reviews::Column::Id)
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE)
        .all(db)
        .await?;
    Ok(ReviewPage {
        items: views(db, rows, false).await?,
        total,
        page,
        per_page: PER_PAGE,
    })
}

/// Where each line of the buyer's order stands (for the review forms of the order page).
pub async fn lines_of_order(
    db: &impl ConnectionTrait,
    order: &orders::Model,
    now: DateTime<Utc>,
) -> AppResult<HashMap<i64, LineReview>> {
    let open = match delivered_at(db, order).await? {
        Some(at) => now - at <= Duration::days(REVIEW_WINDOW_DAYS),
        None => false,
    };
    let items = order_items::Entity::find()
        .filter(order_items::Column::OrderId.eq(order.id))
        .all(db)
        .await?;
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let rows = if ids.is_empty() {
        Vec::new()
    } else {
        reviews::Entity::find()
            .filter(reviews::Column::OrderItemId.is_in(ids))
            .all(db)
            .await?
    };
    let mut reviewed: HashMap<i64, ReviewView> = HashMap::new();
    let item_of: HashMap<i64, i64> = rows.iter().map(|r| (r.id, r.order_item_id)).collect();
    for view in views(db, rows, true).await? {
        if let Some(item) = item_of.get(&view.id) {
            reviewed.insert(*item, view);
        }
    }
    Ok(items
        .iter()
        .map(|item| {
            let state = match reviewed.remove(&item.id) {
                Some(view) => LineReview::Reviewed(view),
                None if open => LineReview::Open,
                None => LineReview::Closed,
            };
            (item.id, state)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviewers_are_shown_by_given_name_and_initial() {
        assert_eq!(short_name("Nguyễn Thị Lan"), "Lan N.");
        assert_eq!(short_name("Lan"), "Lan");
        assert_eq!(short_name("  "), "");
    }

    #[test]
    fn stars_outside_one_to_five_are_refused() {
        for stars in [0, 6, -1, i64::MAX] {
            let request = ReviewRequest {
                order_item_id: 1,
                stars,
                body: String::new(),
            };
            assert!(validate(&request).is_err(), "{stars}");
        }
        let request = ReviewRequest {
            order_item_id: 1,
            stars: 4,
            body: " ngon ".into(),
        };
        assert_eq!(validate(&request).unwrap(), (4, "ngon".to_owned()));
    }
}
