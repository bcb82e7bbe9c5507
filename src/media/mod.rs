//! Protected media: where lesson files are kept, and who may have them.

pub mod article;
pub mod certificate;
pub mod demo;
pub mod images;
pub mod object_store;
pub mod package;
pub mod pdf_stamp;
pub mod poster;
pub mod receipt_image;
pub mod storage;
