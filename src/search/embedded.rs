//! The embedded search backend: a tantivy index in the app's own process.
//!
//! One [`IndexWriter`] behind a mutex takes every write; searches read the last committed
//! state through a manually reloaded reader, so a change shows once [`SearchIndex::refresh`]
//! has run. All CPU work runs on tokio's blocking pool.
//!
//! # Analysis
//!
//! Text is NFC-normalised before tantivy sees it (input typed as base letters plus combining
//! marks then matches). Searchable fields are split on non-alphanumerics, lower-cased and
//! folded to ASCII (`AsciiFoldingFilter` folds every precomposed Vietnamese letter, `đ` → `d`
//! included). The name is also indexed lower-cased but not folded (`name_exact`), so that a
//! query written with tone marks ranks exact-diacritic names first.
//!
//! # Matching and ranking
//!
//! Each query word is scored by its best match (constant scores, no BM25, so equal matches
//! tie and fall through to `sold_count`, then newest). "Short fields" are the short name,
//! the category names, and the cooperative, commune and province names.
//!
//! | match | name | short fields | description |
//! | --- | --- | --- | --- |
//! | same word, same tone marks | 10 | | |
//! | same word, folded | 8 | 5 | 3 |
//! | prefix of a word (last query word), same marks | 7 | | |
//! | prefix of a word (last query word), folded | 6 | 3.5 | 1.5 |
//! | within the typo budget | 4 | 2 | 1 |
//! | synonym (per original word) | 7 | 4.5 | 2.5 |
//!
//! Word scores add up; the whole query found as a phrase in the name adds 3. Typo budgets
//! follow word length (see [`super::model`]); a typo on the first letter counts twice, which
//! a check of each candidate term enforces on top of tantivy's Levenshtein automaton. A
//! query is evaluated in bulk per segment, one score array per word filled straight from the
//! postings, which keeps broad queries about as fast as narrow ones.
//!
//! # Filters, facets, sorting
//!
//! One pass over the documents that match the text applies the filters, counts the
//! (disjunctive, see [`super::model`]) facets and keeps the top of the requested page. What
//! it reads of each document comes from a per-segment table built once from the fast fields
//! when the segment is loaded (about 64 bytes per product).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{Datelike, NaiveDate};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, ColumnValues, StrColumn};
use tantivy::directory::MmapDirectory;
use tantivy::index::{InvertedIndexReader, SegmentId};
use tantivy::postings::TermInfo;
use tantivy::query::{
    AllQuery, DfaWrapper, EnableScoring, Explanation, FuzzyTermQuery, PhrasePrefixQuery,
    PhraseQuery, Query, Scorer, Weight,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{
    DocAddress, DocId, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Score, Searcher,
    SegmentOrdinal, SegmentReader, TERMINATED, TantivyDocument, TantivyError, Term,
};
use unicode_normalization::UnicodeNormalization;

use super::model::{
    FacetCount, Facets, MAX_FACET_VALUES, MAX_QUERY_WORDS, PRICE_RANGES, SearchDocument,
    SearchError, SearchHit, SearchIndex, SearchQuery, SearchResults, SearchSort, parse_synonyms,
    price_range_index,
};

/// Indexing threads: one indexes 100,000 products in about 2 s into a single segment and
/// leaves the other core of a small server to searches.
const WRITER_THREADS: usize = 1;
/// Writer memory budget of an on-disk index.
const WRITER_MEMORY_BYTES: usize = 50_000_000;
/// Writer memory budget of an in-memory (test) index: tantivy's minimum for one thread.
const IN_MEMORY_WRITER_BYTES: usize = 15_000_000;
/// Tokens longer than this (in bytes) are not indexed nor searched.
const MAX_TOKEN_BYTES: usize = 40;
/// Query text beyond this many bytes is ignored.
const MAX_QUERY_BYTES: usize = 512;
/// Most suggestions one call returns.
const MAX_SUGGESTIONS: usize = 50;

const FOLD_TOKENIZER: &str = "vi_fold";
const EXACT_TOKENIZER: &str = "vi_exact";

const F_PRODUCT_ID: &str = "product_id";
const F_NAME: &str = "name";
const F_NAME_EXACT: &str = "name_exact";
const F_TAGS: &str = "tags";
const F_DESCRIPTION: &str = "description";
const F_PROVINCE: &str = "province_code";
const F_COMMUNE: &str = "commune_code";
const F_CATEGORY: &str = "category_code";
const F_GROUP: &str = "group_code";
const F_COOPERATIVE: &str = "cooperative_id";
const F_PRICE: &str = "price_vnd";
const F_STARS: &str = "ocop_stars";
const F_EXPIRES: &str = "ocop_expires_day";
const F_IN_STOCK: &str = "in_stock";
const F_SOLD: &str = "sold_count";
const F_PUBLISHED: &str = "published_micros";

// Scores of the match kinds (see the module documentation).
const S_NAME_EXACT: Score = 10.0;
const S_NAME: Score = 8.0;
const S_NAME_EXACT_PREFIX: Score = 7.0;
const S_NAME_PREFIX: Score = 6.0;
const S_TAGS: Score = 5.0;
const S_TAGS_PREFIX: Score = 3.5;
const S_DESCRIPTION: Score = 3.0;
const S_DESCRIPTION_PREFIX: Score = 1.5;
const S_NAME_TYPO: Score = 4.0;
const S_TAGS_TYPO: Score = 2.0;
const S_DESCRIPTION_TYPO: Score = 1.0;
const S_SYNONYM_NAME: Score = 7.0;
const S_SYNONYM_TAGS: Score = 4.5;
const S_SYNONYM_DESCRIPTION: Score = 2.5;
const S_PHRASE_BONUS: Score = 3.0;

/// A filter's bit in the per-document failure mask (one facet ignores each).
const FAIL_PROVINCE: u8 = 1;
const FAIL_COMMUNE: u8 = 1 << 1;
const FAIL_CATEGORY: u8 = 1 << 2;
const FAIL_STARS: u8 = 1 << 3;
const FAIL_PRICE: u8 = 1 << 4;
const FAIL_STOCK: u8 = 1 << 5;
const FAIL_COOPERATIVE: u8 = 1 << 6;

fn backend(error: impl Display) -> SearchError {
    SearchError::Backend(error.to_string())
}

fn poisoned<T>(_: PoisonError<T>) -> SearchError {
    SearchError::Backend("search index lock poisoned by an earlier panic".into())
}

/// Handles of the schema's fields.
#[derive(Debug, Clone, Copy)]
struct Fields {
    product_id: Field,
    name: Field,
    name_exact: Field,
    tags: Field,
    description: Field,
    province: Field,
    commune: Field,
    category: Field,
    group: Field,
    cooperative: Field,
    price: Field,
    stars: Field,
    expires: Field,
    in_stock: Field,
    sold: Field,
    published: Field,
}

fn build_schema() -> (Schema, Fields) {
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
    };
    (builder.build(), fields)
}

/// The indexing analyzer of the folded fields.
fn fold_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The indexing analyzer of `name_exact`.
fn exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .build()
}

fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// Text analysis shared by indexing, querying and highlighting, so that all three agree.
struct Analysis {
    fold: TextAnalyzer,
    exact: TextAnalyzer,
}

impl Analysis {
    /// The indexing analyzers, less the long-token filter: a query word too long to be
    /// indexed must match nothing rather than vanish (and leave an empty prefix behind).
    fn new() -> Self {
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
    fn exact_words(&mut self, text: &str) -> Vec<(usize, usize, String)> {
        let mut words = Vec::new();
        let mut stream = self.exact.token_stream(text);
        while let Some(token) = stream.next() {
            words.push((token.offset_from, token.offset_to, token.text.clone()));
        }
        words
    }

    /// The folded form of one lower-cased word.
    fn fold_word(&mut self, word: &str) -> String {
        let mut folded = String::with_capacity(word.len());
        let mut stream = self.fold.token_stream(word);
        while let Some(token) = stream.next() {
            folded.push_str(&token.text);
        }
        folded
    }
}

/// Typos a word of this folded form may have (Meilisearch's defaults).
fn typo_budget(folded: &str) -> u8 {
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
fn within_typos(query: &[char], term: &[char], typos: u8, prefix: bool) -> bool {
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

/// How a clause picks terms from a field's dictionary.
#[derive(Debug, Clone)]
enum Matcher {
    /// This exact term.
    Term(String),
    /// Every term starting with this text.
    Prefix(String),
    /// Every term (or term prefix) within a typo budget, a typo on the first letter counting
    /// twice.
    Typo {
        text: String,
        typos: u8,
        prefix: bool,
    },
}

/// One way a query word can match, and the score it earns.
#[derive(Debug, Clone)]
struct Clause {
    field: Field,
    matcher: Matcher,
    score: Score,
}

/// A query word: its best matching clause counts.
#[derive(Debug, Clone, Default)]
struct WordSpec {
    clauses: Vec<Clause>,
}

/// Words that must all match (scores add up), scaled by `boost`.
#[derive(Debug, Clone)]
struct OptionSpec {
    words: Vec<WordSpec>,
    boost: Score,
}

/// A slot of the query: its best option counts (the words as typed, or a synonym).
#[derive(Debug, Clone, Default)]
struct SlotSpec {
    options: Vec<OptionSpec>,
}

/// The whole text query: every slot must match; scores add up; a phrase bonus on top.
///
/// Evaluated in bulk per segment (one score array per word, filled straight from the
/// postings) rather than through tantivy's union scorers: constant per-clause scores make
/// that exact, and it keeps broad queries ("hop qua", where "hợp" is in every cooperative's
/// name) as fast as narrow ones.
#[derive(Debug)]
struct TextQuery {
    slots: Vec<SlotSpec>,
    phrase: Option<Box<dyn Query>>,
}

impl Clone for TextQuery {
    fn clone(&self) -> Self {
        Self {
            slots: self.slots.clone(),
            phrase: self.phrase.as_ref().map(|phrase| phrase.box_clone()),
        }
    }
}

impl Query for TextQuery {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let mut automata = HashMap::new();
        for clause in self
            .slots
            .iter()
            .flat_map(|slot| &slot.options)
            .flat_map(|option| &option.words)
            .flat_map(|word| &word.clauses)
        {
            if let Matcher::Typo {
                text,
                typos,
                prefix,
            } = &clause.matcher
                && let Entry::Vacant(entry) = automata.entry((text.clone(), *typos, *prefix))
            {
                let term = Term::from_field_text(clause.field, text);
                let fuzzy = if *prefix {
                    FuzzyTermQuery::new_prefix(term, *typos, true)
                } else {
                    FuzzyTermQuery::new(term, *typos, true)
                };
                entry.insert(Arc::new(fuzzy.automaton()?));
            }
        }
        let phrase = match &self.phrase {
            Some(phrase) => Some(phrase.weight(scoring)?),
            None => None,
        };
        Ok(Box::new(TextWeight {
            slots: self.slots.clone(),
            automata,
            phrase,
        }))
    }
}

type AutomatonKey = (String, u8, bool);

struct TextWeight {
    slots: Vec<SlotSpec>,
    automata: HashMap<AutomatonKey, Arc<DfaWrapper>>,
    phrase: Option<Box<dyn Weight>>,
}

/// Raises `scores[doc]` to `score` for every document of the postings of `info`.
fn raise(
    inverted_index: &InvertedIndexReader,
    info: &TermInfo,
    score: Score,
    scores: &mut [Score],
) -> tantivy::Result<()> {
    let mut postings =
        inverted_index.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
    loop {
        let block = postings.docs();
        if block.is_empty() {
            return Ok(());
        }
        for &doc in block {
            if let Some(slot) = scores.get_mut(doc as usize)
                && *slot < score
            {
                *slot = score;
            }
        }
        postings.advance();
    }
}

/// Keeps `into[doc] + from[doc]` where both are positive, 0 elsewhere.
fn and_add(into: &mut [Score], from: &[Score]) {
    for (into, from) in into.iter_mut().zip(from) {
        // Branch-free, so that the loop vectorises.
        let both = (*into > 0.0) & (*from > 0.0);
        *into = if both { *into + *from } else { 0.0 };
    }
}

/// Raises `into[doc]` to `from[doc] * boost`.
fn max_into(into: &mut [Score], from: &[Score], boost: Score) {
    for (into, from) in into.iter_mut().zip(from) {
        *into = into.max(*from * boost);
    }
}

impl TextWeight {
    fn apply(
        &self,
        reader: &SegmentReader,
        clause: &Clause,
        scores: &mut [Score],
    ) -> tantivy::Result<()> {
        let inverted_index = reader.inverted_index(clause.field)?;
        match &clause.matcher {
            Matcher::Term(text) => {
                let term = Term::from_field_text(clause.field, text);
                if let Some(info) = inverted_index.get_term_info(&term)? {
                    raise(&inverted_index, &info, clause.score, scores)?;
                }
            }
            Matcher::Prefix(text) => {
                let mut terms = inverted_index
                    .terms()
                    .range()
                    .ge(text.as_bytes())
                    .into_stream()?;
                while terms.advance() {
                    if !terms.key().starts_with(text.as_bytes()) {
                        break;
                    }
                    raise(&inverted_index, terms.value(), clause.score, scores)?;
                }
            }
            Matcher::Typo {
                text,
                typos,
                prefix,
            } => {
                let Some(automaton) = self.automata.get(&(text.clone(), *typos, *prefix)) else {
                    return Ok(());
                };
                let query: Vec<char> = text.chars().collect();
                let mut terms = inverted_index
                    .terms()
                    .search(automaton.as_ref())
                    .into_stream()?;
                while terms.advance() {
                    // The automaton bounds the distance; only a differing first letter needs
                    // the stricter check.
                    let accepted = match std::str::from_utf8(terms.key()) {
                        Ok(term) => {
                            let term: Vec<char> = term.chars().collect();
                            query.first() == term.first()
                                || within_typos(&query, &term, *typos, *prefix)
                        }
                        Err(_) => false,
                    };
                    if accepted {
                        raise(&inverted_index, terms.value(), clause.score, scores)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Scores of every document of the segment (0: no match).
    fn evaluate(&self, reader: &SegmentReader) -> tantivy::Result<Vec<Score>> {
        let max_doc = reader.max_doc() as usize;
        let mut total = vec![0.0; max_doc];
        let mut slot_scores = vec![0.0; max_doc];
        let mut option_scores = vec![0.0; max_doc];
        let mut word_scores = vec![0.0; max_doc];
        for (slot_index, slot) in self.slots.iter().enumerate() {
            slot_scores.fill(0.0);
            for option in &slot.options {
                for (word_index, word) in option.words.iter().enumerate() {
                    if word_index == 0 {
                        option_scores.fill(0.0);
                        for clause in &word.clauses {
                            self.apply(reader, clause, &mut option_scores)?;
                        }
                    } else {
                        word_scores.fill(0.0);
                        for clause in &word.clauses {
                            self.apply(reader, clause, &mut word_scores)?;
                        }
                        and_add(&mut option_scores, &word_scores);
                    }
                }
                max_into(&mut slot_scores, &option_scores, option.boost);
            }
            if slot_index == 0 {
                std::mem::swap(&mut total, &mut slot_scores);
            } else {
                and_add(&mut total, &slot_scores);
            }
            if !total.iter().any(|score| *score > 0.0) {
                return Ok(total);
            }
        }
        if let Some(phrase) = &self.phrase {
            let mut scorer = phrase.scorer(reader, 1.0)?;
            let mut doc = scorer.doc();
            while doc != TERMINATED {
                if let Some(score) = total.get_mut(doc as usize)
                    && *score > 0.0
                {
                    *score += S_PHRASE_BONUS;
                }
                doc = scorer.advance();
            }
        }
        Ok(total)
    }
}

impl Weight for TextWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let matches: Vec<(DocId, Score)> = self
            .evaluate(reader)?
            .into_iter()
            .enumerate()
            .filter(|(_, score)| *score > 0.0)
            .map(|(doc, score)| (doc as DocId, score * boost))
            .collect();
        Ok(Box::new(MatchScorer {
            matches,
            position: 0,
        }))
    }

    fn for_each(
        &self,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score),
    ) -> tantivy::Result<()> {
        for (doc, score) in self.evaluate(reader)?.into_iter().enumerate() {
            if score > 0.0 {
                callback(doc as DocId, score);
            }
        }
        Ok(())
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        match self.evaluate(reader)?.get(doc as usize) {
            Some(&score) if score > 0.0 => Ok(Explanation::new("TextQuery", score)),
            _ => Err(TantivyError::InvalidArgument(
                "document does not match".into(),
            )),
        }
    }
}

/// The documents a [`TextWeight`] matched, in order.
struct MatchScorer {
    matches: Vec<(DocId, Score)>,
    position: usize,
}

impl DocSet for MatchScorer {
    fn advance(&mut self) -> DocId {
        self.position += 1;
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.matches
            .get(self.position)
            .map_or(TERMINATED, |(doc, _)| *doc)
    }

    fn size_hint(&self) -> u32 {
        u32::try_from(self.matches.len().saturating_sub(self.position)).unwrap_or(u32::MAX)
    }
}

impl Scorer for MatchScorer {
    fn score(&mut self) -> Score {
        self.matches
            .get(self.position)
            .map_or(0.0, |(_, score)| *score)
    }
}

/// One word of a synonym group member.
#[derive(Debug, Clone)]
struct SynonymWord {
    exact: String,
    folded: String,
}

/// Synonym groups, analysed like queries.
#[derive(Debug, Default)]
struct Synonyms {
    /// Each group's members, each member a list of words.
    groups: Vec<Vec<Vec<SynonymWord>>>,
}

impl Synonyms {
    fn parse(text: &str, analysis: &mut Analysis) -> Self {
        let groups = parse_synonyms(text)
            .into_iter()
            .map(|group| {
                group
                    .iter()
                    .map(|member| {
                        analysis
                            .exact_words(&nfc(member))
                            .into_iter()
                            .map(|(_, _, exact)| {
                                let folded = analysis.fold_word(&exact);
                                SynonymWord { exact, folded }
                            })
                            .collect::<Vec<_>>()
                    })
                    .filter(|member| !member.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|group| group.len() >= 2)
            .collect();
        Self { groups }
    }

    /// Longest member matching the query words from `start`: its length and the other
    /// members (folded words) of every group where it matched with that length.
    fn expand(&self, words: &[QueryWord], start: usize) -> Option<(usize, Vec<Vec<String>>)> {
        let mut best_len = 0;
        let mut matched: Vec<(usize, usize)> = Vec::new();
        for (group_index, group) in self.groups.iter().enumerate() {
            for (member_index, member) in group.iter().enumerate() {
                let len = member.len();
                let Some(candidate) = words.get(start..start + len) else {
                    continue;
                };
                let same = candidate.iter().zip(member).all(|(query, synonym)| {
                    query.exact == synonym.exact
                        || (!query.has_marks && query.folded == synonym.folded)
                });
                if !same || len < best_len {
                    continue;
                }
                if len > best_len {
                    best_len = len;
                    matched.clear();
                }
                matched.push((group_index, member_index));
            }
        }
        if best_len == 0 {
            return None;
        }
        let original: Vec<&str> = words[start..start + best_len]
            .iter()
            .map(|word| word.folded.as_str())
            .collect();
        let mut alternatives: Vec<Vec<String>> = Vec::new();
        for (group_index, member_index) in matched {
            for (index, member) in self.groups[group_index].iter().enumerate() {
                if index == member_index {
                    continue;
                }
                let folded: Vec<String> = member.iter().map(|w| w.folded.clone()).collect();
                if folded
                    .iter()
                    .map(String::as_str)
                    .eq(original.iter().copied())
                    || alternatives.contains(&folded)
                {
                    continue;
                }
                alternatives.push(folded);
            }
        }
        Some((best_len, alternatives))
    }
}

/// One analysed word of a query.
#[derive(Debug, Clone)]
struct QueryWord {
    /// Lower-cased, with its tone marks.
    exact: String,
    folded: String,
    folded_chars: Vec<char>,
    has_marks: bool,
    typos: u8,
    /// Matches as a prefix (the last word, as typed).
    prefix: bool,
}

impl QueryWord {
    fn matches(&self, token: &str, token_chars: &[char]) -> bool {
        token == self.folded
            || (self.prefix && token.starts_with(&self.folded))
            || (self.typos > 0
                && within_typos(&self.folded_chars, token_chars, self.typos, self.prefix))
    }
}

/// Consecutive query words and what they may also be found as.
#[derive(Debug, Clone)]
struct Slot {
    words: Vec<QueryWord>,
    /// Synonyms, as folded words.
    alternatives: Vec<Vec<String>>,
}

/// An analysed query text.
#[derive(Debug, Clone, Default)]
struct Plan {
    slots: Vec<Slot>,
}

impl Plan {
    fn words(&self) -> impl Iterator<Item = &QueryWord> {
        self.slots.iter().flat_map(|slot| slot.words.iter())
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether a folded name word would count as a match (for highlighting).
    fn matches(&self, token: &str) -> bool {
        let chars: Vec<char> = token.chars().collect();
        self.slots.iter().any(|slot| {
            slot.words.iter().any(|word| word.matches(token, &chars))
                || slot
                    .alternatives
                    .iter()
                    .any(|alternative| alternative.iter().any(|word| word == token))
        })
    }
}

/// Which fields a text query looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every searchable field, with synonyms.
    All,
    /// The name only, without synonyms (suggestions).
    Name,
}

/// Sorted values of a segment's string fast fields (ordinal = index).
#[derive(Debug, Default)]
struct SegmentDictionaries {
    province: Vec<String>,
    commune: Vec<String>,
    category: Vec<String>,
    group: Vec<String>,
    cooperative: Vec<String>,
}

/// Ordinal of a document without the value.
const MISSING_ORD: u32 = u32::MAX;
/// Stands for "the filter's value is in no document of this segment".
const ABSENT_ORD: u32 = u32::MAX - 1;

/// What filters, facets and sorting read of one document, gathered once per segment from
/// the fast fields: one small struct per document reads several times faster than a dozen
/// columns, and costs about 64 bytes per product.
#[derive(Debug, Clone, Copy)]
struct DocRow {
    product_id: i64,
    price: i64,
    sold: i64,
    published: i64,
    /// Last valid day of the certificate (`i32::MIN`: no certificate).
    expires: i32,
    province: u32,
    commune: u32,
    category: u32,
    group: u32,
    cooperative: u32,
    stars: u8,
    in_stock: bool,
}

/// A segment's dictionaries and rows; segments never change, so this is built once.
#[derive(Debug, Default)]
struct SegmentData {
    dictionaries: SegmentDictionaries,
    rows: Vec<DocRow>,
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
        let [product_id, price, sold, published, expires] =
            [F_PRODUCT_ID, F_PRICE, F_SOLD, F_PUBLISHED, F_EXPIRES]
                .map(|name| fast.i64(name).map(|column| column.first_or_default_col(0)));
        let (product_id, price, sold, published, expires) =
            (product_id?, price?, sold?, published?, expires?);
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
struct SegmentCache {
    segments: RwLock<HashMap<SegmentId, Arc<SegmentData>>>,
}

impl SegmentCache {
    fn get(&self, reader: &SegmentReader) -> tantivy::Result<Arc<SegmentData>> {
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
    fn refresh(&self, searcher: &Searcher) -> tantivy::Result<()> {
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

/// Sort key: compared lexicographically, greater first.
type SortKey = [i64; 4];

fn score_key(score: Score) -> i64 {
    // Scores are never negative, and for non-negative floats the bit pattern orders like the
    // value.
    i64::from(score.max(0.0).to_bits())
}

/// Filters of a query, resolved per segment by the collector.
#[derive(Debug, Clone)]
struct FilterSpec {
    province: Option<String>,
    commune: Option<String>,
    category: Option<String>,
    min_stars: Option<u8>,
    min_price: Option<i64>,
    max_price: Option<i64>,
    in_stock: Option<bool>,
    cooperative: Option<String>,
    today: i32,
}

impl FilterSpec {
    fn none() -> Self {
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

fn day_number(date: NaiveDate) -> i32 {
    date.num_days_from_ce()
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
struct SearchCollector {
    filters: FilterSpec,
    sort: SearchSort,
    scored: bool,
    wanted: usize,
    with_facets: bool,
    segments: Arc<SegmentCache>,
}

struct SegmentSearchCollector {
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

/// Facet counts of one segment, by ordinal.
struct SegmentFacets {
    province: Vec<u64>,
    commune: Vec<u64>,
    category: Vec<u64>,
    group: Vec<u64>,
    cooperative: Vec<u64>,
    stars: [u64; 3],
    price: [u64; 4],
    in_stock: u64,
}

fn count_ord(counts: &mut [u64], ord: u32) {
    if let Some(count) = counts.get_mut(ord as usize) {
        *count += 1;
    }
}

impl SegmentFacets {
    /// Counts `row` in every facet (`only` 0) or only in the facets of the one filter it
    /// fails (`only` that filter's bit).
    fn count(&mut self, row: &DocRow, only: u8, today: i32) {
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

/// What one segment found.
struct SegmentFruit {
    total: u64,
    top: Vec<(SortKey, DocAddress, Score)>,
    facets: Option<FacetAccumulator>,
}

/// Facet counts by value, across segments.
#[derive(Default)]
struct FacetAccumulator {
    province: HashMap<String, u64>,
    commune: HashMap<String, u64>,
    category: HashMap<String, u64>,
    group: HashMap<String, u64>,
    stars: [u64; 3],
    price: [u64; 4],
    in_stock: u64,
    cooperative: HashMap<String, u64>,
}

impl FacetAccumulator {
    fn add(&mut self, other: FacetAccumulator) {
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

    fn into_facets(self) -> Facets {
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
        }
    }

    fn sort_key(&self, row: &DocRow, score: Score, primary: i64) -> SortKey {
        let score = score_key(score);
        let id = row.product_id.saturating_neg();
        match self.sort {
            SearchSort::Relevance => [primary, row.sold, row.published, id],
            SearchSort::PriceAsc | SearchSort::PriceDesc | SearchSort::Newest => {
                [primary, score, row.sold, id]
            }
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

/// The single writer, and the ids it added since its last commit.
struct WriterState {
    writer: IndexWriter,
    pending: HashSet<i64>,
}

/// The index, its writer and reader, and the query side (analysis, synonyms, caches).
struct Engine {
    index: Index,
    reader: IndexReader,
    writer: Mutex<WriterState>,
    fields: Fields,
    synonyms: Synonyms,
    segments: Arc<SegmentCache>,
}

impl Engine {
    fn new(index: Index, synonyms: &str, memory: usize) -> Result<Self, SearchError> {
        let (schema, fields) = build_schema();
        if index.schema() != schema {
            return Err(SearchError::Backend(
                "the search index on disk has another schema; delete it and rebuild".into(),
            ));
        }
        index.tokenizers().register(FOLD_TOKENIZER, fold_analyzer());
        index
            .tokenizers()
            .register(EXACT_TOKENIZER, exact_analyzer());
        let writer = index
            .writer_with_num_threads(WRITER_THREADS, memory)
            .map_err(backend)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(backend)?;
        let synonyms = Synonyms::parse(synonyms, &mut Analysis::new());
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(WriterState {
                writer,
                pending: HashSet::new(),
            }),
            fields,
            synonyms,
            segments: Arc::new(SegmentCache::default()),
        })
    }

    fn plan(&self, text: &str, scope: Scope, analysis: &mut Analysis) -> Plan {
        let mut end = text.len().min(MAX_QUERY_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let text = nfc(&text[..end]);
        let typing = !text.ends_with(char::is_whitespace);
        let mut words: Vec<QueryWord> = analysis
            .exact_words(&text)
            .into_iter()
            .take(MAX_QUERY_WORDS)
            .filter_map(|(_, _, exact)| {
                let folded = analysis.fold_word(&exact);
                (!folded.is_empty()).then(|| QueryWord {
                    has_marks: exact != folded,
                    typos: typo_budget(&folded),
                    folded_chars: folded.chars().collect(),
                    exact,
                    folded,
                    prefix: false,
                })
            })
            .collect();
        if typing && let Some(last) = words.last_mut() {
            last.prefix = true;
        }
        let mut slots = Vec::new();
        let mut start = 0;
        while start < words.len() {
            let expansion = match scope {
                Scope::All => self.synonyms.expand(&words, start),
                Scope::Name => None,
            };
            let (len, alternatives) = expansion.unwrap_or((1, Vec::new()));
            slots.push(Slot {
                words: words[start..start + len].to_vec(),
                alternatives,
            });
            start += len;
        }
        Plan { slots }
    }

    fn word_spec(&self, word: &QueryWord, scope: Scope) -> WordSpec {
        let f = self.fields;
        let folded = &word.folded;
        let mut clauses = Vec::new();
        let mut add = |field: Field, matcher: Matcher, score: Score| {
            clauses.push(Clause {
                field,
                matcher,
                score,
            });
        };
        let typo = || Matcher::Typo {
            text: folded.clone(),
            typos: word.typos,
            prefix: word.prefix,
        };
        if word.has_marks {
            add(
                f.name_exact,
                Matcher::Term(word.exact.clone()),
                S_NAME_EXACT,
            );
            if word.prefix {
                add(
                    f.name_exact,
                    Matcher::Prefix(word.exact.clone()),
                    S_NAME_EXACT_PREFIX,
                );
            }
        }
        add(f.name, Matcher::Term(folded.clone()), S_NAME);
        if word.prefix {
            add(f.name, Matcher::Prefix(folded.clone()), S_NAME_PREFIX);
        }
        if word.typos > 0 {
            add(f.name, typo(), S_NAME_TYPO);
        }
        if scope == Scope::All {
            add(f.tags, Matcher::Term(folded.clone()), S_TAGS);
            add(f.description, Matcher::Term(folded.clone()), S_DESCRIPTION);
            if word.prefix {
                add(f.tags, Matcher::Prefix(folded.clone()), S_TAGS_PREFIX);
                add(
                    f.description,
                    Matcher::Prefix(folded.clone()),
                    S_DESCRIPTION_PREFIX,
                );
            }
            if word.typos > 0 {
                add(f.tags, typo(), S_TAGS_TYPO);
                add(f.description, typo(), S_DESCRIPTION_TYPO);
            }
        }
        WordSpec { clauses }
    }

    fn synonym_spec(&self, words: &[String], slot_len: usize) -> OptionSpec {
        let f = self.fields;
        let words: Vec<WordSpec> = words
            .iter()
            .map(|word| WordSpec {
                clauses: [
                    (f.name, S_SYNONYM_NAME),
                    (f.tags, S_SYNONYM_TAGS),
                    (f.description, S_SYNONYM_DESCRIPTION),
                ]
                .into_iter()
                .map(|(field, score)| Clause {
                    field,
                    matcher: Matcher::Term(word.clone()),
                    score,
                })
                .collect(),
            })
            .collect();
        // Weighs a synonym like the words it replaces, whatever its own length.
        let boost = slot_len as Score / words.len().max(1) as Score;
        OptionSpec { words, boost }
    }

    fn text_query(&self, plan: &Plan, scope: Scope) -> TextQuery {
        let slots = plan
            .slots
            .iter()
            .map(|slot| {
                let mut options = vec![OptionSpec {
                    words: slot
                        .words
                        .iter()
                        .map(|word| self.word_spec(word, scope))
                        .collect(),
                    boost: 1.0,
                }];
                for alternative in &slot.alternatives {
                    options.push(self.synonym_spec(alternative, slot.words.len()));
                }
                SlotSpec { options }
            })
            .collect();
        let words: Vec<&QueryWord> = plan.words().collect();
        let phrase: Option<Box<dyn Query>> = (words.len() >= 2).then(|| {
            let terms: Vec<Term> = words
                .iter()
                .map(|word| Term::from_field_text(self.fields.name, &word.folded))
                .collect();
            if words.last().is_some_and(|word| word.prefix) {
                Box::new(PhrasePrefixQuery::new(terms)) as Box<dyn Query>
            } else {
                Box::new(PhraseQuery::new(terms))
            }
        });
        TextQuery { slots, phrase }
    }

    fn highlight(&self, name: &str, plan: &Plan, analysis: &mut Analysis) -> String {
        let mut out = String::with_capacity(name.len() + 16);
        let mut last = 0;
        for (from, to, word) in analysis.exact_words(name) {
            let folded = analysis.fold_word(&word);
            if plan.matches(&folded) && name.is_char_boundary(from) && name.is_char_boundary(to) {
                super::model::escape_html_into(&mut out, &name[last..from]);
                out.push_str("<mark>");
                super::model::escape_html_into(&mut out, &name[from..to]);
                out.push_str("</mark>");
                last = to;
            }
        }
        super::model::escape_html_into(&mut out, &name[last..]);
        out
    }

    fn stored_name(&self, searcher: &Searcher, address: DocAddress) -> Result<String, SearchError> {
        let doc: TantivyDocument = searcher.doc(address).map_err(backend)?;
        Ok(doc
            .get_first(self.fields.name)
            .and_then(|value| value.as_str())
            .unwrap_or_default()
            .to_owned())
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        query.validate()?;
        let mut analysis = Analysis::new();
        let plan = self.plan(&query.text, Scope::All, &mut analysis);
        let searcher = self.reader.searcher();
        let tantivy_query: Box<dyn Query> = if plan.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(self.text_query(&plan, Scope::All))
        };
        let sort = match query.sort {
            SearchSort::Relevance if plan.is_empty() => SearchSort::Newest,
            sort => sort,
        };
        let per_page = query.per_page as usize;
        let offset = (query.page as usize - 1).saturating_mul(per_page);
        let collector = SearchCollector {
            filters: FilterSpec {
                province: query.province.clone(),
                commune: query.commune.clone(),
                category: query.category.clone(),
                min_stars: query
                    .min_stars
                    .map(|stars| u8::try_from(stars).unwrap_or(0)),
                min_price: query.min_price,
                max_price: query.max_price,
                in_stock: query.in_stock,
                cooperative: query.cooperative_id.map(|id| id.to_string()),
                today: day_number(query.today),
            },
            sort,
            scored: !plan.is_empty(),
            wanted: offset.saturating_add(per_page),
            with_facets: query.with_facets,
            segments: Arc::clone(&self.segments),
        };
        let found = searcher
            .search(tantivy_query.as_ref(), &collector)
            .map_err(backend)?;
        let mut hits = Vec::new();
        for (key, address, score) in found.top.into_iter().skip(offset).take(per_page) {
            // The sort key ends with the negated product id.
            let product_id = key[3].saturating_neg();
            let name = self.stored_name(&searcher, address)?;
            hits.push(SearchHit {
                product_id,
                score,
                highlighted_name: self.highlight(&name, &plan, &mut analysis),
            });
        }
        Ok(SearchResults {
            hits,
            total: found.total,
            facets: found.facets.map(FacetAccumulator::into_facets),
        })
    }

    fn suggest(&self, prefix: &str, limit: usize) -> Result<Vec<String>, SearchError> {
        let limit = limit.min(MAX_SUGGESTIONS);
        let mut analysis = Analysis::new();
        let plan = self.plan(prefix, Scope::Name, &mut analysis);
        if plan.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let collector = SearchCollector {
            filters: FilterSpec::none(),
            sort: SearchSort::Relevance,
            scored: true,
            // Several products share a name (one per cooperative or pack size).
            wanted: limit.saturating_mul(4),
            with_facets: false,
            segments: Arc::clone(&self.segments),
        };
        let found = searcher
            .search(&self.text_query(&plan, Scope::Name), &collector)
            .map_err(backend)?;
        let mut names: Vec<String> = Vec::new();
        for (_, address, _) in found.top {
            let name = self.stored_name(&searcher, address)?;
            if !names.contains(&name) {
                names.push(name);
                if names.len() == limit {
                    break;
                }
            }
        }
        Ok(names)
    }

    fn document(&self, doc: &SearchDocument) -> TantivyDocument {
        let f = self.fields;
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
        out
    }

    fn upsert(&self, docs: &[SearchDocument]) -> Result<(), SearchError> {
        let mut state = self.writer.lock().map_err(poisoned)?;
        // Every searcher is at the last commit: refresh reloads under this same lock.
        let searcher = self.reader.searcher();
        for doc in docs {
            let id = Term::from_field_i64(self.fields.product_id, doc.product_id);
            // A delete is queued only when there may be something to replace: tantivy keeps
            // every queued delete in memory until the commit (about 1 KB each), which would
            // more than double the memory of a full rebuild.
            if state.pending.contains(&doc.product_id)
                || searcher.doc_freq(&id).map_err(backend)? > 0
            {
                state.writer.delete_term(id);
            }
            state
                .writer
                .add_document(self.document(doc))
                .map_err(backend)?;
            state.pending.insert(doc.product_id);
        }
        Ok(())
    }

    fn delete(&self, ids: &[i64]) -> Result<(), SearchError> {
        let state = self.writer.lock().map_err(poisoned)?;
        for &id in ids {
            state
                .writer
                .delete_term(Term::from_field_i64(self.fields.product_id, id));
        }
        Ok(())
    }

    fn refresh(&self) -> Result<(), SearchError> {
        let mut state = self.writer.lock().map_err(poisoned)?;
        state.writer.commit().map_err(backend)?;
        self.reader.reload().map_err(backend)?;
        state.pending.clear();
        drop(state);
        // Loads new segments now rather than in the next search.
        self.segments
            .refresh(&self.reader.searcher())
            .map_err(backend)
    }
}

/// The embedded tantivy search index. Cheap to clone (clones share the index).
#[derive(Clone)]
pub struct EmbeddedIndex {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for EmbeddedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIndex")
            .field("index", &self.engine.index)
            .finish_non_exhaustive()
    }
}

impl EmbeddedIndex {
    /// Creates an index in `dir` (which must exist), or opens the one there. `synonyms` is
    /// the text of a synonyms file (see [`super::model::parse_synonyms`]). An index built
    /// with another schema is refused: delete the directory and rebuild from the database.
    pub fn open(dir: &Path, synonyms: &str) -> Result<Self, SearchError> {
        let (schema, _) = build_schema();
        let directory = MmapDirectory::open(dir).map_err(backend)?;
        let index = Index::open_or_create(directory, schema).map_err(backend)?;
        Ok(Self {
            engine: Arc::new(Engine::new(index, synonyms, WRITER_MEMORY_BYTES)?),
        })
    }

    /// An empty index held in memory, for tests.
    pub fn in_memory(synonyms: &str) -> Result<Self, SearchError> {
        let (schema, _) = build_schema();
        let index = Index::create_in_ram(schema);
        Ok(Self {
            engine: Arc::new(Engine::new(index, synonyms, IN_MEMORY_WRITER_BYTES)?),
        })
    }

    /// Number of segments searches currently go through (for diagnostics).
    pub fn segment_count(&self) -> usize {
        self.engine.reader.searcher().segment_readers().len()
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, SearchError>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> Result<T, SearchError> + Send + 'static,
    {
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || work(&engine))
            .await
            .map_err(|error| SearchError::Backend(format!("search task failed: {error}")))?
    }
}

#[async_trait::async_trait]
impl SearchIndex for EmbeddedIndex {
    async fn upsert(&self, docs: Vec<SearchDocument>) -> Result<(), SearchError> {
        self.blocking(move |engine| engine.upsert(&docs)).await
    }

    async fn delete(&self, product_ids: Vec<i64>) -> Result<(), SearchError> {
        self.blocking(move |engine| engine.delete(&product_ids))
            .await
    }

    async fn refresh(&self) -> Result<(), SearchError> {
        self.blocking(Engine::refresh).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        let query = query.clone();
        self.blocking(move |engine| engine.search(&query)).await
    }

    async fn suggest(&self, prefix: &str, limit: usize) -> Result<Vec<String>, SearchError> {
        let prefix = prefix.to_owned();
        self.blocking(move |engine| engine.suggest(&prefix, limit))
            .await
    }

    async fn count(&self) -> Result<u64, SearchError> {
        self.blocking(|engine| Ok(engine.reader.searcher().num_docs()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::super::model::DEFAULT_SYNONYMS;
    use super::*;

    #[tokio::test]
    async fn in_memory_index_passes_the_conformance_suite() {
        let index = EmbeddedIndex::in_memory(DEFAULT_SYNONYMS).unwrap();
        conformance::run_all(&index).await;
    }

    #[tokio::test]
    async fn on_disk_index_passes_the_conformance_suite_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let index = EmbeddedIndex::open(dir.path(), DEFAULT_SYNONYMS).unwrap();
        conformance::run_all(&index).await;
        let count = index.count().await.unwrap();
        drop(index);
        let reopened = EmbeddedIndex::open(dir.path(), DEFAULT_SYNONYMS).unwrap();
        assert_eq!(reopened.count().await.unwrap(), count);
        let results = reopened
            .search(&SearchQuery::new("mat ong", conformance::today()))
            .await
            .unwrap();
        assert!(results.hits.iter().any(|hit| hit.product_id == 101));
    }

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

    #[test]
    fn highlight_escapes_html() {
        let mut out = String::new();
        crate::search::model::escape_html_into(&mut out, "<b>&\"'");
        assert_eq!(out, "&lt;b&gt;&amp;&quot;&#39;");
    }
}
