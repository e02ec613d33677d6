//! What a text finds and in which order: folding, typos, prefixes, ranking, synonyms,
//! highlighting and suggestions.

use super::suite::{Suite, browse, ids};
use crate::search::model::SearchDocument;

impl Suite<'_> {
    pub(super) async fn matching(&mut self) {
        self.finds("mat ong", &[101, 102, 103, 104, 105, 141, 125])
            .await;
        self.finds("Mật ong bạc hà", &[101]).await;
        self.finds("duong phen", &[114, 115]).await;
        self.finds("che shan tuyet", &[108, 110]).await;
        self.finds("shan", &[108, 109, 110, 111]).await;
        self.finds("gao seng cu", &[118, 119, 120]).await;
        self.finds("thit trau gac bep", &[126]).await;
        self.finds("ca phe arabica", &[131]).await;
        self.finds("man hau moc chau", &[129, 130]).await;
        // Every word must match somewhere: the province and category names count.
        self.finds("mat ong lao cai", &[101, 102, 103, 104]).await;
        self.misses("mat ong lao cai", &[105]).await;
        self.finds("tra son la", &[111, 112, 113]).await;
        self.misses("tra son la", &[108, 109]).await;
        // Prefix of the last word, as typed.
        self.finds("mat o", &[101, 102, 103]).await;
        self.finds("thao qu", &[123, 124]).await;
        // Decomposed query text (base letter + combining marks).
        self.finds("Ma\u{323}\u{302}t ong", &[101]).await;
        self.finds("\u{110}u\u{31b}o\u{31b}\u{300}ng phe\u{300}n", &[114])
            .await;
        // A document written decomposed is found by a composed query, and the other way.
        self.finds("Rượu ngô Bản Phố", &[125]).await;
        self.finds("ruou ngo", &[125]).await;
        // Case does not matter.
        self.finds("MẬT ONG", &[101]).await;
        // Nonsense finds nothing.
        let nonsense = self.text("xyzzyqwk zzkq").await;
        self.check(nonsense.total == 0 && nonsense.hits.is_empty(), || {
            format!("nonsense should find nothing; found {:?}", ids(&nonsense))
        });
        // Browsing (empty text) finds everything.
        let all = self.search(&browse()).await;
        let expected = self.docs.len() as u64;
        self.check(all.total == expected, || {
            format!(
                "empty text should browse all {expected} documents, total {}",
                all.total
            )
        });
    }

    pub(super) async fn typos(&mut self) {
        // One typo from 5 letters.
        self.finds("shann", &[108, 110]).await;
        self.finds("arabika", &[131]).await;
        // Two typos from 9 letters.
        self.finds("makadamya", &[132]).await;
        // No typo under 5 letters: mứt and mật never match each other.
        self.misses("mứt", &[101, 102, 103, 104, 105]).await;
        self.finds("mứt", &[107]).await;
        self.misses("mật", &[107]).await;
        self.misses("mut", &[101, 102, 103, 104, 105]).await;
        let shab = self.text("shab").await;
        self.check(shab.total == 0, || {
            format!(
                "\"shab\" (4 letters, 1 typo from shan) should find nothing; found {:?}",
                ids(&shab)
            )
        });
        // Three typos in 9 letters are too many.
        let far = self.text("mukudumyu").await;
        self.check(!ids(&far).contains(&132), || {
            "\"mukudumyu\" (3 typos) should not find Macadamia".to_owned()
        });
    }

    pub(super) async fn ranking(&mut self) {
        // Exact diacritics first: "đường" ranks Đường phèn above Dương Quỳ.
        let results = self.text("đường").await;
        let found = ids(&results);
        let position = |id: i64| found.iter().position(|&hit| hit == id);
        let exact: Vec<Option<usize>> = [114, 115].iter().map(|&id| position(id)).collect();
        let other: Vec<Option<usize>> = [116, 117].iter().map(|&id| position(id)).collect();
        self.check(exact.iter().all(Option::is_some), || {
            format!("\"đường\" should find 114 and 115; found {found:?}")
        });
        let last_exact = exact.iter().flatten().max().copied();
        let first_other = other.iter().flatten().min().copied();
        if let (Some(last_exact), Some(first_other)) = (last_exact, first_other) {
            self.check(last_exact < first_other, || {
                format!("\"đường\" should rank Đường phèn (114, 115) above Dương Quỳ (116, 117): {found:?}")
            });
        }
        self.check(
            found.first() == Some(&114) || found.first() == Some(&115),
            || format!("\"đường\" should rank a Đường phèn product first: {found:?}"),
        );
        // Without tone marks both are found.
        self.finds("duong", &[114, 115, 116, 117]).await;
        // Exact words above typos: Miến dong (1 typo from "duong") after all exact matches.
        let results = self.text("duong").await;
        let found = ids(&results);
        if let Some(dong) = found.iter().position(|&id| id == 139) {
            let exact_last = found
                .iter()
                .enumerate()
                .filter(|(_, id)| [114, 115, 116, 117].contains(*id))
                .map(|(index, _)| index)
                .max();
            self.check(exact_last.is_none_or(|last| last < dong), || {
                format!("\"duong\": exact matches should rank above the typo match 139: {found:?}")
            });
        }
        // A name match ranks above a description-only match.
        let results = self.text("bạc hà").await;
        let found = ids(&results);
        self.check(found.first() == Some(&101), || {
            format!("\"bạc hà\" should rank 101 (in the name) first: {found:?}")
        });
        // Equal matches: most sold first, then newest.
        let results = self.text("mật ong").await;
        let mut expected: Vec<&SearchDocument> = self
            .docs
            .iter()
            .filter(|doc| doc.name.contains("Mật ong"))
            .collect();
        expected.sort_by(|a, b| {
            b.sold_count
                .cmp(&a.sold_count)
                .then(b.published_at.cmp(&a.published_at))
        });
        let expected: Vec<i64> = expected.iter().map(|doc| doc.product_id).collect();
        let found: Vec<i64> = ids(&results)
            .into_iter()
            .filter(|id| expected.contains(id))
            .collect();
        self.check(found == expected, || {
            format!("\"mật ong\": equal name matches should rank by sold count then newest: expected {expected:?}, got {found:?}")
        });
        let top: Vec<i64> = ids(&results).into_iter().take(expected.len()).collect();
        self.check(top == expected, || {
            format!(
                "\"mật ong\": name matches should come first: expected {expected:?}, got {top:?}"
            )
        });
    }

    pub(super) async fn synonyms(&mut self) {
        // chè ⇄ trà: 112 and 108 never say "trà".
        self.finds("trà", &[108, 112]).await;
        self.finds("tra", &[108, 112]).await;
        self.finds("chè", &[109, 111]).await;
        // A phrase and a word: honey ⇄ mật ong.
        self.finds("honey", &[101, 102, 103, 104, 105]).await;
        self.finds("plum", &[129]).await;
        self.finds("buffalo meat", &[126]).await;
        self.finds("black cardamom", &[123]).await;
        self.finds("brocade", &[133, 134]).await;
    }

    pub(super) async fn highlighting(&mut self) {
        let results = self.text("mat ong").await;
        let hit = results.hits.iter().find(|hit| hit.product_id == 101);
        let highlighted = hit
            .map(|hit| hit.highlighted_name.clone())
            .unwrap_or_default();
        self.check(highlighted == "<mark>Mật</mark> <mark>ong</mark> bạc hà Bắc Hà", || {
            format!("\"mat ong\" should highlight 101 as <mark>Mật</mark> <mark>ong</mark> bạc hà Bắc Hà, got {highlighted:?}")
        });
        let results = self.text("shann").await;
        let highlighted = results
            .hits
            .iter()
            .find(|hit| hit.product_id == 108)
            .map(|hit| hit.highlighted_name.clone())
            .unwrap_or_default();
        self.check(highlighted.contains("<mark>Shan</mark>"), || {
            format!("a typo match should be highlighted: {highlighted:?}")
        });
        // Names are HTML-escaped around the marks.
        let results = self.text("hop qua").await;
        let highlighted = results
            .hits
            .iter()
            .find(|hit| hit.product_id == 141)
            .map(|hit| hit.highlighted_name.clone())
            .unwrap_or_default();
        self.check(
            highlighted.starts_with("<mark>Hộp</mark> <mark>quà</mark> ")
                && highlighted.contains("&lt;Chè &amp; Mật ong&gt;")
                && !highlighted.contains("<Chè"),
            || format!("141 should be highlighted and escaped, got {highlighted:?}"),
        );
        // Browsing marks nothing but still escapes.
        let mut q = browse();
        q.cooperative_id = Some(2);
        let results = self.search(&q).await;
        let highlighted = results
            .hits
            .iter()
            .find(|hit| hit.product_id == 141)
            .map(|hit| hit.highlighted_name.clone())
            .unwrap_or_default();
        self.check(
            !highlighted.contains("<mark>") && highlighted.contains("&lt;Chè"),
            || format!("browse should not mark but should escape: {highlighted:?}"),
        );
    }

    pub(super) async fn suggestions(&mut self) {
        match self.index.suggest("mat", 5).await {
            Ok(names) => {
                let unique = names
                    .iter()
                    .enumerate()
                    .all(|(index, name)| !names[..index].contains(name));
                self.check(
                    !names.is_empty()
                        && names.len() <= 5
                        && unique
                        && names.iter().all(|name| name.contains("Mật ong"))
                        && names.iter().any(|name| name.starts_with("Mật ong")),
                    || format!("suggest(\"mat\", 5) should give distinct \"Mật ong…\" names, got {names:?}"),
                );
            }
            Err(error) => self.failures.push(format!("suggest failed: {error}")),
        }
        match self.index.suggest("che shan t", 3).await {
            Ok(names) => self.check(
                !names.is_empty()
                    && names.len() <= 3
                    && names.iter().all(|n| n.contains("Shan tuyết")),
                || format!("suggest(\"che shan t\", 3): {names:?}"),
            ),
            Err(error) => self.failures.push(format!("suggest failed: {error}")),
        }
        match self.index.suggest("", 5).await {
            Ok(names) => self.check(names.is_empty(), || {
                format!("suggest(\"\") should be empty, got {names:?}")
            }),
            Err(error) => self.failures.push(format!("suggest(\"\") failed: {error}")),
        }
    }
}
