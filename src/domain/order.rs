//! Orders: numbers, states and the legal transitions between them.

use rand::Rng;

use super::time::shanghai_date_compact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    Pending,
    Paid,
    Closed,
    PartiallyRefunded,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Closed,
        OrderStatus::PartiallyRefunded,
        OrderStatus::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Closed => "closed",
            OrderStatus::PartiallyRefunded => "partially_refunded",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn parse(value: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            OrderStatus::Pending => "order_status_pending",
            OrderStatus::Paid => "order_status_paid",
            OrderStatus::Closed => "order_status_closed",
            OrderStatus::PartiallyRefunded => "order_status_partially_refunded",
            OrderStatus::Refunded => "order_status_refunded",
        }
    }

    /// pending → paid | closed; paid → partially_refunded | refunded;
    /// partially_refunded → partially_refunded | refunded. Nothing leaves closed or refunded.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Pending, Paid)
                | (Pending, Closed)
                | (Paid, PartiallyRefunded)
                | (Paid, Refunded)
                | (PartiallyRefunded, PartiallyRefunded)
                | (PartiallyRefunded, Refunded)
        )
    }

    /// The buyer has (or had) paid: the order grants the course unless fully refunded.
    pub fn grants_access(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::PartiallyRefunded)
    }
}

/// An order status as stored; any other word is an error (the database's CHECK forbids it).
impl TryFrom<String> for OrderStatus {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        OrderStatus::parse(&value).ok_or_else(|| format!("order status {value}"))
    }
}

/// Digits and capitals without look-alikes (no 0/O, 1/I): order numbers and referral codes.
pub(crate) const ORDER_NO_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const ORDER_NO_RANDOM_LEN: usize = 12;

/// `20261121` (the Shanghai date) followed by 12 random characters from an alphabet without
/// look-alikes: 60 bits that cannot be guessed from a neighbour's number.
pub fn new_order_no(now: i64) -> String {
    let mut rng = rand::rngs::OsRng;
    let random: String = (0..ORDER_NO_RANDOM_LEN)
        .map(|_| ORDER_NO_ALPHABET[rng.gen_range(0..ORDER_NO_ALPHABET.len())] as char)
        .collect();
    format!("{}{random}", shanghai_date_compact(now))
}

/// Whether a string from a URL can be an order number at all (saves a query on junk).
pub fn looks_like_order_no(value: &str) -> bool {
    value.len() == 8 + ORDER_NO_RANDOM_LEN
        && value[..8].bytes().all(|b| b.is_ascii_digit())
        && value[8..].bytes().all(|b| ORDER_NO_ALPHABET.contains(&b))
}

/// A started payment is first asked about at the gateway this long after it started, in case
/// its notification was lost.
pub const RECONCILE_AFTER_SECS: i64 = 120;
const RECONCILE_MAX_GAP_SECS: i64 = 600;

/// Seconds until a pending payment is asked about again after `checks` queries found it unpaid:
/// 1, 2, 4, 8 minutes, then every 10 minutes. Backing off keeps abandoned payments from crowding
/// out fresh ones; the cap keeps a slow payer's order from waiting long once the money is there.
pub fn reconcile_backoff(checks: i64) -> i64 {
    let doubling = checks.clamp(1, 10) - 1;
    (60_i64 << doubling).min(RECONCILE_MAX_GAP_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn transitions() {
        let legal = [
            (Pending, Paid),
            (Pending, Closed),
            (Paid, PartiallyRefunded),
            (Paid, Refunded),
            (PartiallyRefunded, PartiallyRefunded),
            (PartiallyRefunded, Refunded),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                assert_eq!(from.can_become(to), legal.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn statuses_round_trip_and_access() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        assert!(Paid.grants_access() && PartiallyRefunded.grants_access());
        assert!(!Pending.grants_access() && !Closed.grants_access() && !Refunded.grants_access());
    }

    #[test]
    fn order_numbers() {
        // 2026-11-21T16:30Z is already the 22nd in Shanghai.
        let no = new_order_no(1_795_278_600);
        assert!(no.starts_with("20261122"), "{no}");
        assert!(looks_like_order_no(&no), "{no}");
        assert_ne!(no, new_order_no(1_795_278_600));
        for bad in ["", "20261122", "2026112", "20261122ABCDEFGHJKL0", "2026112XABCDEFGHJKLM", "20261122abcdefghjklm"] {
            assert!(!looks_like_order_no(bad), "{bad}");
        }
    }

    #[test]
    fn reconciliation_backs_off_to_a_cap() {
        let gaps: Vec<i64> = (1..=7).map(reconcile_backoff).collect();
        assert_eq!(gaps, [60, 120, 240, 480, 600, 600, 600]);
        // Nonsense counts stay within the bounds instead of overflowing.
        assert_eq!(reconcile_backoff(0), 60);
        assert_eq!(reconcile_backoff(-3), 60);
        assert_eq!(reconcile_backoff(i64::MAX), 600);
    }
}
