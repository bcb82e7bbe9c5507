//! The kinds of product a shop sells (DESIGN.md, "Domain rules").

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductKind {
    Recorded,
    Audio,
    Article,
    Live,
    Membership,
    Consultation,
}

impl ProductKind {
    pub const ALL: [ProductKind; 6] = [
        ProductKind::Recorded,
        ProductKind::Audio,
        ProductKind::Article,
        ProductKind::Live,
        ProductKind::Membership,
        ProductKind::Consultation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProductKind::Recorded => "recorded",
            ProductKind::Audio => "audio",
            ProductKind::Article => "article",
            ProductKind::Live => "live",
            ProductKind::Membership => "membership",
            ProductKind::Consultation => "consultation",
        }
    }

    pub fn parse(value: &str) -> Option<ProductKind> {
        ProductKind::ALL.into_iter().find(|k| k.as_str() == value)
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for kind in ProductKind::ALL {
            assert_eq!(ProductKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ProductKind::parse("book"), None);
    }
}
