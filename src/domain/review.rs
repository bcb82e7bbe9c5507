//! Reviews (评价, #19): only buyers who have studied may review, once per course (editable), 1 to 5
//! stars; a course shows its average only once it has enough reviews to mean something. No
//! incentive is ever attached to a rating.

/// Why a learner may not review (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotYet {
    /// Only buyers review.
    NotBought,
    /// Studied less than the shop's threshold (percent of the lessons).
    StudiedTooLittle { needed_pct: i64 },
}

/// A buyer may review once they have studied `threshold_pct` of the course.
pub fn may_review(owns: bool, studied_pct: i64, threshold_pct: i64) -> Result<(), NotYet> {
    if !owns {
        return Err(NotYet::NotBought);
    }
    if studied_pct < threshold_pct.clamp(0, 100) {
        return Err(NotYet::StudiedTooLittle { needed_pct: threshold_pct.clamp(0, 100) });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewError {
    Stars,
    TextEmpty,
    TextTooLong,
    /// Control characters (other than line breaks) have no place in a review.
    TextControl,
}

pub const MAX_TEXT: usize = 500;

/// Stars from the form (1 to 5) and the text (trimmed, 1 to 500 characters).
pub fn check(stars: &str, text: &str) -> Result<(u8, String), ReviewError> {
    let stars = stars.trim().parse::<u8>().ok().filter(|s| (1..=5).contains(s)).ok_or(ReviewError::Stars)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ReviewError::TextEmpty);
    }
    if text.chars().count() > MAX_TEXT {
        return Err(ReviewError::TextTooLong);
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ReviewError::TextControl);
    }
    Ok((stars, text.to_string()))
}

/// Below this many shown reviews a course shows no average (one or two reviews say little).
pub const MIN_SHOWN: i64 = 3;

/// The average to show, in tenths (`46` is 4.6), or None below `min_count` reviews.
pub fn shown_average(star_total: i64, count: i64, min_count: i64) -> Option<i64> {
    (count > 0 && count >= min_count.max(1)).then(|| (star_total * 10 + count / 2) / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_buyers_who_studied_enough_review() {
        assert_eq!(may_review(false, 100, 20), Err(NotYet::NotBought));
        assert_eq!(may_review(true, 19, 20), Err(NotYet::StudiedTooLittle { needed_pct: 20 }));
        assert_eq!(may_review(true, 20, 20), Ok(()), "exactly the threshold");
        assert_eq!(may_review(true, 0, 0), Ok(()), "no threshold");
        assert_eq!(may_review(true, 100, 150), Ok(()), "a threshold above 100% is read as 100%");
    }

    #[test]
    fn stars_and_text_are_checked() {
        assert_eq!(check("5", " 讲得很清楚 "), Ok((5, "讲得很清楚".to_string())));
        assert_eq!(check("1", "a"), Ok((1, "a".to_string())));
        for bad in ["0", "6", "", "4.5", "-1", "five"] {
            assert_eq!(check(bad, "好"), Err(ReviewError::Stars), "{bad}");
        }
        assert_eq!(check("4", "   "), Err(ReviewError::TextEmpty));
        assert_eq!(check("4", &"长".repeat(501)), Err(ReviewError::TextTooLong));
        assert!(check("4", &"长".repeat(500)).is_ok());
        assert_eq!(check("4", "a\u{7}b"), Err(ReviewError::TextControl));
        assert_eq!(check("4", "第一行\n第二行"), Ok((4, "第一行\n第二行".to_string())), "line breaks stay");
    }

    #[test]
    fn averages_show_once_there_are_enough() {
        assert_eq!(shown_average(0, 0, 3), None);
        assert_eq!(shown_average(10, 2, 3), None, "too few to mean something");
        assert_eq!(shown_average(14, 3, 3), Some(47), "4.67 shows as 4.7");
        assert_eq!(shown_average(13, 3, 3), Some(43));
        assert_eq!(shown_average(5, 1, 0), Some(50), "a minimum of 0 still needs one review");
    }
}
