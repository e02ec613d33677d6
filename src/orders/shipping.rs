//! Shipping by weight and place: what a cooperative's parcel costs to send to a province, and
//! the carriers an order is handed to.
//!
//! A parcel's zone is where it goes from the cooperative's province: the same province, the
//! same region (North, Central, South) or elsewhere. Its weight is the sum of its lines'
//! variant weights. The fee comes from the cooperative's rate table (weight bands × zones, a fee
//! per kilogram past the last band, an optional free-shipping threshold on the goods'
//! subtotal), or the platform's default table when it has kept none. The cart shows the fee for
//! the province the shopper picks; the checkout charges it for the delivery address and
//! records weight, zone and fee on the order. The carriers are [`crate::domain::Carrier`].

pub use crate::domain::shipping::{
    MAX_BANDS, RateTable, Region, ShippingZone, WeightBand, zone_between,
};
use crate::entities::shipping_rates;
use crate::error::{AppResult, FieldErrors};
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// The rate table a cooperative charges by: its own, or the platform's default.
pub async fn table_of(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
    platform_default: &RateTable,
) -> AppResult<RateTable> {
    let row = shipping_rates::Entity::find()
        .filter(shipping_rates::Column::CooperativeId.eq(cooperative_id))
        .one(db)
        .await?;
    Ok(row
        .and_then(|r| {
            let mut table: RateTable = serde_json::from_str(&r.rates).ok()?;
            table.free_shipping_over_vnd = r.free_shipping_over_vnd;
            Some(table)
        })
        .unwrap_or_else(|| platform_default.clone()))
}

/// Keeps a cooperative's own rate table (the caller checked it is a member).
pub async fn save_table(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
    table: &RateTable,
) -> AppResult<()> {
    table
        .validate()
        .map_err(|(field, issue)| FieldErrors::single(field, issue))?;
    let rates = serde_json::to_string(table)
        .map_err(|e| crate::error::AppError::Internal(anyhow::anyhow!(e)))?;
    shipping_rates::Entity::insert(shipping_rates::ActiveModel {
        cooperative_id: Set(cooperative_id),
        rates: Set(rates),
        free_shipping_over_vnd: Set(table.free_shipping_over_vnd),
        updated_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(shipping_rates::Column::CooperativeId)
            .update_columns([
                shipping_rates::Column::Rates,
                shipping_rates::Column::FreeShippingOverVnd,
                shipping_rates::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// What one cooperative's parcel costs to one province.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParcelQuote {
    pub weight_grams: i64,
    /// `None` when no province was picked: the fee is then the highest (elsewhere).
    pub zone: Option<ShippingZone>,
    pub fee_vnd: i64,
}

/// Quotes a parcel from a cooperative in `from_province` to `to_province` (when known).
pub fn quote(
    table: &RateTable,
    from_province: &str,
    to_province: Option<&str>,
    weight_grams: i64,
    subtotal_vnd: i64,
) -> ParcelQuote {
    let zone = to_province.map(|to| zone_between(from_province, to));
    ParcelQuote {
        weight_grams,
        zone,
        fee_vnd: table.fee(
            weight_grams,
            zone.unwrap_or(ShippingZone::Elsewhere),
            subtotal_vnd,
        ),
    }
}

/// A province code a shopper picked, checked against the reference data (`None`: none picked).
pub fn checked_province(
    reference: &crate::reference::ReferenceData,
    province_code: Option<&str>,
) -> AppResult<Option<String>> {
    match province_code.map(str::trim) {
        None | Some("") => Ok(None),
        Some(code) => match reference.province(code) {
            Some(province) => Ok(Some(province.code.clone())),
            None => Err(FieldErrors::single(
                "province_code",
                crate::domain::FieldIssue::new(
                    "unknown_province",
                    "choose a province from the list",
                ),
            )),
        },
    }
}
