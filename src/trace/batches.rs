//! Batches (lots) of a product: when and where it was harvested or made, how much, and its
//! certifications. A batch belongs to the cooperative of its product.

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts::CurrentUser;
use crate::catalog::access::{self, Membership};
use crate::domain::null_as_default;
use crate::domain::{CommuneCode, FieldIssue, LotCode, bounded_text, optional_text};
use crate::entities::{batches, products};
use crate::error::{AppError, AppResult, FieldErrors, is_unique_violation};
use crate::reference::ReferenceData;

/// A batch as a form or the API sends it; every field as typed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct BatchInput {
    /// Lot code printed on labels: 1–20 letters, digits, '-' or '.'.
    pub lot_code: String,
    /// The variant (size) packed in this batch; the product's first variant when left out.
    /// A batch is of one size, so its stamps and origin page name that size.
    pub variant_id: Option<i64>,
    /// `YYYY-MM-DD`, optional.
    #[serde(deserialize_with = "null_as_default")]
    pub harvested_on: String,
    /// `YYYY-MM-DD`, optional.
    #[serde(deserialize_with = "null_as_default")]
    pub produced_on: String,
    /// `YYYY-MM-DD`, optional.
    #[serde(deserialize_with = "null_as_default")]
    pub best_before: String,
    /// Whole number of units in the batch.
    pub quantity: String,
    /// Unit of the quantity, e.g. "hộp", "kg".
    pub quantity_unit: String,
    /// Commune the goods come from (5 digits); defaults to the cooperative's.
    #[serde(deserialize_with = "null_as_default")]
    pub origin_commune_code: String,
    #[serde(deserialize_with = "null_as_default")]
    pub plot_name: String,
    /// Decimal degrees, optional.
    #[serde(deserialize_with = "null_as_default")]
    pub plot_latitude: String,
    #[serde(deserialize_with = "null_as_default")]
    pub plot_longitude: String,
    /// Free text: VietGAP, organic…
    #[serde(deserialize_with = "null_as_default")]
    pub certifications: String,
    #[serde(deserialize_with = "null_as_default")]
    pub certification_document_url: String,
}

#[derive(Debug, Clone)]
pub struct BatchDetails {
    pub lot_code: LotCode,
    pub variant_id: Option<i64>,
    pub harvested_on: Option<NaiveDate>,
    pub produced_on: Option<NaiveDate>,
    pub best_before: Option<NaiveDate>,
    pub quantity: i64,
    pub quantity_unit: String,
    pub origin_commune: Option<CommuneCode>,
    pub plot_name: Option<String>,
    pub plot: Option<(f64, f64)>,
    pub certifications: String,
    pub certification_document_url: Option<String>,
}

pub(crate) fn optional_date(input: &str) -> Result<Option<NaiveDate>, FieldIssue> {
    let text = input.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&chrono::Datelike::year(d)))
        .map(Some)
        .ok_or_else(|| FieldIssue::new("invalid_date", "a date as YYYY-MM-DD"))
}

pub(crate) fn optional_coordinate(input: &str, limit: f64) -> Result<Option<f64>, FieldIssue> {
    let text = input.trim().replace(',', ".");
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= limit => Ok(Some(v)),
        _ => Err(FieldIssue::new(
            "invalid_coordinate",
            format!("decimal degrees between -{limit} and {limit}"),
        )),
    }
}

fn optional_url(input: &str) -> Result<Option<String>, FieldIssue> {
    optional_text(input, 500).and_then(|url| match url {
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => Err(
            FieldIssue::new("invalid_url", "a link starting with https://"),
        ),
        other => Ok(other),
    })
}

impl BatchInput {
    pub fn parse(&self, reference: &ReferenceData) -> AppResult<BatchDetails> {
        let mut errors = FieldErrors::default();
        let lot_code = errors.take("lot_code", LotCode::parse(&self.lot_code));
        let harvested_on = errors.take("harvested_on", optional_date(&self.harvested_on));
        let produced_on = errors.take("produced_on", optional_date(&self.produced_on));
        let best_before = errors.take("best_before", optional_date(&self.best_before));
        let quantity = errors.take(
            "quantity",
            self.quantity
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|q| (1..=100_000_000).contains(q))
                .ok_or_else(|| {
                    FieldIssue::new("invalid_quantity", "a whole number from 1 to 100,000,000")
                }),
        );
        let quantity_unit = errors.take("quantity_unit", bounded_text(&self.quantity_unit, 1, 30));
        let origin_commune = errors.take(
            "origin_commune_code",
            reference.parse_optional_commune(&self.origin_commune_code),
        );
        let plot_name = errors.take("plot_name", optional_text(&self.plot_name, 120));
        let latitude = errors.take(
            "plot_latitude",
            optional_coordinate(&self.plot_latitude, 90.0),
        );
        let longitude = errors.take(
            "plot_longitude",
            optional_coordinate(&self.plot_longitude, 180.0),
        );
        let certifications =
            errors.take("certifications", optional_text(&self.certifications, 1000));
        let document = errors.take(
            "certification_document_url",
            optional_url(&self.certification_document_url),
        );
        if let (Some(Some(made)), Some(Some(best))) = (produced_on.or(harvested_on), best_before)
            && best < made
        {
            errors.add(
                "best_before",
                FieldIssue::new(
                    "best_before_too_early",
                    "best-before must follow production",
                ),
            );
        }
        let plot = match (latitude, longitude) {
            (Some(Some(lat)), Some(Some(lon))) => Some(Some((lat, lon))),
            (Some(None), Some(None)) => Some(None),
            (Some(_), Some(_)) => {
                errors.add(
                    "plot_longitude",
                    FieldIssue::new("incomplete_coordinates", "give both latitude and longitude"),
                );
                None
            }
            _ => None,
        };
        errors.clone().into_result()?;
        match (
            lot_code,
            harvested_on,
            produced_on,
            best_before,
            quantity,
            quantity_unit,
            origin_commune,
            plot_name,
            plot,
            certifications,
            document,
        ) {
            (
                Some(lot_code),
                Some(harvested_on),
                Some(produced_on),
                Some(best_before),
                Some(quantity),
                Some(quantity_unit),
                Some(origin_commune),
                Some(plot_name),
                Some(plot),
                Some(certifications),
                Some(certification_document_url),
            ) => Ok(BatchDetails {
                lot_code,
                variant_id: self.variant_id,
                harvested_on,
                produced_on,
                best_before,
                quantity,
                quantity_unit,
                origin_commune,
                plot_name,
                plot,
                certifications: certifications.unwrap_or_default(),
                certification_document_url,
            }),
            _ => Err(errors.into_error()),
        }
    }
}

/// Records a batch of a product of the member's cooperative.
pub async fn create(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    membership: &Membership,
    product: &products::Model,
    details: BatchDetails,
) -> AppResult<batches::Model> {
    if product.cooperative_id != membership.cooperative.id {
        return Err(AppError::NotFound);
    }
    let variant = crate::catalog::variants::resolve(db, product.id, details.variant_id)
        .await?
        .ok_or_else(|| {
            FieldErrors::single(
                "variant_id",
                FieldIssue::new("unknown_variant", "choose a variant of the product"),
            )
        })?;
    let row = batches::ActiveModel {
        cooperative_id: Set(product.cooperative_id),
        product_id: Set(product.id),
        variant_id: Set(Some(variant.id)),
        lot_code: Set(details.lot_code.as_str().to_owned()),
        harvested_on: Set(details.harvested_on),
        produced_on: Set(details.produced_on),
        best_before: Set(details.best_before),
        quantity: Set(details.quantity),
        quantity_unit: Set(details.quantity_unit),
        origin_commune_code: Set(details
            .origin_commune
            .map(|c| c.as_str().to_owned())
            .unwrap_or_else(|| product.commune_code.clone())),
        plot_name: Set(details.plot_name),
        plot_latitude: Set(details.plot.map(|p| p.0)),
        plot_longitude: Set(details.plot.map(|p| p.1)),
        certifications: Set(details.certifications),
        certification_document_url: Set(details.certification_document_url),
        created_by: Set(user.id),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    row.insert(db).await.map_err(|err| {
        if is_unique_violation(&err) {
            AppError::conflict(
                "lot_code_taken",
                "lot_code",
                "this product already has a batch with this lot code",
            )
        } else {
            err.into()
        }
    })
}

/// A batch `user` may manage, with its product and membership; "not found" for anyone else.
pub async fn managed(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    batch_id: i64,
) -> AppResult<(batches::Model, products::Model, Membership)> {
    let batch = batches::Entity::find_by_id(batch_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let (product, membership) = access::managed_product(db, user, batch.product_id).await?;
    Ok((batch, product, membership))
}

/// The batches of a product, newest first.
pub async fn of_product(
    db: &impl ConnectionTrait,
    product_id: i64,
) -> AppResult<Vec<batches::Model>> {
    Ok(batches::Entity::find()
        .filter(batches::Column::ProductId.eq(product_id))
        .order_by_desc(batches::Column::Id)
        .all(db)
        .await?)
}

/// The batches of a cooperative, newest first.
pub async fn of_cooperative(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
) -> AppResult<Vec<batches::Model>> {
    Ok(batches::Entity::find()
        .filter(batches::Column::CooperativeId.eq(cooperative_id))
        .order_by_desc(batches::Column::Id)
        .all(db)
        .await?)
}
