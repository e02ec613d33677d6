//! Variants: the sizes a product is sold in ("Hũ 250 g", "Chai 500 ml", "Hộp quà 3 chai"),
//! each with its own price, stock, weight and optional SKU.
//!
//! The variant is the unit of stock and price: a cart line, an order item, a batch and a stock
//! adjustment name one. The product row keeps two summaries that lists and search read without
//! a join, kept in step by this module and [`crate::orders::stock`] in the transaction of each
//! change: `price_vnd` / `max_price_vnd` (the lowest and highest variant price: "từ 120.000 ₫"
//! when they differ) and `stock_quantity` (the sum of the variants' stock). The first variant
//! (position 0) is the product's own price and unit in the product form, so a product of one
//! size is edited as before.
//!
//! Lock order, so that concurrent writers never deadlock on PostgreSQL: a product's variant
//! rows first (in id order), then its product row.
//!
//! GTIN: a GTIN names one trade item, so each size has its own (with the ownership rules of
//! [`super::gtins`]); the product form's GTIN field is its first size's.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::outbox::enqueue_products;
use crate::domain::{FieldIssue, Gtin, Money, bounded_text, optional_text};
use crate::entities::{batches, cart_items, cooperatives, order_items, product_variants, products};
use crate::error::{AppError, AppResult, FieldErrors};

/// Most units a product (or one of its variants) may have in stock; more is a typo.
pub const MAX_STOCK: i64 = 1_000_000_000;
/// Most variants one product may have.
pub const MAX_VARIANTS: u64 = 12;
/// Heaviest parcel item: 50 kg; more is a typo.
pub const MAX_WEIGHT_GRAMS: i64 = 50_000;
/// Weight of a variant whose weight was not given.
pub const DEFAULT_WEIGHT_GRAMS: i64 = 500;

/// A variant as the API receives it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct VariantRequest {
    /// What the shopper picks, e.g. "Hũ 250 g" (1 to 60 characters).
    pub label: String,
    /// Price in whole đồng.
    pub price_vnd: i64,
    /// Weight of one packed unit in grams (1 to 50,000); 500 when left out.
    #[serde(default)]
    pub weight_grams: Option<i64>,
    /// The cooperative's own stock-keeping code (up to 64 characters).
    #[serde(default)]
    pub sku: Option<String>,
    /// Units in stock when the variant is added. An edit never changes stock (that is
    /// `POST /products/{id}/stock` with `variant_id`); an edit sending another figure than the
    /// stock now is refused (409 `stock_is_adjusted`).
    #[serde(default)]
    pub stock_quantity: Option<i64>,
    /// The GTIN of this size: GTIN-8/12/13/14 with a valid check digit. It names the size once
    /// the province has verified the cooperative and no other size owns it.
    #[serde(default)]
    pub gtin: Option<String>,
}

/// A variant as a page form sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VariantForm {
    pub label: String,
    pub price: String,
    pub weight_grams: String,
    pub sku: String,
    pub stock_quantity: String,
    pub gtin: String,
}

/// A validated variant.
#[derive(Debug, Clone)]
pub struct NewVariant {
    pub label: String,
    pub price: Money,
    pub weight_grams: i64,
    pub sku: Option<String>,
    pub stock_quantity: i64,
    pub gtin: Option<Gtin>,
}

/// A variant as the product's JSON and page show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantView {
    pub id: i64,
    pub label: String,
    pub price_vnd: i64,
    pub price_display: String,
    pub stock_quantity: i64,
    /// The GTIN naming this size, when it owns one (a claim still waiting is not shown).
    pub gtin: Option<String>,
    pub weight_grams: i64,
    pub sku: Option<String>,
}

impl VariantView {
    pub fn new(variant: &product_variants::Model) -> Self {
        Self {
            id: variant.id,
            label: variant.label.clone(),
            price_vnd: variant.price_vnd,
            price_display: Money::from_dong(variant.price_vnd).to_string(),
            stock_quantity: variant.stock_quantity,
            gtin: variant.gtin.as_deref().map(short_gtin),
            weight_grams: variant.weight_grams,
            sku: variant.sku.clone(),
        }
    }
}

/// A GTIN as people read it: a GTIN-13 stored in its 14-digit form loses the leading zero.
fn short_gtin(gtin14: &str) -> String {
    gtin14.strip_prefix('0').unwrap_or(gtin14).to_owned()
}

/// The GTIN the cooperative typed for a size (owned or not), as its form shows it.
pub fn typed_gtin(variant: &product_variants::Model) -> String {
    variant
        .gtin_claim
        .as_deref()
        .map(short_gtin)
        .unwrap_or_default()
}

fn parse_gtin(text: &str) -> Result<Option<Gtin>, FieldIssue> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        Gtin::parse(text).map(Some)
    }
}

fn parse_weight(weight: Option<i64>) -> Result<i64, FieldIssue> {
    match weight {
        None => Ok(DEFAULT_WEIGHT_GRAMS),
        Some(w) if (1..=MAX_WEIGHT_GRAMS).contains(&w) => Ok(w),
        Some(_) => Err(FieldIssue::new(
            "invalid_weight",
            format!("a whole number of grams from 1 to {MAX_WEIGHT_GRAMS}"),
        )),
    }
}

fn parse_text_number(
    text: &str,
    code: &'static str,
    hint: &str,
) -> Result<Option<i64>, FieldIssue> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<i64>()
        .map(Some)
        .map_err(|_| FieldIssue::new(code, hint.to_owned()))
}

fn parse_initial_stock(stock: Option<i64>) -> Result<i64, FieldIssue> {
    let stock = stock.unwrap_or(0);
    if (0..=MAX_STOCK).contains(&stock) {
        Ok(stock)
    } else {
        Err(FieldIssue::new(
            "invalid_quantity",
            format!("a whole number of units from 0 to {MAX_STOCK}"),
        ))
    }
}

fn assemble(
    mut errors: FieldErrors,
    label: Option<String>,
    price: Option<Money>,
    weight: Option<i64>,
    sku: Option<Option<String>>,
    stock: Option<i64>,
    gtin: Option<Option<Gtin>>,
) -> AppResult<NewVariant> {
    match (label, price, weight, sku, stock, gtin, errors.is_empty()) {
        (
            Some(label),
            Some(price),
            Some(weight_grams),
            Some(sku),
            Some(stock_quantity),
            Some(gtin),
            true,
        ) => Ok(NewVariant {
            label,
            price,
            weight_grams,
            sku,
            stock_quantity,
            gtin,
        }),
        _ => {
            if errors.is_empty() {
                errors.add("label", FieldIssue::new("invalid", "check the variant"));
            }
            Err(errors.into_error())
        }
    }
}

impl VariantRequest {
    pub fn parse(&self) -> AppResult<NewVariant> {
        let mut errors = FieldErrors::default();
        let label = errors.take("label", bounded_text(&self.label, 1, 60));
        let price = errors.take("price_vnd", Money::parse_price(self.price_vnd));
        let weight = errors.take("weight_grams", parse_weight(self.weight_grams));
        let sku = errors.take("sku", optional_text(self.sku.as_deref().unwrap_or(""), 64));
        let stock = errors.take("stock_quantity", parse_initial_stock(self.stock_quantity));
        let gtin = errors.take("gtin", parse_gtin(self.gtin.as_deref().unwrap_or("")));
        assemble(errors, label, price, weight, sku, stock, gtin)
    }
}

impl VariantForm {
    pub fn from_model(variant: &product_variants::Model) -> Self {
        Self {
            label: variant.label.clone(),
            price: variant.price_vnd.to_string(),
            weight_grams: variant.weight_grams.to_string(),
            sku: variant.sku.clone().unwrap_or_default(),
            stock_quantity: variant.stock_quantity.to_string(),
            gtin: typed_gtin(variant),
        }
    }

    pub fn parse(&self) -> AppResult<NewVariant> {
        let mut errors = FieldErrors::default();
        let label = errors.take("label", bounded_text(&self.label, 1, 60));
        let price = errors.take("price", Money::parse_price_text(&self.price));
        let weight = errors.take(
            "weight_grams",
            parse_text_number(
                &self.weight_grams,
                "invalid_weight",
                "a whole number of grams",
            )
            .and_then(parse_weight),
        );
        let sku = errors.take("sku", optional_text(&self.sku, 64));
        let stock = errors.take(
            "stock_quantity",
            parse_text_number(
                &self.stock_quantity,
                "invalid_quantity",
                "a whole number of units, 0 or more",
            )
            .and_then(parse_initial_stock),
        );
        let gtin = errors.take("gtin", parse_gtin(&self.gtin));
        assemble(errors, label, price, weight, sku, stock, gtin)
    }
}

/// A product's variants, first variant first.
pub async fn of_product(
    db: &impl ConnectionTrait,
    product_id: i64,
) -> AppResult<Vec<product_variants::Model>> {
    Ok(product_variants::Entity::find()
        .filter(product_variants::Column::ProductId.eq(product_id))
        .order_by_asc(product_variants::Column::Position)
        .order_by_asc(product_variants::Column::Id)
        .all(db)
        .await?)
}

/// Variants by id, with nothing else read.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> AppResult<BTreeMap<i64, product_variants::Model>> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(500) {
        for v in product_variants::Entity::find()
            .filter(product_variants::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            out.insert(v.id, v);
        }
    }
    Ok(out)
}

/// The variant a shopper or a member means: `variant_id` when given (it must be one of the
/// product's), the product's first variant otherwise.
pub async fn resolve(
    db: &impl ConnectionTrait,
    product_id: i64,
    variant_id: Option<i64>,
) -> AppResult<Option<product_variants::Model>> {
    let mut query =
        product_variants::Entity::find().filter(product_variants::Column::ProductId.eq(product_id));
    if let Some(id) = variant_id {
        query = query.filter(product_variants::Column::Id.eq(id));
    }
    Ok(query
        .order_by_asc(product_variants::Column::Position)
        .order_by_asc(product_variants::Column::Id)
        .one(db)
        .await?)
}

/// Creates the first variant of a new product (in the product's transaction).
pub async fn insert_first(
    db: &impl ConnectionTrait,
    product: &products::Model,
    weight_grams: i64,
) -> AppResult<product_variants::Model> {
    let now = Utc::now();
    Ok(product_variants::ActiveModel {
        product_id: Set(product.id),
        label: Set(product.unit.clone()),
        price_vnd: Set(product.price_vnd),
        stock_quantity: Set(product.stock_quantity),
        weight_grams: Set(weight_grams),
        sku: Set(None),
        position: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// A product edit changed its price or unit: they are its first variant's (in the edit's
/// transaction). Never touches stock.
pub async fn follow_product_edit(
    db: &impl ConnectionTrait,
    product: &products::Model,
    weight_grams: Option<i64>,
) -> AppResult<()> {
    let mut update = product_variants::Entity::update_many()
        .col_expr(
            product_variants::Column::Label,
            Expr::value(product.unit.clone()),
        )
        .col_expr(
            product_variants::Column::PriceVnd,
            Expr::value(product.price_vnd),
        )
        .col_expr(product_variants::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(weight) = weight_grams {
        update = update.col_expr(product_variants::Column::WeightGrams, Expr::value(weight));
    }
    let changed = update
        .filter(product_variants::Column::ProductId.eq(product.id))
        .filter(product_variants::Column::Position.eq(0))
        .exec(db)
        .await?
        .rows_affected;
    if changed == 0 {
        // A product written before variants existed outside a migration (bulk seeds).
        insert_first(db, product, weight_grams.unwrap_or(DEFAULT_WEIGHT_GRAMS)).await?;
    }
    refresh_prices(db, product.id).await
}

/// Writes the lowest and highest variant price on the product row.
///
/// The product row is locked before the prices are read (PostgreSQL; SQLite has one writer):
/// two edits of two sizes of one product each changed their own variant row, and without the
/// lock each would compute the range without the other's uncommitted price, and the second to
/// commit would leave a stale "from" price. With it, the second waits for the first to commit,
/// and its read (a new statement under READ COMMITTED) sees both prices. The variant rows were
/// locked first, so the lock order holds.
pub async fn refresh_prices(db: &impl ConnectionTrait, product_id: i64) -> AppResult<()> {
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        products::Entity::find_by_id(product_id)
            .lock_exclusive()
            .one(db)
            .await?;
    }
    let (min, max): (Option<i64>, Option<i64>) = product_variants::Entity::find()
        .select_only()
        .column_as(product_variants::Column::PriceVnd.min(), "min")
        .column_as(product_variants::Column::PriceVnd.max(), "max")
        .filter(product_variants::Column::ProductId.eq(product_id))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((None, None));
    if let (Some(min), Some(max)) = (min, max) {
        products::Entity::update_many()
            .col_expr(products::Column::PriceVnd, Expr::value(min))
            .col_expr(products::Column::MaxPriceVnd, Expr::value(max))
            .filter(products::Column::Id.eq(product_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Adds `delta` units to the product row's stock summary, after its variant changed (the
/// variant row is already locked by that change, so the lock order holds).
pub async fn add_to_product_stock(
    db: &impl ConnectionTrait,
    product_id: i64,
    delta: i64,
) -> AppResult<()> {
    products::Entity::update_many()
        .col_expr(
            products::Column::StockQuantity,
            Expr::col(products::Column::StockQuantity).add(delta),
        )
        .filter(products::Column::Id.eq(product_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Adds a variant to a product (members of its cooperative; the caller checked).
pub async fn add(
    db: &(impl ConnectionTrait + TransactionTrait),
    product: &products::Model,
    variant: NewVariant,
) -> AppResult<product_variants::Model> {
    let txn = crate::db::begin_write(db).await?;
    let count = product_variants::Entity::find()
        .filter(product_variants::Column::ProductId.eq(product.id))
        .count(&txn)
        .await?;
    if count >= MAX_VARIANTS {
        return Err(AppError::conflict(
            "too_many_variants",
            "label",
            format!("a product has at most {MAX_VARIANTS} variants"),
        ));
    }
    let last: Option<i32> = product_variants::Entity::find()
        .select_only()
        .column_as(product_variants::Column::Position.max(), "last")
        .filter(product_variants::Column::ProductId.eq(product.id))
        .into_tuple::<Option<i32>>()
        .one(&txn)
        .await?
        .flatten();
    let now = Utc::now();
    let row = product_variants::ActiveModel {
        product_id: Set(product.id),
        label: Set(variant.label),
        price_vnd: Set(variant.price.dong()),
        stock_quantity: Set(variant.stock_quantity),
        weight_grams: Set(variant.weight_grams),
        sku: Set(variant.sku),
        position: Set(last.map_or(0, |p| p + 1)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let row = claim_gtin(&txn, product, row, variant.gtin.as_ref()).await?;
    add_to_product_stock(&txn, product.id, row.stock_quantity).await?;
    refresh_prices(&txn, product.id).await?;
    enqueue_products(&txn, &[product.id]).await?;
    txn.commit().await?;
    Ok(row)
}

/// Records the GTIN a size claims, under its product's cooperative (see [`super::gtins`]).
async fn claim_gtin(
    db: &impl ConnectionTrait,
    product: &products::Model,
    variant: product_variants::Model,
    gtin: Option<&Gtin>,
) -> AppResult<product_variants::Model> {
    let cooperative = cooperatives::Entity::find_by_id(product.cooperative_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    super::gtins::claim(db, variant, gtin, &cooperative).await
}

/// Changes a variant's label, price, weight, SKU and GTIN, never its stock. Editing the first
/// variant edits the product's own unit too.
pub async fn update(
    db: &(impl ConnectionTrait + TransactionTrait),
    product: &products::Model,
    variant_id: i64,
    variant: NewVariant,
) -> AppResult<product_variants::Model> {
    let txn = crate::db::begin_write(db).await?;
    let current = product_variants::Entity::find_by_id(variant_id)
        .filter(product_variants::Column::ProductId.eq(product.id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let first = current.position == 0;
    let mut row: product_variants::ActiveModel = current.into();
    row.label = Set(variant.label.clone());
    row.price_vnd = Set(variant.price.dong());
    row.weight_grams = Set(variant.weight_grams);
    row.sku = Set(variant.sku);
    row.updated_at = Set(Utc::now());
    let row = row.update(&txn).await?;
    let row = claim_gtin(&txn, product, row, variant.gtin.as_ref()).await?;
    if first {
        products::Entity::update_many()
            .col_expr(products::Column::Unit, Expr::value(variant.label))
            .col_expr(products::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(products::Column::Id.eq(product.id))
            .exec(&txn)
            .await?;
    }
    refresh_prices(&txn, product.id).await?;
    enqueue_products(&txn, &[product.id]).await?;
    txn.commit().await?;
    Ok(row)
}

/// Removes a variant that has left no trace: not the product's last (or first) variant, and
/// no order or batch names it. Cart lines of it go with it, and its stock leaves the
/// product's sum.
pub async fn delete(
    db: &(impl ConnectionTrait + TransactionTrait),
    product: &products::Model,
    variant_id: i64,
) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let variant = product_variants::Entity::find_by_id(variant_id)
        .filter(product_variants::Column::ProductId.eq(product.id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if variant.position == 0 {
        return Err(AppError::conflict(
            "first_variant",
            "variant_id",
            "the first variant is the product's own price and unit; edit it instead",
        ));
    }
    let in_orders = order_items::Entity::find()
        .filter(order_items::Column::VariantId.eq(variant.id))
        .one(&txn)
        .await?
        .is_some();
    let in_batches = batches::Entity::find()
        .filter(batches::Column::VariantId.eq(variant.id))
        .one(&txn)
        .await?
        .is_some();
    if in_orders || in_batches {
        return Err(AppError::conflict(
            "variant_in_use",
            "variant_id",
            "this variant has orders or batches, which must stay traceable",
        ));
    }
    cart_items::Entity::delete_many()
        .filter(cart_items::Column::VariantId.eq(variant.id))
        .exec(&txn)
        .await?;
    // Delete with its stock as read under the write lock, so a concurrent checkout cannot
    // slip units between the read and the delete.
    let deleted = product_variants::Entity::delete_many()
        .filter(product_variants::Column::Id.eq(variant.id))
        .filter(product_variants::Column::StockQuantity.eq(variant.stock_quantity))
        .exec(&txn)
        .await?
        .rows_affected;
    if deleted != 1 {
        return Err(AppError::conflict(
            "stock_changed",
            "variant_id",
            "the variant's stock changed meanwhile; try again",
        ));
    }
    add_to_product_stock(&txn, product.id, -variant.stock_quantity).await?;
    refresh_prices(&txn, product.id).await?;
    enqueue_products(&txn, &[product.id]).await?;
    txn.commit().await?;
    Ok(())
}

/// Gives every product without a variant its first one, from its own price, stock and unit,
/// as the migration did (bulk seeds and tools that write product rows directly).
pub async fn backfill(db: &impl ConnectionTrait) -> AppResult<u64> {
    let sql = format!(
        "INSERT INTO product_variants (product_id, label, price_vnd, stock_quantity, \
         weight_grams, sku, position, created_at, updated_at) \
         SELECT p.id, p.unit, p.price_vnd, p.stock_quantity, {DEFAULT_WEIGHT_GRAMS}, NULL, 0, \
         p.created_at, p.updated_at FROM products p WHERE NOT EXISTS \
         (SELECT 1 FROM product_variants v WHERE v.product_id = p.id) ORDER BY p.id"
    );
    let inserted = db.execute_unprepared(&sql).await?.rows_affected();
    db.execute_unprepared(
        "UPDATE products SET max_price_vnd = price_vnd WHERE max_price_vnd < price_vnd",
    )
    .await?;
    Ok(inserted)
}

/// The owned GTIN naming the variant `variant_id` of `product`, in its 14-digit form. `None`
/// (a batch recorded before variants) means the first variant.
pub async fn gtin_of_variant(
    db: &impl ConnectionTrait,
    product: &products::Model,
    variant_id: Option<i64>,
) -> AppResult<Option<String>> {
    Ok(resolve(db, product.id, variant_id)
        .await?
        .and_then(|variant| variant.gtin))
}

/// A variant's label, for what names a batch's size (origin page, labels).
pub async fn label_of(
    db: &impl ConnectionTrait,
    product: &products::Model,
    variant_id: Option<i64>,
) -> AppResult<String> {
    let variant = match variant_id {
        Some(id) => product_variants::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    Ok(variant.map_or_else(|| product.unit.clone(), |v| v.label))
}

/// What a printed label calls a batch's goods: the product's short name, and the size when
/// the product comes in more than one (so a stamp names the exact trade item).
pub async fn label_name(
    db: &impl ConnectionTrait,
    product: &products::Model,
    variant_id: Option<i64>,
) -> AppResult<String> {
    let sizes = product_variants::Entity::find()
        .filter(product_variants::Column::ProductId.eq(product.id))
        .count(db)
        .await?;
    if sizes <= 1 {
        return Ok(product.short_name.clone());
    }
    let label = label_of(db, product, variant_id).await?;
    Ok(format!("{} · {label}", product.short_name))
}
