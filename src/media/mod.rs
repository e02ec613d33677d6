//! Product and batch photos: a cooperative member uploads them from a phone; the shop serves
//! them small, upright and without metadata.
//!
//! An upload is processed off the async threads ([`processing`]), its files are written to
//! object storage ([`store`]) and only then is its row inserted, in one transaction with the
//! product's `cover_photo` copy. So a crash leaves at worst unreferenced files, never a row
//! whose files are missing. Deleting goes the other way: the row first, the files after the
//! commit. Every photo has files of its own (the name hashes the upload and a per-upload
//! nonce), so deleting one photo can never take the files of another.

pub mod bench;
pub mod processing;
pub mod routes;
mod s3;
pub mod store;

use std::sync::Arc;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use utoipa::ToSchema;

use crate::accounts::CurrentUser;
use crate::config::PhotoLimits;
use crate::domain::FieldIssue;
use crate::entities::{photos, products};
use crate::error::{AppError, AppResult, FieldErrors};
use processing::{ProcessedPhoto, Rejection};
use store::PhotoStore;

pub use routes::{api_routes, page_routes};

/// Most photos one product or batch may have.
pub const MAX_PHOTOS: u64 = 12;

/// What a photo belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoOwner {
    Product(i64),
    Batch(i64),
}

impl PhotoOwner {
    fn of(photo: &photos::Model) -> Option<Self> {
        // A review's photo is its author's, not the cooperative's to move or delete.
        if photo.review_id.is_some() {
            return None;
        }
        match (photo.product_id, photo.batch_id) {
            (Some(id), None) => Some(Self::Product(id)),
            (None, Some(id)) => Some(Self::Batch(id)),
            _ => None,
        }
    }

    fn filter(self) -> sea_orm::Condition {
        match self {
            Self::Product(id) => sea_orm::Condition::all()
                .add(photos::Column::ProductId.eq(id))
                .add(photos::Column::BatchId.is_null())
                .add(photos::Column::ReviewId.is_null()),
            Self::Batch(id) => sea_orm::Condition::all().add(photos::Column::BatchId.eq(id)),
        }
    }
}

/// A photo as pages show it: the URL of a phone-sized variant and a `srcset` of all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PhotoImage {
    /// Size of the largest variant; pages use it as the aspect ratio (no layout shift).
    pub width: u32,
    pub height: u32,
    /// A variant about 640 pixels wide (or the largest when narrower).
    pub src: String,
    /// Every variant, as `<url> <width>w` pairs.
    pub srcset: String,
}

/// The copy of a product's first photo kept in `products.cover_photo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CoverPhoto {
    #[serde(rename = "d")]
    digest: String,
    #[serde(rename = "w")]
    width: u32,
    #[serde(rename = "h")]
    height: u32,
    #[serde(rename = "v")]
    widths: Vec<u32>,
}

impl PhotoImage {
    fn new(digest: &str, width: u32, height: u32, widths: &[u32]) -> Self {
        let src_width = widths
            .iter()
            .copied()
            .find(|&w| w >= 640)
            .or_else(|| widths.last().copied())
            .unwrap_or(width);
        Self {
            width,
            height,
            src: url_of(digest, src_width),
            srcset: widths
                .iter()
                .map(|&w| format!("{} {w}w", url_of(digest, w)))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    pub fn of(photo: &photos::Model) -> Self {
        Self::new(
            &photo.digest,
            u32::try_from(photo.width).unwrap_or(0),
            u32::try_from(photo.height).unwrap_or(0),
            &parse_widths(&photo.widths),
        )
    }

    /// The cover photo of a product, from its `cover_photo` column.
    pub fn cover_of(product: &products::Model) -> Option<Self> {
        let cover: CoverPhoto = serde_json::from_str(product.cover_photo.as_deref()?).ok()?;
        Some(Self::new(
            &cover.digest,
            cover.width,
            cover.height,
            &cover.widths,
        ))
    }

    /// The aspect ratio for CSS, e.g. `4 / 3`.
    pub fn aspect_ratio(&self) -> String {
        format!("{} / {}", self.width.max(1), self.height.max(1))
    }
}

/// The public address of one variant (served by [`routes`] with an immutable cache header).
pub fn url_of(digest: &str, width: u32) -> String {
    format!("/media/photos/{digest}-{width}.jpg")
}

fn parse_widths(text: &str) -> Vec<u32> {
    text.split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect()
}

fn format_widths(widths: impl IntoIterator<Item = u32>) -> String {
    widths
        .into_iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Processes, stores and forgets photos.
pub struct PhotoService {
    store: PhotoStore,
    limits: PhotoLimits,
    /// Decoding a 12-megapixel photo takes about 50 MB and a core for a moment: at most this
    /// many at once, so a burst of uploads queues instead of exhausting memory.
    processing: Semaphore,
    /// Uploads whose bodies may be read at once (each up to 20 MB in memory).
    receiving: Semaphore,
}

/// Most upload bodies held in memory at once: 8 × 20 MB at worst.
const RECEIVING_AT_ONCE: usize = 8;

impl PhotoService {
    pub fn new(store: PhotoStore, limits: PhotoLimits) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            store,
            limits,
            processing: Semaphore::new(cores.clamp(1, 4)),
            receiving: Semaphore::new(RECEIVING_AT_ONCE),
        }
    }

    /// Waits for a place to receive an upload; hold it while the body is read and processed.
    pub async fn admit(&self) -> AppResult<tokio::sync::SemaphorePermit<'_>> {
        self.receiving
            .acquire()
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("photo uploads are shut down")))
    }

    pub fn limits(&self) -> &PhotoLimits {
        &self.limits
    }

    pub fn store(&self) -> &PhotoStore {
        &self.store
    }

    /// Processes an upload on a blocking thread. A refused upload is a validation error on
    /// the `photo` field; nothing is stored.
    pub async fn process(&self, upload: bytes::Bytes) -> AppResult<ProcessedPhoto> {
        let _permit =
            self.processing.acquire().await.map_err(|_| {
                AppError::Internal(anyhow::anyhow!("photo processing is shut down"))
            })?;
        let limits = self.limits;
        let processed = tokio::task::spawn_blocking(move || processing::process(&upload, &limits))
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("photo processing failed: {e}")))?;
        Ok(processed?)
    }

    /// Adds a photo at the end of `owner`'s photos (`cooperative_id` is the owner's
    /// cooperative, checked by the caller).
    pub async fn add(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        user: &CurrentUser,
        cooperative_id: i64,
        owner: PhotoOwner,
        upload: bytes::Bytes,
    ) -> AppResult<photos::Model> {
        if count(db, owner).await? >= MAX_PHOTOS {
            return Err(too_many_photos());
        }
        let mut processed = self.process(upload).await?;
        // Files of their own for every upload: see the module documentation.
        processed.digest = unique_digest(&processed.digest);
        self.store
            .put(&processed)
            .await
            .map_err(AppError::Internal)?;
        let inserted = self
            .insert_row(db, user, cooperative_id, owner, &processed)
            .await;
        if inserted.is_err() {
            let widths: Vec<u32> = processed.variants.iter().map(|v| v.width).collect();
            if let Err(err) = self.store.delete(&processed.digest, &widths).await {
                tracing::warn!(error = %err, digest = %processed.digest, "removing the files of a photo that was not saved");
            }
        }
        inserted
    }

    async fn insert_row(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        user: &CurrentUser,
        cooperative_id: i64,
        owner: PhotoOwner,
        processed: &ProcessedPhoto,
    ) -> AppResult<photos::Model> {
        let largest = processed.largest();
        let txn = crate::db::begin_write(db).await?;
        // Counted again inside the write transaction: two uploads racing for the last place
        // cannot both take it.
        let existing = photos::Entity::find()
            .filter(owner.filter())
            .order_by_desc(photos::Column::Position)
            .all(&txn)
            .await?;
        if existing.len() as u64 >= MAX_PHOTOS {
            return Err(too_many_photos());
        }
        let position = existing.first().map_or(0, |p| p.position + 1);
        let (product_id, batch_id) = match owner {
            PhotoOwner::Product(id) => (Some(id), None),
            PhotoOwner::Batch(id) => (None, Some(id)),
        };
        let row = photos::ActiveModel {
            cooperative_id: Set(cooperative_id),
            product_id: Set(product_id),
            batch_id: Set(batch_id),
            review_id: Set(None),
            position: Set(position),
            digest: Set(processed.digest.clone()),
            width: Set(i32::try_from(largest.width).unwrap_or(i32::MAX)),
            height: Set(i32::try_from(largest.height).unwrap_or(i32::MAX)),
            widths: Set(format_widths(processed.variants.iter().map(|v| v.width))),
            stored_bytes: Set(i64::try_from(processed.stored_bytes()).unwrap_or(i64::MAX)),
            uploaded_by: Set(user.id),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        refresh_cover(&txn, owner).await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Deletes a photo; the files go after the row is gone.
    pub async fn delete(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        photo: photos::Model,
    ) -> AppResult<()> {
        let txn = crate::db::begin_write(db).await?;
        photos::Entity::delete_by_id(photo.id).exec(&txn).await?;
        if let Some(owner) = PhotoOwner::of(&photo) {
            renumber(&txn, owner).await?;
            refresh_cover(&txn, owner).await?;
        }
        txn.commit().await?;
        self.forget_files(std::slice::from_ref(&photo)).await;
        Ok(())
    }

    /// Removes the files of photos whose rows were deleted. A failure is logged, not
    /// returned: the rows are gone and the files are unreachable (their names are unguessable);
    /// `ocop-market media sweep` removes such leftovers.
    pub async fn forget_files(&self, photos: &[photos::Model]) {
        for photo in photos {
            if let Err(err) = self
                .store
                .delete(&photo.digest, &parse_widths(&photo.widths))
                .await
            {
                tracing::warn!(error = %err, digest = %photo.digest, "removing a deleted photo's files");
            }
        }
    }

    /// Moves a photo one place earlier (`up`) or later among its owner's photos.
    pub async fn move_photo(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        photo: &photos::Model,
        up: bool,
    ) -> AppResult<()> {
        let Some(owner) = PhotoOwner::of(photo) else {
            return Ok(());
        };
        let txn = crate::db::begin_write(db).await?;
        let mut order: Vec<i64> = ordered(&txn, owner).await?.iter().map(|p| p.id).collect();
        if let Some(index) = order.iter().position(|&id| id == photo.id) {
            let other = if up {
                index.checked_sub(1)
            } else {
                Some(index + 1).filter(|&i| i < order.len())
            };
            if let Some(other) = other {
                order.swap(index, other);
            }
        }
        write_order(&txn, &order).await?;
        refresh_cover(&txn, owner).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Puts `owner`'s photos in the given order, which must name each of them exactly once.
    pub async fn reorder(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        owner: PhotoOwner,
        order: &[i64],
    ) -> AppResult<Vec<photos::Model>> {
        let txn = crate::db::begin_write(db).await?;
        let mut current: Vec<i64> = ordered(&txn, owner).await?.iter().map(|p| p.id).collect();
        let mut wanted = order.to_vec();
        current.sort_unstable();
        wanted.sort_unstable();
        if current != wanted {
            return Err(FieldErrors::single(
                "photo_ids",
                FieldIssue::new(
                    "photo_order_mismatch",
                    "list every photo of this product or batch exactly once",
                ),
            ));
        }
        write_order(&txn, order).await?;
        refresh_cover(&txn, owner).await?;
        let photos = ordered(&txn, owner).await?;
        txn.commit().await?;
        Ok(photos)
    }
}

impl PhotoService {
    /// Processes an upload and writes its files, before any row names them (a review's photos
    /// are stored first and inserted with the review, in its transaction). Hand the result to
    /// [`insert_review_photo`], or to [`PhotoService::discard`] when the row is not written.
    pub async fn store_upload(&self, upload: bytes::Bytes) -> AppResult<ProcessedPhoto> {
        let mut processed = self.process(upload).await?;
        processed.digest = unique_digest(&processed.digest);
        self.store
            .put(&processed)
            .await
            .map_err(AppError::Internal)?;
        Ok(processed)
    }

    /// Removes the files of stored uploads whose rows were not written.
    pub async fn discard(&self, stored: &[ProcessedPhoto]) {
        for processed in stored {
            let widths: Vec<u32> = processed.variants.iter().map(|v| v.width).collect();
            if let Err(err) = self.store.delete(&processed.digest, &widths).await {
                tracing::warn!(error = %err, digest = %processed.digest, "removing the files of a photo that was not saved");
            }
        }
    }
}

/// Inserts the row of a review's photo (stored by [`PhotoService::store_upload`]) in the
/// caller's transaction. `cooperative_id` and `product_id` are the reviewed product's (a
/// photo row names its product or batch); `review_id` keeps it out of the product's photos.
#[allow(clippy::too_many_arguments)]
pub async fn insert_review_photo(
    db: &impl ConnectionTrait,
    uploaded_by: i64,
    cooperative_id: i64,
    product_id: i64,
    review_id: i64,
    position: i32,
    processed: &ProcessedPhoto,
) -> AppResult<photos::Model> {
    let largest = processed.largest();
    Ok(photos::ActiveModel {
        cooperative_id: Set(cooperative_id),
        product_id: Set(Some(product_id)),
        batch_id: Set(None),
        review_id: Set(Some(review_id)),
        position: Set(position),
        digest: Set(processed.digest.clone()),
        width: Set(i32::try_from(largest.width).unwrap_or(i32::MAX)),
        height: Set(i32::try_from(largest.height).unwrap_or(i32::MAX)),
        widths: Set(format_widths(processed.variants.iter().map(|v| v.width))),
        stored_bytes: Set(i64::try_from(processed.stored_bytes()).unwrap_or(i64::MAX)),
        uploaded_by: Set(uploaded_by),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// The photos of the given reviews, in upload order, by review id.
pub async fn of_reviews(
    db: &impl ConnectionTrait,
    review_ids: &[i64],
) -> AppResult<std::collections::HashMap<i64, Vec<PhotoImage>>> {
    let mut by_review: std::collections::HashMap<i64, Vec<PhotoImage>> =
        std::collections::HashMap::new();
    if review_ids.is_empty() {
        return Ok(by_review);
    }
    let rows = photos::Entity::find()
        .filter(photos::Column::ReviewId.is_in(review_ids.iter().copied()))
        .order_by_asc(photos::Column::Position)
        .order_by_asc(photos::Column::Id)
        .all(db)
        .await?;
    for row in rows {
        if let Some(review_id) = row.review_id {
            by_review
                .entry(review_id)
                .or_default()
                .push(PhotoImage::of(&row));
        }
    }
    Ok(by_review)
}

fn too_many_photos() -> AppError {
    FieldErrors::single(
        "photo",
        FieldIssue::new(
            "photo_limit",
            format!("at most {MAX_PHOTOS} photos; delete one before adding another"),
        ),
    )
}

/// The processed digest made unique to this upload with 64 random bits, so two uploads of
/// the same file get files of their own.
fn unique_digest(content_digest: &str) -> String {
    let nonce: u64 = rand::random();
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut hasher, content_digest.as_bytes());
    sha2::Digest::update(&mut hasher, nonce.to_le_bytes());
    let hex = data_encoding::HEXLOWER.encode(&sha2::Digest::finalize(hasher));
    hex[..32].to_owned()
}

async fn count(db: &impl ConnectionTrait, owner: PhotoOwner) -> AppResult<u64> {
    Ok(photos::Entity::find()
        .filter(owner.filter())
        .count(db)
        .await?)
}

/// `owner`'s photos in display order.
pub async fn ordered(
    db: &impl ConnectionTrait,
    owner: PhotoOwner,
) -> AppResult<Vec<photos::Model>> {
    Ok(photos::Entity::find()
        .filter(owner.filter())
        .order_by_asc(photos::Column::Position)
        .order_by_asc(photos::Column::Id)
        .all(db)
        .await?)
}

async fn write_order(db: &impl ConnectionTrait, order: &[i64]) -> AppResult<()> {
    for (position, id) in order.iter().enumerate() {
        photos::Entity::update_many()
            .col_expr(
                photos::Column::Position,
                Expr::value(i32::try_from(position).unwrap_or(i32::MAX)),
            )
            .filter(photos::Column::Id.eq(*id))
            .exec(db)
            .await?;
    }
    Ok(())
}

async fn renumber(db: &impl ConnectionTrait, owner: PhotoOwner) -> AppResult<()> {
    let order: Vec<i64> = ordered(db, owner).await?.iter().map(|p| p.id).collect();
    write_order(db, &order).await
}

/// Copies a product's first photo into `products.cover_photo` (batches have no cover).
async fn refresh_cover(db: &impl ConnectionTrait, owner: PhotoOwner) -> AppResult<()> {
    let PhotoOwner::Product(product_id) = owner else {
        return Ok(());
    };
    let cover = ordered(db, owner).await?.into_iter().next().map(|first| {
        serde_json::to_string(&CoverPhoto {
            width: u32::try_from(first.width).unwrap_or(0),
            height: u32::try_from(first.height).unwrap_or(0),
            widths: parse_widths(&first.widths),
            digest: first.digest,
        })
        .unwrap_or_default()
    });
    products::Entity::update_many()
        .col_expr(products::Column::CoverPhoto, Expr::value(cover))
        .filter(products::Column::Id.eq(product_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the rows of every photo of a product and of its batches, in the caller's
/// transaction; the caller hands the returned rows to [`PhotoService::forget_files`] after
/// committing.
pub async fn delete_rows_of_product(
    db: &impl ConnectionTrait,
    product_id: i64,
) -> AppResult<Vec<photos::Model>> {
    let rows = photos::Entity::find()
        .filter(photos::Column::ProductId.eq(product_id))
        .all(db)
        .await?;
    photos::Entity::delete_many()
        .filter(photos::Column::ProductId.eq(product_id))
        .exec(db)
        .await?;
    Ok(rows)
}

/// What a sweep of the photo storage found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub files: usize,
    pub removed: usize,
}

/// Removes photo files no row names any more (left by a crash between writing the files and
/// committing the row, or between deleting the row and its files). Files younger than
/// `grace` are left alone: they may belong to an upload whose row is being written.
pub async fn sweep(
    db: &impl ConnectionTrait,
    store: &PhotoStore,
    grace: chrono::Duration,
) -> anyhow::Result<SweepReport> {
    let files = store.list().await?;
    let cutoff = Utc::now() - grace;
    let mut report = SweepReport {
        files: files.len(),
        removed: 0,
    };
    let candidates: Vec<&store::StoredFile> =
        files.iter().filter(|f| f.written_at < cutoff).collect();
    for chunk in candidates.chunks(500) {
        let digests: Vec<String> = chunk.iter().map(|f| f.digest.clone()).collect();
        let known: std::collections::HashSet<String> = photos::Entity::find()
            .filter(photos::Column::Digest.is_in(digests))
            .all(db)
            .await?
            .into_iter()
            .map(|p| p.digest)
            .collect();
        for file in chunk.iter().filter(|f| !known.contains(&f.digest)) {
            store.delete(&file.digest, &[file.width]).await?;
            report.removed += 1;
        }
    }
    Ok(report)
}

/// A photo by id ("not found" if there is none). Who may manage it is the caller's check.
pub async fn photo_by_id(db: &impl ConnectionTrait, photo_id: i64) -> AppResult<photos::Model> {
    photos::Entity::find_by_id(photo_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// The app's photo service, shared by the handlers.
pub type SharedPhotos = Arc<PhotoService>;

impl From<Rejection> for AppError {
    fn from(rejection: Rejection) -> Self {
        FieldErrors::single("photo", rejection.to_issue())
    }
}
