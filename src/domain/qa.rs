//! Questions under lessons (问答) and learners' notes: the rules that need no database. A note
//! sits at a moment of the lesson's media, written as the player shows it ("12:34", "1:02:03").

/// The longest question, answer or note.
pub const MAX_CHARS: usize = 1000;

/// Why a text was refused, as a translation key.
pub fn text_error(text: &str) -> Option<&'static str> {
    if text.trim().is_empty() {
        Some("err_qa_empty")
    } else if text.chars().count() > MAX_CHARS {
        Some("err_qa_long")
    } else if super::text::has_forbidden_control(text) {
        Some("err_invalid_chars")
    } else {
        None
    }
}

/// "75", "1:15" and "0:01:15" are all 75 seconds; minutes and seconds after the first part stay
/// under 60. Empty is the lesson's start.
pub fn parse_moment(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    let parts: Vec<&str> = text.split([':', '：']).collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let numbers: Vec<i64> = parts.iter().map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if numbers.iter().skip(1).any(|n| *n >= 60) {
        return None;
    }
    Some(numbers.iter().fold(0, |total, n| total * 60 + n))
}

/// A moment the lesson has: within its length when the length is known (0 means not known).
pub fn moment_in_lesson(at: i64, duration_secs: i64) -> bool {
    at >= 0 && (duration_secs <= 0 || at <= duration_secs)
}

/// Who may mark an answer as the best one: the asker, or staff.
pub fn may_pick_best(viewer: super::UserId, asker: super::UserId, viewer_is_staff: bool) -> bool {
    viewer_is_staff || viewer == asker
}

/// Whether the asker hears about a new answer: not about their own.
pub fn tells_asker(answerer: super::UserId, asker: super::UserId) -> bool {
    answerer != asker
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    #[test]
    fn moments_read_as_the_player_writes_them() {
        for (text, secs) in [
            ("", Some(0)),
            ("  ", Some(0)),
            ("75", Some(75)),
            ("1:15", Some(75)),
            ("01:15", Some(75)),
            ("0:01:15", Some(75)),
            ("1:02:03", Some(3723)),
            ("12：34", Some(754)),
            (" 3:00 ", Some(180)),
            ("1:60", None),
            ("1:2:60", None),
            ("1::2", None),
            (":30", None),
            ("1:2:3:4", None),
            ("-5", None),
            ("1.5", None),
            ("abc", None),
            ("9999999:00", None),
        ] {
            assert_eq!(parse_moment(text), secs, "{text:?}");
        }
    }

    #[test]
    fn a_moment_stays_within_a_known_length() {
        assert!(moment_in_lesson(0, 600));
        assert!(moment_in_lesson(600, 600));
        assert!(!moment_in_lesson(601, 600));
        assert!(moment_in_lesson(5000, 0), "a length not known yet takes any moment");
        assert!(!moment_in_lesson(-1, 0));
    }

    #[test]
    fn texts_are_checked_for_empty_long_and_control_characters() {
        assert_eq!(text_error("为什么这里用绝对引用？"), None);
        assert_eq!(text_error(" \n "), Some("err_qa_empty"));
        assert_eq!(text_error(&"问".repeat(MAX_CHARS)), None);
        assert_eq!(text_error(&"问".repeat(MAX_CHARS + 1)), Some("err_qa_long"));
        assert_eq!(text_error("a\u{1b}b"), Some("err_invalid_chars"));
        assert_eq!(text_error("第一行\n第二行"), None);
    }

    #[test]
    fn the_asker_or_staff_pick_the_best_answer_and_the_asker_hears_of_others() {
        let (asker, other) = (UserId(1), UserId(2));
        assert!(may_pick_best(asker, asker, false));
        assert!(!may_pick_best(other, asker, false));
        assert!(may_pick_best(other, asker, true));
        assert!(tells_asker(other, asker));
        assert!(!tells_asker(asker, asker));
    }
}
