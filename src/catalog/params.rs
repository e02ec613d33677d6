//! Checking the query parameters that the product list, search and the dashboard share:
//! places, OCOP categories, stars, prices and paging. Every value arrives as text; each refused
//! one is collected under its field name, and [`QueryChecker::finish`] answers 400 naming all of
//! them at once, the same way on every endpoint.

use std::ops::RangeInclusive;
use std::str::FromStr;

use crate::domain::{FieldIssue, Money};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::reference::ReferenceData;

/// A parameter's value with surrounding blanks removed; `None` when absent or blank (a form
/// sends an empty value for "any").
pub fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// An OCOP category filter: one category, or a group and every category in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryChoice {
    /// The code as given: a category (`food-tea`) or a group (`food`).
    pub code: String,
    /// The categories it selects.
    pub categories: Vec<String>,
}

/// Collects the refused parameters of one request.
pub struct QueryChecker<'a> {
    reference: &'a ReferenceData,
    errors: FieldErrors,
}

impl<'a> QueryChecker<'a> {
    pub fn new(reference: &'a ReferenceData) -> Self {
        Self {
            reference,
            errors: FieldErrors::default(),
        }
    }

    /// Records a refused field (for checks specific to one endpoint).
    pub fn refuse(&mut self, field: &'static str, issue: FieldIssue) {
        self.errors.add(field, issue);
    }

    /// A province code known to the reference data.
    pub fn province(&mut self, value: &Option<String>) -> Option<String> {
        let code = present(value)?;
        match self.reference.province(code) {
            Some(province) => Some(province.code.clone()),
            None => {
                self.refuse(
                    "province",
                    FieldIssue::new("unknown_province", "no province has this code"),
                );
                None
            }
        }
    }

    /// A commune code known to the reference data.
    pub fn commune(&mut self, value: &Option<String>) -> Option<String> {
        let code = present(value)?;
        match self.reference.commune(code) {
            Some(commune) => Some(commune.code.clone()),
            None => {
                self.refuse(
                    "commune",
                    FieldIssue::new("unknown_commune", "no commune has this code"),
                );
                None
            }
        }
    }

    /// An OCOP category or group code.
    pub fn category(&mut self, value: &Option<String>) -> Option<CategoryChoice> {
        let code = present(value)?;
        if let Some(category) = self.reference.category(code) {
            return Some(CategoryChoice {
                code: category.code.clone(),
                categories: vec![category.code.clone()],
            });
        }
        if let Some(group) = self.reference.groups.iter().find(|g| g.code == code) {
            return Some(CategoryChoice {
                code: group.code.clone(),
                categories: group.categories.iter().map(|c| c.code.clone()).collect(),
            });
        }
        self.refuse(
            "category",
            FieldIssue::new("unknown_category", "no OCOP category has this code"),
        );
        None
    }

    /// A minimum number of OCOP stars within `allowed`.
    pub fn stars(
        &mut self,
        field: &'static str,
        value: &Option<String>,
        allowed: RangeInclusive<i16>,
    ) -> Option<i16> {
        let message = format!(
            "a number of stars from {} to {}",
            allowed.start(),
            allowed.end()
        );
        self.number(field, value, allowed, "invalid_stars", message)
    }

    /// A price range in đồng (`min_price`, `max_price`), refused when reversed.
    pub fn price_range(
        &mut self,
        min: &Option<String>,
        max: &Option<String>,
    ) -> (Option<i64>, Option<i64>) {
        let mut price = |field: &'static str, value: &Option<String>| {
            let text = present(value)?;
            match Money::parse_price_text(text) {
                Ok(money) => Some(money.dong()),
                Err(issue) => {
                    self.refuse(field, issue);
                    None
                }
            }
        };
        let (low, high) = (price("min_price", min), price("max_price", max));
        if let (Some(low), Some(high)) = (low, high)
            && low > high
        {
            self.refuse(
                "max_price",
                FieldIssue::new(
                    "price_range_reversed",
                    "the highest price is below the lowest",
                ),
            );
        }
        (low, high)
    }

    /// A page number from 1 to `last`; 1 when absent.
    pub fn page<T>(&mut self, value: &Option<String>, last: T) -> T
    where
        T: FromStr + PartialOrd + Copy + From<u8> + std::fmt::Display,
    {
        let first = T::from(1);
        let message = format!("a page number from 1 to {last}");
        self.number("page", value, first..=last, "invalid_page", message)
            .unwrap_or(first)
    }

    /// Items per page from 1 to `most`; `default` when absent.
    pub fn per_page<T>(&mut self, value: &Option<String>, most: T, default: T) -> T
    where
        T: FromStr + PartialOrd + Copy + From<u8> + std::fmt::Display,
    {
        let message = format!("1 to {most}");
        self.number(
            "per_page",
            value,
            T::from(1)..=most,
            "invalid_per_page",
            message,
        )
        .unwrap_or(default)
    }

    /// A whole number within `allowed`.
    pub fn number<T>(
        &mut self,
        field: &'static str,
        value: &Option<String>,
        allowed: RangeInclusive<T>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Option<T>
    where
        T: FromStr + PartialOrd,
    {
        let text = present(value)?;
        match text.parse::<T>() {
            Ok(n) if allowed.contains(&n) => Some(n),
            _ => {
                self.refuse(field, FieldIssue::new(code, message));
                None
            }
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    pub fn boolean(&mut self, field: &'static str, value: &Option<String>) -> Option<bool> {
        let text = present(value)?;
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => {
                self.refuse(field, FieldIssue::new("invalid_boolean", "true or false"));
                None
            }
        }
    }

    /// One of `names`, each standing for a value.
    pub fn choice<T: Copy>(
        &mut self,
        field: &'static str,
        value: &Option<String>,
        names: &[(&str, T)],
        code: &'static str,
    ) -> Option<T> {
        let text = present(value)?;
        match names.iter().find(|(name, _)| *name == text) {
            Some((_, value)) => Some(*value),
            None => {
                let allowed: Vec<&str> = names.iter().map(|(name, _)| *name).collect();
                self.refuse(field, FieldIssue::new(code, allowed.join(", ")));
                None
            }
        }
    }

    /// `Ok` when every parameter was accepted; otherwise 400 naming each refused one.
    pub fn finish(self) -> AppResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::InvalidParameters(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(value: &str) -> Option<String> {
        Some(value.to_owned())
    }

    #[test]
    fn blank_values_mean_absent_and_bad_ones_are_all_named() {
        let reference = ReferenceData::embedded();
        let mut check = QueryChecker::new(&reference);
        assert_eq!(check.province(&params("  ")), None);
        assert_eq!(check.province(&params("15")), Some("15".to_owned()));
        assert_eq!(check.stars("stars", &params("4"), 3..=5), Some(4));
        assert_eq!(check.page(&params("3"), 500u32), 3);
        assert_eq!(check.per_page(&None, 100u64, 24), 24);
        assert!(check.finish().is_ok());

        let mut check = QueryChecker::new(&reference);
        assert_eq!(check.province(&params("99")), None);
        assert_eq!(check.stars("stars", &params("7"), 3..=5), None);
        assert_eq!(
            check.price_range(&params("500000"), &params("100000")),
            (Some(500_000), Some(100_000))
        );
        assert_eq!(check.page(&params("0"), 500u32), 1);
        assert_eq!(check.boolean("in_stock", &params("maybe")), None);
        let Err(AppError::InvalidParameters(errors)) = check.finish() else {
            panic!("refused parameters answer 400");
        };
        for field in ["province", "stars", "max_price", "page", "in_stock"] {
            assert!(errors.code_for(field).is_some(), "{field} is named");
        }
    }

    #[test]
    fn a_group_code_selects_its_categories() {
        let reference = ReferenceData::embedded();
        let mut check = QueryChecker::new(&reference);
        let group = check.category(&params("food")).unwrap();
        assert_eq!(group.code, "food");
        assert!(group.categories.len() > 1);
        assert!(group.categories.contains(&"food-tea".to_owned()));
        let one = check.category(&params("food-tea")).unwrap();
        assert_eq!(one.categories, vec!["food-tea".to_owned()]);
        assert!(check.finish().is_ok());
    }
}
