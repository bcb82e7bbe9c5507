//! Who the visitor is: passwords, SMS codes, the typed session.

pub mod attempts;
pub mod codes;
pub mod human_check;
pub mod password;
pub mod puzzle_picture;
pub mod session;
pub mod session_store;
pub mod totp;
