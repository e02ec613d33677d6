use std::fmt;

use super::FieldIssue;

/// An amount of money in whole Vietnamese đồng. VND has no minor unit, so an `i64` holds every
/// amount exactly; floats never appear anywhere money is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    /// The largest price the catalogue accepts: 10 billion đồng. Anything above is a typo.
    pub const MAX_PRICE: i64 = 10_000_000_000;

    pub const fn from_dong(dong: i64) -> Self {
        Self(dong)
    }

    pub const fn dong(self) -> i64 {
        self.0
    }

    /// A shop price: a positive whole number of đồng, at most [`Self::MAX_PRICE`].
    pub fn parse_price(dong: i64) -> Result<Self, FieldIssue> {
        if dong <= 0 {
            Err(FieldIssue::new(
                "price_not_positive",
                "the price must be a positive whole number of đồng",
            ))
        } else if dong > Self::MAX_PRICE {
            Err(FieldIssue::new(
                "price_too_large",
                format!("the price must be at most {} đồng", Self::MAX_PRICE),
            ))
        } else {
            Ok(Self(dong))
        }
    }

    /// Parses what a person typed in a form: digits with optional thousands separators
    /// (`250.000`, `250,000`, `250 000`) and an optional `đ`/`₫`/`VND` suffix. A decimal part
    /// is refused rather than rounded: đồng have no fractions.
    pub fn parse_price_text(input: &str) -> Result<Self, FieldIssue> {
        let trimmed = input.trim();
        let lower = trimmed.to_lowercase();
        let without_unit = lower
            .strip_suffix("vnd")
            .unwrap_or(&lower)
            .trim_end()
            .trim_end_matches(['đ', '₫', 'd'])
            .trim();
        if without_unit.is_empty() {
            return Err(FieldIssue::new("required", "the price is required"));
        }
        if without_unit.starts_with('-') {
            return Err(FieldIssue::new(
                "price_not_positive",
                "the price must be a positive whole number of đồng",
            ));
        }
        let groups: Vec<&str> = without_unit.split(['.', ',', ' ', '\u{a0}']).collect();
        let grouped_correctly = groups.len() == 1
            || (groups[0].len() <= 3
                && !groups[0].is_empty()
                && groups[1..].iter().all(|g| g.len() == 3));
        if !grouped_correctly || !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
            return Err(FieldIssue::new(
                "price_not_whole_dong",
                "the price must be a whole number of đồng, such as 250000 or 250.000",
            ));
        }
        let digits: String = groups.concat();
        let value: i64 = digits.parse().map_err(|_| {
            FieldIssue::new(
                "price_too_large",
                format!("the price must be at most {} đồng", Self::MAX_PRICE),
            )
        })?;
        Self::parse_price(value)
    }
}

impl fmt::Display for Money {
    /// Vietnamese notation: `1.250.000 ₫`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 4);
        if self.0 < 0 {
            out.push('-');
        }
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push('.');
            }
            out.push(ch);
        }
        write!(f, "{out} ₫")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_vietnamese_thousands_separators() {
        assert_eq!(Money::from_dong(1_250_000).to_string(), "1.250.000 ₫");
        assert_eq!(Money::from_dong(950).to_string(), "950 ₫");
        assert_eq!(Money::from_dong(-45_000).to_string(), "-45.000 ₫");
    }

    #[test]
    fn parses_typed_prices() {
        for ok in [
            "250000",
            "250.000",
            "250,000",
            "250 000 đ",
            "250.000₫",
            "250000 VND",
        ] {
            assert_eq!(Money::parse_price_text(ok).unwrap().dong(), 250_000, "{ok}");
        }
        for bad in [
            "",
            "-5",
            "0",
            "12.5",
            "1,5",
            "abc",
            "25.00",
            "99999999999999999999",
        ] {
            assert!(Money::parse_price_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_non_positive_and_absurd_prices() {
        assert!(Money::parse_price(0).is_err());
        assert!(Money::parse_price(-1).is_err());
        assert!(Money::parse_price(Money::MAX_PRICE + 1).is_err());
        assert!(Money::parse_price(Money::MAX_PRICE).is_ok());
    }
}
