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

/// A `2026-11-21 19:30:05` written in Shanghai time (as Alipay writes its times).
pub fn parse_shanghai_seconds(value: &str) -> Option<i64> {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let t = time::PrimitiveDateTime::parse(value.trim(), &format).ok()?;
    Some(t.assume_offset(SHANGHAI).unix_timestamp())
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

/// The start (00:00 Shanghai) of a `2026-11-21` date, as unix seconds.
pub fn shanghai_day_start(date: &str) -> Option<i64> {
    let format = format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(date.trim(), &format).ok()?;
    Some(day.with_hms(0, 0, 0).ok()?.assume_offset(SHANGHAI).unix_timestamp())
}

/// 00:00 Shanghai on the first day of the month of `unix`: monthly limits count from here.
pub fn shanghai_month_start(unix: i64) -> i64 {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(SHANGHAI))
        .ok()
        .and_then(|t| t.date().replace_day(1).ok())
        .and_then(|d| d.with_hms(0, 0, 0).ok())
        .map(|t| t.assume_offset(SHANGHAI).unix_timestamp())
        .unwrap_or(unix)
}

/// `2026-11-21`: the Shanghai date of a moment.
pub fn shanghai_date(unix: i64) -> String {
    let format = format_description!("[year]-[month]-[day]");
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(SHANGHAI))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `2026年12月8日`: the Shanghai date of a moment, as a certificate prints it.
pub fn shanghai_date_words(unix: i64) -> String {
    let format = format_description!("[year]年[month padding:none]月[day padding:none]日");
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.to_offset(SHANGHAI))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A `2026-11-22T09:30` (an HTML datetime-local value) read as Shanghai time.
pub fn parse_shanghai_datetime(value: &str) -> Option<i64> {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let t = time::PrimitiveDateTime::parse(value.trim(), &format).ok()?;
    Some(t.assume_offset(SHANGHAI).unix_timestamp())
}

/// The datetime-local value of a moment, in Shanghai time.
pub fn shanghai_datetime_value(unix: i64) -> String {
    shanghai_minutes(unix).replace(' ', "T")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_begin_at_shanghai_midnight() {
        let start = shanghai_day_start("2026-12-01").unwrap();
        assert_eq!(shanghai_month_start(start), start);
        assert_eq!(shanghai_month_start(start + 20 * 86_400 + 3_600), start);
        assert_eq!(shanghai_month_start(start - 1), shanghai_day_start("2026-11-01").unwrap(), "23:59:59 on 30 Nov");
        // 16:30 UTC on 30 November is already 1 December in Shanghai.
        assert_eq!(shanghai_month_start(start + 30 * 60), start);
    }

    #[test]
    fn shanghai_seconds_round_trip() {
        let at = 1_795_276_805;
        assert_eq!(shanghai_seconds(at), "2026-11-22 00:00:05");
        assert_eq!(parse_shanghai_seconds("2026-11-22 00:00:05"), Some(at));
        assert_eq!(parse_shanghai_seconds("2026-11-22T00:00:05"), None);
        assert_eq!(parse_shanghai_seconds("2026-13-01 00:00:00"), None);
        assert_eq!(parse_shanghai_seconds(""), None);
    }

    #[test]
    fn shanghai_days_start_at_local_midnight() {
        // 2026-11-22 00:00 in Shanghai is 2026-11-21 16:00 UTC.
        assert_eq!(shanghai_day_start("2026-11-22"), Some(1_795_276_800));
        assert_eq!(shanghai_date(1_795_276_800), "2026-11-22");
        assert_eq!(shanghai_date(1_795_276_799), "2026-11-21");
        assert_eq!(shanghai_day_start("2026-13-01"), None);
        assert_eq!(shanghai_day_start("yesterday"), None);
        assert_eq!(parse_shanghai_datetime("2026-11-22T00:00"), Some(1_795_276_800));
        assert_eq!(shanghai_datetime_value(1_795_276_800), "2026-11-22T00:00");
        assert_eq!(parse_shanghai_datetime("2026-11-22 00:00"), None);
    }

    #[test]
    fn certificates_print_the_shanghai_day_in_words() {
        // 2026-12-07T16:30Z is already 8 December in Shanghai.
        assert_eq!(shanghai_date_words(1_796_661_000), "2026年12月8日");
    }

    #[test]
    fn shows_shanghai_time() {
        // 2026-11-21T11:30:00Z is 19:30 in Shanghai.
        assert_eq!(shanghai_minutes(1_795_260_600), "2026-11-21 19:30");
        // Crossing midnight moves the date.
        assert_eq!(shanghai_minutes(1_795_276_800), "2026-11-22 00:00");
    }
}
