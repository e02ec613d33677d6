use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::FieldIssue;

/// Trims and NFC-normalises free text and checks its length in characters. Some phone
/// keyboards send Vietnamese in decomposed form; normalising here keeps every stored string in
/// one form so that equality, search and uniqueness work.
pub fn bounded_text(input: &str, min: usize, max: usize) -> Result<String, FieldIssue> {
    let text: String = input.trim().nfc().collect();
    let len = text.chars().count();
    if len == 0 && min > 0 {
        Err(FieldIssue::new("required", "this field is required"))
    } else if len < min {
        Err(FieldIssue::new(
            "too_short",
            format!("at least {min} characters"),
        ))
    } else if len > max {
        Err(FieldIssue::new(
            "too_long",
            format!("at most {max} characters"),
        ))
    } else if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        Err(FieldIssue::new(
            "control_characters",
            "control characters are not allowed",
        ))
    } else {
        Ok(text)
    }
}

/// Like [`bounded_text`], but an empty input is `None`.
pub fn optional_text(input: &str, max: usize) -> Result<Option<String>, FieldIssue> {
    if input.trim().is_empty() {
        Ok(None)
    } else {
        bounded_text(input, 1, max).map(Some)
    }
}

/// Removes Vietnamese tone and vowel marks and maps đ to d: "Đường phèn" → "Duong phen".
pub fn fold_vietnamese(input: &str) -> String {
    input
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            other => other,
        })
        .collect()
}

/// A URL slug: lower-case ASCII letters, digits and single dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 100;

    /// Builds a slug from a Vietnamese name: "Chè Shan tuyết Suối Giàng" → "che-shan-tuyet-suoi-giang".
    pub fn from_name(name: &str) -> Self {
        let folded = fold_vietnamese(name).to_lowercase();
        let mut slug = String::with_capacity(folded.len());
        for c in folded.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
            if slug.len() >= Self::MAX_LEN {
                break;
            }
        }
        let trimmed = slug.trim_end_matches('-');
        if trimmed.is_empty() {
            Self("item".to_owned())
        } else {
            Self(trimmed.to_owned())
        }
    }

    /// This slug with a numeric suffix, used when the plain slug is already taken.
    pub fn with_suffix(&self, n: u64) -> Self {
        Self(format!("{}-{n}", self.0))
    }

    pub fn parse(input: &str) -> Result<Self, FieldIssue> {
        let valid = !input.is_empty()
            && input.len() <= Self::MAX_LEN + 12
            && !input.starts_with('-')
            && !input.ends_with('-')
            && !input.contains("--")
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(input.to_owned()))
        } else {
            Err(FieldIssue::new("invalid_slug", "not a valid slug"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, lower-cased. The check is deliberately simple (one `@`, a dot in the
/// domain, no spaces); the real proof of an address is a message reaching it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, FieldIssue> {
        let email = input.trim().to_lowercase();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            })
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Self(email))
        } else {
            Err(FieldIssue::new(
                "invalid_email",
                "not a valid e-mail address",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese_including_d_with_stroke() {
        assert_eq!(
            fold_vietnamese("Đường phèn Mộc Châu"),
            "Duong phen Moc Chau"
        );
        assert_eq!(fold_vietnamese("Mật ong bạc hà"), "Mat ong bac ha");
        // Decomposed input (base letter + combining marks) folds the same way.
        let decomposed: String = "Chè Shan tuyết".nfd().collect();
        assert_eq!(fold_vietnamese(&decomposed), "Che Shan tuyet");
    }

    #[test]
    fn slugs_are_readable_ascii() {
        assert_eq!(
            Slug::from_name("Chè Shan tuyết Suối Giàng (hộp 100g)").as_str(),
            "che-shan-tuyet-suoi-giang-hop-100g"
        );
        assert_eq!(Slug::from_name("!!!").as_str(), "item");
        assert!(Slug::parse("che-shan").is_ok());
        assert!(Slug::parse("Che").is_err());
        assert!(Slug::parse("a--b").is_err());
    }

    #[test]
    fn text_is_trimmed_normalised_and_bounded() {
        let decomposed: String = "Mật".nfd().collect();
        assert_eq!(
            bounded_text(&format!("  {decomposed} "), 1, 10).unwrap(),
            "Mật"
        );
        assert_eq!(bounded_text("   ", 1, 10).unwrap_err().code, "required");
        assert_eq!(
            bounded_text(&"a".repeat(11), 1, 10).unwrap_err().code,
            "too_long"
        );
        assert!(bounded_text("a\u{0}b", 1, 10).is_err());
        assert_eq!(optional_text("  ", 10).unwrap(), None);
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            Email::parse(" An@Example.VN ").unwrap().as_str(),
            "an@example.vn"
        );
        for bad in ["a", "a@b", "@b.vn", "a b@c.vn", "a@.vn"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
