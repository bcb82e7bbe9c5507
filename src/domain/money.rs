//! Money is integer fen (1 yuan = 100 fen); it is never a float.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn is_free(self) -> bool {
        self.0 == 0
    }

    /// `12.30`, `0.05`, `-1.00`: yuan with exactly two decimals.
    pub fn yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// Reads a yuan amount as gateways write it (`199`, `199.5`, `199.00`): digits, and at most
    /// two decimals. Anything else (signs, exponents, spaces, a third decimal) is refused.
    pub fn parse_yuan(text: &str) -> Option<Fen> {
        let (whole, cents) = match text.split_once('.') {
            Some((w, c)) => (w, c),
            None => (text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 15 || cents.len() > 2 || !digits(whole) || !digits(cents) {
            return None;
        }
        if text.contains('.') && cents.is_empty() {
            return None;
        }
        let cents: i64 = format!("{cents:0<2}").parse().ok()?;
        Some(Fen(whole.parse::<i64>().ok()? * 100 + cents))
    }

    /// Like `yuan_string`, but drops a `.00` tail: `99`, `12.30`.
    pub fn yuan_short(self) -> String {
        if self.0 % 100 == 0 { (self.0 / 100).to_string() } else { self.yuan_string() }
    }
}

/// `¥12.30`
impl From<i64> for Fen {
    fn from(fen: i64) -> Fen {
        Fen(fen)
    }
}

/// Sums and differences of amounts (what is left to refund, a discount taken off), in fen; shop
/// amounts are far inside i64.
impl std::ops::Sub for Fen {
    type Output = Fen;

    fn sub(self, other: Fen) -> Fen {
        Fen(self.0 - other.0)
    }
}

impl std::ops::Add for Fen {
    type Output = Fen;

    fn add(self, other: Fen) -> Fen {
        Fen(self.0 + other.0)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "¥{}", self.yuan_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_add_and_subtract_in_fen() {
        assert_eq!(Fen(19900) - Fen(5000), Fen(14900));
        assert_eq!(Fen(100) - Fen(250), Fen(-150), "a difference may be negative; callers floor it");
        assert_eq!(Fen(1) + Fen(99), Fen(100));
    }

    #[test]
    fn formats_yuan() {
        let cases = [
            (0, "¥0.00"),
            (5, "¥0.05"),
            (99, "¥0.99"),
            (100, "¥1.00"),
            (1230, "¥12.30"),
            (19900, "¥199.00"),
            (-150, "¥-1.50"),
            (i64::MAX, "¥92233720368547758.07"),
            (i64::MIN, "¥-92233720368547758.08"),
        ];
        for (fen, shown) in cases {
            assert_eq!(Fen(fen).to_string(), shown, "{fen}");
        }
    }

    #[test]
    fn parses_gateway_amounts() {
        for (text, fen) in [("199.00", 19900), ("199", 19900), ("199.5", 19950), ("0.01", 1), ("0", 0), ("0.10", 10)] {
            assert_eq!(Fen::parse_yuan(text), Some(Fen(fen)), "{text}");
        }
        for bad in ["", ".5", "1.", "1.234", "-1.00", "+1", "1e3", " 1.00", "1,00", "１.00", "9999999999999999"] {
            assert_eq!(Fen::parse_yuan(bad), None, "{bad}");
        }
        for fen in [0, 1, 99, 19900, 123_456_789] {
            assert_eq!(Fen::parse_yuan(&Fen(fen).yuan_string()), Some(Fen(fen)));
        }
    }

    #[test]
    fn short_form_drops_zero_cents() {
        assert_eq!(Fen(19900).yuan_short(), "199");
        assert_eq!(Fen(1990).yuan_short(), "19.90");
        assert_eq!(Fen(0).yuan_short(), "0");
        assert!(Fen(0).is_free() && !Fen(1).is_free());
    }
}
