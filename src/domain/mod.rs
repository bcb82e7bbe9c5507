//! Pure domain rules: no I/O, no framework types.

pub mod broadcast;
pub mod catalog;
pub mod checkin;
pub mod claim;
pub mod commission;
pub mod complaint;
pub mod consultation;
pub mod coupon;
pub mod course_form;
pub mod funnel;
pub mod group;
pub mod homework;
pub mod ids;
pub mod import;
pub mod media;
pub mod membership;
pub mod message;
pub mod moderation;
pub mod money;
pub mod numbers;
pub mod order;
pub mod payment;
pub mod phone;
pub mod product;
pub mod range;
pub mod rate;
pub mod receipt;
pub mod refund;
pub mod refund_policy;
pub mod refund_terms;
pub mod renditions;
pub mod retention;
pub mod review;
pub mod shop;
pub mod sms;
pub mod staff;
pub mod stats;
pub mod status;
pub mod sync;
pub mod text;
pub mod time;
pub mod upload;
pub mod words;

pub use ids::{
    AnnouncementId, AttachmentId, CategoryId, ChapterId, CheckInId, ClaimId, ComplaintId, CouponId, CourseId, GroupId,
    InstructorId, KeywordId, LessonId, OrderId, PayoutId, QueueItemId, RefundId, ReviewId, SlotId, SubmissionId,
    SyncKeyId, UserId,
};
pub use money::Fen;
pub use phone::Phone;
pub use product::ProductKind;
