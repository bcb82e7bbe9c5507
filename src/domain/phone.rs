//! Mainland China mobile numbers: parsed once, stored as 11 digits.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    Empty,
    Invalid,
}

impl Phone {
    /// Accepts spaces, dashes, dots and a `+86` / `0086` / `86` prefix; the rest must be a mainland
    /// mobile number: 11 digits starting with 1 and a second digit from 3 to 9.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let compact: String =
            input.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{3000}')).collect();
        if compact.is_empty() {
            return Err(PhoneError::Empty);
        }
        let digits = compact
            .strip_prefix("+86")
            .or_else(|| compact.strip_prefix("0086"))
            .or_else(|| if compact.len() == 13 { compact.strip_prefix("86") } else { None })
            .unwrap_or(&compact);
        let bytes = digits.as_bytes();
        let valid = bytes.len() == 11
            && bytes.iter().all(u8::is_ascii_digit)
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1]);
        if valid { Ok(Phone(digits.to_string())) } else { Err(PhoneError::Invalid) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****0000`: what any page or log line may show.
    pub fn masked(&self) -> String {
        match (self.0.get(..3), self.0.get(7..)) {
            (Some(head), Some(tail)) if self.0.len() == 11 => format!("{head}****{tail}"),
            // Not a number any more: a deleted account's placeholder.
            _ => self.0.clone(),
        }
    }

    /// A number SMS can reach (not a deleted account's or a WeChat-only account's placeholder).
    pub fn is_number(&self) -> bool {
        Phone::parse(&self.0).is_ok()
    }

    /// Trusted value from the database (already normalized when stored).
    pub fn from_stored(value: String) -> Phone {
        Phone(value)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_accepted_forms() {
        for input in [
            "13800138000",
            " 138 0013 8000 ",
            "138-0013-8000",
            "+86 138 0013 8000",
            "+8613800138000",
            "0086-13800138000",
            "8613800138000",
            "(138)00138000",
        ] {
            assert_eq!(Phone::parse(input).unwrap().as_str(), "13800138000", "{input}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        assert_eq!(Phone::parse("   "), Err(PhoneError::Empty));
        for input in [
            "1380013800",
            "138001380001",
            "12800138000",
            "23800138000",
            "1380013800a",
            "+1 138 0013 8000",
            "+86",
            "86138001380",
            "１３８００１３８０００",
            "13800138000;drop",
        ] {
            assert_eq!(Phone::parse(input), Err(PhoneError::Invalid), "{input}");
        }
    }

    #[test]
    fn masks_the_middle() {
        let phone = Phone::parse("13800138000").unwrap();
        assert_eq!(phone.masked(), "138****8000");
        assert_eq!(phone.to_string(), "138****8000");
    }
}
