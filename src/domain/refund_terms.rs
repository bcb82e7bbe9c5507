//! The refund terms of a product, stated in one sentence before purchase.
//!
//! The full policy engine (amounts, consumption) arrives with refunds; this module only says
//! what a buyer is promised, from the same terms that will be snapshotted on the order.

use super::ProductKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundTerms {
    /// Sold as non-refundable (a promotion); only valid when shown before purchase.
    pub non_refundable: bool,
    pub window_days: i64,
    pub max_consumed_pct: i64,
}

impl Default for RefundTerms {
    fn default() -> Self {
        RefundTerms { non_refundable: false, window_days: 7, max_consumed_pct: 20 }
    }
}

/// A sentence in both interface languages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Localized {
    pub zh: String,
    pub en: String,
}

pub fn refund_sentence(kind: ProductKind, terms: RefundTerms) -> Localized {
    if terms.non_refundable {
        return Localized {
            zh: "本商品为优惠促销商品，购买后不支持退款。".into(),
            en: "This is a promotional item and cannot be refunded after purchase.".into(),
        };
    }
    let (days, pct) = (terms.window_days, terms.max_consumed_pct);
    match kind {
        ProductKind::Recorded
        | ProductKind::Audio
        | ProductKind::Article
        | ProductKind::Bundle
        | ProductKind::Column => Localized {
            zh: format!("购买后 {days} 天内、学习进度未超过 {pct}% 可申请全额退款。"),
            en: format!(
                "Full refund within {days} days of purchase while under {pct}% of the lessons are consumed."
            ),
        },
        ProductKind::Live => Localized {
            zh: "首场直播开始前可全额退款；开播后按未进行的场次比例退款。".into(),
            en: "Full refund before the first live session; after that, pro rata for the sessions not yet held.".into(),
        },
        ProductKind::Membership => Localized {
            zh: "当前会员周期不退款，未使用的完整周期可退款；会员不会自动续费。".into(),
            en: "The current membership period is not refunded; unused whole periods are. Memberships never renew by themselves.".into(),
        },
        ProductKind::Consultation => Localized {
            zh: "预约时间 24 小时前可免费取消并全额退款，之后不支持退款。".into(),
            en: "Free cancellation with a full refund up to 24 hours before the booked slot; no refund after that.".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_terms_name_window_and_threshold() {
        let s = refund_sentence(
            ProductKind::Recorded,
            RefundTerms { window_days: 14, max_consumed_pct: 30, ..Default::default() },
        );
        assert!(s.zh.contains("14 天") && s.zh.contains("30%"), "{}", s.zh);
        assert!(s.en.contains("14 days") && s.en.contains("30%"), "{}", s.en);
    }

    #[test]
    fn non_refundable_mark_wins_for_every_kind() {
        for kind in ProductKind::ALL.iter().copied() {
            let s = refund_sentence(kind, RefundTerms { non_refundable: true, ..Default::default() });
            assert!(s.zh.contains("不支持退款"), "{kind:?}");
        }
    }

    #[test]
    fn every_kind_has_a_sentence_in_both_languages() {
        for kind in ProductKind::ALL.iter().copied() {
            let s = refund_sentence(kind, RefundTerms::default());
            assert!(!s.zh.is_empty() && !s.en.is_empty());
            assert_ne!(s.zh, s.en);
        }
    }
}
