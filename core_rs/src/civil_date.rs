//! Calendar dates as day numbers (days since 1970-01-01), enough for expiry and FIFO order.
//! Howard Hinnant's days-from-civil algorithm; no time zones here: the caller says what "today" is.

/// Parse `YYYY-MM-DD` (a `THH:MM:SS...` suffix, as METRC sends for some dates, is ignored).
pub fn parse(text: &str) -> Option<i32> {
    let date = text.split_once('T').map_or(text, |(d, _)| d);
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        let s = &date[r];
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (y, m, d) = (i64::from(y), i64::from(m), i64::from(d));
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    // a four-digit year keeps the day number well inside i32
    i32::try_from(days_from_civil(y, m, d)).ok()
}

/// Days in month `m` of year `y` (proleptic Gregorian).
pub(crate) fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a valid civil date (Howard Hinnant's days_from_civil).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Format a day number back to `YYYY-MM-DD`.
pub fn format(days: i32) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i32::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_validation() {
        assert_eq!(parse("1970-01-01"), Some(0));
        assert_eq!(parse("2026-11-22T00:00:00"), parse("2026-11-22"));
        for days in [-1000, 0, 59, 60, 20_000, 30_000] {
            assert_eq!(parse(&format(days)), Some(days));
        }
        assert_eq!(
            parse("2024-02-29").map(format).as_deref(),
            Some("2024-02-29")
        );
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-01-01",
            "2026/01/01",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
