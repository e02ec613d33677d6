//! Matching and ranking: the kinds of match a query word can have, the score each earns, and
//! the bulk evaluation of a text query over a segment.
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
//! Word scores add up; the whole query found as a phrase in the name adds 3. A query is
//! evaluated in bulk per segment, one score array per word filled straight from the postings,
//! which keeps broad queries about as fast as narrow ones. Which clauses a query word gets is
//! decided in [`super::query`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use tantivy::index::InvertedIndexReader;
use tantivy::postings::TermInfo;
use tantivy::query::{
    DfaWrapper, EnableScoring, Explanation, FuzzyTermQuery, Query, Scorer, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};

use super::analysis::within_typos;

// Scores of the match kinds (see the module documentation).
pub(super) const S_NAME_EXACT: Score = 10.0;
pub(super) const S_NAME: Score = 8.0;
pub(super) const S_NAME_EXACT_PREFIX: Score = 7.0;
pub(super) const S_NAME_PREFIX: Score = 6.0;
pub(super) const S_TAGS: Score = 5.0;
pub(super) const S_TAGS_PREFIX: Score = 3.5;
pub(super) const S_DESCRIPTION: Score = 3.0;
pub(super) const S_DESCRIPTION_PREFIX: Score = 1.5;
pub(super) const S_NAME_TYPO: Score = 4.0;
pub(super) const S_TAGS_TYPO: Score = 2.0;
pub(super) const S_DESCRIPTION_TYPO: Score = 1.0;
pub(super) const S_SYNONYM_NAME: Score = 7.0;
pub(super) const S_SYNONYM_TAGS: Score = 4.5;
pub(super) const S_SYNONYM_DESCRIPTION: Score = 2.5;
const S_PHRASE_BONUS: Score = 3.0;

/// How a clause picks terms from a field's dictionary.
#[derive(Debug, Clone)]
pub(super) enum Matcher {
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
pub(super) struct Clause {
    pub(super) field: Field,
    pub(super) matcher: Matcher,
    pub(super) score: Score,
}

/// A query word: its best matching clause counts.
#[derive(Debug, Clone, Default)]
pub(super) struct WordSpec {
    pub(super) clauses: Vec<Clause>,
}

/// Words that must all match (scores add up), scaled by `boost`.
#[derive(Debug, Clone)]
pub(super) struct OptionSpec {
    pub(super) words: Vec<WordSpec>,
    pub(super) boost: Score,
}

/// A slot of the query: its best option counts (the words as typed, or a synonym).
#[derive(Debug, Clone, Default)]
pub(super) struct SlotSpec {
    pub(super) options: Vec<OptionSpec>,
}

/// The whole text query: every slot must match; scores add up; a phrase bonus on top.
///
/// Evaluated in bulk per segment (one score array per word, filled straight from the
/// postings) rather than through tantivy's union scorers: constant per-clause scores make
/// that exact, and it keeps broad queries ("hop qua", where "hợp" is in every cooperative's
/// name) as fast as narrow ones.
#[derive(Debug)]
pub(super) struct TextQuery {
    pub(super) slots: Vec<SlotSpec>,
    pub(super) phrase: Option<Box<dyn Query>>,
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
