use std::sync::LazyLock;

use data_encoding::{Encoding, Specification};

use super::FieldIssue;

/// Crockford's base32: digits and upper-case letters without I, L, O and U, so that a code
/// read aloud or typed from a label cannot be confused. Decoding ignores case and reads
/// O as 0 and I or L as 1.
pub static CROCKFORD: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str("0123456789ABCDEFGHJKMNPQRSTVWXYZ");
    spec.translate.from.push_str("abcdefghjkmnpqrstvwxyzoOiIlL");
    spec.translate.to.push_str("ABCDEFGHJKMNPQRSTVWXYZ001111");
    spec.encoding()
        .expect("Crockford's alphabet is a valid base32 specification")
});

/// One package's stamp code: 80 random bits written as 16 Crockford base32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StampCode(String);

impl StampCode {
    pub const LEN: usize = 16;
    const BYTES: usize = 10;

    /// A new code from the operating system's CSPRNG (through `rand`'s thread generator).
    pub fn generate() -> Self {
        let bytes: [u8; Self::BYTES] = rand::random();
        Self(CROCKFORD.encode(&bytes))
    }

    /// Parses a code as printed or typed: any case, with optional dashes or spaces.
    pub fn parse(input: &str) -> Result<Self, FieldIssue> {
        let cleaned: String = input.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        if cleaned.len() != Self::LEN {
            return Err(invalid());
        }
        let bytes = CROCKFORD
            .decode(cleaned.as_bytes())
            .map_err(|_| invalid())?;
        Ok(Self(CROCKFORD.encode(&bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn invalid() -> FieldIssue {
    FieldIssue::new(
        "invalid_stamp_code",
        "a stamp code is 16 letters and digits",
    )
}

/// A batch's lot code, as printed on labels and used in GS1 Digital Link URLs (AI 10):
/// 1 to 20 upper-case letters, digits, '-' or '.', which keeps QR codes in the compact
/// alphanumeric mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LotCode(String);

impl LotCode {
    pub fn parse(input: &str) -> Result<Self, FieldIssue> {
        let lot = input.trim().to_uppercase();
        if !lot.is_empty()
            && lot.len() <= 20
            && lot
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            Ok(Self(lot))
        } else {
            Err(FieldIssue::new(
                "invalid_lot_code",
                "1 to 20 letters, digits, '-' or '.'",
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
    fn generated_codes_are_sixteen_unambiguous_characters() {
        for _ in 0..1000 {
            let code = StampCode::generate();
            assert_eq!(code.as_str().len(), 16);
            assert!(!code.as_str().contains(['I', 'L', 'O', 'U']));
            assert_eq!(StampCode::parse(code.as_str()).unwrap(), code);
        }
    }

    #[test]
    fn codes_are_read_case_insensitively_and_forgive_confusable_letters() {
        let code = StampCode::parse("0123456789ABCDEF").unwrap();
        assert_eq!(StampCode::parse("o123456789abcdef").unwrap(), code);
        assert_eq!(
            StampCode::parse("0l23-4567-89AB-CDEF").unwrap().as_str(),
            "0123456789ABCDEF"
        );
        assert!(StampCode::parse("0123456789ABCDE").is_err());
        assert!(StampCode::parse("0123456789ABCDEU").is_err());
        assert!(StampCode::parse("0123456789ABCDE!").is_err());
    }

    #[test]
    fn lot_codes_are_upper_case_and_qr_friendly() {
        assert_eq!(
            LotCode::parse(" mo-2025.11 ").unwrap().as_str(),
            "MO-2025.11"
        );
        assert!(LotCode::parse("").is_err());
        assert!(LotCode::parse("lô 1").is_err());
        assert!(LotCode::parse(&"A".repeat(21)).is_err());
    }
}
