//! Shipping rates as values: zones (same province, same region, elsewhere) by the regions of
//! Việt Nam, and rate tables (weight bands × zones, a fee per extra kilogram, a free-shipping
//! threshold). Where they are kept and applied is [`crate::orders::shipping`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FieldIssue, text_enum};

text_enum! {
    /// Where a parcel goes, seen from the cooperative's province.
    ShippingZone {
        SameProvince => "same_province",
        SameRegion => "same_region",
        Elsewhere => "elsewhere",
    }
}

text_enum! {
    /// The three regions of Việt Nam.
    Region {
        North => "north",
        Central => "central",
        South => "south",
    }
}

/// The region of a province, by its statistics-office code: the North runs to Ninh Bình (37),
/// the Central provinces and the Highlands from Thanh Hóa (38) to Lâm Đồng (68), the South
/// from Đồng Nai (75).
pub fn region_of(province_code: &str) -> Option<Region> {
    let code: u32 = province_code.trim().parse().ok()?;
    match code {
        1..=37 => Some(Region::North),
        38..=68 => Some(Region::Central),
        69..=99 => Some(Region::South),
        _ => None,
    }
}

/// The zone of a parcel from `from` to `to` (province codes).
pub fn zone_between(from: &str, to: &str) -> ShippingZone {
    if from == to {
        ShippingZone::SameProvince
    } else if region_of(from).is_some() && region_of(from) == region_of(to) {
        ShippingZone::SameRegion
    } else {
        ShippingZone::Elsewhere
    }
}

/// One weight band: parcels up to `max_grams` pay these fees (đồng) by zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WeightBand {
    pub max_grams: i64,
    pub same_province_vnd: i64,
    pub same_region_vnd: i64,
    pub elsewhere_vnd: i64,
}

impl WeightBand {
    fn fee(&self, zone: ShippingZone) -> i64 {
        match zone {
            ShippingZone::SameProvince => self.same_province_vnd,
            ShippingZone::SameRegion => self.same_region_vnd,
            ShippingZone::Elsewhere => self.elsewhere_vnd,
        }
    }
}

/// A rate table: bands in increasing weight, what each kilogram (or part) past the last band
/// adds by zone, and the subtotal from which delivery is free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RateTable {
    pub bands: Vec<WeightBand>,
    /// Added per started kilogram past the last band, by zone.
    pub extra_kg: WeightBand,
    /// Goods worth at least this much ship free; `None`: never free.
    pub free_shipping_over_vnd: Option<i64>,
}

/// Most bands a table may have.
pub const MAX_BANDS: usize = 10;
/// Highest fee of a band: 5.000.000 đ; more is a typo.
pub const MAX_FEE_VND: i64 = 5_000_000;

impl RateTable {
    /// The platform's default table, close to what the national carriers charge in 2025.
    pub fn platform_default() -> Self {
        let band = |max_grams, same_province_vnd, same_region_vnd, elsewhere_vnd| WeightBand {
            max_grams,
            same_province_vnd,
            same_region_vnd,
            elsewhere_vnd,
        };
        Self {
            bands: vec![
                band(500, 18_000, 25_000, 32_000),
                band(1_000, 22_000, 30_000, 40_000),
                band(2_000, 28_000, 38_000, 52_000),
                band(5_000, 38_000, 55_000, 80_000),
            ],
            extra_kg: band(0, 4_000, 7_000, 11_000),
            free_shipping_over_vnd: None,
        }
    }

    /// The fee of a parcel of `weight_grams` to `zone` holding goods worth `subtotal_vnd`.
    pub fn fee(&self, weight_grams: i64, zone: ShippingZone, subtotal_vnd: i64) -> i64 {
        if self
            .free_shipping_over_vnd
            .is_some_and(|threshold| subtotal_vnd >= threshold)
        {
            return 0;
        }
        let weight = weight_grams.max(0);
        if let Some(band) = self.bands.iter().find(|b| weight <= b.max_grams) {
            return band.fee(zone);
        }
        let Some(last) = self.bands.last() else {
            return 0;
        };
        let past = weight - last.max_grams;
        let started_kg = past.saturating_add(999) / 1_000;
        last.fee(zone)
            .saturating_add(started_kg.saturating_mul(self.extra_kg.fee(zone)))
    }

    /// Checks a table a cooperative sent: 1 to 10 bands in increasing weight, fees from 0 to
    /// 5.000.000 đ, a positive threshold. Answers the first problem, with its field.
    pub fn validate(&self) -> Result<(), (&'static str, FieldIssue)> {
        if self.bands.is_empty() || self.bands.len() > MAX_BANDS {
            return Err((
                "bands",
                FieldIssue::new("invalid_bands", format!("1 to {MAX_BANDS} weight bands")),
            ));
        }
        let mut previous = 0;
        for band in &self.bands {
            if band.max_grams <= previous || band.max_grams > 1_000_000 {
                return Err((
                    "bands",
                    FieldIssue::new(
                        "invalid_bands",
                        "bands go up in weight, each up to 1,000,000 g",
                    ),
                ));
            }
            previous = band.max_grams;
        }
        let fees_ok = self
            .bands
            .iter()
            .chain(std::iter::once(&self.extra_kg))
            .flat_map(|b| [b.same_province_vnd, b.same_region_vnd, b.elsewhere_vnd])
            .all(|fee| (0..=MAX_FEE_VND).contains(&fee));
        if !fees_ok {
            return Err((
                "bands",
                FieldIssue::new(
                    "invalid_fee",
                    format!("each fee is a whole number of đồng from 0 to {MAX_FEE_VND}"),
                ),
            ));
        }
        if self
            .free_shipping_over_vnd
            .is_some_and(|t| !(1..=1_000_000_000).contains(&t))
        {
            return Err((
                "free_shipping_over_vnd",
                FieldIssue::new("invalid_threshold", "a positive amount of đồng, or nothing"),
            ));
        }
        Ok(())
    }

    /// One fee for every parcel, whatever its weight and destination (a flat rate).
    pub fn flat(fee_vnd: i64) -> Self {
        let band = WeightBand {
            max_grams: 1_000_000,
            same_province_vnd: fee_vnd,
            same_region_vnd: fee_vnd,
            elsewhere_vnd: fee_vnd,
        };
        Self {
            bands: vec![band],
            extra_kg: WeightBand {
                max_grams: 0,
                same_province_vnd: 0,
                same_region_vnd: 0,
                elsewhere_vnd: 0,
            },
            free_shipping_over_vnd: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provinces_fall_in_their_regions() {
        assert_eq!(region_of("01"), Some(Region::North));
        assert_eq!(region_of("15"), Some(Region::North));
        assert_eq!(region_of("37"), Some(Region::North));
        assert_eq!(region_of("38"), Some(Region::Central));
        assert_eq!(region_of("68"), Some(Region::Central));
        assert_eq!(region_of("75"), Some(Region::South));
        assert_eq!(region_of("96"), Some(Region::South));
        assert_eq!(region_of("x"), None);
        assert_eq!(zone_between("15", "15"), ShippingZone::SameProvince);
        assert_eq!(zone_between("15", "01"), ShippingZone::SameRegion);
        assert_eq!(zone_between("15", "79"), ShippingZone::Elsewhere);
        assert_eq!(zone_between("48", "46"), ShippingZone::SameRegion);
    }

    #[test]
    fn fees_change_exactly_at_band_edges() {
        let table = RateTable::platform_default();
        let fee = |g| table.fee(g, ShippingZone::SameRegion, 0);
        assert_eq!(fee(0), 25_000);
        assert_eq!(fee(500), 25_000);
        assert_eq!(fee(501), 30_000);
        assert_eq!(fee(1_000), 30_000);
        assert_eq!(fee(1_001), 38_000);
        assert_eq!(fee(2_000), 38_000);
        assert_eq!(fee(5_000), 55_000);
        assert_eq!(fee(5_001), 55_000 + 7_000, "a started kilogram counts");
        assert_eq!(fee(6_000), 55_000 + 7_000);
        assert_eq!(fee(6_001), 55_000 + 2 * 7_000);
        assert_eq!(table.fee(500, ShippingZone::SameProvince, 0), 18_000);
        assert_eq!(table.fee(500, ShippingZone::Elsewhere, 0), 32_000);
        assert!(fee(i64::MAX) > 0, "no overflow");
    }

    #[test]
    fn the_free_shipping_threshold_counts_from_its_amount() {
        let table = RateTable {
            free_shipping_over_vnd: Some(500_000),
            ..RateTable::platform_default()
        };
        assert_eq!(table.fee(800, ShippingZone::Elsewhere, 499_999), 40_000);
        assert_eq!(table.fee(800, ShippingZone::Elsewhere, 500_000), 0);
        assert_eq!(table.fee(80_000, ShippingZone::Elsewhere, 600_000), 0);
    }

    #[test]
    fn a_table_must_make_sense() {
        assert!(RateTable::platform_default().validate().is_ok());
        let mut table = RateTable::platform_default();
        table.bands.swap(0, 1);
        assert!(table.validate().is_err(), "bands out of order");
        let mut table = RateTable::platform_default();
        table.bands[0].elsewhere_vnd = -1;
        assert!(table.validate().is_err(), "a negative fee");
        let mut table = RateTable::platform_default();
        table.bands.clear();
        assert!(table.validate().is_err(), "no band");
        let table = RateTable {
            free_shipping_over_vnd: Some(0),
            ..RateTable::platform_default()
        };
        assert!(table.validate().is_err(), "a zero threshold");
    }
}
