//! Products: a cooperative's members create, edit, publish and archive them; the public sees
//! published products of verified cooperatives.

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Set, TransactionSession, TransactionTrait,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::access::Membership;
use super::gtins;
use super::outbox::{enqueue_cooperative_products, enqueue_products};
use super::params::QueryChecker;
use super::views::{Paged, ProductSummary};
use super::{CooperativeStatus, ProductStatus};
use crate::domain::{FieldIssue, Gtin, Money, Slug, bounded_text, optional_text};
use crate::entities::{
    batches, cart_items, cooperatives, ocop_certificates, order_items, product_variants, products,
};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::i18n::Lang;
use crate::reference::ReferenceData;

pub use super::variants::MAX_STOCK;

/// A product as the API receives it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ProductRequest {
    pub name: String,
    /// Up to 40 characters, printed on labels; defaults to the name.
    #[serde(default)]
    pub short_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub category_code: String,
    /// Price in whole đồng (an integer; VND has no minor unit) of the product's first variant
    /// (`variants[0].price_vnd` in the product JSON; the product's own `price_vnd` there is the
    /// lowest of its variants' prices).
    pub price_vnd: i64,
    /// Selling unit, e.g. "hộp 500 g".
    pub unit: String,
    /// Units in stock when the product is created. An edit never changes stock (that is
    /// `POST /products/{id}/stock`); an edit that sends a figure other than the stock now is
    /// refused (409 `stock_is_adjusted`), since it was read before someone bought or adjusted.
    #[serde(default)]
    pub stock_quantity: Option<i64>,
    /// GTIN-8/12/13/14 with a valid check digit, of the product's first size
    /// (`variants[0].gtin`; other sizes take theirs in the variant requests).
    #[serde(default)]
    pub gtin: Option<String>,
    /// Weight of one packed unit in grams (the first variant's), 1 to 50,000; a new product
    /// without it weighs 500 g, an edit without it keeps the weight.
    #[serde(default)]
    pub weight_grams: Option<i64>,
}

/// A product as a page form sends it: every field as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProductForm {
    pub name: String,
    pub short_name: String,
    pub description: String,
    pub category_code: String,
    pub price: String,
    pub unit: String,
    pub stock_quantity: String,
    pub gtin: String,
    pub weight_grams: String,
}

impl ProductForm {
    pub fn from_model(model: &products::Model) -> Self {
        Self {
            name: model.name.clone(),
            short_name: model.short_name.clone(),
            description: model.description.clone(),
            category_code: model.category_code.clone(),
            price: model.price_vnd.to_string(),
            unit: model.unit.clone(),
            stock_quantity: model.stock_quantity.to_string(),
            gtin: String::new(),
            weight_grams: String::new(),
        }
    }
}

impl ProductForm {
    /// The edit form of a product: its own fields, and its first variant's price and weight
    /// (the product's `price_vnd` is the lowest of all its variants' prices, which the form
    /// must not write back onto the first one).
    pub async fn of_product(db: &impl ConnectionTrait, model: &products::Model) -> AppResult<Self> {
        let mut form = Self::from_model(model);
        if let Some(first) = super::variants::resolve(db, model.id, None).await? {
            form.price = first.price_vnd.to_string();
            form.weight_grams = first.weight_grams.to_string();
            form.gtin = super::variants::typed_gtin(&first);
        }
        Ok(form)
    }
}

/// A validated product.
#[derive(Debug, Clone)]
pub struct ProductDetails {
    pub name: String,
    pub short_name: String,
    pub description: String,
    pub category_code: String,
    pub price: Money,
    pub unit: String,
    pub stock_quantity: i64,
    pub gtin: Option<Gtin>,
    /// The first variant's weight, when given.
    pub weight_grams: Option<i64>,
}

enum Number<'a> {
    Value(i64),
    Text(&'a str),
}

impl ProductRequest {
    pub fn parse(&self, reference: &ReferenceData) -> AppResult<ProductDetails> {
        let weight = parse_weight(self.weight_grams);
        let details = parse_product(
            reference,
            &self.name,
            self.short_name.as_deref().unwrap_or(""),
            self.description.as_deref().unwrap_or(""),
            &self.category_code,
            Number::Value(self.price_vnd),
            &self.unit,
            Number::Value(self.stock_quantity.unwrap_or(0)),
            self.gtin.as_deref().unwrap_or(""),
        );
        with_weight(details, weight, "weight_grams")
    }
}

impl ProductForm {
    pub fn parse(&self, reference: &ReferenceData) -> AppResult<ProductDetails> {
        let weight = match self.weight_grams.trim() {
            "" => Ok(None),
            text => text
                .parse::<i64>()
                .map_err(|_| FieldIssue::new("invalid_weight", "a whole number of grams"))
                .and_then(|w| parse_weight(Some(w))),
        };
        let details = parse_product(
            reference,
            &self.name,
            &self.short_name,
            &self.description,
            &self.category_code,
            Number::Text(&self.price),
            &self.unit,
            Number::Text(&self.stock_quantity),
            &self.gtin,
        );
        with_weight(details, weight, "weight_grams")
    }
}

fn parse_weight(weight: Option<i64>) -> Result<Option<i64>, FieldIssue> {
    match weight {
        None => Ok(None),
        Some(w) if (1..=super::variants::MAX_WEIGHT_GRAMS).contains(&w) => Ok(Some(w)),
        Some(_) => Err(FieldIssue::new(
            "invalid_weight",
            format!(
                "a whole number of grams from 1 to {}",
                super::variants::MAX_WEIGHT_GRAMS
            ),
        )),
    }
}

/// Adds the weight to parsed details, reporting its issue with the others.
fn with_weight(
    details: AppResult<ProductDetails>,
    weight: Result<Option<i64>, FieldIssue>,
    field: &str,
) -> AppResult<ProductDetails> {
    match (details, weight) {
        (Ok(mut details), Ok(weight)) => {
            details.weight_grams = weight;
            Ok(details)
        }
        (Ok(_), Err(issue)) => Err(FieldErrors::single(field, issue)),
        (Err(AppError::Validation(mut errors)), Err(issue)) => {
            errors.add(field, issue);
            Err(AppError::Validation(errors))
        }
        (Err(err), _) => Err(err),
    }
}

#[allow(clippy::too_many_arguments)]
fn parse_product(
    reference: &ReferenceData,
    name: &str,
    short_name: &str,
    description: &str,
    category_code: &str,
    price: Number<'_>,
    unit: &str,
    stock: Number<'_>,
    gtin: &str,
) -> AppResult<ProductDetails> {
    let mut errors = FieldErrors::default();
    let name = errors.take("name", bounded_text(name, 2, 200));
    let short_name = errors.take("short_name", optional_text(short_name, 40));
    let description = errors.take("description", optional_text(description, 10_000));
    let category_code = errors.take(
        "category_code",
        match reference.category(category_code.trim()) {
            Some(category) => Ok(category.code.clone()),
            None => Err(FieldIssue::new(
                "unknown_category",
                "choose an OCOP category",
            )),
        },
    );
    let price_field = match price {
        Number::Value(_) => "price_vnd",
        Number::Text(_) => "price",
    };
    let price = errors.take(
        price_field,
        match price {
            Number::Value(dong) => Money::parse_price(dong),
            Number::Text(text) => Money::parse_price_text(text),
        },
    );
    let unit = errors.take("unit", bounded_text(unit, 1, 60));
    let stock = errors.take("stock_quantity", parse_stock(stock));
    let gtin = errors.take(
        "gtin",
        if gtin.trim().is_empty() {
            Ok(None)
        } else {
            Gtin::parse(gtin).map(Some)
        },
    );
    match (
        name,
        short_name,
        description,
        category_code,
        price,
        unit,
        stock,
        gtin,
    ) {
        (
            Some(name),
            Some(short_name),
            Some(description),
            Some(category_code),
            Some(price),
            Some(unit),
            Some(stock_quantity),
            Some(gtin),
        ) => Ok(ProductDetails {
            short_name: short_name.unwrap_or_else(|| name.chars().take(40).collect()),
            name,
            description: description.unwrap_or_default(),
            category_code,
            price,
            unit,
            stock_quantity,
            gtin,
            weight_grams: None,
        }),
        _ => Err(errors.into_error()),
    }
}

fn parse_stock(stock: Number<'_>) -> Result<i64, FieldIssue> {
    let value = match stock {
        Number::Value(v) => v,
        Number::Text(text) if text.trim().is_empty() => 0,
        Number::Text(text) => text.trim().parse::<i64>().map_err(|_| {
            FieldIssue::new("invalid_quantity", "a whole number of units, 0 or more")
        })?,
    };
    if (0..=MAX_STOCK).contains(&value) {
        Ok(value)
    } else {
        Err(FieldIssue::new(
            "invalid_quantity",
            format!("a whole number of units from 0 to {MAX_STOCK}"),
        ))
    }
}

/// Creates a draft product of the member's cooperative (and tells search, in the same
/// transaction, though a draft is not searchable yet).
pub async fn create(
    db: &(impl ConnectionTrait + TransactionTrait),
    membership: &Membership,
    details: ProductDetails,
) -> AppResult<products::Model> {
    let slug = free_slug(db, &Slug::from_name(&details.name)).await?;
    let now = Utc::now();
    let coop = &membership.cooperative;
    let row = products::ActiveModel {
        cooperative_id: Set(coop.id),
        slug: Set(slug.as_str().to_owned()),
        name: Set(details.name),
        short_name: Set(details.short_name),
        description: Set(details.description),
        category_code: Set(details.category_code),
        price_vnd: Set(details.price.dong()),
        max_price_vnd: Set(details.price.dong()),
        unit: Set(details.unit),
        stock_quantity: Set(details.stock_quantity),
        status: Set(ProductStatus::Draft.as_str().to_owned()),
        listed: Set(false),
        province_code: Set(coop.province_code.clone()),
        commune_code: Set(coop.commune_code.clone()),
        ocop_stars: Set(None),
        ocop_expires_on: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        published_at: Set(None),
        ..Default::default()
    };
    let txn = crate::db::begin_write(db).await?;
    let product = row.insert(&txn).await?;
    super::variants::insert_first(
        &txn,
        &product,
        details
            .weight_grams
            .unwrap_or(super::variants::DEFAULT_WEIGHT_GRAMS),
    )
    .await?;
    gtins::claim_first(&txn, &product, details.gtin.as_ref(), coop).await?;
    enqueue_products(&txn, &[product.id]).await?;
    txn.commit().await?;
    Ok(product)
}

/// Replaces a product's details, never its stock (see [`super::stock`]). The slug stays, so
/// links already shared keep working. Search is told in the same transaction.
pub async fn update(
    db: &(impl ConnectionTrait + TransactionTrait),
    product: products::Model,
    cooperative: &cooperatives::Model,
    details: ProductDetails,
) -> AppResult<products::Model> {
    let mut row: products::ActiveModel = product.into();
    row.name = Set(details.name);
    row.short_name = Set(details.short_name);
    row.description = Set(details.description);
    row.category_code = Set(details.category_code);
    row.price_vnd = Set(details.price.dong());
    row.unit = Set(details.unit);
    row.updated_at = Set(Utc::now());
    let txn = crate::db::begin_write(db).await?;
    let product = row.update(&txn).await?;
    super::variants::follow_product_edit(&txn, &product, details.weight_grams).await?;
    gtins::claim_first(&txn, &product, details.gtin.as_ref(), cooperative).await?;
    enqueue_products(&txn, &[product.id]).await?;
    // Read again: the price is now the lowest of the variants'.
    let product = products::Entity::find_by_id(product.id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    txn.commit().await?;
    Ok(product)
}

/// Deletes a product that has left no trace in the world: no batch (whose stamps may be
/// printed on packages) and no order (which the books refer to). Anything else is archived
/// instead. Its certificates, cart lines and photos go with it; the photo files after the
/// commit. Search is told in the same transaction.
pub async fn delete(
    db: &(impl ConnectionTrait + TransactionTrait),
    photos: &crate::media::PhotoService,
    product: products::Model,
) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let has_batches = batches::Entity::find()
        .filter(batches::Column::ProductId.eq(product.id))
        .one(&txn)
        .await?
        .is_some();
    let has_orders = order_items::Entity::find()
        .filter(order_items::Column::ProductId.eq(product.id))
        .one(&txn)
        .await?
        .is_some();
    if has_batches || has_orders {
        return Err(AppError::conflict(
            "product_in_use",
            "product",
            "this product has batches or orders, which must stay traceable; archive it instead",
        ));
    }
    cart_items::Entity::delete_many()
        .filter(cart_items::Column::ProductId.eq(product.id))
        .exec(&txn)
        .await?;
    ocop_certificates::Entity::delete_many()
        .filter(ocop_certificates::Column::ProductId.eq(product.id))
        .exec(&txn)
        .await?;
    let removed_photos = crate::media::delete_rows_of_product(&txn, product.id).await?;
    product_variants::Entity::delete_many()
        .filter(product_variants::Column::ProductId.eq(product.id))
        .exec(&txn)
        .await?;
    products::Entity::delete_by_id(product.id)
        .exec(&txn)
        .await?;
    enqueue_products(&txn, &[product.id]).await?;
    txn.commit().await?;
    photos.forget_files(&removed_photos).await;
    Ok(())
}

/// Moves a product to `status` (publish, archive, back to draft); search is told in the same
/// transaction.
pub async fn set_status(
    db: &(impl ConnectionTrait + TransactionTrait),
    product: products::Model,
    status: ProductStatus,
) -> AppResult<products::Model> {
    let first_publication = status == ProductStatus::Published && product.published_at.is_none();
    let cooperative_verified = cooperatives::Entity::find_by_id(product.cooperative_id)
        .one(db)
        .await?
        .is_some_and(|c| c.status == CooperativeStatus::Verified.as_str());
    let mut row: products::ActiveModel = product.into();
    row.status = Set(status.as_str().to_owned());
    row.listed = Set(status == ProductStatus::Published && cooperative_verified);
    row.updated_at = Set(Utc::now());
    if first_publication {
        row.published_at = Set(Some(Utc::now()));
    }
    let txn = crate::db::begin_write(db).await?;
    let product = row.update(&txn).await?;
    enqueue_products(&txn, &[product.id]).await?;
    txn.commit().await?;
    Ok(product)
}

/// `base`, or `base-2`, `base-3`… whichever is free among product slugs.
async fn free_slug(db: &impl ConnectionTrait, base: &Slug) -> AppResult<Slug> {
    let candidates: Vec<Slug> = std::iter::once(base.clone())
        .chain((2..=50).map(|n| base.with_suffix(n)))
        .collect();
    let taken: Vec<String> = products::Entity::find()
        .select_only()
        .column(products::Column::Slug)
        .filter(products::Column::Slug.is_in(candidates.iter().map(|s| s.as_str().to_owned())))
        .into_tuple()
        .all(db)
        .await?;
    Ok(candidates
        .into_iter()
        .find(|s| !taken.iter().any(|t| t == s.as_str()))
        .unwrap_or_else(|| base.with_suffix(u64::from(rand::random::<u32>()))))
}

// ---------------------------------------------------------------- public catalogue

/// Products the public may see: published products of verified cooperatives, through the
/// `listed` copy of that rule. Every public list starts here.
pub fn public_products() -> Select<products::Entity> {
    products::Entity::find().filter(products::Column::Listed.eq(true))
}

/// Recomputes `listed` for every product of a cooperative whose status just changed, and tells
/// search about them; called in the same transaction as the change.
pub async fn refresh_listing_of_cooperative(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
    status: CooperativeStatus,
) -> AppResult<()> {
    let listed = if status == CooperativeStatus::Verified {
        Expr::col(products::Column::Status).eq(ProductStatus::Published.as_str())
    } else {
        Expr::value(false)
    };
    products::Entity::update_many()
        .col_expr(products::Column::Listed, listed)
        .filter(products::Column::CooperativeId.eq(cooperative_id))
        .exec(db)
        .await?;
    enqueue_cooperative_products(db, &[cooperative_id]).await?;
    Ok(())
}

/// How to order a product list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    #[default]
    Newest,
    PriceAsc,
    PriceDesc,
}

impl ProductSort {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::PriceAsc => "price_asc",
            Self::PriceDesc => "price_desc",
        }
    }
}

/// Filters of the public product list, as query parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductListParams {
    /// Province code (2 digits).
    pub province: Option<String>,
    /// Commune code (5 digits).
    pub commune: Option<String>,
    /// OCOP category code; a group code (e.g. `food`) selects all its categories.
    pub category: Option<String>,
    /// Minimum OCOP stars of a valid certificate (3, 4 or 5).
    pub stars: Option<String>,
    /// Lowest price in đồng.
    pub min_price: Option<String>,
    /// Highest price in đồng.
    pub max_price: Option<String>,
    /// `newest` (default), `price_asc` or `price_desc`.
    pub sort: Option<String>,
    /// Page number, from 1.
    pub page: Option<String>,
    /// Items per page, 1 to 100 (default 24).
    pub per_page: Option<String>,
}

/// Validated list filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    pub province: Option<String>,
    pub commune: Option<String>,
    pub categories: Vec<String>,
    pub category: Option<String>,
    pub min_stars: Option<i16>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub sort: ProductSort,
    pub page: u64,
    pub per_page: u64,
}

impl ProductListParams {
    /// Checks every filter; all refused ones are named at once (400).
    pub fn parse(&self, reference: &ReferenceData) -> AppResult<ProductFilter> {
        let mut check = QueryChecker::new(reference);
        let category = check.category(&self.category);
        let (min_price, max_price) = check.price_range(&self.min_price, &self.max_price);
        let filter = ProductFilter {
            province: check.province(&self.province),
            commune: check.commune(&self.commune),
            categories: category
                .as_ref()
                .map(|c| c.categories.clone())
                .unwrap_or_default(),
            category: category.map(|c| c.code),
            min_stars: check.stars("stars", &self.stars, 3..=5),
            min_price,
            max_price,
            sort: check
                .choice(
                    "sort",
                    &self.sort,
                    &[
                        ("newest", ProductSort::Newest),
                        ("price_asc", ProductSort::PriceAsc),
                        ("price_desc", ProductSort::PriceDesc),
                    ],
                    "invalid_sort",
                )
                .unwrap_or_default(),
            page: check.page(&self.page, 100_000u64),
            per_page: check.per_page(&self.per_page, 100u64, 24),
        };
        check.finish()?;
        Ok(filter)
    }
}

/// One page of the public catalogue. Fetches one row more than the page to know whether a next
/// page exists, instead of counting the whole catalogue; the cooperatives of the page are read
/// in a second query by primary key.
pub async fn list_public(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    filter: &ProductFilter,
    lang: Lang,
    today: NaiveDate,
) -> AppResult<Paged<ProductSummary>> {
    let mut query = apply_filter(public_products(), filter, today);
    query = match filter.sort {
        ProductSort::Newest => query.order_by_desc(products::Column::Id),
        ProductSort::PriceAsc => query
            .order_by_asc(products::Column::PriceVnd)
            .order_by_asc(products::Column::Id),
        ProductSort::PriceDesc => query
            .order_by_desc(products::Column::PriceVnd)
            .order_by_asc(products::Column::Id),
    };
    let mut rows = query
        .offset((filter.page - 1) * filter.per_page)
        .limit(filter.per_page + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > filter.per_page;
    rows.truncate(filter.per_page as usize);
    Ok(Paged {
        items: summaries(db, reference, &rows, lang, today).await?,
        page: filter.page,
        per_page: filter.per_page,
        has_more,
    })
}

/// Summaries of products, with their cooperatives read in one query.
pub async fn summaries(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    rows: &[products::Model],
    lang: Lang,
    today: NaiveDate,
) -> AppResult<Vec<ProductSummary>> {
    let mut ids: Vec<i64> = rows.iter().map(|p| p.cooperative_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let coops = cooperatives::Entity::find()
        .filter(cooperatives::Column::Id.is_in(ids))
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|p| {
            coops
                .iter()
                .find(|c| c.id == p.cooperative_id)
                .map(|c| ProductSummary::new(p, c, reference, lang, today))
        })
        .collect())
}

fn apply_filter(
    query: Select<products::Entity>,
    filter: &ProductFilter,
    today: NaiveDate,
) -> Select<products::Entity> {
    let mut condition = Condition::all();
    if let Some(province) = &filter.province {
        condition = condition.add(products::Column::ProvinceCode.eq(province.as_str()));
    }
    if let Some(commune) = &filter.commune {
        condition = condition.add(products::Column::CommuneCode.eq(commune.as_str()));
    }
    if !filter.categories.is_empty() {
        condition = condition.add(products::Column::CategoryCode.is_in(filter.categories.clone()));
    }
    if let Some(stars) = filter.min_stars {
        condition = condition
            .add(products::Column::OcopStars.gte(stars))
            .add(products::Column::OcopExpiresOn.gte(today));
    }
    if let Some(min) = filter.min_price {
        condition = condition.add(products::Column::PriceVnd.gte(min));
    }
    if let Some(max) = filter.max_price {
        condition = condition.add(products::Column::PriceVnd.lte(max));
    }
    query.filter(condition)
}

/// A public product by slug, with its cooperative.
pub async fn public_by_slug(
    db: &impl ConnectionTrait,
    slug: &str,
) -> AppResult<(products::Model, cooperatives::Model)> {
    match products::Entity::find()
        .filter(products::Column::Slug.eq(slug))
        .find_also_related(cooperatives::Entity)
        .one(db)
        .await?
    {
        Some((product, Some(coop))) if is_public(&product, &coop) => Ok((product, coop)),
        _ => Err(AppError::NotFound),
    }
}

/// A product by id with its cooperative, whatever its visibility (callers check it).
pub async fn by_id_with_cooperative(
    db: &impl ConnectionTrait,
    id: i64,
) -> AppResult<(products::Model, cooperatives::Model)> {
    match products::Entity::find_by_id(id)
        .find_also_related(cooperatives::Entity)
        .one(db)
        .await?
    {
        Some((product, Some(coop))) => Ok((product, coop)),
        _ => Err(AppError::NotFound),
    }
}

/// Whether the public may see this product (the rule `listed` copies).
pub fn is_public(product: &products::Model, coop: &cooperatives::Model) -> bool {
    product.status == ProductStatus::Published.as_str()
        && coop.status == CooperativeStatus::Verified.as_str()
}

/// The public products of one cooperative, newest first.
pub async fn public_of_cooperative(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
    limit: u64,
) -> AppResult<Vec<products::Model>> {
    Ok(public_products()
        .filter(products::Column::CooperativeId.eq(cooperative_id))
        .order_by_desc(products::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// All products of a cooperative, drafts and archived included (members only).
pub async fn of_cooperative(
    db: &impl ConnectionTrait,
    membership: &Membership,
) -> AppResult<Vec<products::Model>> {
    Ok(products::Entity::find()
        .filter(products::Column::CooperativeId.eq(membership.cooperative.id))
        .order_by_desc(products::Column::UpdatedAt)
        .all(db)
        .await?)
}

/// Counts public products per province, for the home page.
pub async fn count_public_by_province(db: &impl ConnectionTrait) -> AppResult<Vec<(String, i64)>> {
    Ok(public_products()
        .select_only()
        .column(products::Column::ProvinceCode)
        .column_as(products::Column::Id.count(), "count")
        .group_by(products::Column::ProvinceCode)
        .into_tuple()
        .all(db)
        .await?)
}
