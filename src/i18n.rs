//! Languages and the message catalogue. Vietnamese is the default; English is chosen with the
//! `lang` cookie (set by the language links) or the browser's `Accept-Language`.
//!
//! Every string a page shows comes from `frontend/i18n/{vi,en}.toml`, compiled into the binary.
//! Messages may contain `{name}` placeholders filled by [`Messages::format`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::LazyLock;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

pub const LANG_COOKIE: &str = "lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::Vi => "vi",
            Self::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "vi" | "vi-vn" => Some(Self::Vi),
            "en" | "en-us" | "en-gb" => Some(Self::En),
            _ => None,
        }
    }

    pub fn messages(self) -> &'static Messages {
        match self {
            Self::Vi => &VI,
            Self::En => &EN,
        }
    }

    /// The CLDR plural category of a whole number: English says "1 other person" but
    /// "2 other people"; Vietnamese has one form for every number.
    pub fn plural_category(self, count: u64) -> &'static str {
        match (self, count) {
            (Self::En, 1) => "one",
            _ => "other",
        }
    }

    /// The first supported language of an `Accept-Language` header, by quality.
    fn from_accept_language(header: &str) -> Option<Self> {
        let mut choices: Vec<(f32, Self)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let tag = pieces.next()?.trim();
                let quality = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                let primary = tag.split('-').next()?;
                Self::parse(primary).map(|lang| (quality, lang))
            })
            .collect();
        choices.sort_by(|a, b| b.0.total_cmp(&a.0));
        choices.first().map(|(_, lang)| *lang)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(lang_of(&parts.headers))
    }
}

/// The language a request asks for: cookie first, then `Accept-Language`, then Vietnamese.
pub fn lang_of(headers: &axum::http::HeaderMap) -> Lang {
    let jar = CookieJar::from_headers(headers);
    if let Some(lang) = jar.get(LANG_COOKIE).and_then(|c| Lang::parse(c.value())) {
        return lang;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or_default()
}

/// The messages of one language.
#[derive(Debug)]
pub struct Messages {
    pub lang: Lang,
    entries: HashMap<String, String>,
}

impl Messages {
    fn load(lang: Lang, source: &str) -> Self {
        let table: toml::Table = toml::from_str(source)
            .unwrap_or_else(|e| panic!("frontend/i18n/{}.toml is invalid: {e}", lang.code()));
        let mut entries = HashMap::new();
        flatten("", &table, &mut entries);
        Self { lang, entries }
    }

    /// The message for `key`; the key itself when missing (a test checks none is).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.entries.get(key).map(String::as_str).unwrap_or(key)
    }

    /// The message for `key` with `{name}` placeholders replaced.
    pub fn format(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.get(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// The message for `count` of something, in the plural form the language uses for it,
    /// with `{count}` and the other placeholders replaced. A plural message is a table of
    /// forms (`key.one`, `key.other`, after the CLDR categories); a language with one form
    /// (Vietnamese) gives only `other`. A plain message at `key` serves every count.
    pub fn plural(&self, key: &str, count: u64, args: &[(&str, &str)]) -> String {
        let form = format!("{key}.{}", self.lang.plural_category(count));
        let other = format!("{key}.other");
        let chosen = [form.as_str(), other.as_str(), key]
            .into_iter()
            .find(|k| self.entries.contains_key(*k))
            .unwrap_or(key);
        let count_text = count.to_string();
        let mut all = vec![("count", count_text.as_str())];
        all.extend_from_slice(args);
        self.format(chosen, &all)
    }

    /// The message explaining a field error code, falling back to a generic one.
    pub fn field_error(&self, code: &str) -> &str {
        let key = format!("error.{code}");
        match self.entries.get(&key) {
            Some(text) => text,
            None => self.get("error.invalid"),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(text) => {
                out.insert(full, text.clone());
            }
            toml::Value::Table(inner) => flatten(&full, inner, out),
            other => panic!("message {full} must be a string, not {other:?}"),
        }
    }
}

static VI: LazyLock<Messages> =
    LazyLock::new(|| Messages::load(Lang::Vi, include_str!("../frontend/i18n/vi.toml")));
static EN: LazyLock<Messages> =
    LazyLock::new(|| Messages::load(Lang::En, include_str!("../frontend/i18n/en.toml")));

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn both_languages_have_the_same_messages() {
        // Plural forms differ by language (Vietnamese has only `other`): compare their keys.
        let base = |key: &str| -> String {
            match key.rsplit_once('.') {
                Some((parent, "one" | "other")) => parent.to_owned(),
                _ => key.to_owned(),
            }
        };
        let vi: BTreeSet<String> = Lang::Vi.messages().keys().map(base).collect();
        let en: BTreeSet<String> = Lang::En.messages().keys().map(base).collect();
        let only_vi: Vec<_> = vi.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&vi).collect();
        assert!(only_vi.is_empty(), "missing in en.toml: {only_vi:?}");
        assert!(only_en.is_empty(), "missing in vi.toml: {only_en:?}");
    }

    #[test]
    fn every_message_a_template_uses_exists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/frontend/templates");
        let mut missing = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).unwrap() {
                    stack.push(entry.unwrap().path());
                }
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split("t.get(\"").skip(1) {
                let key = piece.split('"').next().unwrap();
                if !Lang::Vi.messages().entries.contains_key(key) {
                    missing.push(format!("{}: {key}", path.display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "messages missing from the catalogue: {missing:?}"
        );
    }

    #[test]
    fn english_counts_read_right_and_vietnamese_has_one_form() {
        let en = Lang::En.messages();
        let date = [("date", "01/12/2026")];
        assert!(
            en.plural("scan.seen_text", 1, &date)
                .starts_with("1 other person has ")
        );
        assert!(
            en.plural("scan.seen_text", 2, &date)
                .starts_with("2 other people have ")
        );
        assert!(
            en.plural("scan.copy_text", 1, &date)
                .starts_with("1 other person has ")
        );
        assert!(
            en.plural("scan.seen_text", 0, &date)
                .starts_with("0 other people ")
        );
        let vi = Lang::Vi.messages();
        assert!(
            vi.plural("scan.seen_text", 1, &date)
                .contains("1 người khác")
        );
        assert!(
            vi.plural("scan.seen_text", 7, &date)
                .contains("7 người khác")
        );
        assert_eq!(Lang::Vi.plural_category(1), "other");
    }

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("fr;q=1, vi;q=0.8, en;q=0.5"),
            Some(Lang::Vi)
        );
        assert_eq!(Lang::from_accept_language("fr, de"), None);
    }

    #[test]
    fn placeholders_are_filled() {
        let text = Lang::En
            .messages()
            .format("catalog.results_count", &[("count", "12")]);
        assert!(text.contains("12"), "{text}");
    }
}
