//! Pure domain rules: no I/O, no framework types.

pub mod broadcast;
pub mod catalog;
pub mod commission;
pub mod complaint;
pub mod consultation;
pub mod coupon;
pub mod course_form;
pub mod ids;
pub mod import;
pub mod media;
pub mod membership;
pub mod moderation;
pub mod money;
pub mod numbers;
pub mod order;
pub mod payment;
pub mod phone;
pub mod product;
pub mod range;
pub mod rate;
pub mod refund;
pub mod refund_policy;
pub mod refund_terms;
pub mod renditions;
pub mod retention;
pub mod review;
pub mod shop;
pub mod staff;
pub mod stats;
pub mod text;
pub mod time;
pub mod upload;

pub use ids::{CourseId, UserId};
pub use money::Fen;
pub use phone::Phone;
pub use product::ProductKind;
