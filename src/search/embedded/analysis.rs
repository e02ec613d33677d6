//! Text analysis of the embedded index, shared by indexing, querying and highlighting so that
//! all three agree.
//!
//! Text is NFC-normalised before tantivy sees it (input typed as base letters plus combining
//! marks then matches). Searchable fields are split on non-alphanumerics, lower-cased and
//! folded to ASCII (`AsciiFoldingFilter` folds every precomposed Vietnamese letter, `đ` → `d`
//! included). The name is also indexed lower-cased but not folded (`name_exact`), so that a
//! query written with tone marks ranks exact-diacritic names first.
//!
//! Typo budgets follow word length (see [`crate::search::model`]); a typo on the first letter
//! counts twice, which [`within_typos`] checks of each candidate term on top of tantivy's
//! Levenshtein automaton.

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use unicode_normalization::UnicodeNormalization;

/// Tokens longer than this (in bytes) are not indexed nor searched.
const MAX_TOKEN_BYTES: usize = 40;

pub(super) const FOLD_TOKENIZER: &str = "vi_fold";
pub(super) const EXACT_TOKENIZER: &str = "vi_exact";

/// The indexing analyzer of the folded fields.
pub(super) fn fold_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The indexing analyzer of `name_exact`.
pub(super) fn exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .build()
}

pub(super) fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// Text analysis shared by indexing, querying and highlighting, so that all three agree.
pub(super) struct Analysis {
    fold: TextAnalyzer,
    exact: TextAnalyzer,
}

impl Analysis {
    /// The indexing analyzers, less the long-token filter: a query word too long to be
    /// indexed must match nothing rather than vanish (and leave an empty prefix behind).
    pub(super) fn new() -> Self {
        Self {
            fold: TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .build(),
            exact: TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(LowerCaser)
                .build(),
        }
    }

    /// Lower-cased words of NFC `text` with their byte ranges.
    pub(super) fn exact_words(&mut self, text: &str) -> Vec<(usize, usize, String)> {
        let mut words = Vec::new();
        let mut stream = self.exact.token_stream(text);
        while let Some(token) = stream.next() {
            words.push((token.offset_from, token.offset_to, token.text.clone()));
        }
        words
    }

    /// The folded form of one lower-cased word.
    pub(super) fn fold_word(&mut self, word: &str) -> String {
        let mut folded = String::with_capacity(word.len());
        let mut stream = self.fold.token_stream(word);
        while let Some(token) = stream.next() {
            folded.push_str(&token.text);
        }
        folded
    }
}

/// Typos a word of this folded form may have (Meilisearch's defaults).
pub(super) fn typo_budget(folded: &str) -> u8 {
    match folded.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Optimal-string-alignment distance between `query` and `term` (or, with `prefix`, the
/// smallest distance between `query` and a prefix of `term`).
fn osa_distance(query: &[char], term: &[char], prefix: bool) -> usize {
    let (n, m) = (query.len(), term.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(query[i - 1] != term[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && query[i - 1] == term[j - 2] && query[i - 2] == term[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    if prefix {
        d[n].iter().copied().min().unwrap_or(n)
    } else {
        d[n][m]
    }
}

/// Whether `term` matches `query` within `typos`, a typo on the first letter counting twice.
pub(super) fn within_typos(query: &[char], term: &[char], typos: u8, prefix: bool) -> bool {
    let budget = usize::from(typos);
    let first_differs = query.first() != term.first();
    let budget = if first_differs {
        match budget.checked_sub(1) {
            Some(rest) if rest > 0 => rest,
            _ => return false,
        }
    } else {
        budget
    };
    osa_distance(query, term, prefix) <= budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_covers_vietnamese_letters() {
        let mut analysis = Analysis::new();
        let words = analysis.exact_words(&nfc("Đường phèn Mường Khương ỮỰỢẪ"));
        let folded: Vec<String> = words
            .iter()
            .map(|(_, _, word)| analysis.fold_word(word))
            .collect();
        assert_eq!(folded, ["duong", "phen", "muong", "khuong", "uuoa"]);
    }

    #[test]
    fn decomposed_text_normalises_to_the_same_words() {
        let decomposed = "Ma\u{323}\u{302}t ong";
        let mut analysis = Analysis::new();
        let words = analysis.exact_words(&nfc(decomposed));
        assert_eq!(words[0].2, "mật");
    }

    #[test]
    fn typo_budget_follows_word_length() {
        assert_eq!(typo_budget("mat"), 0);
        assert_eq!(typo_budget("shann"), 1);
        assert_eq!(typo_budget("arabicaaa"), 2);
    }

    #[test]
    fn first_letter_typo_counts_twice() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert!(within_typos(&chars("shann"), &chars("shan"), 1, false));
        assert!(!within_typos(&chars("duong"), &chars("luong"), 1, false));
        assert!(within_typos(
            &chars("arabicaaa"),
            &chars("arabica"),
            2,
            false
        ));
        assert!(within_typos(
            &chars("xarabica"),
            &chars("arabica"),
            2,
            false
        ));
        assert!(!within_typos(
            &chars("xarabicaa"),
            &chars("arabica"),
            2,
            false
        ));
        assert!(within_typos(&chars("arabc"), &chars("arabica"), 1, true));
    }
}
