//! Certificates (结业证书): when a learner has earned one, the name they may put on it, and the
//! layout staff set per course.

/// What a learner still lacks for a course's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    pub lessons_left: usize,
    /// The course has an exam the learner has not passed.
    pub exam: bool,
}

/// Earned by finishing every lesson, and passing the exam where the course has one (`exam`:
/// None without an exam, else whether it was passed).
pub fn earned(lessons: usize, finished: usize, exam: Option<bool>) -> Result<(), Missing> {
    let missing = Missing { lessons_left: lessons.saturating_sub(finished), exam: exam == Some(false) };
    if lessons == 0 || missing.lessons_left > 0 || missing.exam { Err(missing) } else { Ok(()) }
}

pub const MAX_NAME_CHARS: usize = 20;

/// Characters that would hide or reorder what the name shows (controls, zero-width and bidi marks).
fn hides_text(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The name on a certificate: 1 to 20 characters, trimmed, none that hides or reorders text.
pub fn check_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        return Err("cert_err_name_empty");
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(hides_text) {
        return Err("cert_err_name_long");
    }
    Ok(name.to_string())
}

/// Where a certificate's parts sit, in percent of its width or height; files are names in the
/// public store ("" for the plain design).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Design {
    pub title: String,
    pub background: String,
    pub seal: String,
    pub name_top: i64,
    pub course_top: i64,
    pub date_top: i64,
    pub seal_left: i64,
    pub seal_top: i64,
}

impl Default for Design {
    fn default() -> Design {
        Design {
            title: "结业证书".into(),
            background: String::new(),
            seal: String::new(),
            name_top: 38,
            course_top: 52,
            date_top: 78,
            seal_left: 70,
            seal_top: 66,
        }
    }
}

pub const MAX_TITLE_CHARS: usize = 20;

/// The layout fields as staff typed them: (title, name, course, date, seal left, seal top).
pub fn check_layout(title: &str, numbers: [&str; 5]) -> Result<(String, [i64; 5]), (usize, &'static str)> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err((0, "cert_err_title"));
    }
    let mut out = [0; 5];
    for (i, text) in numbers.iter().enumerate() {
        out[i] =
            text.trim().parse::<i64>().ok().filter(|n| (0..=100).contains(n)).ok_or((i + 1, "cert_err_percent"))?;
    }
    Ok((title.to_string(), out))
}

/// A verify code: 12 characters a person can read out (no 0/O, 1/I/L).
pub fn code_from(random: &[u8; 12]) -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    random.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earned_by_every_lesson_and_the_exam() {
        assert_eq!(earned(7, 7, None), Ok(()));
        assert_eq!(earned(7, 7, Some(true)), Ok(()));
        assert_eq!(earned(7, 6, None), Err(Missing { lessons_left: 1, exam: false }));
        assert_eq!(earned(7, 7, Some(false)), Err(Missing { lessons_left: 0, exam: true }));
        assert_eq!(earned(7, 3, Some(false)), Err(Missing { lessons_left: 4, exam: true }));
        assert!(earned(0, 0, None).is_err(), "a course of nothing certifies nothing");
        assert_eq!(earned(3, 5, None), Ok(()), "more finished than listed (a lesson removed) still counts");
    }

    #[test]
    fn names_and_layouts_are_checked() {
        assert_eq!(check_name("  王小明 "), Ok("王小明".into()));
        assert_eq!(check_name(" "), Err("cert_err_name_empty"));
        assert_eq!(check_name(&"名".repeat(21)), Err("cert_err_name_long"));
        assert_eq!(check_name("王\u{202e}明"), Err("cert_err_name_long"));
        assert_eq!(
            check_layout("结业证书", ["38", "52", "78", "70", "66"]),
            Ok(("结业证书".into(), [38, 52, 78, 70, 66]))
        );
        assert_eq!(check_layout("", ["1", "2", "3", "4", "5"]), Err((0, "cert_err_title")));
        assert_eq!(check_layout("证书", ["1", "101", "3", "4", "5"]), Err((2, "cert_err_percent")));
        assert_eq!(check_layout("证书", ["1", "2", "3", "x", "5"]), Err((4, "cert_err_percent")));
    }

    #[test]
    fn codes_are_readable() {
        let code = code_from(&[0, 1, 2, 30, 31, 255, 7, 8, 9, 10, 11, 12]);
        assert_eq!(code.len(), 12);
        assert!(code.chars().all(|c| c.is_ascii_alphanumeric() && !"01OIL".contains(c)), "{code}");
    }
}
