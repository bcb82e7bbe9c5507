//! Gifts (送给朋友): a course bought for friends, one link per copy. What the buyer may give, how
//! a copy stands, and what a gift order can still refund.
//!
//! A link's code is derived like a redeem code (16 characters, 80 bits) with the shop's gift key
//! from the order and the copy's number, so the buyer's order page can show it again while the
//! database keeps only its hash, and nobody finds a gift by trying codes.

use super::Fen;
use super::course_form::FieldError;
use super::refund_policy::Decision;
use super::refund_terms::Localized;

/// The most copies one gift order buys (a team's seats).
pub const MAX_COPIES: i64 = 50;
/// The longest name a buyer signs a gift with.
pub const MAX_SENDER_CHARS: usize = 20;

/// The link code of copy `seq` of gift order `order`.
pub fn link_code(key: &[u8], order: i64, seq: i64) -> String {
    super::redeem::derive_code(key, order, seq)
}

/// Whether a string from a URL can be a link code at all (saves a query on junk).
pub fn looks_like_code(value: &str) -> bool {
    value.len() == super::redeem::CODE_CHARS && value.bytes().all(|b| super::redeem::ALPHABET.contains(&b))
}

/// The gift form as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct RawGift {
    pub copies: String,
    pub sender: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftInput {
    pub copies: i64,
    pub sender: String,
}

pub fn parse_gift(raw: &RawGift) -> Result<GiftInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let copies = raw.copies.trim().parse::<i64>().ok().filter(|n| (1..=MAX_COPIES).contains(n));
    if copies.is_none() {
        errors.push(("copies", "err_gift_copies"));
    }
    let sender = raw.sender.trim().to_string();
    if sender.is_empty() {
        errors.push(("sender", "err_required"));
    } else if sender.chars().count() > MAX_SENDER_CHARS {
        errors.push(("sender", "err_too_long"));
    } else if sender.chars().any(char::is_control) {
        errors.push(("sender", "err_invalid_chars"));
    }
    match copies {
        Some(copies) if errors.is_empty() => Ok(GiftInput { copies, sender }),
        _ => Err(errors),
    }
}

/// A copy as its link's visitor finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyState {
    /// Paid for and waiting for a friend.
    Open,
    /// Claimed by the visitor (they may learn) or by someone else.
    Claimed { by_visitor: bool },
    /// The buyer asked for their money back before anyone claimed it.
    Withdrawn,
}

impl CopyState {
    pub fn of(claimed_by: Option<i64>, withdrawn: bool, visitor: Option<i64>) -> CopyState {
        match claimed_by {
            Some(user) => CopyState::Claimed { by_visitor: visitor == Some(user) },
            None if withdrawn => CopyState::Withdrawn,
            None => CopyState::Open,
        }
    }
}

/// What a gift order can still return: the copies nobody claimed, at their share of what was
/// paid. Claimed copies count rounded up, so the giver never gets back a fen of a claimed copy;
/// earlier refunds come off, and nothing below zero.
pub fn refundable(paid: Fen, refunded: Fen, copies: i64, claimed: i64) -> Fen {
    if copies <= 0 || paid.0 <= 0 {
        return Fen::ZERO;
    }
    let claimed = i128::from(claimed.clamp(0, copies));
    let (paid_wide, copies) = (i128::from(paid.0), i128::from(copies));
    let kept = (paid_wide * claimed + copies - 1) / copies;
    let open = i64::try_from(paid_wide - kept).unwrap_or(0);
    Fen((open - refunded.0).max(0))
}

/// The refund policy's decision for a gift order, held to what the unclaimed copies are worth.
/// Nothing left for them (every copy claimed) is a refusal that says why.
pub fn cap(decision: Decision, paid: Fen, refunded: Fen, copies: i64, claimed: i64) -> Decision {
    if !decision.eligible {
        return decision;
    }
    let open = refundable(paid, refunded, copies, claimed);
    if open.0 == 0 {
        return Decision {
            eligible: false,
            amount: Fen::ZERO,
            rule: Localized {
                zh: "没有可退的份数：礼物被领取的份数不能退款。".into(),
                en: "Nothing left to refund: claimed copies of a gift cannot be refunded.".into(),
            },
        };
    }
    if open >= decision.amount {
        return decision;
    }
    Decision {
        eligible: true,
        amount: open,
        rule: Localized {
            zh: format!("{}已领取的份数不退，只退未领取的份数。", decision.rule.zh),
            en: format!("{} Claimed copies are not refunded, only the unclaimed ones.", decision.rule.en),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yes(amount: i64) -> Decision {
        Decision { eligible: true, amount: Fen(amount), rule: Localized { zh: "全额。".into(), en: "Full.".into() } }
    }

    #[test]
    fn unclaimed_copies_are_what_comes_back() {
        // (paid, refunded, copies, claimed) → refundable
        let table = [
            ((9900, 0, 1, 0), 9900),
            ((9900, 0, 1, 1), 0),
            ((30000, 0, 3, 1), 20000),
            ((30000, 0, 3, 3), 0),
            // 100 fen over 3 copies: a claimed copy keeps 34 (rounded up), the two open ones 66.
            ((100, 0, 3, 1), 66),
            ((100, 0, 3, 2), 33),
            // After the open copies were refunded, nothing more; a later claim cannot pull money back.
            ((30000, 20000, 3, 1), 0),
            ((30000, 10000, 3, 1), 10000),
            ((30000, 25000, 3, 0), 5000),
            // Nonsense stays within bounds.
            ((30000, 0, 3, 7), 0),
            ((30000, 0, 3, -1), 30000),
            ((30000, 0, 0, 0), 0),
            ((0, 0, 2, 0), 0),
            ((i64::MAX, 0, 3, 1), i64::MAX - (i64::MAX / 3 + 1)),
        ];
        for ((paid, refunded, copies, claimed), want) in table {
            assert_eq!(
                refundable(Fen(paid), Fen(refunded), copies, claimed),
                Fen(want),
                "{paid} {refunded} {copies} {claimed}"
            );
        }
    }

    #[test]
    fn the_policy_is_held_to_the_open_copies() {
        let all = cap(yes(30000), Fen(30000), Fen::ZERO, 3, 0);
        assert_eq!(all, yes(30000), "nothing claimed: the policy's decision stands");
        let some = cap(yes(30000), Fen(30000), Fen::ZERO, 3, 2);
        assert!(some.eligible && some.amount == Fen(10000));
        assert!(some.rule.zh.contains("未领取") && some.rule.en.contains("unclaimed"));
        let none = cap(yes(30000), Fen(30000), Fen::ZERO, 3, 3);
        assert!(!none.eligible && none.amount == Fen::ZERO && none.rule.zh.contains("没有可退的份数"));
        let refused = Decision { eligible: false, ..yes(0) };
        assert_eq!(cap(refused.clone(), Fen(30000), Fen::ZERO, 3, 0), refused, "a refusal stays one");
        // The policy already gives less than the open copies (earlier refunds): its amount stands.
        assert_eq!(cap(yes(5000), Fen(30000), Fen::ZERO, 3, 1).amount, Fen(5000));
    }

    #[test]
    fn the_form() {
        let ok = parse_gift(&RawGift { copies: " 3 ".into(), sender: " 小王 ".into() });
        assert_eq!(ok, Ok(GiftInput { copies: 3, sender: "小王".into() }));
        for (copies, sender, fields) in [
            ("0", "a", vec!["copies"]),
            ("51", "a", vec!["copies"]),
            ("x", "", vec!["copies", "sender"]),
            ("1", "  ", vec!["sender"]),
            ("1", "一二三四五六七八九十一二三四五六七八九十一", vec!["sender"]),
            ("1", "a\u{7}", vec!["sender"]),
        ] {
            let errors = parse_gift(&RawGift { copies: copies.into(), sender: sender.into() }).unwrap_err();
            let got: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
            assert_eq!(got, fields, "{copies} {sender}");
        }
        assert!(
            parse_gift(&RawGift {
                copies: "50".into(), sender: "一二三四五六七八九十一二三四五六七八九十".into()
            })
            .is_ok()
        );
    }

    #[test]
    fn copies_and_codes() {
        assert_eq!(CopyState::of(None, false, Some(1)), CopyState::Open);
        assert_eq!(CopyState::of(None, true, None), CopyState::Withdrawn);
        assert_eq!(CopyState::of(Some(1), true, Some(1)), CopyState::Claimed { by_visitor: true });
        assert_eq!(CopyState::of(Some(1), false, Some(2)), CopyState::Claimed { by_visitor: false });
        assert_eq!(CopyState::of(Some(1), false, None), CopyState::Claimed { by_visitor: false });
        let code = link_code(b"gift key", 7, 0);
        assert!(looks_like_code(&code), "{code}");
        assert_ne!(code, link_code(b"gift key", 7, 1));
        assert_ne!(code, super::super::redeem::derive_code(b"redeem key", 7, 0));
        assert!(!looks_like_code("") && !looks_like_code(&code.to_lowercase()) && !looks_like_code(&code[1..]));
    }
}
