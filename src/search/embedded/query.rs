//! From query text to a tantivy query: the words (folded, with their typo budget, the last one
//! as a prefix while typing), the synonym groups they expand to, the clauses each word gets in
//! each field (scored as [`super::scoring`] lists), the phrase bonus, and the highlighting
//! of matched name words.

use tantivy::query::{PhrasePrefixQuery, PhraseQuery, Query};
use tantivy::schema::Field;
use tantivy::{Score, Term};

use super::analysis::{Analysis, nfc, typo_budget, within_typos};
use super::schema::Fields;
use super::scoring::{
    Clause, Matcher, OptionSpec, S_DESCRIPTION, S_DESCRIPTION_PREFIX, S_DESCRIPTION_TYPO, S_NAME,
    S_NAME_EXACT, S_NAME_EXACT_PREFIX, S_NAME_PREFIX, S_NAME_TYPO, S_SYNONYM_DESCRIPTION,
    S_SYNONYM_NAME, S_SYNONYM_TAGS, S_TAGS, S_TAGS_PREFIX, S_TAGS_TYPO, SlotSpec, TextQuery,
    WordSpec,
};
use crate::search::model::{MAX_QUERY_WORDS, escape_html_into, parse_synonyms};

/// Query text beyond this many bytes is ignored.
const MAX_QUERY_BYTES: usize = 512;

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
pub(super) struct Plan {
    slots: Vec<Slot>,
}

impl Plan {
    fn words(&self) -> impl Iterator<Item = &QueryWord> {
        self.slots.iter().flat_map(|slot| slot.words.iter())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// `name` HTML-escaped, with the words this plan matches wrapped in `<mark>`.
    pub(super) fn highlight(&self, name: &str, analysis: &mut Analysis) -> String {
        let mut out = String::with_capacity(name.len() + 16);
        let mut last = 0;
        for (from, to, word) in analysis.exact_words(name) {
            let folded = analysis.fold_word(&word);
            if self.matches(&folded) && name.is_char_boundary(from) && name.is_char_boundary(to) {
                escape_html_into(&mut out, &name[last..from]);
                out.push_str("<mark>");
                escape_html_into(&mut out, &name[from..to]);
                out.push_str("</mark>");
                last = to;
            }
        }
        escape_html_into(&mut out, &name[last..]);
        out
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
pub(super) enum Scope {
    /// Every searchable field, with synonyms.
    All,
    /// The name only, without synonyms (suggestions).
    Name,
}

/// Turns query text into a [`Plan`] and a plan into a [`TextQuery`], with the schema's
/// fields and the synonym groups analysed once.
pub(super) struct QueryBuilder {
    fields: Fields,
    synonyms: Synonyms,
}

impl QueryBuilder {
    pub(super) fn new(fields: Fields, synonyms: &str) -> Self {
        Self {
            fields,
            synonyms: Synonyms::parse(synonyms, &mut Analysis::new()),
        }
    }

    /// Analyses query text: its first words, folded, the last one a prefix unless the text
    /// ends with a space, grouped into slots where a synonym group matches.
    pub(super) fn plan(&self, text: &str, scope: Scope, analysis: &mut Analysis) -> Plan {
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

    /// The tantivy query of a plan: every slot must match, plus the phrase bonus.
    pub(super) fn text_query(&self, plan: &Plan, scope: Scope) -> TextQuery {
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
}
