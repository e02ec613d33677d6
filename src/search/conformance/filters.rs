//! Every filter, and the disjunctive facet counts checked against a reference computed here
//! from the fixed documents.

use super::fixtures::today;
use super::suite::{Suite, browse, ids, query};
use crate::search::model::{
    FacetCount, Facets, MAX_FACET_VALUES, PRICE_RANGES, SearchDocument, SearchQuery,
    has_valid_stars, price_range_index,
};

impl Suite<'_> {
    pub(super) async fn filtered(&mut self, what: &str, mut query: SearchQuery, expected: &[i64]) {
        query.per_page = 100;
        let results = self.search(&query).await;
        let mut found = ids(&results);
        found.sort_unstable();
        let mut expected = expected.to_vec();
        expected.sort_unstable();
        let total = results.total;
        self.check(found == expected && total == expected.len() as u64, || {
            format!("{what}: expected {expected:?}, found {found:?} (total {total})")
        });
    }

    /// Ids of the fixed documents passing `keep`.
    fn where_docs(&self, keep: impl Fn(&SearchDocument) -> bool) -> Vec<i64> {
        self.docs
            .iter()
            .filter(|doc| keep(doc))
            .map(|doc| doc.product_id)
            .collect()
    }

    pub(super) async fn filters(&mut self) {
        let mut q = browse();
        q.province = Some("14".into());
        let expected = self.where_docs(|doc| doc.province_code == "14");
        self.filtered("province 14", q, &expected).await;

        let mut q = browse();
        q.commune = Some("02923".into());
        let expected = self.where_docs(|doc| doc.commune_code == "02923");
        self.filtered("commune 02923", q, &expected).await;

        let mut q = browse();
        q.category = Some("food-tea".into());
        let expected = self.where_docs(|doc| doc.category_code == "food-tea");
        self.filtered("category food-tea", q, &expected).await;

        let mut q = browse();
        q.category = Some("textile".into());
        let expected = self.where_docs(|doc| doc.group_code == "textile");
        self.filtered("group textile", q, &expected).await;

        // 111 has 4 stars but its certificate ended; 112's ends today and still counts.
        let mut q = browse();
        q.min_stars = Some(4);
        let expected =
            self.where_docs(|doc| has_valid_stars(doc.ocop_stars, doc.ocop_expires_on, 4, today()));
        self.check(!expected.contains(&111), || {
            "fixture: 111 expired".to_owned()
        });
        self.filtered("min_stars 4", q, &expected).await;
        let mut q = browse();
        q.min_stars = Some(3);
        q.category = Some("food-tea".into());
        self.filtered("min_stars 3 + food-tea", q, &[108, 109, 110, 112, 113])
            .await;
        let mut q = browse();
        q.min_stars = Some(5);
        self.filtered("min_stars 5", q, &[110]).await;

        // Price bounds are inclusive.
        let mut q = browse();
        q.min_price = Some(150_000);
        q.max_price = Some(200_000);
        let expected = self.where_docs(|doc| (150_000..=200_000).contains(&doc.price_vnd));
        self.filtered("price 150000..=200000", q, &expected).await;
        let mut q = browse();
        q.min_price = Some(1_000_000);
        self.filtered("price from 1000000", q, &[136, 138]).await;

        let mut q = browse();
        q.in_stock = Some(false);
        let expected = self.where_docs(|doc| !doc.in_stock);
        self.filtered("out of stock", q, &expected).await;

        let mut q = browse();
        q.cooperative_id = Some(6);
        self.filtered("cooperative 6", q, &[133, 134, 135, 136])
            .await;

        // Text and filters together.
        let mut q = query("mat ong");
        q.province = Some("15".into());
        // 125 is sold by "Hợp tác xã Ong mật Bắc Hà": the cooperative name is searchable.
        self.filtered(
            "\"mat ong\" in province 15",
            q,
            &[101, 102, 103, 104, 125, 141],
        )
        .await;
        let mut q = query("shan");
        q.in_stock = Some(true);
        q.min_stars = Some(4);
        q.province = Some("15".into());
        self.filtered("\"shan\" in stock 4★ in 15", q, &[108]).await;
        // A value in no document filters everything out.
        let mut q = browse();
        q.province = Some("99".into());
        self.filtered("unknown province", q, &[]).await;
    }

    /// Reference facets over the fixed documents for a browse query (see the model docs).
    fn reference_facets(&self, q: &SearchQuery) -> Facets {
        let passes = |doc: &SearchDocument, skip: &str| -> bool {
            (skip == "province" || q.province.as_ref().is_none_or(|p| *p == doc.province_code))
                && (skip == "commune" || q.commune.as_ref().is_none_or(|c| *c == doc.commune_code))
                && (skip == "category"
                    || q.category
                        .as_ref()
                        .is_none_or(|c| *c == doc.category_code || *c == doc.group_code))
                && (skip == "stars"
                    || q.min_stars.is_none_or(|s| {
                        has_valid_stars(doc.ocop_stars, doc.ocop_expires_on, s, q.today)
                    }))
                && (skip == "price"
                    || (q.min_price.is_none_or(|min| doc.price_vnd >= min)
                        && q.max_price.is_none_or(|max| doc.price_vnd <= max)))
                && (skip == "stock" || q.in_stock.is_none_or(|s| s == doc.in_stock))
                && (skip == "cooperative"
                    || q.cooperative_id.is_none_or(|c| c == doc.cooperative_id))
        };
        let list = |skip: &str, value: &dyn Fn(&SearchDocument) -> String| -> Vec<FacetCount> {
            let mut counts: Vec<FacetCount> = Vec::new();
            for doc in self.docs.iter().filter(|doc| passes(doc, skip)) {
                let value = value(doc);
                match counts.iter_mut().find(|count| count.value == value) {
                    Some(count) => count.count += 1,
                    None => counts.push(FacetCount { value, count: 1 }),
                }
            }
            counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            counts.truncate(MAX_FACET_VALUES);
            counts
        };
        let count = |skip: &str, keep: &dyn Fn(&SearchDocument) -> bool| -> u64 {
            self.docs
                .iter()
                .filter(|doc| passes(doc, skip) && keep(doc))
                .count() as u64
        };
        Facets {
            provinces: list("province", &|doc| doc.province_code.clone()),
            communes: list("commune", &|doc| doc.commune_code.clone()),
            categories: list("category", &|doc| doc.category_code.clone()),
            groups: list("category", &|doc| doc.group_code.clone()),
            stars: [3, 4, 5]
                .iter()
                .map(|&stars| FacetCount {
                    value: stars.to_string(),
                    count: count("stars", &|doc| {
                        has_valid_stars(doc.ocop_stars, doc.ocop_expires_on, stars, q.today)
                    }),
                })
                .collect(),
            price_ranges: PRICE_RANGES
                .iter()
                .enumerate()
                .map(|(index, (value, _, _))| FacetCount {
                    value: (*value).to_owned(),
                    count: count("price", &|doc| price_range_index(doc.price_vnd) == index),
                })
                .collect(),
            in_stock: count("stock", &|doc| doc.in_stock),
            cooperatives: list("cooperative", &|doc| doc.cooperative_id.to_string()),
        }
    }

    async fn facets_match(&mut self, what: &str, mut q: SearchQuery) {
        q.with_facets = true;
        let results = self.search(&q).await;
        let expected = self.reference_facets(&q);
        match results.facets {
            Some(facets) => {
                let pairs: [(&str, &Vec<FacetCount>, &Vec<FacetCount>); 7] = [
                    ("provinces", &facets.provinces, &expected.provinces),
                    ("communes", &facets.communes, &expected.communes),
                    ("categories", &facets.categories, &expected.categories),
                    ("groups", &facets.groups, &expected.groups),
                    ("stars", &facets.stars, &expected.stars),
                    ("price_ranges", &facets.price_ranges, &expected.price_ranges),
                    ("cooperatives", &facets.cooperatives, &expected.cooperatives),
                ];
                for (name, got, want) in pairs {
                    self.check(got == want, || {
                        format!("{what}: facet {name} should be {want:?}, is {got:?}")
                    });
                }
                self.check(facets.in_stock == expected.in_stock, || {
                    format!(
                        "{what}: facet in_stock should be {}, is {}",
                        expected.in_stock, facets.in_stock
                    )
                });
            }
            None => self
                .failures
                .push(format!("{what}: facets were asked for but not returned")),
        }
    }

    pub(super) async fn facets(&mut self) {
        self.facets_match("browse", browse()).await;
        let mut q = browse();
        q.province = Some("15".into());
        self.facets_match("province 15", q).await;
        let mut q = browse();
        q.province = Some("14".into());
        q.category = Some("food".into());
        q.min_stars = Some(4);
        self.facets_match("province 14 + group food + 4★", q).await;
        let mut q = browse();
        q.commune = Some("02923".into());
        q.in_stock = Some(true);
        q.min_price = Some(100_000);
        q.max_price = Some(400_000);
        self.facets_match("commune + in stock + price", q).await;
        let mut q = browse();
        q.cooperative_id = Some(9);
        q.category = Some("food-tea".into());
        q.min_stars = Some(3);
        self.facets_match("cooperative 9 + tea + 3★", q).await;
        // Facets of a text query: "mật ong" matches 101–105, 141 and 125 (by its cooperative).
        let mut q = query("mật ong");
        q.province = Some("15".into());
        q.with_facets = true;
        let results = self.search(&q).await;
        let provinces = results.facets.map(|facets| facets.provinces);
        let expected = vec![
            FacetCount {
                value: "15".into(),
                count: 6,
            },
            FacetCount {
                value: "14".into(),
                count: 1,
            },
        ];
        self.check(provinces.as_ref() == Some(&expected), || {
            format!("\"mật ong\" in 15: province facet should be {expected:?}, is {provinces:?}")
        });
        // No facets unless asked.
        let results = self.search(&browse()).await;
        self.check(results.facets.is_none(), || {
            "facets returned without being asked for".to_owned()
        });
    }
}
