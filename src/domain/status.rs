//! What order, refund and post-visibility states share: the word each is stored as, and the moves allowed.

pub trait Status: Copy + std::fmt::Debug {
    fn word(self) -> &'static str;
    fn can_become(self, next: Self) -> bool;
}

impl Status for super::order::OrderStatus {
    fn word(self) -> &'static str {
        self.as_str()
    }

    fn can_become(self, next: Self) -> bool {
        super::order::OrderStatus::can_become(self, next)
    }
}

impl Status for super::moderation::Visibility {
    fn word(self) -> &'static str {
        self.as_str()
    }

    fn can_become(self, next: Self) -> bool {
        super::moderation::Visibility::can_become(self, next)
    }
}

impl Status for super::refund::RefundStatus {
    fn word(self) -> &'static str {
        self.as_str()
    }

    fn can_become(self, next: Self) -> bool {
        super::refund::RefundStatus::can_become(self, next)
    }
}
