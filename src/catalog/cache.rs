//! A short-lived cache of public product pages' data (product, cooperative, current
//! certificate), by slug and by id, and of the home page's product counts per province.
//! Product pages are the most read pages of the shop; without it each view costs two database
//! round trips.
//!
//! Freshness: entries live [`TTL`]; a write that changes a product or a cooperative forgets
//! their entries (through `crate::changes`, on every app server when they share Redis), so a
//! change is seen at once, and nothing else is forgotten. A read that began before a forget
//! does not keep what it read (it may predate the change).

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use sea_orm::ConnectionTrait;

use super::views::{CertificateView, ProductDetail, ProductSummary};
use super::{certificates, products};
use crate::clock::today_in_vietnam;
use crate::entities::{
    cooperatives, ocop_certificates, photos, product_variants, products as product_rows,
};
use crate::error::AppResult;
use crate::i18n::Lang;
use crate::media::PhotoImage;
use crate::reference::ReferenceData;

pub const TTL: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 100_000;

/// What a product page needs from the database.
#[derive(Debug)]
pub struct ProductRecord {
    pub product: product_rows::Model,
    pub cooperative: cooperatives::Model,
    pub certificate: Option<ocop_certificates::Model>,
    /// Photos in display order.
    pub photos: Vec<photos::Model>,
    /// The sizes it is sold in, first variant first.
    pub variants: Vec<product_variants::Model>,
}

impl ProductRecord {
    /// The certificate and photos of a product already read.
    pub async fn load(
        db: &impl ConnectionTrait,
        product: product_rows::Model,
        cooperative: cooperatives::Model,
    ) -> AppResult<Self> {
        Ok(Self {
            certificate: certificates::current_verified(db, product.id).await?,
            photos: crate::media::ordered(db, crate::media::PhotoOwner::Product(product.id))
                .await?,
            variants: super::variants::of_product(db, product.id).await?,
            product,
            cooperative,
        })
    }
}

/// Public products per province code.
pub type ProvinceCounts = Arc<Vec<(String, i64)>>;

#[derive(Default)]
pub struct ProductCache {
    by_slug: DashMap<String, (Instant, Arc<ProductRecord>)>,
    by_id: DashMap<i64, (Instant, Arc<ProductRecord>)>,
    /// The home page's counts: a pass over the whole catalogue (about 8 ms at 100,000
    /// products), so kept for [`COUNTS_TTL`].
    province_counts: std::sync::Mutex<Option<(Instant, ProvinceCounts)>>,
    /// Times entries were forgotten: what a read began before a forget is not kept after it.
    clears: std::sync::atomic::AtomicU64,
}

/// How long the home page's counts per province are kept.
pub const COUNTS_TTL: Duration = Duration::from_secs(10);

impl ProductCache {
    /// A public product by slug.
    pub async fn public_by_slug(
        &self,
        db: &impl ConnectionTrait,
        slug: &str,
    ) -> AppResult<Arc<ProductRecord>> {
        if let Some(entry) = self.by_slug.get(slug)
            && entry.0.elapsed() < TTL
        {
            return Ok(entry.1.clone());
        }
        let clears_before = self.clears.load(std::sync::atomic::Ordering::SeqCst);
        let (product, cooperative) = products::public_by_slug(db, slug).await?;
        let record = Arc::new(ProductRecord::load(db, product, cooperative).await?);
        self.keep(
            &self.by_slug,
            slug.to_owned(),
            record.clone(),
            clears_before,
        );
        Ok(record)
    }

    /// A product by id whatever its visibility (callers check it).
    pub async fn by_id(&self, db: &impl ConnectionTrait, id: i64) -> AppResult<Arc<ProductRecord>> {
        if let Some(entry) = self.by_id.get(&id)
            && entry.0.elapsed() < TTL
        {
            return Ok(entry.1.clone());
        }
        let clears_before = self.clears.load(std::sync::atomic::Ordering::SeqCst);
        let (product, cooperative) = products::by_id_with_cooperative(db, id).await?;
        let record = Arc::new(ProductRecord::load(db, product, cooperative).await?);
        self.keep(&self.by_id, id, record.clone(), clears_before);
        Ok(record)
    }

    fn keep<K: std::hash::Hash + Eq + Clone>(
        &self,
        map: &DashMap<K, (Instant, Arc<ProductRecord>)>,
        key: K,
        record: Arc<ProductRecord>,
        clears_before: u64,
    ) {
        if map.len() > MAX_ENTRIES {
            map.clear();
        }
        map.insert(key.clone(), (Instant::now(), record));
        // Something was forgotten while this was read: it may predate the change. Checked
        // after the insert, so that a forget running meanwhile either removes it or is seen.
        if self.clears.load(std::sync::atomic::Ordering::SeqCst) != clears_before {
            map.remove(&key);
        }
    }

    /// Forgets one product (edited, published, archived, deleted, its photos or certificate
    /// changed) and the home page's counts.
    pub fn forget_product(&self, product_id: i64) {
        self.forget_where(|record| record.product.id == product_id);
    }

    /// Forgets every product of a cooperative (renamed, moved, verified, suspended).
    pub fn forget_cooperative(&self, cooperative_id: i64) {
        self.forget_where(|record| record.cooperative.id == cooperative_id);
    }

    fn forget_where(&self, matches: impl Fn(&ProductRecord) -> bool) {
        self.clears
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.by_slug.retain(|_, (_, record)| !matches(record));
        self.by_id.retain(|_, (_, record)| !matches(record));
        *self
            .province_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Public products per province. When the counts are due, the first request to ask
    /// counts again and the others answer with the counts they have meanwhile.
    pub async fn public_counts_by_province(
        &self,
        db: &impl ConnectionTrait,
    ) -> AppResult<ProvinceCounts> {
        let clears_before = self.clears.load(std::sync::atomic::Ordering::SeqCst);
        let kept = {
            let mut slot = self
                .province_counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match slot.as_mut() {
                Some((at, counts)) if at.elapsed() < COUNTS_TTL => return Ok(counts.clone()),
                Some((at, counts)) => {
                    *at = Instant::now();
                    Some(counts.clone())
                }
                None => None,
            }
        };
        let counts = match products::count_public_by_province(db).await {
            Ok(counts) => Arc::new(counts),
            // The counts already shown stay for another while rather than failing the page.
            Err(err) => return kept.ok_or(err),
        };
        let mut slot = self
            .province_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A write cleared the counts while these were counted: they may predate it.
        if self.clears.load(std::sync::atomic::Ordering::SeqCst) == clears_before {
            *slot = Some((Instant::now(), counts.clone()));
        }
        Ok(counts)
    }

    pub fn clear(&self) {
        self.by_slug.clear();
        self.by_id.clear();
        let mut counts = self
            .province_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.clears
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *counts = None;
    }
}

impl ProductRecord {
    /// The product's detail view.
    pub fn detail(&self, reference: &ReferenceData, lang: Lang) -> ProductDetail {
        let record = self;
        let today = today_in_vietnam();
        let product = &record.product;
        let variants: Vec<_> = record
            .variants
            .iter()
            .map(super::variants::VariantView::new)
            .collect();
        ProductDetail {
            gtin: variants.first().and_then(|v| v.gtin.clone()),
            summary: ProductSummary::new(product, &record.cooperative, reference, lang, today),
            description: product.description.clone(),
            stock_quantity: product.stock_quantity,
            variants,
            photos: record.photos.iter().map(PhotoImage::of).collect(),
            certificate: record
                .certificate
                .as_ref()
                .map(|c| CertificateView::new(c, today)),
            published_at: product.published_at,
            updated_at: product.updated_at,
        }
    }
}
