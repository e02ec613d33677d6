use super::FieldIssue;

/// An OCOP star rating, 1 to 5. Products rated 3 stars or more are certified OCOP products;
/// 1 and 2 stars are recorded by councils but carry no OCOP badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stars(u8);

impl Stars {
    pub const CERTIFIED_MINIMUM: u8 = 3;

    pub fn parse(value: i64) -> Result<Self, FieldIssue> {
        match u8::try_from(value) {
            Ok(v @ 1..=5) => Ok(Self(v)),
            _ => Err(FieldIssue::new(
                "invalid_stars",
                "an OCOP rating is 1 to 5 stars",
            )),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    pub fn is_certified(self) -> bool {
        self.0 >= Self::CERTIFIED_MINIMUM
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_to_five_stars_exist_and_three_certifies() {
        assert!(Stars::parse(0).is_err());
        assert!(Stars::parse(7).is_err());
        assert!(!Stars::parse(2).unwrap().is_certified());
        assert!(Stars::parse(3).unwrap().is_certified());
    }
}
