use super::FieldIssue;

/// A Vietnamese mobile number in national form (`0912345678`). Accepts `+84`/`84` prefixes,
/// spaces, dots and dashes as people type them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// Mobile prefixes in use since the 2018 renumbering (03x, 05x, 07x, 08x, 09x).
const MOBILE_FIRST_DIGITS: &[u8] = b"35789";

impl Phone {
    pub fn parse(input: &str) -> Result<Self, FieldIssue> {
        let mut digits: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
            .collect();
        if let Some(rest) = digits.strip_prefix("+84") {
            digits = format!("0{rest}");
        } else if digits.len() == 11 && digits.starts_with("84") {
            digits = format!("0{}", &digits[2..]);
        }
        let bytes = digits.as_bytes();
        if bytes.len() == 10
            && bytes[0] == b'0'
            && MOBILE_FIRST_DIGITS.contains(&bytes[1])
            && bytes.iter().all(u8::is_ascii_digit)
        {
            Ok(Self(digits))
        } else {
            Err(FieldIssue::new(
                "invalid_phone",
                "a Vietnamese mobile number has 10 digits and starts with 03, 05, 07, 08 or 09",
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
    fn normalises_common_ways_of_typing_a_number() {
        for ok in [
            "0912345678",
            "091 234 5678",
            "+84912345678",
            "84912345678",
            "0912.345.678",
        ] {
            assert_eq!(Phone::parse(ok).unwrap().as_str(), "0912345678", "{ok}");
        }
    }

    #[test]
    fn refuses_landlines_and_garbage() {
        for bad in [
            "0212345678",
            "091234567",
            "09123456789",
            "abc",
            "",
            "+1 555 1234",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }
}
