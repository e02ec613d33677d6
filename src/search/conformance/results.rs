//! What comes back and how it changes: sorting, paging, out-of-range input, and deletes and
//! upserts (which change the index: they run last).

use super::suite::{Suite, browse, ids, query};
use crate::search::model::{SearchDocument, SearchSort};

impl Suite<'_> {
    async fn sorted(&mut self, sort: SearchSort, key: impl Fn(&SearchDocument) -> i64, name: &str) {
        let mut q = browse();
        q.sort = sort;
        let results = self.search(&q).await;
        let keys: Vec<i64> = ids(&results)
            .iter()
            .filter_map(|&id| self.doc(id).map(&key))
            .collect();
        let ordered = keys.windows(2).all(|pair| pair[0] >= pair[1]);
        let complete = results.hits.len() == self.docs.len();
        self.check(ordered && complete, || {
            format!(
                "browse sorted {name}: {} hits, keys {keys:?}",
                results.hits.len()
            )
        });
    }

    pub(super) async fn sorting_and_paging(&mut self) {
        self.sorted(
            SearchSort::PriceAsc,
            |doc| -doc.price_vnd,
            "by price ascending",
        )
        .await;
        self.sorted(
            SearchSort::PriceDesc,
            |doc| doc.price_vnd,
            "by price descending",
        )
        .await;
        self.sorted(
            SearchSort::Newest,
            |doc| doc.published_at.timestamp(),
            "newest first",
        )
        .await;
        self.sorted(
            SearchSort::BestSelling,
            |doc| doc.sold_count,
            "best selling first",
        )
        .await;
        self.sorted(
            SearchSort::Rating,
            |doc| doc.rating_key(),
            "best rated first",
        )
        .await;
        self.sorted(
            SearchSort::Relevance,
            |doc| doc.published_at.timestamp(),
            "by relevance (browse: newest)",
        )
        .await;
        // A sort applies to text queries too.
        let mut q = query("chè");
        q.per_page = 100;
        q.sort = SearchSort::PriceAsc;
        let results = self.search(&q).await;
        let prices: Vec<i64> = ids(&results)
            .iter()
            .filter_map(|&id| self.doc(id).map(|doc| doc.price_vnd))
            .collect();
        self.check(
            prices.len() >= 5 && prices.windows(2).all(|p| p[0] <= p[1]),
            || format!("\"chè\" by price ascending: {prices:?}"),
        );

        // Pages.
        let mut q = browse();
        q.sort = SearchSort::Newest;
        let all = ids(&self.search(&q).await);
        q.per_page = 10;
        q.page = 2;
        let page = self.search(&q).await;
        let expected: Vec<i64> = all.iter().skip(10).take(10).copied().collect();
        let total = self.docs.len() as u64;
        self.check(ids(&page) == expected && page.total == total, || {
            format!(
                "page 2 of 10: expected {expected:?} (total {total}), got {:?} (total {})",
                ids(&page),
                page.total
            )
        });
        q.page = 5;
        let last = self.search(&q).await;
        let expected: Vec<i64> = all.iter().skip(40).copied().collect();
        self.check(ids(&last) == expected && last.total == total, || {
            format!("last page: expected {expected:?}, got {:?}", ids(&last))
        });
        q.page = 50;
        let beyond = self.search(&q).await;
        self.check(beyond.hits.is_empty() && beyond.total == total, || {
            format!(
                "a page past the end should be empty with the same total, got {:?} (total {})",
                ids(&beyond),
                beyond.total
            )
        });
        let mut q = query("mat ong");
        q.per_page = 2;
        q.page = 2;
        let second = self.search(&q).await;
        self.check(second.hits.len() == 2 && second.total == 7, || {
            format!(
                "\"mat ong\" page 2 of 2: {:?} (total {})",
                ids(&second),
                second.total
            )
        });
    }

    pub(super) async fn bad_input(&mut self) {
        let mut q = browse();
        q.per_page = 0;
        self.check(self.index.search(&q).await.is_err(), || {
            "per_page 0 should be refused".to_owned()
        });
        let mut q = browse();
        q.per_page = 101;
        self.check(self.index.search(&q).await.is_err(), || {
            "per_page 101 should be refused".to_owned()
        });
        let mut q = browse();
        q.page = 0;
        self.check(self.index.search(&q).await.is_err(), || {
            "page 0 should be refused".to_owned()
        });
        let long = "mật ong ".repeat(2_000);
        for text in [
            long.as_str(),
            "!!! ??? ...",
            "\"mật ong\" AND (chè OR trà) -rượu*",
            "🍯🍵",
            "\u{301}\u{303}",
            "a b c d e f g h i j k l m n",
        ] {
            let results = self.index.search(&query(text)).await;
            self.check(results.is_ok(), || {
                format!("search {text:.40?} should not fail: {results:?}")
            });
        }
        // A word too long to be indexed matches nothing (it does not turn into a browse).
        let long_word = self.text(&"a".repeat(60)).await;
        self.check(long_word.total == 0, || {
            format!(
                "a 60-letter word should find nothing, found {}",
                long_word.total
            )
        });
        let mut q = browse();
        q.min_price = Some(500_000);
        q.max_price = Some(100_000);
        self.filtered("min price above max price", q, &[]).await;
    }

    pub(super) async fn deletes_and_upserts(&mut self) {
        let before = self.index.count().await.unwrap_or_default();
        if let Err(error) = self.index.delete(vec![143, 999_999]).await {
            self.failures.push(format!("delete failed: {error}"));
        }
        if let Err(error) = self.index.refresh().await {
            self.failures.push(format!("refresh failed: {error}"));
        }
        self.misses("xa phong", &[143]).await;
        let after = self.index.count().await.unwrap_or_default();
        self.check(after + 1 == before, || {
            format!("count after deleting one document: {before} then {after}")
        });

        // Renaming replaces the document: found by its new name, not its old one.
        let renamed = self.doc(120).cloned().map(|mut doc| {
            doc.name = "Bánh ngô nướng Si Ma Cai".to_owned();
            doc.short_name = doc.name.clone();
            doc.description = "Bánh làm từ bột ngô nương, nướng trên than củi.".to_owned();
            doc.price_vnd = 48_000;
            doc
        });
        if let Some(renamed) = renamed {
            if let Err(error) = self.index.upsert(vec![renamed]).await {
                self.failures.push(format!("upsert failed: {error}"));
            }
            if let Err(error) = self.index.refresh().await {
                self.failures.push(format!("refresh failed: {error}"));
            }
            self.finds("banh ngo nuong", &[120]).await;
            self.misses("banh gao", &[120]).await;
            let count = self.index.count().await.unwrap_or_default();
            self.check(count == after, || {
                format!("upserting an existing id should not add a document: {after} then {count}")
            });
            let mut q = browse();
            q.max_price = Some(48_000);
            q.min_price = Some(48_000);
            self.filtered("upserted price", q, &[120]).await;
        }
    }
}
