use super::FieldIssue;

/// A GS1 Global Trade Item Number (GTIN-8, -12, -13 or -14) with a valid check digit, stored in
/// its 14-digit form so that the same item is always the same string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gtin(String);

impl Gtin {
    pub fn parse(input: &str) -> Result<Self, FieldIssue> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if !matches!(digits.len(), 8 | 12 | 13 | 14) || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(FieldIssue::new(
                "invalid_gtin_length",
                "a GTIN has 8, 12, 13 or 14 digits",
            ));
        }
        let gtin14 = format!("{digits:0>14}");
        let (body, check) = gtin14.split_at(13);
        let expected = check_digit(body);
        if check.as_bytes()[0] - b'0' != expected {
            return Err(FieldIssue::new(
                "invalid_gtin_check_digit",
                format!("the GTIN's check digit should be {expected}"),
            ));
        }
        Ok(Self(gtin14))
    }

    /// Parses a GTIN as it stands in a URI: only its 8, 12, 13 or 14 digits, nothing around
    /// them. Answers the code of what is wrong.
    pub fn parse_exact(input: &str) -> Result<Self, &'static str> {
        if !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err("invalid_gtin_length");
        }
        Self::parse(input).map_err(|issue| issue.code)
    }

    /// The 14-digit form used in GS1 Digital Link URIs.
    pub fn as_gtin14(&self) -> &str {
        &self.0
    }

    /// The shortest usual form: GTIN-13 (EAN-13) for Vietnamese goods, whose GTIN-14 has a
    /// leading zero.
    pub fn display_form(&self) -> &str {
        self.0.strip_prefix('0').unwrap_or(&self.0)
    }
}

/// GS1 mod-10 check digit of the digits before it: weights 3 and 1 alternate from the right.
pub(crate) fn check_digit(body: &str) -> u8 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_gtins_in_every_length() {
        assert_eq!(
            Gtin::parse("8934567890120").unwrap().as_gtin14(),
            "08934567890120"
        );
        assert_eq!(
            Gtin::parse("96385074").unwrap().as_gtin14(),
            "00000096385074"
        );
        assert_eq!(
            Gtin::parse("036000291452").unwrap().display_form(),
            "0036000291452"
        );
    }

    #[test]
    fn refuses_a_wrong_check_digit() {
        let issue = Gtin::parse("4006381333932").unwrap_err();
        assert!(Gtin::parse("4006381333931").is_ok());
        let issue2 = Gtin::parse("8934567890127").unwrap_err();
        assert_eq!(issue2.code, "invalid_gtin_check_digit");
        assert_eq!(issue.code, "invalid_gtin_check_digit");
    }

    #[test]
    fn refuses_wrong_lengths_and_letters() {
        assert!(Gtin::parse("123").is_err());
        assert!(Gtin::parse("89345678901a8").is_err());
    }
}
