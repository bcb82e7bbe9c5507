//! Row ids that must not be mixed up: `grant(user, course)` with the two swapped does not compile.
//! The database reads and writes them as the BIGINT they are (`store::rows`).

use std::fmt;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// An account: learner or staff.
    UserId
);
id!(
    /// A course (any product kind).
    CourseId
);
id!(
    /// An order (any product kind, paid or not).
    OrderId
);
id!(
    /// A refund request against an order.
    RefundId
);
id!(
    /// A lesson of a course.
    LessonId
);
id!(
    /// A chapter of a course.
    ChapterId
);
id!(
    /// A group-buying group (拼团).
    GroupId
);
id!(
    /// A learner's review of a course.
    ReviewId
);
id!(
    /// A check-in post (打卡).
    CheckInId
);
id!(
    /// A distributor's withdrawal (payout).
    PayoutId
);
id!(
    /// A site announcement or banner.
    AnnouncementId
);
id!(
    /// A homework submission.
    SubmissionId
);
id!(
    /// A consultation slot.
    SlotId
);
id!(
    /// A question asked under a lesson (问答).
    QuestionId
);
id!(
    /// An answer to a lesson's question.
    AnswerId
);
id!(
    /// A learner's own note on a lesson, at a moment of its media.
    NoteId
);
id!(
    /// A cohort (营期) of a course.
    CohortId
);
id!(
    /// A complaint, from a learner or the payment platform.
    ComplaintId
);
id!(
    /// A file attached to a refund request, complaint, review or homework.
    AttachmentId
);
id!(
    /// A word of the keyword filter.
    KeywordId
);
id!(
    /// A text held in the moderation queue.
    QueueItemId
);
id!(
    /// A key of the sync API.
    SyncKeyId
);
id!(
    /// An order claimed by its buyer from an imported account (认领).
    ClaimId
);
id!(
    /// A catalog category.
    CategoryId
);
id!(
    /// An instructor shown on course pages.
    InstructorId
);
id!(
    /// A coupon code.
    CouponId
);
id!(
    /// A text in the SMS outbox.
    TextId
);
id!(
    /// A message in the WeChat official account's outbox.
    WechatMessageId
);
id!(
    /// A sign-in code sent by text.
    SignInCodeId
);
id!(
    /// A line of the staff audit log.
    AuditEntryId
);
id!(
    /// An SMS broadcast to many learners.
    BroadcastId
);
id!(
    /// A batch of redeem codes (兑换码).
    RedeemBatchId
);
id!(
    /// A 发票 request.
    InvoiceId
);
id!(
    /// A published version of an agreement.
    AgreementId
);
id!(
    /// A lesson's quiz or a course's final exam.
    QuizId
);
id!(
    /// A question in a course's quiz bank (not a learner's question under a lesson).
    BankQuestionId
);
id!(
    /// A learner's attempt at a quiz.
    AttemptId
);
id!(
    /// A certificate (结业证书) issued to a learner.
    CertificateId
);
id!(
    /// A file staff attached to a lesson for its buyers.
    LessonFileId
);
