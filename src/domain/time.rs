//! Times are stored as UTC unix seconds and shown in Asia/Shanghai (UTC+8, no daylight saving).

use time::{OffsetDateTime, UtcOffset, macros::format_description};

const SHANGHAI: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// `2026-11-21 19:30` in Shanghai time.
pub fn shanghai_minutes(unix: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]");
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(SHANGHAI))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `2026-11-21 19:30:05` in Shanghai time (the timestamp format Alipay's API wants).
pub fn shanghai_seconds(unix: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(SHANGHAI))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `20261121`: the Shanghai calendar date.
pub fn shanghai_date_compact(unix: i64) -> String {
    let format = format_description!("[year][month][day]");
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(SHANGHAI))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "00000000".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_shanghai_time() {
        // 2026-11-21T11:30:00Z is 19:30 in Shanghai.
        assert_eq!(shanghai_minutes(1_795_260_600), "2026-11-21 19:30");
        // Crossing midnight moves the date.
        assert_eq!(shanghai_minutes(1_795_276_800), "2026-11-22 00:00");
    }
}
