//! What a scan page shows about a package: product, cooperative, place, batch dates, OCOP
//! certificate and trace timeline. Built from several tables, so it is cached per batch for a
//! short time; stamps are cached by code the same way. A stamp voided on another app server is
//! seen here after at most [`TTL`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use dashmap::DashMap;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::events::{self, EventView};
use super::{StampStatus, VoidReason};
use crate::catalog::certificates;
use crate::catalog::views::{CertificateView, OcopBadge, PlaceView};
use crate::entities::{batches, cooperatives, products, stamps};
use crate::http::error::AppResult;
use crate::reference::ReferenceData;

pub const TTL: Duration = Duration::from_secs(15);
const MAX_ENTRIES: usize = 200_000;

/// A stamp as the scan page needs it.
#[derive(Debug, Clone)]
pub struct StampRecord {
    pub id: i64,
    pub batch_id: i64,
    pub cooperative_id: i64,
    pub serial: i64,
    pub code: String,
    pub void_reason: Option<VoidReason>,
    pub signature: Option<String>,
}

impl StampRecord {
    fn from_model(stamp: &stamps::Model) -> Self {
        let voided = stamp.status == StampStatus::Voided.as_str();
        Self {
            id: stamp.id,
            batch_id: stamp.batch_id,
            cooperative_id: stamp.cooperative_id,
            serial: stamp.serial,
            code: stamp.code.clone(),
            void_reason: voided.then(|| {
                stamp
                    .void_reason
                    .as_deref()
                    .and_then(VoidReason::parse)
                    .unwrap_or(VoidReason::Other)
            }),
            signature: stamp.signature.clone(),
        }
    }
}

/// The origin of one batch.
#[derive(Debug, Clone)]
pub struct OriginView {
    pub product_id: i64,
    pub product_name: String,
    pub product_slug: String,
    pub product_is_public: bool,
    /// The product's cover photo, so the buyer can compare it with the package in hand.
    pub photo: Option<crate::media::PhotoImage>,
    pub unit: String,
    pub gtin: Option<String>,
    pub category_vi: String,
    pub category_en: String,
    pub cooperative_name: String,
    pub cooperative_slug: String,
    pub cooperative_phone: String,
    pub place: PlaceView,
    pub lot_code: String,
    pub harvested_on: Option<NaiveDate>,
    pub produced_on: Option<NaiveDate>,
    pub best_before: Option<NaiveDate>,
    pub quantity: i64,
    pub quantity_unit: String,
    pub certifications: String,
    pub certificate: Option<CertificateView>,
    pub badge: Option<OcopBadge>,
    pub events: Vec<EventView>,
}

/// Short-lived caches of stamps (by code) and origins (by batch).
#[derive(Default)]
pub struct TraceCache {
    stamps: DashMap<String, (Instant, Option<StampRecord>)>,
    origins: DashMap<i64, (Instant, Arc<OriginView>)>,
}

impl TraceCache {
    /// The stamp with this (normalised) code, or `None` when no stamp has it.
    pub async fn stamp(
        &self,
        db: &impl ConnectionTrait,
        code: &str,
    ) -> AppResult<Option<StampRecord>> {
        if let Some(entry) = self.stamps.get(code)
            && entry.0.elapsed() < TTL
        {
            return Ok(entry.1.clone());
        }
        let found = stamps::Entity::find()
            .filter(stamps::Column::Code.eq(code))
            .one(db)
            .await?
            .map(|s| StampRecord::from_model(&s));
        if self.stamps.len() > MAX_ENTRIES {
            self.stamps.clear();
        }
        self.stamps
            .insert(code.to_owned(), (Instant::now(), found.clone()));
        Ok(found)
    }

    /// Drops cached stamps (after any write) so that changes show at once on this server.
    pub fn forget_stamps(&self) {
        self.stamps.clear();
    }

    /// Drops every cached origin.
    pub fn forget_all_origins(&self) {
        self.origins.clear();
    }

    pub async fn origin(
        &self,
        db: &impl ConnectionTrait,
        reference: &ReferenceData,
        batch_id: i64,
    ) -> AppResult<Option<Arc<OriginView>>> {
        if let Some(entry) = self.origins.get(&batch_id)
            && entry.0.elapsed() < TTL
        {
            return Ok(Some(entry.1.clone()));
        }
        let Some(view) = load_origin(db, reference, batch_id).await? else {
            return Ok(None);
        };
        let view = Arc::new(view);
        if self.origins.len() > MAX_ENTRIES {
            self.origins.clear();
        }
        self.origins
            .insert(batch_id, (Instant::now(), view.clone()));
        Ok(Some(view))
    }
}

async fn load_origin(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    batch_id: i64,
) -> AppResult<Option<OriginView>> {
    let Some(batch) = batches::Entity::find_by_id(batch_id).one(db).await? else {
        return Ok(None);
    };
    let Some((product, Some(coop))) = products::Entity::find_by_id(batch.product_id)
        .find_also_related(cooperatives::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let today = crate::clock::today_in_vietnam();
    let certificate = certificates::current_verified(db, product.id)
        .await?
        .map(|c| CertificateView::new(&c, today));
    let category = reference.category(&product.category_code);
    Ok(Some(OriginView {
        product_id: product.id,
        product_is_public: crate::catalog::products::is_public(&product, &coop),
        photo: crate::media::PhotoImage::cover_of(&product),
        badge: OcopBadge::of(&product, today),
        product_name: product.name.clone(),
        product_slug: product.slug.clone(),
        unit: product.unit.clone(),
        gtin: product
            .gtin
            .as_deref()
            .map(|g| g.strip_prefix('0').unwrap_or(g).to_owned()),
        category_vi: category.map(|c| c.name_vi.clone()).unwrap_or_default(),
        category_en: category.map(|c| c.name_en.clone()).unwrap_or_default(),
        cooperative_name: coop.name.clone(),
        cooperative_slug: coop.slug.clone(),
        cooperative_phone: coop.contact_phone.clone(),
        place: PlaceView::new(reference, &batch.origin_commune_code),
        lot_code: batch.lot_code.clone(),
        harvested_on: batch.harvested_on,
        produced_on: batch.produced_on,
        best_before: batch.best_before,
        quantity: batch.quantity,
        quantity_unit: batch.quantity_unit.clone(),
        certifications: batch.certifications.clone(),
        certificate,
        events: events::of_batch(db, reference, batch.id).await?,
    }))
}
