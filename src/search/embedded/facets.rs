//! Facet counting of the one-pass collector ([`super::collector`]). Counts are disjunctive
//! (see [`crate::search::model`]): a document that fails exactly one filter still counts in
//! the facets of that filter, and only there.

use std::collections::HashMap;

use super::segments::DocRow;
use crate::search::model::{FacetCount, Facets, MAX_FACET_VALUES, PRICE_RANGES, price_range_index};

/// A filter's bit in the per-document failure mask (one facet ignores each).
pub(super) const FAIL_PROVINCE: u8 = 1;
pub(super) const FAIL_COMMUNE: u8 = 1 << 1;
pub(super) const FAIL_CATEGORY: u8 = 1 << 2;
pub(super) const FAIL_STARS: u8 = 1 << 3;
pub(super) const FAIL_PRICE: u8 = 1 << 4;
pub(super) const FAIL_STOCK: u8 = 1 << 5;
pub(super) const FAIL_COOPERATIVE: u8 = 1 << 6;

/// Facet counts of one segment, by ordinal.
pub(super) struct SegmentFacets {
    pub(super) province: Vec<u64>,
    pub(super) commune: Vec<u64>,
    pub(super) category: Vec<u64>,
    pub(super) group: Vec<u64>,
    pub(super) cooperative: Vec<u64>,
    pub(super) stars: [u64; 3],
    pub(super) price: [u64; 4],
    pub(super) in_stock: u64,
}

fn count_ord(counts: &mut [u64], ord: u32) {
    if let Some(count) = counts.get_mut(ord as usize) {
        *count += 1;
    }
}

impl SegmentFacets {
    /// Counts `row` in every facet (`only` 0) or only in the facets of the one filter it
    /// fails (`only` that filter's bit).
    pub(super) fn count(&mut self, row: &DocRow, only: u8, today: i32) {
        let counts_in = |bit: u8| only == 0 || only == bit;
        if counts_in(FAIL_PROVINCE) {
            count_ord(&mut self.province, row.province);
        }
        if counts_in(FAIL_COMMUNE) {
            count_ord(&mut self.commune, row.commune);
        }
        if counts_in(FAIL_CATEGORY) {
            count_ord(&mut self.category, row.category);
            count_ord(&mut self.group, row.group);
        }
        if counts_in(FAIL_STARS) && row.stars >= 3 && row.expires >= today {
            self.stars[0] += 1;
            self.stars[1] += u64::from(row.stars >= 4);
            self.stars[2] += u64::from(row.stars >= 5);
        }
        if counts_in(FAIL_PRICE) {
            self.price[price_range_index(row.price)] += 1;
        }
        if counts_in(FAIL_STOCK) && row.in_stock {
            self.in_stock += 1;
        }
        if counts_in(FAIL_COOPERATIVE) {
            count_ord(&mut self.cooperative, row.cooperative);
        }
    }
}

/// Facet counts by value, across segments.
#[derive(Default)]
pub(super) struct FacetAccumulator {
    pub(super) province: HashMap<String, u64>,
    pub(super) commune: HashMap<String, u64>,
    pub(super) category: HashMap<String, u64>,
    pub(super) group: HashMap<String, u64>,
    pub(super) stars: [u64; 3],
    pub(super) price: [u64; 4],
    pub(super) in_stock: u64,
    pub(super) cooperative: HashMap<String, u64>,
}

impl FacetAccumulator {
    pub(super) fn add(&mut self, other: FacetAccumulator) {
        fn merge<K: std::hash::Hash + Eq>(into: &mut HashMap<K, u64>, from: HashMap<K, u64>) {
            for (key, count) in from {
                *into.entry(key).or_default() += count;
            }
        }
        merge(&mut self.province, other.province);
        merge(&mut self.commune, other.commune);
        merge(&mut self.category, other.category);
        merge(&mut self.group, other.group);
        merge(&mut self.cooperative, other.cooperative);
        for (into, from) in self.stars.iter_mut().zip(other.stars) {
            *into += from;
        }
        for (into, from) in self.price.iter_mut().zip(other.price) {
            *into += from;
        }
        self.in_stock += other.in_stock;
    }

    pub(super) fn into_facets(self) -> Facets {
        fn list(counts: impl IntoIterator<Item = (String, u64)>) -> Vec<FacetCount> {
            let mut values: Vec<FacetCount> = counts
                .into_iter()
                .filter(|(_, count)| *count > 0)
                .map(|(value, count)| FacetCount { value, count })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            values.truncate(MAX_FACET_VALUES);
            values
        }
        Facets {
            provinces: list(self.province),
            communes: list(self.commune),
            categories: list(self.category),
            groups: list(self.group),
            stars: ["3", "4", "5"]
                .iter()
                .zip(self.stars)
                .map(|(value, count)| FacetCount {
                    value: (*value).to_owned(),
                    count,
                })
                .collect(),
            price_ranges: PRICE_RANGES
                .iter()
                .zip(self.price)
                .map(|((value, _, _), count)| FacetCount {
                    value: (*value).to_owned(),
                    count,
                })
                .collect(),
            in_stock: self.in_stock,
            cooperatives: list(self.cooperative),
        }
    }
}
