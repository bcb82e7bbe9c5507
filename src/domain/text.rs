//! Small text rules shared by forms and pages: nicknames, passwords, SMS codes, durations,
//! and where a `next` link may lead.

pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const NICKNAME_MAX_CHARS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooShort,
    TooLong,
    Invalid,
}

/// A nickname: 1 to 20 characters after trimming, no control characters.
/// A control character no one types into a form: NUL and the rest of the C0 set but tab, line
/// feed and carriage return. PostgreSQL cannot store NUL; the others break exports and pages.
pub fn is_forbidden_control(c: char) -> bool {
    c < ' ' && !matches!(c, '\t' | '\n' | '\r')
}

/// Whether `text` holds any such character.
pub fn has_forbidden_control(text: &str) -> bool {
    text.chars().any(is_forbidden_control)
}

/// Whether a query string or path carries one percent-encoded (`%00` to `%1F`, but `%09`, `%0A`,
/// `%0D`). Raw control bytes never reach here: the HTTP parser refuses them.
pub fn has_encoded_control(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!(w[1], b'0' | b'1')
            && w[2].is_ascii_hexdigit()
            && !matches!(&[w[1], w[2].to_ascii_uppercase()], b"09" | b"0A" | b"0D")
    })
}

pub fn parse_nickname(input: &str) -> Result<String, TextError> {
    let name = input.trim();
    if name.is_empty() {
        return Err(TextError::Empty);
    }
    if name.chars().count() > NICKNAME_MAX_CHARS {
        return Err(TextError::TooLong);
    }
    if name.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(TextError::Invalid);
    }
    Ok(name.to_string())
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// A password is kept as typed (no trimming): 8 to 128 characters, no control characters.
pub fn check_password(input: &str) -> Result<(), TextError> {
    let n = input.chars().count();
    if n == 0 {
        Err(TextError::Empty)
    } else if n < PASSWORD_MIN_CHARS {
        Err(TextError::TooShort)
    } else if n > PASSWORD_MAX_CHARS {
        Err(TextError::TooLong)
    } else if input.chars().any(char::is_control) {
        Err(TextError::Invalid)
    } else {
        Ok(())
    }
}

/// A 6-digit SMS code; surrounding spaces are forgiven.
pub fn parse_sms_code(input: &str) -> Result<String, TextError> {
    let code = input.trim();
    if code.is_empty() {
        Err(TextError::Empty)
    } else if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code.to_string())
    } else {
        Err(TextError::Invalid)
    }
}

/// A local path to return to after login; anything else (other hosts, `//evil`, `/\evil`) is refused.
pub fn safe_next(input: &str) -> Option<String> {
    let ok = input.starts_with('/')
        && !input.starts_with("//")
        && !input.contains('\\')
        && !input.chars().any(|c| c.is_control() || c.is_whitespace())
        && input.len() <= 512;
    ok.then(|| input.to_string())
}

/// Lower-case hex, as `hex::encode` writes it, without its character-by-character iterator
/// (about ten times the work for a 32-byte digest; sessions and media URLs hash on every page).
pub fn hex_lower(bytes: &[u8]) -> String {
    let mut out = vec![0; bytes.len() * 2];
    // Fails only when `out` is not twice as long as `bytes`.
    let _ = hex::encode_to_slice(bytes, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// A length in seconds shown as `9:05` or `1:02:03` (written straight into the page, no String).
pub struct Clock(pub i64);

impl std::fmt::Display for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.0.max(0);
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        if h > 0 { write!(f, "{h}:{m:02}:{s:02}") } else { write!(f, "{m}:{s:02}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_but_tab_and_line_ends_are_forbidden() {
        assert!(!has_forbidden_control("第一行\n第二行\r\n\t缩进"));
        for c in ['\0', '\u{1}', '\u{b}', '\u{c}', '\u{1b}', '\u{1f}'] {
            assert!(has_forbidden_control(&format!("a{c}b")), "{c:?}");
        }
        assert!(!has_forbidden_control("\u{7f}\u{a0}€"), "DEL and beyond are not C0");
    }

    #[test]
    fn encoded_control_characters_are_found_in_queries() {
        for q in ["q=%00", "q=excel%00", "q=%1f", "q=%1B", "%0b"] {
            assert!(has_encoded_control(q), "{q}");
        }
        for q in ["q=%09", "q=a%0Ab%0d", "q=%20", "q=%2F", "q=100%", "q=%", "q=%e4%b8%ad"] {
            assert!(!has_encoded_control(q), "{q}");
        }
    }

    #[test]
    fn nicknames() {
        assert_eq!(parse_nickname("  小明 "), Ok("小明".into()));
        assert_eq!(parse_nickname(""), Err(TextError::Empty));
        assert_eq!(parse_nickname(&"字".repeat(20)).map(|s| s.chars().count()), Ok(20));
        assert_eq!(parse_nickname(&"字".repeat(21)), Err(TextError::TooLong));
        assert_eq!(parse_nickname("a\u{0}b"), Err(TextError::Invalid));
        assert_eq!(parse_nickname("a\u{202E}b"), Err(TextError::Invalid));
    }

    #[test]
    fn passwords() {
        assert_eq!(check_password(""), Err(TextError::Empty));
        assert_eq!(check_password("1234567"), Err(TextError::TooShort));
        assert_eq!(check_password("12345678"), Ok(()));
        assert_eq!(check_password("密码密码密码密码"), Ok(()));
        assert_eq!(check_password(&"x".repeat(129)), Err(TextError::TooLong));
        assert_eq!(check_password("abcdefg\n"), Err(TextError::Invalid));
    }

    #[test]
    fn sms_codes() {
        assert_eq!(parse_sms_code(" 012345 "), Ok("012345".into()));
        for bad in ["12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(parse_sms_code(bad), Err(TextError::Invalid), "{bad}");
        }
        assert_eq!(parse_sms_code(""), Err(TextError::Empty));
    }

    #[test]
    fn next_paths() {
        assert_eq!(safe_next("/courses/x?page=2"), Some("/courses/x?page=2".into()));
        for bad in ["", "https://evil.example", "//evil.example", "/\\evil", "/a b", "javascript:alert(1)"] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(hex_lower(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex_lower(&[]), "");
        assert_eq!(hex_lower(&[7; 32]), hex::encode([7; 32]));
        assert_eq!(Clock(0).to_string(), "0:00");
        assert_eq!(Clock(545).to_string(), "9:05");
        assert_eq!(Clock(3723).to_string(), "1:02:03");
        assert_eq!(Clock(-5).to_string(), "0:00");
    }
}
