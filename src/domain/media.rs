//! Signed media URLs: an HMAC over the viewer, the lesson and the expiry, so a link copied out
//! of a page works only for that viewer (0 for anyone, on free previews) and only for a while.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::LessonId;

/// Default validity of a media URL.
pub const URL_TTL_SECS: i64 = 2 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub user_id: i64,
    pub lesson_id: LessonId,
    pub expires_at: i64,
}

fn mac(key: &[u8], grant: &Grant) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(format!("media|{}|{}|{}", grant.user_id, grant.lesson_id, grant.expires_at).as_bytes());
    super::text::hex_lower(&mac.finalize().into_bytes())
}

/// `u=…&e=…&s=…`, to append to `/media/{lesson}/{file}?`.
pub fn sign_query(key: &[u8], grant: &Grant) -> String {
    format!("u={}&e={}&s={}", grant.user_id, grant.expires_at, mac(key, grant))
}

/// Checks a presented signature; `now` must be before the expiry.
pub fn verify(key: &[u8], grant: &Grant, signature: &str, now: i64) -> bool {
    now < grant.expires_at && bool::from(mac(key, grant).as_bytes().ct_eq(signature.as_bytes()))
}

/// The file names a lesson may have; anything else (paths, `..`, odd names) is not served.
pub fn is_media_file(name: &str) -> bool {
    matches!(name, "main.mp4" | "main.m4a" | "key")
        || is_playlist(name)
        || ["seg", "hd", "sd"].iter().any(|prefix| {
            name.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(".ts"))
                .is_some_and(|n| (3..=5).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// HLS playlists: the one served first (a master or the only rendition) and the HD and SD ones.
pub fn is_playlist(name: &str) -> bool {
    matches!(name, "index.m3u8" | "hd.m3u8" | "sd.m3u8")
}

pub fn content_type(name: &str) -> &'static str {
    if name.ends_with(".mp4") {
        "video/mp4"
    } else if name.ends_with(".m4a") {
        "audio/mp4"
    } else if name.ends_with(".mp3") {
        "audio/mpeg"
    } else if name.ends_with(".m3u8") {
        "application/vnd.apple.mpegurl"
    } else if name.ends_with(".ts") {
        "video/mp2t"
    } else {
        "application/octet-stream"
    }
}

/// A lesson is complete once 90% is watched or listened, or an article is read to its end.
pub fn is_complete(furthest_secs: i64, duration_secs: i64) -> bool {
    duration_secs > 0 && furthest_secs.saturating_mul(10) >= duration_secs.saturating_mul(9)
}

/// The player's fastest speed (its 2× choice).
pub const FASTEST_SPEED: i64 = 2;
/// What a first report, or one after a pause, may credit beyond the time that passed: the
/// player reports every 12 s, so this covers one interval at the fastest speed, and then some.
pub const CREDIT_GRACE_SECS: i64 = 30;

/// How far into a video or audio lesson a report may take the learner's credited progress (the
/// furthest point, which completion and the review requirement count): no further than the time
/// since their last report could have played at the fastest speed, plus the grace. A report is
/// the browser's word; without this, one forged report would complete a lesson. `previous` is the
/// credited furthest point and when it was reported, if there was a report.
///
/// After the first report the grace is at most the time since the last one, so reports sent in a
/// stream gain no more than 3× the time that passed, however often they come.
pub fn credited_furthest(previous: Option<(i64, i64)>, position: i64, now: i64) -> i64 {
    let (furthest, elapsed, grace) = match previous {
        None => (0, 0, CREDIT_GRACE_SECS),
        Some((furthest, at)) => {
            let elapsed = (now - at).max(0);
            (furthest, elapsed, elapsed.min(CREDIT_GRACE_SECS))
        }
    };
    let played = elapsed.saturating_mul(FASTEST_SPEED);
    position.min(furthest.saturating_add(played).saturating_add(grace)).max(0)
}

/// A brisk reader's pace, in characters a second (600 a minute): an article's reading time.
pub const READING_CHARS_PER_SEC: i64 = 10;

/// How long an article of `chars` characters takes at a brisk pace, at least a second.
pub fn reading_secs(chars: usize) -> i64 {
    (i64::try_from(chars).unwrap_or(i64::MAX) / READING_CHARS_PER_SEC).max(1)
}

/// The share of an article (of 100) a report may credit: the share turned into reading time and
/// credited like playback (twice a brisk pace, and the grace), so scrolling to the end at once
/// completes nothing longer than a screen or two. `previous` is the credited share and when it
/// was reported.
pub fn credited_share(previous: Option<(i64, i64)>, share: i64, now: i64, reading_secs: i64) -> i64 {
    let reading_secs = reading_secs.max(1);
    let to_secs = |share: i64| share.clamp(0, 100) * reading_secs / 100;
    let credited = credited_furthest(previous.map(|(furthest, at)| (to_secs(furthest), at)), to_secs(share), now);
    if credited >= to_secs(share) { share.clamp(0, 100) } else { credited * 100 / reading_secs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_follows_the_time_that_passed() {
        assert_eq!(credited_furthest(None, 12, 1000), 12, "a first report after 12 s of playing");
        assert_eq!(credited_furthest(None, 3600, 1000), CREDIT_GRACE_SECS, "one forged report");
        assert_eq!(credited_furthest(Some((600, 1000)), 624, 1012), 624, "12 s at 2×");
        assert_eq!(credited_furthest(Some((600, 1000)), 3600, 1012), 600 + 24 + 12, "the grace is the 12 s too");
        assert_eq!(credited_furthest(Some((600, 1000)), 3600, 1100), 600 + 200 + CREDIT_GRACE_SECS, "after a pause");
        assert_eq!(credited_furthest(Some((600, 1000)), 100, 1012), 100, "a step back is only the position");
        assert_eq!(credited_furthest(Some((0, 1000)), 3600, 1000 + 1800), 3600, "half an hour at 2×");
        assert_eq!(credited_furthest(Some((0, 2000)), 50, 1000), 0, "a clock that went back credits nothing");
        assert_eq!(credited_furthest(Some((600, 1000)), 3600, 1000), 600, "a second report in the same second");
    }

    #[test]
    fn a_stream_of_forged_reports_gains_three_times_the_time_that_passed() {
        let mut credited = None;
        for t in 0..100 {
            let furthest = credited_furthest(credited, 36_000, 1000 + t);
            credited = Some((furthest, 1000 + t));
        }
        let (furthest, _) = credited.unwrap();
        assert_eq!(furthest, CREDIT_GRACE_SECS + 99 * 3, "{furthest}");
    }

    #[test]
    fn articles_are_credited_at_a_readers_pace() {
        assert_eq!(reading_secs(6000), 600);
        assert_eq!(reading_secs(0), 1);
        // A 6,000-character article (10 minutes at a brisk pace): scrolling to the end at once
        // credits the grace, 30 s of reading, 5%.
        assert_eq!(credited_share(None, 100, 1000, 600), 5);
        // Five minutes later, at twice the brisk pace, the rest.
        assert_eq!(credited_share(Some((5, 1000)), 100, 1300, 600), 100);
        assert_eq!(credited_share(Some((5, 1000)), 60, 1100, 600), 43, "5% + (200 s + 30 s) of 600 s");
        // A short note (under a screen) is read at once.
        assert_eq!(credited_share(None, 100, 1000, 20), 100);
        assert_eq!(credited_share(Some((100, 900)), 40, 1000, 600), 40, "scrolling back up is only the position");
    }

    #[test]
    fn signatures_bind_viewer_lesson_and_expiry() {
        let g = Grant { user_id: 7, lesson_id: LessonId(3), expires_at: 1000 };
        let q = sign_query(b"k", &g);
        let s = q.rsplit("s=").next().unwrap();
        assert!(verify(b"k", &g, s, 999));
        assert!(!verify(b"k", &g, s, 1000), "expired at the second");
        assert!(!verify(b"k", &Grant { user_id: 8, ..g }, s, 0));
        assert!(!verify(b"k", &Grant { lesson_id: LessonId(4), ..g }, s, 0));
        assert!(!verify(b"k", &Grant { expires_at: 2000, ..g }, s, 0));
        assert!(!verify(b"other", &g, s, 0));
        assert!(!verify(b"k", &g, &s.replace('a', "b"), 0) || !s.contains('a'));
        assert!(!verify(b"k", &g, "", 0));
    }

    #[test]
    fn only_known_file_names() {
        for ok in [
            "main.mp4",
            "main.m4a",
            "index.m3u8",
            "hd.m3u8",
            "sd.m3u8",
            "key",
            "seg000.ts",
            "seg1000.ts",
            "hd000.ts",
            "sd012.ts",
        ] {
            assert!(is_media_file(ok), "{ok}");
        }
        for bad in [
            "",
            "../main.mp4",
            "main.mp4/../../x",
            "seg1.ts",
            "xd000.ts",
            "hd.ts",
            "sd.m3u",
            "hd0.m3u8",
            "seg000001.ts",
            "segabc.ts",
            "MAIN.MP4",
            "x.mp4",
            "%2e%2e",
        ] {
            assert!(!is_media_file(bad), "{bad}");
        }
    }

    #[test]
    fn completion_at_ninety_percent() {
        assert!(!is_complete(89, 100));
        assert!(is_complete(90, 100));
        assert!(!is_complete(0, 0));
        assert!(is_complete(600, 600));
        assert!(!is_complete(i64::MAX, 0));
        assert!(is_complete(i64::MAX, i64::MAX));
    }
}
