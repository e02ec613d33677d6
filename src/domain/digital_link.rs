//! GS1 Digital Link URIs for trade items (GS1 Digital Link Standard: URI Syntax 1.2), as the
//! resolver answers them and as labels print them.
//!
//! The path holds the GTIN (AI 01, the primary key) and then, each at most once and in this
//! order, the qualifiers AI 22 (consumer product variant), AI 10 (batch or lot) and AI 21
//! (serial); any qualifier may be left out. Whatever comes before `/01/` is the resolver's own
//! path (a prefix), and the query string carries data attributes and `linkType`.
//!
//! - The GTIN has 8, 12, 13 or 14 digits and a valid check digit; the canonical URI carries
//!   its 14-digit form.
//! - A qualifier's value has 1 to 20 characters of GS1 character set 82 (`!"%&'()*+,-./`,
//!   digits, `:;<=>?`, letters, `_`). In the URI, characters other than RFC 3986's unreserved
//!   ones are percent-encoded (`/` as `%2F`); [`DigitalLink::path`] writes them so, and
//!   [`DigitalLink::parse_uri`] refuses a raw character that may not stand in a path segment.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::Gtin;

/// A GS1 Digital Link naming a trade item, one of its lots, or one serialised item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitalLink {
    pub gtin: Gtin,
    /// AI 22, consumer product variant.
    pub variant: Option<String>,
    /// AI 10, batch or lot.
    pub lot: Option<String>,
    /// AI 21, serial number.
    pub serial: Option<String>,
}

/// A parsed URI: the link, and what stood around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUri {
    pub link: DigitalLink,
    /// `scheme://host[:port]`, as written.
    pub origin: String,
    /// The resolver's path before `/01/` (empty, or starting with `/`).
    pub prefix: String,
    /// The query string without `?` (empty when there is none).
    pub query: String,
    /// Whether the path is exactly the canonical one ([`DigitalLink::path`]): 14-digit GTIN,
    /// values encoded the usual way.
    pub canonical_path: bool,
}

/// Why a URI is not a GS1 Digital Link of a trade item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigitalLinkError {
    /// Not an absolute `http` or `https` URI with a host.
    NotHttp,
    /// No `/01/{gtin}` in the path.
    NoGtin,
    /// An application identifier this grammar does not allow in a trade item's path.
    UnknownAi(String),
    /// A qualifier after one that must follow it, or twice.
    OutOfOrder(&'static str),
    /// The GTIN is not 8, 12, 13 or 14 digits with a valid check digit.
    Gtin(&'static str),
    /// A qualifier's value is empty, longer than 20 characters, or outside character set 82.
    Value {
        ai: &'static str,
        problem: &'static str,
    },
    /// A character that may not stand in a URI path segment, or a broken `%` escape.
    Encoding(&'static str),
}

impl fmt::Display for DigitalLinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotHttp => f.write_str("not an absolute http(s) URI"),
            Self::NoGtin => f.write_str("no /01/{gtin} in the path"),
            Self::UnknownAi(ai) => write!(f, "AI {ai} is not allowed in a trade item's path"),
            Self::OutOfOrder(ai) => write!(f, "AI {ai} is out of order or repeated"),
            Self::Gtin(code) => write!(f, "invalid GTIN ({code})"),
            Self::Value { ai, problem } => write!(f, "AI {ai}: {problem}"),
            Self::Encoding(problem) => write!(f, "bad encoding: {problem}"),
        }
    }
}

impl std::error::Error for DigitalLinkError {}

/// The qualifiers of AI 01, in the order the path must hold them.
const QUALIFIERS: [&str; 3] = ["22", "10", "21"];
/// Longest value of AI 22, 10 and 21 (format X..20).
const MAX_VALUE_LEN: usize = 20;

/// Characters percent-encoded in a value: everything but RFC 3986's unreserved set.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Whether `c` is in GS1 character set 82.
pub fn is_cset82(c: char) -> bool {
    matches!(c, '!' | '"' | '%'..='?' | 'A'..='Z' | '_' | 'a'..='z')
}

/// Checks a qualifier's (decoded) value: 1 to 20 characters of character set 82.
pub fn check_value(ai: &'static str, value: &str) -> Result<(), DigitalLinkError> {
    if value.is_empty() {
        return Err(DigitalLinkError::Value {
            ai,
            problem: "empty",
        });
    }
    if value.chars().count() > MAX_VALUE_LEN {
        return Err(DigitalLinkError::Value {
            ai,
            problem: "longer than 20 characters",
        });
    }
    if !value.chars().all(is_cset82) {
        return Err(DigitalLinkError::Value {
            ai,
            problem: "a character outside GS1 character set 82",
        });
    }
    Ok(())
}

/// Percent-encodes a value for a path segment.
pub fn encode_value(value: &str) -> String {
    utf8_percent_encode(value, VALUE).to_string()
}

/// Decodes a raw path segment, refusing what RFC 3986 does not allow in one.
fn decode_segment(raw: &str) -> Result<String, DigitalLinkError> {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                if hex.is_none() {
                    return Err(DigitalLinkError::Encoding(
                        "a % not followed by two hex digits",
                    ));
                }
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) => i += 1,
            _ => {
                return Err(DigitalLinkError::Encoding(
                    "a character that must be percent-encoded in a path",
                ));
            }
        }
    }
    percent_decode_str(raw)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| DigitalLinkError::Encoding("not UTF-8 once decoded"))
}

impl DigitalLink {
    /// A link to a trade item; add qualifiers with the fields.
    pub fn new(gtin: Gtin) -> Self {
        Self {
            gtin,
            variant: None,
            lot: None,
            serial: None,
        }
    }

    /// Whether `serial` may be the value of AI 21.
    pub fn check_serial(serial: &str) -> bool {
        check_value("21", serial).is_ok()
    }

    /// The canonical path: `/01/{gtin14}`, then `/22/…`, `/10/…`, `/21/…` for the qualifiers
    /// present, values percent-encoded.
    pub fn path(&self) -> String {
        let mut path = format!("/01/{}", self.gtin.as_gtin14());
        for (ai, value) in QUALIFIERS
            .iter()
            .zip([&self.variant, &self.lot, &self.serial])
        {
            if let Some(value) = value {
                path.push('/');
                path.push_str(ai);
                path.push('/');
                path.push_str(&encode_value(value));
            }
        }
        path
    }

    /// The link's URI under a resolver's base URL (`https://host[/prefix]`).
    pub fn uri(&self, base: &str) -> String {
        format!("{}{}", base.trim_end_matches('/'), self.path())
    }

    /// Parses a path (from its first `/`, without query), read from the right: qualifier
    /// pairs, then `01` and the GTIN; what stands before is the resolver's prefix, returned.
    pub fn parse_path(path: &str) -> Result<(Self, String), DigitalLinkError> {
        let segments: Vec<&str> = path.split('/').collect();
        // segments[0] is what stands before the first '/': empty for a path.
        let mut end = segments.len();
        let mut qualifiers: Vec<(&'static str, String)> = Vec::new();
        loop {
            if end < 3 {
                return Err(DigitalLinkError::NoGtin);
            }
            let (ai, raw) = (segments[end - 2], segments[end - 1]);
            end -= 2;
            if ai == "01" {
                let gtin = decode_segment(raw)?;
                let gtin = Gtin::parse_exact(&gtin).map_err(DigitalLinkError::Gtin)?;
                qualifiers.reverse();
                let mut link = Self::new(gtin);
                let mut next = 0;
                for (ai, value) in qualifiers {
                    let rank = QUALIFIERS.iter().position(|q| *q == ai).unwrap_or(0);
                    if rank < next {
                        return Err(DigitalLinkError::OutOfOrder(ai));
                    }
                    next = rank + 1;
                    let slot = match rank {
                        0 => &mut link.variant,
                        1 => &mut link.lot,
                        _ => &mut link.serial,
                    };
                    *slot = Some(value);
                }
                return Ok((link, segments[..end].join("/")));
            }
            let Some(known) = QUALIFIERS.iter().find(|q| **q == ai) else {
                return Err(DigitalLinkError::UnknownAi(ai.to_owned()));
            };
            let value = decode_segment(raw)?;
            check_value(known, &value)?;
            qualifiers.push((known, value));
        }
    }

    /// Parses an absolute `http`/`https` URI (scheme and host in any case).
    pub fn parse_uri(uri: &str) -> Result<ParsedUri, DigitalLinkError> {
        let (scheme, rest) = uri.split_once("://").ok_or(DigitalLinkError::NotHttp)?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(DigitalLinkError::NotHttp);
        }
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (host, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if host.is_empty() || host.contains(['@', ' ']) {
            return Err(DigitalLinkError::NotHttp);
        }
        let (link, prefix) = Self::parse_path(path)?;
        let canonical_path = format!("{prefix}{}", link.path()) == path;
        Ok(ParsedUri {
            origin: format!("{scheme}://{host}"),
            prefix,
            query: query.to_owned(),
            canonical_path,
            link,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gtin() -> Gtin {
        Gtin::parse("8934567890120").unwrap()
    }

    #[test]
    fn builds_the_three_forms_canonically() {
        let mut link = DigitalLink::new(gtin());
        assert_eq!(link.path(), "/01/08934567890120");
        link.lot = Some("MO-2025-11".into());
        assert_eq!(link.path(), "/01/08934567890120/10/MO-2025-11");
        link.serial = Some("7KQ2M9XW4RTV8HJC".into());
        assert_eq!(
            link.uri("HTTPS://OCOP.EXAMPLE.VN/"),
            "HTTPS://OCOP.EXAMPLE.VN/01/08934567890120/10/MO-2025-11/21/7KQ2M9XW4RTV8HJC"
        );
        let parsed = DigitalLink::parse_uri(&link.uri("https://ocop.example.vn")).unwrap();
        assert_eq!(parsed.link, link);
        assert!(parsed.canonical_path);
        assert_eq!(parsed.prefix, "");
    }

    #[test]
    fn encodes_and_decodes_values_of_character_set_82() {
        let mut link = DigitalLink::new(gtin());
        link.lot = Some("A/B%C&D\"<?>".into());
        let path = link.path();
        assert_eq!(path, "/01/08934567890120/10/A%2FB%25C%26D%22%3C%3F%3E");
        let (parsed, prefix) = DigitalLink::parse_path(&path).unwrap();
        assert_eq!(parsed, link);
        assert_eq!(prefix, "");
        // Raw characters a path segment may not hold.
        for raw in ["A\"B", "A<B", "A%2", "A%G1", "A B"] {
            assert!(
                matches!(
                    DigitalLink::parse_path(&format!("/01/08934567890120/10/{raw}")),
                    Err(DigitalLinkError::Encoding(_))
                ),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_values_outside_the_rules() {
        for (value, problem) in [
            ("A~B", "a character outside GS1 character set 82"),
            ("A%40B", "a character outside GS1 character set 82"),
            ("%C3%A9", "a character outside GS1 character set 82"),
            ("123456789012345678901", "longer than 20 characters"),
            ("", "empty"),
        ] {
            assert_eq!(
                DigitalLink::parse_path(&format!("/01/08934567890120/21/{value}")),
                Err(DigitalLinkError::Value { ai: "21", problem }),
                "{value}"
            );
        }
    }

    #[test]
    fn qualifiers_come_in_the_standard_order_once() {
        let ok = DigitalLink::parse_path("/01/08934567890120/22/X/10/L/21/S")
            .unwrap()
            .0;
        assert_eq!(ok.variant.as_deref(), Some("X"));
        assert!(DigitalLink::parse_path("/01/08934567890120/21/S").is_ok());
        for path in [
            "/01/08934567890120/21/S/10/L",
            "/01/08934567890120/10/L/22/X",
            "/01/08934567890120/10/L/10/M",
        ] {
            assert!(
                matches!(
                    DigitalLink::parse_path(path),
                    Err(DigitalLinkError::OutOfOrder(_))
                ),
                "{path}"
            );
        }
        assert_eq!(
            DigitalLink::parse_path("/01/08934567890120/17/271020"),
            Err(DigitalLinkError::UnknownAi("17".into()))
        );
        assert_eq!(
            DigitalLink::parse_path("/10/L/21/S"),
            Err(DigitalLinkError::NoGtin)
        );
    }

    #[test]
    fn checks_the_gtin_and_knows_the_canonical_form() {
        assert!(matches!(
            DigitalLink::parse_path("/01/08934567890121"),
            Err(DigitalLinkError::Gtin("invalid_gtin_check_digit"))
        ));
        assert!(matches!(
            DigitalLink::parse_path("/01/0893456789012"),
            Err(DigitalLinkError::Gtin(_))
        ));
        let short = DigitalLink::parse_uri("https://ocop.vn/01/8934567890120/10/L").unwrap();
        assert_eq!(short.link.gtin, gtin());
        assert!(
            !short.canonical_path,
            "a GTIN-13 is padded in the canonical form"
        );
        let prefixed =
            DigitalLink::parse_uri("https://example.vn/ocop/01/08934567890120?linkType=all#x")
                .unwrap();
        assert_eq!(prefixed.prefix, "/ocop");
        assert_eq!(prefixed.query, "linkType=all");
        assert!(prefixed.canonical_path);
        assert_eq!(
            DigitalLink::parse_uri("ftp://x/01/08934567890120"),
            Err(DigitalLinkError::NotHttp)
        );
    }
}
