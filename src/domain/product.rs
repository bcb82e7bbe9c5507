//! The kinds of product a shop sells (DESIGN.md, "Domain rules").

super::words::stored_word! {
    /// What a course is sold as. Stored on the course and, as bought, on each order: a word the
    /// shop never writes fails the row's read.
    pub enum ProductKind {
        Recorded => "recorded",
        Audio => "audio",
        Article => "article",
        Live => "live",
        Membership => "membership",
        Consultation => "consultation",
        Bundle => "bundle",
        Column => "column",
    }
}

/// What buying a product delivers. Rules that differ by kind ask this (or match on the kind
/// itself, without a wildcard), so a new kind does not compile until it is placed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Lessons to learn (recorded, audio, article, live).
    Lessons,
    /// A membership term that opens other courses.
    MemberTerm,
    /// A booked one-to-one session.
    Session,
    /// Several courses at one price (组合课): each of them.
    Courses,
}

impl ProductKind {
    pub fn delivery(self) -> Delivery {
        match self {
            ProductKind::Recorded
            | ProductKind::Audio
            | ProductKind::Article
            | ProductKind::Live
            | ProductKind::Column => Delivery::Lessons,
            ProductKind::Membership => Delivery::MemberTerm,
            ProductKind::Consultation => Delivery::Session,
            ProductKind::Bundle => Delivery::Courses,
        }
    }

    /// Translation key of the kind's label.
    pub fn label_key(self) -> &'static str {
        match self {
            ProductKind::Recorded => "kind_recorded",
            ProductKind::Audio => "kind_audio",
            ProductKind::Article => "kind_article",
            ProductKind::Live => "kind_live",
            ProductKind::Membership => "kind_membership",
            ProductKind::Consultation => "kind_consultation",
            ProductKind::Bundle => "kind_bundle",
            ProductKind::Column => "kind_column",
        }
    }
}

/// What a course costs at `now`: its (discounted) price, or the original price once a
/// limited-time price has ended. Never more than the original, never a raise on a plain price.
pub fn price_at(price: super::Fen, original: super::Fen, sale_ends_at: Option<i64>, now: i64) -> super::Fen {
    match sale_ends_at {
        Some(end) if now >= end && original.0 > price.0 => original,
        _ => price,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Fen;

    #[test]
    fn a_limited_time_price_ends_at_its_second() {
        let (sale, was) = (Fen(9900), Fen(19900));
        assert_eq!(price_at(sale, was, Some(100), 99), sale);
        assert_eq!(price_at(sale, was, Some(100), 100), was, "ends at the second it names");
        assert_eq!(price_at(sale, was, None, i64::MAX), sale, "no end, no change");
        assert_eq!(price_at(was, sale, Some(100), 200), was, "an original below the price never lowers it");
        assert_eq!(price_at(sale, sale, Some(100), 200), sale);
    }

    #[test]
    fn round_trips() {
        for kind in ProductKind::ALL.iter().copied() {
            assert_eq!(ProductKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ProductKind::parse("book"), None);
    }
}
