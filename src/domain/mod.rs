//! Domain value types, parsed once at the edge of the app (forms, JSON, CLI, seed files) so
//! that the services never see an unvalidated string. Each `parse` returns a [`FieldIssue`] that
//! names what is wrong in a stable, translatable code.

mod carrier;
mod digital_link;
mod gtin;
mod money;
mod phone;
pub mod shipping;
mod stamp_code;
mod stars;
mod text;
pub mod token;

pub use carrier::{Carrier, tracking_link};
pub use digital_link::{DigitalLink, DigitalLinkError, ParsedUri};
pub use gtin::Gtin;
pub use money::Money;
pub use phone::Phone;
pub use stamp_code::{CROCKFORD, LotCode, StampCode};
pub use stars::Stars;
pub use text::{Email, Slug, bounded_text, fold_vietnamese, optional_text};

/// Generates an `enum` stored as text: its database string (`as_str`, `parse`), every variant
/// (`ALL`), and serde/OpenAPI as snake_case. One macro for every status and kind column.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

pub(crate) use text_enum;

/// Why a single input value was refused. `code` is stable and machine-readable (it keys the
/// message catalogue); `message` is a plain English explanation for API clients and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    pub code: &'static str,
    pub message: String,
}

impl FieldIssue {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Identifier of a commune or ward (5 digits, official statistics office code). Whether the
/// code exists is checked against the reference tables by the service that uses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommuneCode(String);

impl CommuneCode {
    pub fn parse(input: &str) -> Result<Self, FieldIssue> {
        let code = input.trim();
        if code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(FieldIssue::new(
                "invalid_commune_code",
                "a commune code is 5 digits",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Deserialises `null` as the type's default, so that API clients may send `null` for an
/// optional text field.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commune_codes_are_five_digits() {
        assert_eq!(CommuneCode::parse(" 02923 ").unwrap().as_str(), "02923");
        assert!(CommuneCode::parse("2923").is_err());
        assert!(CommuneCode::parse("0292a").is_err());
    }
}
