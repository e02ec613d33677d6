//! Search documents built from the database: what the indexer and a rebuild feed the index.
//!
//! The rule of what search may show is the catalogue's `listed` flag (published product of a
//! verified, unsuspended cooperative); everything else about a document is read from the
//! product row, its cooperative and the reference data.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::model::{SearchDocument, SearchIndex};
use crate::entities::{cooperatives, products};
use crate::reference::ReferenceData;

/// What a set of changed products means for the index.
#[derive(Debug, Default)]
pub struct Changes {
    /// Listed products: add or replace.
    pub upserts: Vec<SearchDocument>,
    /// Products that are gone or no longer listed: remove.
    pub deletes: Vec<i64>,
}

/// Reads the current state of `product_ids` and sorts them into upserts and deletes.
pub async fn changes_for(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    product_ids: &[i64],
) -> Result<Changes, DbErr> {
    let mut changes = Changes::default();
    for chunk in product_ids.chunks(500) {
        let rows = products::Entity::find()
            .filter(products::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        let documents = documents_of(db, reference, rows).await?;
        let found: std::collections::HashSet<i64> =
            documents.iter().map(|d| d.product_id).collect();
        changes.upserts.extend(documents);
        changes
            .deletes
            .extend(chunk.iter().copied().filter(|id| !found.contains(id)));
    }
    Ok(changes)
}

/// One page of listed products, by increasing id after `after_id`, as documents (a rebuild
/// walks the catalogue with it). Returns the documents and the last id read.
pub async fn listed_page(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    after_id: i64,
    limit: u64,
) -> Result<(Vec<SearchDocument>, Option<i64>), DbErr> {
    let rows = products::Entity::find()
        .filter(products::Column::Listed.eq(true))
        .filter(products::Column::Id.gt(after_id))
        .order_by_asc(products::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let last = rows.last().map(|p| p.id);
    Ok((documents_of(db, reference, rows).await?, last))
}

/// Writes every listed product into `index`, a page of `page_size` at a time (both rebuilds,
/// embedded and Meilisearch, fill their fresh index with it). Returns how many it wrote; the
/// caller refreshes the index.
pub async fn fill(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    index: &dyn SearchIndex,
    page_size: u64,
) -> anyhow::Result<u64> {
    let mut after = 0;
    let mut count = 0u64;
    loop {
        let (docs, last) = listed_page(db, reference, after, page_size).await?;
        let Some(last) = last else {
            return Ok(count);
        };
        after = last;
        count += docs.len() as u64;
        index.upsert(docs).await?;
    }
}

/// Documents of the listed products among `rows` (with their cooperatives read in one query).
async fn documents_of(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    rows: Vec<products::Model>,
) -> Result<Vec<SearchDocument>, DbErr> {
    let mut coop_ids: Vec<i64> = rows.iter().map(|p| p.cooperative_id).collect();
    coop_ids.sort_unstable();
    coop_ids.dedup();
    let mut coops: HashMap<i64, cooperatives::Model> = HashMap::new();
    for chunk in coop_ids.chunks(500) {
        for coop in cooperatives::Entity::find()
            .filter(cooperatives::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            coops.insert(coop.id, coop);
        }
    }
    Ok(rows
        .into_iter()
        .filter(|p| p.listed)
        .filter_map(|p| {
            let coop = coops.get(&p.cooperative_id)?;
            crate::catalog::products::is_public(&p, coop).then(|| document(reference, p, coop))
        })
        .collect())
}

fn document(
    reference: &ReferenceData,
    product: products::Model,
    coop: &cooperatives::Model,
) -> SearchDocument {
    let category = reference.category(&product.category_code);
    let commune = reference.commune(&product.commune_code);
    let province = reference.province(&product.province_code);
    SearchDocument {
        product_id: product.id,
        name: product.name,
        short_name: product.short_name,
        description: product.description,
        group_code: category.map(|c| c.group_code.clone()).unwrap_or_default(),
        category_name_vi: category.map(|c| c.name_vi.clone()).unwrap_or_default(),
        category_name_en: category.map(|c| c.name_en.clone()).unwrap_or_default(),
        category_code: product.category_code,
        cooperative_id: coop.id,
        cooperative_name: coop.name.clone(),
        province_code: product.province_code,
        province_name: province.map(|p| p.name.clone()).unwrap_or_default(),
        commune_code: product.commune_code,
        commune_name: commune.map(|c| c.name.clone()).unwrap_or_default(),
        price_vnd: product.price_vnd,
        ocop_stars: product.ocop_stars,
        ocop_expires_on: product.ocop_expires_on,
        in_stock: product.stock_quantity > 0,
        sold_count: product.sold_count,
        rating_sum: product.rating_sum,
        rating_count: product.rating_count,
        published_at: product.published_at.unwrap_or(product.created_at),
    }
}
