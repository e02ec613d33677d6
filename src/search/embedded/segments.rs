//! What filters, facets and sorting read of each document: a per-segment table built once from
//! the fast fields when the segment is loaded (about 64 bytes per product), and the
//! dictionaries of the segment's string fields (codes and cooperative ids by ordinal).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use tantivy::columnar::{Column, ColumnValues, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{DocId, Searcher, SegmentReader};

use super::schema::{
    F_CATEGORY, F_COMMUNE, F_COOPERATIVE, F_EXPIRES, F_GROUP, F_IN_STOCK, F_PRICE, F_PRODUCT_ID,
    F_PROVINCE, F_PUBLISHED, F_RATING, F_SOLD, F_STARS,
};

/// Sorted values of a segment's string fast fields (ordinal = index).
#[derive(Debug, Default)]
pub(super) struct SegmentDictionaries {
    pub(super) province: Vec<String>,
    pub(super) commune: Vec<String>,
    pub(super) category: Vec<String>,
    pub(super) group: Vec<String>,
    pub(super) cooperative: Vec<String>,
}

/// Ordinal of a document without the value.
const MISSING_ORD: u32 = u32::MAX;
/// Stands for "the filter's value is in no document of this segment".
pub(super) const ABSENT_ORD: u32 = u32::MAX - 1;

/// What filters, facets and sorting read of one document, gathered once per segment from
/// the fast fields: one small struct per document reads several times faster than a dozen
/// columns, and costs about 64 bytes per product.
#[derive(Debug, Clone, Copy)]
pub(super) struct DocRow {
    pub(super) product_id: i64,
    pub(super) price: i64,
    pub(super) sold: i64,
    /// Average review stars in thousandths, 0 without reviews.
    pub(super) rating: i64,
    pub(super) published: i64,
    /// Last valid day of the certificate (`i32::MIN`: no certificate).
    pub(super) expires: i32,
    pub(super) province: u32,
    pub(super) commune: u32,
    pub(super) category: u32,
    pub(super) group: u32,
    pub(super) cooperative: u32,
    pub(super) stars: u8,
    pub(super) in_stock: bool,
}

/// A segment's dictionaries and rows; segments never change, so this is built once.
#[derive(Debug, Default)]
pub(super) struct SegmentData {
    pub(super) dictionaries: SegmentDictionaries,
    pub(super) rows: Vec<DocRow>,
}

fn dictionary_values(column: Option<&StrColumn>) -> tantivy::Result<Vec<String>> {
    let Some(column) = column else {
        return Ok(Vec::new());
    };
    let mut values = Vec::with_capacity(column.num_terms());
    let mut stream = column.dictionary().stream()?;
    while stream.advance() {
        values.push(String::from_utf8_lossy(stream.key()).into_owned());
    }
    Ok(values)
}

fn ord_column(column: Option<&StrColumn>, max_doc: u32) -> Arc<dyn ColumnValues<u64>> {
    match column {
        Some(column) => column
            .ords()
            .clone()
            .first_or_default_col(u64::from(MISSING_ORD)),
        None => {
            Column::<u64>::build_empty_column(max_doc).first_or_default_col(u64::from(MISSING_ORD))
        }
    }
}

impl SegmentData {
    fn load(reader: &SegmentReader) -> tantivy::Result<Self> {
        let fast = reader.fast_fields();
        let max_doc = reader.max_doc();
        let province = fast.str(F_PROVINCE)?;
        let commune = fast.str(F_COMMUNE)?;
        let category = fast.str(F_CATEGORY)?;
        let group = fast.str(F_GROUP)?;
        let cooperative = fast.str(F_COOPERATIVE)?;
        let dictionaries = SegmentDictionaries {
            province: dictionary_values(province.as_ref())?,
            commune: dictionary_values(commune.as_ref())?,
            category: dictionary_values(category.as_ref())?,
            group: dictionary_values(group.as_ref())?,
            cooperative: dictionary_values(cooperative.as_ref())?,
        };
        let ords = [
            ord_column(province.as_ref(), max_doc),
            ord_column(commune.as_ref(), max_doc),
            ord_column(category.as_ref(), max_doc),
            ord_column(group.as_ref(), max_doc),
            ord_column(cooperative.as_ref(), max_doc),
        ];
        let [product_id, price, sold, published, expires, rating] = [
            F_PRODUCT_ID,
            F_PRICE,
            F_SOLD,
            F_PUBLISHED,
            F_EXPIRES,
            F_RATING,
        ]
        .map(|name| fast.i64(name).map(|column| column.first_or_default_col(0)));
        let (product_id, price, sold, published, expires, rating) =
            (product_id?, price?, sold?, published?, expires?, rating?);
        let stars = fast.u64(F_STARS)?.first_or_default_col(0);
        let in_stock = fast.u64(F_IN_STOCK)?.first_or_default_col(0);
        let ord = |column: &Arc<dyn ColumnValues<u64>>, doc: DocId| {
            u32::try_from(column.get_val(doc)).unwrap_or(MISSING_ORD)
        };
        let rows = (0..max_doc)
            .map(|doc| DocRow {
                product_id: product_id.get_val(doc),
                price: price.get_val(doc),
                sold: sold.get_val(doc),
                rating: rating.get_val(doc),
                published: published.get_val(doc),
                expires: i32::try_from(expires.get_val(doc)).unwrap_or(i32::MIN),
                province: ord(&ords[0], doc),
                commune: ord(&ords[1], doc),
                category: ord(&ords[2], doc),
                group: ord(&ords[3], doc),
                cooperative: ord(&ords[4], doc),
                stars: u8::try_from(stars.get_val(doc)).unwrap_or(0),
                in_stock: in_stock.get_val(doc) != 0,
            })
            .collect();
        Ok(Self { dictionaries, rows })
    }
}

/// Per-segment data, kept while the segment is live.
#[derive(Default)]
pub(super) struct SegmentCache {
    segments: RwLock<HashMap<SegmentId, Arc<SegmentData>>>,
}

impl SegmentCache {
    pub(super) fn get(&self, reader: &SegmentReader) -> tantivy::Result<Arc<SegmentData>> {
        let id = reader.segment_id();
        if let Ok(segments) = self.segments.read()
            && let Some(found) = segments.get(&id)
        {
            return Ok(Arc::clone(found));
        }
        let built = Arc::new(SegmentData::load(reader)?);
        if let Ok(mut segments) = self.segments.write() {
            segments.insert(id, Arc::clone(&built));
        }
        Ok(built)
    }

    /// Loads the searcher's new segments and forgets the ones it no longer has.
    pub(super) fn refresh(&self, searcher: &Searcher) -> tantivy::Result<()> {
        let live: HashSet<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        if let Ok(mut segments) = self.segments.write() {
            segments.retain(|id, _| live.contains(id));
        }
        for reader in searcher.segment_readers() {
            self.get(reader)?;
        }
        Ok(())
    }
}
