//! Filters, facets, sorting: one pass over the documents that match the text applies the
//! filters, counts the (disjunctive, see [`crate::search::model`]) facets and keeps the top of
//! the requested page. What it reads of each document comes from the per-segment table of
//! [`super::segments`].

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::facets::{
    FAIL_CATEGORY, FAIL_COMMUNE, FAIL_COOPERATIVE, FAIL_PRICE, FAIL_PROVINCE, FAIL_STARS,
    FAIL_STOCK, FacetAccumulator, SegmentFacets,
};
use super::segments::{ABSENT_ORD, DocRow, SegmentCache, SegmentData};
use crate::search::model::SearchSort;

/// Sort key: compared lexicographically, greater first.
type SortKey = [i64; 4];

fn score_key(score: Score) -> i64 {
    // Scores are never negative, and for non-negative floats the bit pattern orders like the
    // value.
    i64::from(score.max(0.0).to_bits())
}

/// Filters of a query, resolved per segment by the collector.
#[derive(Debug, Clone)]
pub(super) struct FilterSpec {
    pub(super) province: Option<String>,
    pub(super) commune: Option<String>,
    pub(super) category: Option<String>,
    pub(super) min_stars: Option<u8>,
    pub(super) min_price: Option<i64>,
    pub(super) max_price: Option<i64>,
    pub(super) in_stock: Option<bool>,
    pub(super) cooperative: Option<String>,
    pub(super) today: i32,
}

impl FilterSpec {
    pub(super) fn none() -> Self {
        Self {
            province: None,
            commune: None,
            category: None,
            min_stars: None,
            min_price: None,
            max_price: None,
            in_stock: None,
            cooperative: None,
            today: 0,
        }
    }
}

fn resolve(values: &[String], wanted: Option<&String>) -> Option<u32> {
    wanted.map(|wanted| {
        values
            .binary_search(wanted)
            .ok()
            .and_then(|index| u32::try_from(index).ok())
            .unwrap_or(ABSENT_ORD)
    })
}

/// The one-pass collector: total, top hits, facets.
pub(super) struct SearchCollector {
    pub(super) filters: FilterSpec,
    pub(super) sort: SearchSort,
    pub(super) scored: bool,
    pub(super) wanted: usize,
    pub(super) with_facets: bool,
    pub(super) segments: Arc<SegmentCache>,
}

pub(super) struct SegmentSearchCollector {
    segment: SegmentOrdinal,
    sort: SearchSort,
    wanted: usize,
    data: Arc<SegmentData>,
    province: Option<u32>,
    commune: Option<u32>,
    /// The category filter as (category ordinal, group ordinal).
    category: Option<(u32, u32)>,
    cooperative: Option<u32>,
    filters: FilterSpec,
    total: u64,
    top: Vec<(SortKey, DocId, Score)>,
    threshold: Option<SortKey>,
    facets: Option<SegmentFacets>,
}

/// What one segment found.
pub(super) struct SegmentFruit {
    pub(super) total: u64,
    pub(super) top: Vec<(SortKey, DocAddress, Score)>,
    pub(super) facets: Option<FacetAccumulator>,
}

impl Collector for SearchCollector {
    type Fruit = SegmentFruit;
    type Child = SegmentSearchCollector;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentSearchCollector> {
        let data = self.segments.get(reader)?;
        let dictionaries = &data.dictionaries;
        let facets = self.with_facets.then(|| SegmentFacets {
            province: vec![0; dictionaries.province.len()],
            commune: vec![0; dictionaries.commune.len()],
            category: vec![0; dictionaries.category.len()],
            group: vec![0; dictionaries.group.len()],
            cooperative: vec![0; dictionaries.cooperative.len()],
            stars: [0; 3],
            price: [0; 4],
            in_stock: 0,
        });
        let category = self.filters.category.as_ref().map(|code| {
            (
                resolve(&dictionaries.category, Some(code)).unwrap_or(ABSENT_ORD),
                resolve(&dictionaries.group, Some(code)).unwrap_or(ABSENT_ORD),
            )
        });
        Ok(SegmentSearchCollector {
            segment,
            sort: self.sort,
            wanted: self.wanted,
            province: resolve(&dictionaries.province, self.filters.province.as_ref()),
            commune: resolve(&dictionaries.commune, self.filters.commune.as_ref()),
            category,
            cooperative: resolve(&dictionaries.cooperative, self.filters.cooperative.as_ref()),
            filters: self.filters.clone(),
            data,
            total: 0,
            top: Vec::new(),
            threshold: None,
            facets,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scored
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFruit>) -> tantivy::Result<SegmentFruit> {
        let mut total = 0;
        let mut top = Vec::new();
        let mut facets = self.with_facets.then(FacetAccumulator::default);
        for fruit in fruits {
            total += fruit.total;
            top.extend(fruit.top);
            if let (Some(into), Some(from)) = (facets.as_mut(), fruit.facets) {
                into.add(from);
            }
        }
        top.sort_by_key(|entry| std::cmp::Reverse(entry.0));
        top.truncate(self.wanted);
        Ok(SegmentFruit { total, top, facets })
    }
}

impl SegmentSearchCollector {
    /// Bits of the filters `row` fails.
    fn failures(&self, row: &DocRow) -> u8 {
        let f = &self.filters;
        let mut failed = 0;
        if self.province.is_some_and(|ord| row.province != ord) {
            failed |= FAIL_PROVINCE;
        }
        if self.commune.is_some_and(|ord| row.commune != ord) {
            failed |= FAIL_COMMUNE;
        }
        if self
            .category
            .is_some_and(|(category, group)| row.category != category && row.group != group)
        {
            failed |= FAIL_CATEGORY;
        }
        if f.min_stars
            .is_some_and(|min| row.stars < min || row.expires < f.today)
        {
            failed |= FAIL_STARS;
        }
        if f.min_price.is_some_and(|min| row.price < min)
            || f.max_price.is_some_and(|max| row.price > max)
        {
            failed |= FAIL_PRICE;
        }
        if f.in_stock.is_some_and(|in_stock| row.in_stock != in_stock) {
            failed |= FAIL_STOCK;
        }
        if self.cooperative.is_some_and(|ord| row.cooperative != ord) {
            failed |= FAIL_COOPERATIVE;
        }
        failed
    }

    /// The first element of the sort key, cheap to compare against the threshold.
    fn primary_key(&self, row: &DocRow, score: Score) -> i64 {
        match self.sort {
            SearchSort::Relevance => score_key(score),
            SearchSort::PriceAsc => row.price.saturating_neg(),
            SearchSort::PriceDesc => row.price,
            SearchSort::Newest => row.published,
            SearchSort::BestSelling => row.sold,
            SearchSort::Rating => row.rating,
        }
    }

    fn sort_key(&self, row: &DocRow, score: Score, primary: i64) -> SortKey {
        let score = score_key(score);
        let id = row.product_id.saturating_neg();
        match self.sort {
            SearchSort::Relevance => [primary, row.sold, row.published, id],
            SearchSort::PriceAsc
            | SearchSort::PriceDesc
            | SearchSort::Newest
            | SearchSort::Rating => [primary, score, row.sold, id],
            SearchSort::BestSelling => [primary, score, row.published, id],
        }
    }

    fn push_top(&mut self, row: &DocRow, doc: DocId, score: Score) {
        if self.wanted == 0 {
            return;
        }
        let primary = self.primary_key(row, score);
        if self
            .threshold
            .is_some_and(|threshold| primary < threshold[0])
        {
            return;
        }
        let key = self.sort_key(row, score, primary);
        if self.threshold.is_some_and(|threshold| key <= threshold) {
            return;
        }
        self.top.push((key, doc, score));
        if self.top.len() >= self.wanted.saturating_mul(2) {
            let keep = self.wanted;
            self.top
                .select_nth_unstable_by(keep - 1, |a, b| b.0.cmp(&a.0));
            self.top.truncate(keep);
            self.threshold = self.top.iter().map(|entry| entry.0).min();
        }
    }
}

impl SegmentCollector for SegmentSearchCollector {
    type Fruit = SegmentFruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        let Some(&row) = self.data.rows.get(doc as usize) else {
            return;
        };
        let row = &row;
        let failed = self.failures(row);
        let today = self.filters.today;
        if failed == 0 {
            self.total += 1;
            self.push_top(row, doc, score);
            if let Some(facets) = self.facets.as_mut() {
                facets.count(row, 0, today);
            }
        } else if failed.is_power_of_two()
            && let Some(facets) = self.facets.as_mut()
        {
            facets.count(row, failed, today);
        }
    }

    fn harvest(self) -> SegmentFruit {
        let segment = self.segment;
        let mut top: Vec<(SortKey, DocAddress, Score)> = self
            .top
            .into_iter()
            .map(|(key, doc, score)| (key, DocAddress::new(segment, doc), score))
            .collect();
        top.sort_by_key(|entry| std::cmp::Reverse(entry.0));
        top.truncate(self.wanted);
        let dictionaries = &self.data.dictionaries;
        let facets = self.facets.map(|facets| {
            let named = |counts: Vec<u64>, names: &[String]| -> HashMap<String, u64> {
                counts
                    .into_iter()
                    .zip(names)
                    .filter(|(count, _)| *count > 0)
                    .map(|(count, name)| (name.clone(), count))
                    .collect()
            };
            FacetAccumulator {
                province: named(facets.province, &dictionaries.province),
                commune: named(facets.commune, &dictionaries.commune),
                category: named(facets.category, &dictionaries.category),
                group: named(facets.group, &dictionaries.group),
                cooperative: named(facets.cooperative, &dictionaries.cooperative),
                stars: facets.stars,
                price: facets.price,
                in_stock: facets.in_stock,
            }
        });
        SegmentFruit {
            total: self.total,
            top,
            facets,
        }
    }
}
