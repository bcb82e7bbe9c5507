//! Quizzes and exams (测验 / 考试): how staff's questions are checked, how a learner's answers are
//! read and graded, and the rules of an attempt (time limit, attempts, pass mark). The page never
//! carries a key; everything here runs on the server.

use super::{LessonId, QuizId};

super::words::stored_word! {
    pub enum QuestionKind {
        Single => "single",
        Multiple => "multiple",
        TrueFalse => "truefalse",
        /// Fill in the blank: any of several accepted answers.
        Blank => "blank",
        /// Graded by staff.
        Short => "short",
    }
}

impl QuestionKind {
    /// The message key of its name (单选题).
    pub fn label_key(self) -> &'static str {
        match self {
            QuestionKind::Single => "quiz_kind_single",
            QuestionKind::Multiple => "quiz_kind_multiple",
            QuestionKind::TrueFalse => "quiz_kind_truefalse",
            QuestionKind::Blank => "quiz_kind_blank",
            QuestionKind::Short => "quiz_kind_short",
        }
    }
}

super::words::stored_word! {
    pub enum AttemptStatus {
        Open => "open",
        /// Submitted, with short answers waiting for staff.
        Pending => "pending",
        Graded => "graded",
    }
}

/// A quiz on a lesson, or (no lesson) the course's final exam, as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quiz {
    pub id: QuizId,
    pub lesson_id: Option<LessonId>,
    pub title: String,
    /// How many questions an attempt draws from its pool; 0: all of them.
    pub draw_count: i64,
    pub time_limit_mins: Option<i64>,
    pub pass_percent: i64,
    pub max_attempts: Option<i64>,
}

impl Quiz {
    pub fn is_exam(&self) -> bool {
        self.lesson_id.is_none()
    }

    pub fn deadline(&self, started_at: i64) -> Option<i64> {
        self.time_limit_mins.map(|m| started_at + m * 60)
    }

    pub fn may_start(&self, attempts_used: i64) -> bool {
        self.max_attempts.is_none_or(|max| attempts_used < max)
    }

    pub fn attempts_left(&self, attempts_used: i64) -> Option<i64> {
        self.max_attempts.map(|max| (max - attempts_used).max(0))
    }
}

/// Seconds after the deadline a submission is still taken: the time a tap takes to arrive.
pub const GRACE_SECS: i64 = 30;

/// Whether answers sent at `now` still count.
pub fn in_time(deadline: Option<i64>, now: i64) -> bool {
    deadline.is_none_or(|d| now <= d + GRACE_SECS)
}

pub const MAX_BODY_CHARS: usize = 2000;
pub const MAX_CHOICES: usize = 8;
pub const MAX_BLANK_CHARS: usize = 100;
pub const MAX_SHORT_CHARS: usize = 2000;
pub const MAX_POINTS: i64 = 100;

/// A question as staff typed it, checked: its choices and its key in the stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedQuestion {
    pub choices: Vec<String>,
    /// Single: `2`; multiple: `0,2`; true/false: `true`; blank: accepted answers one per line;
    /// short: empty.
    pub key: String,
}

/// What is wrong with a question staff typed: (field, message key).
pub type QuestionError = (&'static str, &'static str);

/// Checks a question. Choices are one per line; the key names choices by their letter (`A`,
/// `AC`, `A,C`), says 对/错 (or true/false) for true/false, and lists accepted answers one per line
/// for a blank.
pub fn check_question(
    kind: QuestionKind,
    body: &str,
    choices: &str,
    key: &str,
) -> Result<CheckedQuestion, QuestionError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(("body", "quiz_err_body_empty"));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(("body", "quiz_err_body_long"));
    }
    let choices: Vec<String> = choices.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    match kind {
        QuestionKind::Single | QuestionKind::Multiple => {
            if choices.len() < 2 || choices.len() > MAX_CHOICES {
                return Err(("choices", "quiz_err_choices"));
            }
            let picked = letters(key, choices.len()).ok_or(("key", "quiz_err_key_letters"))?;
            if kind == QuestionKind::Single && picked.len() != 1 {
                return Err(("key", "quiz_err_key_single"));
            }
            Ok(CheckedQuestion { choices, key: join(&picked) })
        }
        QuestionKind::TrueFalse => {
            let key = truth(key).ok_or(("key", "quiz_err_key_truth"))?;
            Ok(CheckedQuestion { choices: Vec::new(), key: key.to_string() })
        }
        QuestionKind::Blank => {
            let accepted: Vec<String> = key.lines().map(normalize_blank).filter(|l| !l.is_empty()).collect::<Vec<_>>();
            if accepted.is_empty() || accepted.iter().any(|a| a.chars().count() > MAX_BLANK_CHARS) {
                return Err(("key", "quiz_err_key_blank"));
            }
            Ok(CheckedQuestion { choices: Vec::new(), key: key.lines().map(str::trim).collect::<Vec<_>>().join("\n") })
        }
        QuestionKind::Short => Ok(CheckedQuestion { choices: Vec::new(), key: String::new() }),
    }
}

/// Choice letters (`A`–`H`, either case, any separators) as sorted distinct indices.
fn letters(key: &str, count: usize) -> Option<Vec<usize>> {
    let mut picked = Vec::new();
    for c in key.chars() {
        let c = fullwidth_to_ascii(c);
        if c.is_whitespace() || matches!(c, ',' | '、' | ';') {
            continue;
        }
        let index = (c.to_ascii_uppercase() as usize).checked_sub('A' as usize)?;
        if index >= count {
            return None;
        }
        picked.push(index);
    }
    picked.sort_unstable();
    picked.dedup();
    (!picked.is_empty()).then_some(picked)
}

fn truth(word: &str) -> Option<&'static str> {
    match word.trim().to_lowercase().as_str() {
        "对" | "正确" | "true" | "t" | "√" => Some("true"),
        "错" | "错误" | "false" | "f" | "×" => Some("false"),
        _ => None,
    }
}

fn join(indices: &[usize]) -> String {
    indices.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

/// A stored key as staff typed it: choice letters (`AC`), 对/错, or the accepted answers.
pub fn key_for_editing(kind: QuestionKind, key: &str) -> String {
    match kind {
        QuestionKind::Single | QuestionKind::Multiple => {
            key.split(',').filter_map(|i| i.parse::<usize>().ok()).map(letter).collect()
        }
        QuestionKind::TrueFalse => if key == "true" { "对" } else { "错" }.into(),
        _ => key.to_string(),
    }
}

/// The letter shown before choice `index`.
pub fn letter(index: usize) -> char {
    char::from(b'A' + (index.min(25) as u8))
}

fn fullwidth_to_ascii(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// A blank's answer as compared: full-width letters and digits made plain, spaces collapsed,
/// case ignored, and a trailing full stop dropped.
pub fn normalize_blank(text: &str) -> String {
    let plain: String = text.chars().map(fullwidth_to_ascii).collect();
    let words: Vec<&str> = plain.split_whitespace().collect();
    words.join(" ").trim_end_matches(['.', '。']).to_lowercase()
}

/// What is wrong with a learner's answer to one question (a forged or mistyped form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// A choice that the question does not have, or several for a single choice.
    NoSuchChoice,
    TooLong,
}

impl ResponseError {
    pub fn key(self) -> &'static str {
        match self {
            ResponseError::NoSuchChoice => "quiz_err_no_choice",
            ResponseError::TooLong => "quiz_err_answer_long",
        }
    }
}

/// The stored form of what the learner sent for one question (the values of its field, several
/// for a multiple choice). Nothing sent is an empty answer, not an error.
pub fn read_response(kind: QuestionKind, choices: usize, values: &[&str]) -> Result<String, ResponseError> {
    let values: Vec<&str> = values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
    match kind {
        QuestionKind::Single | QuestionKind::Multiple => {
            let mut picked = Vec::new();
            for v in &values {
                let index: usize = v.parse().map_err(|_| ResponseError::NoSuchChoice)?;
                if index >= choices {
                    return Err(ResponseError::NoSuchChoice);
                }
                picked.push(index);
            }
            picked.sort_unstable();
            picked.dedup();
            if kind == QuestionKind::Single && picked.len() > 1 {
                return Err(ResponseError::NoSuchChoice);
            }
            Ok(join(&picked))
        }
        QuestionKind::TrueFalse => match values.as_slice() {
            [] => Ok(String::new()),
            ["true"] => Ok("true".into()),
            ["false"] => Ok("false".into()),
            _ => Err(ResponseError::NoSuchChoice),
        },
        QuestionKind::Blank | QuestionKind::Short => {
            let text = values.join("\n");
            let limit = if kind == QuestionKind::Blank { MAX_BLANK_CHARS } else { MAX_SHORT_CHARS };
            if text.chars().count() > limit {
                return Err(ResponseError::TooLong);
            }
            Ok(text)
        }
    }
}

/// Grades one answer: `Some(true)` right, `Some(false)` wrong (an empty answer is wrong), `None`
/// for a short answer, which staff grade.
pub fn grade(kind: QuestionKind, key: &str, response: &str) -> Option<bool> {
    match kind {
        QuestionKind::Short => None,
        QuestionKind::Blank => {
            let given = normalize_blank(response);
            Some(!given.is_empty() && key.lines().any(|accepted| normalize_blank(accepted) == given))
        }
        _ => Some(!response.is_empty() && response == key),
    }
}

/// The score of a finished attempt, from each question's points and the points it was awarded
/// (`None` while staff have not graded it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub score: i64,
    pub max_score: i64,
    /// `None` until every answer is graded.
    pub passed: Option<bool>,
}

pub fn outcome(answers: &[(i64, Option<i64>)], pass_percent: i64) -> Outcome {
    let max_score: i64 = answers.iter().map(|(points, _)| points).sum();
    let score: i64 = answers.iter().filter_map(|(_, awarded)| *awarded).sum();
    let complete = answers.iter().all(|(_, awarded)| awarded.is_some());
    Outcome { score, max_score, passed: complete.then(|| passes(score, max_score, pass_percent)) }
}

/// Reaching the pass mark, in whole percent, without rounding: 59.9% fails a 60% mark.
pub fn passes(score: i64, max_score: i64, pass_percent: i64) -> bool {
    if max_score <= 0 {
        return true;
    }
    score * 100 >= pass_percent * max_score
}

pub fn percent(score: i64, max_score: i64) -> i64 {
    if max_score <= 0 { 100 } else { score * 100 / max_score }
}

/// The settings staff typed for a quiz, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuizSettings {
    pub title: String,
    pub draw_count: i64,
    pub time_limit_mins: Option<i64>,
    pub pass_percent: i64,
    pub max_attempts: Option<i64>,
}

pub fn check_settings(
    title: &str,
    draw_count: &str,
    time_limit: &str,
    pass_percent: &str,
    max_attempts: &str,
) -> Result<QuizSettings, QuestionError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 60 {
        return Err(("title", "quiz_err_title"));
    }
    let draw_count = optional(draw_count, 0, 200).map_err(|_| ("draw_count", "quiz_err_draw"))?.unwrap_or(0);
    let time_limit_mins = optional(time_limit, 1, 600).map_err(|_| ("time_limit", "quiz_err_time"))?;
    let pass_percent = optional(pass_percent, 0, 100).map_err(|_| ("pass_percent", "quiz_err_pass"))?.unwrap_or(60);
    let max_attempts = optional(max_attempts, 1, 100).map_err(|_| ("max_attempts", "quiz_err_attempts"))?;
    Ok(QuizSettings { title: title.to_string(), draw_count, time_limit_mins, pass_percent, max_attempts })
}

/// A number field that may be left empty.
fn optional(text: &str, min: i64, max: i64) -> Result<Option<i64>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(()),
    }
}

/// Points staff award a short answer: 0 to the question's points.
pub fn read_points(text: &str, max: i64) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|p| (0..=max).contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use QuestionKind::*;

    #[test]
    fn staff_questions_are_checked_and_keys_stored_plainly() {
        let ok = |kind, choices: &str, key: &str| check_question(kind, "题目", choices, key);
        assert_eq!(ok(Single, "甲\n乙\n丙", "b").map(|q| q.key), Ok("1".into()));
        assert_eq!(ok(Multiple, "甲\n\n乙\n丙\n", "C、A").map(|q| (q.choices.len(), q.key)), Ok((3, "0,2".into())));
        assert_eq!(ok(Multiple, "甲\n乙\n丙", "ＡＣ").map(|q| q.key), Ok("0,2".into()));
        assert_eq!(ok(Single, "甲\n乙", "AB"), Err(("key", "quiz_err_key_single")));
        assert_eq!(ok(Single, "甲\n乙", "C"), Err(("key", "quiz_err_key_letters")));
        assert_eq!(ok(Single, "甲\n乙", "1"), Err(("key", "quiz_err_key_letters")));
        assert_eq!(ok(Single, "甲\n乙", ""), Err(("key", "quiz_err_key_letters")));
        assert_eq!(ok(Single, "甲", "A"), Err(("choices", "quiz_err_choices")));
        assert_eq!(ok(Multiple, &"x\n".repeat(9), "A"), Err(("choices", "quiz_err_choices")));
        assert_eq!(ok(TrueFalse, "", "错").map(|q| q.key), Ok("false".into()));
        assert_eq!(ok(TrueFalse, "", " True ").map(|q| q.key), Ok("true".into()));
        assert_eq!(ok(TrueFalse, "", "maybe"), Err(("key", "quiz_err_key_truth")));
        assert_eq!(ok(Blank, "", " 北京 \nBeijing\n").map(|q| q.key), Ok("北京\nBeijing".into()));
        assert_eq!(ok(Blank, "", " \n"), Err(("key", "quiz_err_key_blank")));
        assert_eq!(ok(Short, "", "").map(|q| q.key), Ok(String::new()));
        assert_eq!(check_question(Short, "  ", "", ""), Err(("body", "quiz_err_body_empty")));
        assert_eq!(check_question(Short, &"字".repeat(2001), "", ""), Err(("body", "quiz_err_body_long")));
    }

    #[test]
    fn keys_read_back_as_typed() {
        for (kind, typed) in [(Single, "B"), (Multiple, "AC"), (TrueFalse, "错"), (Blank, "北京\nBeijing")] {
            let stored = check_question(kind, "题", "甲\n乙\n丙", typed).map(|q| q.key).unwrap_or_default();
            assert_eq!(key_for_editing(kind, &stored), typed, "{kind}");
        }
    }

    #[test]
    fn responses_are_read_strictly() {
        assert_eq!(read_response(Single, 3, &["2"]), Ok("2".into()));
        assert_eq!(read_response(Single, 3, &[]), Ok(String::new()));
        assert_eq!(read_response(Single, 3, &["3"]), Err(ResponseError::NoSuchChoice));
        assert_eq!(read_response(Single, 3, &["0", "1"]), Err(ResponseError::NoSuchChoice));
        assert_eq!(read_response(Single, 3, &["-1"]), Err(ResponseError::NoSuchChoice));
        assert_eq!(read_response(Multiple, 4, &["3", "0", "3"]), Ok("0,3".into()));
        assert_eq!(read_response(Multiple, 4, &["x"]), Err(ResponseError::NoSuchChoice));
        assert_eq!(read_response(TrueFalse, 0, &["false"]), Ok("false".into()));
        assert_eq!(read_response(TrueFalse, 0, &["yes"]), Err(ResponseError::NoSuchChoice));
        assert_eq!(read_response(Blank, 0, &[" 北京 "]), Ok("北京".into()));
        assert_eq!(read_response(Blank, 0, &[&"x".repeat(101)]), Err(ResponseError::TooLong));
        assert_eq!(read_response(Short, 0, &[&"字".repeat(2000)]).map(|s| s.chars().count()), Ok(2000));
    }

    #[test]
    fn grading_table() {
        let cases: &[(QuestionKind, &str, &str, Option<bool>)] = &[
            (Single, "1", "1", Some(true)),
            (Single, "1", "2", Some(false)),
            (Single, "1", "", Some(false)),
            (Multiple, "0,2", "0,2", Some(true)),
            (Multiple, "0,2", "0", Some(false)),
            (Multiple, "0,2", "0,1,2", Some(false)),
            (TrueFalse, "true", "true", Some(true)),
            (TrueFalse, "true", "false", Some(false)),
            (TrueFalse, "false", "", Some(false)),
            (Blank, "北京\nBeijing", "beijing", Some(true)),
            (Blank, "北京\nBeijing", "  北京。", Some(true)),
            (Blank, "Hello World", "hello   world", Some(true)),
            (Blank, "ＡＢＣ", "abc", Some(true)),
            (Blank, "42", "４２", Some(true)),
            (Blank, "北京", "南京", Some(false)),
            (Blank, "北京", "", Some(false)),
            (Short, "", "任何回答", None),
        ];
        for (kind, key, response, want) in cases {
            assert_eq!(grade(*kind, key, response), *want, "{kind} key {key:?} response {response:?}");
        }
    }

    #[test]
    fn outcome_and_pass_mark() {
        assert_eq!(
            outcome(&[(1, Some(1)), (1, Some(0)), (2, Some(2))], 60),
            Outcome { score: 3, max_score: 4, passed: Some(true) }
        );
        assert_eq!(outcome(&[(1, Some(1)), (5, None)], 60).passed, None);
        assert!(passes(3, 5, 60));
        assert!(!passes(599, 1000, 60), "59.9% does not round up to 60%");
        assert!(passes(0, 10, 0));
        assert!(!passes(9, 10, 100));
        assert!(passes(0, 0, 60), "a quiz of nothing cannot be failed");
        assert_eq!(percent(2, 3), 66);
    }

    #[test]
    fn time_limit_and_attempts() {
        let quiz = Quiz {
            id: QuizId(1),
            lesson_id: None,
            title: "期末考试".into(),
            draw_count: 10,
            time_limit_mins: Some(30),
            pass_percent: 60,
            max_attempts: Some(2),
        };
        let deadline = quiz.deadline(1_000);
        assert_eq!(deadline, Some(1_000 + 1_800));
        assert!(in_time(deadline, 2_800 + GRACE_SECS));
        assert!(!in_time(deadline, 2_800 + GRACE_SECS + 1));
        assert!(in_time(None, i64::MAX));
        assert!(quiz.may_start(1) && !quiz.may_start(2));
        assert_eq!(quiz.attempts_left(3), Some(0));
        let open = Quiz { max_attempts: None, ..quiz };
        assert!(open.may_start(1_000));
    }

    #[test]
    fn settings_are_checked() {
        let s = check_settings("第一章测验", "", "", "", "").map(|s| (s.draw_count, s.time_limit_mins, s.pass_percent));
        assert_eq!(s, Ok((0, None, 60)));
        assert_eq!(check_settings("", "", "", "", ""), Err(("title", "quiz_err_title")));
        assert_eq!(check_settings("考试", "-1", "", "", ""), Err(("draw_count", "quiz_err_draw")));
        assert_eq!(check_settings("考试", "", "0", "", ""), Err(("time_limit", "quiz_err_time")));
        assert_eq!(check_settings("考试", "", "", "101", ""), Err(("pass_percent", "quiz_err_pass")));
        assert_eq!(check_settings("考试", "", "", "", "0"), Err(("max_attempts", "quiz_err_attempts")));
        assert_eq!(read_points("3", 5), Some(3));
        assert_eq!(read_points("6", 5), None);
        assert_eq!(read_points("-1", 5), None);
    }
}
