//! Counts what each address sent that the shop refused (payment notifications that fail their
//! signature, say), so that one address cannot keep the shop verifying and recording junk. A
//! gateway's own posts are accepted, so they never meet the limit. Per process, in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::rate::Limit;

/// Addresses remembered at most; past it, those whose refusals have left the window go first.
const MAX_ADDRESSES: usize = 10_000;

pub struct Rejections {
    limit: Limit,
    seen: Mutex<HashMap<String, Vec<i64>>>,
}

impl Rejections {
    pub fn new(limit: Limit) -> Rejections {
        Rejections { limit, seen: Mutex::default() }
    }

    /// Seconds `ip` must wait before it is heard again, or None.
    pub fn retry_after(&self, ip: &str, now: i64) -> Option<i64> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        self.limit.retry_after(seen.get(ip)?, now)
    }

    /// Counts one refusal of what `ip` sent.
    pub fn refused(&self, ip: &str, now: i64) {
        let window = self.limit.window_secs;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_ADDRESSES && !seen.contains_key(ip) {
            seen.retain(|_, times| times.last().is_some_and(|t| *t > now - window));
        }
        let times = seen.entry(ip.to_string()).or_default();
        times.retain(|t| *t > now - window);
        times.push(now);
        let excess = times.len().saturating_sub(self.limit.max);
        times.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_held_after_its_limit_and_heard_again_after_the_window() {
        let gate = Rejections::new(Limit::new(3, 60));
        for t in 0..3 {
            assert_eq!(gate.retry_after("203.0.113.9", 100 + t), None);
            gate.refused("203.0.113.9", 100 + t);
        }
        assert_eq!(gate.retry_after("203.0.113.9", 103), Some(57));
        assert_eq!(gate.retry_after("198.51.100.1", 103), None, "other addresses are not held");
        assert_eq!(gate.retry_after("203.0.113.9", 160), None, "the first refusal left the window");
    }
}
