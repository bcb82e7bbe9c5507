//! The keyword filter on text learners submit: a word can reject the text outright, or let it
//! through held for staff review. Matching ignores case, spaces and punctuation put between the
//! characters ("微 信", "V.X" still match "微信", "vx").

super::words::stored_word! {
    /// What a keyword does to a text that contains it.
    pub enum KeywordAction { Reject => "reject", Hold => "hold" }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Keyword {
    pub id: super::KeywordId,
    pub word: String,
    #[sqlx(try_from = "String")]
    pub action: KeywordAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Accepted, but staff must look (the matched word).
    Hold(String),
    /// Refused (the matched word).
    Reject(String),
}

/// Lower case, without whitespace, punctuation or symbols: what the filter compares.
pub fn normalize(text: &str) -> String {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The strongest verdict any keyword gives: a rejecting word wins over a holding one.
pub fn check(text: &str, keywords: &[Keyword]) -> Verdict {
    let text = normalize(text);
    let hit = |action: KeywordAction| {
        keywords.iter().filter(|k| k.action == action).find(|k| {
            let word = normalize(&k.word);
            !word.is_empty() && text.contains(&word)
        })
    };
    if let Some(k) = hit(KeywordAction::Reject) {
        Verdict::Reject(k.word.clone())
    } else if let Some(k) = hit(KeywordAction::Hold) {
        Verdict::Hold(k.word.clone())
    } else {
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> Vec<Keyword> {
        vec![
            Keyword { id: crate::domain::KeywordId(1), word: "加微信".into(), action: KeywordAction::Hold },
            Keyword { id: crate::domain::KeywordId(2), word: "VX".into(), action: KeywordAction::Hold },
            Keyword { id: crate::domain::KeywordId(3), word: "傻瓜".into(), action: KeywordAction::Reject },
            Keyword { id: crate::domain::KeywordId(4), word: " . ".into(), action: KeywordAction::Reject },
        ]
    }

    #[test]
    fn spacing_and_case_do_not_hide_a_word() {
        assert_eq!(check("课程不错，加 微-信 聊", &words()), Verdict::Hold("加微信".into()));
        assert_eq!(check("私我 v.x", &words()), Verdict::Hold("VX".into()));
        assert_eq!(check("老师讲得很清楚", &words()), Verdict::Pass);
    }

    #[test]
    fn reject_wins_and_empty_words_match_nothing() {
        assert_eq!(check("傻 瓜才加微信", &words()), Verdict::Reject("傻瓜".into()));
        assert_eq!(check("", &words()), Verdict::Pass);
        assert_eq!(check("...", &words()), Verdict::Pass, "a word of punctuation only is ignored");
        assert_eq!(KeywordAction::parse("hold"), Some(KeywordAction::Hold));
        assert_eq!(KeywordAction::parse("ban"), None);
    }

    #[test]
    fn staff_hide_or_show_a_post_and_nothing_goes_back_to_held() {
        use Visibility::*;
        assert_eq!(Visibility::sources_of(Hidden), vec![Shown, Held]);
        assert_eq!(Visibility::sources_of(Shown), vec![Held, Hidden]);
        assert!(Visibility::sources_of(Held).is_empty());
        assert!(!Shown.can_become(Shown));
    }
}

super::words::stored_word! {
    /// Whether a learner's post (a review, a check-in) is on the page: a held one waits for staff,
    /// a hidden one was taken down by them.
    pub enum Visibility { Shown => "shown", Held => "held", Hidden => "hidden" }
}

impl Visibility {
    /// Staff hide a shown or held post, or show a hidden or held one; nothing goes back to held.
    pub fn can_become(self, next: Visibility) -> bool {
        self != next && next != Visibility::Held
    }

    /// The states staff can move a post to `to` from.
    pub fn sources_of(to: Visibility) -> Vec<Visibility> {
        Visibility::ALL.iter().copied().filter(|from| from.can_become(to)).collect()
    }

    /// What the keyword filter's verdict makes of a new post.
    pub fn of_new_post(held: bool) -> Visibility {
        if held { Visibility::Held } else { Visibility::Shown }
    }
}

super::words::stored_word! {
    /// Where a held text came from: approving a nickname sets it, and approving or hiding a held
    /// review, check-in, question or answer shows or hides the post.
    pub enum HeldKind {
        Nickname => "nickname",
        Complaint => "complaint",
        Refund => "refund",
        Review => "review",
        CheckIn => "checkin",
        Question => "question",
        Answer => "answer",
    }
}

impl HeldKind {
    /// Its name in the moderation queue, as a translation key.
    pub fn label_key(self) -> &'static str {
        match self {
            HeldKind::Nickname => "moderation_kind_nickname",
            HeldKind::Complaint => "moderation_kind_complaint",
            HeldKind::Refund => "moderation_kind_refund",
            HeldKind::Review => "moderation_kind_review",
            HeldKind::CheckIn => "moderation_kind_checkin",
            HeldKind::Question => "moderation_kind_question",
            HeldKind::Answer => "moderation_kind_answer",
        }
    }
}

super::words::stored_word! {
    /// A text in the moderation queue: held until staff approve or hide it.
    pub enum QueueStatus { Held => "held", Approved => "approved", Hidden => "hidden" }
}
