//! Order, refund and complaint numbers and course slugs as they arrive in URLs, parsed at the
//! edge: a path segment that is not one is a 404 before any handler or query runs.

macro_rules! number_type {
    ($name:ident, $check:path, $what:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Option<$name> {
                $check(value).then(|| $name(value.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                $name::parse(&value).ok_or_else(|| serde::de::Error::custom(concat!("not ", $what)))
            }
        }
    };
}

number_type!(OrderNo, super::order::looks_like_order_no, "an order number");
number_type!(RefundNo, super::refund::looks_like_refund_no, "a refund number");
number_type!(ComplaintNo, super::complaint::looks_like_complaint_no, "a complaint number");
number_type!(Slug, super::course_form::is_valid_slug, "a course's link name");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_numbers_get_through() {
        let order = crate::domain::order::new_order_no(1_796_011_200);
        assert_eq!(OrderNo::parse(&order).map(|o| o.to_string()), Some(order.clone()));
        assert!(RefundNo::parse(&format!("R{order}")).is_some());
        assert!(ComplaintNo::parse(&format!("C{order}")).is_some());
        for junk in ["", "1", "../etc/passwd", &format!("{order}x"), &format!("R{order}")] {
            assert!(OrderNo::parse(junk).is_none(), "{junk}");
        }
        assert!(RefundNo::parse(&order).is_none() && ComplaintNo::parse(&format!("R{order}")).is_none());
        let parsed: Result<OrderNo, _> = serde_json::from_str("\"20261130ABC\"");
        assert!(parsed.is_err(), "a path that is not an order number does not deserialize");
    }
}
