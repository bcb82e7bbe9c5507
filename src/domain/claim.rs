//! Claim by receipt (找回已购课程): a learner who can sign in neither by the phone nor the WeChat
//! the mini program knew shows the order number or WeChat Pay transaction number from their
//! WeChat bill, and an imported order nobody can reach becomes theirs.

use super::rate::Limit;

/// Numbers tried without a match, per account.
pub const PER_ACCOUNT: Limit = Limit::new(5, 3600);
/// Numbers tried without a match, per address (many accounts behind one address).
pub const PER_ADDRESS: Limit = Limit::new(20, 3600);

/// A receipt number as typed: spaces dropped (the bill groups digits), 6 to 64 letters, digits,
/// `-` or `_`.
pub fn receipt_number(input: &str) -> Option<String> {
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    let ok = (6..=64).contains(&compact.len())
        && compact.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(compact)
}

/// Who holds the order now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub is_claimant: bool,
    /// The account has a phone number (it can sign in by SMS).
    pub has_phone: bool,
    /// Someone has signed in to the account (by WeChat, when it has no phone).
    pub signed_in: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Moves to the claimant.
    Claim,
    AlreadyYours,
    /// Its owner can sign in by phone: not claimable; the owner is told someone tried.
    OwnedByPhone,
    /// Its owner signs in with WeChat: not claimable.
    OwnedByWechat,
}

/// Only an order of an account nobody can reach or has used moves: never one its owner can
/// sign in to.
pub fn verdict(holder: Holder) -> Verdict {
    match holder {
        Holder { is_claimant: true, .. } => Verdict::AlreadyYours,
        Holder { has_phone: true, .. } => Verdict::OwnedByPhone,
        Holder { signed_in: true, .. } => Verdict::OwnedByWechat,
        _ => Verdict::Claim,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_the_bill_shows_them() {
        assert_eq!(receipt_number(" 4200 0012 3420 2612 "), Some("42000012342026 12".replace(' ', "")));
        assert_eq!(receipt_number("WX20261204001"), Some("WX20261204001".into()));
        assert_eq!(receipt_number("12345"), None, "too short to mean anything");
        assert_eq!(receipt_number(&"1".repeat(65)), None);
        assert_eq!(receipt_number("4200'; --"), None);
        assert_eq!(receipt_number(""), None);
    }

    #[test]
    fn only_an_unreachable_unused_account_gives_up_an_order() {
        let nobody = Holder { is_claimant: false, has_phone: false, signed_in: false };
        assert_eq!(verdict(nobody), Verdict::Claim);
        assert_eq!(verdict(Holder { has_phone: true, ..nobody }), Verdict::OwnedByPhone);
        assert_eq!(verdict(Holder { signed_in: true, ..nobody }), Verdict::OwnedByWechat);
        assert_eq!(verdict(Holder { has_phone: true, signed_in: true, ..nobody }), Verdict::OwnedByPhone);
        assert_eq!(verdict(Holder { is_claimant: true, has_phone: true, signed_in: true }), Verdict::AlreadyYours);
    }
}
