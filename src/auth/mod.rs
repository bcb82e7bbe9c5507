//! Who the visitor is: passwords, SMS codes, the typed session.

pub mod attempts;
pub mod codes;
pub mod password;
pub mod session;
pub mod session_store;
pub mod totp;
