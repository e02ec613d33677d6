//! What the catalogue shows: API and template types, built from entities. Entities are never
//! serialised directly, so a new column never leaks by accident.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{CertificateStatus, CooperativeStatus, MemberRole, ProductStatus};
use crate::domain::Money;
use crate::entities::{cooperatives, ocop_certificates, products};
use crate::i18n::Lang;
use crate::media::PhotoImage;
use crate::reference::ReferenceData;

/// A commune with its province, as shown under products and cooperatives.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlaceView {
    pub commune_code: String,
    pub commune_name: String,
    pub province_code: String,
    pub province_name: String,
}

impl PlaceView {
    pub fn new(reference: &ReferenceData, commune_code: &str) -> Self {
        let commune = reference.commune(commune_code);
        let province = commune.and_then(|c| reference.province(&c.province_code));
        Self {
            commune_code: commune_code.to_owned(),
            commune_name: commune.map(|c| c.name.clone()).unwrap_or_default(),
            province_code: province.map(|p| p.code.clone()).unwrap_or_default(),
            province_name: province.map(|p| p.short_name.clone()).unwrap_or_default(),
        }
    }

    pub fn label(&self) -> String {
        format!("{}, {}", self.commune_name, self.province_name)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CooperativeRef {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

/// The OCOP badge a product carries while its verified certificate is valid.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OcopBadge {
    pub stars: i16,
    pub valid_until: NaiveDate,
}

impl OcopBadge {
    /// The badge of a product today: only a rating of 3 stars or more that has not expired.
    pub fn of(product: &products::Model, today: NaiveDate) -> Option<Self> {
        match (product.ocop_stars, product.ocop_expires_on) {
            (Some(stars), Some(until)) if stars >= 3 && until >= today => Some(Self {
                stars,
                valid_until: until,
            }),
            _ => None,
        }
    }

    pub fn star_text(&self) -> String {
        "★".repeat(self.stars.clamp(0, 5) as usize)
    }
}

/// A product in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductSummary {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub short_name: String,
    /// Price in whole đồng: the lowest of its variants' prices.
    pub price_vnd: i64,
    /// The price as Vietnamese write it, e.g. "250.000 ₫".
    pub price_display: String,
    /// Its variants differ in price: `price_vnd` is the lowest ("từ 120.000 ₫").
    pub price_varies: bool,
    pub unit: String,
    pub category_code: String,
    pub category_name: String,
    pub in_stock: bool,
    pub cooperative: CooperativeRef,
    pub place: PlaceView,
    pub ocop: Option<OcopBadge>,
    pub status: ProductStatus,
    /// Search results only: the name, HTML-escaped, with the matched words wrapped in
    /// `<mark>…</mark>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlighted_name: Option<String>,
    /// The cover photo, when the product has photos.
    pub photo: Option<PhotoImage>,
    /// The stars of the product's visible verified reviews.
    pub rating: Rating,
    /// Withdrawn from sale by an open recall of one of its lots: lists and search show it
    /// marked (set by the pages, see `trace::recalls::mark_recalled`).
    #[serde(skip)]
    pub recalled: bool,
}

/// The average stars and number of a product's visible reviews (hidden ones do not count).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Rating {
    /// Mean stars, 1.0 to 5.0, rounded to one decimal; `null` without reviews.
    pub average: Option<f64>,
    pub count: i64,
}

impl Rating {
    pub fn of(product: &products::Model) -> Self {
        Self::from_totals(product.rating_sum, product.rating_count)
    }

    pub fn from_totals(sum: i64, count: i64) -> Self {
        let average = (count > 0).then(|| {
            // Rounded to one decimal, as pages show it.
            (sum as f64 / count as f64 * 10.0).round() / 10.0
        });
        Self {
            average,
            count: count.max(0),
        }
    }

    /// The average as Vietnamese write it, "4,5" (empty without reviews).
    pub fn average_text(&self) -> String {
        self.average
            .map(|a| format!("{a:.1}").replace('.', ","))
            .unwrap_or_default()
    }

    /// Whole stars for the average, e.g. "★★★★☆".
    pub fn star_text(&self) -> String {
        let full = self
            .average
            .map_or(0, |a| a.round().clamp(0.0, 5.0) as usize);
        format!("{}{}", "★".repeat(full), "☆".repeat(5 - full))
    }
}

impl ProductSummary {
    pub fn new(
        product: &products::Model,
        cooperative: &cooperatives::Model,
        reference: &ReferenceData,
        lang: Lang,
        today: NaiveDate,
    ) -> Self {
        Self {
            id: product.id,
            slug: product.slug.clone(),
            name: product.name.clone(),
            short_name: product.short_name.clone(),
            price_vnd: product.price_vnd,
            price_display: Money::from_dong(product.price_vnd).to_string(),
            price_varies: product.max_price_vnd > product.price_vnd,
            unit: product.unit.clone(),
            category_code: product.category_code.clone(),
            category_name: reference
                .category(&product.category_code)
                .map(|c| c.name(lang).to_owned())
                .unwrap_or_default(),
            in_stock: product.stock_quantity > 0,
            cooperative: CooperativeRef {
                id: cooperative.id,
                slug: cooperative.slug.clone(),
                name: cooperative.name.clone(),
            },
            place: PlaceView::new(reference, &product.commune_code),
            ocop: OcopBadge::of(product, today),
            status: ProductStatus::parse(&product.status).unwrap_or(ProductStatus::Draft),
            highlighted_name: None,
            photo: PhotoImage::cover_of(product),
            rating: Rating::of(product),
            recalled: false,
        }
    }
}

/// A product's own page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductDetail {
    #[serde(flatten)]
    pub summary: ProductSummary,
    pub description: String,
    /// The first size's GTIN-13 (or the shortest usual form) when it owns one; every size's
    /// is in `variants`.
    pub gtin: Option<String>,
    pub stock_quantity: i64,
    /// The sizes it is sold in, first variant first; each has its own price and stock.
    pub variants: Vec<super::variants::VariantView>,
    /// Every photo in display order, the cover first.
    pub photos: Vec<PhotoImage>,
    /// The most recent certificate the province verified, valid or not.
    pub certificate: Option<CertificateView>,
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl ProductDetail {
    /// Whether the size picker starts on this variant: the first one in stock.
    pub fn is_first_pick(&self, id: &i64) -> bool {
        self.variants
            .iter()
            .find(|v| v.stock_quantity > 0)
            .is_some_and(|v| v.id == *id)
    }
}

/// An OCOP certificate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertificateView {
    pub id: i64,
    pub product_id: i64,
    pub stars: i16,
    pub certificate_number: String,
    pub issuing_level: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub document_url: Option<String>,
    pub status: CertificateStatus,
    pub status_reason: Option<String>,
    /// Verified, at least 3 stars and not expired today.
    pub is_valid: bool,
    pub is_expired: bool,
}

impl CertificateView {
    pub fn new(cert: &ocop_certificates::Model, today: NaiveDate) -> Self {
        let status = CertificateStatus::parse(&cert.status).unwrap_or(CertificateStatus::Pending);
        let is_expired = cert.expires_on < today;
        Self {
            id: cert.id,
            product_id: cert.product_id,
            stars: cert.stars,
            certificate_number: cert.certificate_number.clone(),
            issuing_level: cert.issuing_level.clone(),
            issued_on: cert.issued_on,
            expires_on: cert.expires_on,
            document_url: cert.document_url.clone(),
            status,
            status_reason: cert.status_reason.clone(),
            is_valid: status == CertificateStatus::Verified && cert.stars >= 3 && !is_expired,
            is_expired,
        }
    }

    pub fn star_text(&self) -> String {
        "★".repeat(self.stars.clamp(0, 5) as usize)
    }
}

/// A cooperative's public profile.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CooperativeView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub place: PlaceView,
    pub address: String,
    pub contact_phone: String,
    pub contact_email: Option<String>,
    pub description: String,
    pub status: CooperativeStatus,
}

impl CooperativeView {
    pub fn new(coop: &cooperatives::Model, reference: &ReferenceData) -> Self {
        Self {
            id: coop.id,
            slug: coop.slug.clone(),
            name: coop.name.clone(),
            place: PlaceView::new(reference, &coop.commune_code),
            address: coop.address.clone(),
            contact_phone: coop.contact_phone.clone(),
            contact_email: coop.contact_email.clone(),
            description: coop.description.clone(),
            status: CooperativeStatus::parse(&coop.status).unwrap_or(CooperativeStatus::Pending),
        }
    }
}

/// A cooperative as its members and administrators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CooperativePrivateView {
    #[serde(flatten)]
    pub public: CooperativeView,
    pub registration_number: String,
    pub bank_bin: String,
    pub bank_account_number: String,
    pub bank_account_holder: String,
    /// Why the province rejected or suspended the cooperative.
    pub status_reason: Option<String>,
    /// The caller's role, when the caller is a member.
    pub role: Option<MemberRole>,
    pub created_at: DateTime<Utc>,
    /// Digest of what the province reviews (registration number, name, commune, bank
    /// account): an administrator's decision sends it back, and one made on details that
    /// changed since is refused (409 `stale_review`).
    pub review_fingerprint: String,
}

impl CooperativePrivateView {
    pub fn new(
        coop: &cooperatives::Model,
        reference: &ReferenceData,
        role: Option<MemberRole>,
    ) -> Self {
        Self {
            public: CooperativeView::new(coop, reference),
            registration_number: coop.registration_number.clone(),
            bank_bin: coop.bank_bin.clone(),
            bank_account_number: coop.bank_account_number.clone(),
            bank_account_holder: coop.bank_account_holder.clone(),
            status_reason: coop.status_reason.clone(),
            role,
            created_at: coop.created_at,
            review_fingerprint: super::review_fingerprint(coop),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    /// Whether a next page exists.
    pub has_more: bool,
}
