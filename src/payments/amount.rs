//! Amounts as bank-notification services send them, read without guessing.
//!
//! VND has no minor unit, yet services send amounts in several shapes: JSON numbers
//! (`150000`, sometimes `150000.0`), plain strings (`"150000"`), strings with a zero fraction
//! (`"150000.00"`, `"150000,00"`) and strings with thousands grouping, Vietnamese (`"150.000"`,
//! `"1.285.000,00"`) or English (`"150,000"`, `"1,285,000.00"`). The rule that keeps them
//! apart: a separator followed by exactly three digits groups thousands, one followed by one or
//! two digits starts a fraction, and a fraction must be zero (there are no hào or xu to pay).
//! Everything else — a non-zero fraction (`"1500.5"`, `"1.5"`), uneven groups (`"12,34,5"`),
//! two kinds of grouping, letters, an empty string — is refused with a reason; an amount is
//! never guessed, because stripping separators reads `"1500.00"` as 150,000 đồng.
//!
//! The sign is kept: whether a negative amount is an outgoing transfer or an error is the
//! preset's business ([`super::bank`]).

use serde_json::Value;

/// The largest amount accepted (a thousand billion đồng), far above any transfer and far
/// below `i64`'s range, so that sums of amounts cannot overflow.
pub const MAX_AMOUNT_VND: i64 = 1_000_000_000_000_000;

/// Why an amount was refused, for the service that sent it and the administrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("the amount is missing or not a number or a string")]
    Missing,
    #[error("{0:?} has a fraction of a đồng; VND amounts are whole đồng")]
    Fraction(String),
    #[error("{0:?} is not an amount in a format this platform reads")]
    Unreadable(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// Reads an amount in đồng from a JSON value (see the module documentation for the shapes).
pub fn parse_amount(value: Option<&Value>) -> Result<i64, AmountError> {
    match value {
        Some(Value::Number(number)) => {
            if let Some(whole) = number.as_i64() {
                return bounded(whole, || number.to_string());
            }
            let text = number.to_string();
            match number.as_f64() {
                Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => {
                    bounded(float as i64, || text.clone())
                }
                Some(float) if float.is_finite() && float.abs() < 9.0e15 => {
                    Err(AmountError::Fraction(text))
                }
                _ => Err(AmountError::TooLarge(text)),
            }
        }
        Some(Value::String(text)) => parse_text(text),
        _ => Err(AmountError::Missing),
    }
}

fn bounded(amount: i64, text: impl FnOnce() -> String) -> Result<i64, AmountError> {
    if amount.unsigned_abs() > MAX_AMOUNT_VND as u64 {
        Err(AmountError::TooLarge(text()))
    } else {
        Ok(amount)
    }
}

/// Reads an amount written as text.
pub fn parse_text(text: &str) -> Result<i64, AmountError> {
    let unreadable = || AmountError::Unreadable(text.to_owned());
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    if body.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return Err(unreadable());
    }
    // Split into digit runs and the separators between them.
    let runs: Vec<&str> = body.split(['.', ',']).collect();
    let separators: Vec<char> = body.chars().filter(|c| *c == '.' || *c == ',').collect();
    if runs.iter().any(|run| run.is_empty()) {
        return Err(unreadable());
    }
    // A last run of one or two digits after a separator is a fraction; it must be zero.
    let (whole_runs, whole_separators) = match (runs.last(), separators.last()) {
        (Some(last), Some(_)) if last.len() <= 2 => {
            if last.chars().any(|c| c != '0') {
                return Err(AmountError::Fraction(text.to_owned()));
            }
            (&runs[..runs.len() - 1], &separators[..separators.len() - 1])
        }
        _ => (&runs[..], &separators[..]),
    };
    // What is left is grouped in thousands with one kind of separator, which is not the
    // fraction's.
    if let Some(group) = whole_separators.first() {
        if whole_separators.iter().any(|s| s != group)
            || separators.len() > whole_separators.len() && separators.last() == Some(group)
        {
            return Err(unreadable());
        }
        if whole_runs[0].len() > 3 || whole_runs[1..].iter().any(|run| run.len() != 3) {
            return Err(unreadable());
        }
    }
    let digits: String = whole_runs.concat();
    if digits.len() > 1 && digits.starts_with('0') && whole_runs.len() > 1 {
        return Err(unreadable());
    }
    let magnitude: i64 = digits
        .parse()
        .map_err(|_| AmountError::TooLarge(text.to_owned()))?;
    bounded(magnitude, || text.to_owned())?;
    Ok(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn read(value: Value) -> Result<i64, AmountError> {
        parse_amount(Some(&value))
    }

    #[test]
    fn the_shapes_services_send_read_as_whole_dong() {
        for (text, expected) in [
            ("1500", 1_500),
            ("1500.00", 1_500),
            ("1500,00", 1_500),
            ("1500.0", 1_500),
            ("285000.00", 285_000),
            ("285.000", 285_000),
            ("1.285.000", 1_285_000),
            ("1.285.000,00", 1_285_000),
            ("285,000", 285_000),
            ("1,285,000.00", 1_285_000),
            (" 150000 ", 150_000),
            ("-2.000", -2_000),
            ("0", 0),
        ] {
            assert_eq!(parse_text(text), Ok(expected), "{text}");
        }
        assert_eq!(read(json!(150_000)), Ok(150_000));
        assert_eq!(read(json!(150_000.0)), Ok(150_000));
        assert_eq!(read(json!(-5)), Ok(-5));
    }

    #[test]
    fn fractions_and_ambiguous_shapes_are_refused_not_guessed() {
        for text in ["1500.5", "1.5", "1,5", "1500.50", "1,000.5", "1.285.000,01"] {
            assert!(
                matches!(parse_text(text), Err(AmountError::Fraction(_))),
                "{text}"
            );
        }
        for text in [
            "12,34,5",
            "1.285,000",
            "1,285.000",
            "1.2850.000",
            "1234.567",
            "",
            "-",
            "1 500",
            "1500đ",
            "VND 1500",
            ".500",
            "1500.",
            "1..000",
            "+1500",
            "1.000.00",
            "1,00,00",
        ] {
            assert!(parse_text(text).is_err(), "{text:?} must be refused");
        }
        assert!(matches!(read(json!(1.5)), Err(AmountError::Fraction(_))));
        assert!(matches!(read(json!(null)), Err(AmountError::Missing)));
        assert!(matches!(read(json!(true)), Err(AmountError::Missing)));
        assert!(matches!(read(json!(1e300)), Err(AmountError::TooLarge(_))));
        assert!(matches!(
            parse_text("99999999999999999999999"),
            Err(AmountError::TooLarge(_))
        ));
        assert!(parse_amount(None).is_err());
    }

    /// `n` with thousands grouped by `separator`.
    fn grouped(n: i64, separator: char) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(separator);
            }
            out.push(c);
        }
        out
    }

    proptest! {
        #[test]
        fn every_formatted_amount_reads_back(n in 0i64..=MAX_AMOUNT_VND) {
            for text in [
                n.to_string(),
                format!("{n}.00"),
                format!("{n},00"),
                format!("{n}.0"),
                grouped(n, '.'),
                format!("{},00", grouped(n, '.')),
                grouped(n, ','),
                format!("{}.00", grouped(n, ',')),
                format!("-{}", grouped(n, '.')),
            ] {
                let expected = if text.starts_with('-') { -n } else { n };
                prop_assert_eq!(parse_text(&text), Ok(expected), "{}", text);
            }
            prop_assert_eq!(read(json!(n)), Ok(n));
        }

        #[test]
        fn a_non_zero_fraction_is_never_accepted(
            n in 0i64..1_000_000_000_000,
            fraction in 1u32..100,
            comma in any::<bool>(),
            group in any::<bool>(),
        ) {
            let (group_sep, decimal) = if comma { ('.', ',') } else { (',', '.') };
            let whole = if group { grouped(n, group_sep) } else { n.to_string() };
            for text in [
                format!("{whole}{decimal}{fraction:02}"),
                format!("{whole}{decimal}{}", fraction % 9 + 1),
            ] {
                prop_assert!(parse_text(&text).is_err(), "{} was accepted", text);
            }
            let float = n as f64 + f64::from(fraction) / 100.0;
            prop_assert!(read(json!(float)).is_err() || float.fract() == 0.0);
        }

        #[test]
        fn any_text_is_read_or_refused_without_panicking(text in "\\PC{0,24}") {
            let _ = parse_text(&text);
        }

        #[test]
        fn what_is_accepted_is_what_the_digits_say(text in "-?[0-9.,]{1,20}") {
            if let Ok(amount) = parse_text(&text) {
                // Whatever is accepted reads as its digits, less at most a zero fraction:
                // never 100 times more (stripped separators), never a rounded fraction.
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                let digits = digits.trim_start_matches('0');
                let magnitude = amount.unsigned_abs().to_string();
                let magnitude = magnitude.trim_start_matches('0');
                prop_assert!(
                    [magnitude.to_owned(), format!("{magnitude}0"), format!("{magnitude}00")]
                        .iter()
                        .any(|m| m.trim_start_matches('0') == digits),
                    "{} read as {}", text, amount
                );
            }
        }
    }
}
