//! Sliding-window rate limits, decided from the times of earlier events.

/// A limit of `max` events per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub window_secs: i64,
}

impl Limit {
    pub const fn new(max: usize, window_secs: i64) -> Limit {
        Limit { max, window_secs }
    }

    /// Given the times (oldest first) of the events inside the window ending `now`, returns how
    /// many seconds to wait before one more event is allowed, or None if it is allowed now.
    pub fn retry_after(self, times: &[i64], now: i64) -> Option<i64> {
        let recent: Vec<i64> = times.iter().copied().filter(|t| *t > now - self.window_secs).collect();
        if recent.len() < self.max {
            return None;
        }
        // The event that must leave the window before there is room for one more.
        let blocking = recent[recent.len() - self.max];
        Some((blocking + self.window_secs - now).max(1))
    }
}

/// The network an address belongs to for per-network limits: its /24 for IPv4, its /64 for IPv6
/// (one subscriber's usual allocation). Anything unparseable stands for itself.
pub fn network_of(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(&v4.to_string()),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_slash_24_and_slash_64() {
        assert_eq!(network_of("203.0.113.7"), "203.0.113.0/24");
        assert_eq!(network_of("203.0.113.250"), "203.0.113.0/24");
        assert_eq!(network_of("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(network_of("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(network_of("2001:db8:1:3::1"), network_of("2001:db8:1:2::1"));
        assert_eq!(network_of("::ffff:198.51.100.9"), "198.51.100.0/24");
        assert_eq!(network_of("unknown"), "unknown");
    }

    #[test]
    fn one_per_minute() {
        let limit = Limit::new(1, 60);
        assert_eq!(limit.retry_after(&[], 1000), None);
        assert_eq!(limit.retry_after(&[1000], 1000), Some(60));
        assert_eq!(limit.retry_after(&[1000], 1059), Some(1));
        assert_eq!(limit.retry_after(&[1000], 1060), None);
    }

    #[test]
    fn ten_per_day_waits_for_the_oldest() {
        let limit = Limit::new(10, 86_400);
        let times: Vec<i64> = (0..10).map(|i| 100 + i * 1000).collect();
        assert_eq!(limit.retry_after(&times[..9], 20_000), None);
        assert_eq!(limit.retry_after(&times, 20_000), Some(100 + 86_400 - 20_000));
        // Once the oldest leaves the window there is room again.
        assert_eq!(limit.retry_after(&times, 100 + 86_400), None);
    }

    #[test]
    fn more_than_max_recorded_still_waits_correctly() {
        let limit = Limit::new(2, 100);
        assert_eq!(limit.retry_after(&[10, 20, 30], 50), Some(20 + 100 - 50));
    }
}
