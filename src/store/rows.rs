//! Row mapping: how columns become domain values, so that row types can
//! `#[derive(sqlx::FromRow)]` instead of reading columns one by one.
//!
//! - money columns (`…_fen`, BIGINT) decode straight into `Fen`, and NULL into `Option<Fen>`;
//! - 0/1 columns become `bool` with `#[sqlx(try_from = "Flag")]` (both dialects store BIGINT);
//! - a NULL-or-time column becomes "has it happened" with `#[sqlx(try_from = "Present")]`;
//! - words stored by the shop itself (phone, role, account status) read leniently through
//!   `#[sqlx(try_from = "Text")]`, with the fallbacks their types define;
//! - types spread over several columns (`RefundTerms`, `Localized`) are `#[sqlx(flatten)]`.

use sqlx::any::{Any, AnyRow, AnyTypeInfo, AnyValueRef};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Decode, Encode, FromRow, Row, Type};

use crate::domain::refund_terms::{Localized, RefundTerms};
use crate::domain::staff::{AccountStatus, Role};
use crate::domain::words::UnknownWord;
use crate::domain::{
    AgreementId, AnnouncementId, AnswerId, AttachmentId, AttemptId, AuditEntryId, BankQuestionId, BroadcastId,
    CategoryId, CertificateId, ChapterId, CheckInId, ClaimId, CohortId, ComplaintId, CouponId, CourseId, Fen, GroupId,
    InstructorId, InvoiceId, KeywordId, LessonFileId, LessonId, NoteId, OrderId, PayoutId, Phone, QuestionId,
    QueueItemId, QuizId, RedeemBatchId, RefundId, ReviewId, SignInCodeId, SlotId, SubmissionId, SyncKeyId, TextId,
    UserId, WechatMessageId,
};

/// Type and Decode for a wrapper that reads as the column type `$inner` and converts with `$wrap`.
macro_rules! decodes_as {
    ($ty:ty, $inner:ty, $wrap:expr) => {
        impl Type<Any> for $ty {
            fn type_info() -> AnyTypeInfo {
                <$inner as Type<Any>>::type_info()
            }

            fn compatible(ty: &AnyTypeInfo) -> bool {
                <$inner as Type<Any>>::compatible(ty)
            }
        }

        impl<'r> Decode<'r, Any> for $ty {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                <$inner as Decode<Any>>::decode(value).map($wrap)
            }
        }
    };
}

decodes_as!(Fen, i64, Fen);

/// Ids read and bind as the BIGINT they are.
macro_rules! bigint_ids {
    ($($ty:ident),* $(,)?) => {$(
        decodes_as!($ty, i64, $ty);

        impl<'q> Encode<'q, Any> for $ty {
            fn encode_by_ref(&self, buf: &mut <Any as sqlx::Database>::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
                <i64 as Encode<'q, Any>>::encode_by_ref(&self.0, buf)
            }
        }
    )*};
}
bigint_ids!(
    UserId,
    CourseId,
    OrderId,
    RefundId,
    LessonId,
    ChapterId,
    GroupId,
    ReviewId,
    CheckInId,
    PayoutId,
    AnnouncementId,
    SubmissionId,
    SlotId,
    QuestionId,
    AnswerId,
    NoteId,
    CohortId,
    ComplaintId,
    AttachmentId,
    KeywordId,
    QueueItemId,
    SyncKeyId,
    ClaimId,
    CategoryId,
    InstructorId,
    CouponId,
    TextId,
    WechatMessageId,
    SignInCodeId,
    AuditEntryId,
    BroadcastId,
    RedeemBatchId,
    InvoiceId,
    AgreementId,
    QuizId,
    BankQuestionId,
    AttemptId,
    CertificateId,
    LessonFileId,
);

/// A 0/1 column, read as `bool` through `#[sqlx(try_from = "Flag")]`.
pub struct Flag(i64);
decodes_as!(Flag, i64, Flag);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0 != 0
    }
}

/// A nullable column read as whether it holds a value (`totp_enabled_at` → enabled).
pub struct Present(bool);

impl Type<Any> for Present {
    fn type_info() -> AnyTypeInfo {
        <i64 as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <i64 as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for Present {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Present(!sqlx::ValueRef::is_null(&value)))
    }
}

impl From<Present> for bool {
    fn from(present: Present) -> bool {
        present.0
    }
}

/// A nullable stored word (`#[sqlx(try_from = "OptionalWord")]` on an `Option<Word>` field): NULL
/// reads as None, a word as its `stored_word!` value, any other word as an error.
pub struct OptionalWord(Option<String>);
decodes_as!(OptionalWord, Option<String>, OptionalWord);

impl<W: TryFrom<String, Error = UnknownWord>> TryFrom<OptionalWord> for Option<W> {
    type Error = UnknownWord;

    fn try_from(word: OptionalWord) -> Result<Self, UnknownWord> {
        word.0.map(W::try_from).transpose()
    }
}

/// A word the shop wrote itself, read back without validation.
pub struct Text(String);
decodes_as!(Text, String, Text);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Text> for Phone {
    fn from(text: Text) -> Phone {
        Phone::from_stored(text.0)
    }
}

/// An unknown role reads as a learner: the least a row can grant.
impl From<Text> for Role {
    fn from(text: Text) -> Role {
        Role::parse(&text.0).unwrap_or(Role::Learner)
    }
}

impl From<Text> for AccountStatus {
    fn from(text: Text) -> AccountStatus {
        AccountStatus::from_stored(&text.0)
    }
}

/// `non_refundable`, `refund_window_days` and `refund_max_consumed_pct`, as courses and orders
/// store them.
impl FromRow<'_, AnyRow> for RefundTerms {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(RefundTerms {
            non_refundable: r.try_get::<Flag, _>("non_refundable")?.into(),
            window_days: r.try_get("refund_window_days")?,
            max_consumed_pct: r.try_get("refund_max_consumed_pct")?,
        })
    }
}

/// A text kept in both interface languages, selected `AS zh` and `AS en`.
impl FromRow<'_, AnyRow> for Localized {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Localized { zh: r.try_get("zh")?, en: r.try_get("en")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::payment::LateRefundState;
    use crate::store::Db;

    #[derive(sqlx::FromRow)]
    struct Sample {
        #[sqlx(try_from = "Flag")]
        enabled: bool,
        #[sqlx(try_from = "Flag")]
        disabled: bool,
        #[sqlx(try_from = "Present")]
        happened: bool,
        #[sqlx(try_from = "Present")]
        pending: bool,
        price: Fen,
        refund: Option<Fen>,
        none: Option<Fen>,
        #[sqlx(try_from = "Text")]
        role: Role,
        #[sqlx(try_from = "Text")]
        unknown_role: Role,
        #[sqlx(flatten)]
        title: Localized,
        #[sqlx(try_from = "OptionalWord")]
        late: Option<LateRefundState>,
        #[sqlx(try_from = "OptionalWord")]
        not_yet: Option<LateRefundState>,
    }

    #[derive(Debug, sqlx::FromRow)]
    struct Word {
        #[sqlx(try_from = "OptionalWord")]
        #[allow(dead_code)]
        state: Option<LateRefundState>,
    }

    #[tokio::test]
    async fn columns_become_domain_values() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/r.db", dir.path().display())).await.unwrap();
        let s: Sample = sqlx::query_as(
            "SELECT 1 AS enabled, 0 AS disabled, 1764000000 AS happened, NULL AS pending, 19900 AS price, 500 AS refund, \
             NULL AS none, 'admin' AS role, 'owner' AS unknown_role, '标题' AS zh, 'Title' AS en, \
             'failed' AS late, NULL AS not_yet",
        )
        .fetch_one(db.read())
        .await
        .unwrap();
        assert!(s.enabled && !s.disabled);
        assert!(s.happened && !s.pending);
        assert_eq!((s.price, s.refund, s.none), (Fen(19900), Some(Fen(500)), None));
        assert_eq!((s.role, s.unknown_role), (Role::Admin, Role::Learner), "an unknown role grants nothing");
        assert_eq!(s.title, Localized { zh: "标题".into(), en: "Title".into() });
        assert_eq!((s.late, s.not_yet), (Some(LateRefundState::Failed), None));
        let unknown = sqlx::query_as::<_, Word>("SELECT 'refunded' AS state").fetch_one(db.read()).await;
        // sqlx 0.8's FromRow derive loses the message of a try_from error; the column is named.
        let err = unknown.unwrap_err();
        assert!(matches!(&err, sqlx::Error::ColumnDecode { index, .. } if index == "state"), "{err:?}");
    }
}
