//! Site messages (站内信): what a learner's message centre says happened, and which of them also
//! go out as a text.

use super::sms;

super::words::stored_word! {
    /// What a site message is about.
    pub enum MessageKind {
        /// A staff announcement: its title is the message.
        Announcement => "announcement",
        RefundRefunded => "refund_refunded",
        RefundRejected => "refund_rejected",
        ComplaintReply => "complaint_reply",
        ComplaintResolved => "complaint_resolved",
        MembershipEnding => "membership_ending",
        LiveStarting => "live_starting",
        ConsultationStarting => "consultation_starting",
        ReviewReply => "review_reply",
        GroupFull => "group_full",
        GroupFailed => "group_failed",
        HomeworkReviewed => "homework_reviewed",
        InvoiceIssued => "invoice_issued",
        GiftClaimed => "gift_claimed",
        /// Someone answered the learner's question under a lesson (a reminder by text, with consent).
        QuestionAnswered => "question_answered",
        /// Staff's word to a cohort (营期) the learner is in.
        CohortNotice => "cohort_notice",
        /// Staff graded the last short answer of a quiz attempt: its score is final.
        QuizGraded => "quiz_graded",
    }
}

impl MessageKind {
    /// Its sentence in the message centre, as a translation key; an announcement shows its title.
    pub fn words_key(self) -> Option<&'static str> {
        Some(match self {
            MessageKind::Announcement => return None,
            MessageKind::RefundRefunded => "msg_refund_refunded",
            MessageKind::RefundRejected => "msg_refund_rejected",
            MessageKind::ComplaintReply => "msg_complaint_reply",
            MessageKind::ComplaintResolved => "msg_complaint_resolved",
            MessageKind::MembershipEnding => "msg_membership_ending",
            MessageKind::LiveStarting => "msg_live_starting",
            MessageKind::ConsultationStarting => "msg_consultation_starting",
            MessageKind::ReviewReply => "msg_review_reply",
            MessageKind::GroupFull => "msg_group_full",
            MessageKind::GroupFailed => "msg_group_failed",
            MessageKind::HomeworkReviewed => "msg_homework_reviewed",
            MessageKind::InvoiceIssued => "msg_invoice_issued",
            MessageKind::GiftClaimed => "msg_gift_claimed",
            MessageKind::QuestionAnswered => "msg_question_answered",
            MessageKind::CohortNotice => "msg_cohort_notice",
            MessageKind::QuizGraded => "msg_quiz_graded",
        })
    }

    /// The text that goes with it, if any (reminders only to learners who agreed to them).
    pub fn text(self) -> Option<sms::Kind> {
        match self {
            MessageKind::RefundRefunded => Some(sms::Kind::RefundRefunded),
            MessageKind::RefundRejected => Some(sms::Kind::RefundRejected),
            MessageKind::ComplaintReply => Some(sms::Kind::ComplaintReplied),
            MessageKind::MembershipEnding
            | MessageKind::LiveStarting
            | MessageKind::ConsultationStarting
            | MessageKind::QuestionAnswered => Some(sms::Kind::Reminder),
            MessageKind::Announcement
            | MessageKind::ComplaintResolved
            | MessageKind::ReviewReply
            | MessageKind::GroupFull
            | MessageKind::GroupFailed
            | MessageKind::HomeworkReviewed
            | MessageKind::InvoiceIssued
            | MessageKind::GiftClaimed
            | MessageKind::CohortNotice
            | MessageKind::QuizGraded => None,
        }
    }
}

impl MessageKind {
    /// A reminder's text message: its note, worded for the kinds whose note is only a name.
    pub fn reminder_text(self, note: &str) -> String {
        match self {
            MessageKind::QuestionAnswered => format!("你在「{note}」下的提问有了新回答"),
            _ => note.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_about_money_complaints_and_reminders_also_goes_out_as_a_text() {
        let texted: Vec<&str> = MessageKind::ALL.iter().filter(|k| k.text().is_some()).map(|k| k.as_str()).collect();
        assert_eq!(
            texted,
            [
                "refund_refunded",
                "refund_rejected",
                "complaint_reply",
                "membership_ending",
                "live_starting",
                "consultation_starting",
                "question_answered"
            ]
        );
        assert_eq!(MessageKind::LiveStarting.text(), Some(sms::Kind::Reminder));
        assert_eq!(MessageKind::LiveStarting.reminder_text("直播：答疑"), "直播：答疑");
        assert_eq!(MessageKind::QuestionAnswered.reminder_text("第3课"), "你在「第3课」下的提问有了新回答");
        assert_eq!(MessageKind::Announcement.words_key(), None, "an announcement shows its own title");
        assert!(MessageKind::ALL.iter().filter(|k| **k != MessageKind::Announcement).all(|k| k.words_key().is_some()));
    }
}
