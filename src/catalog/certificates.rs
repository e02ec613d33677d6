//! OCOP certificates: recorded by a cooperative for one of its products, verified or rejected
//! by the province. A product shows the OCOP badge only while a verified certificate of 3 stars
//! or more is valid; the product row keeps a copy of that certificate's stars and expiry
//! ([`refresh_product_rating`]) so that the catalogue can filter by stars through an index.

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::access::Membership;
use super::{CertificateStatus, IssuingLevel};
use crate::domain::{FieldIssue, Stars, bounded_text, optional_text};
use crate::entities::{ocop_certificates, products};
use crate::error::{AppError, AppResult, FieldErrors};

/// A certificate as the API receives it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CertificateRequest {
    /// 1 to 5; 3 or more is a certified OCOP product.
    pub stars: i64,
    /// Certificate or decision number, e.g. "2857/QĐ-UBND".
    pub certificate_number: String,
    /// `district`, `province` or `national`.
    pub issuing_level: String,
    /// `YYYY-MM-DD`.
    pub issued_on: String,
    /// `YYYY-MM-DD`.
    pub expires_on: String,
    /// Link to a scan of the certificate.
    #[serde(default)]
    pub document_url: Option<String>,
}

/// A certificate as a page form sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CertificateForm {
    pub stars: String,
    pub certificate_number: String,
    pub issuing_level: String,
    pub issued_on: String,
    pub expires_on: String,
    pub document_url: String,
}

#[derive(Debug, Clone)]
pub struct CertificateDetails {
    pub stars: Stars,
    pub certificate_number: String,
    pub issuing_level: IssuingLevel,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub document_url: Option<String>,
}

impl CertificateRequest {
    pub fn parse(&self) -> AppResult<CertificateDetails> {
        parse_certificate(
            Stars::parse(self.stars),
            &self.certificate_number,
            &self.issuing_level,
            &self.issued_on,
            &self.expires_on,
            self.document_url.as_deref().unwrap_or(""),
        )
    }
}

impl CertificateForm {
    pub fn parse(&self) -> AppResult<CertificateDetails> {
        let stars = self
            .stars
            .trim()
            .parse::<i64>()
            .map_err(|_| FieldIssue::new("invalid_stars", "an OCOP rating is 1 to 5 stars"))
            .and_then(Stars::parse);
        parse_certificate(
            stars,
            &self.certificate_number,
            &self.issuing_level,
            &self.issued_on,
            &self.expires_on,
            &self.document_url,
        )
    }
}

fn parse_date(input: &str) -> Result<NaiveDate, FieldIssue> {
    let text = input.trim();
    if text.is_empty() {
        return Err(FieldIssue::new("required", "this field is required"));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| FieldIssue::new("invalid_date", "a date as YYYY-MM-DD"))
}

fn parse_certificate(
    stars: Result<Stars, FieldIssue>,
    number: &str,
    level: &str,
    issued_on: &str,
    expires_on: &str,
    document_url: &str,
) -> AppResult<CertificateDetails> {
    let mut errors = FieldErrors::default();
    let stars = errors.take("stars", stars);
    let number = errors.take("certificate_number", bounded_text(number, 1, 60));
    let level = errors.take(
        "issuing_level",
        IssuingLevel::parse(level.trim()).ok_or_else(|| {
            FieldIssue::new("invalid_issuing_level", "district, province or national")
        }),
    );
    let issued_on = errors.take("issued_on", parse_date(issued_on));
    let expires_on = errors.take("expires_on", parse_date(expires_on));
    let document_url = errors.take(
        "document_url",
        optional_text(document_url, 500).and_then(|url| match url {
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => Err(
                FieldIssue::new("invalid_url", "a link starting with https://"),
            ),
            other => Ok(other),
        }),
    );
    if let (Some(issued), Some(expires)) = (issued_on, expires_on)
        && expires <= issued
    {
        errors.add(
            "expires_on",
            FieldIssue::new(
                "expires_before_issue",
                "the expiry date must follow the issue date",
            ),
        );
    }
    errors.clone().into_result()?;
    match (stars, number, level, issued_on, expires_on, document_url) {
        (
            Some(stars),
            Some(certificate_number),
            Some(issuing_level),
            Some(issued_on),
            Some(expires_on),
            Some(document_url),
        ) => Ok(CertificateDetails {
            stars,
            certificate_number,
            issuing_level,
            issued_on,
            expires_on,
            document_url,
        }),
        _ => Err(errors.into_error()),
    }
}

/// Records a certificate for a product of the member's cooperative; it waits for the province.
pub async fn record(
    db: &impl ConnectionTrait,
    membership: &Membership,
    product: &products::Model,
    details: CertificateDetails,
) -> AppResult<ocop_certificates::Model> {
    if product.cooperative_id != membership.cooperative.id {
        return Err(AppError::NotFound);
    }
    Ok(ocop_certificates::ActiveModel {
        product_id: Set(product.id),
        cooperative_id: Set(product.cooperative_id),
        stars: Set(i16::from(details.stars.get())),
        certificate_number: Set(details.certificate_number),
        issuing_level: Set(details.issuing_level.as_str().to_owned()),
        issued_on: Set(details.issued_on),
        expires_on: Set(details.expires_on),
        document_url: Set(details.document_url),
        status: Set(CertificateStatus::Pending.as_str().to_owned()),
        status_reason: Set(None),
        created_at: Set(Utc::now()),
        reviewed_at: Set(None),
        reviewed_by: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Every certificate of a product, newest first.
pub async fn of_product(
    db: &impl ConnectionTrait,
    product_id: i64,
) -> AppResult<Vec<ocop_certificates::Model>> {
    Ok(ocop_certificates::Entity::find()
        .filter(ocop_certificates::Column::ProductId.eq(product_id))
        .order_by_desc(ocop_certificates::Column::IssuedOn)
        .order_by_desc(ocop_certificates::Column::Id)
        .all(db)
        .await?)
}

/// The certificate the public sees: the verified one that expires last (valid or expired).
pub async fn current_verified(
    db: &impl ConnectionTrait,
    product_id: i64,
) -> AppResult<Option<ocop_certificates::Model>> {
    Ok(ocop_certificates::Entity::find()
        .filter(ocop_certificates::Column::ProductId.eq(product_id))
        .filter(ocop_certificates::Column::Status.eq(CertificateStatus::Verified.as_str()))
        .order_by_desc(ocop_certificates::Column::ExpiresOn)
        .order_by_desc(ocop_certificates::Column::Stars)
        .one(db)
        .await?)
}

/// Copies the rating of the product's current verified certificate onto the product row and
/// tells search. Called in the same transaction as every change of a certificate's status.
pub async fn refresh_product_rating(db: &impl ConnectionTrait, product_id: i64) -> AppResult<()> {
    let current = current_verified(db, product_id).await?;
    let Some(product) = products::Entity::find_by_id(product_id).one(db).await? else {
        return Ok(());
    };
    let (stars, expires) = match current {
        Some(cert) if cert.stars >= 3 => (Some(cert.stars), Some(cert.expires_on)),
        _ => (None, None),
    };
    if product.ocop_stars != stars || product.ocop_expires_on != expires {
        let mut row: products::ActiveModel = product.into();
        row.ocop_stars = Set(stars);
        row.ocop_expires_on = Set(expires);
        row.update(db).await?;
        super::outbox::enqueue_products(db, &[product_id]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(stars: &str, issued: &str, expires: &str) -> CertificateForm {
        CertificateForm {
            stars: stars.into(),
            certificate_number: "2857/QĐ-UBND".into(),
            issuing_level: "province".into(),
            issued_on: issued.into(),
            expires_on: expires.into(),
            document_url: String::new(),
        }
    }

    #[test]
    fn a_certificate_needs_real_stars_and_ordered_dates() {
        assert!(form("3", "2024-05-10", "2027-05-10").parse().is_ok());
        let AppError::Validation(e) = form("7", "2024-05-10", "2027-05-10").parse().unwrap_err()
        else {
            panic!()
        };
        assert_eq!(e.code_for("stars"), Some("invalid_stars"));
        let AppError::Validation(e) = form("4", "2024-05-10", "2023-05-10").parse().unwrap_err()
        else {
            panic!()
        };
        assert_eq!(e.code_for("expires_on"), Some("expires_before_issue"));
        assert!(form("4", "10/05/2024", "2027-05-10").parse().is_err());
    }
}
