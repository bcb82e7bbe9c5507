//! Distribution (推广员) rules, the compliant way (seed 001, seed 004 lessons 06 and 16): one
//! level only, a rate never above the cap, nothing for buying through one's own link, and money
//! that becomes the distributor's only after the order's refund window has closed.
//!
//! Rounding: a commission is rounded down to the fen, so the shop never pays more than the rate
//! says. A refund takes back the difference between the commission on what was paid and the
//! commission on what is left, so any number of partial refunds ends exactly where one refund of
//! the same total would.

use super::{Fen, UserId};

const CODE_LEN: usize = 8;

/// A new referral code (`?ref=`): 8 characters of the order-number alphabet.
pub fn new_referral_code() -> String {
    use rand::Rng;
    let alphabet = super::order::ORDER_NO_ALPHABET;
    let mut rng = rand::rngs::OsRng;
    (0..CODE_LEN).map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())])).collect()
}

/// Whether a `?ref=` value can be a referral code at all (saves a query on junk).
pub fn looks_like_referral_code(value: &str) -> bool {
    value.len() == CODE_LEN && value.bytes().all(|b| super::order::ORDER_NO_ALPHABET.contains(&b))
}

/// How the shop runs distribution: the back office's settings, with their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// Off: no applications, `?ref=` links bind nobody, and no new commissions.
    pub enabled: bool,
    pub default_rate: Rate,
    pub cap: Rate,
    pub window_secs: i64,
    pub rule: BindingRule,
    /// The smallest withdrawal, and the most a distributor may withdraw in a Shanghai month.
    pub payout_min: Fen,
    pub payout_monthly: Fen,
}

impl Default for Program {
    fn default() -> Self {
        Program {
            enabled: false,
            default_rate: Rate(1000),
            cap: DEFAULT_CAP,
            window_secs: DEFAULT_WINDOW_SECS,
            rule: BindingRule::LastClick,
            payout_min: Fen(1_000),
            payout_monthly: Fen(500_000),
        }
    }
}

impl Program {
    /// From the settings table's words; anything unreadable keeps its default, and the rate is
    /// held under the cap whatever was stored.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Program {
        let d = Program::default();
        let bp = |key: &str| get(key).and_then(|v| v.parse::<u32>().ok()).and_then(Rate::from_bp);
        let cap = bp("distribution_cap_bp").unwrap_or(d.cap);
        let days =
            get("distribution_window_days").and_then(|v| v.parse::<i64>().ok()).filter(|d| (1..=365).contains(d));
        Program {
            enabled: get("distribution").as_deref() == Some("on"),
            default_rate: bp("distribution_rate_bp").unwrap_or(d.default_rate).min(cap),
            cap,
            window_secs: days.map_or(d.window_secs, |d| d * 86_400),
            rule: get("distribution_rule").as_deref().and_then(BindingRule::parse).unwrap_or(d.rule),
            payout_min: get("distribution_payout_min_fen").and_then(|v| v.parse().ok()).map_or(d.payout_min, Fen),
            payout_monthly: get("distribution_payout_month_fen")
                .and_then(|v| v.parse().ok())
                .map_or(d.payout_monthly, Fen),
        }
    }

    pub fn rate_for(&self, course_rate: Option<Rate>) -> Rate {
        rate_for(course_rate, self.default_rate, self.cap)
    }
}

/// Basis points: 100 = 1%, 10 000 = 100%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rate(u32);

/// 25%: the ratio WeChat Pay allows an entry-level merchant to share (seed 004 lesson 06).
pub const DEFAULT_CAP: Rate = Rate(2500);

impl Rate {
    pub const ZERO: Rate = Rate(0);

    /// A rate from basis points; None above 100%.
    pub fn from_bp(bp: u32) -> Option<Rate> {
        (bp <= 10_000).then_some(Rate(bp))
    }

    /// A rate as staff type it: `15`, `12.5`, `0.25` (percent, at most two decimals).
    pub fn parse_percent(text: &str) -> Option<Rate> {
        let text = text.trim().trim_end_matches('%');
        let (whole, cents) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || whole.len() > 3 || cents.len() > 2 || (!cents.is_empty() && !digits(cents)) {
            return None;
        }
        let bp = whole.parse::<u32>().ok()? * 100 + format!("{cents:0<2}").parse::<u32>().ok()?;
        Rate::from_bp(bp)
    }

    pub fn bp(self) -> u32 {
        self.0
    }

    /// `25`, `12.5`: for forms and pages.
    pub fn percent_string(self) -> String {
        let (whole, cents) = (self.0 / 100, self.0 % 100);
        match cents {
            0 => whole.to_string(),
            c if c % 10 == 0 => format!("{whole}.{}", c / 10),
            c => format!("{whole}.{c:02}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapError {
    /// Above 25% needs the operator's explicit "I know the platform's limits" setting.
    AboveDefaultWithoutConsent,
    AboveHundred,
}

/// The cap an operator set: up to 25% freely, above it only with the explicit setting.
pub fn check_cap(cap: Rate, allow_above_default: bool) -> Result<Rate, CapError> {
    if cap.0 > 10_000 {
        return Err(CapError::AboveHundred);
    }
    if cap > DEFAULT_CAP && !allow_above_default {
        return Err(CapError::AboveDefaultWithoutConsent);
    }
    Ok(cap)
}

/// The course's own rate, else the shop's default; never above the cap, whatever was stored.
pub fn rate_for(course_rate: Option<Rate>, shop_default: Rate, cap: Rate) -> Rate {
    course_rate.unwrap_or(shop_default).min(cap)
}

/// The commission on what the buyer actually paid (after coupons), rounded down to the fen.
pub fn commission(paid: Fen, rate: Rate) -> Fen {
    if paid.0 <= 0 {
        return Fen::ZERO;
    }
    Fen(i64::try_from(i128::from(paid.0) * i128::from(rate.0) / 10_000).unwrap_or(0))
}

/// What a refund of `refunded_now` takes back, when `refunded_before` had already been refunded:
/// the commission on what was left before, less the commission on what is left after.
pub fn reversal(paid: Fen, refunded_before: Fen, refunded_now: Fen, rate: Rate) -> Fen {
    let left_before = (paid - refunded_before).max(Fen::ZERO);
    let left_after = (left_before - refunded_now).max(Fen::ZERO);
    commission(left_before, rate) - commission(left_after, rate)
}

/// Which click an order is credited to, when a visitor followed several distributors' links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingRule {
    /// The latest link followed wins (the default).
    LastClick,
    /// 锁客: the first distributor keeps the buyer until the binding expires.
    FirstBinding,
}

impl BindingRule {
    pub fn parse(value: &str) -> Option<BindingRule> {
        match value {
            "last_click" => Some(BindingRule::LastClick),
            "first_binding" => Some(BindingRule::FirstBinding),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BindingRule::LastClick => "last_click",
            BindingRule::FirstBinding => "first_binding",
        }
    }
}

/// A visitor bound to a distributor, from `bound_at` until `bound_at + window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub distributor: UserId,
    pub bound_at: i64,
}

/// 15 days.
pub const DEFAULT_WINDOW_SECS: i64 = 15 * 86_400;

impl Binding {
    pub fn is_live(self, at: i64, window_secs: i64) -> bool {
        self.bound_at <= at && at < self.bound_at.saturating_add(window_secs)
    }
}

/// The binding after a visit with a distributor's link at `now`. A live binding to someone else
/// is kept under first-binding; otherwise the new click binds (and a click of the same
/// distributor renews the window).
pub fn bind(current: Option<Binding>, distributor: UserId, now: i64, window_secs: i64, rule: BindingRule) -> Binding {
    let click = Binding { distributor, bound_at: now };
    match current {
        Some(live) if live.is_live(now, window_secs) && live.distributor != distributor => match rule {
            BindingRule::FirstBinding => live,
            BindingRule::LastClick => click,
        },
        _ => click,
    }
}

/// Who may be credited with a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party<'a> {
    pub user: UserId,
    pub phone: &'a str,
    /// openids and unionids of the account's WeChat sign-ins.
    pub wechat: &'a [String],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCommission {
    /// No live binding when the order was paid.
    NotReferred,
    /// The distributor bought through their own link.
    SelfReferral,
    /// Buyer and distributor share a phone number or a WeChat identity: one person, two accounts.
    SamePerson,
    /// Frozen distributors' links still sell, but earn nothing.
    Frozen,
    /// The course (or the shop) pays no commission.
    ZeroRate,
}

/// Whether the distributor bound at payment time earns on this order.
pub fn earns(
    binding: Option<Binding>,
    paid_at: i64,
    window_secs: i64,
    buyer: &Party<'_>,
    distributor: &Party<'_>,
    frozen: bool,
    rate: Rate,
) -> Result<(), NoCommission> {
    let Some(binding) = binding.filter(|b| b.is_live(paid_at, window_secs)) else {
        return Err(NoCommission::NotReferred);
    };
    if binding.distributor != distributor.user {
        return Err(NoCommission::NotReferred);
    }
    if buyer.user == distributor.user {
        return Err(NoCommission::SelfReferral);
    }
    if buyer.phone == distributor.phone || buyer.wechat.iter().any(|id| distributor.wechat.contains(id)) {
        return Err(NoCommission::SamePerson);
    }
    if frozen {
        return Err(NoCommission::Frozen);
    }
    if rate == Rate::ZERO {
        return Err(NoCommission::ZeroRate);
    }
    Ok(())
}

/// When the order's commission stops being pending: the end of its refund window. A course with
/// no refunds settles at once.
pub fn settles_at(paid_at: i64, refund_window_days: i64, non_refundable: bool) -> i64 {
    if non_refundable { paid_at } else { paid_at.saturating_add(refund_window_days.max(0).saturating_mul(86_400)) }
}

/// One line of a distributor's ledger. Balances are sums of these; nothing is ever edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Earned on an order: pending until the order settles.
    Earned { amount: Fen },
    /// The order's refund window closed: what was still pending becomes available.
    Settled { amount: Fen },
    /// Taken back by a refund, from pending or, after settling, from available (which may then
    /// go below zero: the distributor owes it back from later earnings).
    Reversed { amount: Fen, settled: bool },
    /// Paid out to the distributor (a withdrawal, or a WeChat profit-sharing split).
    PaidOut { amount: Fen },
}

super::words::stored_word! {
    /// How a ledger line is stored: the word in `commission_entries.kind`.
    pub enum EntryKind { Earned => "earned", Settled => "settled", Reversed => "reversed", PaidOut => "paid_out" }
}

/// Which balance a ledger line moves, and which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movement {
    pub balance: Balance,
    pub negative: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    Pending,
    Available,
}

impl Entry {
    /// The stored form: `kind` and whether a reversal came after settling.
    pub fn from_stored(kind: EntryKind, amount: Fen, settled: bool) -> Entry {
        match kind {
            EntryKind::Earned => Entry::Earned { amount },
            EntryKind::Settled => Entry::Settled { amount },
            EntryKind::Reversed => Entry::Reversed { amount, settled },
            EntryKind::PaidOut => Entry::PaidOut { amount },
        }
    }

    pub fn kind(self) -> EntryKind {
        match self {
            Entry::Earned { .. } => EntryKind::Earned,
            Entry::Settled { .. } => EntryKind::Settled,
            Entry::Reversed { .. } => EntryKind::Reversed,
            Entry::PaidOut { .. } => EntryKind::PaidOut,
        }
    }

    /// How the line shows in the ledger export: a settlement moves money into available, so it
    /// is listed there as positive; a reversal is taken from the balance it hit.
    pub fn movement(self) -> Movement {
        let (balance, negative) = match self {
            Entry::Earned { .. } => (Balance::Pending, false),
            Entry::Settled { .. } => (Balance::Available, false),
            Entry::Reversed { settled: false, .. } => (Balance::Pending, true),
            Entry::Reversed { settled: true, .. } => (Balance::Available, true),
            Entry::PaidOut { .. } => (Balance::Available, true),
        };
        Movement { balance, negative }
    }
}

/// Pending (not yet the distributor's), available (settled, not paid out) and paid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balances {
    pub pending: Fen,
    pub available: Fen,
    pub paid_out: Fen,
}

impl Balances {
    /// What the shop owes distributors now or later: the liability the back office shows.
    pub fn liability(self) -> Fen {
        self.pending + self.available
    }
}

pub fn balances(entries: &[Entry]) -> Balances {
    entries.iter().fold(Balances::default(), |mut b, entry| {
        match *entry {
            Entry::Earned { amount } => b.pending = b.pending + amount,
            Entry::Settled { amount } => {
                b.pending = b.pending - amount;
                b.available = b.available + amount;
            }
            Entry::Reversed { amount, settled: false } => b.pending = b.pending - amount,
            Entry::Reversed { amount, settled: true } => b.available = b.available - amount,
            Entry::PaidOut { amount } => {
                b.available = b.available - amount;
                b.paid_out = b.paid_out + amount;
            }
        }
        b
    })
}

/// What settling an order moves to available: what it earned less what refunds took back.
pub fn to_settle(earned: Fen, reversed: Fen) -> Fen {
    (earned - reversed).max(Fen::ZERO)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawalError {
    BelowMinimum,
    MoreThanAvailable,
    MonthlyLimit,
}

/// A withdrawal request: at least the minimum, within what is available, and within the month's
/// limit (counting what was already withdrawn this Shanghai month).
pub fn check_withdrawal(
    amount: Fen,
    available: Fen,
    minimum: Fen,
    monthly_limit: Fen,
    withdrawn_this_month: Fen,
) -> Result<(), WithdrawalError> {
    if amount < minimum || amount.0 <= 0 {
        return Err(WithdrawalError::BelowMinimum);
    }
    if amount > available {
        return Err(WithdrawalError::MoreThanAvailable);
    }
    if withdrawn_this_month + amount > monthly_limit {
        return Err(WithdrawalError::MonthlyLimit);
    }
    Ok(())
}

/// What a distributor's referred orders look like, for the risk flags (seed 001 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Referrals {
    pub orders: i64,
    pub refunded_orders: i64,
    /// The most distinct buyers seen from one address, and from one /24.
    pub buyers_from_one_ip: i64,
    pub buyers_from_one_subnet: i64,
    /// Accounts signed up through the link, and how many of them never opened a lesson.
    pub signups: i64,
    pub signups_never_learned: i64,
    /// The commission earned on the top three buyers, and in all.
    pub top_buyers_commission: Fen,
    pub total_commission: Fen,
}

/// Thresholds, from the shop settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskThresholds {
    pub buyers_per_ip: i64,
    pub buyers_per_subnet: i64,
    /// Percent of referred orders refunded, once there are at least `min_orders`.
    pub refund_rate_pct: i64,
    pub min_orders: i64,
    /// Percent of sign-ups that never learned, once there are at least `min_signups`.
    pub idle_signups_pct: i64,
    pub min_signups: i64,
    /// Percent of the commission that came from the top three buyers.
    pub concentration_pct: i64,
}

impl Default for RiskThresholds {
    fn default() -> Self {
        RiskThresholds {
            buyers_per_ip: 5,
            buyers_per_subnet: 10,
            refund_rate_pct: 30,
            min_orders: 10,
            idle_signups_pct: 80,
            min_signups: 10,
            concentration_pct: 80,
        }
    }
}

impl RiskThresholds {
    /// The defaults, with what the operator changed in the settings (`risk_buyers_per_ip`,
    /// `risk_refund_pct`, `risk_concentration_pct`).
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> RiskThresholds {
        let d = RiskThresholds::default();
        let number = |key: &str, default: i64, range: std::ops::RangeInclusive<i64>| {
            get(key).and_then(|v| v.parse::<i64>().ok()).filter(|n| range.contains(n)).unwrap_or(default)
        };
        let buyers_per_ip = number("risk_buyers_per_ip", d.buyers_per_ip, 2..=1000);
        RiskThresholds {
            buyers_per_ip,
            // A /24 holds a household or an office: twice as many before it is worth a look.
            buyers_per_subnet: buyers_per_ip.saturating_mul(2),
            refund_rate_pct: number("risk_refund_pct", d.refund_rate_pct, 1..=100),
            concentration_pct: number("risk_concentration_pct", d.concentration_pct, 1..=100),
            ..d
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskFlag {
    ManyBuyersFromOneAddress,
    ManyBuyersFromOneSubnet,
    HighRefundRate,
    SignupsThatNeverLearn,
    ConcentratedOnFewBuyers,
}

/// The flags a distributor's referrals raise; staff decide what to do with them.
pub fn risk_flags(r: &Referrals, t: &RiskThresholds) -> Vec<RiskFlag> {
    let pct = |part: i64, whole: i64| if whole > 0 { part.saturating_mul(100) / whole } else { 0 };
    let mut flags = Vec::new();
    if r.buyers_from_one_ip >= t.buyers_per_ip {
        flags.push(RiskFlag::ManyBuyersFromOneAddress);
    }
    if r.buyers_from_one_subnet >= t.buyers_per_subnet {
        flags.push(RiskFlag::ManyBuyersFromOneSubnet);
    }
    if r.orders >= t.min_orders && pct(r.refunded_orders, r.orders) >= t.refund_rate_pct {
        flags.push(RiskFlag::HighRefundRate);
    }
    if r.signups >= t.min_signups && pct(r.signups_never_learned, r.signups) >= t.idle_signups_pct {
        flags.push(RiskFlag::SignupsThatNeverLearn);
    }
    if r.orders >= t.min_orders && pct(r.top_buyers_commission.0, r.total_commission.0) >= t.concentration_pct {
        flags.push(RiskFlag::ConcentratedOnFewBuyers);
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn rate(bp: u32) -> Rate {
        Rate::from_bp(bp).unwrap()
    }

    #[test]
    fn rates_parse_as_percent_and_stay_within_the_cap() {
        for (text, bp) in [("25", 2500), ("12.5", 1250), ("0.25", 25), ("7%", 700), (" 100 ", 10_000), ("0", 0)] {
            assert_eq!(Rate::parse_percent(text), Some(rate(bp)), "{text}");
        }
        for bad in ["", "-5", "100.01", "1e2", "12.345", "abc", "1000", "."] {
            assert_eq!(Rate::parse_percent(bad), None, "{bad}");
        }
        assert_eq!(rate(1250).percent_string(), "12.5");
        assert_eq!(rate(25).percent_string(), "0.25");
        assert_eq!(rate(2500).percent_string(), "25");

        assert_eq!(rate_for(Some(rate(4000)), rate(1000), DEFAULT_CAP), DEFAULT_CAP, "never above the cap");
        assert_eq!(rate_for(Some(rate(500)), rate(1000), DEFAULT_CAP), rate(500), "the course's own");
        assert_eq!(rate_for(None, rate(1000), DEFAULT_CAP), rate(1000), "the shop's default");
        assert_eq!(rate_for(None, rate(3000), rate(2000)), rate(2000));

        assert_eq!(check_cap(rate(2500), false), Ok(rate(2500)));
        assert_eq!(check_cap(rate(2501), false), Err(CapError::AboveDefaultWithoutConsent));
        assert_eq!(check_cap(rate(3000), true), Ok(rate(3000)));
        assert_eq!(check_cap(Rate(10_001), true), Err(CapError::AboveHundred));
    }

    #[test]
    fn commission_is_on_the_amount_paid_rounded_down() {
        let table = [
            (19_900, 2500, 4975),
            (19_900, 1000, 1990),
            (99, 2500, 24), // 24.75 fen → 24
            (1, 2500, 0),
            (0, 2500, 0),
            (-500, 2500, 0),
            (12_345, 1, 1), // 1.2345 → 1
            (19_900, 0, 0),
            (19_900, 10_000, 19_900),
        ];
        for (paid, bp, expected) in table {
            assert_eq!(commission(Fen(paid), rate(bp)), Fen(expected), "{paid} at {bp}");
        }
    }

    #[test]
    fn partial_refunds_take_back_exactly_what_one_refund_would() {
        let (paid, r) = (Fen(9_999), rate(2500)); // 2499.75 → 2499
        let earned = commission(paid, r);
        assert_eq!(earned, Fen(2_499));
        // Three partial refunds, then one for the same total.
        let parts = [Fen(3_333), Fen(3_333), Fen(3_333)];
        let mut before = Fen::ZERO;
        let mut taken = Fen::ZERO;
        for part in parts {
            taken = taken + reversal(paid, before, part, r);
            before = before + part;
        }
        assert_eq!(taken, reversal(paid, Fen::ZERO, Fen(9_999), r));
        assert_eq!(earned - taken, commission(Fen(9_999) - Fen(9_999), r), "nothing left on a full refund");
        assert_eq!(reversal(paid, Fen::ZERO, Fen(20_000), r), earned, "never more than was earned");
        assert_eq!(reversal(paid, paid, Fen(1), r), Fen::ZERO, "nothing left to take back");
        // A small partial refund can take back nothing, when rounding had already kept it.
        assert_eq!(reversal(Fen(100), Fen::ZERO, Fen(1), rate(2500)), Fen(1));
        assert_eq!(reversal(Fen(101), Fen::ZERO, Fen(1), rate(2500)), Fen(0));
    }

    #[test]
    fn last_click_or_first_binding_within_the_window() {
        let (a, b) = (UserId(1), UserId(2));
        let w = DEFAULT_WINDOW_SECS;
        let first = bind(None, a, 0, w, BindingRule::LastClick);
        assert_eq!(first, Binding { distributor: a, bound_at: 0 });
        assert_eq!(bind(Some(first), b, DAY, w, BindingRule::LastClick).distributor, b, "last click wins");
        assert_eq!(bind(Some(first), b, DAY, w, BindingRule::FirstBinding), first, "锁客 keeps the first");
        assert_eq!(
            bind(Some(first), b, w, w, BindingRule::FirstBinding).distributor,
            b,
            "an expired binding no longer holds the buyer"
        );
        assert_eq!(
            bind(Some(first), a, 3 * DAY, w, BindingRule::FirstBinding),
            Binding { distributor: a, bound_at: 3 * DAY },
            "the same link again renews the window"
        );
        assert!(first.is_live(w - 1, w) && !first.is_live(w, w) && !first.is_live(-1, w));
    }

    #[test]
    fn who_earns_on_an_order() {
        let none: [String; 0] = [];
        let wx = ["o-shared".to_string()];
        let other_wx = ["o-mine".to_string()];
        let dist = Party { user: UserId(1), phone: "13800000001", wechat: &wx };
        let buyer = Party { user: UserId(2), phone: "13800000002", wechat: &other_wx };
        let bound = Some(Binding { distributor: UserId(1), bound_at: 0 });
        let w = DEFAULT_WINDOW_SECS;
        let r = rate(1000);
        assert_eq!(earns(bound, DAY, w, &buyer, &dist, false, r), Ok(()));
        assert_eq!(earns(None, DAY, w, &buyer, &dist, false, r), Err(NoCommission::NotReferred));
        assert_eq!(earns(bound, w, w, &buyer, &dist, false, r), Err(NoCommission::NotReferred), "window over");
        let someone_else = Some(Binding { distributor: UserId(9), bound_at: 0 });
        assert_eq!(earns(someone_else, DAY, w, &buyer, &dist, false, r), Err(NoCommission::NotReferred));
        let itself = Party { user: UserId(1), ..dist.clone() };
        assert_eq!(earns(bound, DAY, w, &itself, &dist, false, r), Err(NoCommission::SelfReferral));
        let same_phone = Party { user: UserId(3), phone: "13800000001", wechat: &none };
        assert_eq!(earns(bound, DAY, w, &same_phone, &dist, false, r), Err(NoCommission::SamePerson));
        let same_wechat = Party { user: UserId(4), phone: "13800000004", wechat: &wx };
        assert_eq!(earns(bound, DAY, w, &same_wechat, &dist, false, r), Err(NoCommission::SamePerson));
        assert_eq!(earns(bound, DAY, w, &buyer, &dist, true, r), Err(NoCommission::Frozen));
        assert_eq!(earns(bound, DAY, w, &buyer, &dist, false, Rate::ZERO), Err(NoCommission::ZeroRate));
    }

    #[test]
    fn settles_when_the_refund_window_closes() {
        assert_eq!(settles_at(1_000, 7, false), 1_000 + 7 * DAY);
        assert_eq!(settles_at(1_000, 0, false), 1_000);
        assert_eq!(settles_at(1_000, 7, true), 1_000, "no refunds, nothing to wait for");
        assert_eq!(settles_at(1_000, -3, false), 1_000);
    }

    #[test]
    fn balances_are_sums_of_the_ledger() {
        use Entry::*;
        let entries = [
            // Order 1: earned, settled after its window, then refunded in part: a negative entry.
            Earned { amount: Fen(1_000) },
            Settled { amount: Fen(1_000) },
            Reversed { amount: Fen(300), settled: true },
            // Order 2: earned, refunded in part inside the window.
            Earned { amount: Fen(500) },
            Reversed { amount: Fen(200), settled: false },
            PaidOut { amount: Fen(600) },
        ];
        let b = balances(&entries);
        assert_eq!(b, Balances { pending: Fen(300), available: Fen(100), paid_out: Fen(600) });
        assert_eq!(b.liability(), Fen(400));
        assert_eq!(to_settle(Fen(500), Fen(200)), Fen(300));
        assert_eq!(to_settle(Fen(500), Fen(500)), Fen::ZERO, "a full refund inside the window leaves nothing");
        let overdrawn = balances(&[PaidOut { amount: Fen(100) }, Reversed { amount: Fen(50), settled: true }]);
        assert_eq!(overdrawn.available, Fen(-150), "a refund after payout leaves the distributor owing");
        assert_eq!(Entry::from_stored(EntryKind::Settled, Fen(5), false), Settled { amount: Fen(5) });
        for kind in EntryKind::ALL {
            assert_eq!(Entry::from_stored(*kind, Fen(5), true).kind(), *kind);
        }
        assert!(EntryKind::try_from("bonus".to_string()).is_err(), "an unknown stored kind is refused");
    }

    #[test]
    fn ledger_lines_move_the_balance_they_hit() {
        use Entry::*;
        let moves = |e: Entry| (e.movement().balance, e.movement().negative);
        assert_eq!(moves(Earned { amount: Fen(1) }), (Balance::Pending, false));
        assert_eq!(moves(Settled { amount: Fen(1) }), (Balance::Available, false));
        assert_eq!(moves(Reversed { amount: Fen(1), settled: false }), (Balance::Pending, true));
        assert_eq!(moves(Reversed { amount: Fen(1), settled: true }), (Balance::Available, true));
        assert_eq!(moves(PaidOut { amount: Fen(1) }), (Balance::Available, true));
    }

    #[test]
    fn withdrawals_respect_minimum_balance_and_monthly_limit() {
        let ok = |amount, month| check_withdrawal(Fen(amount), Fen(50_000), Fen(1_000), Fen(100_000), Fen(month));
        assert_eq!(ok(1_000, 0), Ok(()));
        assert_eq!(ok(999, 0), Err(WithdrawalError::BelowMinimum));
        assert_eq!(ok(50_001, 0), Err(WithdrawalError::MoreThanAvailable));
        assert_eq!(ok(50_000, 50_000), Ok(()), "exactly the monthly limit");
        assert_eq!(ok(50_000, 50_001), Err(WithdrawalError::MonthlyLimit));
        assert_eq!(check_withdrawal(Fen(0), Fen(0), Fen(0), Fen(10), Fen(0)), Err(WithdrawalError::BelowMinimum));
    }

    #[test]
    fn risk_flags_name_their_reasons() {
        let t = RiskThresholds::default();
        assert!(risk_flags(&Referrals::default(), &t).is_empty());
        let busy = Referrals {
            orders: 20,
            refunded_orders: 6,
            buyers_from_one_ip: 5,
            buyers_from_one_subnet: 9,
            signups: 10,
            signups_never_learned: 8,
            top_buyers_commission: Fen(800),
            total_commission: Fen(1_000),
        };
        assert_eq!(
            risk_flags(&busy, &t),
            vec![
                RiskFlag::ManyBuyersFromOneAddress,
                RiskFlag::HighRefundRate,
                RiskFlag::SignupsThatNeverLearn,
                RiskFlag::ConcentratedOnFewBuyers
            ]
        );
        let few = Referrals { orders: 9, refunded_orders: 9, ..Referrals::default() };
        assert!(risk_flags(&few, &t).is_empty(), "too few orders to judge a refund rate");
    }
}

super::words::stored_word! {
    /// A withdrawal: requested by the distributor, then paid out or rejected by staff.
    pub enum PayoutStatus { Requested => "requested", Paid => "paid", Rejected => "rejected" }
}

impl PayoutStatus {
    pub fn label_key(self) -> &'static str {
        match self {
            PayoutStatus::Requested => "dist_payout_requested",
            PayoutStatus::Paid => "dist_payout_paid",
            PayoutStatus::Rejected => "dist_payout_rejected",
        }
    }
}

super::words::stored_word! {
    /// A commission waits out the refund window, then settles into what can be withdrawn.
    pub enum CommissionState { Pending => "pending", Settled => "settled" }
}

super::words::stored_word! {
    /// A held WeChat order's funds either go to the distributor (a split) or back to the shop's
    /// account (an unfreeze).
    pub enum SplitKind { Split => "split", Unfreeze => "unfreeze" }
}

impl SplitKind {
    /// The number WeChat Pay knows the request by: one per order and kind, so a retry after a
    /// crash asks about the same request instead of sending a second.
    pub fn out_order_no(self, order_no: &str) -> String {
        match self {
            SplitKind::Split => format!("S{order_no}"),
            SplitKind::Unfreeze => format!("U{order_no}"),
        }
    }
}

/// The 待结算 / 已结算 / 已冲回 word of a referred order: fully reversed wins over its state.
pub fn referred_state_key(state: CommissionState, commission: Fen, reversed: Fen) -> &'static str {
    match state {
        _ if reversed >= commission => "dist_state_reversed",
        CommissionState::Settled => "dist_state_settled",
        CommissionState::Pending => "dist_state_pending",
    }
}
