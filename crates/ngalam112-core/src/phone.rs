//! Telephone numbers as types: parsed once, normalised to E.164, so that
//! what the store looks up, flags and stores is always a checked number.

use crate::validation::{self, ValidationError};

/// A telephone number in E.164 (`+62…`); never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// `raw` in any common Indonesian notation (`0812 …`, `+62 812-…`,
    /// `(0341) …`); errors name `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let number = validation::phone_number(field, raw)?;
        if number.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        Ok(Self(number))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PhoneNumber {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The caller's number on a 112 call: a number, or none when the network
/// withheld it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerNumber(Option<PhoneNumber>);

impl CallerNumber {
    /// `raw` empty exactly when `withheld` (errors name `caller_phone`).
    pub fn parse(raw: &str, withheld: bool) -> Result<Self, ValidationError> {
        let number = validation::caller_number(raw, withheld)?;
        Ok(Self((!number.is_empty()).then_some(PhoneNumber(number))))
    }

    /// E.164, or empty when withheld (as stored).
    pub fn as_str(&self) -> &str {
        self.0.as_ref().map_or("", PhoneNumber::as_str)
    }

    pub fn number(&self) -> Option<&PhoneNumber> {
        self.0.as_ref()
    }

    pub fn is_withheld(&self) -> bool {
        self.0.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_and_never_empty() {
        assert_eq!(
            PhoneNumber::parse("p", "0812 3456 7890").unwrap().as_str(),
            "+6281234567890"
        );
        assert_eq!(PhoneNumber::parse("p", " ").unwrap_err().field, "p");
        assert!(CallerNumber::parse("", true).unwrap().is_withheld());
        assert_eq!(
            CallerNumber::parse("0812 3456 7890", false)
                .unwrap()
                .number()
                .map(PhoneNumber::as_str),
            Some("+6281234567890")
        );
    }
}
