//! The embedded index's schema: its fields, how each is analysed and stored, and how a
//! [`SearchDocument`] is written into it.

use chrono::{Datelike, NaiveDate};
use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use super::analysis::{EXACT_TOKENIZER, FOLD_TOKENIZER, nfc};
use crate::search::model::SearchDocument;

pub(super) const F_PRODUCT_ID: &str = "product_id";
const F_NAME: &str = "name";
const F_NAME_EXACT: &str = "name_exact";
const F_TAGS: &str = "tags";
const F_DESCRIPTION: &str = "description";
pub(super) const F_PROVINCE: &str = "province_code";
pub(super) const F_COMMUNE: &str = "commune_code";
pub(super) const F_CATEGORY: &str = "category_code";
pub(super) const F_GROUP: &str = "group_code";
pub(super) const F_COOPERATIVE: &str = "cooperative_id";
pub(super) const F_PRICE: &str = "price_vnd";
pub(super) const F_STARS: &str = "ocop_stars";
pub(super) const F_EXPIRES: &str = "ocop_expires_day";
pub(super) const F_IN_STOCK: &str = "in_stock";
pub(super) const F_SOLD: &str = "sold_count";
pub(super) const F_PUBLISHED: &str = "published_micros";
pub(super) const F_RATING: &str = "rating_key";

/// Handles of the schema's fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    pub(super) product_id: Field,
    pub(super) name: Field,
    pub(super) name_exact: Field,
    pub(super) tags: Field,
    pub(super) description: Field,
    pub(super) province: Field,
    pub(super) commune: Field,
    pub(super) category: Field,
    pub(super) group: Field,
    pub(super) cooperative: Field,
    pub(super) price: Field,
    pub(super) stars: Field,
    pub(super) expires: Field,
    pub(super) in_stock: Field,
    pub(super) sold: Field,
    pub(super) published: Field,
    pub(super) rating: Field,
}

pub(super) fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |tokenizer: &str, record: IndexRecordOption| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(record)
                .set_fieldnorms(false),
        )
    };
    let fields = Fields {
        product_id: builder.add_i64_field(F_PRODUCT_ID, INDEXED | FAST | STORED),
        name: builder.add_text_field(
            F_NAME,
            text(FOLD_TOKENIZER, IndexRecordOption::WithFreqsAndPositions).set_stored(),
        ),
        name_exact: builder.add_text_field(
            F_NAME_EXACT,
            text(EXACT_TOKENIZER, IndexRecordOption::Basic),
        ),
        tags: builder.add_text_field(F_TAGS, text(FOLD_TOKENIZER, IndexRecordOption::Basic)),
        description: builder.add_text_field(
            F_DESCRIPTION,
            text(FOLD_TOKENIZER, IndexRecordOption::Basic),
        ),
        province: builder.add_text_field(F_PROVINCE, STRING | FAST),
        commune: builder.add_text_field(F_COMMUNE, STRING | FAST),
        category: builder.add_text_field(F_CATEGORY, STRING | FAST),
        group: builder.add_text_field(F_GROUP, STRING | FAST),
        // A string (the id in decimal) so that its facet counts by dictionary ordinal.
        cooperative: builder.add_text_field(F_COOPERATIVE, STRING | FAST),
        price: builder.add_i64_field(F_PRICE, FAST),
        stars: builder.add_u64_field(F_STARS, FAST),
        expires: builder.add_i64_field(F_EXPIRES, FAST),
        in_stock: builder.add_u64_field(F_IN_STOCK, FAST),
        sold: builder.add_i64_field(F_SOLD, FAST),
        published: builder.add_i64_field(F_PUBLISHED, FAST),
        rating: builder.add_i64_field(F_RATING, FAST),
    };
    (builder.build(), fields)
}

impl Fields {
    pub(super) fn document(&self, doc: &SearchDocument) -> TantivyDocument {
        let f = *self;
        let mut out = TantivyDocument::default();
        let name = nfc(&doc.name);
        out.add_i64(f.product_id, doc.product_id);
        out.add_text(f.name, &name);
        out.add_text(f.name_exact, &name);
        for tag in [
            &doc.short_name,
            &doc.category_name_vi,
            &doc.category_name_en,
            &doc.cooperative_name,
            &doc.commune_name,
            &doc.province_name,
        ] {
            out.add_text(f.tags, nfc(tag));
        }
        out.add_text(f.description, nfc(&doc.description));
        out.add_text(f.province, &doc.province_code);
        out.add_text(f.commune, &doc.commune_code);
        out.add_text(f.category, &doc.category_code);
        out.add_text(f.group, &doc.group_code);
        out.add_text(f.cooperative, doc.cooperative_id.to_string());
        out.add_i64(f.price, doc.price_vnd);
        let stars = doc
            .ocop_stars
            .and_then(|stars| u64::try_from(stars).ok())
            .unwrap_or(0);
        out.add_u64(f.stars, stars);
        let expires = match (stars, doc.ocop_expires_on) {
            (0, _) => i64::from(i32::MIN),
            (_, None) => i64::from(i32::MAX),
            (_, Some(date)) => i64::from(day_number(date)),
        };
        out.add_i64(f.expires, expires);
        out.add_u64(f.in_stock, u64::from(doc.in_stock));
        out.add_i64(f.sold, doc.sold_count);
        out.add_i64(f.published, doc.published_at.timestamp_micros());
        out.add_i64(f.rating, doc.rating_key());
        out
    }
}

pub(super) fn day_number(date: NaiveDate) -> i32 {
    date.num_days_from_ce()
}
