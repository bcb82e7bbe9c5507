//! The slider puzzle asked for only when a phone, an address or an account is under attack: the
//! visitor drags a piece into the gap cut from a picture the shop draws itself (no outside
//! service). It is a cost, not a wall: a program that finds the gap in the picture solves it, but
//! each answer needs a fresh picture, each picture takes one answer, and what a solved puzzle
//! lets through is still capped (see `codes` and `attempts`). Its job is to keep strangers from
//! locking an owner out, not to stop a determined attacker alone.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::session::TypedSession;

/// The picture's size in CSS pixels, and the square piece's side.
pub const WIDTH: u32 = 300;
pub const HEIGHT: u32 = 150;
pub const PIECE: u32 = 48;
/// How far from the gap, in pixels, a dropped piece still counts as in it.
pub const TOLERANCE: u32 = 6;
/// A puzzle left unanswered this long is drawn anew.
pub const VALID_SECS: i64 = 5 * 60;

const SESSION_KEY: &str = "human_check";

/// One puzzle: where its gap is, and the seed its picture is drawn from. Kept in the session,
/// never sent to the browser but as pixels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Names the picture in its address, so a stale picture is never shown for a new puzzle.
    pub nonce: String,
    pub seed: u64,
    pub x: u32,
    pub y: u32,
    pub issued_at: i64,
}

impl Challenge {
    pub fn random(now: i64) -> Challenge {
        let mut rng = rand::rngs::OsRng;
        Challenge {
            nonce: format!("{:016x}", rng.r#gen::<u64>()),
            seed: rng.r#gen(),
            // Never where the slider starts, so an untouched slider never passes.
            x: rng.gen_range(PIECE + 12..=WIDTH - PIECE - 4),
            y: rng.gen_range(8..=HEIGHT - PIECE - 8),
            issued_at: now,
        }
    }

    /// Whether a slider left at `slide` puts the piece in the gap, in time.
    pub fn accepts(&self, slide: &str, now: i64) -> bool {
        let Ok(slide) = slide.trim().parse::<u32>() else { return false };
        now - self.issued_at <= VALID_SECS && slide.abs_diff(self.x) <= TOLERANCE
    }
}

/// What a form post said about the puzzle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// No puzzle was out, or the form did not move the slider.
    None,
    Solved,
    Missed,
}

/// Reads the form's slider against the session's puzzle. A puzzle takes one answer: right or
/// wrong, it is gone, and a wrong one draws a new picture.
pub fn answer(session: &TypedSession<'_>, slide: &str, now: i64) -> Answer {
    if slide.trim().is_empty() {
        return Answer::None;
    }
    let Some(challenge) = take(session) else { return Answer::None };
    if challenge.accepts(slide, now) { Answer::Solved } else { Answer::Missed }
}

/// Puts a new puzzle in the session and returns it (for the page to show its pictures).
pub fn ask(session: &TypedSession<'_>, now: i64) -> anyhow::Result<Challenge> {
    let challenge = Challenge::random(now);
    session.0.insert(SESSION_KEY, &challenge)?;
    Ok(challenge)
}

/// The session's puzzle, if it has one out (the picture handler draws it).
pub fn current(session: &TypedSession<'_>) -> Option<Challenge> {
    session.0.get(SESSION_KEY).ok().flatten()
}

fn take(session: &TypedSession<'_>) -> Option<Challenge> {
    let challenge = current(session)?;
    session.0.remove(SESSION_KEY);
    Some(challenge)
}

/// The message beside the puzzle: asked for the first time, or asked again after a miss.
pub fn message_key(answer: Answer) -> &'static str {
    match answer {
        Answer::Missed => "human_check_missed",
        Answer::None | Answer::Solved => "human_check_needed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: u32) -> Challenge {
        Challenge { nonce: "n".into(), seed: 1, x, y: 20, issued_at: 1000 }
    }

    #[test]
    fn the_piece_must_land_within_the_tolerance() {
        let c = at(150);
        assert!(c.accepts("150", 1001));
        assert!(c.accepts("144", 1001) && c.accepts("156", 1001));
        assert!(!c.accepts("143", 1001) && !c.accepts("157", 1001));
        assert!(!c.accepts("0", 1001));
    }

    #[test]
    fn junk_and_late_answers_fail() {
        let c = at(150);
        for junk in ["", "abc", "-150", "150.0", "99999999999999"] {
            assert!(!c.accepts(junk, 1001), "{junk}");
        }
        assert!(c.accepts("150", 1000 + VALID_SECS));
        assert!(!c.accepts("150", 1001 + VALID_SECS));
    }

    #[test]
    fn the_gap_is_never_where_the_slider_starts() {
        for _ in 0..500 {
            let c = Challenge::random(0);
            assert!(!c.accepts("0", 0));
            assert!(c.x + PIECE <= WIDTH && c.y + PIECE <= HEIGHT);
            assert_eq!(c.nonce.len(), 16);
        }
    }
}
