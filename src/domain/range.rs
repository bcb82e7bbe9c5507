//! HTTP `Range: bytes=…` for media, decided as a pure function of the header and the file size.

/// What to send for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// 200 with the whole file (no Range, a unit other than bytes, or several ranges: a player
    /// asks for one, and answering many is not worth the risk).
    Full,
    /// 206 with bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// 416: nothing of the file can be sent.
    Unsatisfiable,
}

const MAX_HEADER_LEN: usize = 1024;

pub fn answer(header: Option<&str>, len: u64) -> RangeAnswer {
    let Some(header) = header else { return RangeAnswer::Full };
    if header.len() > MAX_HEADER_LEN {
        return RangeAnswer::Full;
    }
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return RangeAnswer::Full };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeAnswer::Unsatisfiable };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match number(last) {
            Some(0) | None => RangeAnswer::Unsatisfiable,
            Some(_) if len == 0 => RangeAnswer::Unsatisfiable,
            Some(n) => RangeAnswer::Partial { start: len.saturating_sub(n), end: len - 1 },
        },
        // bytes=N-: from N to the end.
        (false, true) => match number(first) {
            Some(start) if start < len => RangeAnswer::Partial { start, end: len - 1 },
            _ => RangeAnswer::Unsatisfiable,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start <= end && start < len => {
                RangeAnswer::Partial { start, end: end.min(len - 1) }
            }
            _ => RangeAnswer::Unsatisfiable,
        },
        (true, true) => RangeAnswer::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::*;
    use super::*;

    #[test]
    fn ranges() {
        let cases: &[(Option<&str>, u64, RangeAnswer)] = &[
            (None, 1000, Full),
            (Some("bytes=0-99"), 1000, Partial { start: 0, end: 99 }),
            (Some("bytes=0-0"), 1000, Partial { start: 0, end: 0 }),
            (Some("bytes=500-"), 1000, Partial { start: 500, end: 999 }),
            (Some("bytes=999-"), 1000, Partial { start: 999, end: 999 }),
            (Some("bytes=1000-"), 1000, Unsatisfiable),
            (Some("bytes=-100"), 1000, Partial { start: 900, end: 999 }),
            (Some("bytes=-5000"), 1000, Partial { start: 0, end: 999 }),
            (Some("bytes=-0"), 1000, Unsatisfiable),
            (Some("bytes=900-5000"), 1000, Partial { start: 900, end: 999 }),
            (Some("bytes=2000-3000"), 1000, Unsatisfiable),
            (Some("bytes=5-1"), 1000, Unsatisfiable),
            (Some("bytes=-"), 1000, Unsatisfiable),
            (Some("bytes=abc-def"), 1000, Unsatisfiable),
            (Some("bytes=99999999999999999999999-"), 1000, Unsatisfiable),
            (Some("bytes=0-99999999999999999999999"), 1000, Unsatisfiable),
            (Some("bytes=+1-2"), 1000, Unsatisfiable),
            (Some("bytes=0-1,5-6"), 1000, Full),
            (Some("items=0-1"), 1000, Full),
            (Some("bytes=0-"), 0, Unsatisfiable),
            (Some("bytes=-1"), 0, Unsatisfiable),
            (Some(" bytes= 10 - 20 "), 1000, Partial { start: 10, end: 20 }),
        ];
        for (header, len, expected) in cases {
            assert_eq!(answer(*header, *len), *expected, "{header:?} of {len}");
        }
        let many = format!("bytes={}", vec!["0-1"; 5000].join(","));
        assert_eq!(answer(Some(&many), 1000), Full);
    }
}
